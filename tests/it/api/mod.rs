//! The project API under `/api/direct-sharing/`, driven over HTTP with member tokens
//! from the real consent flow and the project's master token.

mod credentials;
mod delete;
mod exchange;
mod members;
pub mod openapi;
mod python;
mod remove;
mod uploads;

use openhumans::db::files::{self, NewDataFile};
use serde_json::Value;

use crate::oauth2::Setup;
use crate::support::TestApp;

pub const API: &str = "/api/direct-sharing/project/";
pub const METADATA: &str = r#"{"description": "Daily steps", "tags": ["steps"]}"#;

/// A project with one authorized member: the member's access token, the master token
/// and the member's `project_member_id`.
pub struct ApiSetup {
    pub setup: Setup,
    pub access_token: String,
    pub master_token: String,
    pub project_member_id: String,
}

impl ApiSetup {
    pub async fn new() -> ApiSetup {
        ApiSetup::from_setup(Setup::new().await).await
    }

    pub async fn with_config(
        configure: impl FnOnce(&mut openhumans::domain::project::ProjectConfig),
    ) -> ApiSetup {
        ApiSetup::from_setup(Setup::with_config(configure).await).await
    }

    pub async fn from_setup(setup: Setup) -> ApiSetup {
        let (access_token, _) = setup.tokens().await;
        let master_token = master_token(&setup.app, setup.project.id).await;
        let membership = crate::oauth2::membership(&setup.app, setup.project.id, setup.member.id)
            .await
            .expect("the member authorized the project");
        ApiSetup {
            setup,
            access_token,
            master_token,
            project_member_id: membership.project_member_id,
        }
    }

    pub fn app(&self) -> &TestApp {
        &self.setup.app
    }

    pub fn project_id(&self) -> i64 {
        self.setup.project.id
    }

    /// Sends a `GET` to an API path (relative to `/api/direct-sharing/project/`) with
    /// `token` and the extra parameters `query` in the query string.
    pub async fn get(&self, path: &str, token: &str, query: &[(&str, &str)]) -> reqwest::Response {
        let mut params = vec![("access_token", token)];
        params.extend_from_slice(query);
        reqwest::Client::new()
            .get(self.app().url(&format!("{API}{path}")))
            .query(&params)
            .send()
            .await
            .unwrap()
    }

    /// Sends a form `POST` to an API path with `token` in the query.
    pub async fn post(&self, path: &str, token: &str, form: &[(&str, &str)]) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.app().url(&format!("{API}{path}")))
            .query(&[("access_token", token)])
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Uploads `bytes` through the direct upload as `token` would; returns the file id.
    pub async fn upload(&self, token: &str, filename: &str, bytes: &[u8]) -> i64 {
        let pmid = self.project_member_id.clone();
        let response = self
            .post(
                "files/upload/direct/",
                token,
                &[
                    ("project_member_id", &pmid),
                    ("metadata", METADATA),
                    ("filename", filename),
                ],
            )
            .await;
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        let id = body["id"].as_i64().unwrap();
        let put = reqwest::Client::new()
            .put(body["url"].as_str().unwrap())
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200);
        let id_text = id.to_string();
        let response = self
            .post(
                "files/upload/complete/",
                token,
                &[("project_member_id", &pmid), ("file_id", &id_text)],
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        id
    }
}

/// Issues a master token for a project.
pub async fn master_token(app: &TestApp, project_id: i64) -> String {
    openhumans::db::projects::issue_master_token(
        &app.state.db,
        &app.state.key,
        project_id,
        app.clock().now(),
    )
    .await
    .unwrap()
}

/// Inserts a completed file row (without stored bytes) uploaded by `project_id` for
/// `member_id`; returns its id.
pub async fn insert_file(app: &TestApp, member_id: i64, project_id: i64, name: &str) -> i64 {
    let random = openhumans::crypto::random_token(16);
    let key = openhumans::domain::files::storage_key(project_id, &random, name);
    files::insert(
        &app.state.db,
        &NewDataFile {
            member_id,
            project_id,
            storage_key: &key,
            basename: name,
            metadata: METADATA,
            completed: true,
            size: Some(1),
            md5: None,
            datatype_ids: &[],
        },
        app.clock().now(),
    )
    .await
    .unwrap()
}

/// Returns the ids of the files in an exchange-member body.
pub fn file_ids(body: &Value) -> Vec<i64> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["id"].as_i64().unwrap())
        .collect()
}

/// Removes the member through the API with their own token.
pub async fn leave(api: &ApiSetup) {
    let response = api.post("remove-members/", &api.access_token, &[]).await;
    assert_eq!(response.status(), 200);
}
