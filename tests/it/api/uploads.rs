//! Uploads: the direct upload's completion rules, metadata and datatype validation,
//! and the multipart upload.

use serde_json::Value;

use super::{API, ApiSetup, METADATA, file_ids};
use crate::support::fixtures;

async fn start(api: &ApiSetup, metadata: &str) -> reqwest::Response {
    let pmid = api.project_member_id.clone();
    api.post(
        "files/upload/direct/",
        &api.master_token,
        &[
            ("project_member_id", &pmid),
            ("metadata", metadata),
            ("filename", "a.txt"),
        ],
    )
    .await
}

#[tokio::test]
async fn malformed_metadata_is_400_naming_the_problem() {
    let api = ApiSetup::new().await;
    let long = format!(r#"{{"description": "{}", "tags": []}}"#, "x".repeat(10_001));
    let cases = [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (r#"{"description": "d", "tags": [1]}"#, "tags"),
        (r#"{"description": "d", "tags": [], "md5": "abc"}"#, "md5"),
        (r#"{"description": "d", "tags": [], "md5": 5}"#, "md5"),
        (long.as_str(), "description"),
        (r#"{"tags": []}"#, "description"),
    ];
    for (metadata, problem) in cases {
        let response = start(&api, metadata).await;
        assert_eq!(response.status(), 400, "{metadata}");
        let body: Value = response.json().await.unwrap();
        let message = body["metadata"][0].as_str().unwrap_or_default();
        assert!(message.contains(problem), "{metadata}: {body}");
    }
}

#[tokio::test]
async fn datatypes_must_be_registered() {
    let api = ApiSetup::new().await;
    let pmid = api.project_member_id.clone();
    for datatypes in [r#"["no such type"]"#, "{", "[true]"] {
        let response = api
            .post(
                "files/upload/direct/",
                &api.master_token,
                &[
                    ("project_member_id", &pmid),
                    ("metadata", METADATA),
                    ("filename", "a.txt"),
                    ("datatypes", datatypes),
                ],
            )
            .await;
        assert_eq!(response.status(), 400, "{datatypes}");
        let body: Value = response.json().await.unwrap();
        assert!(body["datatypes"].is_array(), "{datatypes}: {body}");
    }
}

#[tokio::test]
async fn master_token_requires_an_active_member() {
    let api = ApiSetup::new().await;
    let response = api
        .post(
            "files/upload/direct/",
            &api.master_token,
            &[
                ("project_member_id", "12345678"),
                ("metadata", METADATA),
                ("filename", "a"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["project_member_id"], "project_member_id is invalid");
}

#[tokio::test]
async fn completion_checks_owner_and_bytes() {
    let api = ApiSetup::new().await;
    let pmid = api.project_member_id.clone();
    let started: Value = start(&api, METADATA).await.json().await.unwrap();
    let id = started["id"].as_i64().unwrap().to_string();
    let complete = |file_id: String| {
        let pmid = pmid.clone();
        let api = &api;
        async move {
            api.post(
                "files/upload/complete/",
                &api.master_token,
                &[("project_member_id", &pmid), ("file_id", &file_id)],
            )
            .await
        }
    };

    // No bytes yet, and an incomplete file is invisible to listing and delete.
    let response = complete(id.clone()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["detail"],
        "file not present"
    );
    let listed: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 0);
    let deleted: Value = api
        .post(
            "files/delete/",
            &api.master_token,
            &[("project_member_id", &pmid), ("file_id", &id)],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["ids"], serde_json::json!([]));

    // Unknown ids and missing ids.
    let unknown = complete("999999".into()).await;
    assert_eq!(unknown.status(), 400);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["detail"],
        "file does not exist"
    );
    assert_eq!(complete(String::new()).await.status(), 400);
    assert_eq!(complete("abc".into()).await.status(), 400);

    // Another project cannot complete this project's file.
    let other = fixtures::create_project(
        api.app(),
        api.setup.coordinator.id,
        &fixtures::project_config("Other", "https://other.example/cb"),
    )
    .await;
    crate::oauth2::make_active_member(api.app(), other.id, api.setup.member.id).await;
    let other_master = super::master_token(api.app(), other.id).await;
    let other_pmid = crate::oauth2::membership(api.app(), other.id, api.setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let put = reqwest::Client::new()
        .put(started["url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let stolen = api
        .post(
            "files/upload/complete/",
            &other_master,
            &[("project_member_id", &other_pmid), ("file_id", &id)],
        )
        .await;
    assert_eq!(stolen.status(), 400);
    assert_eq!(
        stolen.json::<Value>().await.unwrap()["detail"],
        "file does not exist"
    );

    let done = complete(id.clone()).await;
    assert_eq!(done.status(), 200);
    assert_eq!(
        done.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok", "size": 5})
    );
    assert_eq!(complete(id).await.status(), 400, "completing twice");
}

#[tokio::test]
async fn upload_link_stops_when_member_leaves() {
    let api = ApiSetup::new().await;
    let started: Value = start(&api, METADATA).await.json().await.unwrap();
    let id = started["id"].as_i64().unwrap();
    super::leave(&api).await;

    let response = reqwest::Client::new()
        .put(started["url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    let file = openhumans::db::files::find_by_id(&api.app().state.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.uploaded_at, None, "no bytes were recorded");
    let stored = api
        .app()
        .state
        .storage
        .get(&file.storage_key)
        .await
        .unwrap();
    assert_eq!(stored, None, "no object was stored");
}

#[tokio::test]
async fn md5_mismatch_rejects_completion() {
    let api = ApiSetup::new().await;
    let pmid = api.project_member_id.clone();
    let metadata = r#"{"description": "d", "tags": [], "md5": "00000000000000000000000000000000"}"#;
    let started: Value = start(&api, metadata).await.json().await.unwrap();
    reqwest::Client::new()
        .put(started["url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();
    let id = started["id"].as_i64().unwrap().to_string();
    let response = api
        .post(
            "files/upload/complete/",
            &api.master_token,
            &[("project_member_id", &pmid), ("file_id", &id)],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["metadata"][0].as_str().unwrap().contains("md5"),
        "{body}"
    );
}

#[tokio::test]
async fn multipart_upload_stores_a_completed_file() {
    let api = ApiSetup::new().await;
    let response = upload_multipart(&api, METADATA, "../evil/name.csv").await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    let body: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file_ids(&body), vec![id]);
    assert_eq!(body["data"][0]["basename"], "name.csv");
    let file = openhumans::db::files::find_by_id(&api.app().state.db, id)
        .await
        .unwrap()
        .unwrap();
    assert!(!file.storage_key.contains(".."), "{}", file.storage_key);

    let missing = reqwest::Client::new()
        .post(api.app().url(&format!("{API}files/upload/")))
        .query(&[("access_token", &api.access_token)])
        .multipart(reqwest::multipart::Form::new().text("metadata", METADATA))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert!(missing.json::<Value>().await.unwrap()["data_file"].is_array());
}

#[tokio::test]
async fn multipart_md5_mismatch_leaves_nothing() {
    let api = ApiSetup::new().await;
    let metadata = r#"{"description": "d", "tags": [], "md5": "00000000000000000000000000000000"}"#;
    let response = upload_multipart(&api, metadata, "steps.csv").await;

    assert_eq!(response.status(), 400);
    // The row written before the bytes were stored is gone with them.
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM data_files")
        .fetch_one(&api.app().state.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    let stored = crate::support::files_under(&api.app().dir.path().join("files"));
    assert!(
        stored
            .iter()
            .all(|path| path.to_string_lossy().contains(".staging")),
        "no object is left: {stored:?}"
    );
}

/// Sends `files/upload/` with the member's token, `metadata` and a small CSV named
/// `file_name`.
async fn upload_multipart(api: &ApiSetup, metadata: &str, file_name: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("metadata", metadata.to_string())
        .part(
            "data_file",
            reqwest::multipart::Part::bytes(b"a,b\n".to_vec()).file_name(file_name.to_string()),
        );
    reqwest::Client::new()
        .post(api.app().url(&format!("{API}files/upload/")))
        .query(&[("access_token", &api.access_token)])
        .multipart(form)
        .send()
        .await
        .unwrap()
}
