//! `GET /api/direct-sharing/project/exchange-member/`: one member's data, as the
//! project may see it.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{FileResponse, Target, file_responses, shared_username, sources_shared};
use crate::app::AppState;
use crate::clock::iso8601;
use crate::db::files::VisibleFiles;
use crate::http::api::auth::ApiAuth;
use crate::http::api::error::ApiError;
use crate::http::api::pagination::PageRequest;

/// Query parameters of exchange-member, for the API description; the handler reads
/// the raw query so that repeated parameters cannot make it fail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeMemberQuery {
    /// The member to read; required with the master token, ignored with a member token.
    pub project_member_id: Option<String>,
    /// Page size, default 100, at most 1000.
    pub limit: Option<String>,
    /// Number of files to skip, default 0.
    pub offset: Option<String>,
}

/// One member's data: the membership, then a page of files in `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeMemberResponse {
    /// Number of files in all pages.
    pub count: i64,
    /// Absolute URL of the next page, carrying the same credential, or null.
    pub next: Option<String>,
    pub previous: Option<String>,
    /// When the membership was created.
    pub created: String,
    /// The member's 8-digit id in this project.
    pub project_member_id: String,
    /// Labels of the sources the member granted.
    pub sources_shared: Vec<String>,
    /// Present only when the member shared their username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub data: Vec<FileResponse>,
}

/// Returns a member's data: the files the project uploaded for them and their files
/// from the sources they granted, ordered by source then id, paginated.
///
/// A member token reads its own member. The master token needs `project_member_id`
/// of an active member. The credential of an `exchange_member` URL reads the member
/// it was made for.
#[utoipa::path(
    get,
    path = "/api/direct-sharing/project/exchange-member/",
    tag = "members",
    params(ExchangeMemberQuery),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The member's data", body = ExchangeMemberResponse),
        (status = 400, description = "Missing or invalid project_member_id", body = Object),
        (status = 401, description = "Missing, unknown or expired token", body = super::openapi::DetailResponse),
    )
)]
pub async fn exchange_member(
    State(state): State<AppState>,
    auth: ApiAuth,
    page: PageRequest,
    RawQuery(query): RawQuery,
) -> Result<Json<ExchangeMemberResponse>, ApiError> {
    let project_member_id = super::query_value(query.as_deref(), "project_member_id");
    let membership =
        super::target_membership(&state, &auth, project_member_id.as_deref(), Target::Active)
            .await?;
    let now = state.clock.now();

    let visible = VisibleFiles {
        project_id: auth.project.id,
        membership_id: membership.id,
        member_id: membership.member_id,
    };
    let (count, files) = visible.page(&state.db, page.limit, page.offset).await?;
    let data = file_responses(&state, &files, auth.project.id, now).await?;

    Ok(Json(ExchangeMemberResponse {
        count,
        next: page.next_url(count),
        previous: page.previous_url(),
        created: iso8601(membership.created_at),
        project_member_id: membership.project_member_id.clone(),
        sources_shared: sources_shared(&membership),
        username: shared_username(&state, &membership).await?,
        data,
    }))
}
