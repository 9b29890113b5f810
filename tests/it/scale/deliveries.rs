//! Many queued deliveries with the workers of both instances claiming them: every one
//! is delivered, and none twice.

use std::collections::HashSet;
use std::time::Duration;

use openhumans::db::Db;
use openhumans::db::webhooks::{self, NewDelivery};
use openhumans::db::withdrawals::{self, Withdrawal};
use openhumans::domain::webhooks::{deauthorization_body, new_webhook_id};

use super::receiver::{StallingReceiver, tally};
use super::{Cluster, attempt_instances, cluster_postgres_url, count};
use crate::support::eventually;

/// Queues `count` deliveries to the project's webhook in one transaction, as that
/// many withdrawals would; returns their `webhook-id`s.
pub async fn queue_deliveries(db: &Db, project_id: i64, count: usize) -> Vec<String> {
    let now = openhumans::clock::Clock::default().now();
    let mut tx = db.begin_write().await.expect("starting a transaction");
    let withdrawal = Withdrawal {
        id: 0,
        project_id,
        project_member_id: "00000000".to_string(),
        reason: "self".to_string(),
        erasure_requested: false,
        files_deleted: false,
        at: now,
    };
    let withdrawal_id = withdrawals::insert(&mut *tx, &withdrawal)
        .await
        .expect("inserting a withdrawal");
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let project_member_id = format!("{:08}", 10_000_000 + n);
        let body = deauthorization_body(&project_member_id, false, now);
        let webhook_id = new_webhook_id();
        let delivery = NewDelivery {
            project_id,
            withdrawal_id,
            webhook_id: &webhook_id,
            project_member_id: &project_member_id,
            body: &body,
        };
        webhooks::queue_new(&mut tx, &delivery, now)
            .await
            .expect("queueing a delivery");
        ids.push(webhook_id);
    }
    tx.commit().await.expect("committing the deliveries");
    ids
}

/// Waits until every delivery of the cluster is delivered, failing after `timeout`.
pub async fn wait_until_delivered(cluster: &Cluster, expected: i64, timeout: Duration) {
    let db = cluster.db.clone();
    let what = format!("{expected} delivered webhooks");
    eventually(timeout, &what, || async {
        let delivered = count(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'",
        )
        .await;
        (delivered == expected).then_some(())
    })
    .await;
}

#[tokio::test]
async fn thousand_webhooks_each_delivered_once() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let receiver = StallingReceiver::start().await;
    let cluster = Cluster::start(&postgres, 30).await;
    let project = cluster.create_project(&receiver.url());
    let project_id = project["id"].as_i64().expect("the project id");

    let queued = queue_deliveries(&cluster.db, project_id, 1_000).await;
    wait_until_delivered(&cluster, 1_000, Duration::from_secs(150)).await;

    let arrivals = receiver.arrivals();
    let repeated: Vec<_> = tally(&arrivals)
        .into_iter()
        .filter(|(_, times)| *times > 1)
        .collect();
    assert!(
        repeated.is_empty(),
        "delivered more than once: {repeated:?}"
    );
    assert_eq!(arrivals.len(), 1_000, "{}", cluster.output());
    let received: HashSet<&String> = arrivals.iter().collect();
    let expected: HashSet<&String> = queued.iter().collect();
    assert_eq!(received, expected);
    let done = count(
        &cluster.db,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver_webhook' AND state = 'done'",
    )
    .await;
    assert_eq!(done, 1_000);
    // A failed attempt that never reached the receiver (a database error on a busy
    // machine, say) is retried and does not break the rule above; it is shown for
    // diagnosis only.
    let failed: Vec<(String,)> =
        sqlx::query_as("SELECT error FROM job_attempts WHERE error IS NOT NULL")
            .fetch_all(&cluster.db.pool)
            .await
            .unwrap();
    if !failed.is_empty() {
        eprintln!("attempts that failed and were retried: {failed:?}");
    }
    let instances = attempt_instances(
        &cluster.db,
        "job_id IN (SELECT id FROM jobs WHERE kind = 'deliver_webhook')",
    )
    .await;
    assert_eq!(
        instances.len(),
        2,
        "both instances' workers delivered: {instances:?}"
    );
}
