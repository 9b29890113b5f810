//! `/account/password/reset/` and `/account/password/reset/key/{token}/`.

use openhumans::clock::MINUTE;

use super::{
    PASSWORD, create_member, location, log_in, post_form, queued_emails, session_cookie,
    wait_for_link, wait_for_links,
};
use crate::support::TestApp;
use crate::support::mail::read_outbox;

const NEW_PASSWORD: &str = "a brand new passphrase";

/// Requests a password-reset email for `email` from a new browser on `app`.
pub async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    let fields = [("email", email)];
    post_form(
        &app.new_client(),
        &app.url("/account/password/reset/"),
        &fields,
    )
    .await
}

async fn set_new_password(
    client: &reqwest::Client,
    link: &str,
    password: &str,
) -> reqwest::Response {
    let fields = [
        ("new_password", password),
        ("new_password_confirmation", password),
    ];
    post_form(client, link, &fields).await
}

#[tokio::test]
async fn reset_sets_new_password_once() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    let other_device = app.new_client();
    log_in(&app, &other_device, "alice", PASSWORD).await;

    let request = request_reset(&app, "Alice@Example.org").await;
    assert_eq!(request.status(), 200);
    let body = request.text().await.unwrap();
    assert!(body.contains("If an account has the address"), "{body}");
    let link = wait_for_link(&app, "alice@example.org", "/account/password/reset/key/").await;
    let form = app.client.get(&link).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let body = form.text().await.unwrap();
    assert!(body.contains("<label for=\"new_password\">"), "{body}");

    let reset = set_new_password(&app.client, &link, NEW_PASSWORD).await;

    assert_eq!(reset.status(), 303);
    assert!(
        session_cookie(&reset).is_some(),
        "the reset logs the member in"
    );
    let logged_in = app
        .client
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 200);
    let other = other_device
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303, "other sessions ended");
    let old = log_in(&app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(old.status(), 422, "the old password fails");
    let new = log_in(&app, &app.new_client(), "alice", NEW_PASSWORD).await;
    assert_eq!(new.status(), 303, "the new password works");
    let reused = set_new_password(&app.new_client(), &link, "yet another passphrase").await;
    assert_eq!(reused.status(), 410, "the link works once");
    let reused_get = app.new_client().get(&link).send().await.unwrap();
    assert_eq!(reused_get.status(), 410);
    let body = reused_get.text().await.unwrap();
    assert!(body.contains("href=\"/account/password/reset/\""), "{body}");
}

#[tokio::test]
async fn reset_link_expires_after_one_hour() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    request_reset(&app, "alice@example.org").await;
    let link = wait_for_link(&app, "alice@example.org", "/account/password/reset/key/").await;
    app.clock().advance(61 * MINUTE);

    let form = app.client.get(&link).send().await.unwrap();
    let reset = set_new_password(&app.client, &link, NEW_PASSWORD).await;

    assert_eq!(form.status(), 410);
    let body = form.text().await.unwrap();
    assert!(body.contains("has expired"), "{body}");
    assert_eq!(reset.status(), 410);
    let old = log_in(&app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(old.status(), 303, "the password is unchanged");
}

#[tokio::test]
async fn reset_for_unknown_email_looks_the_same() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let known = request_reset(&app, "alice@example.org").await;
    let unknown = request_reset(&app, "nobody@example.org").await;

    assert_eq!(known.status(), unknown.status());
    let known_body = known.text().await.unwrap();
    let unknown_body = unknown.text().await.unwrap();
    assert_eq!(
        known_body.replace("alice@example.org", "nobody@example.org"),
        unknown_body
    );
    assert_eq!(
        queued_emails(&app).await,
        1,
        "only the known address gets an email"
    );
    wait_for_link(&app, "alice@example.org", "/account/password/reset/key/").await;
    let outbox = read_outbox(&app.outbox_dir());
    assert!(
        !outbox
            .iter()
            .any(|email| email.to.contains("nobody@example.org"))
    );
}

#[tokio::test]
async fn reset_emails_limited_per_account() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    for attempt in 0..5 {
        let response = request_reset(&app, "alice@example.org").await;
        assert_eq!(response.status(), 200, "request {attempt}");
    }

    let limited = request_reset(&app, "ALICE@example.org").await;
    let unknown_limited = {
        for _ in 0..5 {
            request_reset(&app, "nobody@example.org").await;
        }
        request_reset(&app, "nobody@example.org").await
    };

    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        unknown_limited.status(),
        429,
        "unknown addresses are limited alike"
    );
    assert_eq!(queued_emails(&app).await, 5);
    wait_for_links(&app, "alice@example.org", "/account/password/reset/key/", 5).await;
    app.clock().advance(61 * MINUTE);
    let later = request_reset(&app, "alice@example.org").await;
    assert_eq!(later.status(), 200);
    assert_eq!(queued_emails(&app).await, 6);
}

#[tokio::test]
async fn reset_mismatched_passwords_rejected() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    request_reset(&app, "alice@example.org").await;
    let link = wait_for_link(&app, "alice@example.org", "/account/password/reset/key/").await;
    let fields = [
        ("new_password", NEW_PASSWORD),
        ("new_password_confirmation", "something else entirely"),
    ];

    let response = post_form(&app.client, &link, &fields).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("The two passwords differ"), "{body}");
    let retry = set_new_password(&app.client, &link, NEW_PASSWORD).await;
    assert_eq!(
        retry.status(),
        303,
        "a rejected form leaves the link usable"
    );
    assert_eq!(location(&retry), "/");
}

#[tokio::test]
async fn unknown_reset_link_is_404() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/account/password/reset/key/notARealToken/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("Ask for a new reset link"), "{body}");
}

#[tokio::test]
async fn reset_lifts_failed_login_pause() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    for attempt in 0..10 {
        let guess = log_in(&app, &app.new_client(), "alice", "wrong password").await;
        assert_eq!(guess.status(), 422, "guess {attempt}");
    }
    let paused = log_in(&app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(paused.status(), 429);
    let body = paused.text().await.unwrap();
    assert!(
        body.contains("/account/password/reset/"),
        "the page names the way out: {body}"
    );

    request_reset(&app, "alice@example.org").await;
    let link = wait_for_link(&app, "alice@example.org", "/account/password/reset/key/").await;
    let reset = set_new_password(&app.new_client(), &link, NEW_PASSWORD).await;
    assert_eq!(reset.status(), 303);

    let login = log_in(&app, &app.new_client(), "alice", NEW_PASSWORD).await;
    assert_eq!(login.status(), 303, "the reset lifted the pause");
}
