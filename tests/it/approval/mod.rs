//! The approval workflow, the admin review pages, member suspension, the public
//! directory and the contact form.

mod browser;
mod cap;
mod contact;
mod deactivation;
mod directory;
mod document;
mod suspension;
mod workflow;

use openhumans::db::approvals::{self, ApprovalEvent};
use openhumans::db::projects;
use openhumans::domain::approval::ApprovalState;
use openhumans::domain::project::ProjectConfig;
use reqwest::multipart::{Form, Part};

use crate::oauth2::Setup;
use crate::support::eventually;
use crate::support::fixtures::{self, TestMember};
use crate::support::mail::{ReceivedEmail, read_outbox};

/// A minimal file that starts with the PDF signature.
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

/// The OAuth2 setup (a project, its coordinator and one member with a browser) plus a
/// site admin who does not coordinate the project, with logged-in clients.
pub struct Review {
    pub setup: Setup,
    pub admin: TestMember,
    pub admin_client: reqwest::Client,
    pub coordinator_client: reqwest::Client,
}

impl Review {
    pub async fn new() -> Review {
        Review::with_config(|_| {}).await
    }

    pub async fn with_config(configure: impl FnOnce(&mut ProjectConfig)) -> Review {
        let setup = Setup::with_config(configure).await;
        let admin = fixtures::create_member_with(&setup.app, "site_admin", true, true).await;
        let admin_client = fixtures::logged_in_client(&setup.app, admin.id).await;
        let coordinator_client = fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
        Review {
            setup,
            admin,
            admin_client,
            coordinator_client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.setup.app.url(path)
    }

    pub fn slug(&self) -> &str {
        &self.setup.project.slug
    }

    pub fn approval_path(&self) -> String {
        format!("/direct-sharing/projects/oauth2/{}/approval/", self.slug())
    }

    pub fn review_path(&self) -> String {
        format!("/admin/approvals/{}/", self.slug())
    }

    /// Posts the request form as `client` with `fields` and an optional document.
    pub async fn submit_as(
        &self,
        client: &reqwest::Client,
        fields: &[(&'static str, &str)],
        document: Option<(Vec<u8>, &str)>,
    ) -> reqwest::Response {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(*name, value.to_string());
        }
        if let Some((bytes, name)) = document {
            form = form.part("document", Part::bytes(bytes).file_name(name.to_string()));
        }
        client
            .post(self.url(&self.approval_path()))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Submits the project as its coordinator, acknowledging the guidelines.
    pub async fn submit(&self) -> reqwest::Response {
        self.submit_as(&self.coordinator_client, &[("guidelines", "true")], None)
            .await
    }

    /// Posts a decision as `client`.
    pub async fn decide_as(
        &self,
        client: &reqwest::Client,
        decision: &str,
        comment: &str,
    ) -> reqwest::Response {
        client
            .post(self.url(&format!("{}decide/", self.review_path())))
            .form(&[("decision", decision), ("comment", comment)])
            .send()
            .await
            .unwrap()
    }

    /// Posts a decision as the site admin.
    pub async fn decide(&self, decision: &str, comment: &str) -> reqwest::Response {
        self.decide_as(&self.admin_client, decision, comment).await
    }

    /// Posts to one of the review page's other actions (`remove-approval`, `deactivate`).
    pub async fn admin_action(&self, action: &str, comment: &str) -> reqwest::Response {
        self.admin_client
            .post(self.url(&format!("{}{action}/", self.review_path())))
            .form(&[("comment", comment)])
            .send()
            .await
            .unwrap()
    }

    /// Submits the project and approves it, checking both steps.
    pub async fn approve(&self) {
        assert_eq!(self.submit().await.status(), 303);
        assert_eq!(self.decide("approve", "").await.status(), 303);
        assert_eq!(self.state().await, ApprovalState::Approved);
    }

    pub async fn state(&self) -> ApprovalState {
        approvals::find(&self.setup.app.state.db, &self.project().await)
            .await
            .unwrap()
            .state
    }

    pub async fn project(&self) -> projects::Project {
        projects::find_by_id(&self.setup.app.state.db, self.setup.project.id)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn history(&self) -> Vec<ApprovalEvent> {
        approvals::history(&self.setup.app.state.db, self.setup.project.id)
            .await
            .unwrap()
    }
}

/// Returns the `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Waits for an email to the project's contact address whose subject contains `part`.
pub async fn contact_email_with(review: &Review, part: &str) -> ReceivedEmail {
    let dir = review.setup.app.outbox_dir();
    eventually(
        std::time::Duration::from_secs(15),
        &format!("an email about {part:?}"),
        || async {
            read_outbox(&dir)
                .into_iter()
                .find(|email| email.to.contains("lab@example.org") && email.subject.contains(part))
        },
    )
    .await
}
