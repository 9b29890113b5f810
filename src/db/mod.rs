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
pub mod sessions;
pub mod upload_volume;
pub mod webhooks;
pub mod withdrawals;

use std::path::Path;
use std::str::FromStr;
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

        let pool = match backend {
            Backend::Sqlite => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                if let Some(parent) = Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("creating {}", parent.display()))?;
                }
                let options = AnyConnectOptions::from_str(&format!("sqlite://{path}?mode=rwc"))?;
                AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // WAL lets readers continue while one writer commits; the busy
                            // timeout makes a second writer wait instead of failing.
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
            }
        }
        .with_context(|| format!("connecting to the database at {}", redact_url(url)))?;
        Ok(Self { pool, backend })
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
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Returns whether the database responds, for the health check.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
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
