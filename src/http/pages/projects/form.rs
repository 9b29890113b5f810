//! The project form shared by the create and edit pages: reading its multipart body,
//! checking it, and showing it again with errors.

use askama::Template;
use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use bytes::{Bytes, BytesMut};

use crate::app::AppState;
use crate::db::projects::{self, DataSource};
use crate::domain::forms::FieldErrors;
use crate::domain::project::{ProjectConfig, ProjectInput, private_webhook_message, validate};
use crate::http::badges::{BadgeImage, MAX_BADGE_BYTES, check_badge};
use crate::http::error::{PageError, error_page};
use crate::http::session::PageContext;
use crate::http::webhook_client;

/// Largest body the create and edit forms accept, in bytes. It is well above the badge
/// limit, so an oversized badge (up to a few MiB) gets a message next to its field
/// instead of a bare "request too large" page.
pub const FORM_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Largest text field, in bytes: a 10,000-character description of 4-byte characters
/// fits.
const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;
/// Most parts a form body may have; the form has about 25 plus one per data source.
const MAX_PARTS: usize = 1000;

/// A file chosen in a file input.
#[derive(Debug, Clone)]
pub struct UploadedFile {
    pub file_name: String,
    pub content_type: Option<String>,
    pub bytes: Bytes,
    /// True when the file exceeded the size limit; `bytes` then holds only a prefix.
    pub too_large: bool,
}

/// The values a project form submitted.
#[derive(Debug, Clone, Default)]
pub struct ProjectSubmission {
    pub input: ProjectInput,
    pub badge: Option<UploadedFile>,
    /// The edit form's "remove the badge" checkbox.
    pub remove_badge: bool,
}

/// Reads the form's `multipart/form-data` body. A malformed body gets a 400 page (413
/// when it exceeds [`FORM_BODY_LIMIT`]) that states what was wrong.
pub async fn read_submission(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<ProjectSubmission, Response> {
    let mut multipart = multipart.map_err(|rejection| {
        bad_request(&format!(
            "The project form must be sent as multipart/form-data: {}",
            rejection.body_text()
        ))
    })?;
    let mut submission = ProjectSubmission::default();
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(bad_request(&format!(
                "The form has more than {MAX_PARTS} fields."
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == "badge" {
            submission.badge = read_file(&mut field, MAX_BADGE_BYTES).await?;
            continue;
        }
        let value = read_text(&mut field, &name).await?;
        set_field(&mut submission, &name, value);
    }
    Ok(submission)
}

fn set_field(submission: &mut ProjectSubmission, name: &str, value: String) {
    let input = &mut submission.input;
    let slot = match name {
        "is_study" => &mut input.is_study,
        "name" => &mut input.name,
        "leader" => &mut input.leader,
        "organization" => &mut input.organization,
        "is_academic_or_nonprofit" => &mut input.is_academic_or_nonprofit,
        "contact_email" => &mut input.contact_email,
        "info_url" => &mut input.info_url,
        "short_description" => &mut input.short_description,
        "long_description" => &mut input.long_description,
        "returned_data_description" => &mut input.returned_data_description,
        "active" => &mut input.active,
        "request_message_permission" => &mut input.request_message_permission,
        "request_username_access" => &mut input.request_username_access,
        "enrollment_url" => &mut input.enrollment_url,
        "terms_url" => &mut input.terms_url,
        "redirect_url" => &mut input.redirect_url,
        "deauth_webhook" => &mut input.deauth_webhook,
        "webhook_secret" => &mut input.webhook_secret,
        "erasure_supported" => &mut input.erasure_supported,
        "deauth_email_notification" => &mut input.deauth_email_notification,
        "require_pkce" => &mut input.require_pkce,
        "requested_sources" => {
            input.requested_sources.push(value);
            return;
        }
        "remove_badge" => {
            submission.remove_badge = !value.is_empty();
            return;
        }
        // Unknown fields (a submit button's name, say) carry nothing to store.
        _ => return,
    };
    *slot = value;
}

/// Reads a text part of a multipart form as UTF-8, at most 64 KiB.
pub async fn read_text(field: &mut Field<'_>, name: &str) -> Result<String, Response> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buffer.len() + chunk.len() > MAX_TEXT_FIELD_BYTES {
            return Err(bad_request(&format!(
                "The field {name:?} is longer than {MAX_TEXT_FIELD_BYTES} bytes."
            )));
        }
        buffer.extend_from_slice(&chunk);
    }
    String::from_utf8(buffer.to_vec()).map_err(|_| {
        bad_request(&format!(
            "The field {name:?} is not valid UTF-8 text. Send the form from a browser or \
             encode text fields as UTF-8."
        ))
    })
}

/// Reads a file part, keeping at most `max_bytes` and marking the file too large past
/// them. Returns `None` when no file was chosen (browsers then send an empty part
/// without a file name).
pub async fn read_file(
    field: &mut Field<'_>,
    max_bytes: usize,
) -> Result<Option<UploadedFile>, Response> {
    let file_name = field.file_name().unwrap_or_default().to_string();
    let content_type = field.content_type().map(str::to_string);
    let mut buffer = BytesMut::new();
    let mut too_large = false;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if buffer.len() + chunk.len() > max_bytes {
            too_large = true;
            // The rest is read and dropped so that the fields after it still arrive.
            continue;
        }
        buffer.extend_from_slice(&chunk);
    }
    if file_name.is_empty() && buffer.is_empty() && !too_large {
        return Ok(None);
    }
    Ok(Some(UploadedFile {
        file_name,
        content_type,
        bytes: buffer.freeze(),
        too_large,
    }))
}

/// Renders a multipart reading error: 413 for a body over the route's limit, 400
/// otherwise.
pub fn multipart_error(error: MultipartError) -> Response {
    let status = error.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_page(
            status,
            "Form too large",
            "The form is larger than this page accepts. Choose a smaller file (the page \
             names the largest size next to the file field) and submit it again.",
            &error,
        )
    } else {
        bad_request(&format!(
            "The form body is malformed: {}",
            error.body_text()
        ))
    }
}

fn bad_request(message: &str) -> Response {
    PageError::BadRequest(message.to_string()).into_response()
}

/// A submission that passed every check, ready to be saved.
#[derive(Debug)]
pub struct CheckedSubmission {
    pub config: ProjectConfig,
    pub badge: Option<BadgeImage>,
}

/// Checks a submission: the configuration, with `except` (the project being edited)
/// left out of the data sources it may request, and the badge. All problems are
/// reported together, before anything is stored.
pub async fn check_submission(
    state: &AppState,
    submission: &ProjectSubmission,
    except: Option<i64>,
) -> Result<Result<CheckedSubmission, FieldErrors>, PageError> {
    let sources = projects::list_data_sources(&state.db, except).await?;
    let eligible: Vec<i64> = sources.iter().map(|source| source.id).collect();
    let allow_private = state.settings.allow_private_webhooks;
    let mut validated = validate(&submission.input, &eligible, allow_private);
    if let Ok(config) = &validated
        && let Some(errors) = check_webhook_resolution(config, allow_private).await
    {
        validated = Err(errors);
    }

    let mut badge_error = None;
    let badge = match &submission.badge {
        Some(file) if file.too_large => {
            badge_error = Some(format!(
                "Badge image must be at most 1 MiB ({MAX_BADGE_BYTES} bytes); this file is \
                 larger."
            ));
            None
        }
        Some(file) => {
            match check_badge(
                &file.file_name,
                file.content_type.as_deref(),
                file.bytes.clone(),
            ) {
                Ok(badge) => Some(badge),
                Err(message) => {
                    badge_error = Some(message);
                    None
                }
            }
        }
        None => None,
    };

    Ok(match (validated, badge_error) {
        (Ok(config), None) => Ok(CheckedSubmission { config, badge }),
        (Ok(_), Some(message)) => {
            let mut errors = FieldErrors::new();
            errors.add("badge", message);
            Err(errors)
        }
        (Err(mut errors), badge_error) => {
            if let Some(message) = badge_error {
                errors.add("badge", message);
            }
            Err(errors)
        }
    })
}

/// Rejects a webhook URL whose host name resolves only to non-public addresses,
/// unless the operator allows them. Returns the field error, if any.
pub async fn check_webhook_resolution(
    config: &ProjectConfig,
    allow_private: bool,
) -> Option<FieldErrors> {
    if allow_private {
        return None;
    }
    let url = config.deauth_webhook.as_deref()?;
    let address = webhook_client::resolves_only_to_private(url).await?;
    let mut errors = FieldErrors::new();
    errors.add(
        "deauth_webhook",
        private_webhook_message(&address.to_string()),
    );
    Some(errors)
}

/// A data source offered as a checkbox on the form.
#[derive(Debug, Clone)]
pub struct SourceOption {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub checked: bool,
}

/// The create or edit form.
#[derive(Template)]
#[template(path = "projects/form.html")]
pub struct ProjectFormPage {
    pub ctx: PageContext,
    pub title: String,
    pub action: String,
    pub submit_label: &'static str,
    pub cancel_path: String,
    pub input: ProjectInput,
    pub errors: FieldErrors,
    pub sources: Vec<SourceOption>,
    /// The current badge's path, on the edit form.
    pub badge_path: Option<String>,
    /// True when the rejected submission included a badge file. Browsers cannot keep a
    /// file selected, so the page requests it again.
    pub badge_dropped: bool,
}

impl ProjectFormPage {
    /// Lists the data sources the project may request, checking those in `input`.
    pub async fn load_sources(
        state: &AppState,
        input: &ProjectInput,
        except: Option<i64>,
    ) -> Result<Vec<SourceOption>, PageError> {
        let sources: Vec<DataSource> = projects::list_data_sources(&state.db, except).await?;
        Ok(sources
            .into_iter()
            .map(|source| SourceOption {
                checked: input.requests_source(source.id),
                id: source.id,
                name: source.name,
                slug: source.slug,
            })
            .collect())
    }

    /// Renders the form with `status`: 200 for a fresh form, 422 when it is shown again
    /// with errors.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(error) => {
                PageError::Internal(anyhow::Error::new(error).context("rendering the project form"))
                    .into_response()
            }
        }
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field)
    }

    pub fn has_error(&self, field: &str) -> bool {
        self.errors.get(field).is_some()
    }
}
