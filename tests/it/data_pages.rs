//! The member's data pages: their files by source project, and the access log.

use crate::api::{ApiSetup, insert_file};
use crate::support::fixtures;

#[tokio::test]
async fn data_page_lists_own_files_only() {
    let api = ApiSetup::new().await;
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let stranger = fixtures::create_member(api.app(), "stranger").await;
    insert_file(api.app(), stranger.id, api.project_id(), "secret.csv").await;

    let html = api
        .setup
        .browser
        .get(api.app().url("/member/me/data/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("steps.csv"), "{html}");
    assert!(html.contains("Step Study"));
    assert!(html.contains("Daily steps"));
    assert!(!html.contains("secret.csv"));
    assert!(html.contains("href=\"/member/me/data/\""), "nav link");

    let stranger_browser = fixtures::logged_in_client(api.app(), stranger.id).await;
    let html = stranger_browser
        .get(api.app().url("/member/me/data/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("secret.csv"));
    assert!(!html.contains("steps.csv"));

    let anonymous = api
        .app()
        .new_client()
        .get(api.app().url("/member/me/data/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}

#[tokio::test]
async fn access_log_lists_project_downloads() {
    let api = ApiSetup::new().await;
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let body: serde_json::Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let url = body["data"][0]["download_url"].as_str().unwrap();
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);

    let html = api
        .setup
        .browser
        .get(api.app().url("/member/me/access-log/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("steps.csv"), "{html}");
    assert!(html.contains("Step Study"));

    let stranger = fixtures::create_member(api.app(), "stranger").await;
    let other = fixtures::logged_in_client(api.app(), stranger.id).await;
    let html = other
        .get(api.app().url("/member/me/access-log/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("steps.csv"));
}
