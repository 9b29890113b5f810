//! Sending survives restarts: the mail server goes away part way through, the app
//! stops, both come back, and every recipient ends up with their email. A recipient
//! may get a duplicate only with the same `Message-ID`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openhumans::clock::MINUTE;

use super::{add_member, post_message, wait_until_sent};
use crate::api::ApiSetup;
use crate::oauth2::Setup;
use crate::support::smtp::SmtpServer;
use crate::support::{SharedDatabase, TestApp, eventually};

/// Recipients of the message: the setup's member and this many more.
const EXTRA_MEMBERS: usize = 59;

#[tokio::test]
async fn restart_mid_send_loses_nothing() {
    let shared = SharedDatabase::create().await;
    let mut first_smtp = SmtpServer::start().await;
    let port = first_smtp.port;
    let url = first_smtp.url();
    let app = TestApp::builder()
        .shared(&shared)
        .with(move |settings| {
            settings.smtp_url = Some(url);
            settings.workers = 1;
        })
        .spawn()
        .await;
    let mut api = ApiSetup::from_setup(Setup::on(app, |_| {}).await).await;
    let mut expected = BTreeSet::from([api.setup.member.email.clone()]);
    for n in 0..EXTRA_MEMBERS {
        let (member, _) = add_member(api.app(), api.project_id(), &format!("member_{n}")).await;
        expected.insert(member.email);
    }

    let response = post_message(
        &api,
        &api.master_token,
        &[
            ("subject", "S"),
            ("message", "M {{ PROJECT_MEMBER_ID }}"),
            ("all_members", "true"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);

    // The mail server disappears after a few emails: the jobs running then fail and
    // wait for a retry. Then the app stops with most emails still queued.
    first_smtp
        .wait_for_messages(3, Duration::from_secs(20))
        .await;
    first_smtp.kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.setup.app.stop().await;
    let mut received = first_smtp.raw_messages();
    let before_restart = received.len();
    assert!(
        before_restart < expected.len(),
        "every email went out before the restart"
    );

    let second_smtp = SmtpServer::start_on(port).await;
    let url = second_smtp.url();
    let restarted = TestApp::builder()
        .shared(&shared)
        .with(move |settings| settings.smtp_url = Some(url))
        .spawn()
        .await;
    // Retries wait with backoff; moving the clock makes them due now.
    restarted.clock().advance(10 * MINUTE);
    restarted.state.job_signal.notify();
    wait_until_sent(&restarted).await;
    received.extend(second_smtp.raw_messages());

    let mut ids_by_recipient: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for raw in &received {
        let email = crate::support::mail::parse_email(raw).expect("a parsable email");
        ids_by_recipient
            .entry(email.to.clone())
            .or_default()
            .insert(email.message_id.clone());
    }
    let recipients: BTreeSet<String> = ids_by_recipient.keys().cloned().collect();
    assert_eq!(recipients, expected);
    for (recipient, ids) in &ids_by_recipient {
        assert_eq!(
            ids.len(),
            1,
            "{recipient} got different Message-IDs: {ids:?}"
        );
    }
    let states: Vec<(String,)> = eventually(Duration::from_secs(5), "recipient states", || async {
        sqlx::query_as("SELECT state FROM message_recipients")
            .fetch_all(&restarted.state.db.pool)
            .await
            .ok()
    })
    .await;
    assert_eq!(states.len(), expected.len());
    assert!(states.iter().all(|(state,)| state == "sent"), "{states:?}");
}
