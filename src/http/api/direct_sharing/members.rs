//! `GET /api/direct-sharing/project/members/`: the project's active members, for the
//! master token only.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::{FileResponse, file_responses, shared_username, sources_shared};
use crate::app::AppState;
use crate::clock::iso8601;
use crate::db::files::VisibleFiles;
use crate::db::memberships::{self, Membership};
use crate::db::project_api;
use crate::http::api::auth::{ApiAuth, EXCHANGE_MEMBER_PATH, mint_exchange_credential};
use crate::http::api::error::ApiError;
use crate::http::api::pagination::PageRequest;

/// How many files each member's `data` previews; `exchange_member` lists them all.
pub const PREVIEW_FILES: i64 = 10;

/// One active member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResponse {
    /// When the membership was created.
    pub created: String,
    pub project_member_id: String,
    /// Number of files the project sees for this member.
    pub file_count: i64,
    /// An absolute URL that lists all of the member's files with a plain GET. It
    /// carries a credential valid one hour for that member only, never the master
    /// token; it stops working early when the master token is regenerated or the
    /// member leaves.
    pub exchange_member: String,
    pub sources_shared: Vec<String>,
    /// Present only when the member shared their username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The member's first files, by id.
    pub data: Vec<FileResponse>,
}

/// A page of active members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersPage {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<MemberResponse>,
}

/// Lists the project's active members, ordered by `project_member_id`, paginated.
/// Only the master token is accepted; a member token is 401.
#[utoipa::path(
    get,
    path = "/api/direct-sharing/project/members/",
    tag = "members",
    params(
        ("limit" = Option<i64>, Query, description = "Page size, default 100, at most 1000"),
        ("offset" = Option<i64>, Query, description = "Index of the first member"),
    ),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of members", body = MembersPage),
        (status = 401, description = "Not the master token", body = super::openapi::DetailResponse),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    auth: ApiAuth,
    page: PageRequest,
) -> Result<Json<MembersPage>, ApiError> {
    auth.require_master()?;
    let project_id = auth.project.id;
    let now = state.clock.now();

    let mut conn = state.db.pool.acquire().await?;
    let count = memberships::count_active(&mut conn, project_id).await?;
    drop(conn);
    let list =
        project_api::list_active_members(&state.db, project_id, page.limit, page.offset).await?;

    let master_hash = project_api::master_token_hash(&state.db, project_id).await?;
    let mut results = Vec::with_capacity(list.len());
    for membership in &list {
        results.push(member_response(&state, membership, master_hash.as_deref(), now).await?);
    }
    Ok(Json(MembersPage {
        count,
        next: page.next_url(count),
        previous: page.previous_url(),
        results,
    }))
}

async fn member_response(
    state: &AppState,
    membership: &Membership,
    master_hash: Option<&str>,
    now: crate::clock::Micros,
) -> Result<MemberResponse, ApiError> {
    let visible = VisibleFiles {
        project_id: membership.project_id,
        membership_id: membership.id,
        member_id: membership.member_id,
    };
    let file_count = visible.count(&state.db).await?;
    let preview = visible.first_by_id(&state.db, PREVIEW_FILES).await?;
    let data = file_responses(state, &preview, membership.project_id, now).await?;

    let credential = mint_exchange_credential(
        &state.key,
        membership.project_id,
        &membership.project_member_id,
        master_hash,
        membership.authorized_at,
        now,
    );
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("project_member_id", &membership.project_member_id)
        .append_pair("access_token", &credential)
        .finish();

    Ok(MemberResponse {
        created: iso8601(membership.created_at),
        project_member_id: membership.project_member_id.clone(),
        file_count,
        exchange_member: format!("{}?{query}", state.url(EXCHANGE_MEMBER_PATH)),
        sources_shared: sources_shared(membership),
        username: shared_username(state, membership).await?,
        data,
    })
}
