//! The durable job queue's table: enqueue, claim with a lease, and record outcomes.

use sqlx::FromRow;

use super::{Backend, Db};
use crate::clock::Micros;

/// A job a worker has claimed.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    /// The attempt now starting, counting from 1.
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_token: String,
}

/// Job states. A `running` job whose lease has expired is runnable again.
pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// Inserts a job, runnable from `run_at`. Works inside a transaction so that a job is
/// queued if and only if the change that caused it commits.
pub async fn insert<'c, E>(
    executor: E,
    kind: &str,
    payload: &str,
    max_attempts: i64,
    run_at: Micros,
    now: Micros,
) -> sqlx::Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO jobs (kind, payload, state, attempts, max_attempts, run_at, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $6) RETURNING id",
    )
    .bind(kind)
    .bind(payload)
    .bind(QUEUED)
    .bind(max_attempts)
    .bind(run_at)
    .bind(now)
    .fetch_one(executor)
    .await?;
    Ok(id)
}

/// Error recorded on an attempt whose worker stopped, or stalled, past its lease.
pub const LEASE_EXPIRED: &str =
    "the lease expired before the attempt finished: the worker stopped or stalled";

/// The result of one claim: the job now leased, and jobs failed along the way.
#[derive(Debug, Default)]
pub struct Claim {
    /// The job now leased to the caller, if one was due.
    pub job: Option<ClaimedJob>,
    /// Ids of jobs marked failed because their lease expired during their last
    /// allowed attempt.
    pub exhausted: Vec<i64>,
}

/// Claims the runnable job that is due first, if any, and records the attempt.
///
/// A `running` job whose lease expired is runnable again: its worker died or stalled.
/// Its unfinished attempt is recorded as failed with [`LEASE_EXPIRED`], and when that
/// was its last allowed attempt the job is marked failed instead of being claimed, so
/// a job that crashes its worker every time cannot run forever.
///
/// On PostgreSQL `FOR UPDATE SKIP LOCKED` lets workers of every instance claim
/// different jobs without waiting on each other. On SQLite the claim runs in a
/// `BEGIN IMMEDIATE` transaction, which holds the database's single write lock, so
/// two workers can never claim the same job.
pub async fn claim(
    db: &Db,
    worker: &str,
    lease_token: &str,
    lease_until: Micros,
    now: Micros,
) -> sqlx::Result<Claim> {
    let lock = match db.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut tx = db.begin_write().await?;

    // Close the attempts whose lease ran out, then fail the jobs that had no
    // attempts left.
    sqlx::query(
        "UPDATE job_attempts SET finished_at = $1, error = $2 \
         WHERE finished_at IS NULL AND job_id IN \
             (SELECT id FROM jobs WHERE state = 'running' AND locked_until < $1)",
    )
    .bind(now)
    .bind(LEASE_EXPIRED)
    .execute(&mut *tx)
    .await?;
    let exhausted: Vec<(i64,)> = sqlx::query_as(
        "UPDATE jobs SET state = 'failed', finished_at = $1, locked_until = NULL, last_error = $2 \
         WHERE state = 'running' AND locked_until < $1 AND attempts >= max_attempts \
         RETURNING id",
    )
    .bind(now)
    .bind(LEASE_EXPIRED)
    .fetch_all(&mut *tx)
    .await?;

    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = $1, \
         locked_by = $2, locked_until = $3 \
         WHERE id = (SELECT id FROM jobs \
             WHERE (state = 'queued' AND run_at <= $4) \
                OR (state = 'running' AND locked_until < $4) \
             ORDER BY run_at, id LIMIT 1 {lock}) \
         RETURNING id, kind, payload, attempts, max_attempts, lease_token"
    );
    let job: Option<ClaimedJob> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(lease_token)
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(job) = &job {
        sqlx::query(
            "INSERT INTO job_attempts (job_id, attempt, worker, started_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(job.id)
        .bind(job.attempts)
        .bind(worker)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Claim {
        job,
        exhausted: exhausted.into_iter().map(|(id,)| id).collect(),
    })
}

/// Moves a running job's lease to `lease_until`. Returns false when the lease was
/// lost to another worker (or the job already finished), in which case nothing changes.
pub async fn extend_lease(db: &Db, job: &ClaimedJob, lease_until: Micros) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND lease_token = $3 AND state = 'running'",
    )
    .bind(lease_until)
    .bind(job.id)
    .bind(&job.lease_token)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Marks a job done and records the attempt's end. Returns false when the lease was
/// lost (another worker claimed the job, or it was failed for lack of attempts), in
/// which case the job row is left as its new owner set it.
pub async fn complete(
    db: &Db,
    job: &ClaimedJob,
    payload: Option<&str>,
    now: Micros,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let result = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, locked_until = NULL, last_error = NULL, \
         payload = COALESCE($2, payload) \
         WHERE id = $3 AND lease_token = $4 AND state = 'running'",
    )
    .bind(now)
    .bind(payload)
    .bind(job.id)
    .bind(&job.lease_token)
    .execute(&mut *tx)
    .await?;
    finish_attempt(&mut tx, job, now, None).await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

/// Records a failed attempt: the job runs again at `retry_at`, or is marked failed
/// when `retry_at` is `None`. Returns false when the lease was lost, in which case the
/// job row is left unchanged.
pub async fn fail(
    db: &Db,
    job: &ClaimedJob,
    error: &str,
    retry_at: Option<Micros>,
    now: Micros,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let (state, run_at, finished_at) = match retry_at {
        Some(at) => (QUEUED, Some(at), None),
        None => (FAILED, None, Some(now)),
    };
    let result = sqlx::query(
        "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), finished_at = $3, \
         locked_until = NULL, last_error = $4 \
         WHERE id = $5 AND lease_token = $6 AND state = 'running'",
    )
    .bind(state)
    .bind(run_at)
    .bind(finished_at)
    .bind(error)
    .bind(job.id)
    .bind(&job.lease_token)
    .execute(&mut *tx)
    .await?;
    finish_attempt(&mut tx, job, now, Some(error)).await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

async fn finish_attempt(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    job: &ClaimedJob,
    now: Micros,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE job_attempts SET finished_at = $1, error = $2 WHERE job_id = $3 AND attempt = $4",
    )
    .bind(now)
    .bind(error)
    .bind(job.id)
    .bind(job.attempts)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queue depth and the age of the oldest runnable job, for `/metrics`.
pub async fn queue_stats(db: &Db, now: Micros) -> sqlx::Result<(i64, Micros)> {
    let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(
        "SELECT COUNT(*), MIN(run_at) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= $1",
    )
    .bind(now)
    .fetch_one(&db.pool)
    .await?;
    Ok((depth, oldest.map(|at| now - at).unwrap_or(0)))
}

/// A job as operators see it: everything but the payload, which can carry personal
/// data and, until an email is sent, its one-time links.
#[derive(Debug, Clone, FromRow)]
pub struct JobSummary {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Micros,
    pub locked_by: Option<String>,
    pub locked_until: Option<Micros>,
    pub last_error: Option<String>,
    pub created_at: Micros,
    pub finished_at: Option<Micros>,
}

/// Lists up to `limit` jobs, newest first, optionally only those in `state`.
pub async fn list(db: &Db, state: Option<&str>, limit: i64) -> sqlx::Result<Vec<JobSummary>> {
    sqlx::query_as(
        "SELECT id, kind, state, attempts, max_attempts, run_at, locked_by, locked_until, \
         last_error, created_at, finished_at FROM jobs \
         WHERE ($1 IS NULL OR state = $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(state)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}
