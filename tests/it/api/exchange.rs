//! `exchange-member/`: the files a project may read for a member, and pagination.

use serde_json::Value;

use super::{ApiSetup, file_ids, insert_file, leave};
use crate::support::fixtures;

#[tokio::test]
async fn hundred_fifty_files_listed_through_next() {
    let api = ApiSetup::new().await;
    let mut expected = Vec::new();
    for i in 0..150 {
        expected.push(
            insert_file(
                api.app(),
                api.setup.member.id,
                api.project_id(),
                &format!("f{i}.txt"),
            )
            .await,
        );
    }

    let first: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["count"], 150);
    assert_eq!(first["data"].as_array().unwrap().len(), 100);
    let next = first["next"].as_str().expect("a next link");
    assert!(next.contains("access_token="), "{next}");
    let second: Value = reqwest::get(next).await.unwrap().json().await.unwrap();
    assert_eq!(second["next"], Value::Null);

    let mut ids = file_ids(&first);
    ids.extend(file_ids(&second));
    assert_eq!(ids, expected);

    // The members list previews ten files and links to the full list.
    let members: Value = api
        .get("members/", &api.master_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let member = &members["results"][0];
    assert_eq!(member["file_count"], 150);
    assert_eq!(file_ids(member), expected[..10].to_vec());
    let link = member["exchange_member"].as_str().unwrap();
    assert!(!link.contains(&api.master_token));
    let mut linked = Vec::new();
    let mut page: Value = reqwest::get(link).await.unwrap().json().await.unwrap();
    loop {
        linked.extend(file_ids(&page));
        match page["next"].as_str() {
            Some(next) => page = reqwest::get(next).await.unwrap().json().await.unwrap(),
            None => break,
        }
    }
    assert_eq!(linked, expected);
}

#[tokio::test]
async fn exchange_credential_works_only_there() {
    let api = ApiSetup::new().await;
    let members: Value = api
        .get("members/", &api.master_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let link = members["results"][0]["exchange_member"].as_str().unwrap();
    let credential = crate::oauth2::query_param(link, "access_token").unwrap();

    assert_eq!(api.get("", &credential, &[]).await.status(), 401);
    assert_eq!(api.get("members/", &credential, &[]).await.status(), 401);
    let pmid = api.project_member_id.clone();
    let delete = api
        .post(
            "files/delete/",
            &credential,
            &[("project_member_id", &pmid), ("all_files", "true")],
        )
        .await;
    assert_eq!(delete.status(), 401);

    api.app().clock().advance(openhumans::clock::HOUR + 1);
    assert_eq!(
        reqwest::get(link).await.unwrap().status(),
        401,
        "expired after an hour"
    );
}

#[tokio::test]
async fn master_token_needs_a_current_member() {
    let api = ApiSetup::new().await;
    let missing = api.get("exchange-member/", &api.master_token, &[]).await;
    assert_eq!(missing.status(), 400);
    let body: Value = missing.json().await.unwrap();
    assert!(body["project_member_id"].is_string(), "{body}");

    let unknown = api
        .get(
            "exchange-member/",
            &api.master_token,
            &[("project_member_id", "00000000")],
        )
        .await;
    assert_eq!(unknown.status(), 400);

    let pmid = api.project_member_id.clone();
    let ok = api
        .get(
            "exchange-member/",
            &api.master_token,
            &[("project_member_id", &pmid)],
        )
        .await;
    assert_eq!(ok.status(), 200);

    leave(&api).await;
    let former = api
        .get(
            "exchange-member/",
            &api.master_token,
            &[("project_member_id", &pmid)],
        )
        .await;
    assert_eq!(former.status(), 400);
    let body: Value = former.json().await.unwrap();
    assert_eq!(body["project_member_id"], "project_member_id is invalid");
}

#[tokio::test]
async fn snapshot_decides_visible_sources() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let source_owner = fixtures::create_member(app, "source_owner").await;
    let source = fixtures::create_project(
        app,
        source_owner.id,
        &fixtures::project_config("Source", "https://source.example/cb"),
    )
    .await;
    let other = fixtures::create_project(
        app,
        source_owner.id,
        &fixtures::project_config("Other", "https://other.example/cb"),
    )
    .await;
    let own = insert_file(app, api.setup.member.id, api.project_id(), "own.txt").await;
    let shared = insert_file(app, api.setup.member.id, source.id, "shared.txt").await;
    insert_file(app, api.setup.member.id, other.id, "other.txt").await;

    // The project requests the source after the member authorized.
    sqlx::query("INSERT INTO requested_sources (project_id, source_project_id) VALUES ($1, $2)")
        .bind(api.project_id())
        .bind(source.id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    let before: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file_ids(&before), vec![own]);
    assert_eq!(before["sources_shared"], serde_json::json!([]));

    // Reauthorizing grants it.
    api.setup.code(&[]).await;
    let after: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(file_ids(&after), vec![own, shared]);
    let label = format!("direct-sharing-{}", source.id);
    assert_eq!(after["sources_shared"], serde_json::json!([label]));
    let own_label = format!("direct-sharing-{}", api.project_id());
    assert!(
        !after["sources_shared"]
            .as_array()
            .unwrap()
            .contains(&Value::from(own_label))
    );
    assert_eq!(after["data"][1]["source"], label);
    assert!(
        after["data"][1]["source_project"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/api/public/project/{}/", source.id))
    );
}

#[tokio::test]
async fn username_only_when_granted() {
    let without = ApiSetup::new().await;
    let body: Value = without
        .get("exchange-member/", &without.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(body.get("username").is_none(), "{body}");
    let members: Value = without
        .get("members/", &without.master_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert!(members["results"][0].get("username").is_none());

    let with = ApiSetup::with_config(|config| config.request_username_access = true).await;
    let body: Value = with
        .get("exchange-member/", &with.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["username"], "Ada_L");
    let members: Value = with
        .get("members/", &with.master_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members["results"][0]["username"], "Ada_L");
}

#[tokio::test]
async fn file_object_has_the_upstream_shape() {
    let api = ApiSetup::new().await;
    let id = api.upload(&api.access_token, "steps.csv", b"1,2,3\n").await;
    let body: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["project_member_id"], api.project_member_id);
    assert!(body["created"].as_str().unwrap().ends_with('Z'));
    let file = &body["data"][0];
    assert_eq!(file["id"], id);
    assert_eq!(file["basename"], "steps.csv");
    let created = file["created"].as_str().unwrap();
    assert_eq!(
        created.len(),
        "2016-05-19T18:33:10.513837Z".len(),
        "{created}"
    );
    assert_eq!(file["metadata"]["tags"], serde_json::json!(["steps"]));
    assert_eq!(
        file["source"],
        format!("direct-sharing-{}", api.project_id())
    );
    assert_eq!(file["datatypes"], serde_json::json!([]));
    let download = reqwest::get(file["download_url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(download.headers()["content-length"], "6");
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"1,2,3\n");
}

#[tokio::test]
async fn download_links_stop_when_member_leaves() {
    let api = ApiSetup::new().await;
    api.upload(&api.access_token, "steps.csv", b"day,steps\n1,9000\n")
        .await;
    let listing: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let link = listing["data"][0]["download_url"]
        .as_str()
        .unwrap()
        .to_string();
    let before = reqwest::get(&link).await.unwrap();
    assert_eq!(before.status(), 200);

    leave(&api).await;
    let after = reqwest::get(&link).await.unwrap();

    assert_eq!(
        after.status(),
        403,
        "a link handed out before leaving stops working"
    );
}

#[tokio::test]
async fn head_of_download_is_not_logged() {
    let api = ApiSetup::new().await;
    api.upload(&api.access_token, "steps.csv", b"day,steps\n1,9000\n")
        .await;
    let listing: Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let link = listing["data"][0]["download_url"]
        .as_str()
        .unwrap()
        .to_string();
    let db = &api.app().state.db;

    let head = reqwest::Client::new().head(&link).send().await.unwrap();

    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "17");
    let logged = openhumans::db::files::count_downloads(db, api.setup.member.id)
        .await
        .unwrap();
    assert_eq!(logged, 0, "a HEAD request is not a download");
    reqwest::get(&link).await.unwrap();
    let logged = openhumans::db::files::count_downloads(db, api.setup.member.id)
        .await
        .unwrap();
    assert_eq!(logged, 1);
}

/// Returns the credential of the first member's `exchange_member` URL.
async fn exchange_link(api: &ApiSetup, master_token: &str) -> String {
    let members: Value = api
        .get("members/", master_token, &[])
        .await
        .json()
        .await
        .unwrap();
    members["results"][0]["exchange_member"]
        .as_str()
        .expect("an exchange_member link")
        .to_string()
}

#[tokio::test]
async fn regenerated_master_token_ends_exchange_credentials() {
    let api = ApiSetup::new().await;
    let link = exchange_link(&api, &api.master_token).await;
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);

    let rotated = super::master_token(api.app(), api.project_id()).await;
    assert_eq!(api.get("", &api.master_token, &[]).await.status(), 401);
    let stale = reqwest::get(&link).await.unwrap();
    assert_eq!(stale.status(), 401);
    assert!(stale.text().await.unwrap().contains("Invalid token."));

    let fresh = exchange_link(&api, &rotated).await;
    assert_eq!(reqwest::get(&fresh).await.unwrap().status(), 200);
}

#[tokio::test]
async fn exchange_credential_ends_when_member_leaves_and_rejoins() {
    let api = ApiSetup::new().await;
    let link = exchange_link(&api, &api.master_token).await;
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);

    leave(&api).await;
    assert!(
        reqwest::get(&link)
            .await
            .unwrap()
            .status()
            .is_client_error()
    );
    api.app().clock().advance(openhumans::clock::SECOND);
    api.setup.code(&[]).await;
    let active = crate::oauth2::membership(api.app(), api.project_id(), api.setup.member.id)
        .await
        .unwrap();
    assert_eq!(active.project_member_id, api.project_member_id);

    assert_eq!(reqwest::get(&link).await.unwrap().status(), 401);
    let fresh = exchange_link(&api, &api.master_token).await;
    assert_eq!(reqwest::get(&fresh).await.unwrap().status(), 200);
}
