//! Deauthorization webhooks: exact body and signatures, retries, the address guard,
//! the deliveries page and redelivery.

use std::time::Duration;

use openhumans::clock::MINUTE;
use openhumans::db::webhooks;

use super::{
    Receiver, SECRET, base64_sha256, count_rows, hex_sha1, joined, leave, wait_for_idle_queue,
};
use crate::support::{TestApp, eventually};

#[tokio::test]
async fn leave_with_erasure_sends_signed_webhook() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(url);
        config.webhook_secret = Some(SECRET.to_string());
        config.erasure_supported = true;
    })
    .await;

    let response = leave(&setup, &pmid, &[("erasure_requested", "on")]).await;

    assert_eq!(response.status(), 303);
    let hooks = receiver.wait_for(1).await;
    wait_for_idle_queue(&setup.app).await;
    assert_eq!(receiver.received().len(), 1, "exactly one POST");
    let hook = &hooks[0];
    let body = std::str::from_utf8(&hook.body).unwrap();
    let prefix = format!(
        "{{\"project_member_id\": \"{pmid}\", \"erasure_requested\": true, \"timestamp\": \""
    );
    assert!(body.starts_with(&prefix), "{body}");
    assert!(body.ends_with("+00:00\"}"), "{body}");
    let timestamp = hook.json()["timestamp"].as_str().unwrap().to_string();
    assert_eq!(timestamp.len(), "2020-06-30T20:00:00.000000+00:00".len());
    assert_eq!(
        hook.header("x-openhumans-webhooks-signature").unwrap(),
        format!("sha1={}", hex_sha1(SECRET, &hook.body))
    );
    assert_eq!(hook.header("content-type").unwrap(), "application/json");
    let id = hook.header("webhook-id").unwrap();
    assert!(id.starts_with("msg_"), "{id}");
    let sent_at: i64 = hook.header("webhook-timestamp").unwrap().parse().unwrap();
    let signed = format!("{id}.{sent_at}.{body}");
    assert_eq!(
        hook.header("webhook-signature").unwrap(),
        format!("v1,{}", base64_sha256(SECRET, signed.as_bytes()))
    );
    let deliveries = webhooks::list_for_project(&setup.app.state.db, setup.project.id, 10, 0)
        .await
        .unwrap();
    assert_eq!(deliveries[0].state, webhooks::DELIVERED);
}

#[tokio::test]
async fn leave_without_erasure_sends_unsigned_false() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;

    leave(&setup, &pmid, &[]).await;

    let hooks = receiver.wait_for(1).await;
    let hook = &hooks[0];
    assert_eq!(hook.json()["erasure_requested"], false);
    assert_eq!(hook.json()["project_member_id"], pmid.as_str());
    assert!(hook.header("x-openhumans-webhooks-signature").is_none());
    assert!(hook.header("webhook-signature").is_none());
    assert!(hook.header("webhook-id").is_some());
    assert!(hook.header("webhook-timestamp").is_some());
}

#[tokio::test]
async fn delivery_retries_until_receiver_is_up() {
    // Reserve a port, then close it, so the first attempt finds nothing listening.
    let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let url = format!("http://{addr}/deauth");
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(url);
        config.webhook_secret = Some(SECRET.to_string());
    })
    .await;
    let db = setup.app.state.db.clone();

    leave(&setup, &pmid, &[]).await;
    let delivery_id = eventually(Duration::from_secs(15), "a failed attempt", || async {
        let delivery = webhooks::list_for_project(&db, setup.project.id, 1, 0)
            .await
            .unwrap()
            .pop()?;
        let attempts = webhooks::attempts(&db, delivery.id).await.unwrap();
        (!attempts.is_empty()).then_some(delivery.id)
    })
    .await;
    let first = webhooks::attempts(&db, delivery_id).await.unwrap();
    assert_eq!(first[0].status_code, None);
    assert!(
        first[0].error.as_deref().unwrap().contains("connection"),
        "{first:?}"
    );

    let receiver = Receiver::start_on(addr).await;
    setup.app.clock().advance(2 * MINUTE);
    let hooks = receiver.wait_for(1).await;

    let delivery = webhooks::find_by_id(&db, delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hooks[0].header("webhook-id").unwrap(), delivery.webhook_id);
    wait_for_idle_queue(&setup.app).await;
    let delivery = webhooks::find_by_id(&db, delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.state, webhooks::DELIVERED);

    // The deliveries page lists both attempts, and redelivery sends the same message.
    let coordinator =
        crate::support::fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
    let page_path = format!(
        "/direct-sharing/projects/oauth2/{}/webhooks/",
        setup.project.slug
    );
    let html = coordinator
        .get(setup.app.url(&page_path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("HTTP 200"), "{html}");
    assert!(html.contains("connection failed"), "{html}");
    assert!(html.contains(&delivery.webhook_id));
    let redeliver = coordinator
        .post(
            setup
                .app
                .url(&format!("{page_path}{delivery_id}/redeliver/")),
        )
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 303);
    let hooks = receiver.wait_for(2).await;
    assert_eq!(hooks[1].header("webhook-id").unwrap(), delivery.webhook_id);
    assert_eq!(hooks[1].body, hooks[0].body);
    // The attempt is recorded after the receiver has responded, so wait for the queue.
    wait_for_idle_queue(&setup.app).await;
    assert_eq!(webhooks::attempts(&db, delivery_id).await.unwrap().len(), 3);
}

#[tokio::test]
async fn private_address_is_refused_and_recorded() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let url = receiver.url();
    let setup = crate::oauth2::Setup::on(app, |config| config.deauth_webhook = Some(url)).await;
    setup.code(&[]).await;
    let pmid = crate::oauth2::membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let db = setup.app.state.db.clone();

    leave(&setup, &pmid, &[]).await;

    let delivery = eventually(Duration::from_secs(15), "a failed delivery", || async {
        let delivery = webhooks::list_for_project(&db, setup.project.id, 1, 0)
            .await
            .unwrap()
            .pop()?;
        (delivery.state == webhooks::FAILED).then_some(delivery)
    })
    .await;
    let attempts = webhooks::attempts(&db, delivery.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert!(
        attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("not a public address"),
        "{attempts:?}"
    );
    // The delivery row turns failed before the job records its own end.
    wait_for_idle_queue(&setup.app).await;
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM jobs WHERE kind = 'deliver_webhook'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "failed", "a refused delivery is not retried");
    assert!(receiver.received().is_empty());
    assert_eq!(
        count_rows(&setup.app, "withdrawals", setup.project.id).await,
        1
    );
}

#[tokio::test]
async fn gone_receiver_turns_webhook_off_until_saved() {
    let receiver = Receiver::start().await;
    receiver.respond_with(410);
    let url = receiver.url();
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;
    let db = setup.app.state.db.clone();

    leave(&setup, &pmid, &[]).await;
    receiver.wait_for(1).await;
    wait_for_idle_queue(&setup.app).await;
    let delivery = webhooks::list_for_project(&db, setup.project.id, 1, 0)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(delivery.state, webhooks::FAILED, "a 410 is not retried");
    assert!(
        webhooks::disabled_since(&db, setup.project.id)
            .await
            .unwrap()
            .is_some()
    );
    let coordinator =
        crate::support::fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
    let detail = format!("/direct-sharing/projects/oauth2/{}/", setup.project.slug);
    let html = coordinator
        .get(setup.app.url(&detail))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("responded 410 Gone"), "{html}");

    // While off, a redelivery fails without reaching the receiver.
    receiver.respond_with(200);
    let redeliver_path = format!("{detail}webhooks/{}/redeliver/", delivery.id);
    let redeliver = coordinator
        .post(setup.app.url(&redeliver_path))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 303);
    wait_for_idle_queue(&setup.app).await;
    assert_eq!(receiver.received().len(), 1);
    let attempts = webhooks::attempts(&db, delivery.id).await.unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(
        attempts[1].error.as_deref().unwrap().contains("410 Gone"),
        "{attempts:?}"
    );

    // Saving the project turns the webhook back on, and redelivery reaches it.
    let project = openhumans::db::projects::find_by_id(&db, setup.project.id)
        .await
        .unwrap()
        .unwrap();
    openhumans::db::projects::update_config(
        &db,
        project.id,
        &project.config,
        setup.app.clock().now(),
    )
    .await
    .unwrap();
    assert!(
        webhooks::disabled_since(&db, setup.project.id)
            .await
            .unwrap()
            .is_none()
    );
    let redeliver = coordinator
        .post(setup.app.url(&redeliver_path))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(redeliver.status(), 303);
    receiver.wait_for(2).await;
    wait_for_idle_queue(&setup.app).await;
    let delivery = webhooks::find_by_id(&db, delivery.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.state, webhooks::DELIVERED);
}
