//! Suspending a member: sessions, tokens and logins stop at once; reinstating them.

use super::{Review, location};
use crate::api::master_token;
use crate::oauth2::{error_code, refresh_raw};
use crate::support::fixtures::PASSWORD;

const EXCHANGE: &str = "/api/direct-sharing/project/exchange-member/";

async fn api_status(review: &Review, token: &str) -> u16 {
    review
        .setup
        .app
        .new_client()
        .get(review.url(EXCHANGE))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_admin(review: &Review, path: &str) -> reqwest::Response {
    review
        .admin_client
        .post(review.url(path))
        .form(&[("q", "ada")])
        .send()
        .await
        .unwrap()
}

async fn log_in(review: &Review, username: &str) -> reqwest::Response {
    review
        .setup
        .app
        .new_client()
        .post(review.url("/account/login/"))
        .form(&[("login", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn suspension_stops_tokens_and_sessions() {
    let review = Review::new().await;
    let (access_token, refresh_token) = review.setup.tokens().await;
    assert_eq!(api_status(&review, &access_token).await, 200);
    let member_id = review.setup.member.id;

    let suspended = post_admin(&review, &format!("/admin/members/{member_id}/suspend/")).await;
    assert_eq!(suspended.status(), 303);
    assert_eq!(location(&suspended), "/admin/members/?q=ada");

    assert_eq!(
        api_status(&review, &access_token).await,
        401,
        "access token"
    );
    let refreshed = refresh_raw(&review.setup.app, &review.setup.project, &refresh_token).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(error_code(refreshed).await, "invalid_grant");
    let page = review
        .setup
        .browser
        .get(review.url("/member/me/connections/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the session ended");
    let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE member_id = $1")
        .bind(member_id)
        .fetch_one(&review.setup.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    let login = log_in(&review, "Ada_L").await;
    assert_eq!(login.status(), 422);
    let html = login.text().await.unwrap();
    assert!(html.contains("This account is suspended"), "{html}");

    let listing = review
        .admin_client
        .get(review.url("/admin/members/?q=ada"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("Suspended"), "{listing}");

    let reinstated = post_admin(&review, &format!("/admin/members/{member_id}/unsuspend/")).await;
    assert_eq!(reinstated.status(), 303);
    let login = log_in(&review, "Ada_L").await;
    assert_eq!(login.status(), 303, "a reinstated member logs in");
}

#[tokio::test]
async fn wrong_password_hides_suspension() {
    let review = Review::new().await;
    let member_id = review.setup.member.id;
    post_admin(&review, &format!("/admin/members/{member_id}/suspend/")).await;

    let login = review
        .setup
        .app
        .new_client()
        .post(review.url("/account/login/"))
        .form(&[("login", "Ada_L"), ("password", "not the password")])
        .send()
        .await
        .unwrap();

    assert_eq!(login.status(), 422);
    let html = login.text().await.unwrap();
    assert!(!html.contains("suspended"), "{html}");
}

#[tokio::test]
async fn suspended_coordinator_master_token_stops() {
    let review = Review::new().await;
    let token = master_token(&review.setup.app, review.setup.project.id).await;
    let members_path = "/api/direct-sharing/project/members/";
    let status = |token: String| {
        let client = review.setup.app.new_client();
        let url = review.url(members_path);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(status(token.clone()).await, 200);

    let coordinator_id = review.setup.coordinator.id;
    post_admin(
        &review,
        &format!("/admin/members/{coordinator_id}/suspend/"),
    )
    .await;

    assert_eq!(status(token).await, 401);
}

#[tokio::test]
async fn admin_cannot_suspend_self() {
    let review = Review::new().await;
    let admin_id = review.admin.id;

    let response = post_admin(&review, &format!("/admin/members/{admin_id}/suspend/")).await;

    assert_eq!(response.status(), 303);
    let admin = openhumans::db::members::find_by_id(&review.setup.app.state.db, admin_id)
        .await
        .unwrap()
        .unwrap();
    assert!(admin.is_active);
}
