//! `members/`: the master token's list of active members.

use serde_json::Value;

use super::ApiSetup;
use crate::oauth2::make_active_member;
use crate::support::fixtures;

#[tokio::test]
async fn lists_active_members_in_order() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let mut expected = vec![api.project_member_id.clone()];
    for name in ["b_member", "c_member", "d_member"] {
        let member = fixtures::create_member(app, name).await;
        make_active_member(app, api.project_id(), member.id).await;
        let pmid = crate::oauth2::membership(app, api.project_id(), member.id)
            .await
            .unwrap()
            .project_member_id;
        expected.push(pmid);
    }
    // A suspended member drops out of the list.
    let suspended = fixtures::create_member(app, "suspended").await;
    make_active_member(app, api.project_id(), suspended.id).await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE id = $1")
        .bind(suspended.id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
    expected.sort();

    let first: Value = api
        .get("members/", &api.master_token, &[("limit", "3")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["count"], 4);
    let second: Value = reqwest::get(first["next"].as_str().unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<String> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["results"].as_array().unwrap())
        .map(|member| member["project_member_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, expected);
    let member = &first["results"][0];
    for key in [
        "created",
        "file_count",
        "exchange_member",
        "sources_shared",
        "data",
    ] {
        assert!(member.get(key).is_some(), "{key} missing: {member}");
    }
}
