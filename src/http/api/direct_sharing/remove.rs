//! `POST /api/direct-sharing/project/remove-members/`: the project ends memberships.

use anyhow::Context;
use axum::Json;
use axum::extract::State;

use crate::app::AppState;
use crate::db::oauth2::lock_project;
use crate::db::{memberships, project_api};
use crate::domain::files::parse_project_member_ids;
use crate::domain::membership::Actor;
use crate::http::api::auth::{ApiAuth, Credential};
use crate::http::api::body::ApiBody;
use crate::http::api::error::ApiError;

/// Removes members from the project: their tokens are revoked and their snapshots
/// cleared at once. `project_member_ids` may repeat and each value may list several
/// ids separated by commas, spaces or newlines; duplicates are harmless. A member
/// token always removes its own member, which is what an empty request with a member
/// token is for. The project gets no webhook for removals it makes itself.
#[utoipa::path(
    post,
    path = "/api/direct-sharing/project/remove-members/",
    tag = "members",
    request_body(content_type = "application/x-www-form-urlencoded", description = "project_member_ids"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The members were removed", body = String, content_type = "application/json", example = json!("success")),
        (status = 400, description = "Missing or invalid ids, listed under errors", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
    )
)]
pub async fn remove_members(
    State(state): State<AppState>,
    auth: ApiAuth,
    body: ApiBody,
) -> Result<Json<&'static str>, ApiError> {
    auth.reject_exchange_credential()?;
    let ids = match &auth.credential {
        Credential::Member(membership) => vec![membership.project_member_id.clone()],
        _ => requested_ids(&body)?,
    };

    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    lock_project(&mut tx, state.db.backend, auth.project.id)
        .await?
        .context("the authenticated project no longer exists")?;

    // Every id is checked before any membership changes, so a bad id removes no member.
    let mut targets = Vec::with_capacity(ids.len());
    let mut invalid = Vec::new();
    for id in &ids {
        let membership = memberships::find_by_project_member_id(&mut tx, id)
            .await?
            .filter(|membership| membership.project_id == auth.project.id);
        match membership {
            Some(membership)
                if membership.status.is_active(
                    project_api::account_is_active(&mut tx, membership.member_id).await?,
                ) =>
            {
                targets.push(membership)
            }
            _ => invalid.push(id.clone()),
        }
    }
    if !invalid.is_empty() {
        return Err(ApiError::errors(
            "project_member_ids",
            format!(
                "These ids are not active members of this project: {}",
                invalid.join(", ")
            ),
        ));
    }

    for membership in &targets {
        memberships::withdraw(&mut tx, membership, Actor::Project, now).await?;
    }
    tx.commit().await?;
    // Removal may have queued withdrawal notices for the project's contact address.
    state.job_signal.notify();
    tracing::info!(
        project.id = auth.project.id,
        count = targets.len(),
        "removed members"
    );
    Ok(Json("success"))
}

/// Reads `project_member_ids`: every value counts.
fn requested_ids(body: &ApiBody) -> Result<Vec<String>, ApiError> {
    let ids = parse_project_member_ids(&body.get_all("project_member_ids")).map_err(|invalid| {
        ApiError::errors(
            "project_member_ids",
            format!(
                "Project member ids are 8 digits; these are not: {}",
                invalid.join(", ")
            ),
        )
    })?;
    if ids.is_empty() {
        return Err(ApiError::errors(
            "project_member_ids",
            "project_member_ids is required: list the members to remove",
        ));
    }
    Ok(ids)
}
