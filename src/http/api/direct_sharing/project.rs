//! `GET /api/direct-sharing/project/`: the authenticated project's description.

use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::http::api::auth::ApiAuth;
use crate::http::api::error::ApiError;
use crate::http::api::public::{ProjectInfo, project_info};

/// Returns the project that the token belongs to. Accepts a member token or the
/// master token.
#[utoipa::path(
    get,
    path = "/api/direct-sharing/project/",
    tag = "project",
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The project", body = ProjectInfo),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
    )
)]
pub async fn get_project(
    State(state): State<AppState>,
    auth: ApiAuth,
) -> Result<Json<ProjectInfo>, ApiError> {
    auth.reject_exchange_credential()?;
    let project = &auth.project;
    let registered = crate::db::datatypes::registered_for_project(&state.db, project.id).await?;
    let mut conn = state.db.pool.acquire().await?;
    let authorized_members = crate::db::memberships::count_active(&mut conn, project.id).await?;
    Ok(Json(project_info(
        project,
        &registered,
        authorized_members,
        &state.public_url,
    )))
}
