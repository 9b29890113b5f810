//! Editing projects.

use openhumans::db::projects;

use super::{load, location, post_form, set, valid_fields};
use crate::support::{TestApp, fixtures};

#[tokio::test]
async fn edit_form_is_prefilled() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let mut config = fixtures::project_config("Sleep Diary", "https://example.org/cb");
    config.webhook_secret = Some("a-webhook-secret-16".to_string());
    let created = fixtures::create_project(&app, member.id, &config).await;

    let response = client
        .get(app.url(&format!(
            "/direct-sharing/projects/oauth2/update/{}/",
            created.slug
        )))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.contains("value=\"Sleep Diary\""));
    assert!(body.contains("value=\"Dr. Ada Lovelace\""));
    assert!(body.contains("value=\"a-webhook-secret-16\""));
    assert!(body.contains("https://example.org/cb</textarea>"));
}

#[tokio::test]
async fn rename_keeps_the_slug() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let config = fixtures::project_config("Old Name", "https://example.org/cb");
    let created = fixtures::create_project(&app, member.id, &config).await;
    let path = format!("/direct-sharing/projects/oauth2/update/{}/", created.slug);
    let mut fields = valid_fields("A Completely New Name");
    set(&mut fields, "active", "false");

    let response = post_form(&app, &client, &path, &fields, None).await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/direct-sharing/projects/oauth2/old-name/"
    );
    let project = load(&app, "old-name").await;
    assert_eq!(project.config.name, "A Completely New Name");
    assert!(!project.config.active);
    assert_eq!(
        project.client_id, created.client_id,
        "credentials unchanged"
    );
    let body = client
        .get(app.url("/direct-sharing/projects/oauth2/old-name/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("A Completely New Name"));
    assert!(body.contains("Project saved."));
}

#[tokio::test]
async fn project_cannot_request_itself() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let mut config = fixtures::project_config("Self Source", "https://example.org/cb");
    config.returned_data_description = "Data.".to_string();
    let created = fixtures::create_project(&app, member.id, &config).await;
    projects::set_approved(&app.state.db, created.id, true, app.clock().now())
        .await
        .unwrap();
    let path = format!("/direct-sharing/projects/oauth2/update/{}/", created.slug);
    let form = client
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !form.contains(&format!("value=\"{}\"", created.id)),
        "the form does not offer the project itself"
    );
    let mut fields = valid_fields("Self Source");
    fields.push(("requested_sources", created.id.to_string()));

    let response = post_form(&app, &client, &path, &fields, None).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"requested_sources-error\">Requested data sources:"));
    assert!(
        load(&app, &created.slug)
            .await
            .config
            .requested_sources
            .is_empty()
    );
}
