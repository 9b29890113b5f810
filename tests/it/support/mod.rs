//! The test-app builder: each test gets its own server on a free port, its own data
//! directory and its own database.
//!
//! The database is SQLite unless `OPENHUMANS_TEST_DATABASE_URL` names a PostgreSQL
//! server (`postgres://postgres@127.0.0.1:5432/test`), in which case each test
//! creates, and afterwards drops, a database of its own on that server.

#![allow(dead_code)]

pub mod browser;
pub mod fixtures;
pub mod mail;
pub mod process;
pub mod s3;
pub mod smtp;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openhumans::app::AppState;
use openhumans::clock::Clock;
use openhumans::config::Settings;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server for one test. Dropping it stops the server and removes its data.
pub struct TestApp {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    pub addr: SocketAddr,
    pub state: AppState,
    /// A browser-like client: keeps cookies, does not follow redirects.
    pub client: reqwest::Client,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    postgres_database: Option<(String, String)>,
}

/// A change to the settings, applied before the app starts.
type Configure = Box<dyn FnOnce(&mut Settings) + Send>;

/// Builds a [`TestApp`] with changed settings.
pub struct TestAppBuilder {
    configure: Vec<Configure>,
    shared: Option<(PathBuf, String)>,
    clock: Option<Clock>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::builder().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            configure: Vec::new(),
            shared: None,
            clock: None,
        }
    }

    /// A new client with its own cookie jar, as a second browser would be.
    pub fn new_client(&self) -> reqwest::Client {
        browser_client()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn clock(&self) -> &Clock {
        &self.state.clock
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.state.settings.outbox_dir()
    }

    /// Stops the server and waits for in-flight work to finish.
    pub async fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task panicked")
                .expect("server failed");
        }
    }
}

impl TestAppBuilder {
    /// Changes a setting before the app starts.
    pub fn with(mut self, configure: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        self.configure.push(Box::new(configure));
        self
    }

    /// Uses the data directory and database of `shared` instead of new ones, so
    /// several apps (or an app and a child process) work on the same queue.
    pub fn shared(mut self, shared: &SharedDatabase) -> Self {
        self.shared = Some((shared.dir.path().to_path_buf(), shared.url.clone()));
        self
    }

    /// Uses `clock` instead of a new one, so that moving it moves the time of every app
    /// built with it, as the wall clock moves for every instance of a site.
    pub fn clock(mut self, clock: &Clock) -> Self {
        self.clock = Some(clock.clone());
        self
    }

    pub async fn spawn(self) -> TestApp {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let mut settings = Settings::with_data_dir(dir.path());
        settings.secret_key = Some("test-secret-key-0123456789abcdefghijklmnop".to_string());
        let postgres_database = match (&self.shared, postgres_admin_url()) {
            (Some((data_dir, url)), _) => {
                settings.data_dir = data_dir.clone();
                settings.database_url = Some(url.clone());
                None
            }
            (None, Some(admin_url)) => {
                let (url, name) = create_postgres_database(&admin_url).await;
                settings.database_url = Some(url);
                Some((admin_url, name))
            }
            (None, None) => None,
        };

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free port");
        let addr = listener.local_addr().expect("reading the bound address");
        settings.bind = addr;
        settings.public_url = Some(format!("http://{addr}").parse().expect("a valid URL"));
        for configure in self.configure {
            configure(&mut settings);
        }

        let state = AppState::build(settings, self.clock.unwrap_or_default())
            .await
            .expect("building the app");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(openhumans::app::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));

        TestApp {
            base: format!("http://{addr}"),
            addr,
            state,
            client: browser_client(),
            dir,
            shutdown: Some(shutdown),
            server: Some(server),
            postgres_database,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some((admin_url, name)) = self.postgres_database.take() {
            // Drop runs outside async code, so a short-lived runtime on its own thread
            // removes the database; FORCE ends the app's remaining connections.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(drop_postgres_database(&admin_url, &name));
                }
            })
            .join();
        }
    }
}

/// A data directory and a database that outlive the apps using them: a SQLite file in
/// the directory, or a PostgreSQL database of its own when the tests run on
/// PostgreSQL. Dropping it removes both.
pub struct SharedDatabase {
    pub dir: TempDir,
    pub url: String,
    postgres_database: Option<(String, String)>,
}

impl SharedDatabase {
    pub async fn create() -> SharedDatabase {
        match postgres_admin_url() {
            Some(admin_url) => SharedDatabase::create_on_postgres(&admin_url).await,
            None => {
                let dir = tempfile::tempdir().expect("creating a temporary directory");
                SharedDatabase {
                    url: format!("sqlite://{}", dir.path().join("openhumans.db").display()),
                    dir,
                    postgres_database: None,
                }
            }
        }
    }

    /// Creates a database of its own on the PostgreSQL server at `admin_url`, whichever
    /// backend the other tests run on.
    pub async fn create_on_postgres(admin_url: &str) -> SharedDatabase {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let (url, name) = create_postgres_database(admin_url).await;
        SharedDatabase {
            dir,
            url,
            postgres_database: Some((admin_url.to_string(), name)),
        }
    }

    /// Connects to the database and applies migrations.
    pub async fn connect(&self) -> openhumans::db::Db {
        let db = openhumans::db::Db::connect(&self.url)
            .await
            .expect("connecting to the shared database");
        db.migrate().await.expect("migrating the shared database");
        db
    }
}

impl Drop for SharedDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres_database.take() {
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(drop_postgres_database(&admin_url, &name));
                }
            })
            .join();
        }
    }
}

/// A client that keeps cookies and does not follow redirects, so tests see each 303.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building an HTTP client")
}

/// The PostgreSQL server the tests run against, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("OPENHUMANS_TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
}

/// True when tests run under CI, where a missing component is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true")
}

async fn create_postgres_database(admin_url: &str) -> (String, String) {
    use sqlx::Connection;

    sqlx::any::install_default_drivers();
    let name = format!(
        "oh_test_{}",
        openhumans::crypto::random_token(12).to_lowercase()
    );
    let mut conn = sqlx::AnyConnection::connect(admin_url)
        .await
        .unwrap_or_else(|error| {
            panic!("cannot connect to the test PostgreSQL server at {admin_url}: {error}")
        });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("creating a test database");
    let mut url = url::Url::parse(admin_url).expect("a valid PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

async fn drop_postgres_database(admin_url: &str, name: &str) {
    use sqlx::Connection;

    sqlx::any::install_default_drivers();
    if let Ok(mut conn) = sqlx::AnyConnection::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// Polls `check` every 50 ms until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lists every regular file below `dir`, in any order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
