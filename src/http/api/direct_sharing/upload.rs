//! Uploads of files for a member: the simple multipart upload, and the direct upload
//! in three steps (start, PUT the bytes to the returned URL, complete).

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use bytes::Bytes;
use futures_util::StreamExt;
use md5::{Digest, Md5};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;

use super::{Target, target_membership};
use crate::app::AppState;
use crate::blob::{PutStreamError, StorageKind};
use crate::clock::Micros;
use crate::crypto::random_token;
use crate::db::files::{self, MemberFileWrite, NewDataFile};
use crate::db::memberships::Membership;
use crate::db::rate_limits::RetryAfter;
use crate::db::upload_volume;
use crate::domain::files::{
    file_basename, parse_datatype_refs, parse_metadata, resolve_datatypes, storage_key,
};
use crate::http::api::auth::ApiAuth;
use crate::http::api::body::ApiBody;
use crate::http::api::error::{ApiError, FieldMessage};
use crate::http::storage::mint_upload_url;
use crate::http::upload_volume::volume_exceeded_message;

/// Characters of random text that keep storage keys of equal file names apart.
const KEY_RANDOM_CHARS: usize = 16;
/// Bytes read from a temporary file per chunk when storing a multipart upload.
const CHUNK_BYTES: usize = 64 * 1024;

/// A file created by an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadResponse {
    pub id: i64,
}

/// A direct upload that waits for its bytes.
#[derive(Debug, Serialize, ToSchema)]
pub struct DirectUploadResponse {
    pub id: i64,
    /// The URL that takes a PUT of the raw bytes, without credentials or content type.
    /// It is valid 6 hours.
    pub url: String,
}

/// A completed direct upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompleteResponse {
    /// Always `ok`.
    pub status: String,
    /// Size of the stored file in bytes.
    pub size: i64,
}

/// Stores a file sent as the `data_file` part of a multipart body, with
/// `project_member_id` (master token only), `metadata` (JSON text) and optional
/// `datatypes` (JSON text), and returns its id.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/files/upload/",
    tag = "files",
    request_body(content_type = "multipart/form-data", description = "project_member_id, metadata, datatypes, data_file"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The file was stored", body = UploadResponse),
        (status = 400, description = "Invalid fields, named in the body", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
        (status = 429, description = "The project's upload volume of the last 24 hours is used up, or the file would pass it", body = super::openapi::DetailResponse),
    )
)]
pub async fn upload_file(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<(StatusCode, Json<UploadResponse>), ApiError> {
    auth.reject_exchange_credential()?;
    let upload = validate_upload(&state, &auth, &body).await?;
    let Some(file) = body.file.as_ref().filter(|file| file.field == "data_file") else {
        return Err(ApiError::field("data_file", "No file was submitted."));
    };
    let basename =
        file_basename(&file.filename).map_err(|error| ApiError::field("data_file", error))?;

    let key = storage_key(auth.project.id, &random_token(KEY_RANDOM_CHARS), &basename);
    let source = tokio::fs::File::open(&file.path)
        .await
        .context("opening an uploaded file")?;
    // The whole file is already here, so its size is reserved before it is stored.
    let reservation = reserve_volume(&state, auth.project.id, file.size).await?;
    // The row comes first, incomplete, so that bytes a crash leaves stored have a row
    // and are purged with it a day later, as an abandoned direct upload is.
    let inserted = upload
        .insert_incomplete(&state, &key, &basename, state.clock.now())
        .await?;
    let Some(id) = inserted else {
        upload_volume::cancel(&state.db, reservation).await?;
        return Err(member_left());
    };

    let stored = state
        .storage
        .put_stream(
            &key,
            file_chunks(source),
            state.settings.max_upload_bytes,
            upload.md5().is_some(),
        )
        .await;
    let stored = match stored {
        Ok(stored) => stored,
        Err(error) => {
            files::delete_incomplete(&state.db, id).await?;
            upload_volume::cancel(&state.db, reservation).await?;
            return Err(match error {
                PutStreamError::TooLarge { limit } => ApiError::PayloadTooLarge(format!(
                    "data_file is larger than the limit of {limit} bytes"
                )),
                PutStreamError::Body(message) => ApiError::BadRequest(message),
                PutStreamError::Store(error) => ApiError::Internal(error),
            });
        }
    };
    // Rows go before objects, as everywhere files are deleted.
    if let Some(expected) = upload.md5()
        && !stored
            .md5
            .as_deref()
            .is_some_and(|actual| expected.eq_ignore_ascii_case(actual))
    {
        files::delete_incomplete(&state.db, id).await?;
        state.storage.delete(&key).await?;
        return Err(md5_mismatch());
    }

    let size = i64::try_from(stored.size).unwrap_or(i64::MAX);
    let now = state.clock.now();
    match files::mark_completed(&state.db, id, size, stored.md5.as_deref(), now).await? {
        MemberFileWrite::Written => {}
        // On S3 a completion call naming this file's id can finish it first, and then
        // it is the project's like any completed file.
        MemberFileWrite::FileGone if completed_elsewhere(&state, id).await? => {}
        // The member left while the bytes were stored: nothing may stay behind, and
        // the bytes do not count toward the project's volume.
        MemberFileWrite::FileGone | MemberFileWrite::MemberLeft => {
            files::delete_incomplete(&state.db, id).await?;
            state.storage.delete(&key).await?;
            upload_volume::cancel(&state.db, reservation).await?;
            tracing::info!(
                file.id = id,
                project.id = auth.project.id,
                "discarded a multipart upload whose member left"
            );
            return Err(member_left());
        }
    }
    tracing::info!(
        file.id = id,
        project.id = auth.project.id,
        "stored a multipart upload"
    );
    Ok((StatusCode::CREATED, Json(UploadResponse { id })))
}

/// Starts a direct upload: creates an incomplete file named `filename` and returns
/// the URL to PUT its bytes to. Takes `project_member_id` (master token only),
/// `metadata` and optional `datatypes`.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/files/upload/direct/",
    tag = "files",
    request_body(content_type = "application/x-www-form-urlencoded", description = "project_member_id, metadata, datatypes, filename"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "The upload was started", body = DirectUploadResponse),
        (status = 400, description = "Invalid fields, named in the body", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
        (status = 429, description = "The project's upload volume of the last 24 hours is used up", body = super::openapi::DetailResponse),
    )
)]
pub async fn start_direct_upload(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<(StatusCode, Json<DirectUploadResponse>), ApiError> {
    auth.reject_exchange_credential()?;
    let upload = validate_upload(&state, &auth, &body).await?;
    let filename = body
        .get("filename")
        .filter(|name| !name.is_empty())
        .ok_or_else(|| ApiError::field("filename", "This field is required."))?;
    let basename = file_basename(filename).map_err(|error| ApiError::field("filename", error))?;
    let now = state.clock.now();
    let room = upload_volume::check(
        &state.db,
        auth.project.id,
        state.settings.upload_bytes_per_project_per_day,
        now,
    )
    .await?;
    room.map_err(|retry_after| volume_exceeded(&state, retry_after))?;

    let key = storage_key(auth.project.id, &random_token(KEY_RANDOM_CHARS), &basename);
    let id = upload
        .insert_incomplete(&state, &key, &basename, now)
        .await?
        .ok_or_else(member_left)?;
    let url = mint_upload_url(&state, id, now).await?;
    Ok((StatusCode::CREATED, Json(DirectUploadResponse { id, url })))
}

/// Completes a direct upload once its bytes arrived. The file must be an incomplete
/// upload of this project for this member. Its size must be within the upload limit,
/// and its MD5 must match the metadata's `md5` when one was given.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/files/upload/complete/",
    tag = "files",
    request_body(content_type = "application/x-www-form-urlencoded", description = "project_member_id, file_id"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The file is complete", body = CompleteResponse),
        (status = 400, description = "Unknown file, bytes missing, too large or wrong MD5", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
        (status = 429, description = "On S3 storage: the file would pass the project's upload volume of the last 24 hours; it was deleted", body = super::openapi::DetailResponse),
    )
)]
pub async fn complete_direct_upload(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<Json<CompleteResponse>, ApiError> {
    auth.reject_exchange_credential()?;
    let membership =
        target_membership(&state, &auth, body.get("project_member_id"), Target::Active).await?;
    let file_id = match body.get("file_id").map(str::trim) {
        None | Some("") => return Err(file_does_not_exist()),
        Some(value) => value.parse::<i64>().map_err(|_| {
            ApiError::field(
                "file_id",
                format!("file_id must be an integer, not {value:?}"),
            )
        })?,
    };

    // Another project's or member's file is reported like an unknown one.
    let file = files::find_by_id(&state.db, file_id)
        .await?
        .filter(|file| file.project_id == auth.project.id && file.member_id == membership.member_id)
        .ok_or_else(file_does_not_exist)?;
    if file.completed {
        return Err(ApiError::BadRequest("file is already completed".into()));
    }

    let (size, checked_md5) = match state.storage.kind {
        StorageKind::Local => (check_local_upload(&state, &file).await?, None),
        StorageKind::S3 => check_s3_object(&state, &file).await?,
    };

    let now = state.clock.now();
    match files::mark_completed(&state.db, file.id, size, checked_md5.as_deref(), now).await? {
        MemberFileWrite::Written => {}
        MemberFileWrite::FileGone => {
            return Err(ApiError::BadRequest("file is already completed".into()));
        }
        MemberFileWrite::MemberLeft => return Err(member_left()),
    }
    tracing::info!(file.id = file.id, size, "completed a direct upload");
    Ok(Json(CompleteResponse {
        status: "ok".to_string(),
        size,
    }))
}

/// Returns whether file `id` exists and was completed.
async fn completed_elsewhere(state: &AppState, id: i64) -> Result<bool, ApiError> {
    let file = files::find_by_id(&state.db, id).await?;
    Ok(file.is_some_and(|file| file.completed))
}

/// Returns the error of an upload whose member left the project, or deleted their
/// account, after the request was checked. Nothing of such an upload is kept.
fn member_left() -> ApiError {
    ApiError::field_single(
        "project_member_id",
        "The member left the project while the upload was in progress; the file was not kept.",
    )
}

/// The validated fields shared by both kinds of upload.
struct ValidUpload {
    membership: Membership,
    metadata: Map<String, Value>,
    datatype_ids: Vec<i64>,
}

impl ValidUpload {
    fn md5(&self) -> Option<&str> {
        self.metadata.get("md5").and_then(Value::as_str)
    }

    fn metadata_text(&self) -> String {
        Value::Object(self.metadata.clone()).to_string()
    }

    /// Inserts the upload's file row, incomplete, stored under `key`, and returns its
    /// id. Returns `None` when the member left the project after the request was
    /// checked.
    async fn insert_incomplete(
        &self,
        state: &AppState,
        key: &str,
        basename: &str,
        now: Micros,
    ) -> sqlx::Result<Option<i64>> {
        let metadata = self.metadata_text();
        let file = NewDataFile {
            member_id: self.membership.member_id,
            project_id: self.membership.project_id,
            storage_key: key,
            basename,
            metadata: &metadata,
            completed: false,
            size: None,
            md5: None,
            datatype_ids: &self.datatype_ids,
        };
        files::insert_for_membership(&state.db, &file, now).await
    }
}

/// Checks the member, `metadata` and `datatypes` of an upload. Metadata and datatype
/// problems are reported together, each under its field.
async fn validate_upload(
    state: &AppState,
    auth: &ApiAuth,
    body: &ApiBody,
) -> Result<ValidUpload, ApiError> {
    let membership =
        target_membership(state, auth, body.get("project_member_id"), Target::Active).await?;
    let mut errors = BTreeMap::new();

    let metadata = match body.get("metadata") {
        None | Some("") => Err("This field is required.".to_string()),
        Some(text) => parse_metadata(text),
    };
    let metadata = metadata
        .map_err(|error| errors.insert("metadata".to_string(), FieldMessage::List(vec![error])))
        .ok();

    let datatype_ids =
        match resolve_upload_datatypes(state, auth.project.id, body.get("datatypes")).await? {
            Ok(ids) => ids,
            Err(error) => {
                errors.insert("datatypes".to_string(), FieldMessage::List(vec![error]));
                Vec::new()
            }
        };

    match metadata {
        Some(metadata) if errors.is_empty() => Ok(ValidUpload {
            membership,
            metadata,
            datatype_ids,
        }),
        _ => Err(ApiError::Fields(errors)),
    }
}

/// Resolves the `datatypes` field against the project's registered datatypes. Absent
/// or empty means none.
async fn resolve_upload_datatypes(
    state: &AppState,
    project_id: i64,
    text: Option<&str>,
) -> Result<Result<Vec<i64>, String>, ApiError> {
    let refs = match parse_datatype_refs(text) {
        Ok(Some(refs)) => refs,
        Ok(None) => return Ok(Ok(Vec::new())),
        Err(error) => return Ok(Err(error)),
    };
    let existing = crate::db::datatypes::names(&state.db).await?;
    let registered: HashSet<i64> =
        crate::db::datatypes::registered_for_project(&state.db, project_id)
            .await?
            .into_iter()
            .collect();
    Ok(resolve_datatypes(&refs, &existing, &registered))
}

/// Checks a direct upload's object on S3, where the app did not see the bytes. The
/// object must exist and fit the upload limit, or it is deleted. When the metadata
/// gives an `md5`, the object is read to compute it, because an S3 ETag is not always
/// an MD5. Returns the size, and the MD5 when it was checked.
async fn check_s3_object(
    state: &AppState,
    file: &files::DataFile,
) -> Result<(i64, Option<String>), ApiError> {
    let Some(size) = state.storage.size(&file.storage_key).await? else {
        return Err(file_not_present());
    };
    let limit = state.settings.max_upload_bytes;
    if size > limit {
        state.storage.delete(&file.storage_key).await?;
        return Err(ApiError::BadRequest(format!(
            "file is {size} bytes, larger than the limit of {limit} bytes; it was deleted"
        )));
    }
    // The bytes went straight to S3, so they count toward the project's volume now.
    if let Err(error) = reserve_volume(state, file.project_id, size).await {
        discard_upload(state, file).await?;
        return Err(error);
    }

    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let Some(expected) = file.metadata_md5() else {
        return Ok((size, None));
    };
    let actual = object_md5(state, &file.storage_key).await?;
    if !expected.eq_ignore_ascii_case(&actual) {
        discard_upload(state, file).await?;
        return Err(md5_mismatch());
    }
    Ok((size, Some(actual)))
}

/// Checks a direct upload that the app's own upload URL received: the PUT recorded
/// the size and MD5 of the bytes, which must match the metadata's `md5` when given
/// (otherwise the object and its row are deleted). Returns the size.
async fn check_local_upload(state: &AppState, file: &files::DataFile) -> Result<i64, ApiError> {
    let (Some(_), Some(size)) = (file.uploaded_at, file.size) else {
        return Err(file_not_present());
    };
    if let Some(expected) = file.metadata_md5()
        && !file
            .md5
            .as_deref()
            .is_some_and(|actual| expected.eq_ignore_ascii_case(actual))
    {
        discard_upload(state, file).await?;
        return Err(md5_mismatch());
    }
    Ok(size)
}

/// Reserves `bytes` of the project's upload volume, returning the reservation, or a
/// 429 when the project is at its limit or `bytes` would pass it.
async fn reserve_volume(state: &AppState, project_id: i64, bytes: u64) -> Result<i64, ApiError> {
    let reservation = upload_volume::reserve(
        &state.db,
        project_id,
        bytes,
        state.settings.upload_bytes_per_project_per_day,
        state.clock.now(),
    )
    .await?;
    reservation.map_err(|retry_after| volume_exceeded(state, retry_after))
}

fn volume_exceeded(state: &AppState, retry_after: RetryAfter) -> ApiError {
    ApiError::TooManyRequests {
        retry_after: retry_after.0,
        detail: volume_exceeded_message(state),
    }
}

/// Deletes a direct upload that failed its checks: the row first, so the file can
/// never be completed, then the object.
async fn discard_upload(state: &AppState, file: &files::DataFile) -> Result<(), ApiError> {
    files::delete_incomplete(&state.db, file.id).await?;
    state.storage.delete(&file.storage_key).await?;
    Ok(())
}

async fn object_md5(state: &AppState, key: &str) -> Result<String, ApiError> {
    let Some(read) = state.storage.read(key, None).await? else {
        return Err(file_not_present());
    };
    let mut hasher = Md5::new();
    let mut stream = read.stream;
    while let Some(chunk) = stream.next().await {
        hasher.update(&chunk.context("reading an uploaded object")?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Streams a file in chunks of 64 KiB.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; CHUNK_BYTES];
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.truncate(read);
        Ok(Some((Bytes::from(buffer), file)))
    })
}

fn file_does_not_exist() -> ApiError {
    ApiError::BadRequest("file does not exist".into())
}

fn file_not_present() -> ApiError {
    ApiError::BadRequest("file not present".into())
}

fn md5_mismatch() -> ApiError {
    ApiError::field(
        "metadata",
        "metadata \"md5\" does not match the MD5 of the uploaded bytes; the upload was \
         deleted, start a new one",
    )
}
