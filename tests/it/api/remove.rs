//! `remove-members/`: the project ends memberships.

use serde_json::Value;

use super::ApiSetup;
use crate::oauth2::{access_token_works, make_active_member, membership};
use crate::support::fixtures;

#[tokio::test]
async fn repeated_values_and_duplicates_all_count() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let second = fixtures::create_member(app, "second").await;
    let third = fixtures::create_member(app, "third").await;
    make_active_member(app, api.project_id(), second.id).await;
    make_active_member(app, api.project_id(), third.id).await;
    let second_id = membership(app, api.project_id(), second.id)
        .await
        .unwrap()
        .project_member_id;
    let third_id = membership(app, api.project_id(), third.id)
        .await
        .unwrap()
        .project_member_id;
    let joined = format!("{},{}\n{}", api.project_member_id, second_id, second_id);

    let response = api
        .post(
            "remove-members/",
            &api.master_token,
            &[
                ("project_member_ids", &joined),
                ("project_member_ids", &api.project_member_id.clone()),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), "success");

    for member_id in [api.setup.member.id, second.id] {
        let ended = membership(app, api.project_id(), member_id).await.unwrap();
        assert!(ended.status.revoked);
        assert!(ended.snapshot.granted_sources.is_empty());
    }
    assert!(
        !membership(app, api.project_id(), third.id)
            .await
            .unwrap()
            .status
            .revoked
    );
    assert!(!access_token_works(app, &api.access_token).await);

    // An id that is no longer active is named, and no member is removed.
    let again = api
        .post(
            "remove-members/",
            &api.master_token,
            &[("project_member_ids", &format!("{third_id} {second_id}"))],
        )
        .await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    let message = body["errors"]["project_member_ids"][0].as_str().unwrap();
    assert!(message.contains(&second_id), "{message}");
    assert!(!message.contains(&third_id), "{message}");
    assert!(
        !membership(app, api.project_id(), third.id)
            .await
            .unwrap()
            .status
            .revoked
    );
}

#[tokio::test]
async fn master_token_needs_ids() {
    let api = ApiSetup::new().await;
    for form in [vec![], vec![("project_member_ids", "12")]] {
        let response = api.post("remove-members/", &api.master_token, &form).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert!(body["errors"]["project_member_ids"].is_array(), "{body}");
    }
}

#[tokio::test]
async fn member_token_removes_its_member() {
    let api = ApiSetup::new().await;
    let response = api.post("remove-members/", &api.access_token, &[]).await;
    assert_eq!(response.status(), 200);
    let ended = membership(api.app(), api.project_id(), api.setup.member.id)
        .await
        .unwrap();
    assert!(ended.status.revoked);
    let events = openhumans::db::memberships::events(&api.app().state.db, ended.id)
        .await
        .unwrap();
    assert_eq!(events.last().unwrap().actor, "project-coordinator");
}
