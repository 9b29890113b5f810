//! `POST /api/direct-sharing/project/files/delete/`: deleting files the project
//! uploaded for a member.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{Target, target_membership};
use crate::app::AppState;
use crate::db::files::{self, DataFile};
use crate::domain::files::parse_bool_field;
use crate::http::api::auth::ApiAuth;
use crate::http::api::body::ApiBody;
use crate::http::api::error::ApiError;

/// The files a delete request removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResponse {
    /// Ids of the deleted files; empty when nothing matched.
    pub ids: Vec<i64>,
}

/// Which of a member's files to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selector {
    Id(i64),
    Basename(String),
    All,
}

/// Deletes completed files this project uploaded for a member, chosen by exactly one
/// of `file_id`, `file_basename` (every file of that name) or `all_files`. With the
/// master token it also works for a member who has left, so the project can honour
/// an erasure request.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/files/delete/",
    tag = "files",
    request_body(content_type = "application/x-www-form-urlencoded", description = "project_member_id and one of file_id, file_basename, all_files"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The deleted files", body = DeleteResponse),
        (status = 400, description = "No selector, several, or an invalid one", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
    )
)]
pub async fn delete_files(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<Json<DeleteResponse>, ApiError> {
    auth.reject_exchange_credential()?;
    let membership = target_membership(
        &state,
        &auth,
        body.get("project_member_id"),
        Target::CurrentOrFormer,
    )
    .await?;
    let selector = read_selector(&body)?;

    let candidates =
        files::list_uploaded_by_project(&state.db, auth.project.id, membership.member_id).await?;
    let chosen: Vec<&DataFile> = candidates
        .iter()
        .filter(|file| match &selector {
            Selector::Id(id) => file.id == *id,
            Selector::Basename(name) => &file.basename == name,
            Selector::All => true,
        })
        .collect();

    let mut ids = Vec::with_capacity(chosen.len());
    for file in chosen {
        files::delete(&state.db, file.id).await?;
        // The row is gone, so the file is invisible; a leftover object only wastes space.
        if let Err(error) = state.storage.delete(&file.storage_key).await {
            tracing::error!(file.id = file.id, error = %format!("{error:#}"),
                "deleting a file's stored object failed");
        }
        ids.push(file.id);
    }
    tracing::info!(
        project.id = auth.project.id,
        count = ids.len(),
        "deleted files"
    );
    Ok(Json(DeleteResponse { ids }))
}

/// Reads exactly one selector. A `file_id` of 0 and `all_files` false count as absent.
fn read_selector(body: &ApiBody) -> Result<Selector, ApiError> {
    let mut selectors = Vec::new();
    if let Some(value) = body.get("file_id").map(str::trim).filter(|v| !v.is_empty()) {
        let id: i64 = value.parse().map_err(|_| {
            ApiError::field(
                "file_id",
                format!("file_id must be an integer, not {value:?}"),
            )
        })?;
        if id != 0 {
            selectors.push(Selector::Id(id));
        }
    }
    if let Some(name) = body.get("file_basename").filter(|name| !name.is_empty()) {
        selectors.push(Selector::Basename(name.to_string()));
    }
    if let Some(value) = body.get("all_files") {
        let all = parse_bool_field("all_files", value)
            .map_err(|error| ApiError::field("all_files", error))?;
        if all {
            selectors.push(Selector::All);
        }
    }

    match selectors.len() {
        1 => Ok(selectors.remove(0)),
        0 => Err(ApiError::field_single(
            "missing_field",
            "one of file_id, file_basename or all_files is required",
        )),
        _ => Err(ApiError::field_single(
            "too_many",
            "give only one of file_id, file_basename or all_files",
        )),
    }
}
