//! `/account/password/change/`.

use super::{PASSWORD, create_member, location, log_in, post_form, session_cookie};
use crate::support::TestApp;

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn password_change_ends_other_sessions() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    let other_device = app.new_client();
    log_in(&app, &other_device, "alice", PASSWORD).await;
    log_in(&app, &app.client, "alice", PASSWORD).await;
    let fields = [
        ("current_password", PASSWORD),
        ("new_password", NEW_PASSWORD),
        ("new_password_confirmation", NEW_PASSWORD),
    ];

    let response = post_form(&app.client, &app.url("/account/password/change/"), &fields).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account/password/change/");
    assert!(
        session_cookie(&response).is_some(),
        "this browser gets a fresh session"
    );
    let page = app
        .client
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "this browser stays logged in");
    let body = page.text().await.unwrap();
    assert!(body.contains("Your password was changed"), "{body}");
    let other = other_device
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 303, "the other session ended");
    let new = log_in(&app, &app.new_client(), "alice", NEW_PASSWORD).await;
    assert_eq!(new.status(), 303);
}

#[tokio::test]
async fn wrong_current_password_rejected() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    log_in(&app, &app.client, "alice", PASSWORD).await;
    let fields = [
        ("current_password", "not the password"),
        ("new_password", NEW_PASSWORD),
        ("new_password_confirmation", NEW_PASSWORD),
    ];

    let response = post_form(&app.client, &app.url("/account/password/change/"), &fields).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"current_password-error\""), "{body}");
    let old = log_in(&app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(old.status(), 303, "the password is unchanged");
}
