//! An instance killed while its workers hold leases: the other instance finishes the
//! work once the leases expire, nothing is lost, and a repeated webhook delivery
//! carries the same `webhook-id`, a repeated email the same `Message-ID`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use openhumans::db::jobs::LEASE_EXPIRED;

use super::deliveries::{queue_deliveries, wait_until_delivered};
use super::messages::{
    assert_all_sent, message_ids_by_recipient, seed_permitted_members, send_message,
    stored_message_ids, wait_until_messages_done,
};
use super::receiver::{StallingReceiver, tally};
use super::{Cluster, attempt_instances, cluster_postgres_url, count, instance_of};
use crate::support::eventually;
use crate::support::smtp::SmtpServer;

/// Deliveries queued: more than the four workers can hold at once.
const DELIVERIES: usize = 8;
/// Workers per instance, as [`Cluster::start`] configures them.
const WORKERS: usize = 2;

#[tokio::test]
async fn killed_instance_leases_are_taken_over() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let receiver = StallingReceiver::start().await;
    // Short leases, so the takeover happens within seconds.
    let mut cluster = Cluster::start(&postgres, 2).await;
    let project = cluster.create_project(&receiver.url());
    let project_id = project["id"].as_i64().expect("the project id");

    // Every worker of both instances gets stuck in a delivery.
    receiver.stall();
    let queued = queue_deliveries(&cluster.db, project_id, DELIVERIES).await;
    receiver
        .wait_for(2 * WORKERS, Duration::from_secs(30))
        .await;
    let holders = lease_holders(&cluster).await;
    assert_eq!(holders.len(), 2, "both instances hold leases: {holders:?}");
    assert!(
        holders.values().all(|&leases| leases == WORKERS),
        "each worker holds one lease: {holders:?}"
    );

    // SIGKILL runs no clean-up: the killed workers' leases stay until they expire.
    cluster.instances[0].process.kill();
    receiver.release();
    wait_until_delivered(&cluster, DELIVERIES as i64, Duration::from_secs(60)).await;

    let arrivals = receiver.arrivals();
    let received: HashSet<&String> = arrivals.iter().collect();
    let expected: HashSet<&String> = queued.iter().collect();
    assert_eq!(
        received, expected,
        "every delivery arrived, under its own id"
    );
    // Exactly the deliveries the killed instance had in flight arrived twice.
    let repeated: Vec<usize> = tally(&arrivals)
        .into_values()
        .filter(|&times| times > 1)
        .collect();
    assert_eq!(repeated, vec![2; WORKERS], "{arrivals:?}");
    let expired = count(
        &cluster.db,
        "SELECT COUNT(*) FROM job_attempts WHERE error LIKE 'the lease expired%'",
    )
    .await;
    assert_eq!(
        expired, WORKERS as i64,
        "attempts ended with {LEASE_EXPIRED:?}"
    );
    let done = count(
        &cluster.db,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver_webhook' AND state = 'done'",
    )
    .await;
    assert_eq!(done, DELIVERIES as i64);

    // The attempts cut off by the kill belong to one instance, and the other one
    // made the second attempts.
    let expired_by = attempt_instances(&cluster.db, "error LIKE 'the lease expired%'").await;
    let retried_by = attempt_instances(&cluster.db, "attempt = 2").await;
    assert_eq!(expired_by.len(), 1, "{expired_by:?}");
    assert_eq!(retried_by.len(), 1, "{retried_by:?}");
    assert_ne!(expired_by, retried_by);
}

/// Message recipients: more than the four workers can hold at once.
const MESSAGES: usize = 8;

#[tokio::test]
async fn killed_instance_message_leases_are_taken_over() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let smtp = SmtpServer::start_holding().await;
    let smtp_url = smtp.url();
    let mut cluster = Cluster::start_with(&postgres, 2, &[("SMTP_URL", &smtp_url)]).await;
    let project = cluster.create_project("https://example.org/deauth");
    let project_id = project["id"].as_i64().expect("the project id");
    let token = project["master_access_token"]
        .as_str()
        .expect("the master access token");
    let members = seed_permitted_members(&cluster, project_id, MESSAGES).await;

    // Every worker of both instances gets stuck waiting for the reply to DATA; the
    // server has stored each of those emails already.
    smtp.hold();
    send_message(&cluster.instances[1], token, &members).await;
    smtp.wait_for_held(2 * WORKERS, Duration::from_secs(30))
        .await;
    let holders = lease_holders(&cluster).await;
    assert_eq!(holders.len(), 2, "both instances hold leases: {holders:?}");
    assert!(
        holders.values().all(|&leases| leases == WORKERS),
        "each worker holds one lease: {holders:?}"
    );

    // The killed workers never see their emails accepted, so they never mark them sent.
    cluster.instances[0].process.kill();
    smtp.release();
    wait_until_messages_done(&cluster, MESSAGES as i64, Duration::from_secs(60)).await;

    let emails = smtp.messages();
    let by_recipient = message_ids_by_recipient(&emails);
    let received: BTreeSet<&str> = by_recipient.keys().copied().collect();
    let expected: BTreeSet<&str> = members.iter().map(|member| member.email.as_str()).collect();
    assert_eq!(received, expected, "every recipient got an email");
    let stored = stored_message_ids(&cluster).await;
    for (recipient, ids) in &by_recipient {
        let fixed = stored.get(*recipient).map(String::as_str);
        assert!(
            ids.iter().all(|id| Some(*id) == fixed),
            "{recipient} got {ids:?}, not only the Message-ID fixed when queued ({fixed:?})"
        );
    }
    // Exactly the emails the killed instance had in flight arrived twice.
    let repeated: BTreeMap<&str, usize> = by_recipient
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(recipient, ids)| (*recipient, ids.len()))
        .collect();
    let cut_off = cut_off_recipients(&cluster).await;
    assert_eq!(
        cut_off.len(),
        WORKERS,
        "attempts ended with {LEASE_EXPIRED:?}"
    );
    let cut_off_twice: BTreeMap<&str, usize> =
        cut_off.iter().map(|email| (email.as_str(), 2)).collect();
    assert_eq!(repeated, cut_off_twice, "{}", cluster.output());
    assert_all_sent(&cluster, MESSAGES as i64).await;

    let expired_by = attempt_instances(&cluster.db, "error LIKE 'the lease expired%'").await;
    let retried_by = attempt_instances(&cluster.db, "attempt = 2").await;
    assert_eq!(expired_by.len(), 1, "{expired_by:?}");
    assert_eq!(retried_by.len(), 1, "{retried_by:?}");
    assert_ne!(expired_by, retried_by);
}

/// Returns the addresses of the message jobs whose attempts were cut off by an
/// expired lease.
async fn cut_off_recipients(cluster: &Cluster) -> BTreeSet<String> {
    let payloads: Vec<(String,)> = sqlx::query_as(
        "SELECT j.payload FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
         WHERE j.kind = 'send_project_message' AND a.error LIKE 'the lease expired%'",
    )
    .fetch_all(&cluster.db.pool)
    .await
    .expect("listing cut-off attempts");
    let mut addresses = BTreeSet::new();
    for (payload,) in payloads {
        let payload: serde_json::Value =
            serde_json::from_str(&payload).expect("a JSON job payload");
        let recipient_id = payload["recipient_id"].as_i64().expect("a recipient id");
        let (email,): (String,) = sqlx::query_as(
            "SELECT u.email FROM message_recipients r JOIN members u ON u.id = r.member_id \
             WHERE r.id = $1",
        )
        .bind(recipient_id)
        .fetch_one(&cluster.db.pool)
        .await
        .expect("finding the recipient");
        addresses.insert(email);
    }
    addresses
}

/// Waits until all workers hold leases and returns the number each instance holds.
async fn lease_holders(cluster: &Cluster) -> HashMap<String, usize> {
    let db = cluster.db.clone();
    eventually(Duration::from_secs(10), "four held leases", || async {
        let workers: Vec<(String,)> =
            sqlx::query_as("SELECT locked_by FROM jobs WHERE state = 'running'")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        if workers.len() < 2 * WORKERS {
            return None;
        }
        let mut holders = HashMap::new();
        for (worker,) in &workers {
            *holders.entry(instance_of(worker).to_string()).or_insert(0) += 1;
        }
        Some(holders)
    })
    .await
}
