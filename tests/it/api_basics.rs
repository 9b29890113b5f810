//! Conventions shared by every `/api/` response, and the public read-only endpoints.

use openhumans::db::datatypes::{self, set_registered_for_project};
use openhumans::db::projects;
use openhumans::domain::datatypes::DatatypeInput;
use serde_json::{Value, json};

use crate::support::{TestApp, fixtures};

async fn create_datatype(
    app: &TestApp,
    name: &str,
    parent_id: Option<i64>,
    uploadable: bool,
) -> i64 {
    let admin = fixtures::create_member_with(app, &format!("admin{name}"), true, true).await;
    datatypes::insert(
        &app.state.db,
        &DatatypeInput {
            name: name.to_string(),
            parent_id,
            description: format!("{name} data"),
            details: "Details here.".to_string(),
            uploadable,
        },
        admin.id,
        app.clock().now(),
    )
    .await
    .expect("creating a datatype")
}

#[tokio::test]
async fn unknown_api_path_is_json_404() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/api/direct-sharing/no-such-endpoint/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 404);
    let headers = response.headers().clone();
    assert_eq!(
        headers["cache-control"],
        "max-age=0, no-cache, no-store, must-revalidate, private"
    );
    assert!(headers.contains_key("expires"));
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Not found."})
    );
}

#[tokio::test]
async fn wrong_method_is_json_405() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/api/public/datatype/1/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Method \"POST\" not allowed."})
    );
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url("/api/direct-sharing/project/message/"),
        )
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
}

#[tokio::test]
async fn pages_get_no_api_headers() {
    let app = TestApp::spawn().await;

    let response = app.client.get(app.url("/")).send().await.unwrap();

    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn public_datatype_links_parent_children_and_approved_projects() {
    let app = TestApp::spawn().await;
    let category = create_datatype(&app, "Activity", None, false).await;
    let steps = create_datatype(&app, "Steps", Some(category), true).await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let approved = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Approved Study", "https://example.org/cb"),
    )
    .await;
    let unapproved = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Draft Study", "https://example.org/cb"),
    )
    .await;
    projects::set_approved(&app.state.db, approved.id, true, app.clock().now())
        .await
        .unwrap();
    set_registered_for_project(&app.state.db, approved.id, &[steps])
        .await
        .unwrap();
    set_registered_for_project(&app.state.db, unapproved.id, &[steps])
        .await
        .unwrap();

    let response = app
        .client
        .get(app.url(&format!("/api/public/datatype/{steps}/")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({
            "id": steps,
            "name": "Steps",
            "parent": format!("/api/public/datatype/{category}/"),
            "children": [],
            "description": "Steps data",
            "details": "Details here.",
            "uploadable": true,
            "source_projects": [format!("/api/public/project/{}/", approved.id)],
        })
    );

    let parent: Value = app
        .client
        .get(app.url(&format!("/api/public/datatype/{category}/")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(parent["parent"], Value::Null);
    assert_eq!(
        parent["children"],
        json!([format!("/api/public/datatype/{steps}/")])
    );
}

#[tokio::test]
async fn public_datatype_unknown_is_404() {
    let app = TestApp::spawn().await;
    for path in ["/api/public/datatype/999/", "/api/public/datatype/abc/"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"detail": "Not found."})
        );
    }
}

#[tokio::test]
async fn public_project_only_when_approved() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let source = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Source", "https://example.org/cb"),
    )
    .await;
    let mut config = fixtures::project_config("Heart Study", "https://example.org/cb");
    config.requested_sources = vec![source.id];
    let project = fixtures::create_project(&app, coordinator.id, &config).await;
    let steps = create_datatype(&app, "Steps", None, true).await;
    set_registered_for_project(&app.state.db, project.id, &[steps])
        .await
        .unwrap();
    let url = app.url(&format!("/api/public/project/{}/", project.id));

    let unapproved = app.client.get(&url).send().await.unwrap();
    assert_eq!(unapproved.status(), 404);

    projects::set_approved(&app.state.db, project.id, true, app.clock().now())
        .await
        .unwrap();
    let response = app.client.get(&url).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], project.id);
    assert_eq!(body["id_label"], format!("direct-sharing-{}", project.id));
    assert_eq!(body["name"], "Heart Study");
    assert_eq!(body["slug"], project.slug);
    assert_eq!(body["approved"], true);
    assert_eq!(body["active"], true);
    assert_eq!(body["type"], "oauth2");
    assert_eq!(body["badge_image"], Value::Null);
    assert_eq!(body["authorized_members"], 0);
    assert_eq!(
        body["registered_datatypes"],
        json!([format!("/api/public/datatype/{steps}/")])
    );
    assert_eq!(
        body["requested_sources"],
        json!([format!("/api/public/project/{}/", source.id)])
    );
    assert_eq!(
        body["request_sources_access"],
        json!([format!("direct-sharing-{}", source.id)])
    );
    for key in [
        "contact_email",
        "info_url",
        "leader",
        "long_description",
        "organization",
        "returned_data_description",
        "short_description",
        "is_study",
        "is_academic_or_nonprofit",
        "request_username_access",
    ] {
        assert!(body.get(key).is_some(), "{key} missing");
    }
    let text = body.to_string();
    assert!(
        !text.contains("client_id") && !text.contains("secret"),
        "{text}"
    );
    assert!(!text.contains(&project.client_id), "{text}");
}

/// Runs the API body parser on a request with `content_type` and `body`.
async fn parse_body(
    app: &TestApp,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<openhumans::http::api::ApiBody, openhumans::http::api::ApiError> {
    use axum::extract::FromRequest;

    let mut request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/direct-sharing/project/files/upload/");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request.body(axum::body::Body::from(body)).unwrap();
    openhumans::http::api::ApiBody::from_request(request, &app.state).await
}

#[tokio::test]
async fn body_parser_reads_multipart_fields_and_file() {
    let app = TestApp::spawn().await;
    let body = b"--XyZ\r\n\
        Content-Disposition: form-data; name=\"project_member_id\"\r\n\r\n\
        12345678\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"metadata\"\r\n\r\n\
        {\"description\": \"d\", \"tags\": []}\r\n\
        --XyZ\r\n\
        Content-Disposition: form-data; name=\"data_file\"; filename=\"dir/a b.txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        hello file\r\n\
        --XyZ--\r\n"
        .to_vec();

    let parsed = parse_body(&app, Some("multipart/form-data; boundary=XyZ"), body)
        .await
        .unwrap();

    assert_eq!(parsed.get("project_member_id"), Some("12345678"));
    assert_eq!(
        parsed.get("metadata"),
        Some("{\"description\": \"d\", \"tags\": []}")
    );
    let file = parsed.file.as_ref().unwrap();
    assert_eq!(file.field, "data_file");
    assert_eq!(file.filename, "dir/a b.txt");
    assert_eq!(file.size, 10);
    assert_eq!(std::fs::read(&file.path).unwrap(), b"hello file");
    assert!(
        file.path
            .starts_with(app.state.settings.data_dir.join("tmp"))
    );
}

#[tokio::test]
async fn body_parser_rejects_malformed_input_with_400() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Option<&str>, &[u8], &str)> = vec![
        (Some("application/json"), b"{\"a\": ", "JSON parse error"),
        (Some("application/json"), b"[1]", "JSON object"),
        (Some("application/x-www-form-urlencoded"), b"a=%FF", "UTF-8"),
        (
            Some("text/plain"),
            b"hello",
            "Unsupported media type \"text/plain\"",
        ),
        (None, b"a=1", "no Content-Type"),
        (
            Some("multipart/form-data"),
            b"--x--",
            "Multipart form parse error",
        ),
        (
            Some("multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            "Multipart form parse error",
        ),
    ];
    for (content_type, body, expected) in cases {
        let error = parse_body(&app, content_type, body.to_vec())
            .await
            .expect_err(expected);
        assert_eq!(error.status(), 400, "{content_type:?}");
        let detail = error.body()["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(expected), "{content_type:?}: {detail}");
    }

    let empty = parse_body(&app, None, Vec::new()).await.unwrap();
    assert!(empty.fields().is_empty(), "an empty POST has no fields");
}

#[tokio::test]
async fn body_parser_limits_sizes_with_413() {
    let app = TestApp::builder()
        .with(|settings| {
            settings.max_body_bytes = 1_000;
            settings.max_upload_bytes = 2_000;
        })
        .spawn()
        .await;

    let form = format!("message={}", "a".repeat(1_001));
    let error = parse_body(
        &app,
        Some("application/x-www-form-urlencoded"),
        form.into_bytes(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status(), 413);

    let mut multipart = b"--x\r\nContent-Disposition: form-data; name=\"data_file\"; \
        filename=\"big.bin\"\r\n\r\n"
        .to_vec();
    multipart.extend(vec![b'z'; 2_001]);
    multipart.extend_from_slice(b"\r\n--x--\r\n");
    let error = parse_body(&app, Some("multipart/form-data; boundary=x"), multipart)
        .await
        .unwrap_err();
    assert_eq!(error.status(), 413);
}
