//! Project messages sent by the workers of both instances through one SMTP server:
//! every recipient gets their email once, under the `Message-ID` fixed when it was
//! queued.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use openhumans::db::members::{NewMember, insert_with};
use openhumans::db::{memberships, projects};
use openhumans::domain::membership::Snapshot;

use super::{Cluster, Instance, attempt_instances, cluster_postgres_url, count};
use crate::support::eventually;
use crate::support::mail::ReceivedEmail;
use crate::support::smtp::SmtpServer;

/// Recipients of the large message: the default daily limit of one project.
const RECIPIENTS: usize = 1_000;

/// One seeded member who granted the project the message permission.
pub struct PermittedMember {
    pub email: String,
    pub project_member_id: String,
}

/// Creates `count` members who joined `project_id` and granted everything it requests
/// (the message permission included), in one transaction.
pub async fn seed_permitted_members(
    cluster: &Cluster,
    project_id: i64,
    count: usize,
) -> Vec<PermittedMember> {
    let db = &cluster.db;
    let project = projects::find_by_id(db, project_id)
        .await
        .expect("reading the project")
        .expect("the project exists");
    let snapshot = Snapshot::requested_by(&project.config);
    assert!(snapshot.message_permission, "the project requests messages");
    // These members never sign in, so one password hash is enough for all of them.
    let password_hash = openhumans::domain::password::hash(crate::support::fixtures::PASSWORD);
    let now = openhumans::clock::Clock::default().now();
    let mut tx = db.begin_write().await.expect("starting a transaction");
    let mut seeded = Vec::with_capacity(count);
    for n in 0..count {
        let username = format!("recipient_{n}");
        let email = format!("{username}@example.org");
        let member = NewMember {
            username: &username,
            email: &email,
            password_hash: &password_hash,
            is_admin: false,
            email_verified: true,
        };
        let member_id = insert_with(&mut *tx, &member, now)
            .await
            .expect("inserting a member");
        let membership = memberships::find_or_create(&mut tx, project_id, member_id, now)
            .await
            .expect("creating a membership");
        memberships::authorize(&mut tx, membership.id, &snapshot, now)
            .await
            .expect("authorizing the project");
        seeded.push(PermittedMember {
            email,
            project_member_id: membership.project_member_id,
        });
    }
    tx.commit().await.expect("committing the members");
    seeded
}

/// Sends one message to `members` through `instance` with the project's master
/// access token, failing unless it is queued.
pub async fn send_message(instance: &Instance, token: &str, members: &[PermittedMember]) {
    let ids: Vec<&str> = members
        .iter()
        .map(|member| member.project_member_id.as_str())
        .collect();
    let response = reqwest::Client::new()
        .post(instance.url("/api/direct-sharing/project/message/"))
        .query(&[("access_token", token)])
        .form(&[
            ("subject", "Scale test"),
            ("message", "Hello {{ PROJECT_MEMBER_ID }}."),
            ("project_member_ids", &ids.join(",")),
        ])
        .send()
        .await
        .expect("posting the message");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "queueing the message: {body}");
}

/// Waits until `expected` message jobs are done, failing after `timeout`.
pub async fn wait_until_messages_done(cluster: &Cluster, expected: i64, timeout: Duration) {
    let db = cluster.db.clone();
    let what = format!("{expected} message jobs done");
    eventually(timeout, &what, || async {
        let done = count(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'send_project_message' AND state = 'done'",
        )
        .await;
        (done == expected).then_some(())
    })
    .await;
}

/// Returns the `Message-ID` stored for each recipient's email, keyed by address,
/// without the angle brackets (as the received emails show it).
pub async fn stored_message_ids(cluster: &Cluster) -> BTreeMap<String, String> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.email, r.message_id_header FROM message_recipients r \
         JOIN members u ON u.id = r.member_id",
    )
    .fetch_all(&cluster.db.pool)
    .await
    .expect("listing message recipients");
    rows.into_iter()
        .map(|(email, header)| (email, header.trim_matches(['<', '>']).to_string()))
        .collect()
}

/// Groups the received emails by recipient address, with the `Message-ID` of each.
pub fn message_ids_by_recipient(emails: &[ReceivedEmail]) -> HashMap<&str, Vec<&str>> {
    let mut by_recipient: HashMap<&str, Vec<&str>> = HashMap::new();
    for email in emails {
        by_recipient
            .entry(email.to.as_str())
            .or_default()
            .push(email.message_id.as_str());
    }
    by_recipient
}

/// Checks that every recipient row is sent and every message job is done.
pub async fn assert_all_sent(cluster: &Cluster, expected: i64) {
    let sent = count(
        &cluster.db,
        "SELECT COUNT(*) FROM message_recipients WHERE state = 'sent'",
    )
    .await;
    let rows = count(&cluster.db, "SELECT COUNT(*) FROM message_recipients").await;
    assert_eq!(
        (sent, rows),
        (expected, expected),
        "recipient rows all sent"
    );
    let jobs = count(
        &cluster.db,
        "SELECT COUNT(*) FROM jobs WHERE kind = 'send_project_message' AND state <> 'done'",
    )
    .await;
    assert_eq!(jobs, 0, "message jobs not done");
}

#[tokio::test]
async fn thousand_messages_each_sent_once() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let smtp = SmtpServer::start().await;
    let smtp_url = smtp.url();
    let cluster = Cluster::start_with(&postgres, 30, &[("SMTP_URL", &smtp_url)]).await;
    let project = cluster.create_project("https://example.org/deauth");
    let project_id = project["id"].as_i64().expect("the project id");
    let token = project["master_access_token"]
        .as_str()
        .expect("the master access token");
    let members = seed_permitted_members(&cluster, project_id, RECIPIENTS).await;

    // Half the recipients through each instance, both within the project's daily limit.
    let (first, second) = members.split_at(RECIPIENTS / 2);
    send_message(&cluster.instances[0], token, first).await;
    send_message(&cluster.instances[1], token, second).await;
    wait_until_messages_done(&cluster, RECIPIENTS as i64, Duration::from_secs(120)).await;

    let emails = smtp
        .wait_for_messages(RECIPIENTS, Duration::from_secs(10))
        .await;
    let by_recipient = message_ids_by_recipient(&emails);
    let repeated: Vec<_> = by_recipient
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    assert_eq!(emails.len(), RECIPIENTS, "{}", cluster.output());
    let received: BTreeSet<&str> = by_recipient.keys().copied().collect();
    let expected: BTreeSet<&str> = members.iter().map(|member| member.email.as_str()).collect();
    assert_eq!(received, expected, "every recipient got an email");
    let ids: BTreeSet<&str> = emails
        .iter()
        .map(|email| email.message_id.as_str())
        .collect();
    assert_eq!(ids.len(), RECIPIENTS, "no Message-ID used twice");
    let stored = stored_message_ids(&cluster).await;
    for (recipient, ids) in &by_recipient {
        assert_eq!(
            Some(ids[0]),
            stored.get(*recipient).map(String::as_str),
            "{recipient} got the Message-ID fixed when the message was queued"
        );
    }
    assert_all_sent(&cluster, RECIPIENTS as i64).await;

    let instances = attempt_instances(
        &cluster.db,
        "job_id IN (SELECT id FROM jobs WHERE kind = 'send_project_message')",
    )
    .await;
    assert_eq!(
        instances.len(),
        2,
        "both instances' workers sent messages: {instances:?}"
    );
}
