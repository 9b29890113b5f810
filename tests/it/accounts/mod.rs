//! Member accounts: signup, address confirmation, login, logout, password change and
//! reset, and how their forms reject malformed input. Helpers shared by these tests
//! live here.

mod confirm_email;
mod forms;
mod login;
mod password_change;
pub mod password_reset;
mod signup;

use std::time::Duration;

use openhumans::db::members::NewMember;
use reqwest::{Client, Response};

use crate::support::TestApp;
use crate::support::mail::{ReceivedEmail, find_link, read_outbox};

/// A password every helper-made member has.
pub const PASSWORD: &str = "correct horse battery staple";

/// Submits a form the way a browser on the site does.
pub async fn post_form(client: &Client, url: &str, fields: &[(&str, &str)]) -> Response {
    client.post(url).form(fields).send().await.unwrap()
}

/// Signs up through the form with [`PASSWORD`].
pub async fn sign_up(app: &TestApp, client: &Client, username: &str, email: &str) -> Response {
    let fields = [
        ("username", username),
        ("email", email),
        ("password", PASSWORD),
        ("password_confirmation", PASSWORD),
    ];
    post_form(client, &app.url("/account/signup/"), &fields).await
}

/// Logs in through the form.
pub async fn log_in(app: &TestApp, client: &Client, login: &str, password: &str) -> Response {
    let fields = [("login", login), ("password", password)];
    post_form(client, &app.url("/account/login/"), &fields).await
}

/// Creates a member straight in the database, with a confirmed address and
/// [`PASSWORD`], so a test does not spend a signup on its setup.
pub async fn create_member(app: &TestApp, username: &str, email: &str) -> i64 {
    let password_hash = openhumans::domain::password::hash(PASSWORD);
    let new = NewMember {
        username,
        email,
        password_hash: &password_hash,
        is_admin: false,
        email_verified: true,
    };
    openhumans::db::members::insert(&app.state.db, &new, app.clock().now())
        .await
        .unwrap()
}

/// Returns the value of the session cookie a response sets, if it sets one.
pub fn session_cookie(response: &Response) -> Option<String> {
    set_cookie_header(response, "oh_session").and_then(|header| {
        let value = header.split(';').next()?.split_once('=')?.1.to_string();
        Some(value).filter(|value| !value.is_empty())
    })
}

/// Returns the whole `Set-Cookie` header for cookie `name`.
pub fn set_cookie_header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// Returns the `Location` header of a redirect.
pub fn location(response: &Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Waits until `count` emails to `to` with a link containing `fragment` have arrived
/// and returns their links, oldest first.
pub async fn wait_for_links(app: &TestApp, to: &str, fragment: &str, count: usize) -> Vec<String> {
    let dir = app.outbox_dir();
    crate::support::eventually(
        Duration::from_secs(15),
        &format!("{count} emails to {to} with a {fragment} link"),
        || async {
            let links: Vec<String> = emails_to(&read_outbox(&dir), to)
                .iter()
                .filter_map(|email| find_link(&email.body, fragment))
                .collect();
            (links.len() >= count).then_some(links)
        },
    )
    .await
}

/// Waits for the first email to `to` with a link containing `fragment`, and returns the link.
pub async fn wait_for_link(app: &TestApp, to: &str, fragment: &str) -> String {
    wait_for_links(app, to, fragment, 1).await.remove(0)
}

fn emails_to(outbox: &[ReceivedEmail], to: &str) -> Vec<ReceivedEmail> {
    outbox
        .iter()
        .filter(|email| email.to.contains(to))
        .cloned()
        .collect()
}

/// Counts the emails queued, sent or not.
pub async fn queued_emails(app: &TestApp) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'send_email'")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    count
}

/// Counts the member accounts.
pub async fn member_count(app: &TestApp) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM members")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    count
}

/// Returns the path part of an absolute link on the test app.
pub fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.base).unwrap().to_string()
}
