//! `POST /oauth2/token/` with the authorization code grant.

use base64::Engine;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, TokenResponse};
use openhumans::clock::MINUTE;

use super::{
    REDIRECT_URI, Setup, access_token_works, consent, error_code, exchange_raw, oauth_http,
    query_param, token_request,
};

#[tokio::test]
async fn code_exchange_with_pkce_using_oauth2_crate() {
    let setup = Setup::new().await;
    let client = setup.oauth_client();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .url();

    let target = consent(&setup.browser, url.as_str()).await;
    assert_eq!(
        query_param(&target, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&target, "code").unwrap();
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&oauth_http())
        .await
        .expect("the code exchange succeeds");

    assert_eq!(token.expires_in().unwrap().as_secs(), 36000);
    assert_eq!(token.token_type().as_ref(), "bearer");
    let access = token.access_token().secret();
    assert!(access.len() >= 30 && access.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(token.refresh_token().is_some());
    let found = openhumans::db::oauth2::find_access_token(
        &setup.app.state.db,
        &setup.app.state.key,
        access,
        setup.app.clock().now(),
    )
    .await
    .unwrap()
    .expect("the access token authenticates");
    assert_eq!(found.project.id, setup.project.id);
    assert_eq!(found.membership.member_id, setup.member.id);
}

#[tokio::test]
async fn code_exchange_without_pkce_matches_open_humans_response() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;

    let response = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["expires_in"], 36000, "expires_in is a number");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    let keys: Vec<usize> = [
        "access_token",
        "expires_in",
        "token_type",
        "scope",
        "refresh_token",
    ]
    .iter()
    .map(|key| text.find(&format!("\"{key}\"")).expect(key))
    .collect();
    assert!(
        keys.windows(2).all(|pair| pair[0] < pair[1]),
        "key order: {text}"
    );
}

#[tokio::test]
async fn omitted_redirect_uri_works_for_default_uri() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;

    let response = exchange_raw(&setup.app, &setup.project, &code, None).await;

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn given_redirect_uri_must_be_repeated() {
    let setup = Setup::new().await;
    let code = setup.code(&[("redirect_uri", REDIRECT_URI)]).await;

    let response = exchange_raw(&setup.app, &setup.project, &code, None).await;

    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn mismatched_redirect_uri_is_rejected() {
    let setup = Setup::new().await;
    let code = setup.code(&[("redirect_uri", REDIRECT_URI)]).await;

    let response = exchange_raw(
        &setup.app,
        &setup.project,
        &code,
        Some("https://app.example/openhumans/complete"),
    )
    .await;

    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
    let retry = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;
    assert_eq!(
        retry.status(),
        200,
        "a rejected request does not use up the code"
    );
}

#[tokio::test]
async fn reused_code_is_rejected_and_revokes_tokens() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;
    let first = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;
    let first: serde_json::Value = first.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert!(access_token_works(&setup.app, access).await);

    let replay = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;

    assert_eq!(replay.status(), 400);
    assert_eq!(error_code(replay).await, "invalid_grant");
    assert!(!access_token_works(&setup.app, access).await);
    let refresh = super::refresh_raw(
        &setup.app,
        &setup.project,
        first["refresh_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(error_code(refresh).await, "invalid_grant");
}

#[tokio::test]
async fn expired_code_is_rejected() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;
    setup.app.clock().advance(11 * MINUTE);

    let response = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;

    assert_eq!(response.status(), 400);
    assert_eq!(error_code(response).await, "invalid_grant");
}

#[tokio::test]
async fn code_of_another_client_is_rejected() {
    let setup = Setup::new().await;
    let other = crate::support::fixtures::create_project(
        &setup.app,
        setup.coordinator.id,
        &crate::support::fixtures::project_config("Other", REDIRECT_URI),
    )
    .await;
    let code = setup.code(&[]).await;

    let response = exchange_raw(&setup.app, &other, &code, Some(REDIRECT_URI)).await;

    assert_eq!(error_code(response).await, "invalid_grant");
    let own = exchange_raw(&setup.app, &setup.project, &code, Some(REDIRECT_URI)).await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn pkce_verifier_rules_are_enforced() {
    let setup = Setup::new().await;
    let verifier = "v".repeat(50);
    let challenge = openhumans::domain::oauth2::pkce::s256(&verifier);
    let with_challenge = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let code = setup.code(&with_challenge).await;
    let missing = exchange_raw(&setup.app, &setup.project, &code, None).await;
    assert_eq!(missing.status(), 400);
    assert_eq!(error_code(missing).await, "invalid_request");
    let wrong = token_request(
        &setup.app,
        &setup.project,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &"w".repeat(50)),
        ],
    )
    .await;
    assert_eq!(error_code(wrong).await, "invalid_grant");
    let right = token_request(
        &setup.app,
        &setup.project,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(right.status(), 200);

    let plain_code = setup.code(&[]).await;
    let unexpected = token_request(
        &setup.app,
        &setup.project,
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain_code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(unexpected.status(), 400);
    assert_eq!(error_code(unexpected).await, "invalid_grant");
}

#[tokio::test]
async fn basic_auth_raw_and_form_encoded_both_work() {
    let setup = Setup::new().await;
    let project = &setup.project;

    // Python `requests` sends the credentials as they are.
    let code = setup.code(&[]).await;
    let raw = exchange_raw(&setup.app, project, &code, None).await;
    assert_eq!(raw.status(), 200);

    // RFC 6749 §2.3.1 clients form-url-encode each part first.
    let code = setup.code(&[]).await;
    let encode = |value: &str| -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    };
    let credentials = format!(
        "{}:{}",
        encode(&project.client_id),
        encode(&project.client_secret)
    );
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    );
    let encoded = reqwest::Client::new()
        .post(setup.app.url("/oauth2/token/"))
        .header("authorization", header)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(encoded.status(), 200);
}

#[tokio::test]
async fn body_client_authentication_works() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;

    let response = reqwest::Client::new()
        .post(setup.app.url("/oauth2/token/"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", setup.project.client_id.as_str()),
            ("client_secret", setup.project.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn wrong_secret_is_invalid_client() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;

    let response = reqwest::Client::new()
        .post(setup.app.url("/oauth2/token/"))
        .basic_auth(&setup.project.client_id, Some("wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"openhumans\""
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(error_code(response).await, "invalid_client");
    let good = exchange_raw(&setup.app, &setup.project, &code, None).await;
    assert_eq!(
        good.status(),
        200,
        "a failed authentication does not use up the code"
    );
}

#[tokio::test]
async fn grant_type_and_parameters_are_checked() {
    let setup = Setup::new().await;

    let unsupported =
        token_request(&setup.app, &setup.project, &[("grant_type", "password")]).await;
    assert_eq!(unsupported.status(), 400);
    assert_eq!(error_code(unsupported).await, "unsupported_grant_type");

    let missing = token_request(&setup.app, &setup.project, &[]).await;
    assert_eq!(error_code(missing).await, "invalid_request");

    let no_code = token_request(
        &setup.app,
        &setup.project,
        &[("grant_type", "authorization_code")],
    )
    .await;
    assert_eq!(error_code(no_code).await, "invalid_request");

    let unknown = token_request(
        &setup.app,
        &setup.project,
        &[("grant_type", "authorization_code"), ("code", "nosuchcode")],
    )
    .await;
    assert_eq!(error_code(unknown).await, "invalid_grant");
}

#[tokio::test]
async fn suspended_member_cannot_exchange_code() {
    let setup = Setup::new().await;
    let code = setup.code(&[]).await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE id = $1")
        .bind(setup.member.id)
        .execute(&setup.app.state.db.pool)
        .await
        .unwrap();

    let response = exchange_raw(&setup.app, &setup.project, &code, None).await;

    assert_eq!(error_code(response).await, "invalid_grant");
}
