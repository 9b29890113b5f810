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
