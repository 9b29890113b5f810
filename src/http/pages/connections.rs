//! `/member/me/connections/`: the projects a member has authorized, what each may
//! access, and leaving one.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::clock::human;
use crate::db::memberships::{self, Membership, WithdrawOptions};
use crate::db::oauth2::{lock_project, project_names};
use crate::db::projects;
use crate::domain::forms::parse_bool;
use crate::domain::membership::Actor;
use crate::http::error::PageError;
use crate::http::form::FormBody;
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
    /// Whether the project accepts erasure requests; only then is the choice offered.
    erasure_supported: bool,
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
    let erasure_supported = projects::find_by_id(&state.db, membership.project_id)
        .await?
        .is_some_and(|project| project.config.erasure_supported);
    Ok(LeavePage {
        ctx,
        connection: connection_item(&state, &membership).await?,
        erasure_supported,
    })
}

/// `POST /member/me/connections/<project_member_id>/leave/`: withdraws from the
/// project. In one transaction the membership is revoked, its snapshot cleared, every
/// token and grant of it deleted, the withdrawal recorded, and the project's webhook
/// and notice email queued. The form's optional fields are `erasure_requested` (only
/// for projects that support erasure; otherwise the request is rejected with 400) and
/// `remove_datafiles`, which deletes the files the project added to the account.
pub async fn leave(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(project_member_id): Path<String>,
    request: Request,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let mut conn = state.db.pool.acquire().await?;
    let found = memberships::find_by_project_member_id(&mut conn, &project_member_id)
        .await?
        .filter(|membership| membership.member_id == member.id)
        .ok_or(PageError::NotFound)?;
    drop(conn);
    let form = read_optional_form(request, &state).await?;
    let project = projects::find_by_id(&state.db, found.project_id)
        .await?
        .ok_or(PageError::NotFound)?;
    let options = WithdrawOptions {
        erasure_requested: form_flag(&form, "erasure_requested")?,
        delete_files: form_flag(&form, "remove_datafiles")?,
        account_deleted: false,
    };
    if options.erasure_requested && !project.config.erasure_supported {
        return Err(PageError::BadRequest(format!(
            "{} does not accept erasure requests, so one cannot be sent. Leave without \
             asking for erasure, or contact the project.",
            project.config.name
        )));
    }

    let mut tx = state.db.begin_write().await?;
    // The project row's lock orders this withdrawal with concurrent authorizations,
    // which count the project's members under the same lock.
    lock_project(&mut tx, state.db.backend, found.project_id).await?;
    let membership = memberships::find_by_id(&mut tx, found.id)
        .await?
        .filter(is_current)
        .ok_or(PageError::NotFound)?;
    let withdrawn =
        memberships::withdraw_with(&mut tx, &membership, Actor::Member, &options, now).await?;
    tx.commit().await?;
    state.job_signal.notify();
    tracing::info!(
        project.id = membership.project_id,
        membership.id = membership.id,
        erasure_requested = withdrawn.erasure_requested,
        files_deleted = withdrawn.deleted_file_keys.len(),
        "member withdrew from a project"
    );
    delete_objects(&state, &withdrawn.deleted_file_keys).await;

    let name = project.config.name;
    let mut message = format!("You left {name}. Its access to your account has been revoked.");
    if withdrawn.erasure_requested {
        message.push_str(" Your request to erase your data was sent to the project.");
    }
    if options.delete_files {
        message.push_str(" The files it added to your account were deleted.");
    }
    Ok(redirect_with_flash(
        &state,
        "/member/me/connections/",
        FlashKind::Success,
        &message,
    )
    .into_response())
}

/// Reads the leave form. A POST without a body (no content type, nothing sent) is a
/// withdrawal with every option off.
async fn read_optional_form(request: Request, state: &AppState) -> Result<FormBody, PageError> {
    let headers = request.headers();
    let empty = !headers.contains_key(header::CONTENT_TYPE)
        && headers
            .get(header::CONTENT_LENGTH)
            .is_none_or(|length| length == "0");
    if empty {
        return Ok(FormBody::default());
    }
    match FormBody::from_request(request, state).await {
        Ok(form) => Ok(form),
        Err(_) => Err(PageError::BadRequest(
            "The form could not be read. Submit it from the leave page.".to_string(),
        )),
    }
}

/// Reads an optional form boolean; absent is false, an invalid value is a 400 naming
/// the field.
pub fn form_flag(form: &FormBody, name: &str) -> Result<bool, PageError> {
    match form.optional(name) {
        None => Ok(false),
        Some(value) => parse_bool(value).ok_or_else(|| {
            PageError::BadRequest(format!(
                "The form field \"{name}\" must be true or false, not {value:?}."
            ))
        }),
    }
}

/// Deletes stored objects whose rows are already gone. A failure is logged and
/// leaves an orphaned object, never a file row pointing at nothing.
pub async fn delete_objects(state: &AppState, keys: &[String]) {
    for key in keys {
        if let Err(error) = state.storage.delete(key).await {
            tracing::error!(storage.key = %key, error = %format!("{error:#}"),
                "deleting a file object failed; the object is orphaned");
        }
    }
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
