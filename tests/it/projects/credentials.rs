//! Rotating the client secret and issuing master access tokens.

use openhumans::clock::DAY;
use openhumans::db::projects::{CLIENT_SECRET_PURPOSE, MASTER_TOKEN_PURPOSE};

use super::{element_text, load, location};
use crate::support::{TestApp, fixtures};

#[tokio::test]
async fn rotated_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let config = fixtures::project_config("Rotation", "https://example.org/cb");
    let created = fixtures::create_project(&app, member.id, &config).await;
    let detail = format!("/direct-sharing/projects/oauth2/{}/", created.slug);

    let response = client
        .post(app.url(&format!("{detail}rotate-secret/")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), detail);
    let body = client
        .get(app.url(&detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = element_text(&body, "client-secret").expect("the new secret is shown");
    assert_ne!(secret, created.client_secret);
    assert!(body.contains("The previous secret no longer works."));
    let project = load(&app, &created.slug).await;
    assert_eq!(
        app.state.key.hash(CLIENT_SECRET_PURPOSE, &secret),
        project.client_secret_hash
    );
    assert_ne!(
        app.state
            .key
            .hash(CLIENT_SECRET_PURPOSE, &created.client_secret),
        project.client_secret_hash,
        "the old secret no longer matches"
    );

    let again = client
        .get(app.url(&detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&secret), "shown only once");
}

#[tokio::test]
async fn master_token_is_shown_once_and_hashed() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let config = fixtures::project_config("Tokens", "https://example.org/cb");
    let created = fixtures::create_project(&app, member.id, &config).await;
    let detail = format!("/direct-sharing/projects/oauth2/{}/", created.slug);
    let before = app.clock().now();

    let response = client
        .post(app.url(&format!("{detail}master-token/")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let body = client
        .get(app.url(&detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = element_text(&body, "master-token").expect("the token is shown");
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
    let (stored,): (Option<String>,) =
        sqlx::query_as("SELECT master_token_hash FROM projects WHERE id = $1")
            .bind(created.id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        Some(app.state.key.hash(MASTER_TOKEN_PURPOSE, &token))
    );
    let expires_at = load(&app, &created.slug)
        .await
        .master_token_expires_at
        .expect("an expiry");
    assert!(expires_at >= before + DAY, "valid 24 hours");
    assert!(expires_at <= app.clock().now() + DAY);
    assert!(body.contains("Valid until"));

    let again = client
        .get(app.url(&detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&token), "shown only once");
    assert!(again.contains("Valid until"), "the expiry stays visible");
}

#[tokio::test]
async fn secret_reveal_is_bound_to_its_project() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let first = fixtures::project_config("First", "https://example.org/cb");
    let first = fixtures::create_project(&app, member.id, &first).await;
    let second = fixtures::project_config("Second", "https://example.org/cb");
    let second = fixtures::create_project(&app, member.id, &second).await;

    client
        .post(app.url(&format!(
            "/direct-sharing/projects/oauth2/{}/rotate-secret/",
            first.slug
        )))
        .send()
        .await
        .unwrap();
    let other = client
        .get(app.url(&format!("/direct-sharing/projects/oauth2/{}/", second.slug)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(element_text(&other, "client-secret").is_none());
}
