//! Durable background work: workers in every instance claim jobs from the `jobs`
//! table with a lease, run them, and retry failures with exponential backoff.
//!
//! A job is queued in the same transaction as the change that causes it, runs at
//! least once, and is retried until it succeeds or runs out of attempts. A worker
//! that dies mid-job leaves its lease to expire, and then any worker runs it again.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::clock::{HOUR, Micros, SECOND};
use crate::db::jobs::{self as queue, ClaimedJob};
use crate::mail::Email;

pub mod uploads;

/// Kind of the job that sends one email.
pub const SEND_EMAIL: &str = "send_email";

/// How often an idle worker looks for work queued by other instances.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Emails are retried for about a day: 12 attempts with delays doubling from 10 s up
/// to the one-hour cap.
const EMAIL_MAX_ATTEMPTS: i64 = 12;

/// Failure of one job attempt.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt later (a server was down, a timeout).
    #[error("{0}")]
    Retry(String),
    /// Will fail the same way every time (a malformed payload).
    #[error("{0}")]
    Permanent(String),
}

/// Queues an email inside the caller's transaction.
pub async fn enqueue_email<'c, E>(executor: E, email: &Email, now: Micros) -> sqlx::Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let payload = serde_json::to_string(email).expect("an Email always serializes");
    queue::insert(executor, SEND_EMAIL, &payload, EMAIL_MAX_ATTEMPTS, now, now).await
}

/// Wakes this instance's idle workers after a job was queued; other instances find
/// it at their next poll.
#[derive(Debug, Clone, Default)]
pub struct JobSignal(Arc<Notify>);

impl JobSignal {
    pub fn notify(&self) {
        self.0.notify_waiters();
    }
}

/// Starts `count` workers that stop when `shutdown` turns true.
pub fn spawn_workers(
    state: &AppState,
    count: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let instance = crate::crypto::random_token(8);
    (0..count)
        .map(|n| {
            let state = state.clone();
            let shutdown = shutdown.clone();
            let name = format!("{instance}-{n}");
            tokio::spawn(async move { run_worker(state, name, shutdown).await })
        })
        .collect()
}

async fn run_worker(state: AppState, name: String, mut shutdown: watch::Receiver<bool>) {
    tracing::debug!(worker = %name, "job worker started");
    while !*shutdown.borrow() {
        match run_next_job(&state, &name).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(worker = %name, error = %error, "claiming a job failed");
            }
        }
        let notified = state.job_signal.0.notified();
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::debug!(worker = %name, "job worker stopped");
}

/// How often each instance deletes expired sessions and old rate-limit events.
const CLEANUP_INTERVAL: Duration = Duration::from_secs(600);

/// Starts the periodic clean-up of expired rows. Every instance runs it; the deletes
/// are idempotent, so running them twice does no harm.
pub fn spawn_cleanup(state: &AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            if let Err(error) = clean_up(&state).await {
                tracing::error!(error = %format!("{error:#}"), "periodic clean-up failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(CLEANUP_INTERVAL) => {}
                _ = shutdown.changed() => {}
            }
        }
    })
}

/// Deletes expired sessions, rate-limit events older than two days (the longest
/// rate-limit window is one day), and direct uploads left incomplete for a day.
pub async fn clean_up(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    crate::db::sessions::delete_expired(&state.db, now).await?;
    crate::db::rate_limits::prune(&state.db, now - 2 * crate::clock::DAY).await?;
    uploads::purge_incomplete_uploads(state, now).await?;
    Ok(())
}

/// Claims and runs one job. Returns false when no job was due.
pub async fn run_next_job(state: &AppState, worker: &str) -> anyhow::Result<bool> {
    let now = state.clock.now();
    let lease = state.settings.job_lease().as_micros() as Micros;
    let token = crate::crypto::random_token(24);
    let Some(job) = queue::claim(&state.db, worker, &token, now + lease, now).await? else {
        return Ok(false);
    };
    let started = std::time::Instant::now();
    let outcome = run_job(state, &job).await;
    let now = state.clock.now();
    let kept = match outcome {
        Ok(scrubbed) => {
            tracing::info!(job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                duration_ms = started.elapsed().as_millis() as u64, "job done");
            queue::complete(&state.db, &job, scrubbed.as_deref(), now).await?
        }
        Err(error) => {
            let retry_at = match &error {
                JobError::Retry(_) if job.attempts < job.max_attempts => {
                    Some(now + backoff(job.attempts))
                }
                _ => None,
            };
            let message = error.to_string();
            if retry_at.is_some() {
                tracing::warn!(job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                    error = %message, "job failed, will retry");
            } else {
                tracing::error!(job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                    error = %message, "job failed for good");
            }
            queue::fail(&state.db, &job, &message, retry_at, now).await?
        }
    };
    if !kept {
        tracing::warn!(
            job.id = job.id,
            worker,
            "job lease expired before the job finished"
        );
    }
    Ok(true)
}

/// Runs one job; on success returns the payload to keep, when it must be scrubbed.
async fn run_job(state: &AppState, job: &ClaimedJob) -> Result<Option<String>, JobError> {
    match job.kind.as_str() {
        SEND_EMAIL => {
            let email: Email = serde_json::from_str(&job.payload)
                .map_err(|error| JobError::Permanent(format!("invalid email payload: {error}")))?;
            state
                .mailer
                .send(&email)
                .await
                .map_err(|error| JobError::Retry(format!("{error:#}")))?;
            // Bodies carry one-time links; once sent they need not stay in the table.
            let kept = Email {
                body: String::new(),
                ..email
            };
            Ok(Some(
                serde_json::to_string(&kept).expect("an Email always serializes"),
            ))
        }
        other => Err(JobError::Permanent(format!("unknown job kind {other:?}"))),
    }
}

/// Delay before attempt `attempt + 1`: 10 s doubling per attempt, capped at one hour,
/// with jitter drawn from the upper half so retries of many jobs spread out.
pub fn backoff(attempt: i64) -> Micros {
    let exponent = attempt.clamp(1, 20) - 1;
    let delay = (10 * SECOND).saturating_mul(1 << exponent).min(HOUR);
    delay / 2 + rand::rng().random_range(0..=delay / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..30 {
            let delay = backoff(attempt);
            let full = (10 * SECOND)
                .saturating_mul(1 << (attempt.min(20) - 1))
                .min(HOUR);
            assert!(
                delay >= full / 2,
                "attempt {attempt}: {delay} below half of {full}"
            );
            assert!(delay <= full, "attempt {attempt}: {delay} above {full}");
        }
        assert!(backoff(30) <= HOUR);
    }
}
