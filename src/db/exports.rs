//! Exports of a member's data and their lifecycle: queued, building, then ready until
//! they expire, or failed.

use sqlx::FromRow;

use super::Db;
use crate::clock::Micros;

/// The state of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportState {
    Queued,
    Building,
    Ready,
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Building => "building",
            ExportState::Ready => "ready",
            ExportState::Failed => "failed",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "queued" => ExportState::Queued,
            "building" => ExportState::Building,
            "ready" => ExportState::Ready,
            _ => ExportState::Failed,
        }
    }
}

/// A stored export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub id: i64,
    pub member_id: i64,
    pub state: ExportState,
    /// Key of the zip in object storage, once it is ready.
    pub storage_key: Option<String>,
    /// Size of the zip in bytes, once it is ready.
    pub size: Option<i64>,
    /// The reason the export failed, shown to the member.
    pub error: Option<String>,
    pub created_at: Micros,
    pub started_at: Option<Micros>,
    pub finished_at: Option<Micros>,
    pub expires_at: Option<Micros>,
}

#[derive(Debug, FromRow)]
struct ExportRow {
    id: i64,
    member_id: i64,
    state: String,
    storage_key: Option<String>,
    size: Option<i64>,
    error: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    expires_at: Option<i64>,
}

impl From<ExportRow> for Export {
    fn from(row: ExportRow) -> Self {
        Self {
            id: row.id,
            member_id: row.member_id,
            state: ExportState::parse(&row.state),
            storage_key: row.storage_key,
            size: row.size,
            error: row.error,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
        }
    }
}

const COLUMNS: &str = "id, member_id, state, storage_key, size, error, created_at, \
    started_at, finished_at, expires_at";

/// Inserts a queued export inside the caller's transaction. Returns `None` when the
/// member already has an export queued or building.
pub async fn insert_queued(
    conn: &mut sqlx::AnyConnection,
    member_id: i64,
    now: Micros,
) -> sqlx::Result<Option<i64>> {
    // ON CONFLICT DO NOTHING keeps a PostgreSQL transaction usable when the unique
    // index on exports in progress rejects the row.
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO exports (member_id, state, created_at) VALUES ($1, 'queued', $2) \
         ON CONFLICT DO NOTHING RETURNING id",
    )
    .bind(member_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(inserted.map(|(id,)| id))
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Export>> {
    let sql = format!("SELECT {COLUMNS} FROM exports WHERE id = $1");
    let row: Option<ExportRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Export::from))
}

/// Returns the member's most recent export, if any.
pub async fn latest_for_member(db: &Db, member_id: i64) -> sqlx::Result<Option<Export>> {
    let sql =
        format!("SELECT {COLUMNS} FROM exports WHERE member_id = $1 ORDER BY id DESC LIMIT 1");
    let row: Option<ExportRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(member_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Export::from))
}

/// Moves a queued (or, on a retry, building) export to building. Returns false when
/// the export is gone or already finished.
pub async fn mark_building(db: &Db, id: i64, now: Micros) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE exports SET state = 'building', started_at = $1 \
         WHERE id = $2 AND state IN ('queued', 'building')",
    )
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks an export ready inside the caller's transaction. Returns false when it was
/// no longer building.
pub async fn mark_ready(
    conn: &mut sqlx::AnyConnection,
    id: i64,
    storage_key: &str,
    size: i64,
    expires_at: Micros,
    now: Micros,
) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE exports SET state = 'ready', storage_key = $1, size = $2, expires_at = $3, \
         finished_at = $4, error = NULL WHERE id = $5 AND state = 'building'",
    )
    .bind(storage_key)
    .bind(size)
    .bind(expires_at)
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks an unfinished export failed with a message for the member.
pub async fn mark_failed(db: &Db, id: i64, error: &str, now: Micros) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE exports SET state = 'failed', error = $1, finished_at = $2 \
         WHERE id = $3 AND state IN ('queued', 'building')",
    )
    .bind(error)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Marks failed every export still queued or building that was created before
/// `cutoff`: its job ran out of attempts without finishing, e.g. after crashes.
pub async fn fail_stuck(db: &Db, cutoff: Micros, now: Micros) -> sqlx::Result<u64> {
    let result = sqlx::query(
        "UPDATE exports SET state = 'failed', error = 'The export did not finish in time.', \
         finished_at = $1 WHERE state IN ('queued', 'building') AND created_at < $2",
    )
    .bind(now)
    .bind(cutoff)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected())
}

/// Lists exports to remove, as `(id, storage key)` pairs: ready exports that expired
/// before `now`, failed ones finished before `failed_cutoff`, and the member's older
/// exports that a newer ready one replaced.
pub async fn list_removable(
    db: &Db,
    now: Micros,
    failed_cutoff: Micros,
) -> sqlx::Result<Vec<(i64, Option<String>)>> {
    sqlx::query_as(
        "SELECT id, storage_key FROM exports e WHERE \
         (state = 'ready' AND expires_at < $1) \
         OR (state = 'failed' AND finished_at < $2) \
         OR (state IN ('ready', 'failed') AND EXISTS (SELECT 1 FROM exports newer \
             WHERE newer.member_id = e.member_id AND newer.id > e.id \
             AND newer.state = 'ready')) \
         ORDER BY id",
    )
    .bind(now)
    .bind(failed_cutoff)
    .fetch_all(&db.pool)
    .await
}

pub async fn delete(db: &Db, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM exports WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Withdraws every export of the member's after they deleted data it may contain.
/// Ready and failed exports are deleted. Exports still queued or building are marked
/// failed with `reason`, so their job finds them finished and keeps nothing it built.
/// Returns the storage keys of the deleted zips, for the caller to delete, and
/// whether any export was ready, queued or building.
pub async fn withdraw_for_member(
    db: &Db,
    member_id: i64,
    reason: &str,
    now: Micros,
) -> sqlx::Result<(Vec<String>, bool)> {
    let mut tx = db.begin_write().await?;
    let removed: Vec<(Option<String>,)> = sqlx::query_as(
        "DELETE FROM exports WHERE member_id = $1 AND state IN ('ready', 'failed') \
         RETURNING storage_key",
    )
    .bind(member_id)
    .fetch_all(&mut *tx)
    .await?;
    let cancelled = sqlx::query(
        "UPDATE exports SET state = 'failed', error = $1, finished_at = $2 \
         WHERE member_id = $3 AND state IN ('queued', 'building')",
    )
    .bind(reason)
    .bind(now)
    .bind(member_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    let keys: Vec<String> = removed.into_iter().filter_map(|(key,)| key).collect();
    let any = cancelled > 0 || !keys.is_empty();
    Ok((keys, any))
}
