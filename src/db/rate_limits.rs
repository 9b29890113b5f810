//! Sliding-window rate limits stored in the database, so that they hold across every
//! instance of the site.

use super::Db;
use crate::clock::{Micros, SECOND};

/// A limit: at most `max` events per `window` microseconds in one bucket.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: u32,
    pub window: Micros,
}

/// The limit is reached; the next event is allowed after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// Checks whether one more event fits in `bucket` without recording it.
pub async fn check(
    db: &Db,
    bucket: &str,
    limit: Limit,
    now: Micros,
) -> sqlx::Result<Result<(), RetryAfter>> {
    let since = now - limit.window;
    let (count, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM rate_events WHERE bucket = $1 AND at > $2")
            .bind(bucket)
            .bind(since)
            .fetch_one(&db.pool)
            .await?;
    if count < i64::from(limit.max) {
        return Ok(Ok(()));
    }
    // The window frees a slot when its oldest event ages out.
    let frees_at = oldest.unwrap_or(now) + limit.window;
    let seconds = ((frees_at - now).max(0) + SECOND - 1) / SECOND;
    Ok(Err(RetryAfter(seconds.max(1) as u64)))
}

/// Records one event in `bucket` if the limit allows it, returning the event's id.
///
/// The event is inserted first and counted second (with every earlier event of the
/// window), so requests racing each other cannot all slip under the limit the way a
/// separate check and record would let them. An event over the limit is deleted again.
/// NOTE: on PostgreSQL two transactions that insert at the same instant may each miss
/// the other's uncommitted row, so a burst can still pass the limit by one or two.
pub async fn acquire(
    db: &Db,
    bucket: &str,
    limit: Limit,
    now: Micros,
) -> sqlx::Result<Result<i64, RetryAfter>> {
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO rate_events (bucket, at) VALUES ($1, $2) RETURNING id")
            .bind(bucket)
            .bind(now)
            .fetch_one(&db.pool)
            .await?;
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM rate_events WHERE bucket = $1 AND at > $2 AND id <= $3",
    )
    .bind(bucket)
    .bind(now - limit.window)
    .bind(id)
    .fetch_one(&db.pool)
    .await?;
    if count <= i64::from(limit.max) {
        return Ok(Ok(id));
    }
    release(db, id).await?;
    match check(db, bucket, limit, now).await? {
        Err(retry_after) => Ok(Err(retry_after)),
        // Earlier events aged out in between; one second is a safe answer.
        Ok(()) => Ok(Err(RetryAfter(1))),
    }
}

/// Deletes one event recorded by [`acquire`], e.g. when the attempt it counted
/// turned out to be a successful login.
pub async fn release(db: &Db, event_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM rate_events WHERE id = $1")
        .bind(event_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records one event in `bucket`.
pub async fn record(db: &Db, bucket: &str, now: Micros) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO rate_events (bucket, at) VALUES ($1, $2)")
        .bind(bucket)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Forgets the events of a bucket, e.g. the failed logins of an account after a
/// successful one.
pub async fn clear(db: &Db, bucket: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM rate_events WHERE bucket = $1")
        .bind(bucket)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Deletes events older than `before`; no limit looks back that far.
pub async fn prune(db: &Db, before: Micros) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM rate_events WHERE at < $1")
        .bind(before)
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected())
}
