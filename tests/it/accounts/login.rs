//! `/account/login/` and `/account/logout/`.

use super::{
    PASSWORD, create_member, location, log_in, post_form, session_cookie, set_cookie_header,
};
use crate::support::TestApp;

#[tokio::test]
async fn login_with_email_ignores_case() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let response = log_in(&app, &app.client, "ALICE@example.ORG", PASSWORD).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    assert!(session_cookie(&response).is_some());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_alike() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let wrong_password = log_in(&app, &app.client, "alice", "not the password").await;
    let unknown_user = log_in(&app, &app.client, "nobody", "not the password").await;

    assert_eq!(wrong_password.status(), 422);
    assert_eq!(unknown_user.status(), 422);
    assert!(session_cookie(&wrong_password).is_none());
    let wrong_body = wrong_password.text().await.unwrap();
    let unknown_body = unknown_user.text().await.unwrap();
    assert!(wrong_body.contains("is not correct"), "{wrong_body}");
    assert_eq!(
        wrong_body.replace("value=\"alice\"", "value=\"nobody\""),
        unknown_body,
        "the pages differ only in the echoed login"
    );
}

#[tokio::test]
async fn login_redirects_to_local_next() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let form = app
        .client
        .get(app.url("/account/login/?next=%2Faccount%2Fpassword%2Fchange%2F%3Fa%3D1"))
        .send()
        .await
        .unwrap();
    let body = form.text().await.unwrap();
    assert!(
        body.contains("name=\"next\" value=\"/account/password/change/?a=1\""),
        "{body}"
    );
    let fields = [
        ("login", "alice"),
        ("password", PASSWORD),
        ("next", "/account/password/change/?a=1"),
    ];
    let response = post_form(&app.client, &app.url("/account/login/"), &fields).await;

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account/password/change/?a=1");
}

#[tokio::test]
async fn offsite_next_is_ignored() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
    ] {
        let client = app.new_client();
        let fields = [("login", "alice"), ("password", PASSWORD), ("next", next)];
        let response = post_form(&client, &app.url("/account/login/"), &fields).await;

        assert_eq!(response.status(), 303, "{next}");
        assert_eq!(location(&response), "/", "{next}");
    }
}

#[tokio::test]
async fn anonymous_request_redirects_to_login() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/account/login/?next=%2Faccount%2Fpassword%2Fchange%2F"
    );
}

#[tokio::test]
async fn login_rotates_session_cookie() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    let first = log_in(&app, &app.client, "alice", PASSWORD).await;
    let first_id = session_cookie(&first).unwrap();

    let second = log_in(&app, &app.client, "alice", PASSWORD).await;

    let header = set_cookie_header(&second, "oh_session").unwrap();
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    assert!(header.contains("Path=/"), "{header}");
    let second_id = session_cookie(&second).unwrap();
    assert_ne!(first_id, second_id);
    let old_session = app
        .new_client()
        .get(app.url("/account/password/change/"))
        .header("cookie", format!("oh_session={first_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        old_session.status(),
        303,
        "the replaced session no longer works"
    );
}

#[tokio::test]
async fn suspended_member_cannot_log_in() {
    let app = TestApp::spawn().await;
    let id = create_member(&app, "alice", "alice@example.org").await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();

    let response = log_in(&app, &app.client, "alice", PASSWORD).await;

    assert_eq!(response.status(), 422);
    assert!(session_cookie(&response).is_none());
    // The right password gets the suspension message. A wrong one still gets the
    // generic error.
    let body = response.text().await.unwrap();
    assert!(body.contains("This account is suspended"), "{body}");
}

#[tokio::test]
async fn unverified_member_can_log_in() {
    let app = TestApp::spawn().await;
    let id = create_member(&app, "alice", "alice@example.org").await;
    sqlx::query("UPDATE members SET email_verified_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();

    let response = log_in(&app, &app.client, "alice", PASSWORD).await;

    assert_eq!(response.status(), 303);
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let body = home.text().await.unwrap();
    assert!(
        body.contains("Please confirm your email address alice@example.org"),
        "{body}"
    );
    assert!(body.contains("action=\"/account/email/resend/\""), "{body}");
}

#[tokio::test]
async fn logout_get_only_asks() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    log_in(&app, &app.client, "alice", PASSWORD).await;

    let page = app
        .client
        .get(app.url("/account/logout/"))
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("method=\"post\" action=\"/account/logout/\""),
        "{body}"
    );
    let still_in = app
        .client
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(still_in.status(), 200, "a GET does not log out");
}

#[tokio::test]
async fn empty_login_fields_rejected() {
    let app = TestApp::spawn().await;

    let response = log_in(&app, &app.client, "  ", "").await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"login-error\""), "{body}");
    assert!(body.contains("id=\"password-error\""), "{body}");
}
