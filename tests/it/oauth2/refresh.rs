//! `POST /oauth2/token/` with the refresh token grant: rotation, reuse, expiry.

use oauth2::{AuthorizationCode, RefreshToken, TokenResponse};
use openhumans::clock::{DAY, SECOND};

use super::{Setup, access_token_works, error_code, oauth_http, refresh_raw};

#[tokio::test]
async fn refresh_rotates_tokens_using_oauth2_crate() {
    let setup = Setup::new().await;
    let client = setup.oauth_client();
    let http = oauth_http();
    let code = setup.code(&[]).await;
    let first = client
        .exchange_code(AuthorizationCode::new(code))
        .request_async(&http)
        .await
        .unwrap();
    let first_refresh = first.refresh_token().unwrap().clone();

    let second = client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .expect("the refresh succeeds");

    assert_ne!(
        second.access_token().secret(),
        first.access_token().secret()
    );
    let second_refresh = second.refresh_token().expect("a new refresh token");
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    assert!(access_token_works(&setup.app, second.access_token().secret()).await);
    assert!(
        !access_token_works(&setup.app, first.access_token().secret()).await,
        "the access token of the rotated pair is revoked"
    );
    let reuse = refresh_raw(&setup.app, &setup.project, first_refresh.secret()).await;
    assert_eq!(reuse.status(), 400);
    assert_eq!(error_code(reuse).await, "invalid_grant");
    let third = client
        .exchange_refresh_token(&RefreshToken::new(second_refresh.secret().clone()))
        .request_async(&http)
        .await;
    assert!(
        third.is_ok(),
        "reuse within the grace period keeps the grant"
    );
}

#[tokio::test]
async fn concurrent_refresh_has_exactly_one_winner() {
    let setup = Setup::new().await;
    let (_, refresh_token) = setup.tokens().await;

    let attempts = (0..6).map(|_| refresh_raw(&setup.app, &setup.project, &refresh_token));
    let responses = futures_util::future::join_all(attempts).await;

    let mut winners = Vec::new();
    let mut losers = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => winners.push(response.json::<serde_json::Value>().await.unwrap()),
            400 => {
                assert_eq!(error_code(response).await, "invalid_grant");
                losers += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh wins");
    assert_eq!(losers, 5);
    let winner = &winners[0];
    assert!(access_token_works(&setup.app, winner["access_token"].as_str().unwrap()).await);
    let next = refresh_raw(
        &setup.app,
        &setup.project,
        winner["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(next.status(), 200, "the losers revoked nothing");
}

#[tokio::test]
async fn rotated_token_reuse_after_grace_revokes_grant() {
    let setup = Setup::new().await;
    let (_, old_refresh) = setup.tokens().await;
    let rotated = refresh_raw(&setup.app, &setup.project, &old_refresh).await;
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    let access = rotated["access_token"].as_str().unwrap();
    let current_refresh = rotated["refresh_token"].as_str().unwrap();
    setup.app.clock().advance(31 * SECOND);

    let replay = refresh_raw(&setup.app, &setup.project, &old_refresh).await;

    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_grant");
    assert!(
        !access_token_works(&setup.app, access).await,
        "the grant is revoked"
    );
    let current = refresh_raw(&setup.app, &setup.project, current_refresh).await;
    assert_eq!(error_code(current).await, "invalid_grant");
}

#[tokio::test]
async fn refresh_token_expires_after_a_year_unused() {
    let setup = Setup::new().await;
    let (_, refresh_token) = setup.tokens().await;
    setup.app.clock().advance(366 * DAY);

    let response = refresh_raw(&setup.app, &setup.project, &refresh_token).await;

    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn inactive_project_keeps_refreshing() {
    let setup = Setup::new().await;
    let (_, refresh_token) = setup.tokens().await;
    super::authorize::update_project(&setup, |config| config.active = false).await;

    let response = refresh_raw(&setup.app, &setup.project, &refresh_token).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn suspended_member_cannot_refresh() {
    let setup = Setup::new().await;
    let (access, refresh_token) = setup.tokens().await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE id = $1")
        .bind(setup.member.id)
        .execute(&setup.app.state.db.pool)
        .await
        .unwrap();

    let response = refresh_raw(&setup.app, &setup.project, &refresh_token).await;

    assert_eq!(error_code(response).await, "invalid_grant");
    assert!(!access_token_works(&setup.app, &access).await);
}

#[tokio::test]
async fn refresh_may_narrow_scope_only() {
    let setup = Setup::new().await;
    let code = setup.code(&[("scope", "read write")]).await;
    let first = super::exchange_raw(&setup.app, &setup.project, &code, None).await;
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["scope"], "read write");
    let refresh_token = first["refresh_token"].as_str().unwrap();

    let wider = super::token_request(
        &setup.app,
        &setup.project,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "read write pgp"),
        ],
    )
    .await;
    assert_eq!(error_code(wider).await, "invalid_scope");

    let narrower = super::token_request(
        &setup.app,
        &setup.project,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", "read"),
        ],
    )
    .await;
    let narrower: serde_json::Value = narrower.json().await.unwrap();
    assert_eq!(narrower["scope"], "read");
}

#[tokio::test]
async fn refresh_token_of_another_client_is_rejected() {
    let setup = Setup::new().await;
    let other = crate::support::fixtures::create_project(
        &setup.app,
        setup.coordinator.id,
        &crate::support::fixtures::project_config("Other", super::REDIRECT_URI),
    )
    .await;
    let (_, refresh_token) = setup.tokens().await;

    let response = refresh_raw(&setup.app, &other, &refresh_token).await;

    assert_eq!(error_code(response).await, "invalid_grant");
    let own = refresh_raw(&setup.app, &setup.project, &refresh_token).await;
    assert_eq!(own.status(), 200);
}
