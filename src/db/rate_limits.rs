//! Sliding-window rate limits stored in the database, so that they hold across every
//! instance of the site.

use sqlx::AnyConnection;

use super::{Db, lock_key};
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

impl RetryAfter {
    /// Returns the seconds from `now` until `at`, rounded up to at least one.
    pub fn until(at: Micros, now: Micros) -> RetryAfter {
        let seconds = ((at - now).max(0) + SECOND - 1) / SECOND;
        RetryAfter(seconds.max(1) as u64)
    }
}

/// Records one event in `bucket` if the limit allows it, returning the event's id.
///
/// The count and the insert run in one transaction that holds the bucket's lock (see
/// [`lock_key`]), so requests racing each other on any instance are counted one after
/// the other and exactly `limit.max` of them get in.
pub async fn acquire(
    db: &Db,
    bucket: &str,
    limit: Limit,
    now: Micros,
) -> sqlx::Result<Result<i64, RetryAfter>> {
    let mut tx = db.begin_write().await?;
    lock_key(&mut tx, db.backend, bucket).await?;
    if let Err(retry_after) = room_for_one(&mut tx, bucket, limit, now).await? {
        tx.rollback().await?;
        return Ok(Err(retry_after));
    }
    let id = insert(&mut tx, bucket, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
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

/// Records one event in `bucket` whatever the count, e.g. an email sent for another
/// reason that still counts toward the bucket's limit. It takes the bucket's lock so
/// that no [`acquire`] counting at the same time misses it.
pub async fn record(db: &Db, bucket: &str, now: Micros) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    lock_key(&mut tx, db.backend, bucket).await?;
    insert(&mut tx, bucket, now).await?;
    tx.commit().await
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

/// Returns `Ok` when the window of `bucket` has room for one more event, or else when
/// its oldest event ages out.
async fn room_for_one(
    conn: &mut AnyConnection,
    bucket: &str,
    limit: Limit,
    now: Micros,
) -> sqlx::Result<Result<(), RetryAfter>> {
    let since = now - limit.window;
    let (count, oldest): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM rate_events WHERE bucket = $1 AND at > $2")
            .bind(bucket)
            .bind(since)
            .fetch_one(&mut *conn)
            .await?;
    if count < i64::from(limit.max) {
        return Ok(Ok(()));
    }
    // The window frees a slot when its oldest event ages out.
    let frees_at = oldest.unwrap_or(now) + limit.window;
    Ok(Err(RetryAfter::until(frees_at, now)))
}

async fn insert(conn: &mut AnyConnection, bucket: &str, now: Micros) -> sqlx::Result<i64> {
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO rate_events (bucket, at) VALUES ($1, $2) RETURNING id")
            .bind(bucket)
            .bind(now)
            .fetch_one(conn)
            .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let now = 1_000 * SECOND;
        assert_eq!(RetryAfter::until(now + 90 * SECOND, now), RetryAfter(90));
        assert_eq!(
            RetryAfter::until(now + 90 * SECOND + 1, now),
            RetryAfter(91)
        );
        assert_eq!(RetryAfter::until(now + 1, now), RetryAfter(1));
        assert_eq!(RetryAfter::until(now, now), RetryAfter(1));
        assert_eq!(RetryAfter::until(now - SECOND, now), RetryAfter(1));
    }
}
