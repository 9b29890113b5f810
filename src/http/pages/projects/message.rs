//! `/direct-sharing/projects/oauth2/<slug>/message/`: the coordinator writes to all
//! members or to listed project member ids, previews the email one recipient gets,
//! then sends it. The rules and the daily limit are the project API's.
//!
//! Only the project's coordinator may use the page; everyone else, site admins
//! included, gets 404, because a message goes out in the project's name.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::detail_path;
use crate::app::AppState;
use crate::db::members::Member;
use crate::db::messages::{self, NewMessage};
use crate::db::projects::{self, Project};
use crate::domain::forms::FieldErrors;
use crate::domain::messaging::{
    Draft, MessageErrors, Recipients, Rejection, Sender, parse_recipients, validate_draft,
};
use crate::http::error::{PageError, with_retry_after};
use crate::http::form::FormBody;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};
use crate::jobs::messages::compose_email;

/// The form's fields, as submitted.
#[derive(Debug, Clone, Default)]
pub struct MessageForm {
    pub all_members: bool,
    pub project_member_ids: String,
    pub subject: String,
    pub message: String,
}

/// The email one recipient would get.
pub struct Preview {
    pub recipients: usize,
    pub to_project_member_id: String,
    pub from: String,
    pub reply_to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "projects/message.html")]
pub struct MessagePage {
    ctx: PageContext,
    project: Project,
    form: MessageForm,
    errors: FieldErrors,
    preview: Option<Preview>,
    daily_limit: u32,
}

/// `GET /direct-sharing/projects/oauth2/<slug>/message/`
pub async fn message_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<MessagePage, PageError> {
    let project = load_coordinated_project(&state, &member, &slug).await?;
    Ok(MessagePage {
        ctx,
        project,
        form: MessageForm::default(),
        errors: FieldErrors::new(),
        preview: None,
        daily_limit: state.settings.messages_per_project_per_day,
    })
}

/// `POST /direct-sharing/projects/oauth2/<slug>/message/`: with `action=send` queues
/// the message and returns to the project page; otherwise shows the preview.
pub async fn message_members(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    body: FormBody,
) -> Result<Response, PageError> {
    let project = load_coordinated_project(&state, &member, &slug).await?;
    let form = MessageForm {
        all_members: body.optional("all_members").is_some(),
        project_member_ids: body
            .optional("project_member_ids")
            .unwrap_or_default()
            .to_string(),
        subject: body.optional("subject").unwrap_or_default().to_string(),
        message: body.optional("message").unwrap_or_default().to_string(),
    };
    let mut page = MessagePage {
        ctx,
        project,
        form,
        errors: FieldErrors::new(),
        preview: None,
        daily_limit: state.settings.messages_per_project_per_day,
    };
    let (draft, recipients) = match read_form(&page.form) {
        Ok(valid) => valid,
        Err(errors) => return Ok(invalid(page, &errors)),
    };

    let now = state.clock.now();
    let limit = state.settings.messages_per_project_per_day;
    if body.optional("action") != Some("send") {
        let found =
            match messages::preview(&state.db, page.project.id, &recipients, limit, now).await? {
                Ok(found) => found,
                Err(rejection) => return Ok(rejected(page, &rejection)),
            };
        page.preview = Some(preview(&state, &page.project, &draft, &found));
        return Ok(page.into_response());
    }

    let message = NewMessage {
        project_id: page.project.id,
        draft: &draft,
        sender: Sender::Coordinator,
        recipients: &recipients,
    };
    let queued =
        match messages::queue(&state.db, &message, limit, &state.settings.mail_from, now).await? {
            Ok(queued) => queued,
            Err(rejection) => return Ok(rejected(page, &rejection)),
        };
    state.job_signal.notify();
    tracing::info!(
        project.id = page.project.id,
        member.id = member.id,
        message.id = queued.message_id,
        recipients = queued.recipients,
        "coordinator queued a project message"
    );
    let noun = if queued.recipients == 1 {
        "member"
    } else {
        "members"
    };
    Ok(redirect_with_flash(
        &state,
        &detail_path(&page.project.slug),
        FlashKind::Success,
        &format!(
            "Your message is on its way to {} {noun}.",
            queued.recipients
        ),
    ))
}

/// Loads the project with `slug` if `member` coordinates it, and 404 otherwise.
async fn load_coordinated_project(
    state: &AppState,
    member: &Member,
    slug: &str,
) -> Result<Project, PageError> {
    projects::find_by_slug(&state.db, slug)
        .await?
        .filter(|project| project.coordinator_id == member.id)
        .ok_or(PageError::NotFound)
}

/// Validates the form as the API validates its fields.
fn read_form(form: &MessageForm) -> Result<(Draft, Recipients), MessageErrors> {
    let all_members = form.all_members.then_some("true");
    let ids = [form.project_member_ids.as_str()];
    let draft = validate_draft(Some(&form.subject), Some(&form.message));
    match (draft, parse_recipients(all_members, &ids)) {
        (Ok(draft), Ok(recipients)) => Ok((draft, recipients)),
        (draft, recipients) => {
            let mut errors = draft.err().unwrap_or_default();
            errors.extend(recipients.err().unwrap_or_default());
            Err(errors)
        }
    }
}

/// Renders the email the first recipient would get.
fn preview(
    state: &AppState,
    project: &Project,
    draft: &Draft,
    found: &[messages::Recipient],
) -> Preview {
    let example = found
        .first()
        .map(|recipient| recipient.project_member_id.clone())
        .unwrap_or_else(|| "00000000".to_string());
    let email = compose_email(state, project, &draft.subject, &draft.body, &example);
    let sender = crate::mail::parse_mailbox(&state.settings.mail_from)
        .map(|mailbox| mailbox.email.to_string())
        .unwrap_or_else(|_| state.settings.mail_from.clone());
    Preview {
        recipients: found.len(),
        from: format!("{} <{sender}>", project.config.name),
        reply_to: email.reply_to.unwrap_or_default(),
        subject: email.subject,
        body: email.body,
        to_project_member_id: example,
    }
}

/// Shows the form again with the field errors, as a 422.
fn invalid(mut page: MessagePage, errors: &MessageErrors) -> Response {
    for (field, messages) in errors {
        let field = match field.as_str() {
            "__all__" | "all_members" => "recipients",
            other => other,
        };
        page.errors.add(field, messages.join(" "));
    }
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// Shows the form again with the reason the message was refused: a 422 naming the
/// ids, or a 429 with `Retry-After` for the daily limit.
fn rejected(mut page: MessagePage, rejection: &Rejection) -> Response {
    let message = rejection.messages().join(" ");
    match rejection {
        Rejection::DailyLimit {
            retry_after_seconds,
            ..
        } => {
            page.errors.add("recipients", message);
            with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, page).into_response(),
                *retry_after_seconds,
            )
        }
        Rejection::Recipients { .. } => {
            page.errors.add("project_member_ids", message);
            (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
        }
    }
}
