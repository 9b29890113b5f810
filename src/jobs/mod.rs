//! Durable background work: workers in every instance claim jobs from the `jobs`
//! table with a lease, run them, and retry failures with exponential backoff.
//!
//! A job is queued in the same transaction as the change that causes it, runs at
//! least once, and is retried until it succeeds or runs out of attempts. A worker
//! that dies mid-job leaves its lease to expire, and then any worker runs it again.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::clock::{HOUR, Micros, SECOND};
use crate::db::jobs::{self as queue, ClaimedJob};
use crate::domain::membership::WITHDRAWAL_NOTICE_JOB;
use crate::domain::messaging::MESSAGE_JOB;
use crate::domain::webhooks::DELIVERY_JOB;
use crate::mail::Email;

pub mod exports;
pub mod messages;
pub mod uploads;
pub mod webhooks;
pub mod withdrawal_notice;

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
        // Registered before looking for a job: a signal sent while the lookup runs
        // would otherwise be lost, and the job it announced would wait for the poll
        // interval.
        let notified = state.job_signal.0.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        match run_next_job(&state, &name).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => {
                tracing::error!(worker = %name, error = %format!("{error:#}"), "job worker failed, trying again after the poll interval");
            }
        }
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

/// Deletes expired sessions, rate-limit events and upload volume reservations older
/// than two days (the longest window is one day), expired OAuth2 codes and tokens, and direct uploads
/// left incomplete for a day, and member data exports that expired.
pub async fn clean_up(state: &AppState) -> anyhow::Result<()> {
    let now = state.clock.now();
    crate::db::sessions::delete_expired(&state.db, now).await?;
    crate::db::rate_limits::prune(&state.db, now - 2 * crate::clock::DAY).await?;
    crate::db::upload_volume::prune(&state.db, now - 2 * crate::clock::DAY).await?;
    crate::db::oauth2::prune(&state.db, now).await?;
    uploads::purge_incomplete_uploads(state, now).await?;
    uploads::remove_abandoned_upload_files(state).await?;
    exports::purge_exports(state, now).await?;
    Ok(())
}

/// Claims and runs one job. Returns false when no job was due.
///
/// While the job runs, its lease is extended every third of the lease length, so a
/// long job keeps its lease as long as this worker is alive.
pub async fn run_next_job(state: &AppState, worker: &str) -> anyhow::Result<bool> {
    let now = state.clock.now();
    let token = crate::crypto::random_token(24);
    let claim = queue::claim(&state.db, worker, &token, now + lease_length(state), now)
        .await
        .context("claiming a job")?;
    for id in &claim.exhausted {
        tracing::error!(
            job.id = id,
            worker,
            error = queue::LEASE_EXPIRED,
            "job failed for good: its lease expired during its last attempt"
        );
    }
    let Some(job) = claim.job else {
        return Ok(false);
    };

    let started = std::time::Instant::now();
    let outcome = tokio::select! {
        outcome = run_job(state, &job) => outcome,
        never = keep_lease(state, &job, worker) => match never {},
    };

    let now = state.clock.now();
    let kept = match outcome {
        Ok(scrubbed) => {
            tracing::info!(job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                duration_ms = started.elapsed().as_millis() as u64, "job done");
            queue::complete(&state.db, &job, scrubbed.as_deref(), now).await
        }
        Err(error) => {
            let retry_at = match &error {
                JobError::Retry(_) if job.attempts < job.max_attempts => {
                    Some(now + retry_delay(&job.kind, job.attempts))
                }
                _ => None,
            };
            let message = error.to_string();
            match retry_at {
                Some(at) => tracing::warn!(job.id = job.id, job.kind = %job.kind,
                    attempt = job.attempts, max_attempts = job.max_attempts,
                    retry_in_s = (at - now) / SECOND, error = %message, "job failed, will retry"),
                None => tracing::error!(job.id = job.id, job.kind = %job.kind,
                    attempt = job.attempts, max_attempts = job.max_attempts,
                    error = %message, "job failed for good"),
            }
            queue::fail(&state.db, &job, &message, retry_at, now).await
        }
    }
    .with_context(|| format!("recording the outcome of job {}", job.id))?;
    if !kept {
        tracing::warn!(
            job.id = job.id,
            worker,
            "job lease expired before the job finished; its result was not recorded"
        );
    }
    Ok(true)
}

/// Returns the lease length a claim or a heartbeat grants, in microseconds.
fn lease_length(state: &AppState) -> Micros {
    state.settings.job_lease().as_micros() as Micros
}

/// Extends the job's lease every third of the lease length until the caller drops
/// this future. A failed extension is retried a period later. After a lost lease it
/// stops extending and waits to be dropped.
async fn keep_lease(state: &AppState, job: &ClaimedJob, worker: &str) -> Infallible {
    let every = (state.settings.job_lease() / 3).max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let until = state.clock.now() + lease_length(state);
        match queue::extend_lease(&state.db, job, until).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    job.id = job.id,
                    worker,
                    "job lease was taken over by another worker; no longer extending it"
                );
                break;
            }
            Err(error) => {
                // The next period retries, because a lease extended on time still covers it.
                tracing::warn!(job.id = job.id, worker, error = %error,
                    "extending a job lease failed");
            }
        }
    }
    std::future::pending().await
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
        DELIVERY_JOB => webhooks::deliver(state, job).await,
        exports::EXPORT_JOB => exports::build_export(state, job).await.map(|()| None),
        WITHDRAWAL_NOTICE_JOB => withdrawal_notice::send_notice(state, &job.payload)
            .await
            .map(|()| None),
        MESSAGE_JOB => messages::send_message(state, &job.payload)
            .await
            .map(|()| None),
        other => Err(JobError::Permanent(format!("unknown job kind {other:?}"))),
    }
}

/// Delay before attempt `attempt + 1` of a job of `kind`. Webhook deliveries have
/// their own, longer schedule, because receivers may be down for a day.
fn retry_delay(kind: &str, attempt: i64) -> Micros {
    match kind {
        DELIVERY_JOB => crate::domain::webhooks::retry_delay(attempt),
        _ => backoff(attempt),
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
