//! `/member/me/connections/`: the projects a member has authorized, what each may
//! access, and leaving one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::clock::human;
use crate::db::memberships::{self, Membership};
use crate::db::oauth2::{lock_project, project_names};
use crate::db::projects;
use crate::domain::membership::Actor;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// One authorized project and the permissions its snapshot grants.
pub struct ConnectionItem {
    pub project_name: String,
    pub project_member_id: String,
    pub sources: Vec<String>,
    pub message_permission: bool,
    pub username_shared: bool,
    pub authorized_at: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "connections/list.html")]
pub struct ConnectionsPage {
    ctx: PageContext,
    username: String,
    connections: Vec<ConnectionItem>,
}

/// `GET /member/me/connections/`
pub async fn list_connections(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<ConnectionsPage, PageError> {
    let memberships = memberships::list_active_for_member(&state.db, member.id).await?;
    let mut connections = Vec::with_capacity(memberships.len());
    for membership in memberships {
        connections.push(connection_item(&state, &membership).await?);
    }
    Ok(ConnectionsPage {
        ctx,
        username: member.username,
        connections,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "connections/leave.html")]
pub struct LeavePage {
    ctx: PageContext,
    connection: ConnectionItem,
}

/// `GET /member/me/connections/<project_member_id>/leave/`: the confirmation page.
/// Only the member who owns the membership sees it; anyone else gets 404.
pub async fn leave_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(project_member_id): Path<String>,
) -> Result<LeavePage, PageError> {
    let mut conn = state.db.pool.acquire().await?;
    let membership = memberships::find_by_project_member_id(&mut conn, &project_member_id)
        .await?
        .filter(|membership| membership.member_id == member.id && is_current(membership))
        .ok_or(PageError::NotFound)?;
    drop(conn);
    Ok(LeavePage {
        ctx,
        connection: connection_item(&state, &membership).await?,
    })
}

/// `POST /member/me/connections/<project_member_id>/leave/`: withdraws from the
/// project. In one transaction the membership is revoked, its snapshot cleared, every
/// token and grant of it deleted and the withdrawal recorded.
pub async fn leave(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(project_member_id): Path<String>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let mut conn = state.db.pool.acquire().await?;
    let found = memberships::find_by_project_member_id(&mut conn, &project_member_id)
        .await?
        .filter(|membership| membership.member_id == member.id)
        .ok_or(PageError::NotFound)?;
    drop(conn);

    let mut tx = state.db.begin_write().await?;
    // The project row's lock orders this withdrawal with concurrent authorizations,
    // which count the project's members under the same lock.
    lock_project(&mut tx, state.db.backend, found.project_id).await?;
    let membership = memberships::find_by_id(&mut tx, found.id)
        .await?
        .filter(is_current)
        .ok_or(PageError::NotFound)?;
    memberships::withdraw(&mut tx, &membership, Actor::Member, now).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = membership.project_id,
        membership.id = membership.id,
        "member withdrew from a project"
    );

    let name = projects::find_by_id(&state.db, membership.project_id)
        .await?
        .map(|project| project.config.name)
        .unwrap_or_default();
    Ok(redirect_with_flash(
        &state,
        "/member/me/connections/",
        FlashKind::Success,
        &format!("You left {name}. Its access to your account has been revoked."),
    )
    .into_response())
}

/// Returns whether a membership is listed as a connection: joined, authorized and not
/// revoked.
fn is_current(membership: &Membership) -> bool {
    membership.status.is_active(true)
}

async fn connection_item(
    state: &AppState,
    membership: &Membership,
) -> Result<ConnectionItem, PageError> {
    let project = projects::find_by_id(&state.db, membership.project_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let sources = project_names(&state.db, &membership.snapshot.granted_sources)
        .await?
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    Ok(ConnectionItem {
        project_name: project.config.name,
        project_member_id: membership.project_member_id.clone(),
        sources,
        message_permission: membership.snapshot.message_permission,
        username_shared: membership.snapshot.username_shared,
        authorized_at: membership.authorized_at.map(human).unwrap_or_default(),
    })
}
