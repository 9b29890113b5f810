//! The job that emails one recipient of a project's message.
//!
//! Each recipient has a job of their own, so a failing address never delays the
//! others. The recipient row is marked sent after the mail server accepted the email
//! and before the job is recorded done. A crash between the server's acceptance and
//! that mark sends the email again, with the same `Message-ID`, which was fixed when
//! the message was queued.

use super::JobError;
use crate::app::AppState;
use crate::db::projects::{self, Project};
use crate::db::{members, messages};
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
        // The project or the member was deleted since, so there is no one to email.
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

    let email = compose_email(
        state,
        &project,
        &outgoing.subject,
        &outgoing.body,
        &outgoing.project_member_id,
    );
    let email = Email {
        to: member.email.clone(),
        message_id: outgoing.message_id_header.clone(),
        ..email
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

/// Builds the email a project's message becomes for one recipient: From the
/// project's name, Reply-To its contact address, the subject prefixed with the site
/// name, and the body with the member id substituted and the footer. The caller sets
/// `to` and `message_id`.
pub fn compose_email(
    state: &AppState,
    project: &Project,
    subject: &str,
    body: &str,
    project_member_id: &str,
) -> Email {
    let connections_url = state.url("/member/me/connections/");
    Email {
        to: String::new(),
        from_name: Some(project.config.name.clone()),
        reply_to: Some(project.config.contact_email.clone()),
        subject: email_subject(&state.settings.site_name, subject),
        body: email_body(
            body,
            &Footer {
                site_name: &state.settings.site_name,
                project_name: &project.config.name,
                project_member_id,
                connections_url: &connections_url,
            },
        ),
        message_id: String::new(),
    }
}
