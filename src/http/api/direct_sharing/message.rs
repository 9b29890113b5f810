//! `POST /api/direct-sharing/project/message/`: the project emails its members.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::db::messages::{self, NewMessage};
use crate::domain::messaging::{
    MessageErrors, Recipients, Rejection, Sender, parse_recipients, validate_draft,
};
use crate::http::api::auth::{ApiAuth, Credential};
use crate::http::api::body::ApiBody;
use crate::http::api::error::ApiError;

/// Queues one email per recipient and returns `"success"` once every one is stored.
///
/// With the master token the request names `all_members=true` or
/// `project_member_ids` (repeated, or separated by commas, spaces or newlines; a JSON
/// array in a JSON body). A member token messages only its own member and ignores
/// both. Every listed member must be active and have granted the message permission;
/// otherwise nothing is sent and the 400 names the ids. `{{ PROJECT_MEMBER_ID }}` in
/// the message is replaced by each recipient's id.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/message/",
    tag = "members",
    request_body(content_type = "application/x-www-form-urlencoded", description = "subject, message, and all_members or project_member_ids"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Every recipient's email is queued", body = String, content_type = "application/json", example = json!("success")),
        (status = 400, description = "Missing or invalid fields, or ids that cannot be messaged, listed under errors", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
        (status = 429, description = "The project's daily recipient limit would be passed; Retry-After gives the seconds to wait", body = super::openapi::DetailResponse),
    )
)]
pub async fn message_members(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<Json<&'static str>, ApiError> {
    auth.reject_exchange_credential()?;
    let (sender, recipients) = match &auth.credential {
        Credential::Member(membership) => (
            Sender::MemberToken,
            Ok(Recipients::Ids(vec![membership.project_member_id.clone()])),
        ),
        _ => (
            Sender::MasterToken,
            parse_recipients(body.get("all_members"), &body.get_all("project_member_ids")),
        ),
    };
    let draft = validate_draft(body.get("subject"), body.get("message"));
    let (draft, recipients) = match (draft, recipients) {
        (Ok(draft), Ok(recipients)) => (draft, recipients),
        (draft, recipients) => {
            let mut errors = draft.err().unwrap_or_default();
            errors.extend(recipients.err().unwrap_or_default());
            return Err(ApiError::Errors(errors));
        }
    };

    let now = state.clock.now();
    let message = NewMessage {
        project_id: auth.project.id,
        draft: &draft,
        sender,
        recipients: &recipients,
    };
    let queued = messages::queue(
        &state.db,
        &message,
        state.settings.messages_per_project_per_day,
        &state.settings.mail_from,
        now,
    )
    .await?
    .map_err(rejection_error)?;
    state.job_signal.notify();
    tracing::info!(
        project.id = auth.project.id,
        message.id = queued.message_id,
        recipients = queued.recipients,
        sent_by = sender.as_str(),
        "queued a project message"
    );
    Ok(Json("success"))
}

/// Turns a refused message into the API error: a 400 naming the ids, or a 429 with
/// `Retry-After`.
pub fn rejection_error(rejection: Rejection) -> ApiError {
    match rejection {
        Rejection::DailyLimit {
            retry_after_seconds,
            ..
        } => ApiError::TooManyRequests {
            retry_after: retry_after_seconds,
            detail: rejection.messages().join(" "),
        },
        Rejection::Recipients { .. } => ApiError::Errors(MessageErrors::from([(
            "project_member_ids".to_string(),
            rejection.messages(),
        )])),
    }
}
