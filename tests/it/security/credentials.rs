//! Attacks on OAuth2 client credentials: a client secret that cannot be used or
//! cannot be replaced, and token introspection that reveals to one client who owns another
//! client's token.

use crate::oauth2::{Setup, authorize_url, consent, error_code, query_param};
use crate::projects::{CREATE_PATH, element_text, load, location, post_form, set, valid_fields};
use crate::support::{TestApp, fixtures};

const CALLBACK: &str = "https://example.org/callback";

#[tokio::test]
async fn shown_secret_works_until_rotated() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let owner = fixtures::logged_in_client(&app, coordinator.id).await;
    let member = fixtures::create_member(&app, "member").await;
    let browser = fixtures::logged_in_client(&app, member.id).await;
    let mut fields = valid_fields("Secret Study");
    set(&mut fields, "redirect_url", CALLBACK);
    set(&mut fields, "deauth_webhook", "");
    set(&mut fields, "webhook_secret", "");
    set(&mut fields, "require_pkce", "false");
    let created = post_form(&app, &owner, CREATE_PATH, &fields, None).await;
    assert_eq!(created.status(), 303);
    let detail = location(&created);
    let slug = detail.trim_end_matches('/').rsplit('/').next().unwrap();
    let client_id = load(&app, slug).await.client_id;
    let first_secret = shown_secret(&app, &owner, &detail).await;

    let code = member_code(&app, &browser, &client_id).await;
    let exchanged = exchange(&app, &client_id, &first_secret, &code).await;
    assert_eq!(
        exchanged.status(),
        200,
        "the secret shown at creation works"
    );

    let rotated = owner
        .post(app.url(&format!("{detail}rotate-secret/")))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 303);
    let second_secret = shown_secret(&app, &owner, &detail).await;
    assert_ne!(second_secret, first_secret);

    let code = member_code(&app, &browser, &client_id).await;
    let stale = exchange(&app, &client_id, &first_secret, &code).await;
    assert_eq!(stale.status(), 401);
    assert_eq!(error_code(stale).await, "invalid_client");
    let fresh = exchange(&app, &client_id, &second_secret, &code).await;
    assert_eq!(
        fresh.status(),
        200,
        "the rejected attempt left the code usable"
    );
}

#[tokio::test]
async fn introspection_is_not_served() {
    let setup = Setup::new().await;
    let other = fixtures::create_project(
        &setup.app,
        setup.coordinator.id,
        &fixtures::project_config("Other", crate::oauth2::REDIRECT_URI),
    )
    .await;
    let (access, refresh) = setup.tokens().await;

    for project in [&other, &setup.project] {
        for token in [&access, &refresh] {
            for path in ["/oauth2/introspect/", "/oauth2/introspect"] {
                let response = reqwest::Client::new()
                    .post(setup.app.url(path))
                    .basic_auth(&project.client_id, Some(&project.client_secret))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await
                    .unwrap();

                assert_eq!(response.status(), 404, "{path}");
                let body = response.text().await.unwrap();
                assert!(!body.contains(&setup.member.username), "{path}: {body}");
                assert!(!body.contains(&setup.project.client_id), "{path}: {body}");
            }
        }
    }
}

/// Reads the one-time client secret from the project's detail page.
async fn shown_secret(app: &TestApp, owner: &reqwest::Client, detail: &str) -> String {
    let body = owner
        .get(app.url(detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    element_text(&body, "client-secret").expect("the detail page shows the new secret")
}

/// Runs the consent flow for `client_id` and returns the code.
async fn member_code(app: &TestApp, browser: &reqwest::Client, client_id: &str) -> String {
    let url = authorize_url(
        app,
        client_id,
        &[("redirect_uri", CALLBACK), ("approval_prompt", "force")],
    );
    let target = consent(browser, &url).await;
    query_param(&target, "code").expect("the redirect carries a code")
}

/// Exchanges `code` at the token endpoint with HTTP Basic client credentials.
async fn exchange(app: &TestApp, client_id: &str, secret: &str, code: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth2/token/"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ])
        .send()
        .await
        .unwrap()
}
