//! `files/delete/`: selectors, scope, and deleting after a member left.

use serde_json::Value;

use super::{ApiSetup, insert_file, leave};
use crate::support::fixtures;

async fn delete(api: &ApiSetup, form: &[(&str, &str)]) -> reqwest::Response {
    let pmid = api.project_member_id.clone();
    let mut fields = vec![("project_member_id", pmid.as_str())];
    fields.extend_from_slice(form);
    api.post("files/delete/", &api.master_token, &fields).await
}

#[tokio::test]
async fn exactly_one_selector() {
    let api = ApiSetup::new().await;
    let none = delete(&api, &[]).await;
    assert_eq!(none.status(), 400);
    assert!(none.json::<Value>().await.unwrap()["missing_field"].is_string());
    let two = delete(&api, &[("file_id", "1"), ("all_files", "True")]).await;
    assert_eq!(two.status(), 400);
    assert!(two.json::<Value>().await.unwrap()["too_many"].is_string());
    let bad_bool = delete(&api, &[("all_files", "maybe")]).await;
    assert_eq!(bad_bool.status(), 400);
    assert!(bad_bool.json::<Value>().await.unwrap()["all_files"].is_array());
}

#[tokio::test]
async fn deletes_only_this_projects_files() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let other = fixtures::create_project(
        app,
        api.setup.coordinator.id,
        &fixtures::project_config("Other", "https://other.example/cb"),
    )
    .await;
    let a = api.upload(&api.access_token, "same.txt", b"one").await;
    let b = api.upload(&api.access_token, "same.txt", b"two").await;
    let c = insert_file(app, api.setup.member.id, api.project_id(), "c.txt").await;
    let foreign = insert_file(app, api.setup.member.id, other.id, "same.txt").await;

    let by_name: Value = delete(&api, &[("file_basename", "same.txt")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name["ids"], serde_json::json!([a, b]));
    let foreign_id = foreign.to_string();
    let by_id: Value = delete(&api, &[("file_id", &foreign_id)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_id["ids"], serde_json::json!([]));
    let all: Value = delete(&api, &[("all_files", "True")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["ids"], serde_json::json!([c]));
    assert!(
        openhumans::db::files::find_by_id(&app.state.db, foreign)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn project_deletes_files_of_a_member_who_left() {
    let api = ApiSetup::new().await;
    let id = api.upload(&api.access_token, "kept.txt", b"data").await;
    leave(&api).await;

    let response = delete(&api, &[("all_files", "true")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap()["ids"],
        serde_json::json!([id])
    );
    assert!(
        openhumans::db::files::find_by_id(&api.app().state.db, id)
            .await
            .unwrap()
            .is_none()
    );
}
