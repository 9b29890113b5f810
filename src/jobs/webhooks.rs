//! Sending deauthorization webhooks: one job per round of attempts of a delivery.
//!
//! Each attempt reads the project's current webhook URL and secret, so a coordinator
//! who fixes either can redeliver. The body and `webhook-id` never change; the
//! `webhook-timestamp` and the Standard Webhooks signature are made anew per attempt.

use std::time::Instant;

use super::JobError;
use crate::app::AppState;
use crate::clock::SECOND;
use crate::db::jobs::ClaimedJob;
use crate::db::projects;
use crate::db::webhooks::{self, DELIVERED, DeliveryJob, FAILED, SUPERSEDED};
use crate::domain::webhooks::{
    OPEN_HUMANS_SIGNATURE_HEADER, open_humans_signature, standard_signature,
};
use crate::http::webhook_client::{self, SendError};

/// Runs one attempt of a delivery. A 2xx response delivers it. A 410 Gone turns the
/// project's webhook off and fails the delivery; any other response or a network
/// failure is retried. A URL the address guard rejects, a project without a webhook or
/// with its webhook off, or a missing delivery fails for good. A delivery whose member
/// authorized the project again after the withdrawal is never sent, and it is marked
/// superseded.
pub async fn deliver(state: &AppState, job: &ClaimedJob) -> Result<Option<String>, JobError> {
    let payload: DeliveryJob = serde_json::from_str(&job.payload)
        .map_err(|error| JobError::Permanent(format!("invalid delivery payload: {error}")))?;
    let delivery = webhooks::find_by_id(&state.db, payload.delivery_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| {
            JobError::Permanent(format!("delivery {} not found", payload.delivery_id))
        })?;
    let superseded = delivery.state == SUPERSEDED || {
        let mut conn = state.db.pool.acquire().await.map_err(retry)?;
        webhooks::is_superseded(&mut conn, &delivery)
            .await
            .map_err(retry)?
    };
    if superseded {
        webhooks::finish(&state.db, delivery.id, SUPERSEDED, state.clock.now())
            .await
            .map_err(retry)?;
        tracing::info!(
            project.id = delivery.project_id,
            delivery.id = delivery.id,
            "webhook superseded: the member authorized the project again"
        );
        return Ok(None);
    }
    let project = projects::find_by_id(&state.db, delivery.project_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| JobError::Permanent(format!("project {} not found", delivery.project_id)))?;

    let now = state.clock.now();
    let Some(url) = project
        .config
        .deauth_webhook
        .filter(|url| !url.trim().is_empty())
    else {
        let error = "the project no longer has a deauthorization webhook URL";
        webhooks::record_attempt(&state.db, delivery.id, "", Err(error), 0, now)
            .await
            .map_err(retry)?;
        webhooks::finish(&state.db, delivery.id, FAILED, now)
            .await
            .map_err(retry)?;
        return Err(JobError::Permanent(error.to_string()));
    };

    if webhooks::disabled_since(&state.db, project.id)
        .await
        .map_err(retry)?
        .is_some()
    {
        let error = "the webhook is off because its receiver responded 410 Gone; \
                     saving the project turns it back on";
        webhooks::record_attempt(&state.db, delivery.id, &url, Err(error), 0, now)
            .await
            .map_err(retry)?;
        webhooks::finish(&state.db, delivery.id, FAILED, now)
            .await
            .map_err(retry)?;
        return Err(JobError::Permanent(error.to_string()));
    }

    let timestamp = now.div_euclid(SECOND);
    let mut headers = vec![
        ("webhook-id", delivery.webhook_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
    ];
    if let Some(secret) = &project.config.webhook_secret {
        headers.push((
            OPEN_HUMANS_SIGNATURE_HEADER,
            open_humans_signature(secret, &delivery.body),
        ));
        headers.push((
            "webhook-signature",
            standard_signature(
                secret.as_bytes(),
                &delivery.webhook_id,
                timestamp,
                &delivery.body,
            ),
        ));
    }

    let started = Instant::now();
    let result = webhook_client::post(
        &url,
        &headers,
        &delivery.body,
        state.settings.allow_private_webhooks,
    )
    .await;
    let duration_ms = started.elapsed().as_millis() as i64;
    let now = state.clock.now();
    let outcome = result.as_ref().copied().map_err(ToString::to_string);
    webhooks::record_attempt(
        &state.db,
        delivery.id,
        &url,
        outcome.as_ref().copied().map_err(String::as_str),
        duration_ms,
        now,
    )
    .await
    .map_err(retry)?;

    let failure = match result {
        Ok(status) if (200..300).contains(&status) => {
            webhooks::finish(&state.db, delivery.id, DELIVERED, now)
                .await
                .map_err(retry)?;
            tracing::info!(
                project.id = project.id,
                delivery.id = delivery.id,
                status,
                "webhook delivered"
            );
            return Ok(None);
        }
        Ok(410) => {
            // 410 means the endpoint is gone for good, so stop sending to it.
            webhooks::disable(&state.db, project.id, &url, now)
                .await
                .map_err(retry)?;
            tracing::warn!(
                project.id = project.id,
                delivery.id = delivery.id,
                "webhook receiver responded 410 Gone; turned the webhook off"
            );
            JobError::Permanent(
                "the receiver responded with HTTP status 410 Gone; the webhook is now off"
                    .to_string(),
            )
        }
        Ok(status) => JobError::Retry(format!("the receiver responded with HTTP status {status}")),
        Err(SendError::Unreachable(error)) => JobError::Retry(error),
        Err(SendError::Rejected(error)) => JobError::Permanent(error),
    };
    let last_attempt = job.attempts >= job.max_attempts;
    if matches!(failure, JobError::Permanent(_)) || last_attempt {
        webhooks::finish(&state.db, delivery.id, FAILED, now)
            .await
            .map_err(retry)?;
    }
    Err(failure)
}

fn retry(error: sqlx::Error) -> JobError {
    JobError::Retry(format!("database error: {error}"))
}
