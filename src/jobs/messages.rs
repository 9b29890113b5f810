//! The job that emails one recipient of a project's message.
//!
//! Each recipient has a job of their own, so a failing address never delays the
//! others. The recipient row is marked sent after the mail server accepted the email
//! and before the job is recorded done. A crash between the server's acceptance and
//! that mark sends the email again, with the same `Message-ID`, which was fixed when
//! the message was queued.

use super::JobError;
use crate::app::AppState;
use crate::db::{members, messages, projects};
use crate::domain::messaging::{Footer, email_body, email_subject};
use crate::mail::Email;

/// The payload of a message job.
#[derive(Debug, serde::Deserialize)]
struct MessageJob {
    recipient_id: i64,
}

/// Builds and sends one recipient's email, unless it was sent already or the member
/// can no longer be messaged (they withdrew, their account was suspended, or they
/// authorized again without the message permission since the message was queued).
pub async fn send_message(state: &AppState, payload: &str) -> Result<(), JobError> {
    let job: MessageJob = serde_json::from_str(payload)
        .map_err(|error| JobError::Permanent(format!("invalid message payload: {error}")))?;
    let database = |error: sqlx::Error| JobError::Retry(format!("database error: {error}"));
    let Some(outgoing) = messages::find_outgoing(&state.db, job.recipient_id)
        .await
        .map_err(database)?
    else {
        // The project or the member was deleted since; nobody is left to email.
        tracing::info!(
            recipient.id = job.recipient_id,
            "message recipient no longer exists"
        );
        return Ok(());
    };
    if outgoing.state != messages::QUEUED {
        return Ok(());
    }
    let now = state.clock.now();
    let permitted = messages::is_messageable(&state.db, outgoing.project_id, outgoing.member_id)
        .await
        .map_err(database)?;
    let member = members::find_by_id(&state.db, outgoing.member_id)
        .await
        .map_err(database)?;
    let project = projects::find_by_id(&state.db, outgoing.project_id)
        .await
        .map_err(database)?;
    let (Some(member), Some(project), true) = (member, project, permitted) else {
        tracing::info!(
            recipient.id = outgoing.recipient_id,
            project.id = outgoing.project_id,
            "message cancelled: the member can no longer be messaged by the project"
        );
        return messages::set_state(&state.db, outgoing.recipient_id, messages::CANCELLED, now)
            .await
            .map_err(database);
    };

    let connections_url = state.url("/member/me/connections/");
    let email = Email {
        to: member.email.clone(),
        from_name: Some(project.config.name.clone()),
        reply_to: Some(project.config.contact_email.clone()),
        subject: email_subject(&state.settings.site_name, &outgoing.subject),
        body: email_body(
            &outgoing.body,
            &Footer {
                site_name: &state.settings.site_name,
                project_name: &project.config.name,
                project_member_id: &outgoing.project_member_id,
                connections_url: &connections_url,
            },
        ),
        message_id: outgoing.message_id_header.clone(),
    };
    state
        .mailer
        .send(&email)
        .await
        .map_err(|error| JobError::Retry(format!("{error:#}")))?;
    messages::set_state(
        &state.db,
        outgoing.recipient_id,
        messages::SENT,
        state.clock.now(),
    )
    .await
    .map_err(database)
}
