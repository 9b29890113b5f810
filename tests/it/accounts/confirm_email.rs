//! `/account/confirm-email/` and `/account/email/resend/`.

use openhumans::clock::{DAY, MINUTE};

use super::{location, path_of, sign_up, wait_for_link, wait_for_links};
use crate::support::TestApp;

async fn email_verified(app: &TestApp, username: &str) -> bool {
    let member = openhumans::db::members::find_by_login(&app.state.db, username)
        .await
        .unwrap()
        .unwrap();
    member.email_verified
}

#[tokio::test]
async fn confirmation_link_works_once() {
    let app = TestApp::spawn().await;
    sign_up(&app, &app.client, "alice", "alice@example.org").await;
    let link = wait_for_link(&app, "alice@example.org", "/account/confirm-email/").await;

    let first = app.new_client().get(&link).send().await.unwrap();
    let second = app.new_client().get(&link).send().await.unwrap();

    assert_eq!(first.status(), 200);
    assert!(email_verified(&app, "alice").await);
    assert_eq!(second.status(), 410);
    let body = second.text().await.unwrap();
    assert!(body.contains("already been used"), "{body}");
}

#[tokio::test]
async fn expired_confirmation_link_offers_resend() {
    let app = TestApp::spawn().await;
    sign_up(&app, &app.client, "alice", "alice@example.org").await;
    let link = wait_for_link(&app, "alice@example.org", "/account/confirm-email/").await;
    app.clock().advance(3 * DAY + MINUTE);

    let response = app.client.get(&link).send().await.unwrap();

    assert_eq!(response.status(), 410);
    let body = response.text().await.unwrap();
    assert!(body.contains("has expired"), "{body}");
    assert!(body.contains("action=\"/account/email/resend/\""), "{body}");
    assert!(!email_verified(&app, "alice").await);
}

#[tokio::test]
async fn unknown_confirmation_link_is_404() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/account/confirm-email/notARealToken/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("Link not valid"), "{body}");
    assert!(body.contains("Log in to get a new link"), "{body}");
}

#[tokio::test]
async fn resend_sends_a_working_link() {
    let app = TestApp::spawn().await;
    sign_up(&app, &app.client, "alice", "alice@example.org").await;
    wait_for_link(&app, "alice@example.org", "/account/confirm-email/").await;

    let resend = app
        .client
        .post(app.url("/account/email/resend/"))
        .send()
        .await
        .unwrap();

    assert_eq!(resend.status(), 303);
    assert_eq!(location(&resend), "/account/confirm-email/");
    let links = wait_for_links(&app, "alice@example.org", "/account/confirm-email/", 2).await;
    assert_ne!(links[0], links[1]);
    let confirmed = app
        .client
        .get(app.url(&path_of(&app, &links[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    assert!(email_verified(&app, "alice").await);
}

#[tokio::test]
async fn resend_is_limited_per_account() {
    let app = TestApp::spawn().await;
    sign_up(&app, &app.client, "alice", "alice@example.org").await;
    // The signup email counts, so four more fit in the hour.
    for attempt in 0..4 {
        let response = app
            .client
            .post(app.url("/account/email/resend/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "resend {attempt}");
    }

    let limited = app
        .client
        .post(app.url("/account/email/resend/"))
        .send()
        .await
        .unwrap();

    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn anonymous_resend_redirects_to_login() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/account/email/resend/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/account/login/?next="));
}
