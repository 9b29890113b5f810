//! Project messages to members: the API over a real SMTP server, the coordinator's
//! page with its preview, the member's list of received messages, restarts in the
//! middle of sending, and the unchanged `ohapi` client.

mod api;
mod pages;
mod python;
mod restart;
mod validation;

use std::time::Duration;

use openhumans::config::Settings;
use serde_json::Value;

use crate::api::ApiSetup;
use crate::oauth2::{Setup, make_active_member, membership};
use crate::support::fixtures::{self, TestMember};
use crate::support::mail::ReceivedEmail;
use crate::support::smtp::SmtpServer;
use crate::support::{TestApp, eventually};

/// A project name that needs quoting and encoding as an email display name.
pub const PROJECT_NAME: &str = "Zürich \"Steps\", a study";

/// A message body with the placeholder in two spellings and braces that must stay.
pub const BODY: &str = "Hello {{ PROJECT_MEMBER_ID }},\nyour id is {{PROJECT_MEMBER_ID}}; \
                        {{ name }} and {% tag %} stay as written.";

/// Starts a server with settings changed by `configure` and a project named
/// [`PROJECT_NAME`] with one authorized member.
pub async fn api_setup(configure: impl FnOnce(&mut Settings) + Send + 'static) -> ApiSetup {
    let app = TestApp::builder().with(configure).spawn().await;
    let setup = Setup::on(app, |config| config.name = PROJECT_NAME.to_string()).await;
    ApiSetup::from_setup(setup).await
}

/// Starts an API setup whose emails go to a real SMTP server on loopback.
pub async fn smtp_setup() -> (ApiSetup, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let api = api_setup(move |settings| settings.smtp_url = Some(url)).await;
    (api, smtp)
}

/// Creates a member who authorized `project_id` with everything it requests, the
/// message permission included. Returns the member and their project member id.
pub async fn add_member(app: &TestApp, project_id: i64, username: &str) -> (TestMember, String) {
    let member = fixtures::create_member(app, username).await;
    make_active_member(app, project_id, member.id).await;
    let pmid = membership(app, project_id, member.id)
        .await
        .expect("the member joined")
        .project_member_id;
    (member, pmid)
}

/// Clears the message permission in a membership's snapshot, as an authorization of a
/// project that did not request it records.
pub async fn deny_messages(app: &TestApp, project_member_id: &str) {
    sqlx::query("UPDATE memberships SET message_permission = 0 WHERE project_member_id = $1")
        .bind(project_member_id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
}

/// Sends a message through the API with `token` and the form `fields`.
pub async fn post_message(
    api: &ApiSetup,
    token: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    api.post("message/", token, fields).await
}

/// Returns the `errors` object of a 400 response, failing on any other status.
pub async fn errors_of(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    body["errors"].clone()
}

/// Counts the stored message recipients of a project.
pub async fn recipient_count(app: &TestApp, project_id: i64) -> i64 {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM message_recipients WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    count
}

/// Waits until no message job is queued, running or due: every email went out.
pub async fn wait_until_sent(app: &TestApp) {
    eventually(
        Duration::from_secs(30),
        "every message job to finish",
        || async {
            let (count,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM jobs WHERE kind = 'send_project_message' AND state <> 'done'",
            )
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
            (count == 0).then_some(())
        },
    )
    .await
}

/// Returns the emails sent to `address`.
pub fn emails_to<'a>(emails: &'a [ReceivedEmail], address: &str) -> Vec<&'a ReceivedEmail> {
    emails
        .iter()
        .filter(|email| email.to.contains(address))
        .collect()
}
