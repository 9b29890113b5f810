//! The bytes each project uploaded in the last 24 hours, stored in the database so that
//! the daily upload volume limit applies across every instance.
//!
//! An upload reserves its bytes before they are stored: all of them when the size is
//! known, or a part at a time while they stream. The count and the reservation run in
//! one transaction holding the project's lock (see [`lock_key`]), so uploads racing on
//! any instance cannot together pass the limit.

use sqlx::AnyConnection;

use super::rate_limits::RetryAfter;
use super::{Db, lock_key};
use crate::clock::{DAY, Micros};

/// Reserves `bytes` of `project_id`'s volume at `now`, returning the reservation's id.
///
/// The reservation is rejected when the project's bytes of the last 24 hours already
/// reach `max_bytes`, or would pass it with `bytes` added. An upload larger than
/// `max_bytes` can never fit, and its `Retry-After` is the whole window.
pub async fn reserve(
    db: &Db,
    project_id: i64,
    bytes: u64,
    max_bytes: u64,
    now: Micros,
) -> sqlx::Result<Result<i64, RetryAfter>> {
    let mut tx = db.begin_write().await?;
    lock_key(&mut tx, db.backend, &project_key(project_id)).await?;
    if let Err(retry_after) = room_for(&mut tx, project_id, bytes, max_bytes, now).await? {
        tx.rollback().await?;
        return Ok(Err(retry_after));
    }
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO upload_volume (project_id, bytes, at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(project_id)
    .bind(to_i64(bytes))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Adds at least `needed` and at most `preferred` bytes to a reservation, as much as the
/// project's remaining volume allows, and returns the bytes added. Rejected when not
/// even `needed` bytes remain.
pub async fn extend(
    db: &Db,
    reservation: i64,
    project_id: i64,
    needed: u64,
    preferred: u64,
    max_bytes: u64,
    now: Micros,
) -> sqlx::Result<Result<u64, RetryAfter>> {
    let mut tx = db.begin_write().await?;
    lock_key(&mut tx, db.backend, &project_key(project_id)).await?;
    if let Err(retry_after) = room_for(&mut tx, project_id, needed, max_bytes, now).await? {
        tx.rollback().await?;
        return Ok(Err(retry_after));
    }
    let used = used_since(&mut tx, project_id, now - DAY).await?;
    let granted = preferred.min(max_bytes.saturating_sub(used)).max(needed);
    sqlx::query("UPDATE upload_volume SET bytes = bytes + $1 WHERE id = $2")
        .bind(to_i64(granted))
        .bind(reservation)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(granted))
}

/// Sets a reservation to the bytes the upload stored, giving back what it reserved
/// beyond them.
pub async fn settle(db: &Db, reservation: i64, bytes: u64) -> sqlx::Result<()> {
    sqlx::query("UPDATE upload_volume SET bytes = $1 WHERE id = $2")
        .bind(to_i64(bytes))
        .bind(reservation)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes a reservation whose upload stored nothing.
pub async fn cancel(db: &Db, reservation: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM upload_volume WHERE id = $1")
        .bind(reservation)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Checks whether the project's bytes of the last 24 hours are still below
/// `max_bytes`, so that it may start an upload.
pub async fn check(
    db: &Db,
    project_id: i64,
    max_bytes: u64,
    now: Micros,
) -> sqlx::Result<Result<(), RetryAfter>> {
    let mut conn = db.pool.acquire().await?;
    room_for(&mut conn, project_id, 0, max_bytes, now).await
}

/// Deletes reservations older than `before`; the limit looks back only one day.
pub async fn prune(db: &Db, before: Micros) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM upload_volume WHERE at < $1")
        .bind(before)
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected())
}

fn project_key(project_id: i64) -> String {
    format!("upload-volume:{project_id}")
}

/// Returns `Ok` when `bytes` more fit in the project's volume of the last 24 hours,
/// counting an empty upload as one byte so that a project at its limit cannot start
/// one. Otherwise returns when enough of the oldest reservations age out.
async fn room_for(
    conn: &mut AnyConnection,
    project_id: i64,
    bytes: u64,
    max_bytes: u64,
    now: Micros,
) -> sqlx::Result<Result<(), RetryAfter>> {
    let since = now - DAY;
    let used = used_since(conn, project_id, since).await?;
    let counted = bytes.max(1);
    let excess = used.saturating_add(counted).saturating_sub(max_bytes);
    if excess == 0 {
        return Ok(Ok(()));
    }

    let reservations: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT bytes, at FROM upload_volume WHERE project_id = $1 AND at > $2 ORDER BY at",
    )
    .bind(project_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut freed: u64 = 0;
    for (reserved, at) in reservations {
        freed = freed.saturating_add(u64::try_from(reserved).unwrap_or(0));
        if freed >= excess {
            return Ok(Err(RetryAfter::until(at + DAY, now)));
        }
    }
    Ok(Err(RetryAfter::until(now + DAY, now)))
}

async fn used_since(conn: &mut AnyConnection, project_id: i64, since: Micros) -> sqlx::Result<u64> {
    // PostgreSQL sums BIGINT to NUMERIC, which the Any driver cannot decode.
    let (used,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM upload_volume \
         WHERE project_id = $1 AND at > $2",
    )
    .bind(project_id)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(used).unwrap_or(0))
}

fn to_i64(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
