//! The fixtures every cell of the matrix runs against: one server, two projects, and
//! a caller of each kind with the credential it presents.

use openhumans::db::datatypes;
use openhumans::db::projects::{self, CreatedProject};
use openhumans::db::{files, project_api};
use openhumans::domain::datatypes::DatatypeInput;
use openhumans::domain::oauth2::ACCESS_TOKEN_LIFETIME;
use openhumans::http::storage::mint_download_url;

use reqwest::multipart::{Form, Part};

use crate::api::{self, ApiSetup};
use crate::approval::PDF;
use crate::oauth2::{self, REDIRECT_URI, Setup};
use crate::support::fixtures::{self, TestMember};
use crate::support::{TestApp, browser_client};
use crate::withdrawal::{Receiver, leave_path};

/// A kind of caller, in the order the matrix's columns list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    OtherMember,
    Member,
    Coordinator,
    OtherCoordinator,
    Admin,
    MemberToken,
    OtherProjectToken,
    ExpiredToken,
    FormerMemberToken,
    MasterToken,
    OtherMasterToken,
}

/// Every caller, in column order.
pub const CALLERS: [Caller; 12] = [
    Caller::Anonymous,
    Caller::OtherMember,
    Caller::Member,
    Caller::Coordinator,
    Caller::OtherCoordinator,
    Caller::Admin,
    Caller::MemberToken,
    Caller::OtherProjectToken,
    Caller::ExpiredToken,
    Caller::FormerMemberToken,
    Caller::MasterToken,
    Caller::OtherMasterToken,
];

/// What a caller presents: nothing, a session cookie of a member, or a bearer token.
pub enum Credential {
    None,
    Session(i64),
    Bearer(String),
}

/// The server and everything the matrix's rows point at.
///
/// "The project" is coordinated by `coordinator`, and `member` has authorized it.
/// "The other project" is coordinated by `other_coordinator`. The member has
/// authorized it too, so the other project's member token belongs to the same person.
pub struct World {
    pub api: ApiSetup,
    pub other_member: TestMember,
    pub other_coordinator: TestMember,
    pub admin: TestMember,
    pub other_project: CreatedProject,
    /// The project that the admin cells approve, deactivate and reactivate.
    pub reviewed_project: CreatedProject,
    /// The member that the admin cells suspend and unsuspend.
    pub reviewed_member: TestMember,
    /// Files of `member` that the project uploaded: one the member deletes on the
    /// site, one the project deletes through the API, and one that goes when the
    /// member deletes everything the project added.
    pub file_id: i64,
    pub api_file_id: i64,
    pub source_file_id: i64,
    pub datatype_id: i64,
    /// The withdrawal webhook sent when the former member left.
    pub delivery_id: i64,
    /// A signed URL that serves `file_id` to the project.
    pub download_path: String,
    /// The project's badge image.
    pub badge_path: String,
    pub member_token: String,
    pub other_project_token: String,
    pub expired_token: String,
    pub former_member_token: String,
    pub master_token: String,
    pub other_master_token: String,
    _receiver: Receiver,
}

impl World {
    pub async fn build() -> World {
        let receiver = Receiver::start().await;
        let webhook = receiver.url();
        let app = TestApp::builder()
            .with(|settings| settings.allow_private_webhooks = true)
            .spawn()
            .await;
        // A study, so that its approval request carries an ethics document.
        let setup = Setup::on(app, |config| {
            config.deauth_webhook = Some(webhook);
            config.is_study = true;
        })
        .await;
        let app = &setup.app;
        request_approval(&setup).await;

        // The expired token is issued first, and then the clock moves past its lifetime,
        // so every later credential is fresh.
        let expiring = fixtures::create_member(app, "expiring").await;
        let expired_token = member_token(app, &setup.project, expiring.id).await;
        app.clock().advance(ACCESS_TOKEN_LIFETIME + 1);

        let former = fixtures::create_member(app, "former").await;
        let former_member_token = member_token(app, &setup.project, former.id).await;
        let former_pmid = oauth2::membership(app, setup.project.id, former.id)
            .await
            .expect("the former member joined")
            .project_member_id;
        let left = fixtures::logged_in_client(app, former.id)
            .await
            .post(app.url(&leave_path(&former_pmid)))
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(left.status(), 303, "the former member left");

        let api = ApiSetup::from_setup(setup).await;
        let app = api.app();
        let other_coordinator = fixtures::create_member(app, "other_coordinator").await;
        let config = fixtures::project_config("Sleep Study", REDIRECT_URI);
        let other_project = fixtures::create_project(app, other_coordinator.id, &config).await;
        let other_project_token = member_token(app, &other_project, api.setup.member.id).await;
        let other_master_token = api::master_token(app, other_project.id).await;
        projects::set_approved(&app.state.db, other_project.id, true, app.clock().now())
            .await
            .unwrap();
        let badge_path = store_badge(app, api.project_id()).await;

        let config = fixtures::project_config("Reviewed Study", REDIRECT_URI);
        let reviewed_project =
            fixtures::create_project(app, api.setup.coordinator.id, &config).await;
        let reviewed_member = fixtures::create_member(app, "reviewed").await;
        let other_member = fixtures::create_member(app, "other_member").await;
        let admin = fixtures::create_member_with(app, "site_admin", true, true).await;

        // Objects that the rows' paths and forms name.
        let file_id = stored_file(&api, "steps.csv").await;
        let api_file_id = stored_file(&api, "heart.csv").await;
        let source_file_id = stored_file(&api, "sleep.csv").await;
        let now = app.clock().now();
        let download_url = mint_download_url(&app.state, file_id, Some(api.project_id()), now);
        let download_path = download_url
            .strip_prefix(&app.base)
            .expect("download URLs point at the app")
            .to_string();
        let datatype = DatatypeInput {
            name: "Step counts".to_string(),
            parent_id: None,
            description: "Steps per day.".to_string(),
            details: String::new(),
            uploadable: true,
        };
        let datatype_id = datatypes::insert(&app.state.db, &datatype, admin.id, now)
            .await
            .unwrap();
        let (delivery_id,): (i64,) =
            sqlx::query_as("SELECT id FROM webhook_deliveries WHERE project_id = $1")
                .bind(api.project_id())
                .fetch_one(&app.state.db.pool)
                .await
                .expect("the former member's withdrawal queued a webhook");

        World {
            member_token: api.access_token.clone(),
            master_token: api.master_token.clone(),
            api,
            other_member,
            other_coordinator,
            admin,
            other_project,
            reviewed_project,
            reviewed_member,
            file_id,
            api_file_id,
            source_file_id,
            datatype_id,
            delivery_id,
            download_path,
            badge_path,
            other_project_token,
            expired_token,
            former_member_token,
            other_master_token,
            _receiver: receiver,
        }
    }

    pub fn app(&self) -> &TestApp {
        self.api.app()
    }

    pub fn project(&self) -> &CreatedProject {
        &self.api.setup.project
    }

    pub fn member(&self) -> &TestMember {
        &self.api.setup.member
    }

    pub fn pmid(&self) -> &str {
        &self.api.project_member_id
    }

    pub fn credential(&self, caller: Caller) -> Credential {
        let token = |token: &String| Credential::Bearer(token.clone());
        match caller {
            Caller::Anonymous => Credential::None,
            Caller::OtherMember => Credential::Session(self.other_member.id),
            Caller::Member => Credential::Session(self.member().id),
            Caller::Coordinator => Credential::Session(self.api.setup.coordinator.id),
            Caller::OtherCoordinator => Credential::Session(self.other_coordinator.id),
            Caller::Admin => Credential::Session(self.admin.id),
            Caller::MemberToken => token(&self.member_token),
            Caller::OtherProjectToken => token(&self.other_project_token),
            Caller::ExpiredToken => token(&self.expired_token),
            Caller::FormerMemberToken => token(&self.former_member_token),
            Caller::MasterToken => token(&self.master_token),
            Caller::OtherMasterToken => token(&self.other_master_token),
        }
    }

    /// Returns a client for `caller`: a browser with a new session for a member, or a
    /// plain client that a token caller adds its `Authorization` header to.
    pub async fn client(&self, caller: Caller) -> reqwest::Client {
        match self.credential(caller) {
            Credential::Session(member_id) => {
                fixtures::logged_in_client(self.app(), member_id).await
            }
            Credential::None | Credential::Bearer(_) => browser_client(),
        }
    }

    /// Authorizes the project or the other project again after a cell ended the
    /// member's membership in it, and takes the new token. Fails if neither membership
    /// ended, because then the cell did not do what its status claims.
    pub async fn rejoin(&mut self) {
        let member_id = self.member().id;
        let mut rejoined = false;
        if !self.is_active_member(self.project().id).await {
            self.member_token = member_token(self.app(), self.project(), member_id).await;
            rejoined = true;
        }
        if !self.is_active_member(self.other_project.id).await {
            self.other_project_token =
                member_token(self.app(), &self.other_project, member_id).await;
            rejoined = true;
        }
        assert!(
            rejoined,
            "the cell ended neither of the member's memberships"
        );
    }

    /// Issues the project's master token again after a cell replaced it. Fails if the
    /// old token still works.
    pub async fn reissue_master_token(&mut self) {
        let app = self.app();
        let old =
            project_api::find_by_master_token(&app.state.db, &app.state.key, &self.master_token)
                .await
                .unwrap();
        assert!(old.is_none(), "the cell left the old master token working");
        self.master_token = api::master_token(app, self.project().id).await;
    }

    /// Returns whether the member is an active member of `project_id`.
    pub async fn is_active_member(&self, project_id: i64) -> bool {
        oauth2::membership(self.app(), project_id, self.member().id)
            .await
            .is_some_and(|membership| membership.status.is_active(true))
    }
}

/// Runs the consent flow for `member_id` on `project` and exchanges the code. Returns
/// the access token.
async fn member_token(app: &TestApp, project: &CreatedProject, member_id: i64) -> String {
    let browser = fixtures::logged_in_client(app, member_id).await;
    let url = oauth2::authorize_url(app, &project.client_id, &[]);
    let location = oauth2::consent(&browser, &url).await;
    let code = oauth2::query_param(&location, "code").expect("the redirect carries a code");
    let response = oauth2::exchange_raw(app, project, &code, Some(REDIRECT_URI)).await;
    assert_eq!(response.status(), 200, "the code is exchanged");
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Inserts a file of the member's that the project uploaded, with its bytes in
/// storage. Returns its id.
async fn stored_file(api: &ApiSetup, name: &str) -> i64 {
    let app = api.app();
    let id = api::insert_file(app, api.setup.member.id, api.project_id(), name).await;
    let file = files::find_by_id(&app.state.db, id).await.unwrap().unwrap();
    app.state
        .storage
        .put(
            &file.storage_key,
            bytes::Bytes::from_static(b"date,steps\n"),
        )
        .await
        .unwrap();
    id
}

/// Stores a badge image for the project, as a coordinator's upload does. Returns the
/// path it is served at.
async fn store_badge(app: &TestApp, project_id: i64) -> String {
    let key = format!("badges/{project_id}/badge.png");
    app.state
        .storage
        .put(&key, bytes::Bytes::from_static(b"\x89PNG\r\n\x1a\n"))
        .await
        .unwrap();
    sqlx::query("UPDATE projects SET badge_key = $1 WHERE id = $2")
        .bind(&key)
        .bind(project_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    format!("/direct-sharing/{key}")
}

/// Submits the project for approval with an ethics document, as its coordinator.
async fn request_approval(setup: &Setup) {
    let coordinator = fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
    let form = Form::new()
        .text("guidelines", "true")
        .text("ethics_board", "Example University IRB")
        .text("ethics_reference", "IRB-2026-042")
        .part("document", Part::bytes(PDF).file_name("approval.pdf"));
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/approval/",
        setup.project.slug
    );
    let response = coordinator
        .post(setup.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the approval request was accepted");
}
