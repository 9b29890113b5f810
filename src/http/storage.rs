//! Signed upload and download URLs served by the app.
//!
//! An upload URL (`PUT /upload/<token>/`) accepts the raw bytes of one direct upload:
//! no credential header and no content type, exactly one successful PUT, valid six
//! hours. A download URL (`GET /download/<token>/`) serves one file for an hour, any
//! number of times, and logs every download in the owner's download log. On S3
//! storage uploads go straight to a presigned S3 URL, and downloads redirect to a
//! presigned URL valid five minutes.
//!
//! Tokens are `<value>.<HMAC>` made by [`ServerKey::sign`](crate::crypto::ServerKey::sign)
//! with one purpose per kind, so an upload token cannot serve as a download token.
//! The value contains the file id and the expiry; the database keeps no token.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::client_addr::client_of;
use super::error::ErrorDetail;
use super::middleware::{current_request_id, with_request_id};
use super::route_list::RouteList;
use crate::app::AppState;
use crate::blob::{Method, PutStreamError, StorageKind};
use crate::clock::{HOUR, MINUTE, Micros};
use crate::crypto::ServerKey;
use crate::db::files::{self, DataFile, MemberFileWrite};
use crate::db::rate_limits::RetryAfter;
use crate::http::upload_volume::{Stop, UploadBudget, volume_exceeded_message};

/// How long an upload URL is valid.
pub const UPLOAD_URL_LIFETIME: Micros = 6 * HOUR;
/// How long a download URL is valid.
pub const DOWNLOAD_URL_LIFETIME: Micros = HOUR;
/// How long the presigned S3 URL that a download redirects to is valid.
pub const S3_DOWNLOAD_LIFETIME: Micros = 5 * MINUTE;

const UPLOAD_PURPOSE: &str = "upload-url";
const DOWNLOAD_PURPOSE: &str = "download-url";

/// The routes of signed URLs. They stream bodies of any size for as long as it takes,
/// so the caller mounts them outside the request timeout and the body limit.
pub fn routes() -> RouteList<AppState> {
    RouteList::new()
        .route("/upload/{token}/", put(put_upload))
        .route("/download/{token}/", get(get_download))
}

/// Returns the absolute URL to which the uploader of direct-upload file `file_id`
/// PUTs its bytes, valid six hours from `now`. On S3 storage it is a presigned S3 URL
/// for the file's key; otherwise the app's own single-use upload URL.
pub async fn mint_upload_url(
    state: &AppState,
    file_id: i64,
    now: Micros,
) -> anyhow::Result<String> {
    if state.storage.kind == StorageKind::S3 {
        let file = files::find_by_id(&state.db, file_id)
            .await?
            .with_context(|| format!("presigning an upload for unknown file {file_id}"))?;
        let lifetime = Duration::from_micros(UPLOAD_URL_LIFETIME as u64);
        let url = state
            .storage
            .presigned_url(Method::PUT, &file.storage_key, lifetime)
            .await?
            .context("S3 storage returned no presigned URL")?;
        return Ok(url);
    }
    let token = sign_upload_token(&state.key, file_id, now + UPLOAD_URL_LIFETIME);
    Ok(state.url(&format!("/upload/{token}/")))
}

/// Returns the absolute URL that serves file `file_id` for one hour from `now`.
/// `project_id` is the project the URL is handed to, recorded with each download;
/// `None` marks a download by the file's owner from their own pages.
pub fn mint_download_url(
    state: &AppState,
    file_id: i64,
    project_id: Option<i64>,
    now: Micros,
) -> String {
    let grant = DownloadGrant {
        file_id,
        project_id,
    };
    let token = sign_download_token(&state.key, grant, now + DOWNLOAD_URL_LIFETIME);
    state.url(&format!("/download/{token}/"))
}

/// Why a signed URL was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedUrlError {
    /// Malformed, tampered with, or signed for another kind of URL.
    Invalid,
    /// Correctly signed, but past its expiry.
    Expired,
}

/// What a valid download token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadGrant {
    pub file_id: i64,
    /// The project the URL was handed to, or `None` for the file's owner.
    pub project_id: Option<i64>,
}

/// Checks whether `project_id` may read `file` now: the file's member is an active member of
/// the project with an active account, and the file is the project's own upload or
/// comes from a source the member granted.
async fn project_may_read(
    state: &AppState,
    project_id: i64,
    file: &files::DataFile,
) -> anyhow::Result<bool> {
    let mut conn = state.db.pool.acquire().await?;
    let Some(membership) =
        crate::db::memberships::find(&mut conn, project_id, file.member_id).await?
    else {
        return Ok(false);
    };
    let account_active =
        crate::db::project_api::account_is_active(&mut conn, file.member_id).await?;
    if !membership.status.is_active(account_active) {
        return Ok(false);
    }
    Ok(file.project_id == project_id
        || membership
            .snapshot
            .granted_sources
            .contains(&file.project_id))
}

/// Responds to a HEAD request for a downloadable file with its length and no body.
async fn head_response(state: &AppState, file: &files::DataFile) -> Response {
    match state.storage.size(&file.storage_key).await {
        Ok(Some(size)) => (
            StatusCode::OK,
            [
                (header::CONTENT_LENGTH, size.to_string()),
                (header::ACCEPT_RANGES, "bytes".to_string()),
            ],
        )
            .into_response(),
        Ok(None) => plain(StatusCode::FORBIDDEN, "This file is not available."),
        Err(error) => internal(error),
    }
}

/// Signs the token of an upload URL, which is `<file id>-<expiry>` and its HMAC.
pub(crate) fn sign_upload_token(key: &ServerKey, file_id: i64, expires_at: Micros) -> String {
    key.sign(UPLOAD_PURPOSE, &format!("{file_id}-{expires_at}"))
}

pub(crate) fn verify_upload_token(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Result<i64, SignedUrlError> {
    let value = key
        .verify(UPLOAD_PURPOSE, token)
        .ok_or(SignedUrlError::Invalid)?;
    let (file_id, expires_at) = value.split_once('-').ok_or(SignedUrlError::Invalid)?;
    let file_id = file_id.parse().map_err(|_| SignedUrlError::Invalid)?;
    let expires_at: Micros = expires_at.parse().map_err(|_| SignedUrlError::Invalid)?;
    if now >= expires_at {
        return Err(SignedUrlError::Expired);
    }
    Ok(file_id)
}

/// Signs the token of a download URL, which is `<file id>-<p<project id> or m>-<expiry>`
/// and its HMAC.
pub(crate) fn sign_download_token(
    key: &ServerKey,
    grant: DownloadGrant,
    expires_at: Micros,
) -> String {
    let project = match grant.project_id {
        Some(id) => format!("p{id}"),
        None => "m".to_string(),
    };
    let value = format!("{}-{project}-{expires_at}", grant.file_id);
    key.sign(DOWNLOAD_PURPOSE, &value)
}

pub(crate) fn verify_download_token(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Result<DownloadGrant, SignedUrlError> {
    let value = key
        .verify(DOWNLOAD_PURPOSE, token)
        .ok_or(SignedUrlError::Invalid)?;
    let mut parts = value.splitn(3, '-');
    let (Some(file_id), Some(project), Some(expires_at)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(SignedUrlError::Invalid);
    };
    let file_id = file_id.parse().map_err(|_| SignedUrlError::Invalid)?;
    let project_id = match project {
        "m" => None,
        project => Some(
            project
                .strip_prefix('p')
                .and_then(|id| id.parse().ok())
                .ok_or(SignedUrlError::Invalid)?,
        ),
    };
    let expires_at: Micros = expires_at.parse().map_err(|_| SignedUrlError::Invalid)?;
    if now >= expires_at {
        return Err(SignedUrlError::Expired);
    }
    Ok(DownloadGrant {
        file_id,
        project_id,
    })
}

/// `PUT /upload/<token>/`: stores the raw body as the bytes of a direct upload.
///
/// Responds 200 with an empty body, as clients require. A second PUT after a
/// successful one, or while one streams, is 409; a body over `--max-upload-bytes` is
/// 413 and nothing is kept. A body over the project's remaining upload volume is 429
/// with `Retry-After`, and nothing is kept either (see [`crate::http::upload_volume`]).
/// A tampered or expired token is 403, and so is a PUT whose member left the project,
/// even one that started before: its bytes are deleted. A body that sends nothing for
/// `--request-timeout-seconds` is 408. A failed PUT can be repeated.
pub async fn put_upload(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let now = state.clock.now();
    let file_id = match verify_upload_token(&state.key, &token, now) {
        Ok(file_id) => file_id,
        Err(SignedUrlError::Invalid) => {
            return plain(StatusCode::FORBIDDEN, "This upload link is not valid.");
        }
        Err(SignedUrlError::Expired) => {
            return plain(StatusCode::FORBIDDEN, "This upload link has expired.");
        }
    };
    let limit = state.settings.max_upload_bytes;
    if let Some(length) = content_length(request.headers())
        && length > limit
    {
        return too_large(limit);
    }

    let file = match files::find_by_id(&state.db, file_id).await {
        Ok(Some(file)) => file,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "This upload no longer exists."),
        Err(error) => return internal(anyhow::Error::new(error).context("loading a file")),
    };
    // Once the member leaves or is suspended, the project may no longer add to their
    // data. The read check fits because a project may always read its own uploads for
    // an active member.
    match project_may_read(&state, file.project_id, &file).await {
        Ok(true) => {}
        Ok(false) => {
            return plain(
                StatusCode::FORBIDDEN,
                "This upload link is no longer valid: the member is not in the project.",
            );
        }
        Err(error) => return internal(error.context("checking an upload's membership")),
    }

    // The rest runs in a task of its own. When the connection fails before the
    // response, hyper drops this handler, and a claimed upload must still end
    // stored or released. A claim left behind would make every later PUT get 409.
    let stored = tokio::spawn(with_request_id(
        current_request_id(),
        claim_and_store(state, file, request, now),
    ));
    match stored.await {
        Ok(response) => response,
        Err(error) => internal(anyhow::Error::new(error).context("storing an upload")),
    }
}

/// Reserves volume for the upload, claims it, and stores the body: the part of
/// [`put_upload`] that must finish whether or not the client waits for the response.
async fn claim_and_store(
    state: AppState,
    file: DataFile,
    request: Request,
    now: Micros,
) -> Response {
    let file_id = file.id;
    let limit = state.settings.max_upload_bytes;
    // The project's volume is reserved before the upload is claimed, so a rejected PUT
    // leaves the link usable once the volume frees up.
    let length = content_length(request.headers());
    let budget = match UploadBudget::open(&state, file.project_id, length).await {
        Ok(Ok(budget)) => budget,
        Ok(Err(retry_after)) => return volume_exceeded(&state, retry_after),
        Err(error) => return internal(anyhow::Error::new(error).context("reserving volume")),
    };
    match files::claim_upload(&state.db, file_id, now).await {
        Ok(true) => {}
        Ok(false) => {
            cancel_budget(budget, file_id).await;
            return plain(
                StatusCode::CONFLICT,
                "This upload link was already used; start a new upload to replace the file.",
            );
        }
        Err(error) => {
            cancel_budget(budget, file_id).await;
            return internal(anyhow::Error::new(error).context("claiming an upload"));
        }
    }

    // The request timeout does not cover this route, whose bodies may take hours, so a
    // client that stops sending is cut off after that long without a byte instead.
    let idle = Duration::from_secs(state.settings.request_timeout_seconds);
    let stalled = Arc::new(AtomicBool::new(false));
    let body = stop_when_idle(
        request.into_body().into_data_stream(),
        idle,
        stalled.clone(),
    );
    let body = budget.meter(body);
    let stored = state
        .storage
        .put_stream(
            &file.storage_key,
            body,
            limit,
            file.metadata_md5().is_some(),
        )
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(error) => {
            if let Err(release_error) = files::release_upload(&state.db, file_id).await {
                tracing::error!(file.id = file_id, error = %release_error,
                    "releasing a failed upload failed");
            }
            let stop = budget.stop();
            cancel_budget(budget, file_id).await;
            return match (stop, error) {
                (Some(Stop::OverLimit(retry_after)), _) => volume_exceeded(&state, retry_after),
                (Some(Stop::Database(error)), _) => {
                    internal(anyhow::Error::new(error).context("reserving volume"))
                }
                (None, PutStreamError::TooLarge { limit }) => too_large(limit),
                (None, PutStreamError::Body(_)) if stalled.load(Ordering::Relaxed) => plain(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!(
                        "No bytes arrived for {} seconds, so the upload was stopped. \
                         Send it again to the same URL.",
                        idle.as_secs()
                    ),
                ),
                (None, PutStreamError::Body(message)) => plain(
                    StatusCode::BAD_REQUEST,
                    &format!("Reading the upload failed: {message}"),
                ),
                (None, PutStreamError::Store(error)) => internal(error),
            };
        }
    };

    let size = i64::try_from(stored.size).unwrap_or(i64::MAX);
    if let Err(error) = budget.settle(stored.size).await {
        return internal(anyhow::Error::new(error).context("settling reserved volume"));
    }
    let recorded = files::record_upload(
        &state.db,
        file_id,
        size,
        stored.md5.as_deref(),
        state.clock.now(),
    )
    .await;
    match recorded {
        Ok(MemberFileWrite::Written) => {}
        Ok(MemberFileWrite::FileGone) => {
            // The file was deleted while its bytes arrived, for example because the
            // member left the project. File deletions remove the row first and then the
            // object, so the object stored after that is this request's to delete.
            discard_object(&state, &file, "its file was deleted").await;
            return plain(
                StatusCode::NOT_FOUND,
                "This upload no longer exists: its file was deleted while it was being sent.",
            );
        }
        Ok(MemberFileWrite::MemberLeft) => {
            // The project may not add to the data of a member who left, even bytes it
            // started sending before. The row, still incomplete, is purged a day later.
            discard_object(&state, &file, "its member left the project").await;
            return plain(
                StatusCode::FORBIDDEN,
                "This upload link is no longer valid: the member left the project while \
                 the upload was being sent.",
            );
        }
        Err(error) => return internal(anyhow::Error::new(error).context("recording an upload")),
    }
    tracing::info!(
        file.id = file_id,
        size = stored.size,
        "stored a direct upload"
    );
    StatusCode::OK.into_response()
}

/// `GET /download/<token>/`: records the download in the owner's download log, then
/// serves the file.
///
/// On local storage the bytes are streamed with `Content-Length` and
/// `Accept-Ranges: bytes`; a single `Range` gets 206 with `Content-Range`, an
/// unsatisfiable one 416, and a malformed or multi-part one is ignored. On S3 storage
/// the answer is a 302 to a presigned URL valid five minutes. A tampered or expired
/// token, or a file that is gone or incomplete, is 403.
pub async fn get_download(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let now = state.clock.now();
    let grant = match verify_download_token(&state.key, &token, now) {
        Ok(grant) => grant,
        Err(SignedUrlError::Invalid) => {
            return plain(StatusCode::FORBIDDEN, "This download link is not valid.");
        }
        Err(SignedUrlError::Expired) => {
            return plain(
                StatusCode::FORBIDDEN,
                "This download link has expired; request a new one.",
            );
        }
    };
    let file = match files::find_by_id(&state.db, grant.file_id).await {
        Ok(Some(file)) if file.completed => file,
        Ok(_) => return plain(StatusCode::FORBIDDEN, "This file is not available."),
        Err(error) => return internal(anyhow::Error::new(error).context("loading a file")),
    };
    // A link minted for a project works only while the project may still read the file:
    // a member who leaves, or is suspended, cuts off links handed out before.
    if let Some(project_id) = grant.project_id {
        match project_may_read(&state, project_id, &file).await {
            Ok(true) => {}
            Ok(false) => {
                return plain(
                    StatusCode::FORBIDDEN,
                    "This file is no longer shared with the project that made this link.",
                );
            }
            Err(error) => return internal(error),
        }
    }
    // A HEAD request reads no bytes, so it is not recorded as a download.
    if request.method() == Method::HEAD {
        return head_response(&state, &file).await;
    }
    let client_address = client_of(&request, &state.settings.trusted_proxies)
        .ip
        .to_string();

    if state.storage.kind == StorageKind::S3 {
        if let Err(error) = log_download(&state, &file, grant, &client_address, now).await {
            return internal(error);
        }
        let lifetime = Duration::from_micros(S3_DOWNLOAD_LIFETIME as u64);
        return match state
            .storage
            .presigned_url(Method::GET, &file.storage_key, lifetime)
            .await
        {
            // 302, as Open Humans responds; clients follow it with a GET.
            Ok(Some(url)) => (StatusCode::FOUND, [(header::LOCATION, url)]).into_response(),
            Ok(None) => internal(anyhow::anyhow!("S3 storage returned no presigned URL")),
            Err(error) => internal(error),
        };
    }

    let size = match state.storage.size(&file.storage_key).await {
        Ok(Some(size)) => size,
        Ok(None) => return plain(StatusCode::FORBIDDEN, "This file is not available."),
        Err(error) => return internal(error),
    };
    let range = match request.headers().get(header::RANGE) {
        None => None,
        Some(value) => match parse_range(value.to_str().unwrap_or_default(), size) {
            RangeRequest::Ignore => None,
            RangeRequest::Satisfiable(range) => Some(range),
            RangeRequest::Unsatisfiable => return range_not_satisfiable(size),
        },
    };
    if let Err(error) = log_download(&state, &file, grant, &client_address, now).await {
        return internal(error);
    }
    serve_bytes(&state, &file, size, range).await
}

async fn log_download(
    state: &AppState,
    file: &DataFile,
    grant: DownloadGrant,
    client_address: &str,
    now: Micros,
) -> anyhow::Result<()> {
    files::insert_download(&state.db, file, grant.project_id, client_address, now)
        .await
        .context("recording a download")?;
    tracing::info!(file.id = file.id, project.id = ?grant.project_id, "serving a download");
    Ok(())
}

async fn serve_bytes(
    state: &AppState,
    file: &DataFile,
    size: u64,
    range: Option<Range<u64>>,
) -> Response {
    let read = match state.storage.read(&file.storage_key, range.clone()).await {
        Ok(Some(read)) => read,
        Ok(None) => return plain(StatusCode::FORBIDDEN, "This file is not available."),
        Err(error) => return internal(error),
    };
    let length = read.range.end - read.range.start;
    let mut response = Response::new(Body::from_stream(read.stream));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&file.basename)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let content_range = format!(
            "bytes {}-{}/{size}",
            read.range.start,
            read.range.end.saturating_sub(1)
        );
        if let Ok(value) = HeaderValue::from_str(&content_range) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// `attachment` with an ASCII fallback name and the exact name in RFC 8187 encoding.
fn content_disposition(basename: &str) -> String {
    let fallback: String = basename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String =
        percent_encoding::utf8_percent_encode(basename, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// How to treat a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// Malformed, another unit, or several ranges: serve the whole file.
    Ignore,
    Satisfiable(Range<u64>),
    Unsatisfiable,
}

/// Parses a single `bytes=` range against an object of `size` bytes (RFC 9110
/// section 14.1.2).
pub(crate) fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignore;
    };
    if spec.contains(',') {
        return RangeRequest::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // A suffix range: the last `last` bytes.
        let Ok(suffix) = last.parse::<u64>() else {
            return RangeRequest::Ignore;
        };
        if suffix == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Satisfiable(size.saturating_sub(suffix)..size);
    }
    let Ok(start) = first.parse::<u64>() else {
        return RangeRequest::Ignore;
    };
    let end = if last.is_empty() {
        size
    } else {
        match last.parse::<u64>() {
            Ok(last) if last >= start => last.saturating_add(1).min(size),
            _ => return RangeRequest::Ignore,
        }
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Satisfiable(start..end)
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Passes `body` on, and ends it with an error, setting `stalled`, when no chunk
/// arrives for `idle`.
fn stop_when_idle<E: std::fmt::Display + Send>(
    body: impl Stream<Item = Result<Bytes, E>> + Send,
    idle: Duration,
    stalled: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, String>> + Send {
    futures_util::stream::unfold(Box::pin(body), move |mut body| {
        let stalled = stalled.clone();
        async move {
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), body)),
                Ok(Some(Err(error))) => Some((Err(error.to_string()), body)),
                Ok(None) => None,
                Err(_) => {
                    stalled.store(true, Ordering::Relaxed);
                    let message = format!("no bytes arrived for {} seconds", idle.as_secs());
                    Some((Err(message), body))
                }
            }
        }
    })
}

/// Deletes the object of an upload that may not be kept, logging why.
async fn discard_object(state: &AppState, file: &DataFile, reason: &str) {
    if let Err(error) = state.storage.delete(&file.storage_key).await {
        tracing::error!(file.id = file.id, error = %format!("{error:#}"),
            "deleting the object of a discarded upload failed");
    }
    tracing::info!(file.id = file.id, reason, "discarded an upload");
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

fn too_large(limit: u64) -> Response {
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("The upload is larger than the limit of {limit} bytes."),
    )
}

/// Responds 429 to a PUT over the project's upload volume.
fn volume_exceeded(state: &AppState, retry_after: RetryAfter) -> Response {
    let mut response = plain(
        StatusCode::TOO_MANY_REQUESTS,
        &volume_exceeded_message(state),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.0));
    response
}

/// Gives back the volume of an upload that stored nothing. A failure only leaves the
/// project's count too high until the reservation ages out, so it is logged.
async fn cancel_budget(budget: UploadBudget<'_>, file_id: i64) {
    if let Err(error) = budget.cancel().await {
        tracing::error!(file.id = file_id, error = %error, "giving back reserved volume failed");
    }
}

fn range_not_satisfiable(size: u64) -> Response {
    let mut response = plain(
        StatusCode::RANGE_NOT_SATISFIABLE,
        "The requested range is outside the file.",
    );
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    response
}

fn internal(error: anyhow::Error) -> Response {
    let mut response = plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The server could not complete this request. Please try again.",
    );
    response
        .extensions_mut()
        .insert(ErrorDetail(format!("{error:#}")));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_per_rfc_9110() {
        let cases = [
            ("bytes=10-19", RangeRequest::Satisfiable(10..20)),
            ("bytes=10-", RangeRequest::Satisfiable(10..100)),
            ("bytes=-5", RangeRequest::Satisfiable(95..100)),
            ("bytes=-500", RangeRequest::Satisfiable(0..100)),
            ("bytes=90-200", RangeRequest::Satisfiable(90..100)),
            ("bytes=100-", RangeRequest::Unsatisfiable),
            ("bytes=200-300", RangeRequest::Unsatisfiable),
            ("bytes=-0", RangeRequest::Unsatisfiable),
            ("bytes=20-10", RangeRequest::Ignore),
            ("bytes=a-b", RangeRequest::Ignore),
            ("bytes=0-1,5-6", RangeRequest::Ignore),
            ("items=0-1", RangeRequest::Ignore),
        ];
        for (header, expected) in cases {
            assert_eq!(parse_range(header, 100), expected, "{header}");
        }
        assert_eq!(parse_range("bytes=0-", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn content_disposition_escapes_the_name() {
        assert_eq!(
            content_disposition("a \"b\".csv"),
            "attachment; filename=\"a _b_.csv\"; filename*=UTF-8''a%20%22b%22%2Ecsv"
        );
        assert!(content_disposition("é.txt").starts_with("attachment; filename=\"_.txt\""));
    }
}
