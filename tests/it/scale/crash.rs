//! An instance killed while its workers hold leases: the other instance finishes the
//! work once the leases expire, nothing is lost, and a repeated delivery carries the
//! same `webhook-id`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use openhumans::db::jobs::LEASE_EXPIRED;

use super::deliveries::{queue_deliveries, wait_until_delivered};
use super::receiver::{StallingReceiver, tally};
use super::{Cluster, attempt_instances, cluster_postgres_url, count, instance_of};
use crate::support::eventually;

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
