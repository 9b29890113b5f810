//! The `openhumans` binary as operators run it: help, migrations, serving, logs,
//! metrics, signals and invalid settings. Each test runs the built binary as a child
//! process with an empty environment.

use std::collections::HashSet;
use std::process::Output;
use std::time::Duration;

use clap::Args;
use openhumans::clock::{Clock, HOUR, SECOND};
use openhumans::config::Settings;
use openhumans::jobs::enqueue_email;
use openhumans::mail::{Email, new_message_id};

use crate::support::process::{ChildProcess, free_port, openhumans, wait_until_serving};
use crate::support::smtp::SilentServer;
use crate::support::{SharedDatabase, eventually, postgres_admin_url};

/// A value that would be a credential in real traffic; it must never reach a log.
const SECRET: &str = "SECRETVALUE";

fn run(args: &[&str]) -> Output {
    openhumans(args).output().expect("running openhumans")
}

/// A running `openhumans serve` and the address it serves.
struct Server {
    process: ChildProcess,
    base: String,
    _logs: tempfile::TempDir,
}

/// Starts `openhumans serve` on a free port with `args` and waits until it serves.
async fn serve(args: &[&str], env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = openhumans(&["serve", "--bind", &bind]);
    command.args(args).envs(env.iter().copied());
    let logs = tempfile::tempdir().unwrap();
    let mut process = ChildProcess::spawn(command, "openhumans-serve", logs.path());
    let base = format!("http://{bind}");
    wait_until_serving(
        &mut process,
        &format!("{base}/healthz"),
        Duration::from_secs(30),
    )
    .await;
    Server {
        process,
        base,
        _logs: logs,
    }
}

fn email(to: &str) -> Email {
    Email {
        to: to.to_string(),
        from_name: None,
        reply_to: None,
        subject: "Queued".to_string(),
        body: "Body.\n".to_string(),
        message_id: new_message_id("noreply@localhost"),
    }
}

#[test]
fn help_lists_every_setting_env_var() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();

    let settings = Settings::augment_args(clap::Command::new("settings"));
    let mut names = HashSet::new();
    for arg in settings.get_arguments() {
        let env = arg
            .get_env()
            .unwrap_or_else(|| panic!("setting {} has no environment variable", arg.get_id()));
        let env = env.to_str().unwrap();
        assert!(
            help.contains(&format!("[env: {env}")),
            "{env} missing from --help:\n{help}"
        );
        let flag = format!("--{}", arg.get_long().unwrap());
        assert!(help.contains(&flag), "{flag} missing from --help");
        names.insert(env.to_string());
    }
    for expected in [
        "DATABASE_URL",
        "SMTP_URL",
        "OPENHUMANS_SECRET_KEY",
        "OPENHUMANS_WORKERS",
    ] {
        assert!(names.contains(expected), "{expected} is a setting");
    }
}

#[test]
fn migrate_creates_data_dir_database_and_key() {
    use std::os::unix::fs::PermissionsExt;

    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("new").join("data");
    let data_dir_arg = data_dir.to_str().unwrap();

    let output = run(&["migrate", "--data-dir", data_dir_arg]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "migrate failed: {stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let last_line = stdout.lines().last().unwrap_or_default();
    let printed: serde_json::Value = serde_json::from_str(last_line)
        .unwrap_or_else(|error| panic!("migrate printed {last_line:?}, not JSON: {error}"));
    assert_eq!(printed, serde_json::json!({ "migrated": true }));
    assert!(data_dir.join("openhumans.db").is_file());
    let key_file = data_dir.join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "secret.key is readable by its owner only"
    );
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert!(key.trim().len() >= 32, "the key has at least 32 characters");

    // A second run changes nothing, the key included.
    let again = run(&["migrate", "--data-dir", data_dir_arg]);
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
}

#[tokio::test]
async fn serve_finishes_request_and_exits_on_sigterm() {
    let shared = SharedDatabase::create().await;
    let data_dir = shared.dir.path().to_str().unwrap().to_string();
    let env = [("DATABASE_URL", shared.url.as_str())];
    let on_postgres = postgres_admin_url().is_some();
    let mut server = serve(
        &["--data-dir", &data_dir],
        if on_postgres { &env } else { &[] },
    )
    .await;

    // On PostgreSQL a table lock holds `/metrics` in flight across the signal.
    // NOTE: on SQLite the request completes before the signal, because in WAL mode
    // no lock the test could take blocks a reader.
    let db = shared.connect().await;
    let mut lock = db.pool.begin().await.unwrap();
    if on_postgres {
        sqlx::query("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *lock)
            .await
            .unwrap();
    }
    let request = tokio::spawn(reqwest::get(format!("{}/metrics", server.base)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.process.terminate();
    if on_postgres {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            server.process.try_status().is_none(),
            "the server waits for the request in flight"
        );
    }
    lock.commit().await.unwrap();

    let response = request
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("jobs_queue_depth"));
    let status = server.process.wait_exit(Duration::from_secs(10)).await;
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.process.output()
    );
    let refused = reqwest::get(format!("{}/healthz", server.base)).await;
    assert!(refused.is_err(), "nothing listens after the exit");
}

#[tokio::test]
async fn json_logs_have_one_line_per_request() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let mut server = serve(&["--data-dir", dir, "--log-format", "json"], &[]).await;
    let client = reqwest::Client::new();

    let mut sent = Vec::new();
    for (path, route, status) in [
        (format!("/healthz?access_token={SECRET}"), "/healthz", 200),
        ("/metrics".to_string(), "/metrics", 200),
        (
            format!("/no/such/page/?code={SECRET}&state={SECRET}"),
            "unmatched",
            404,
        ),
    ] {
        let response = client
            .get(format!("{}{path}", server.base))
            .header("authorization", format!("Bearer {SECRET}"))
            .header("cookie", format!("session={SECRET}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_string();
        sent.push((route, status, request_id));
    }
    server.process.terminate();
    assert!(
        server
            .process
            .wait_exit(Duration::from_secs(10))
            .await
            .success()
    );

    let stdout = server.process.stdout();
    let stderr = server.process.stderr();
    assert!(
        !stdout.contains(SECRET),
        "a secret reached stdout:\n{stdout}"
    );
    assert!(
        !stderr.contains(SECRET),
        "a secret reached the log:\n{stderr}"
    );
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{line:?}: {error}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "request")
        .collect();
    for (route, status, request_id) in &sent {
        let matching: Vec<_> = requests
            .iter()
            .filter(|line| line["request_id"] == request_id.as_str())
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "one line for request {request_id}: {requests:?}"
        );
        let line = matching[0];
        assert_eq!(line["method"], "GET");
        assert_eq!(line["route"], *route);
        assert_eq!(line["status"], *status);
        assert!(line["latency_ms"].as_f64().is_some(), "{line}");
        assert_eq!(line["level"], "INFO");
    }
}

#[tokio::test]
async fn invalid_settings_exit_with_message() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let cases: [(&[&str], &str); 6] = [
        (
            &["--secret-key", "short"],
            "invalid --secret-key: it has 5 characters, at least 32",
        ),
        (
            &["--public-url", "https://x.example/sub/path"],
            "must be served at the root of its origin",
        ),
        (
            &[
                "--database-url",
                "mysql://operator:hunter2@127.0.0.1/openhumans",
            ],
            "unsupported database URL scheme",
        ),
        (&["--workers", "0"], "invalid --workers 0"),
        (
            &["--public-url", "http://127.0.0.1:8000/?x=1#frag"],
            "must not have a query or a fragment",
        ),
        (&["--mail-from", "not an address"], "invalid --mail-from"),
    ];
    for (args, expected) in cases {
        let mut command = openhumans(&["serve", "--data-dir", dir, "--bind", &bind]);
        command.args(args);
        let mut process = ChildProcess::spawn(command, "openhumans-invalid", data_dir.path());

        let status = process.wait_exit(Duration::from_secs(20)).await;

        let stderr = process.stderr();
        assert!(!status.success(), "{args:?} must fail to start");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr:?}"
        );
        assert!(
            !stderr.contains("hunter2"),
            "the password is redacted: {stderr}"
        );
    }
}

#[tokio::test]
async fn metrics_report_queue_depth_and_age() {
    let shared = SharedDatabase::create().await;
    let silent = SilentServer::start().await;
    let data_dir = shared.dir.path().to_str().unwrap().to_string();
    let smtp_url = silent.url();
    let server = serve(
        &["--data-dir", &data_dir, "--workers", "1"],
        &[("DATABASE_URL", &shared.url), ("SMTP_URL", &smtp_url)],
    )
    .await;

    // Five jobs an hour overdue (the one worker hangs on the first), one not yet due.
    let db = shared.connect().await;
    let now = Clock::default().now();
    for n in 0..5 {
        enqueue_email(
            &db.pool,
            &email(&format!("late{n}@example.org")),
            now - HOUR,
        )
        .await
        .unwrap();
    }
    let future = email("later@example.org");
    openhumans::db::jobs::insert(
        &db.pool,
        "send_email",
        &serde_json::to_string(&future).unwrap(),
        3,
        now + HOUR,
        now,
    )
    .await
    .unwrap();

    eventually(
        Duration::from_secs(10),
        "the worker to claim a job",
        || async { (silent.accepted() > 0).then_some(()) },
    )
    .await;
    let body = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let value = |name: &str| -> f64 {
        body.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{body}"))
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("jobs_queue_depth"),
        5.0,
        "running and overdue jobs count"
    );
    let age = value("jobs_oldest_age_seconds");
    let expected = (HOUR / SECOND) as f64;
    assert!(
        (expected..expected + 60.0).contains(&age),
        "oldest job age {age}"
    );
}

#[tokio::test]
async fn sigterm_leaves_stuck_job_to_its_lease() {
    let shared = SharedDatabase::create().await;
    let silent = SilentServer::start().await;
    let data_dir = shared.dir.path().to_str().unwrap().to_string();
    let smtp_url = silent.url();
    let mut server = serve(
        &["--data-dir", &data_dir, "--workers", "1"],
        &[("DATABASE_URL", &shared.url), ("SMTP_URL", &smtp_url)],
    )
    .await;
    let db = shared.connect().await;
    let id = enqueue_email(
        &db.pool,
        &email("stuck@example.org"),
        Clock::default().now(),
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(10),
        "the worker to claim the job",
        || async { (silent.accepted() > 0).then_some(()) },
    )
    .await;

    server.process.terminate();

    // The worker gets the grace period, then the process exits cleanly anyway.
    let status = server.process.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "exit status {status}: {}",
        server.process.output()
    );
    assert!(server.process.stderr().contains("did not finish in time"));
    let (state, locked_until): (String, Option<i64>) =
        sqlx::query_as("SELECT state, locked_until FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(state, "running", "the job is left for another instance");
    assert!(locked_until.is_some_and(|until| until > Clock::default().now()));
}

#[tokio::test]
async fn jobs_command_lists_without_payloads() {
    let shared = SharedDatabase::create().await;
    let db = shared.connect().await;
    let now = Clock::default().now();
    let mut queued = email("listed@example.org");
    queued.body = format!("Your one-time link: https://example.org/reset/{SECRET}\n");
    let queued_id = enqueue_email(&db.pool, &queued, now).await.unwrap();
    let failed_id = openhumans::db::jobs::insert(&db.pool, "no_such_kind", "{}", 1, now, now)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET state = 'failed', last_error = 'broken' WHERE id = $1")
        .bind(failed_id)
        .execute(&db.pool)
        .await
        .unwrap();
    let data_dir = shared.dir.path().to_str().unwrap();

    let output = openhumans(&["jobs", "--data-dir", data_dir, "--state", "queued"])
        .env("DATABASE_URL", &shared.url)
        .output()
        .unwrap();

    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains(SECRET),
        "payloads stay out of the listing: {stdout}"
    );
    let listed: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    let jobs = listed.as_array().unwrap();
    assert_eq!(jobs.len(), 1, "only the queued job: {stdout}");
    assert_eq!(jobs[0]["id"], queued_id);
    assert_eq!(jobs[0]["kind"], "send_email");
    assert_eq!(jobs[0]["state"], "queued");
    assert!(jobs[0].get("payload").is_none());

    let all = openhumans(&["jobs", "--data-dir", data_dir])
        .env("DATABASE_URL", &shared.url)
        .output()
        .unwrap();
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(listed[0]["id"], failed_id, "newest first");
    assert_eq!(listed[0]["last_error"], "broken");
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn admin_hint_only_while_site_has_no_admin() {
    const HINT: &str = "the site has no admin yet";
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();

    let mut server = serve(&["--data-dir", dir], &[]).await;
    server.process.terminate();
    server.process.wait_exit(Duration::from_secs(10)).await;
    assert!(server.process.stderr().contains(HINT));

    let created = openhumans(&[
        "admin",
        "create-member",
        "--data-dir",
        dir,
        "--username",
        "site_admin",
        "--email",
        "admin@example.org",
        "--admin",
        "--verified",
    ])
    .env("OPENHUMANS_PASSWORD", "a long enough passphrase")
    .output()
    .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let mut server = serve(&["--data-dir", dir], &[]).await;
    server.process.terminate();
    server.process.wait_exit(Duration::from_secs(10)).await;
    let stderr = server.process.stderr();
    assert!(stderr.contains("openhumans is serving"), "{stderr}");
    assert!(!stderr.contains(HINT), "{stderr}");
}
