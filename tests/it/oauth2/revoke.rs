//! `POST /oauth2/revoke_token/` and the server metadata document.

use super::{Setup, access_token_works, refresh_raw};
use crate::support::fixtures;

async fn revoke(
    setup: &Setup,
    project: &openhumans::db::projects::CreatedProject,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(setup.app.url("/oauth2/revoke_token/"))
        .basic_auth(&project.client_id, Some(&project.client_secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn revoking_access_token_ends_only_it() {
    let setup = Setup::new().await;
    let (access, refresh_token) = setup.tokens().await;

    let response = revoke(&setup, &setup.project, &[("token", &access)]).await;

    assert_eq!(response.status(), 200);
    assert!(!access_token_works(&setup.app, &access).await);
    let refreshed = refresh_raw(&setup.app, &setup.project, &refresh_token).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn revoking_refresh_token_ends_grant() {
    let setup = Setup::new().await;
    let (access, refresh_token) = setup.tokens().await;

    let response = revoke(
        &setup,
        &setup.project,
        &[
            ("token", &refresh_token),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;

    assert_eq!(response.status(), 200);
    assert!(!access_token_works(&setup.app, &access).await);
    let refreshed = refresh_raw(&setup.app, &setup.project, &refresh_token).await;
    assert_eq!(refreshed.status(), 400);
}

#[tokio::test]
async fn revoking_another_clients_token_leaves_it_working() {
    let setup = Setup::new().await;
    let other = fixtures::create_project(
        &setup.app,
        setup.coordinator.id,
        &fixtures::project_config("Other", super::REDIRECT_URI),
    )
    .await;
    let (access, refresh_token) = setup.tokens().await;

    for token in [&access, &refresh_token] {
        let response = revoke(&setup, &other, &[("token", token)]).await;
        assert_eq!(response.status(), 200, "the answer reveals nothing");
    }

    assert!(access_token_works(&setup.app, &access).await);
    let refreshed = refresh_raw(&setup.app, &setup.project, &refresh_token).await;
    assert_eq!(refreshed.status(), 200);
}

#[tokio::test]
async fn revocation_needs_client_authentication() {
    let setup = Setup::new().await;
    let (access, _) = setup.tokens().await;

    let response = reqwest::Client::new()
        .post(setup.app.url("/oauth2/revoke_token/"))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert!(access_token_works(&setup.app, &access).await);
    let unknown = revoke(&setup, &setup.project, &[("token", "nosuchtoken")]).await;
    assert_eq!(unknown.status(), 200);
}

#[tokio::test]
async fn metadata_document_lists_endpoints() {
    let app = crate::support::TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["issuer"], app.base);
    assert_eq!(
        body["authorization_endpoint"],
        app.url("/direct-sharing/projects/oauth2/authorize/")
    );
    assert_eq!(body["token_endpoint"], app.url("/oauth2/token/"));
    assert_eq!(
        body["revocation_endpoint"],
        app.url("/oauth2/revoke_token/")
    );
    assert_eq!(
        body["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        body["grant_types_supported"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        body["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        body["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    let scopes = body["scopes_supported"].as_array().unwrap();
    assert!(scopes.contains(&serde_json::json!("read")));
    assert!(scopes.contains(&serde_json::json!("open-humans")));
    assert!(body.get("introspection_endpoint").is_none());
    assert!(body.get("registration_endpoint").is_none());
}
