//! Deleting an account: withdrawal from every project first, then the account.

use bytes::Bytes;
use openhumans::db::files::{self, NewDataFile};

use super::{Receiver, SECRET, joined};
use crate::oauth2::{make_active_member, membership};
use crate::support::fixtures::{self, PASSWORD};

#[tokio::test]
async fn account_deletion_withdraws_everywhere_first() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let first_url = url.clone();
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(first_url);
        config.webhook_secret = Some(SECRET.to_string());
        config.erasure_supported = true;
    })
    .await;
    let app = &setup.app;
    let mut second_config = fixtures::project_config("Sleep Study", "https://sleep.example/cb");
    second_config.deauth_webhook = Some(url);
    let second = fixtures::create_project(app, setup.coordinator.id, &second_config).await;
    make_active_member(app, second.id, setup.member.id).await;
    let second_pmid = membership(app, second.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let key = format!("member/{}/steps.json", setup.member.id);
    app.state
        .storage
        .put(&key, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let file_id = files::insert(
        &app.state.db,
        &NewDataFile {
            member_id: setup.member.id,
            project_id: second.id,
            storage_key: &key,
            basename: "steps.json",
            metadata: "{\"description\": \"d\", \"tags\": []}",
            completed: true,
            size: Some(2),
            md5: None,
            datatype_ids: &[],
        },
        app.clock().now(),
    )
    .await
    .unwrap();
    let form_page = setup
        .browser
        .get(app.url("/account/delete/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form_page.contains(&format!("erasure_{pmid}")),
        "{form_page}"
    );
    assert!(!form_page.contains(&format!("erasure_{second_pmid}")));

    let wrong = setup
        .browser
        .post(app.url("/account/delete/"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let response = setup
        .browser
        .post(app.url("/account/delete/"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("password", PASSWORD), (&format!("erasure_{pmid}"), "on")])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let hooks = receiver.wait_for(2).await;
    let mut bodies: Vec<serde_json::Value> = hooks.iter().map(|hook| hook.json()).collect();
    bodies.sort_by_key(|body| body["project_member_id"].as_str().unwrap().to_string());
    let mut expected = vec![(pmid.clone(), true), (second_pmid.clone(), false)];
    expected.sort();
    for (body, (id, erasure)) in bodies.iter().zip(expected) {
        assert_eq!(body["project_member_id"], id.as_str());
        assert_eq!(body["erasure_requested"], erasure);
    }
    assert!(
        openhumans::db::members::find_by_id(&app.state.db, setup.member.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        files::find_by_id(&app.state.db, file_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.state.storage.get(&key).await.unwrap().is_none());
    let (sessions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE member_id = $1")
        .bind(setup.member.id)
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
    let logged_out = setup
        .browser
        .get(app.url("/member/me/connections/"))
        .send()
        .await
        .unwrap();
    assert_eq!(logged_out.status(), 303, "the session ended");
}

#[tokio::test]
async fn coordinator_cannot_delete_account() {
    let (setup, _) = joined(|_| {}).await;
    let browser = fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;

    let page = browser
        .get(setup.app.url("/account/delete/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let response = browser
        .post(setup.app.url("/account/delete/"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("password", PASSWORD)])
        .send()
        .await
        .unwrap();

    assert!(page.contains("Step Study"), "{page}");
    assert!(page.contains("cannot be deleted yet"));
    assert!(!page.contains("name=\"password\""));
    assert_eq!(response.status(), 422);
    assert!(
        openhumans::db::members::find_by_id(&setup.app.state.db, setup.coordinator.id)
            .await
            .unwrap()
            .is_some()
    );
}
