//! The durable job queue: leases, retries, fencing and crash recovery, driven through
//! email jobs delivered to real SMTP servers or the outbox.

use std::collections::HashMap;
use std::time::Duration;

use openhumans::clock::{DAY, MINUTE, Micros, SECOND};
use openhumans::db::Db;
use openhumans::db::jobs as queue;
use openhumans::jobs::{SEND_EMAIL, enqueue_email};
use openhumans::mail::{Email, new_message_id};

use crate::support::mail::{read_outbox, wait_for_email};
use crate::support::process::{ChildProcess, free_port, openhumans, wait_until_serving};
use crate::support::smtp::{SilentServer, SmtpServer, smtp_url};
use crate::support::{SharedDatabase, TestApp, eventually};

/// A job row as the tests inspect it.
#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    state: String,
    attempts: i64,
    run_at: i64,
    lease_token: Option<String>,
    locked_until: Option<i64>,
    last_error: Option<String>,
    finished_at: Option<i64>,
}

/// A `job_attempts` row.
#[derive(Debug, sqlx::FromRow)]
struct AttemptRow {
    attempt: i64,
    worker: String,
    finished_at: Option<i64>,
    error: Option<String>,
}

fn email_to(to: &str) -> Email {
    Email {
        to: to.to_string(),
        from_name: Some("Queue Test Project".to_string()),
        reply_to: None,
        subject: "A queued email".to_string(),
        body: "Sent by a job worker.\n".to_string(),
        message_id: new_message_id("noreply@localhost"),
    }
}

async fn enqueue(db: &Db, email: &Email, now: Micros) -> i64 {
    enqueue_email(&db.pool, email, now)
        .await
        .expect("queueing an email")
}

async fn job(db: &Db, id: i64) -> JobRow {
    sqlx::query_as(
        "SELECT state, attempts, run_at, lease_token, locked_until, last_error, finished_at \
         FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .expect("reading a job")
}

async fn attempts(db: &Db, id: i64) -> Vec<AttemptRow> {
    sqlx::query_as(
        "SELECT attempt, worker, finished_at, error FROM job_attempts WHERE job_id = $1 \
         ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .expect("reading job attempts")
}

/// Waits until job `id` satisfies `done`, then returns its row.
async fn wait_for_job(db: &Db, id: i64, what: &str, done: impl Fn(&JobRow) -> bool) -> JobRow {
    eventually(Duration::from_secs(20), what, || async {
        let row = job(db, id).await;
        done(&row).then_some(row)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_job_runs_again_elsewhere() {
    let shared = SharedDatabase::create().await;
    let silent = SilentServer::start().await;
    let port = free_port();

    // An instance whose worker will hang inside the SMTP exchange.
    let mut command = openhumans(&["serve"]);
    command
        .env("OPENHUMANS_DATA_DIR", shared.dir.path())
        .env("DATABASE_URL", &shared.url)
        .env("OPENHUMANS_BIND", format!("127.0.0.1:{port}"))
        .env("SMTP_URL", silent.url())
        .env("OPENHUMANS_WORKERS", "1");
    let logs = tempfile::tempdir().unwrap();
    let mut child = ChildProcess::spawn(command, "openhumans-serve", logs.path());
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    wait_until_serving(&mut child, &healthz, Duration::from_secs(30)).await;

    let db = shared.connect().await;
    let email = email_to("crash@example.org");
    let now = openhumans::clock::Clock::default().now();
    let id = enqueue(&db, &email, now).await;

    // The worker claims the job and waits on the silent server, holding the lease.
    let leased = wait_for_job(&db, id, "the child to claim the job", |row| {
        row.state == "running" && silent.accepted() > 0
    })
    .await;
    assert_eq!(leased.attempts, 1);
    assert!(leased.lease_token.is_some(), "{leased:?}");
    let lease_end = leased.locked_until.expect("a running job has a lease");
    assert!(lease_end > now, "lease ends in the future: {leased:?}");

    child.kill();
    assert!(read_outbox(&shared.dir.path().join("outbox")).is_empty());

    // A new instance on the same database takes the job over once the lease expires.
    let app = TestApp::builder().shared(&shared).spawn().await;
    let still_leased = job(&db, id).await;
    assert_eq!(still_leased.state, "running", "{still_leased:?}");
    app.clock().advance(lease_end - now + SECOND);
    app.state.job_signal.notify();

    let delivered = wait_for_email(&app.outbox_dir(), "crash@example.org").await;
    assert_eq!(
        delivered.message_id,
        email.message_id.trim_matches(['<', '>'])
    );
    let done = wait_for_job(&db, id, "the job to be done", |row| row.state == "done").await;
    assert_eq!(done.attempts, 2);
    let recorded = attempts(&db, id).await;
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert_eq!(recorded[0].attempt, 1);
    let abandoned = recorded[0].error.as_deref().unwrap_or_default();
    assert!(abandoned.contains("lease expired"), "{recorded:?}");
    assert!(recorded[0].finished_at.is_some(), "{recorded:?}");
    assert_eq!(recorded[1].attempt, 2);
    assert_eq!(recorded[1].error, None, "{recorded:?}");
    assert_ne!(recorded[0].worker, recorded[1].worker);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_jobs_on_two_apps_run_exactly_once() {
    const JOBS: usize = 200;
    let shared = SharedDatabase::create().await;
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let first = TestApp::builder()
        .shared(&shared)
        .with({
            let url = url.clone();
            move |settings| {
                settings.smtp_url = Some(url);
                settings.workers = 4;
            }
        })
        .spawn()
        .await;
    let second = TestApp::builder()
        .shared(&shared)
        .with(move |settings| {
            settings.smtp_url = Some(url);
            settings.workers = 4;
        })
        .spawn()
        .await;

    // Queue every job in one transaction, so both apps see all of them at once.
    let db = &first.state.db;
    let now = first.clock().now();
    let mut tx = db.begin_write().await.unwrap();
    let mut message_ids = Vec::new();
    for n in 0..JOBS {
        let email = email_to(&format!("member{n}@example.org"));
        enqueue_email(&mut *tx, &email, now).await.unwrap();
        message_ids.push(email.message_id.trim_matches(['<', '>']).to_string());
    }
    tx.commit().await.unwrap();
    first.state.job_signal.notify();
    second.state.job_signal.notify();

    // A job is marked done just after the server accepted its message.
    smtp.wait_for_messages(JOBS, Duration::from_secs(60)).await;
    eventually(Duration::from_secs(20), "every job to be done", || async {
        let (pending,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE state <> 'done'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    let mut deliveries: HashMap<String, usize> = HashMap::new();
    for message in smtp.messages() {
        *deliveries.entry(message.message_id).or_default() += 1;
    }
    let twice: Vec<_> = deliveries.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    for id in &message_ids {
        assert_eq!(deliveries.get(id), Some(&1), "message {id}");
    }
    let (attempt_rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM job_attempts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(attempt_rows, JOBS as i64, "one attempt per job");
    let (workers,): (i64,) = sqlx::query_as("SELECT COUNT(DISTINCT worker) FROM job_attempts")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(workers > 1, "the jobs were shared among workers");
}

#[tokio::test]
async fn unreachable_smtp_retries_with_backoff() {
    let port = free_port();
    let app = TestApp::builder()
        .with(move |settings| settings.smtp_url = Some(smtp_url(port)))
        .spawn()
        .await;
    let db = &app.state.db;
    let email = email_to("retry@example.org");
    let id = enqueue(db, &email, app.clock().now()).await;
    app.state.job_signal.notify();

    // The first attempt finds the port closed and schedules a retry.
    let queued = wait_for_job(db, id, "the first attempt to fail", |row| {
        row.attempts == 1 && row.state == "queued"
    })
    .await;
    let error = queued.last_error.clone().unwrap_or_default();
    assert!(
        error.contains("SMTP"),
        "error names the failed step: {queued:?}"
    );
    assert_eq!(queued.locked_until, None);
    let recorded = attempts(db, id).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].error.as_deref(), Some(error.as_str()));
    let failed_at = recorded[0].finished_at.expect("the attempt ended");
    let delay = queued.run_at - failed_at;
    assert!(
        (5 * SECOND..=10 * SECOND).contains(&delay),
        "the first retry waits 5 to 10 s, not {delay} µs"
    );

    // Nothing runs before the retry is due.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(job(db, id).await.attempts, 1);

    let smtp = SmtpServer::start_on(port).await;
    app.clock().advance(11 * SECOND);
    app.state.job_signal.notify();

    let received = smtp.wait_for_messages(1, Duration::from_secs(20)).await;
    assert_eq!(received[0].to, "retry@example.org");
    let done = wait_for_job(db, id, "the retry to succeed", |row| row.state == "done").await;
    assert_eq!(done.attempts, 2);
    assert_eq!(done.last_error, None);
    let recorded = attempts(db, id).await;
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0].error.is_some());
    assert_eq!(recorded[1].error, None);
}

#[tokio::test]
async fn exhausted_attempts_end_failed() {
    let port = free_port();
    let app = TestApp::builder()
        .with(move |settings| settings.smtp_url = Some(smtp_url(port)))
        .spawn()
        .await;
    let db = &app.state.db;
    let payload = serde_json::to_string(&email_to("never@example.org")).unwrap();
    let now = app.clock().now();
    let id = queue::insert(&db.pool, SEND_EMAIL, &payload, 2, now, now)
        .await
        .unwrap();
    app.state.job_signal.notify();

    wait_for_job(db, id, "the first attempt to fail", |row| {
        row.attempts == 1 && row.state == "queued"
    })
    .await;
    app.clock().advance(11 * SECOND);
    app.state.job_signal.notify();

    let failed = wait_for_job(db, id, "the job to fail", |row| row.state == "failed").await;
    assert_eq!(failed.attempts, 2);
    assert!(failed.last_error.is_some(), "{failed:?}");
    assert!(failed.finished_at.is_some(), "{failed:?}");
    assert_eq!(failed.locked_until, None);
    let recorded = attempts(db, id).await;
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded.iter().all(|attempt| attempt.error.is_some()),
        "{recorded:?}"
    );

    // A failed job stays failed.
    app.clock().advance(DAY);
    app.state.job_signal.notify();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(job(db, id).await.attempts, 2);
}

#[tokio::test]
async fn unknown_job_kind_fails_permanently() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let now = app.clock().now();
    let id = queue::insert(&db.pool, "no_such_kind", "{}", 5, now, now)
        .await
        .unwrap();
    app.state.job_signal.notify();

    let failed = wait_for_job(db, id, "the job to fail", |row| row.state == "failed").await;

    assert_eq!(failed.attempts, 1, "no retry for an unknown kind");
    let error = failed.last_error.unwrap_or_default();
    assert!(
        error.contains("unknown job kind \"no_such_kind\""),
        "{error}"
    );
}

#[tokio::test]
async fn stale_worker_cannot_overwrite_new_owner() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    // Due a day from now, so the app's own workers (on the real clock) leave it alone.
    let start = app.clock().now() + DAY;
    let payload = serde_json::to_string(&email_to("fenced@example.org")).unwrap();
    let id = queue::insert(&db.pool, SEND_EMAIL, &payload, 5, start, start)
        .await
        .unwrap();

    let stale = queue::claim(db, "stale", "token-stale", start + MINUTE, start)
        .await
        .unwrap()
        .job
        .expect("the job is due");
    let later = start + 2 * MINUTE;
    let owner = queue::claim(db, "owner", "token-owner", later + MINUTE, later)
        .await
        .unwrap()
        .job
        .expect("an expired lease makes the job runnable");
    assert_eq!(owner.id, id);
    assert_eq!(owner.attempts, 2);

    // The stale worker's outcome changes nothing on the job.
    let completed = queue::complete(db, &stale, None, later).await.unwrap();
    assert!(!completed, "complete reports the lost lease");
    let failed = queue::fail(db, &stale, "late failure", None, later)
        .await
        .unwrap();
    assert!(!failed, "fail reports the lost lease");
    let row = job(db, id).await;
    assert_eq!(row.state, "running");
    assert_eq!(row.lease_token.as_deref(), Some("token-owner"));
    assert_eq!(row.last_error, None);

    let extended = queue::extend_lease(db, &stale, later + DAY).await.unwrap();
    assert!(!extended, "a stale heartbeat is rejected");
    assert_eq!(job(db, id).await.locked_until, Some(later + MINUTE));

    assert!(queue::complete(db, &owner, None, later).await.unwrap());
    assert_eq!(job(db, id).await.state, "done");
}

#[tokio::test]
async fn lease_expiry_on_last_attempt_fails_job() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let start = app.clock().now() + DAY;
    let payload = serde_json::to_string(&email_to("last@example.org")).unwrap();
    let id = queue::insert(&db.pool, SEND_EMAIL, &payload, 1, start, start)
        .await
        .unwrap();
    // A worker claims the only attempt and dies.
    queue::claim(db, "crashed", "token-crashed", start + MINUTE, start)
        .await
        .unwrap()
        .job
        .expect("the job is due");

    app.clock().advance(DAY + 2 * MINUTE);
    app.state.job_signal.notify();

    let failed = wait_for_job(db, id, "the job to fail", |row| row.state == "failed").await;
    assert_eq!(failed.attempts, 1, "no attempt beyond the maximum");
    let error = failed.last_error.unwrap_or_default();
    assert!(error.contains("lease expired"), "{error}");
    let recorded = attempts(db, id).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].error.as_deref(), Some(error.as_str()));
    assert!(
        read_outbox(&app.outbox_dir()).is_empty(),
        "nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_keeps_long_job_leased() {
    let silent = SilentServer::start().await;
    let url = silent.url();
    let app = TestApp::builder()
        .with(move |settings| {
            settings.smtp_url = Some(url);
            settings.job_lease_seconds = 1;
            settings.workers = 2;
        })
        .spawn()
        .await;
    let db = &app.state.db;
    let id = enqueue(db, &email_to("slow@example.org"), app.clock().now()).await;
    app.state.job_signal.notify();

    let claimed = wait_for_job(db, id, "the job to be claimed", |row| {
        row.state == "running" && silent.accepted() > 0
    })
    .await;
    let first_lease = claimed.locked_until.unwrap();

    // Three lease lengths later the same worker still holds the job, because its
    // heartbeat moved the lease forward. The idle second worker never took it over.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let running = job(db, id).await;
    assert_eq!(running.state, "running");
    assert_eq!(running.attempts, 1, "no other worker claimed it");
    assert_eq!(running.lease_token, claimed.lease_token);
    let lease = running.locked_until.unwrap();
    assert!(lease > first_lease + 2 * SECOND, "{lease} vs {first_lease}");
    assert!(lease > app.clock().now(), "the lease has not expired");

    // The server hangs up: the attempt fails, and the heartbeat stops with it.
    drop(silent);
    let queued = wait_for_job(db, id, "the attempt to fail", |row| row.state == "queued").await;
    assert_eq!(queued.locked_until, None);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        job(db, id).await.locked_until,
        None,
        "no heartbeat after the job"
    );
}
