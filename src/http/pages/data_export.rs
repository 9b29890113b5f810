//! `/member/me/export/`: exporting all of a member's data as one zip.
//!
//! A POST queues a background job that builds the zip (see [`crate::jobs::exports`]).
//! The page shows whether it is queued, building, ready (until when) or failed. The
//! member is emailed when it is ready.
//!
//! The download needs the member's session: the emailed link points at
//! `/member/me/export/download/`, which only the logged-in owner can use, so a
//! forwarded or leaked email exposes no data. That page redirects to a URL
//! signed for five minutes (`/export/<token>/`), served outside the request timeout
//! like file downloads, or on S3 to a presigned URL of the same lifetime.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::blob::{Method, StorageKind};
use crate::clock::{MINUTE, Micros, human};
use crate::db::exports::{self, Export, ExportState};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};
use crate::jobs::exports::queue_export;

/// How long the signed URL that serves an export's bytes is valid.
const EXPORT_URL_LIFETIME: Micros = 5 * MINUTE;
const EXPORT_URL_PURPOSE: &str = "export-url";

/// The member's latest export as the page shows it.
pub struct ExportItem {
    pub state: &'static str,
    pub requested: String,
    pub expires: String,
    pub size: String,
    pub error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/export.html")]
pub struct ExportPage {
    ctx: PageContext,
    export: Option<ExportItem>,
}

/// `GET /member/me/export/`: the state of the member's latest export and the button
/// that requests a new one.
pub async fn export_page(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<ExportPage, PageError> {
    let now = state.clock.now();
    let export = exports::latest_for_member(&state.db, member.id)
        .await?
        .map(|export| {
            // An expired export waits for the periodic clean-up; it is already gone
            // for the member.
            let expired = export.expires_at.is_some_and(|at| at <= now);
            ExportItem {
                state: match export.state {
                    ExportState::Ready if expired => "expired",
                    other => other.as_str(),
                },
                requested: human(export.created_at),
                expires: export.expires_at.map(human).unwrap_or_default(),
                size: export
                    .size
                    .map(super::data::format_size)
                    .unwrap_or_default(),
                error: export.error.unwrap_or_default(),
            }
        });
    Ok(ExportPage { ctx, export })
}

/// `POST /member/me/export/`: queues an export. A member has at most one export
/// queued or building; a second request meanwhile is refused with a message.
pub async fn request_export(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let (kind, message) = match queue_export(&state, member.id, now).await? {
        Some(_) => (
            FlashKind::Success,
            "Your export is queued. We will email you when it is ready to download.",
        ),
        None => (
            FlashKind::Error,
            "An export of your data is already being built. Wait for it to finish before \
             requesting another.",
        ),
    };
    Ok(redirect_with_flash(&state, "/member/me/export/", kind, message).into_response())
}

/// `GET /member/me/export/download/`: redirects the owner of a ready, unexpired
/// export to a short-lived URL of its bytes. Without such an export it is a 404, so
/// no visitor learns whether another member has one.
pub async fn download_export(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let export = exports::latest_for_member(&state.db, member.id)
        .await?
        .filter(|export| is_downloadable(export, now))
        .ok_or(PageError::NotFound)?;
    let key = export.storage_key.as_deref().ok_or(PageError::NotFound)?;
    if state.storage.kind == StorageKind::S3 {
        let lifetime = Duration::from_micros(EXPORT_URL_LIFETIME as u64);
        let url = state
            .storage
            .presigned_url(Method::GET, key, lifetime)
            .await?
            .ok_or_else(|| anyhow::anyhow!("S3 storage returned no presigned URL"))?;
        return Ok(Redirect::to(&url).into_response());
    }
    let value = format!("{}-{}", export.id, now + EXPORT_URL_LIFETIME);
    let token = state.key.sign(EXPORT_URL_PURPOSE, &value);
    Ok(Redirect::to(&format!("/export/{token}/")).into_response())
}

/// `GET /export/<token>/`: streams a ready export's zip on local storage. The token
/// is minted by [`download_export`] for the export's owner and is valid five minutes.
/// A tampered or expired token, or an export that is gone, is 404.
pub async fn serve_export(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = state.clock.now();
    let Some(export_id) = verify_token(&state, &token, now) else {
        return not_found();
    };

    let export = match exports::find_by_id(&state.db, export_id).await {
        Ok(Some(export)) if is_downloadable(&export, now) => export,
        Ok(_) => return not_found(),
        Err(error) => return PageError::from(error).into_response(),
    };
    let Some(key) = export.storage_key.as_deref() else {
        return not_found();
    };
    let read = match state.storage.read(key, None).await {
        Ok(Some(read)) => read,
        Ok(None) => return not_found(),
        Err(error) => return PageError::Internal(error).into_response(),
    };

    tracing::info!(export.id = export.id, "serving an export");
    let mut response = Response::new(Body::from_stream(read.stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(read.size));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"openhumans-export.zip\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn is_downloadable(export: &Export, now: Micros) -> bool {
    export.state == ExportState::Ready && export.expires_at.is_some_and(|at| at > now)
}

/// Returns the export id of a valid, unexpired token.
fn verify_token(state: &AppState, token: &str, now: Micros) -> Option<i64> {
    let value = state.key.verify(EXPORT_URL_PURPOSE, token)?;
    let (export_id, expires_at) = value.split_once('-')?;
    let expires_at: Micros = expires_at.parse().ok()?;
    (now < expires_at).then_some(())?;
    export_id.parse().ok()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "This export link is not valid or has expired. Download the export again from \
         your export page.",
    )
        .into_response()
}
