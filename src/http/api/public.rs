//! Read-only public endpoints that file objects link to: one datatype and one
//! approved project.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::app::AppState;
use crate::db::projects::Project;
use crate::domain::files::id_label;

/// Relative URL of a datatype's public JSON.
pub fn datatype_path(id: i64) -> String {
    format!("/api/public/datatype/{id}/")
}

/// Relative URL of a project's public JSON.
pub fn project_path(id: i64) -> String {
    format!("/api/public/project/{id}/")
}

/// `GET /api/public/datatype/<id>/`: a datatype with links to its parent, its
/// children and the approved projects that registered it.
pub async fn get_datatype(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let datatype = crate::db::datatypes::find_by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let children = crate::db::datatypes::children(&state.db, id).await?;
    let source_projects = crate::db::datatypes::approved_source_projects(&state.db, id).await?;

    Ok(Json(json!({
        "id": datatype.id,
        "name": datatype.name,
        "parent": datatype.parent_id.map(datatype_path),
        "children": children.into_iter().map(datatype_path).collect::<Vec<_>>(),
        "description": datatype.description,
        "details": datatype.details,
        "uploadable": datatype.uploadable,
        "source_projects": source_projects.into_iter().map(project_path).collect::<Vec<_>>(),
    })))
}

/// `GET /api/public/project/<id>/`: an approved project's public description.
/// Unapproved and unknown projects are 404.
pub async fn get_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProjectInfo>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    let project = crate::db::projects::find_by_id(&state.db, id)
        .await?
        .filter(|project| project.approved)
        .ok_or(ApiError::NotFound)?;
    let registered = crate::db::datatypes::registered_for_project(&state.db, id).await?;
    let mut conn = state.db.pool.acquire().await?;
    let authorized_members = crate::db::memberships::count_active(&mut conn, id).await?;
    Ok(Json(project_info(
        &project,
        &registered,
        authorized_members,
        &state.public_url,
    )))
}

/// A project's description, as `GET /api/public/project/<id>/` and the project API's
/// `project/` return it. It contains no credential. Keys are in alphabetical order, as
/// Open Humans sends them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProjectInfo {
    pub active: bool,
    pub approved: bool,
    /// Number of active members.
    pub authorized_members: i64,
    /// Absolute URL of the badge image, if one was uploaded.
    pub badge_image: Option<String>,
    pub contact_email: String,
    pub id: i64,
    /// `direct-sharing-<id>`.
    pub id_label: String,
    pub info_url: String,
    pub is_academic_or_nonprofit: bool,
    pub is_study: bool,
    pub leader: String,
    pub long_description: String,
    pub name: String,
    pub organization: String,
    /// Relative URLs of the registered datatypes.
    pub registered_datatypes: Vec<String>,
    /// Labels of the requested sources (kept for older clients).
    pub request_sources_access: Vec<String>,
    pub request_username_access: bool,
    /// Relative URLs of the requested source projects.
    pub requested_sources: Vec<String>,
    pub returned_data_description: String,
    pub short_description: String,
    pub slug: String,
    /// Always `oauth2`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Builds the description of `project`. `registered_datatypes` are the ids of the
/// project's registered datatypes and `authorized_members` the number of its active
/// members; `public_url` makes the badge URL absolute.
pub fn project_info(
    project: &Project,
    registered_datatypes: &[i64],
    authorized_members: i64,
    public_url: &str,
) -> ProjectInfo {
    let config = &project.config;
    let badge_image = project
        .badge_key
        .as_deref()
        .map(|key| format!("{public_url}{}", crate::http::badges::badge_path(key)));
    ProjectInfo {
        active: config.active,
        approved: project.approved,
        authorized_members,
        badge_image,
        contact_email: config.contact_email.clone(),
        id: project.id,
        id_label: id_label(project.id),
        info_url: config.info_url.clone(),
        is_academic_or_nonprofit: config.is_academic_or_nonprofit,
        is_study: config.is_study,
        leader: config.leader.clone(),
        long_description: config.long_description.clone(),
        name: config.name.clone(),
        organization: config.organization.clone(),
        registered_datatypes: registered_datatypes
            .iter()
            .map(|&id| datatype_path(id))
            .collect(),
        request_sources_access: config
            .requested_sources
            .iter()
            .map(|&id| id_label(id))
            .collect(),
        request_username_access: config.request_username_access,
        requested_sources: config
            .requested_sources
            .iter()
            .map(|&id| project_path(id))
            .collect(),
        returned_data_description: config.returned_data_description.clone(),
        short_description: config.short_description.clone(),
        slug: project.slug.clone(),
        kind: "oauth2".to_string(),
    }
}
