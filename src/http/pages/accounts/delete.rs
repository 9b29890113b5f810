//! `/account/delete/`: a member deletes their account. The member first leaves every
//! project, with the same webhooks and notices as leaving it. Then the account, its
//! sessions and its files (objects included) are deleted. A coordinator must hand over
//! or close their projects first.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::login::{account_bucket, account_limit};
use super::{REJECTED, acquire_limit, verify_password};
use crate::app::AppState;
use crate::db::memberships::{self, WithdrawOptions};
use crate::db::oauth2::lock_project;
use crate::db::{accounts, projects, rate_limits};
use crate::domain::forms::FieldErrors;
use crate::domain::membership::Actor;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::pages::connections::{delete_objects, form_flag};
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// A project the member belongs to, with the erasure choice when it supports one.
pub struct MembershipChoice {
    pub project_name: String,
    pub project_member_id: String,
    pub erasure_supported: bool,
}

/// A project the member coordinates, which blocks the deletion.
pub struct CoordinatedProject {
    pub name: String,
    pub slug: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "account/delete.html")]
pub struct DeleteAccountPage {
    ctx: PageContext,
    coordinated: Vec<CoordinatedProject>,
    memberships: Vec<MembershipChoice>,
    errors: FieldErrors,
}

/// `GET /account/delete/`: the confirmation form, or the list of projects to hand over
/// first.
pub async fn delete_account_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<DeleteAccountPage, PageError> {
    page(&state, member.id, ctx, FieldErrors::new()).await
}

/// `POST /account/delete/`: checks the password, then in one transaction withdraws
/// from every project (asking for erasure where the member chose it with
/// `erasure_<project_member_id>`) and deletes the account. Stored objects are deleted
/// after the commit.
pub async fn delete_account(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let password = form.required("password")?;
    let blocked = page(&state, member.id, ctx, FieldErrors::new()).await?;
    if !blocked.coordinated.is_empty() {
        return Ok((REJECTED, blocked).into_response());
    }

    // A wrong password counts as a failed login, as on the password change form.
    let now = state.clock.now();
    let attempt = acquire_limit(
        &state,
        &account_bucket(member.id),
        account_limit(&state),
        now,
        "There were too many wrong passwords. For your security, deleting the account is \
         paused.",
    )
    .await?;
    if !verify_password(password, &member.password_hash).await? {
        let mut errors = FieldErrors::new();
        errors.add("password", "The password is not correct.");
        let page = DeleteAccountPage { errors, ..blocked };
        return Ok((REJECTED, page).into_response());
    }
    rate_limits::release(&state.db, attempt).await?;

    let mut choices = Vec::new();
    for membership in memberships::list_active_for_member(&state.db, member.id).await? {
        let erasure = form_flag(&form, &format!("erasure_{}", membership.project_member_id))?;
        choices.push((membership, erasure));
    }
    // Projects are locked in id order, so two such transactions cannot deadlock.
    choices.sort_by_key(|(membership, _)| membership.project_id);

    let mut tx = state.db.begin_write().await?;
    let mut withdrawn = 0;
    let mut keys = Vec::new();
    for (membership, erasure_requested) in choices {
        lock_project(&mut tx, state.db.backend, membership.project_id).await?;
        let Some(current) = memberships::find_by_id(&mut tx, membership.id).await? else {
            continue;
        };
        if !current.status.is_active(true) {
            continue;
        }
        let options = WithdrawOptions {
            erasure_requested,
            delete_files: true,
            account_deleted: true,
        };
        let done =
            memberships::withdraw_with(&mut tx, &current, Actor::Member, &options, now).await?;
        keys.extend(done.deleted_file_keys);
        withdrawn += 1;
    }
    keys.extend(accounts::delete_member(&mut tx, member.id).await?);
    tx.commit().await?;
    state.job_signal.notify();
    tracing::info!(
        member.id = member.id,
        projects = withdrawn,
        files = keys.len(),
        "account deleted"
    );
    delete_objects(&state, &keys).await;

    Ok(redirect_with_flash(
        &state,
        "/",
        FlashKind::Success,
        "Your account was deleted. The projects you had joined were told that you left.",
    )
    .into_response())
}

async fn page(
    state: &AppState,
    member_id: i64,
    ctx: PageContext,
    errors: FieldErrors,
) -> Result<DeleteAccountPage, PageError> {
    let coordinated = projects::list_by_coordinator(&state.db, member_id)
        .await?
        .into_iter()
        .map(|project| CoordinatedProject {
            name: project.config.name,
            slug: project.slug,
        })
        .collect();
    let mut choices = Vec::new();
    for membership in memberships::list_active_for_member(&state.db, member_id).await? {
        if let Some(project) = projects::find_by_id(&state.db, membership.project_id).await? {
            choices.push(MembershipChoice {
                project_name: project.config.name,
                project_member_id: membership.project_member_id,
                erasure_supported: project.config.erasure_supported,
            });
        }
    }
    Ok(DeleteAccountPage {
        ctx,
        coordinated,
        memberships: choices,
        errors,
    })
}
