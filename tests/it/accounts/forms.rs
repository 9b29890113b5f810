//! Malformed form submissions get a clear 4xx page, never a 500.

use super::member_count;
use crate::support::TestApp;

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn invalid_utf8_body_is_400() {
    let app = TestApp::spawn().await;
    let body =
        b"username=al%FFice&email=a%40example.org&password=x&password_confirmation=x".to_vec();

    let response = app
        .client
        .post(app.url("/account/signup/"))
        .header("content-type", FORM)
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("not valid UTF-8"), "{text}");
    assert_eq!(member_count(&app).await, 0);
}

#[tokio::test]
async fn raw_invalid_utf8_body_is_400() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/account/login/"))
        .header("content-type", FORM)
        .body(b"login=\xff\xfe&password=x".to_vec())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn body_over_limit_is_413() {
    let app = TestApp::builder()
        .with(|settings| settings.max_body_bytes = 1024)
        .spawn()
        .await;
    let body = format!("login={}&password=x", "a".repeat(4096));

    let response = app
        .client
        .post(app.url("/account/login/"))
        .header("content-type", FORM)
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
    let text = response.text().await.unwrap();
    assert!(text.contains("Form too large"), "{text}");
}

#[tokio::test]
async fn missing_field_is_400() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/account/signup/"))
        .header("content-type", FORM)
        .body("username=alice&email=a%40example.org")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("is missing"), "{text}");
    assert!(
        text.contains("&#34;password&#34;"),
        "the page names the field: {text}"
    );
}

#[tokio::test]
async fn other_content_type_is_415() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/account/login/"))
        .header("content-type", "application/json")
        .body(r#"{"login":"alice","password":"x"}"#)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 415);
}
