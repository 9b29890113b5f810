//! Test data: members, projects and logged-in clients, created directly through the
//! library so that tests of one area do not depend on another area's pages.

use std::sync::Arc;

use openhumans::db::members::{NewMember, insert as insert_member};
use openhumans::db::projects::{self, CreatedProject};
use openhumans::domain::project::ProjectConfig;
use reqwest::cookie::Jar;

use super::TestApp;

/// Password of every member the fixtures create.
pub const PASSWORD: &str = "correct horse battery staple";

/// A member created for a test.
#[derive(Debug, Clone)]
pub struct TestMember {
    pub id: i64,
    pub username: String,
    pub email: String,
}

/// Creates a member with a verified email address and [`PASSWORD`].
pub async fn create_member(app: &TestApp, username: &str) -> TestMember {
    create_member_with(app, username, true, false).await
}

/// Creates a member, choosing whether the email is verified and whether they are a
/// site admin.
pub async fn create_member_with(
    app: &TestApp,
    username: &str,
    email_verified: bool,
    is_admin: bool,
) -> TestMember {
    let email = format!("{}@example.org", username.to_lowercase());
    let password_hash = openhumans::domain::password::hash(PASSWORD);
    let id = insert_member(
        &app.state.db,
        &NewMember {
            username,
            email: &email,
            password_hash: &password_hash,
            is_admin,
            email_verified,
        },
        app.clock().now(),
    )
    .await
    .expect("creating a test member");
    TestMember {
        id,
        username: username.to_string(),
        email,
    }
}

/// A valid project configuration whose only redirect URI is `redirect_uri`.
pub fn project_config(name: &str, redirect_uri: &str) -> ProjectConfig {
    ProjectConfig {
        name: name.to_string(),
        is_study: false,
        leader: "Dr. Ada Lovelace".to_string(),
        organization: "Analytical Engines Lab".to_string(),
        is_academic_or_nonprofit: true,
        contact_email: "lab@example.org".to_string(),
        info_url: "https://example.org/info".to_string(),
        short_description: "Studies how people use their step counts.".to_string(),
        long_description: "A longer description of the project.".to_string(),
        returned_data_description: String::new(),
        active: true,
        request_message_permission: true,
        request_username_access: false,
        enrollment_url: "https://example.org/join".to_string(),
        terms_url: "https://example.org/terms".to_string(),
        redirect_uris: vec![redirect_uri.to_string()],
        deauth_webhook: None,
        webhook_secret: None,
        erasure_supported: false,
        deauth_email_notification: false,
        require_pkce: false,
        requested_sources: Vec::new(),
    }
}

/// Creates a project coordinated by `coordinator_id`; the result carries the client
/// secret, which is shown only once.
pub async fn create_project(
    app: &TestApp,
    coordinator_id: i64,
    config: &ProjectConfig,
) -> CreatedProject {
    projects::insert(
        &app.state.db,
        &app.state.key,
        coordinator_id,
        config,
        app.clock().now(),
    )
    .await
    .expect("creating a test project")
}

/// A client (no redirects followed) already logged in as `member_id`.
pub async fn logged_in_client(app: &TestApp, member_id: i64) -> reqwest::Client {
    let cookie = openhumans::http::session::start_session(
        &app.state,
        member_id,
        &axum::http::HeaderMap::new(),
    )
    .await
    .expect("starting a session");
    let jar = Jar::default();
    let url = app.base.parse::<reqwest::Url>().expect("a valid base URL");
    jar.add_cookie_str(cookie.to_str().expect("an ASCII cookie"), &url);
    reqwest::Client::builder()
        .cookie_provider(Arc::new(jar))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("building an HTTP client")
}
