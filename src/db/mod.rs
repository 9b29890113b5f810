//! Database access for SQLite and PostgreSQL through one code path.
//!
//! Queries use sqlx's `Any` driver with portable SQL and `$1` placeholders. Two
//! conventions keep rows decodable on both backends: timestamps are `BIGINT`
//! microseconds (see [`crate::clock`]) and flags are `0`/`1` integers, read with
//! [`flag`]. Each submodule contains the queries of one aggregate.

pub mod accounts;
pub mod approvals;
pub mod datatypes;
pub mod email_tokens;
pub mod exports;
pub mod files;
pub mod jobs;
pub mod members;
pub mod memberships;
pub mod messages;
pub mod oauth2;
pub mod project_api;
pub mod projects;
pub mod rate_limits;
pub mod read;
pub mod sessions;
pub mod upload_volume;
pub mod webhooks;
pub mod withdrawals;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// Database kind behind the pool, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool and the backend behind it.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    /// The pool of write transactions. On SQLite it has one connection, so writers wait
    /// their turn in order instead of sleeping in SQLite's busy handler (up to 100 ms
    /// per retry). On PostgreSQL it is the same pool as reads.
    writer: AnyPool,
    /// On SQLite, the connections that [`read::Read`] uses; see that module.
    readers: Option<Arc<read::SqliteReaders>>,
    pub backend: Backend,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Db {
    /// Connects to `url`, creating the SQLite file (and its directory) when missing.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            anyhow::bail!(
                "unsupported database URL scheme in {}: use sqlite:// or postgres://",
                redact_url(url)
            );
        };

        let mut readers = None;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let (path, query) = path.split_once('?').unwrap_or((path, ""));
                // Every pooled connection would open its own empty in-memory database,
                // and the server's direct reads open the file by name.
                let in_memory = path.is_empty()
                    || path == ":memory:"
                    || path.starts_with("file::memory:")
                    || query.split('&').any(|pair| pair == "mode=memory");
                if in_memory {
                    anyhow::bail!(
                        "the SQLite database URL {} names no file; in-memory databases are \
                         not supported, so give a file such as sqlite://data/openhumans.db",
                        redact_url(url)
                    );
                }
                let file = read::sqlite_file(path);
                if let Some(parent) = file.parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                readers = Some(Arc::new(read::SqliteReaders::new(file)));
                let options = AnyConnectOptions::from_str(&format!("sqlite://{path}?mode=rwc"))?;
                match sqlite_pool(8).connect_with(options.clone()).await {
                    Ok(pool) => sqlite_pool(1)
                        .connect_with(options)
                        .await
                        .map(|writer| (pool, writer)),
                    Err(error) => Err(error),
                }
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await
                .map(|pool| (pool.clone(), pool)),
        }
        .with_context(|| format!("connecting to the database at {}", redact_url(url)))?;
        Ok(Self {
            pool,
            writer,
            readers,
            backend,
        })
    }

    /// Applies pending migrations. Safe to run from several instances at once: on
    /// PostgreSQL sqlx holds an advisory lock while it migrates.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.pool)
            .await
            .context("running database migrations")?;
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it starts with `BEGIN IMMEDIATE`,
    /// taking the write lock at once: a deferred transaction that reads first and then
    /// writes fails with `SQLITE_BUSY` when another writer commits in between, and the
    /// busy timeout cannot retry that. PostgreSQL needs no such care.
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }

    /// Returns whether the database responds, for the health check.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Options of a SQLite pool of at most `connections` connections.
fn sqlite_pool(connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // WAL lets readers continue while one writer commits. The busy timeout
                // makes a writer outside the writer pool, or in another process, wait
                // instead of failing.
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                )
                .await?;
                Ok(())
            })
        })
}

impl Backend {
    /// Returns the backend a connection talks to.
    pub fn of(conn: &sqlx::AnyConnection) -> Self {
        if conn.backend_name().eq_ignore_ascii_case("postgresql") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    /// Builds an SQL expression that lists, as comma-separated text (NULL when empty),
    /// the ids in `column` of the rows that `from_where` selects. `from_where` is a
    /// `FROM ... WHERE ...` clause, usually correlated with the outer query.
    ///
    /// Folding such a list into the row it belongs to saves a query, and on SQLite each
    /// query is a round trip to the connection's thread. Read it with [`parse_id_list`].
    pub fn id_list(self, column: &str, from_where: &str) -> String {
        match self {
            Self::Sqlite => format!("(SELECT group_concat({column}, ',') {from_where})"),
            Self::Postgres => format!("(SELECT string_agg({column}::text, ',') {from_where})"),
        }
    }
}

/// Reads a list made by [`Backend::id_list`], in ascending order.
pub fn parse_id_list(text: Option<&str>) -> sqlx::Result<Vec<i64>> {
    let mut ids = text
        .unwrap_or("")
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|error| sqlx::Error::Decode(format!("id list {id:?}: {error}").into()))
        })
        .collect::<sqlx::Result<Vec<i64>>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Serializes the transactions that pass the same `key` until they end, so a count
/// and the insert that depends on it act as one step across every instance.
///
/// PostgreSQL takes a transaction-scoped advisory lock on a 64-bit hash of the key;
/// two keys with the same hash only wait for each other. SQLite needs nothing more,
/// because a transaction from [`Db::begin_write`] already holds the database's only
/// write lock.
pub async fn lock_key(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    key: &str,
) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        // The function runs in FROM because the Any driver cannot decode its `void`
        // result.
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Reads a `0`/`1` flag column.
pub fn flag(value: i64) -> bool {
    value != 0
}

/// True when `error` is a violation of a unique constraint (or primary key).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.is_unique_violation()
                || db.code().as_deref() == Some("23505")
                || db.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// Returns the URL without its password, for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}
