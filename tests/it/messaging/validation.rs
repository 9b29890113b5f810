//! Bad message requests: each is a 400 naming the field or the ids, and queues
//! nothing.

use serde_json::{Value, json};

use super::{add_member, api_setup, errors_of, post_message, recipient_count};
use crate::api::API;
use crate::support::fixtures;

#[tokio::test]
async fn missing_fields_are_named() {
    let api = api_setup(|_| {}).await;

    let errors =
        errors_of(post_message(&api, &api.master_token, &[("all_members", "true")]).await).await;

    assert_eq!(errors["subject"][0], "This field is required.");
    assert_eq!(errors["message"][0], "This field is required.");
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 0);
}

/// Extra form fields, the field expected in the errors, and a part of its message.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn recipients_must_be_chosen_once() {
    let api = api_setup(|_| {}).await;
    let pmid = api.project_member_id.clone();
    let cases: Vec<Case> = vec![
        (vec![], "__all__", "Choose the recipients"),
        (
            vec![("all_members", "False")],
            "__all__",
            "Choose the recipients",
        ),
        (
            vec![
                ("all_members", "True"),
                ("project_member_ids", pmid.as_str()),
            ],
            "__all__",
            "not both",
        ),
        (vec![("all_members", "maybe")], "all_members", "\"maybe\""),
        (
            vec![("project_member_ids", "1234abcd, 12345678")],
            "project_member_ids",
            "1234abcd",
        ),
    ];

    for (extra, field, expected) in cases {
        let mut fields = vec![("subject", "S"), ("message", "M")];
        fields.extend(extra.iter().copied());
        let errors = errors_of(post_message(&api, &api.master_token, &fields).await).await;
        let message = errors[field][0].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{extra:?}: {errors}");
    }
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 0);
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_named() {
    let api = api_setup(|_| {}).await;
    let app = api.app();
    let coordinator = fixtures::create_member(app, "Other_Coordinator").await;
    let other = fixtures::create_project(
        app,
        coordinator.id,
        &fixtures::project_config("Other Study", crate::oauth2::REDIRECT_URI),
    )
    .await;
    let (_, foreign_pmid) = add_member(app, other.id, "Grace_H").await;
    let ids = format!("{}\n99999999 {foreign_pmid}", api.project_member_id);

    let errors = errors_of(
        post_message(
            &api,
            &api.master_token,
            &[
                ("subject", "S"),
                ("message", "M"),
                ("project_member_ids", &ids),
            ],
        )
        .await,
    )
    .await;

    let message = errors["project_member_ids"][0].as_str().unwrap();
    assert!(message.contains("99999999"), "{message}");
    assert!(message.contains(&foreign_pmid), "{message}");
    assert!(!message.contains(&api.project_member_id), "{message}");
    assert_eq!(recipient_count(app, api.project_id()).await, 0);
    assert_eq!(recipient_count(app, other.id).await, 0);
}

#[tokio::test]
async fn json_body_takes_id_arrays() {
    let api = api_setup(|_| {}).await;
    let (_, second_pmid) = add_member(api.app(), api.project_id(), "Grace_H").await;

    let response = reqwest::Client::new()
        .post(api.app().url(&format!("{API}message/")))
        .bearer_auth(&api.master_token)
        .json(&json!({
            "subject": "S",
            "message": "M",
            "project_member_ids": [api.project_member_id, second_pmid],
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), "success");
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 2);
}

#[tokio::test]
async fn missing_token_is_401() {
    let api = api_setup(|_| {}).await;

    let response = reqwest::Client::new()
        .post(api.app().url(&format!("{API}message/")))
        .form(&[("subject", "S"), ("message", "M"), ("all_members", "true")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 0);
}

#[tokio::test]
async fn responses_match_the_openapi_document() {
    let api = api_setup(|settings| settings.messages_per_project_per_day = 1).await;
    let document: Value = reqwest::get(api.app().url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("{API}message/");
    let pmid = api.project_member_id.clone();
    let fields = [
        ("subject", "S"),
        ("message", "M"),
        ("project_member_ids", pmid.as_str()),
    ];

    let responses = [
        post_message(&api, &api.master_token, &fields).await,
        post_message(&api, &api.master_token, &fields).await,
        post_message(&api, &api.master_token, &[("subject", "S")]).await,
        post_message(&api, "not-a-token", &fields).await,
    ];

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 429, 400, 401]);
    for response in responses {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        crate::api::openapi::assert_matches(&document, &path, "post", status, &body);
    }
}
