//! The coordinator's side of approval: the request form with the activity guidelines,
//! the project's approval state and history, and the ethics approval document.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::projects::form::{UploadedFile, multipart_error, read_file, read_text};
use super::projects::{detail_path, load_managed_project};
use crate::app::AppState;
use crate::clock::human;
use crate::crypto::random_token;
use crate::db::approvals::{self, Actor, Approval, ApprovalEvent};
use crate::db::projects::Project;
use crate::domain::approval::{
    ACTIVITY_GUIDELINES, ApprovalRequest, MAX_DOCUMENT_BYTES, check_document,
};
use crate::domain::forms::FieldErrors;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// Largest body the request form accepts: the document limit plus room for the fields.
pub const REQUEST_BODY_LIMIT: usize = MAX_DOCUMENT_BYTES + 1024 * 1024;

/// One history entry as pages show it.
pub struct HistoryRow {
    pub when: String,
    pub who: String,
    pub what: &'static str,
    pub comment: String,
}

impl HistoryRow {
    /// Converts stored history entries for display, oldest first.
    pub fn list(events: Vec<ApprovalEvent>) -> Vec<HistoryRow> {
        events
            .into_iter()
            .map(|event| HistoryRow {
                when: human(event.at),
                who: event.actor_name,
                what: event.action.label(),
                comment: event.comment,
            })
            .collect()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "approval/request.html")]
pub struct RequestPage {
    ctx: PageContext,
    project: Project,
    approval: Approval,
    guidelines: &'static [&'static str],
    history: Vec<HistoryRow>,
    /// Whether the viewer is the coordinator, who alone may submit.
    is_coordinator: bool,
    request: ApprovalRequest,
    errors: FieldErrors,
}

/// `GET /direct-sharing/projects/oauth2/<slug>/approval/`: the approval state, the
/// history with every reviewer comment, and the request form when it may be sent.
pub async fn approval_page(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<RequestPage, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let approval = approvals::find(&state.db, &project).await?;
    let request = ApprovalRequest {
        guidelines_acknowledged: false,
        ethics_board: approval.ethics_board.clone(),
        ethics_reference: approval.ethics_reference.clone(),
    };
    render(
        &state,
        ctx,
        project,
        approval,
        member.id,
        request,
        FieldErrors::new(),
    )
    .await
}

/// `POST /direct-sharing/projects/oauth2/<slug>/approval/`: submits the project for
/// review, from the draft state or after changes were requested. A study must name
/// its ethics board and approval reference; an attached document must be a PDF.
pub async fn request_approval(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    if project.coordinator_id != member.id {
        return Ok(redirect_with_flash(
            &state,
            &request_path(&project.slug),
            FlashKind::Error,
            "Only the project's coordinator can request approval.",
        ));
    }
    let (request, document) = match read_request(multipart).await {
        Ok(read) => read,
        Err(response) => return Ok(response),
    };
    let approval = approvals::find(&state.db, &project).await?;
    if !approval.state.can_submit() {
        return Ok(redirect_with_flash(
            &state,
            &request_path(&project.slug),
            FlashKind::Error,
            &format!(
                "The project is {}, so it cannot be submitted again now.",
                approval.state.label().to_lowercase()
            ),
        ));
    }

    let mut errors = match request.validate(project.config.is_study) {
        Ok(()) => FieldErrors::new(),
        Err(errors) => errors,
    };
    if let Some(file) = &document {
        let checked = if file.too_large {
            Err(crate::domain::approval::DocumentError::TooLarge)
        } else {
            check_document(&file.bytes)
        };
        if let Err(error) = checked {
            errors.add("document", error.to_string());
        }
    }
    if !errors.is_empty() {
        let page = render(&state, ctx, project, approval, member.id, request, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }

    let stored = match &document {
        Some(file) => Some(store_document(&state, project.id, file).await?),
        None => None,
    };
    let now = state.clock.now();
    let actor = Actor {
        id: Some(member.id),
        name: member.username.clone(),
    };
    let submitted = approvals::submit(
        &state.db,
        project.id,
        &actor,
        &request,
        stored
            .as_ref()
            .map(|(key, name)| (key.as_str(), name.as_str())),
        now,
    )
    .await?;
    if !submitted {
        if let Some((key, _)) = &stored {
            state.storage.delete(key).await?;
        }
        return Ok(redirect_with_flash(
            &state,
            &request_path(&project.slug),
            FlashKind::Error,
            "The project was submitted already; it is in review.",
        ));
    }
    // A replaced document is no longer reachable from the request.
    if let (Some(_), Some((old_key, _))) = (&stored, &approval.document)
        && let Err(error) = state.storage.delete(old_key).await
    {
        tracing::warn!(project.id = project.id, error = %error, "deleting a replaced document failed");
    }
    tracing::info!(project.id = project.id, "project submitted for approval");
    Ok(redirect_with_flash(
        &state,
        &detail_path(&project.slug),
        FlashKind::Success,
        "Your project is in review. You will get an email at its contact address when a \
         site admin decides.",
    ))
}

/// `GET /direct-sharing/projects/oauth2/<slug>/approval/document/`: the ethics
/// approval document, for the coordinator and site admins only.
pub async fn download_document(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let approval = approvals::find(&state.db, &project).await?;
    let Some((key, name)) = approval.document else {
        return Err(PageError::NotFound);
    };
    let Some(bytes) = state.storage.get(&key).await? else {
        return Err(PageError::NotFound);
    };
    let file_name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Returns the path of a project's approval page.
pub fn request_path(slug: &str) -> String {
    format!("/direct-sharing/projects/oauth2/{slug}/approval/")
}

async fn render(
    state: &AppState,
    ctx: PageContext,
    project: Project,
    approval: Approval,
    viewer_id: i64,
    request: ApprovalRequest,
    errors: FieldErrors,
) -> Result<RequestPage, PageError> {
    let history = HistoryRow::list(approvals::history(&state.db, project.id).await?);
    Ok(RequestPage {
        ctx,
        is_coordinator: project.coordinator_id == viewer_id,
        project,
        approval,
        guidelines: ACTIVITY_GUIDELINES,
        history,
        request,
        errors,
    })
}

/// Reads the request form: the guidelines box, the ethics fields and the document.
async fn read_request(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(ApprovalRequest, Option<UploadedFile>), Response> {
    let mut multipart = multipart.map_err(|rejection| {
        PageError::BadRequest(format!(
            "The approval form must be sent as multipart/form-data: {}",
            rejection.body_text()
        ))
        .into_response()
    })?;
    let mut request = ApprovalRequest::default();
    let mut document = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "document" => document = read_file(&mut field, MAX_DOCUMENT_BYTES).await?,
            "guidelines" => {
                request.guidelines_acknowledged = !read_text(&mut field, &name).await?.is_empty()
            }
            "ethics_board" => request.ethics_board = read_text(&mut field, &name).await?,
            "ethics_reference" => request.ethics_reference = read_text(&mut field, &name).await?,
            // Other parts (a submit button's name, say) carry nothing to store.
            _ => {
                read_text(&mut field, &name).await?;
            }
        }
    }
    Ok((request, document))
}

/// Stores a checked document under a fresh key and returns the key and its name.
async fn store_document(
    state: &AppState,
    project_id: i64,
    file: &UploadedFile,
) -> anyhow::Result<(String, String)> {
    let key = format!("approvals/{project_id}/{}.pdf", random_token(16));
    state.storage.put(&key, file.bytes.clone()).await?;
    let name = if file.file_name.is_empty() {
        "approval.pdf".to_string()
    } else {
        file.file_name.chars().take(200).collect()
    };
    Ok((key, name))
}
