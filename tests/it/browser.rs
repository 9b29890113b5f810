//! Pages walked in headless Chromium at desktop and phone widths, with screenshots
//! saved under `target/test-artifacts/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Query;
use axum::response::Html;
use fantoccini::Locator;

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, PHONE};
use crate::support::fixtures::{self, PASSWORD};
use crate::support::mail::{find_link, wait_for_email};

#[tokio::test]
async fn front_page_fits_desktop_and_phone() {
    let app = TestApp::spawn().await;
    let browser = Browser::start("front_page").await;

    for (name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        browser.set_viewport(viewport).await;
        browser.goto(&app.url("/")).await;

        let text = browser.text().await;
        assert!(
            text.contains("Your data, shared on your terms"),
            "{name}: {text}"
        );
        browser
            .assert_no_horizontal_scroll(&format!("the front page at {name} width"))
            .await;
        browser.screenshot(&format!("front-{name}")).await;
    }
}

/// Signs up, confirms the address from the emailed link and creates a project with
/// every field, at desktop and at phone width, checking each page it lands on.
#[tokio::test]
async fn signup_confirm_create_project_walk() {
    for (width_name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        let app = TestApp::spawn().await;
        let browser = Browser::start(&format!("signup_walk_{width_name}")).await;
        browser.set_viewport(viewport).await;
        let shot = |step: &str| format!("{width_name}-{step}");

        browser.goto(&app.url("/account/signup/")).await;
        browser.fill("username", "Rosalind_F").await;
        browser.fill("email", "rosalind@example.org").await;
        browser.fill("password", PASSWORD).await;
        browser.fill("password_confirmation", PASSWORD).await;
        browser.screenshot(&shot("1-signup")).await;
        browser.click("main button[type='submit']").await;

        let path = browser.wait_for_path("/account/confirm-email/").await;
        assert_eq!(path, "/account/confirm-email/", "{width_name}");
        assert!(
            browser.text().await.contains("Check your email"),
            "{width_name}"
        );
        browser
            .assert_no_horizontal_scroll("the check-your-email page")
            .await;
        browser.screenshot(&shot("2-check-email")).await;

        let email = wait_for_email(&app.outbox_dir(), "rosalind@example.org").await;
        let link = find_link(&email.body, "/account/confirm-email/").expect("a confirmation link");
        browser.goto(&link).await;
        assert!(
            browser.text().await.contains("Email address confirmed"),
            "{width_name}"
        );
        browser.screenshot(&shot("3-confirmed")).await;

        browser
            .goto(&app.url("/direct-sharing/projects/oauth2/create/"))
            .await;
        browser
            .assert_no_horizontal_scroll("the create-project form")
            .await;
        fill_project_form(&browser, &app).await;
        browser.screenshot(&shot("4-project-form")).await;
        browser
            .click("form.project-form button[type='submit']")
            .await;

        let path = browser
            .wait_for_path("/direct-sharing/projects/oauth2/sleep-diary-study/")
            .await;
        assert!(path.ends_with("/"), "{width_name}: {path}");
        let text = browser.text().await;
        assert!(text.contains("Sleep Diary Study"), "{width_name}: {text}");
        assert!(
            text.contains("Client secret"),
            "{width_name}: the secret is shown once"
        );
        browser
            .assert_no_horizontal_scroll("the project detail page")
            .await;
        browser.screenshot(&shot("5-project-detail")).await;

        browser
            .goto(&app.url("/direct-sharing/projects/manage/"))
            .await;
        assert!(
            browser.text().await.contains("Sleep Diary Study"),
            "{width_name}"
        );
        browser.assert_no_horizontal_scroll("the manage page").await;
        browser.screenshot(&shot("6-manage")).await;
    }
}

/// Logs in from the authorization URL, consents, lands on a small client page with the
/// code, and exchanges the code for tokens.
#[tokio::test]
async fn login_consent_redirect_exchange_walk() {
    let app = TestApp::spawn().await;
    let (client_url, received) = start_client_page().await;
    let redirect_uri = format!("{client_url}/callback");
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let project = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Step Study", &redirect_uri),
    )
    .await;
    let member = fixtures::create_member(&app, "Barbara_M").await;
    let browser = Browser::start("consent_walk").await;

    let authorize = format!(
        "{}?client_id={}&response_type=code&state=xyz%20123",
        app.url("/direct-sharing/projects/oauth2/authorize/"),
        project.client_id
    );
    browser.goto(&authorize).await;
    assert!(
        browser.path().await.starts_with("/account/login/?next="),
        "login comes first"
    );
    browser.fill("login", &member.username).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main button[type='submit']").await;

    browser
        .wait_for_path("/direct-sharing/projects/oauth2/authorize/")
        .await;
    let consent = browser.text().await;
    assert!(consent.contains("Authorize Step Study"), "{consent}");
    browser
        .assert_no_horizontal_scroll("the consent page")
        .await;
    browser.screenshot("1-consent").await;
    browser.click("button[name='allow']").await;

    browser.wait_for_path("/callback").await;
    assert!(browser.text().await.contains("Code received"));
    browser.screenshot("2-client-page").await;
    let query = received
        .lock()
        .unwrap()
        .clone()
        .expect("the client page got the redirect");
    let code = query.get("code").expect("a code").clone();
    assert_eq!(query.get("state").map(String::as_str), Some("xyz 123"));
    assert_eq!(query.get("origin").map(String::as_str), Some("external"));

    let tokens: serde_json::Value = reqwest::Client::new()
        .post(app.url("/oauth2/token/"))
        .basic_auth(&project.client_id, Some(&project.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access_token = tokens["access_token"].as_str().expect("an access token");
    assert_eq!(tokens["expires_in"], 36000);
    let found = openhumans::db::oauth2::find_access_token(
        &app.state.db,
        &app.state.key,
        access_token,
        app.clock().now(),
    )
    .await
    .unwrap();
    assert!(found.is_some(), "the issued access token works");
}

async fn fill_project_form(browser: &Browser, app: &TestApp) {
    for radio in [
        "is_study-true",
        "is_academic_or_nonprofit-true",
        "active-true",
        "request_message_permission-true",
        "request_username_access-false",
    ] {
        browser.click(&format!("#{radio}")).await;
    }
    browser.fill("name", "Sleep Diary Study").await;
    browser.fill("leader", "Dr. Rosalind Franklin").await;
    browser.fill("organization", "King's College").await;
    browser.fill("contact_email", "sleep@example.org").await;
    browser.fill("info_url", "https://sleep.example.org/").await;
    browser
        .fill(
            "short_description",
            "A study of sleep diaries and step counts.",
        )
        .await;
    browser
        .fill(
            "long_description",
            "Members share a nightly diary for four weeks.",
        )
        .await;
    browser
        .fill("returned_data_description", "Weekly sleep summaries.")
        .await;
    browser
        .fill("enrollment_url", "https://sleep.example.org/join")
        .await;
    browser
        .fill("terms_url", "https://sleep.example.org/terms")
        .await;
    browser
        .fill("redirect_url", "https://sleep.example.org/callback")
        .await;
    browser
        .fill("deauth_webhook", "https://sleep.example.org/deauth")
        .await;
    browser
        .fill("webhook_secret", "a-webhook-secret-of-some-length")
        .await;
    for checkbox in [
        "require_pkce",
        "erasure_supported",
        "deauth_email_notification",
    ] {
        browser.click(&format!("#{checkbox}")).await;
    }
    let badge = app.dir.path().join("badge.png");
    image::RgbImage::from_pixel(48, 48, image::Rgb([15, 118, 110]))
        .save(&badge)
        .expect("writing a badge image");
    let input = browser
        .client
        .find(Locator::Id("badge"))
        .await
        .expect("a badge input");
    input
        .send_keys(&badge.display().to_string())
        .await
        .expect("choosing the badge");
}

/// Starts a stand-in for a project's web app: `/callback` shows a page and keeps the
/// query of the last redirect it received.
async fn start_client_page() -> (String, Arc<Mutex<Option<HashMap<String, String>>>>) {
    let received = Arc::new(Mutex::new(None));
    let store = received.clone();
    let app = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |Query(query): Query<HashMap<String, String>>| {
            let store = store.clone();
            async move {
                *store.lock().unwrap() = Some(query);
                Html("<!DOCTYPE html><title>Client</title><h1>Code received</h1>")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}
