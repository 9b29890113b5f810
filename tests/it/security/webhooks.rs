//! Attacks through the deauthorization webhook: a receiver that never responds, a
//! redirect towards an internal address, loopback addresses in disguise, and a
//! captured delivery replayed later.

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use openhumans::db::{projects, webhooks};
use openhumans::http::webhook_client::TIMEOUT;

use crate::oauth2::{Setup, membership};
use crate::projects::{CREATE_PATH, post_form, project_count, set, valid_fields};
use crate::support::{TestApp, eventually, fixtures};
use crate::withdrawal::{
    Receiver, SECRET, base64_sha256, hex_sha1, joined, leave, run_due_jobs, wait_for_idle_queue,
    wait_for_job_after,
};

#[tokio::test]
async fn hanging_receiver_does_not_hold_leave() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts every connection and keeps it open without ever responding.
    let holder = tokio::spawn(async move {
        let mut open_sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open_sockets.push(socket);
        }
    });
    let url = format!("http://{addr}/deauth");
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;

    let started = Instant::now();
    let response = leave(&setup, &pmid, &[]).await;
    let elapsed = started.elapsed();

    assert_eq!(response.status(), 303);
    assert!(
        elapsed < TIMEOUT / 2,
        "leaving waited {elapsed:?} for the receiver"
    );
    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(!after.status.is_active(true), "the withdrawal is done");
    let attempt = first_attempt(&setup, TIMEOUT * 3).await;
    assert_eq!(attempt.status_code, None);
    let error = attempt.error.unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
    holder.abort();
}

#[tokio::test]
async fn webhook_redirect_is_not_followed() {
    let internal = Receiver::start().await;
    let target = internal.url();
    let redirecting = axum::Router::new().route(
        "/deauth",
        axum::routing::post(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, redirecting).await.unwrap() });
    let url = format!("http://{addr}/deauth");
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url)).await;

    leave(&setup, &pmid, &[]).await;

    let attempt = first_attempt(&setup, Duration::from_secs(15)).await;
    assert_eq!(attempt.status_code, Some(307));
    wait_for_idle_queue(&setup.app).await;
    assert!(
        internal.received().is_empty(),
        "the redirect target got a POST"
    );
    server.abort();
}

#[tokio::test]
async fn disguised_loopback_hosts_are_rejected() {
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();
    let disguised = [
        format!("http://2130706433:{port}/deauth"),
        format!("http://0x7f.1:{port}/deauth"),
        format!("http://127.1:{port}/deauth"),
        format!("http://0.0.0.0:{port}/deauth"),
        format!("http://[::1]:{port}/deauth"),
        format!("http://[::ffff:127.0.0.1]:{port}/deauth"),
        format!("http://[::ffff:7f00:1]:{port}/deauth"),
    ];
    let app = TestApp::spawn().await;
    let setup = Setup::on(app, |_| {}).await;
    let app = &setup.app;
    let coordinator = fixtures::logged_in_client(app, setup.coordinator.id).await;

    // Saving the project form rejects each address.
    for url in &disguised {
        let mut fields = valid_fields("Disguised Hook");
        set(&mut fields, "deauth_webhook", url);

        let response = post_form(app, &coordinator, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 422, "{url}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"deauth_webhook-error\">Deauthorization webhook URL must reach a public address"),
            "{url}: no error next to the webhook field"
        );
    }
    assert_eq!(project_count(app).await, 1, "only the fixture exists");

    // A URL stored without the form, as one saved while the operator allowed local
    // hosts, is rejected again before each delivery.
    for (index, url) in disguised.iter().enumerate() {
        let mut project = projects::find_by_id(&app.state.db, setup.project.id)
            .await
            .unwrap()
            .unwrap();
        project.config.deauth_webhook = Some(url.clone());
        projects::update_config(
            &app.state.db,
            project.id,
            &project.config,
            app.clock().now(),
        )
        .await
        .unwrap();
        setup.code(&[]).await;
        let pmid = membership(app, setup.project.id, setup.member.id)
            .await
            .unwrap()
            .project_member_id;

        let response = leave(&setup, &pmid, &[]).await;

        assert_eq!(response.status(), 303, "{url}");
        let deliveries = eventually(Duration::from_secs(15), "a rejected delivery", || async {
            let deliveries = webhooks::list_for_project(&app.state.db, setup.project.id, 100, 0)
                .await
                .unwrap();
            let all_failed = deliveries.iter().all(|d| d.state == webhooks::FAILED);
            (deliveries.len() == index + 1 && all_failed).then_some(deliveries)
        })
        .await;
        for delivery in deliveries {
            let attempts = webhooks::attempts(&app.state.db, delivery.id)
                .await
                .unwrap();
            let error = attempts[0].error.clone().unwrap_or_default();
            assert!(error.contains("not a public address"), "{url}: {error}");
        }
    }
    assert!(
        receiver.received().is_empty(),
        "no delivery reached loopback"
    );
}

#[tokio::test]
async fn retried_delivery_is_signed_anew() {
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let url = receiver.url();
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(url);
        config.webhook_secret = Some(SECRET.to_string());
    })
    .await;

    leave(&setup, &pmid, &[]).await;
    let job = wait_for_job_after(&setup.app, 1).await;
    assert_eq!(job.state, "queued", "a 500 is retried");
    receiver.respond_with(200);
    run_due_jobs(&setup.app, job.run_at);
    let hooks = receiver.wait_for(2).await;

    let (first, second) = (&hooks[0], &hooks[1]);
    assert_eq!(first.body, second.body);
    // Kept for compatibility: the SHA-1 signature covers the body alone, so a
    // captured delivery carries a signature that stays valid.
    let sha1 = "x-openhumans-webhooks-signature";
    let expected = format!("sha1={}", hex_sha1(SECRET, &first.body));
    assert_eq!(first.header(sha1).unwrap(), expected);
    assert_eq!(second.header(sha1).unwrap(), expected);
    // Added: the SHA-256 signature also covers the delivery id and the time of the
    // attempt, so a receiver that checks the time can reject a replayed delivery.
    let id = first.header("webhook-id").unwrap();
    assert_eq!(second.header("webhook-id").unwrap(), id);
    let first_time: i64 = first.header("webhook-timestamp").unwrap().parse().unwrap();
    let second_time: i64 = second.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!(second_time > first_time, "each attempt has its own time");
    let body = std::str::from_utf8(&first.body).unwrap();
    for (hook, time) in [(first, first_time), (second, second_time)] {
        let signed = format!("{id}.{time}.{body}");
        assert_eq!(
            hook.header("webhook-signature").unwrap(),
            format!("v1,{}", base64_sha256(SECRET, signed.as_bytes()))
        );
    }
    assert_ne!(
        first.header("webhook-signature"),
        second.header("webhook-signature"),
        "an old signature does not fit a new time"
    );
}

/// Waits for the first recorded attempt of the project's first webhook delivery.
async fn first_attempt(setup: &Setup, timeout: Duration) -> webhooks::Attempt {
    let db = &setup.app.state.db;
    eventually(timeout, "a recorded delivery attempt", || async {
        let delivery = webhooks::list_for_project(db, setup.project.id, 1, 0)
            .await
            .unwrap()
            .pop()?;
        webhooks::attempts(db, delivery.id)
            .await
            .unwrap()
            .into_iter()
            .next()
    })
    .await
}
