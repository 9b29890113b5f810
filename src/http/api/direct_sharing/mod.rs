//! The project API under `/api/direct-sharing/`, one module per endpoint group, and
//! what they share: the file object and finding the member a request is about.

pub mod delete;
pub mod exchange;
pub mod members;
pub mod message;
pub mod openapi;
pub mod project;
pub mod remove;
pub mod upload;

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::{ApiAuth, Credential};
use super::error::ApiError;
use super::public::{datatype_path, project_path};
use crate::app::AppState;
use crate::clock::{Micros, iso8601};
use crate::db::files::{self, DataFile};
use crate::db::memberships::{self, Membership};
use crate::domain::files::id_label;
use crate::http::storage::mint_download_url;

/// A data file as the project API lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileResponse {
    pub id: i64,
    /// The file name the uploader gave.
    pub basename: String,
    /// Creation time, ISO 8601 in UTC with microseconds.
    pub created: String,
    /// Absolute URLs of the file's datatypes.
    pub datatypes: Vec<String>,
    /// An absolute URL that serves the file for one hour without other credentials.
    pub download_url: String,
    /// The metadata object given at upload.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Label of the project that uploaded the file: `direct-sharing-<id>`.
    pub source: String,
    /// Absolute URL of the uploading project's public description.
    pub source_project: String,
}

/// Builds the file objects of `files` for `project_id`, minting download URLs that
/// record that project with each download. One query reads every file's datatypes.
pub async fn file_responses(
    state: &AppState,
    files: &[DataFile],
    project_id: i64,
    now: Micros,
) -> Result<Vec<FileResponse>, ApiError> {
    let ids: Vec<i64> = files.iter().map(|file| file.id).collect();
    let mut datatypes = files::datatype_ids(&state.db, &ids).await?;
    let responses = files
        .iter()
        .map(|file| FileResponse {
            id: file.id,
            basename: file.basename.clone(),
            created: iso8601(file.created_at),
            datatypes: datatypes
                .remove(&file.id)
                .unwrap_or_default()
                .into_iter()
                .map(|id| state.url(&datatype_path(id)))
                .collect(),
            download_url: mint_download_url(state, file.id, Some(project_id), now),
            metadata: serde_json::from_str(&file.metadata).unwrap_or(Value::Null),
            source: id_label(file.project_id),
            source_project: state.url(&project_path(file.project_id)),
        })
        .collect();
    Ok(responses)
}

/// Labels of the sources a membership's snapshot grants. The project's own label is
/// never among them, because clients take a file whose source is not listed for one
/// the project uploaded itself.
pub fn sources_shared(membership: &Membership) -> Vec<String> {
    membership
        .snapshot
        .granted_sources
        .iter()
        .filter(|&&source| source != membership.project_id)
        .map(|&source| id_label(source))
        .collect()
}

/// Returns the member's username when the snapshot grants it.
pub async fn shared_username(
    state: &AppState,
    membership: &Membership,
) -> Result<Option<String>, ApiError> {
    if !membership.snapshot.username_shared {
        return Ok(None);
    }
    let member = crate::db::members::find_by_id(&state.db, membership.member_id).await?;
    Ok(member
        .map(|member| member.username)
        .filter(|name| !name.is_empty()))
}

/// The set of memberships a request may address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Only active members: every endpoint but deletion.
    Active,
    /// Former members too, so a project can delete what it uploaded for a member who
    /// left (an erasure request).
    CurrentOrFormer,
}

/// Finds the membership a request is about. A member token addresses its own member
/// and ignores `project_member_id`. The master token requires `project_member_id`
/// naming a membership of its project. An exchange credential addresses the member it
/// was minted for. Errors are 400s naming `project_member_id`.
pub async fn target_membership(
    state: &AppState,
    auth: &ApiAuth,
    project_member_id: Option<&str>,
    target: Target,
) -> Result<Membership, ApiError> {
    let requested = match &auth.credential {
        Credential::Member(membership) => return Ok(membership.as_ref().clone()),
        Credential::ExchangeMember { project_member_id } => project_member_id.clone(),
        Credential::Master => match project_member_id.map(str::trim) {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => {
                return Err(ApiError::field_single(
                    "project_member_id",
                    "project_member_id is required with the master token",
                ));
            }
        },
    };
    let invalid = || ApiError::field_single("project_member_id", "project_member_id is invalid");

    let mut conn = state.db.pool.acquire().await?;
    let membership = memberships::find_by_project_member_id(&mut conn, &requested)
        .await?
        .filter(|membership| membership.project_id == auth.project.id)
        .ok_or_else(invalid)?;
    drop(conn);
    match target {
        Target::CurrentOrFormer if membership.status.joined || membership.status.revoked => {
            Ok(membership)
        }
        Target::CurrentOrFormer => Err(invalid()),
        Target::Active => {
            let member = crate::db::members::find_by_id(&state.db, membership.member_id).await?;
            let account_active = member.is_some_and(|member| member.is_active);
            if membership.status.is_active(account_active) {
                Ok(membership)
            } else {
                Err(invalid())
            }
        }
    }
}

/// Returns the last value of query parameter `name`, decoded.
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .last()
}
