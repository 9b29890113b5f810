//! Who may see and change a project: its coordinator and site admins only.

use super::{post_form, valid_fields};
use crate::support::{TestApp, fixtures};

/// Lists every page and action of one project, as (method, path).
fn project_paths(slug: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GET", format!("/direct-sharing/projects/oauth2/{slug}/")),
        (
            "GET",
            format!("/direct-sharing/projects/oauth2/update/{slug}/"),
        ),
        (
            "POST",
            format!("/direct-sharing/projects/oauth2/update/{slug}/"),
        ),
        (
            "POST",
            format!("/direct-sharing/projects/oauth2/{slug}/rotate-secret/"),
        ),
        (
            "POST",
            format!("/direct-sharing/projects/oauth2/{slug}/master-token/"),
        ),
    ]
}

async fn send(
    app: &TestApp,
    client: &reqwest::Client,
    method: &str,
    path: &str,
) -> reqwest::Response {
    if method == "GET" {
        client.get(app.url(path)).send().await.unwrap()
    } else if path.contains("/update/") {
        post_form(app, client, path, &valid_fields("Hijacked"), None).await
    } else {
        client.post(app.url(path)).send().await.unwrap()
    }
}

#[tokio::test]
async fn other_member_gets_404() {
    let app = TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let intruder = fixtures::create_member(&app, "intruder").await;
    let config = fixtures::project_config("Private Project", "https://example.org/cb");
    let created = fixtures::create_project(&app, owner.id, &config).await;
    let before = super::load(&app, &created.slug).await;
    let client = fixtures::logged_in_client(&app, intruder.id).await;

    for (method, path) in project_paths(&created.slug) {
        let response = send(&app, &client, method, &path).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let unknown = client
        .get(app.url("/direct-sharing/projects/oauth2/no-such-project/"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let after = super::load(&app, &created.slug).await;
    assert_eq!(after.config.name, "Private Project");
    assert_eq!(after.client_secret_hash, before.client_secret_hash);
    assert_eq!(after.master_token_expires_at, None);
}

#[tokio::test]
async fn anonymous_visitor_is_sent_to_login() {
    let app = TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let config = fixtures::project_config("Private Project", "https://example.org/cb");
    let created = fixtures::create_project(&app, owner.id, &config).await;
    let mut paths = project_paths(&created.slug);
    paths.push(("GET", "/direct-sharing/projects/manage/".to_string()));
    paths.push(("GET", super::CREATE_PATH.to_string()));
    paths.push(("POST", super::CREATE_PATH.to_string()));

    for (method, path) in paths {
        let response = send(&app, &app.client, method, &path).await;
        assert_eq!(response.status(), 303, "{method} {path}");
        let target = super::location(&response);
        // A form submission cannot be repeated after login, so it returns to the front page.
        let expected = if method == "GET" {
            "/account/login/?next=%2Fdirect-sharing%2F"
        } else {
            "/account/login/?next=%2F"
        };
        assert!(target.starts_with(expected), "{method} {path}: {target}");
    }
    let after = super::load(&app, &created.slug).await;
    assert_eq!(after.config.name, "Private Project");
}

#[tokio::test]
async fn site_admin_can_view_and_act() {
    let app = TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let admin = fixtures::create_member_with(&app, "admin", true, true).await;
    let config = fixtures::project_config("Reviewed Project", "https://example.org/cb");
    let created = fixtures::create_project(&app, owner.id, &config).await;
    let client = fixtures::logged_in_client(&app, admin.id).await;

    let detail = client
        .get(app.url(&format!(
            "/direct-sharing/projects/oauth2/{}/",
            created.slug
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(detail.status(), 200);
    let body = detail.text().await.unwrap();
    assert!(body.contains("Reviewed Project"));
    assert!(body.contains("owner"), "shows the coordinator");

    let edit = client
        .get(app.url(&format!(
            "/direct-sharing/projects/oauth2/update/{}/",
            created.slug
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);

    let manage = client
        .get(app.url("/direct-sharing/projects/manage/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !manage.contains("Reviewed Project"),
        "the admin's own list holds only their projects"
    );
}
