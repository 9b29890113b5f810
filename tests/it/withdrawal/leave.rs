//! Leaving with options, removal by the coordinator, and rejoining.

use bytes::Bytes;
use openhumans::db::files::{self, NewDataFile};

use super::{Receiver, count_rows, joined, leave, leave_path, wait_for_idle_queue};
use crate::oauth2::{access_token_works, membership};
use crate::support::fixtures;
use crate::support::mail::wait_for_email;

#[tokio::test]
async fn forged_erasure_request_is_rejected() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;
    let page = setup
        .browser
        .get(setup.app.url(&leave_path(&pmid)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("erasure_requested"), "not offered: {page}");
    assert!(page.contains("remove_datafiles"));

    let response = leave(&setup, &pmid, &[("erasure_requested", "on")]).await;

    assert_eq!(response.status(), 400);
    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.status.is_active(true), "nothing happened");
    assert_eq!(
        count_rows(&setup.app, "withdrawals", setup.project.id).await,
        0
    );
    assert_eq!(
        count_rows(&setup.app, "webhook_deliveries", setup.project.id).await,
        0
    );
}

#[tokio::test]
async fn other_member_cannot_leave_for_someone() {
    let (setup, pmid) = joined(|config| config.erasure_supported = true).await;
    let intruder = fixtures::create_member(&setup.app, "intruder").await;
    let browser = fixtures::logged_in_client(&setup.app, intruder.id).await;

    let page = browser
        .get(setup.app.url(&leave_path(&pmid)))
        .send()
        .await
        .unwrap();
    let post = browser
        .post(setup.app.url(&leave_path(&pmid)))
        .header("sec-fetch-site", "same-origin")
        .form(&[("erasure_requested", "on"), ("remove_datafiles", "on")])
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), 404);
    assert_eq!(post.status(), 404);
    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.status.is_active(true));
    assert_eq!(after.erasure_requested_at, None);
}

#[tokio::test]
async fn leave_deletes_project_files_and_objects() {
    let (setup, pmid) = joined(|config| config.deauth_email_notification = true).await;
    let app = &setup.app;
    let key = format!("member/{}/result.csv", setup.member.id);
    app.state
        .storage
        .put(&key, Bytes::from_static(b"a,b\n1,2\n"))
        .await
        .unwrap();
    let file_id = files::insert(
        &app.state.db,
        &NewDataFile {
            member_id: setup.member.id,
            project_id: setup.project.id,
            storage_key: &key,
            basename: "result.csv",
            metadata: "{\"description\": \"d\", \"tags\": []}",
            completed: true,
            size: Some(8),
            md5: None,
            datatype_ids: &[],
        },
        app.clock().now(),
    )
    .await
    .unwrap();

    let response = leave(&setup, &pmid, &[("remove_datafiles", "on")]).await;

    assert_eq!(response.status(), 303);
    assert!(
        files::find_by_id(&app.state.db, file_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.state.storage.get(&key).await.unwrap().is_none());
    let email = wait_for_email(&app.outbox_dir(), "lab@example.org").await;
    assert!(email.body.contains(&pmid), "{}", email.body);
    assert!(
        email.body.contains("deleted the files your project added"),
        "{}",
        email.body
    );
    assert!(email.body.contains("Erasure requested: no."));
}

#[tokio::test]
async fn notice_says_files_kept_when_kept() {
    let (setup, pmid) = joined(|config| {
        config.deauth_email_notification = true;
        config.erasure_supported = true;
    })
    .await;

    leave(&setup, &pmid, &[("erasure_requested", "on")]).await;

    let email = wait_for_email(&setup.app.outbox_dir(), "lab@example.org").await;
    assert!(
        email.subject.contains("member withdrawal"),
        "{}",
        email.subject
    );
    assert!(
        email.body.contains(&format!("The member {pmid} ")),
        "{}",
        email.body
    );
    assert!(email.body.contains("Erasure requested: yes"));
    assert!(email.body.contains("were not deleted"), "{}", email.body);
    let link = format!(
        "/direct-sharing/projects/oauth2/{}/withdrawn/",
        setup.project.slug
    );
    assert!(email.body.contains(&setup.app.url(&link)), "{}", email.body);
}

#[tokio::test]
async fn rejoin_keeps_id_and_clears_erasure() {
    let (setup, pmid) = joined(|config| config.erasure_supported = true).await;
    leave(&setup, &pmid, &[("erasure_requested", "on")]).await;
    let left = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(left.erasure_requested_at.is_some());

    setup.code(&[]).await;

    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert_eq!(after.project_member_id, pmid);
    assert!(after.status.is_active(true));
    assert_eq!(after.erasure_requested_at, None);
}

#[tokio::test]
async fn coordinator_removal_emails_without_webhook() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(url);
        config.deauth_email_notification = true;
    })
    .await;
    let (access, _) = setup.tokens().await;
    let coordinator = fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/remove-members/",
        setup.project.slug
    );

    let rejected = coordinator
        .post(setup.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .form(&[("project_member_ids", format!("{pmid}, 99999999\nabc"))])
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 422);
    let html = rejected.text().await.unwrap();
    assert!(html.contains("99999999, abc"), "{html}");
    assert!(
        access_token_works(&setup.app, &access).await,
        "none removed"
    );

    let removed = coordinator
        .post(setup.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .form(&[("project_member_ids", format!("\n{pmid} ,"))])
        .send()
        .await
        .unwrap();

    assert_eq!(removed.status(), 303);
    assert!(!access_token_works(&setup.app, &access).await);
    let email = wait_for_email(&setup.app.outbox_dir(), "lab@example.org").await;
    assert!(email.body.contains(&pmid));
    assert!(
        email.body.contains("was removed by the project"),
        "{}",
        email.body
    );
    wait_for_idle_queue(&setup.app).await;
    assert!(receiver.received().is_empty(), "no webhook for a removal");
    assert_eq!(
        count_rows(&setup.app, "webhook_deliveries", setup.project.id).await,
        0
    );
}
