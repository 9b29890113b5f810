//! `/member/me/export/`: exporting all of a member's data as one zip.
//!
//! A POST queues a background job that builds the zip (see [`crate::jobs::exports`]).
//! The page shows whether it is queued, building, ready (until when) or failed. The
//! member is emailed when it is ready.
//!
//! The download needs the member's session: the emailed link points at
//! `/member/me/export/download/`, which only the logged-in owner can use, so a
//! forwarded or leaked email exposes no data. On local storage that page streams the
//! zip itself; on S3 it redirects to a presigned URL that lives one minute.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::blob::{Method, StorageKind};
use crate::clock::{Micros, human};
use crate::db::exports::{self, Export, ExportState};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};
use crate::jobs::exports::queue_export;

/// How long the presigned S3 URL of an export's zip is valid: long enough for the
/// browser to follow the redirect, short enough that a copied URL soon stops working.
const S3_URL_LIFETIME: Duration = Duration::from_secs(60);

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

/// `GET /member/me/export/download/`: gives the owner of a ready, unexpired export its
/// zip. Without such an export it is a 404, so no visitor learns whether another
/// member has one.
///
/// On local storage the zip is streamed from this URL, so only the logged-in owner
/// ever receives it. On S3 storage the member is redirected to a presigned URL of the
/// zip, valid [`S3_URL_LIFETIME`], because the app does not proxy S3 objects; anyone
/// holding that URL can download the zip until it expires. The response timeout ends
/// when the headers are sent, so a long download is not cut off.
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
        let url = state
            .storage
            .presigned_url(Method::GET, key, S3_URL_LIFETIME)
            .await?
            .ok_or_else(|| anyhow::anyhow!("S3 storage returned no presigned URL"))?;
        let mut response = Redirect::to(&url).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }
    let read = state
        .storage
        .read(key, None)
        .await?
        .ok_or(PageError::NotFound)?;

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
    Ok(response)
}

fn is_downloadable(export: &Export, now: Micros) -> bool {
    export.state == ExportState::Ready && export.expires_at.is_some_and(|at| at > now)
}
