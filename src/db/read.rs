//! Read queries that run on the calling thread on SQLite.
//!
//! sqlx runs each SQLite connection on a thread of its own. A query is sent to that
//! thread and its rows come back through a channel, so every query costs at least two
//! thread switches, more than an indexed read of a few rows costs SQLite. [`Read`]
//! runs a query with rusqlite on the calling thread, on a small pool of read-only
//! connections to the same file. On PostgreSQL it uses the sqlx pool like every other
//! query. Both backends get the same SQL text and row types, so the same tests cover
//! a query written for [`Read`] on both.
//!
//! Only short reads belong here: an indexed lookup, or a page of at most a thousand
//! rows. They block the async worker while they run. The SQLite file is in WAL mode,
//! so a reader does not wait for the writer. Reads inside a transaction keep using
//! the transaction's connection.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::OpenFlags;
use rusqlite::config::DbConfig;
use rusqlite::types::{FromSql, ToSql, ToSqlOutput};
use sqlx::any::AnyRow;

use super::{Backend, Db};

// For the expansions of `read_row!` in other crates.
#[doc(hidden)]
pub use {rusqlite, sqlx};

/// Maximum number of idle read connections in the pool. A connection is opened when
/// none is idle, so a burst never waits for one, and connections past this number are
/// closed after use. Reads run on the calling thread, so the runtime's threads bound
/// how many are open at once.
const IDLE_CONNECTIONS: usize = 8;

/// Maximum number of prepared statements each connection caches by SQL text. The
/// datatypes lookup has one statement per number of files.
const STATEMENT_CACHE: usize = 64;

/// A row type that both drivers decode: sqlx's `FromRow` on PostgreSQL and
/// [`ReadRow::from_sqlite`] on SQLite. [`read_row!`](crate::read_row) writes both
/// decoders from one field list.
pub trait ReadRow: for<'r> sqlx::FromRow<'r, AnyRow> + Send + Unpin + Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// Declares a struct whose fields are read by column name, with both decoders of
/// [`ReadRow`]. Fields are plain values (`i64`, `String` and their `Option`s).
#[macro_export]
macro_rules! read_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),*
        }

        impl<'r> $crate::db::read::sqlx::FromRow<'r, $crate::db::read::sqlx::any::AnyRow>
            for $name
        {
            fn from_row(
                row: &'r $crate::db::read::sqlx::any::AnyRow,
            ) -> $crate::db::read::sqlx::Result<Self> {
                use $crate::db::read::sqlx::Row as _;
                Ok(Self { $($field: row.try_get(stringify!($field))?),* })
            }
        }

        impl $crate::db::read::ReadRow for $name {
            fn from_sqlite(
                row: &$crate::db::read::rusqlite::Row<'_>,
            ) -> $crate::db::read::rusqlite::Result<Self> {
                let mut columns = $crate::db::read::Columns::new(row);
                Ok(Self { $($field: columns.get(stringify!($field))?),* })
            }
        }
    };
}

/// A cursor over a row's columns, read by name in about the order they were selected.
///
/// rusqlite finds a column by name by comparing every column's name. Fields are read
/// in the order of the select list, so each lookup first tries the column after the
/// one read last, and searches every name only when that misses.
pub struct Columns<'a, 'stmt> {
    row: &'a rusqlite::Row<'stmt>,
    next: usize,
}

impl<'a, 'stmt> Columns<'a, 'stmt> {
    pub fn new(row: &'a rusqlite::Row<'stmt>) -> Self {
        Self { row, next: 0 }
    }

    pub fn get<T: FromSql>(&mut self, name: &str) -> rusqlite::Result<T> {
        let statement: &rusqlite::Statement<'_> = self.row.as_ref();
        let index = match statement.column_name(self.next) {
            Ok(found) if found == name => self.next,
            _ => statement.column_index(name)?,
        };
        self.next = index + 1;
        self.row.get(index)
    }
}

impl ReadRow for (i64,) {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl ReadRow for (i64, i64) {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?))
    }
}

/// A value bound to a placeholder of a [`Read`].
#[derive(Debug, Clone)]
pub enum Param {
    Int(i64),
    Text(String),
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Self::Text(value.to_string())
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Self::Int(value) => value.to_sql(),
            Self::Text(value) => value.to_sql(),
        }
    }
}

/// A read query with `$1`, `$2`, ... placeholders, like every query of this crate.
#[derive(Debug)]
pub struct Read {
    sql: String,
    params: Vec<Param>,
}

impl Read {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    /// Binds the next placeholder.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    pub async fn fetch_optional<R: ReadRow>(self, db: &Db) -> sqlx::Result<Option<R>> {
        Ok(self.fetch_up_to(db, Some(1)).await?.pop())
    }

    pub async fn fetch_all<R: ReadRow>(self, db: &Db) -> sqlx::Result<Vec<R>> {
        self.fetch_up_to(db, None).await
    }

    async fn fetch_up_to<R: ReadRow>(self, db: &Db, limit: Option<usize>) -> sqlx::Result<Vec<R>> {
        match (&db.readers, db.backend) {
            (Some(readers), Backend::Sqlite) => readers.run(|conn| self.run_sqlite(conn, limit)),
            _ => {
                let mut query = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(self.sql));
                for param in self.params {
                    query = match param {
                        Param::Int(value) => query.bind(value),
                        Param::Text(value) => query.bind(value),
                    };
                }
                match limit {
                    Some(_) => Ok(query.fetch_optional(&db.pool).await?.into_iter().collect()),
                    None => query.fetch_all(&db.pool).await,
                }
            }
        }
    }

    fn run_sqlite<R: ReadRow>(
        &self,
        conn: &rusqlite::Connection,
        limit: Option<usize>,
    ) -> rusqlite::Result<Vec<R>> {
        let mut statement = conn.prepare_cached(&self.sql)?;
        // SQLite numbers `$N` placeholders in the order they first appear, so each one
        // is bound by its name rather than by its position.
        for index in 1..=statement.parameter_count() {
            let number = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|number| number.parse::<usize>().ok())
                .filter(|number| (1..=self.params.len()).contains(number))
                .ok_or(rusqlite::Error::InvalidParameterCount(
                    self.params.len(),
                    statement.parameter_count(),
                ))?;
            statement.raw_bind_parameter(index, &self.params[number - 1])?;
        }
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(R::from_sqlite(row)?);
            if limit.is_some_and(|limit| out.len() >= limit) {
                break;
            }
        }
        Ok(out)
    }
}

/// A pool of read-only connections to a SQLite file, used by [`Read`].
pub(super) struct SqliteReaders {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Returns the file sqlx opens for `database`, the part of a `sqlite://` URL before
/// any `?`. sqlx percent-decodes that part, so this does too.
pub(super) fn sqlite_file(database: &str) -> PathBuf {
    let decoded = percent_encoding::percent_decode_str(database).decode_utf8_lossy();
    PathBuf::from(decoded.as_ref())
}

impl std::fmt::Debug for SqliteReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReaders")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteReaders {
    /// Creates the readers of the database file at `path`, as [`sqlite_file`] finds it.
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection, or on a new one when none is idle.
    fn run<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> sqlx::Result<T> {
        let idle = self.lock_idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(driver_error)?,
        };
        let result = read(&conn);
        let mut idle = self.lock_idle();
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
        drop(idle);
        result.map_err(driver_error)
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<rusqlite::Connection>> {
        // A panic while the lock was held cannot leave a connection half-changed,
        // because the list is only pushed to and popped from.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open(&self) -> rusqlite::Result<rusqlite::Connection> {
        // Without the create flag, a path that does not match the database sqlx opened
        // fails here instead of reading an empty new file.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
        // `query_only` makes any write on this connection fail, so no write bypasses
        // the writer pool. The busy timeout covers the rare waits of a WAL reader, such
        // as recovery after a crash.
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA busy_timeout = 10000;")?;
        // The bundled SQLite has STAT4, which discards a prepared plan when a new value
        // is bound to a parameter that the planner read (a LIMIT, a range bound), so a
        // cached statement would be planned again on nearly every use. The build also
        // sets this default (.cargo/config.toml); this keeps it if the build does not.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

fn driver_error(error: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::AnyDriverError(Box::new(error))
}
