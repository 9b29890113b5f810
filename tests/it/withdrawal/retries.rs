//! Delivery retries over moved clock time: the full schedule against a receiver that
//! always fails, a restart between attempts, and a receiver that rejects the
//! signature until the coordinator fixes the secret.

use std::time::Duration;

use openhumans::clock::{DAY, HOUR};
use openhumans::db::webhooks;
use openhumans::domain::webhooks::MAX_ATTEMPTS;

use super::{
    Receiver, SECRET, deliveries_page, joined, leave, run_due_jobs, wait_for_idle_queue,
    wait_for_job_after,
};
use crate::oauth2::{Setup, membership};
use crate::projects::{post_form, set, valid_fields};
use crate::support::{SharedDatabase, TestApp, eventually};

/// Returns the project's only delivery.
async fn only_delivery(app: &TestApp, project_id: i64) -> webhooks::Delivery {
    let mut deliveries = webhooks::list_for_project(&app.state.db, project_id, 10, 0)
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    deliveries.pop().unwrap()
}

#[tokio::test]
async fn failing_receiver_exhausts_retry_schedule() {
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;
    let app = &setup.app;

    leave(&setup, &pmid, &[]).await;
    let mut attempt = 1;
    let job = loop {
        let job = wait_for_job_after(app, attempt).await;
        if job.state != "queued" {
            break job;
        }
        run_due_jobs(app, job.run_at);
        attempt += 1;
    };

    assert_eq!(job.state, "failed");
    assert_eq!(job.attempts, MAX_ATTEMPTS);
    let delivery = only_delivery(app, setup.project.id).await;
    assert_eq!(delivery.state, webhooks::FAILED);
    let attempts = webhooks::attempts(&app.state.db, delivery.id)
        .await
        .unwrap();
    assert_eq!(attempts.len() as i64, MAX_ATTEMPTS);
    assert!(
        attempts.iter().all(|a| a.status_code == Some(500)),
        "{attempts:?}"
    );
    let span = attempts.last().unwrap().at - attempts[0].at;
    assert!(span >= DAY, "attempts span only {} hours", span / HOUR);
    assert_eq!(receiver.received().len() as i64, MAX_ATTEMPTS);
    let html = deliveries_page(&setup).await;
    assert!(
        html.contains(&format!("<code>{pmid}</code>: failed")),
        "{html}"
    );
    assert!(html.contains("HTTP 500"), "{html}");
}

#[tokio::test]
async fn delivery_resumes_after_restart() {
    let receiver = Receiver::start().await;
    receiver.respond_with(503);
    let url = receiver.url();
    let shared = SharedDatabase::create().await;
    let app = TestApp::builder()
        .shared(&shared)
        .with(|settings| settings.allow_private_webhooks = true)
        .spawn()
        .await;
    let mut setup = Setup::on(app, |config| {
        config.deauth_webhook = Some(url);
        config.webhook_secret = Some(SECRET.to_string());
    })
    .await;
    setup.code(&[]).await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;

    leave(&setup, &pmid, &[]).await;
    let job = wait_for_job_after(&setup.app, 1).await;
    assert_eq!(job.state, "queued");
    let failed = receiver.wait_for(1).await;
    let failed_id = failed[0].header("webhook-id").unwrap();
    setup.app.stop().await;

    let restarted = TestApp::builder()
        .shared(&shared)
        .with(|settings| settings.allow_private_webhooks = true)
        .spawn()
        .await;
    receiver.respond_with(200);
    run_due_jobs(&restarted, job.run_at);
    let hooks = receiver.wait_for(2).await;

    assert_eq!(hooks[1].header("webhook-id").unwrap(), failed_id);
    assert_eq!(hooks[1].body, hooks[0].body);
    let done = wait_for_job_after(&restarted, 2).await;
    assert_eq!(done.state, "done");
    let delivery = only_delivery(&restarted, setup.project.id).await;
    assert_eq!(delivery.state, webhooks::DELIVERED);
    assert_eq!(delivery.webhook_id, failed_id);
    let attempts = webhooks::attempts(&restarted.state.db, delivery.id)
        .await
        .unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
}

#[tokio::test]
async fn wrong_secret_fails_until_fixed() {
    const RECEIVER_SECRET: &str = "the-receiver-secret-0123";
    let receiver = Receiver::start().await;
    receiver.verify_with(RECEIVER_SECRET);
    let url = receiver.url();
    let hook_url = url.clone();
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(hook_url);
        config.webhook_secret = Some(SECRET.to_string());
    })
    .await;
    let app = &setup.app;

    leave(&setup, &pmid, &[]).await;
    wait_for_job_after(app, 1).await;
    let delivery = only_delivery(app, setup.project.id).await;
    let attempts = webhooks::attempts(&app.state.db, delivery.id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, Some(403));
    assert_eq!(delivery.state, webhooks::PENDING);
    let html = deliveries_page(&setup).await;
    assert!(html.contains("HTTP 403"), "{html}");

    // The coordinator sets the receiver's secret on the project form, then redelivers.
    let coordinator = crate::support::fixtures::logged_in_client(app, setup.coordinator.id).await;
    let mut fields = valid_fields("Step Study");
    set(&mut fields, "deauth_webhook", &url);
    set(&mut fields, "webhook_secret", RECEIVER_SECRET);
    let update = format!(
        "/direct-sharing/projects/oauth2/update/{}/",
        setup.project.slug
    );
    let saved = post_form(app, &coordinator, &update, &fields, None).await;
    assert_eq!(saved.status(), 303);
    let redeliver = coordinator
        .post(app.url(&format!(
            "/direct-sharing/projects/oauth2/{}/webhooks/{}/redeliver/",
            setup.project.slug, delivery.id
        )))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 303);

    let hooks = receiver.wait_for(2).await;
    assert_eq!(hooks[1].header("webhook-id").unwrap(), delivery.webhook_id);
    let delivered = eventually(Duration::from_secs(15), "a delivered webhook", || async {
        let delivery = only_delivery(app, setup.project.id).await;
        (delivery.state == webhooks::DELIVERED).then_some(delivery)
    })
    .await;
    let attempts = webhooks::attempts(&app.state.db, delivered.id)
        .await
        .unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(statuses, [Some(403), Some(200)]);
}

/// Leaves with a receiver that fails, so a retry waits, then authorizes the project
/// again a second later with the same `project_member_id`. Returns the receiver, the
/// setup, the `project_member_id` and the waiting job.
async fn failed_then_rejoined() -> (Receiver, Setup, String, super::DeliveryJobRow) {
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;
    leave(&setup, &pmid, &[]).await;
    let job = wait_for_job_after(&setup.app, 1).await;
    assert_eq!(job.state, "queued");
    setup.app.clock().advance(openhumans::clock::SECOND);
    setup.code(&[]).await;
    let back = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert_eq!(back.project_member_id, pmid);
    (receiver, setup, pmid, job)
}

#[tokio::test]
async fn waiting_retry_is_superseded_when_member_rejoins() {
    let (receiver, setup, pmid, job) = failed_then_rejoined().await;
    let app = &setup.app;

    assert_eq!(
        only_delivery(app, setup.project.id).await.state,
        webhooks::SUPERSEDED
    );
    receiver.respond_with(200);
    run_due_jobs(app, job.run_at);
    let done = wait_for_job_after(app, 2).await;

    assert_eq!(done.state, "done");
    assert_eq!(
        receiver.received().len(),
        1,
        "only the first, failed attempt"
    );
    let delivery = only_delivery(app, setup.project.id).await;
    assert_eq!(delivery.state, webhooks::SUPERSEDED);
    let html = deliveries_page(&setup).await;
    assert!(
        html.contains(&format!("<code>{pmid}</code>: superseded")),
        "{html}"
    );
    assert!(html.contains("authorized the project again"), "{html}");
    assert!(!html.contains("/redeliver/"), "{html}");
}

#[tokio::test]
async fn pending_delivery_of_returned_member_is_not_sent() {
    let (receiver, setup, _, job) = failed_then_rejoined().await;
    let app = &setup.app;
    // A delivery still marked pending (say, queued by a coordinator's redelivery as
    // the member came back) is checked again when its attempt runs.
    sqlx::query("UPDATE webhook_deliveries SET state = $1, finished_at = NULL")
        .bind(webhooks::PENDING)
        .execute(&app.state.db.pool)
        .await
        .unwrap();

    receiver.respond_with(200);
    run_due_jobs(app, job.run_at);
    wait_for_job_after(app, 2).await;

    assert_eq!(receiver.received().len(), 1);
    let delivery = only_delivery(app, setup.project.id).await;
    assert_eq!(delivery.state, webhooks::SUPERSEDED);
    let attempts = webhooks::attempts(&app.state.db, delivery.id)
        .await
        .unwrap();
    assert_eq!(attempts.len(), 1);
}

#[tokio::test]
async fn redeliver_refuses_withdrawal_of_returned_member() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;
    let app = &setup.app;
    leave(&setup, &pmid, &[]).await;
    let first = wait_for_job_after(app, 1).await;
    assert_eq!(first.state, "done");
    let delivery = only_delivery(app, setup.project.id).await;
    assert_eq!(delivery.state, webhooks::DELIVERED);
    app.clock().advance(openhumans::clock::SECOND);
    setup.code(&[]).await;

    let coordinator = crate::support::fixtures::logged_in_client(app, setup.coordinator.id).await;
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/webhooks/",
        setup.project.slug
    );
    let redeliver = coordinator
        .post(app.url(&format!("{path}{}/redeliver/", delivery.id)))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 303);
    let html = coordinator
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        html.contains("This webhook was not sent again: the member authorized the project"),
        "{html}"
    );
    wait_for_idle_queue(app).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(
        only_delivery(app, setup.project.id).await.state,
        webhooks::SUPERSEDED
    );
}
