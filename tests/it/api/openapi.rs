//! `/api/openapi.json` describes the real responses: each endpoint's response is
//! validated against the schema the document gives for its path, method and status.

use serde_json::Value;

use super::{API, ApiSetup, METADATA};

/// Validates `body` against the response schema of `path`, `method` and `status`.
pub fn assert_matches(document: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let operation = &document["paths"][path][method];
    assert!(operation.is_object(), "{method} {path} is not documented");
    let schema =
        &operation["responses"][status.to_string()]["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status} has no JSON schema"
    );
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    let validator = jsonschema::validator_for(&root).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {status}: {errors:?}\n{body}"
    );
}

#[tokio::test]
async fn responses_match_the_document() {
    let api = ApiSetup::new().await;
    let document: Value = reqwest::get(api.app().url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let pmid = api.project_member_id.clone();
    let full = |path: &str| format!("{API}{path}");

    let mut checks: Vec<(String, &str, reqwest::Response)> = Vec::new();
    let id = api.upload(&api.access_token, "a.txt", b"abc").await;
    checks.push((full(""), "get", api.get("", &api.access_token, &[]).await));
    checks.push((
        full("members/"),
        "get",
        api.get("members/", &api.master_token, &[]).await,
    ));
    checks.push((
        full("exchange-member/"),
        "get",
        api.get("exchange-member/", &api.access_token, &[]).await,
    ));
    checks.push((
        full("exchange-member/"),
        "get",
        api.get("exchange-member/", &api.master_token, &[]).await,
    ));
    checks.push((
        full("files/upload/direct/"),
        "post",
        api.post(
            "files/upload/direct/",
            &api.master_token,
            &[
                ("project_member_id", &pmid),
                ("metadata", METADATA),
                ("filename", "b.txt"),
            ],
        )
        .await,
    ));
    checks.push((
        full("files/upload/complete/"),
        "post",
        api.post(
            "files/upload/complete/",
            &api.master_token,
            &[("project_member_id", &pmid)],
        )
        .await,
    ));
    let form = reqwest::multipart::Form::new()
        .text("metadata", METADATA)
        .part(
            "data_file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("m.txt"),
        );
    checks.push((
        full("files/upload/"),
        "post",
        reqwest::Client::new()
            .post(api.app().url(&full("files/upload/")))
            .query(&[("access_token", &api.access_token)])
            .multipart(form)
            .send()
            .await
            .unwrap(),
    ));
    let id_text = id.to_string();
    checks.push((
        full("files/delete/"),
        "post",
        api.post(
            "files/delete/",
            &api.master_token,
            &[("project_member_id", &pmid), ("file_id", &id_text)],
        )
        .await,
    ));
    checks.push((
        full("members/"),
        "get",
        api.get("members/", &api.access_token, &[]).await,
    ));
    checks.push((
        full("remove-members/"),
        "post",
        api.post("remove-members/", &api.access_token, &[]).await,
    ));

    for (path, method, response) in checks {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_matches(&document, &path, method, status, &body);
    }
}

#[tokio::test]
async fn query_parameters_are_described_as_query() {
    let api = ApiSetup::new().await;
    let document: Value = reqwest::get(api.app().url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    for path in ["exchange-member/", "members/"] {
        let parameters = document["paths"][format!("{API}{path}")]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!parameters.is_empty(), "{path} describes its parameters");
        for parameter in parameters {
            assert_eq!(parameter["in"], "query", "{path}: {parameter}");
            assert_ne!(parameter["required"], true, "{path}: {parameter}");
        }
    }
}
