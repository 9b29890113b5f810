//! Deauthorization webhook deliveries, their attempts, and the jobs that send them.
//!
//! A delivery is one message: its `webhook-id` and body are fixed when it is queued.
//! Each POST of it, by a retry or a redelivery, is recorded as an attempt.

use sqlx::{AnyConnection, FromRow};

use super::Db;
use super::jobs as queue;
use crate::clock::Micros;
use crate::domain::webhooks::{DELIVERY_JOB, MAX_ATTEMPTS};

/// Delivery states.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";
/// Never sent, because the member authorized the project again after the withdrawal
/// it reports. A project acting on it would erase an active member's data.
pub const SUPERSEDED: &str = "superseded";

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Delivery {
    pub id: i64,
    pub project_id: i64,
    pub withdrawal_id: Option<i64>,
    pub webhook_id: String,
    pub project_member_id: String,
    pub body: String,
    pub state: String,
    pub created_at: Micros,
    pub finished_at: Option<Micros>,
}

const COLUMNS: &str = "id, project_id, withdrawal_id, webhook_id, project_member_id, body, \
    state, created_at, finished_at";

/// One POST of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub url: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: Micros,
}

/// The fields of a delivery to queue.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub project_id: i64,
    pub withdrawal_id: i64,
    pub webhook_id: &'a str,
    pub project_member_id: &'a str,
    pub body: &'a str,
}

/// The payload of a delivery job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct DeliveryJob {
    pub delivery_id: i64,
}

/// Inserts a delivery and queues its job, inside the caller's transaction, so the
/// webhook is sent if and only if the withdrawal commits.
pub async fn queue_new(
    conn: &mut AnyConnection,
    delivery: &NewDelivery<'_>,
    now: Micros,
) -> sqlx::Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_deliveries (project_id, withdrawal_id, webhook_id, \
         project_member_id, body, state, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         RETURNING id",
    )
    .bind(delivery.project_id)
    .bind(delivery.withdrawal_id)
    .bind(delivery.webhook_id)
    .bind(delivery.project_member_id)
    .bind(delivery.body)
    .bind(PENDING)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    queue_job(conn, id, now).await?;
    Ok(id)
}

async fn queue_job(conn: &mut AnyConnection, delivery_id: i64, now: Micros) -> sqlx::Result<i64> {
    let payload =
        serde_json::to_string(&DeliveryJob { delivery_id }).expect("a delivery job serializes");
    queue::insert(&mut *conn, DELIVERY_JOB, &payload, MAX_ATTEMPTS, now, now).await
}

/// Checks whether the member authorized the project again after the withdrawal a
/// delivery reports. That is so when the membership is active now, because a
/// withdrawal ends it, or when it was authorized after the withdrawal.
pub async fn is_superseded(conn: &mut AnyConnection, delivery: &Delivery) -> sqlx::Result<bool> {
    let withdrawn_at: Option<(i64,)> = match delivery.withdrawal_id {
        Some(id) => {
            sqlx::query_as("SELECT at FROM withdrawals WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    let withdrawn_at = withdrawn_at.map_or(delivery.created_at, |(at,)| at);
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships WHERE project_id = $1 AND project_member_id = $2 \
         AND ((authorized = 1 AND revoked = 0) OR authorized_at > $3)",
    )
    .bind(delivery.project_id)
    .bind(&delivery.project_member_id)
    .bind(withdrawn_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(count > 0)
}

/// Marks every pending delivery of a membership superseded, inside the caller's
/// transaction, when the member authorizes the project again. Their jobs then end
/// without sending.
pub async fn supersede_pending(
    conn: &mut AnyConnection,
    project_id: i64,
    project_member_id: &str,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, finished_at = $2 \
         WHERE project_id = $3 AND project_member_id = $4 AND state = $5",
    )
    .bind(SUPERSEDED)
    .bind(now)
    .bind(project_id)
    .bind(project_member_id)
    .bind(PENDING)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Outcome of a redelivery request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    Queued,
    /// The project has no such delivery.
    NotFound,
    /// The member came back after the withdrawal, so it is not sent again.
    Superseded,
}

/// Returns when the next attempt of a pending delivery is due, if one is waiting.
pub async fn next_attempt_at(db: &Db, delivery_id: i64) -> sqlx::Result<Option<Micros>> {
    let payload =
        serde_json::to_string(&DeliveryJob { delivery_id }).expect("a delivery job serializes");
    let (next,): (Option<i64>,) = sqlx::query_as(
        "SELECT MIN(run_at) FROM jobs WHERE kind = $1 AND payload = $2 AND state = 'queued'",
    )
    .bind(DELIVERY_JOB)
    .bind(&payload)
    .fetch_one(&db.pool)
    .await?;
    Ok(next)
}

/// Queues one more round of attempts for a project's delivery, with the same
/// `webhook-id` and body. A retry already waiting is brought forward instead of a
/// second job being queued, so one redelivery never sends the message twice. A
/// delivery superseded by the member's return is marked so and not queued.
pub async fn redeliver(
    db: &Db,
    project_id: i64,
    delivery_id: i64,
    now: Micros,
) -> sqlx::Result<Redelivery> {
    let mut tx = db.begin_write().await?;
    let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1 AND project_id = $2");
    let found: Option<Delivery> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(delivery_id)
        .bind(project_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(delivery) = found else {
        return Ok(Redelivery::NotFound);
    };
    if delivery.state == SUPERSEDED || is_superseded(&mut tx, &delivery).await? {
        if delivery.state != SUPERSEDED {
            finish_in(&mut tx, delivery_id, SUPERSEDED, now).await?;
            tx.commit().await?;
        }
        return Ok(Redelivery::Superseded);
    }
    let updated = sqlx::query(
        "UPDATE webhook_deliveries SET state = $1, finished_at = NULL \
         WHERE id = $2 AND project_id = $3",
    )
    .bind(PENDING)
    .bind(delivery_id)
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(Redelivery::NotFound);
    }

    let payload =
        serde_json::to_string(&DeliveryJob { delivery_id }).expect("a delivery job serializes");
    let waiting = sqlx::query(
        "UPDATE jobs SET run_at = $1 WHERE kind = $2 AND payload = $3 AND state = 'queued'",
    )
    .bind(now)
    .bind(DELIVERY_JOB)
    .bind(&payload)
    .execute(&mut *tx)
    .await?;
    let (running,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND payload = $2 AND state = 'running'",
    )
    .bind(DELIVERY_JOB)
    .bind(&payload)
    .fetch_one(&mut *tx)
    .await?;

    if waiting.rows_affected() == 0 && running == 0 {
        queue_job(&mut tx, delivery_id, now).await?;
    }
    tx.commit().await?;
    Ok(Redelivery::Queued)
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Delivery>> {
    let sql = format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// Records one POST: the status when the receiver answered, the error otherwise.
pub async fn record_attempt(
    db: &Db,
    delivery_id: i64,
    url: &str,
    outcome: Result<u16, &str>,
    duration_ms: i64,
    now: Micros,
) -> sqlx::Result<()> {
    let (status, error) = match outcome {
        Ok(status) => (Some(i64::from(status)), None),
        Err(error) => (None, Some(error)),
    };
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, url, status_code, error, duration_ms, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(delivery_id)
    .bind(url)
    .bind(status)
    .bind(error)
    .bind(duration_ms)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Marks a delivery delivered, failed or superseded for good.
pub async fn finish(db: &Db, delivery_id: i64, state: &str, now: Micros) -> sqlx::Result<()> {
    let mut conn = db.pool.acquire().await?;
    finish_in(&mut conn, delivery_id, state, now).await
}

async fn finish_in(
    conn: &mut AnyConnection,
    delivery_id: i64,
    state: &str,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_deliveries SET state = $1, finished_at = $2 WHERE id = $3")
        .bind(state)
        .bind(now)
        .bind(delivery_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Lists a project's deliveries, newest first.
pub async fn list_for_project(
    db: &Db,
    project_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE project_id = $1 \
         ORDER BY id DESC LIMIT $2 OFFSET $3"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await
}

pub async fn count_for_project(db: &Db, project_id: i64) -> sqlx::Result<i64> {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&db.pool)
            .await?;
    Ok(count)
}

/// Lists a delivery's attempts, oldest first.
pub async fn attempts(db: &Db, delivery_id: i64) -> sqlx::Result<Vec<Attempt>> {
    sqlx::query_as(
        "SELECT id, delivery_id, url, status_code, error, duration_ms, at \
         FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(delivery_id)
    .fetch_all(&db.pool)
    .await
}

/// Turns a project's webhook off after its receiver at `url` responded 410 Gone.
pub async fn disable(db: &Db, project_id: i64, url: &str, now: Micros) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO disabled_webhooks (project_id, url, disabled_at) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id) DO UPDATE SET url = excluded.url, \
         disabled_at = excluded.disabled_at",
    )
    .bind(project_id)
    .bind(url)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Returns when a project's webhook was turned off by a 410 Gone, if it is off.
pub async fn disabled_since(db: &Db, project_id: i64) -> sqlx::Result<Option<Micros>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT disabled_at FROM disabled_webhooks WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(at,)| at))
}
