//! Scale-out: two instances of the built binary, as child processes on their own
//! ports, share one PostgreSQL database and one S3 server (SeaweedFS), with job
//! workers running in both, delivering webhooks and project messages. Also the trusted-proxy setting that a load balancer in
//! front of them needs.
//!
//! The cluster tests run on PostgreSQL and S3 in both passes of `scripts/test`,
//! because several instances on one SQLite file or one local directory is not a
//! supported deployment. Under `CI=true` a missing PostgreSQL or SeaweedFS fails them.

mod crash;
mod deliveries;
mod limits;
mod messages;
mod proxies;
mod receiver;
mod walk;

use std::collections::HashSet;
use std::process::Output;
use std::time::Duration;

use openhumans::db::Db;
use serde_json::Value;
use tempfile::TempDir;

use crate::support::process::{ChildProcess, free_port, openhumans, wait_until_serving};
use crate::support::s3::{BUCKET, S3Server, weed_available};
use crate::support::{SharedDatabase, fixtures, in_ci, postgres_admin_url};

/// Server key shared by every instance of the cluster, as a deployment must share it.
const SECRET_KEY: &str = "scale-test-secret-key-0123456789abcdefghij";

/// Returns the PostgreSQL server to run a cluster on, or `None` (outside CI only)
/// when PostgreSQL or SeaweedFS is not available, after saying why.
pub fn cluster_postgres_url() -> Option<String> {
    let postgres = std::env::var("OPENHUMANS_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .or_else(postgres_admin_url);
    let missing = match (&postgres, weed_available()) {
        (Some(_), true) => return postgres,
        (None, true) => "OPENHUMANS_TEST_POSTGRES_URL is not set",
        (Some(_), false) => "the SeaweedFS binary (OPENHUMANS_TEST_WEED) is missing",
        (None, false) => "OPENHUMANS_TEST_POSTGRES_URL is not set and SeaweedFS is missing",
    };
    assert!(
        !in_ci(),
        "{missing}; scale tests need PostgreSQL and SeaweedFS, run them with scripts/test"
    );
    eprintln!("skipped: {missing}; run scripts/test, which provides both");
    None
}

/// One `openhumans serve` process of the cluster.
pub struct Instance {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    pub process: ChildProcess,
    pub data_dir: TempDir,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Lets one cluster run at a time: three SeaweedFS servers and six instances starting
/// together overload a small test machine, and then SeaweedFS misses its start-up
/// deadline.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Two instances on one PostgreSQL database and one S3 bucket.
pub struct Cluster {
    pub instances: Vec<Instance>,
    /// A connection to the shared database, for arranging and checking state.
    pub db: Db,
    env: Vec<(String, String)>,
    logs: TempDir,
    // Dropped last: the instances stop before their database and store go away.
    _s3: S3Server,
    _database: SharedDatabase,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    /// Starts SeaweedFS, creates a database, applies migrations once with
    /// `openhumans migrate`, then starts two instances whose job leases last
    /// `lease_seconds`.
    pub async fn start(postgres_url: &str, lease_seconds: u64) -> Cluster {
        Cluster::start_with(postgres_url, lease_seconds, &[]).await
    }

    /// Like [`Cluster::start`], with `extra_env` added to the environment of every
    /// instance and command, e.g. the `SMTP_URL` they all send through.
    pub async fn start_with(
        postgres_url: &str,
        lease_seconds: u64,
        extra_env: &[(&str, &str)],
    ) -> Cluster {
        let turn = ONE_CLUSTER_AT_A_TIME.lock().await;
        let database = SharedDatabase::create_on_postgres(postgres_url).await;
        let s3 = S3Server::start().await;
        let options = s3.options();
        let setting = |name: &str, value: Option<String>| {
            (
                name.to_string(),
                value.expect("S3 test options are complete"),
            )
        };
        let mut env = vec![
            ("DATABASE_URL".to_string(), database.url.clone()),
            ("OPENHUMANS_SECRET_KEY".to_string(), SECRET_KEY.to_string()),
            (
                "OPENHUMANS_STORAGE_URL".to_string(),
                format!("s3://{BUCKET}"),
            ),
            setting("AWS_ENDPOINT_URL", options.endpoint),
            setting("AWS_REGION", options.region),
            setting("AWS_ACCESS_KEY_ID", options.access_key_id),
            setting("AWS_SECRET_ACCESS_KEY", options.secret_access_key),
            (
                "OPENHUMANS_WEBHOOK_ALLOW_LOOPBACK".to_string(),
                "1".to_string(),
            ),
            ("OPENHUMANS_WORKERS".to_string(), "2".to_string()),
            (
                "OPENHUMANS_JOB_LEASE_SECONDS".to_string(),
                lease_seconds.to_string(),
            ),
        ];
        env.extend(
            extra_env
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string())),
        );
        let logs = tempfile::tempdir().expect("creating a log directory");
        let mut cluster = Cluster {
            instances: Vec::new(),
            db: Db::connect(&database.url)
                .await
                .expect("connecting to the cluster database"),
            env,
            logs,
            _s3: s3,
            _database: database,
            _turn: turn,
        };

        // Migrations run once, before any instance starts, as docs/deployment.md describes.
        let migrated = cluster.command(&["migrate"], &[]);
        assert!(
            migrated.status.success(),
            "openhumans migrate failed: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );

        for n in 0..2 {
            let instance = cluster.spawn_instance(n);
            cluster.instances.push(instance);
        }
        for instance in &mut cluster.instances {
            let health = format!("{}/healthz", instance.base);
            wait_until_serving(&mut instance.process, &health, Duration::from_secs(30)).await;
        }
        cluster
    }

    fn spawn_instance(&self, n: usize) -> Instance {
        let data_dir = tempfile::tempdir().expect("creating an instance data directory");
        let bind = format!("127.0.0.1:{}", free_port());
        let mut command = openhumans(&["serve"]);
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("OPENHUMANS_DATA_DIR", data_dir.path())
            .env("OPENHUMANS_BIND", &bind);
        let process = ChildProcess::spawn(command, &format!("instance-{n}"), self.logs.path());
        Instance {
            base: format!("http://{bind}"),
            process,
            data_dir,
        }
    }

    /// Returns the instance serving step `step` of a walk, so steps alternate between
    /// the two.
    pub fn at(&self, step: usize) -> &Instance {
        &self.instances[step % self.instances.len()]
    }

    /// Runs an operator command against the cluster's database and store.
    pub fn command(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let data_dir = tempfile::tempdir().expect("creating a data directory");
        openhumans(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("OPENHUMANS_DATA_DIR", data_dir.path())
            .envs(extra_env.iter().copied())
            .output()
            .expect("running openhumans")
    }

    /// Creates a verified member with [`fixtures::PASSWORD`] through `admin create-member`.
    pub fn create_member(&self, username: &str) {
        let email = format!("{username}@example.org");
        let output = self.command(
            &[
                "admin",
                "create-member",
                "--username",
                username,
                "--email",
                &email,
                "--verified",
            ],
            &[("OPENHUMANS_PASSWORD", fixtures::PASSWORD)],
        );
        assert!(
            output.status.success(),
            "admin create-member failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Creates a project coordinated by a new member through `admin create-project`,
    /// with its deauthorization webhook at `webhook_url`; returns the command's JSON
    /// (`id`, `slug`, `client_id`, `client_secret`, `master_access_token`).
    pub fn create_project(&self, webhook_url: &str) -> Value {
        self.create_member("coordinator");
        let project = serde_json::json!({
            "name": "Sleep Diary Study", "leader": "Dr. Ada Lovelace",
            "contact_email": "lab@example.org", "info_url": "https://example.org/",
            "short_description": "A study of sleep diaries.", "is_study": false,
            "is_academic_or_nonprofit": true, "request_username_access": false,
            "request_message_permission": true, "enrollment_url": "https://example.org/join",
            "terms_url": "https://example.org/terms",
            "redirect_url": crate::oauth2::REDIRECT_URI,
            "deauth_webhook": webhook_url, "webhook_secret": "abcdefghijklmnop",
        });
        let dir = tempfile::tempdir().expect("creating a directory for the project file");
        let path = dir.path().join("project.json");
        std::fs::write(&path, project.to_string()).expect("writing the project file");
        let output = self.command(
            &[
                "admin",
                "create-project",
                "--coordinator",
                "coordinator",
                "--json",
                path.to_str().expect("a UTF-8 path"),
            ],
            &[],
        );
        assert!(
            output.status.success(),
            "admin create-project failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("admin create-project prints JSON")
    }

    /// Returns the output of every instance, for failure messages.
    pub fn output(&self) -> String {
        self.instances
            .iter()
            .enumerate()
            .map(|(n, instance)| format!("=== instance {n}\n{}", instance.process.output()))
            .collect()
    }
}

/// Counts the rows a query like `SELECT COUNT(*) FROM …` returns a count for.
pub async fn count(db: &Db, sql: &'static str) -> i64 {
    let (count,): (i64,) = sqlx::query_as(sql)
        .fetch_one(&db.pool)
        .await
        .expect("counting rows");
    count
}

/// Returns the instance part of a worker name (`INSTANCE-N`), which differs between
/// instances.
pub fn instance_of(worker: &str) -> &str {
    worker
        .rsplit_once('-')
        .map_or(worker, |(instance, _)| instance)
}

/// Returns the instances whose workers made the job attempts matching `condition`.
pub async fn attempt_instances(db: &Db, condition: &str) -> HashSet<String> {
    let workers: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT worker FROM job_attempts WHERE {condition}"
    )))
    .fetch_all(&db.pool)
    .await
    .expect("listing job attempts");
    workers
        .iter()
        .map(|(worker,)| instance_of(worker).to_string())
        .collect()
}
