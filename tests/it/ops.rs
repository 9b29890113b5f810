//! Health check, metrics, security headers and the front page.

use crate::support::{TestApp, fixtures};

#[tokio::test]
async fn healthz_answers_when_database_is_up() {
    let app = TestApp::spawn().await;

    let response = app.client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn front_page_renders_with_security_headers() {
    let app = TestApp::spawn().await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("x-request-id"));
    let body = response.text().await.unwrap();
    assert!(body.contains("Your data, shared on your terms"));
    assert!(body.contains("href=\"/static/site.css\""));
}

#[tokio::test]
async fn unknown_path_is_404_page_with_request_id() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/no/such/page/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.text().await.unwrap();
    assert!(body.contains("Page not found"));
    assert!(body.contains(&request_id), "the page shows the request id");
}

#[tokio::test]
async fn metrics_report_requests_after_traffic() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"),
        "{body}"
    );
    assert!(
        body.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\""),
        "{body}"
    );
    assert!(body.contains("jobs_queue_depth"), "{body}");
    assert!(body.contains("jobs_oldest_age_seconds"), "{body}");
    assert!(body.contains("db_pool_connections"), "{body}");
}

#[tokio::test]
async fn cross_site_form_post_is_rejected() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/account/logout/"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn stylesheet_is_served_from_binary() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/static/site.css"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(response.text().await.unwrap().contains("--brand"));
}

#[tokio::test]
async fn front_page_shows_logged_in_member() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "Grace_H").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    let body = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(body.contains("Grace_H"), "the navigation names the member");
    assert!(
        body.contains("/account/logout/"),
        "the navigation offers logout"
    );
}

#[tokio::test]
async fn post_only_page_gets_readable_405() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "Grace_H").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let project = fixtures::create_project(
        &app,
        member.id,
        &fixtures::project_config("Step Study", "https://example.org/cb"),
    )
    .await;
    let action = format!(
        "/direct-sharing/projects/oauth2/{}/rotate-secret/",
        project.slug
    );

    let response = client.get(app.url(&action)).send().await.unwrap();

    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let body = response.text().await.unwrap();
    assert!(body.contains("form submissions only"), "{body}");
}

#[tokio::test]
async fn anonymous_form_post_returns_to_front_page() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/direct-sharing/projects/oauth2/some-study/rotate-secret/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/account/login/?next=%2F");
}

#[tokio::test]
async fn unknown_methods_share_one_metrics_label() {
    let app = TestApp::spawn().await;
    for method in ["AAAA", "BBBB"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, app.url("/nowhere/"))
            .send()
            .await
            .unwrap();
    }

    let body = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(!body.contains("AAAA"), "{body}");
    assert!(!body.contains("BBBB"), "{body}");
    assert!(body.contains("method=\"OTHER\""), "{body}");
}

#[tokio::test]
async fn slow_request_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::builder()
        .with(|settings| settings.request_timeout_seconds = 1)
        .spawn()
        .await;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Half a request line, and then nothing: the headers never complete.
    stream.write_all(b"GET / HT").await.unwrap();

    let mut received = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut received),
    )
    .await;

    assert!(closed.is_ok(), "the connection was still open after 10 s");
    let text = String::from_utf8_lossy(&received);
    assert!(
        received.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}
