//! `/direct-sharing/projects/oauth2/<slug>/remove-members/`: the coordinator removes
//! members from the project. Removal revokes like a member's own withdrawal, and
//! emails the contact address when the project asked for that, but sends no webhook:
//! the project already knows.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::{detail_path, load_managed_project};
use crate::app::AppState;
use crate::db::memberships::{self, Membership};
use crate::db::oauth2::lock_project;
use crate::db::projects::Project;
use crate::domain::forms::FieldErrors;
use crate::domain::membership::Actor;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// Most ids one submission may list.
const MAX_IDS: usize = 1000;

#[derive(Template, WebTemplate)]
#[template(path = "projects/remove_members.html")]
pub struct RemoveMembersPage {
    ctx: PageContext,
    project: Project,
    project_member_ids: String,
    errors: FieldErrors,
}

/// `GET /direct-sharing/projects/oauth2/<slug>/remove-members/`
pub async fn remove_members_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<RemoveMembersPage, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    Ok(RemoveMembersPage {
        ctx,
        project,
        project_member_ids: String::new(),
        errors: FieldErrors::new(),
    })
}

/// `POST /direct-sharing/projects/oauth2/<slug>/remove-members/`: removes every
/// listed member, or none when any id is not an active member (the field error names
/// those ids).
pub async fn remove_members(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let input = form.optional("project_member_ids").unwrap_or_default();
    let ids = split_ids(input);

    let mut errors = FieldErrors::new();
    let mut found = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    if ids.is_empty() {
        errors.add(
            "project_member_ids",
            "Enter at least one project member id.",
        );
    } else if ids.len() > MAX_IDS {
        errors.add(
            "project_member_ids",
            format!(
                "Enter at most {MAX_IDS} ids at a time; {} were given.",
                ids.len()
            ),
        );
    } else {
        let mut conn = state.db.pool.acquire().await?;
        for id in &ids {
            match memberships::find_by_project_member_id(&mut conn, id).await? {
                Some(membership) if is_removable(&membership, project.id) => found.push(membership),
                _ => unknown.push(id.as_str()),
            }
        }
    }
    if !unknown.is_empty() {
        errors.add(
            "project_member_ids",
            format!(
                "These ids are not active members of this project: {}.",
                unknown.join(", ")
            ),
        );
    }
    if !errors.is_empty() {
        let page = RemoveMembersPage {
            ctx,
            project,
            project_member_ids: input.to_string(),
            errors,
        };
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }

    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    lock_project(&mut tx, state.db.backend, project.id).await?;
    let mut removed = 0;
    for membership in found {
        // Re-read under the lock: the member may have left in the meantime.
        let Some(current) = memberships::find_by_id(&mut tx, membership.id).await? else {
            continue;
        };
        if is_removable(&current, project.id) {
            memberships::withdraw(&mut tx, &current, Actor::Project, now).await?;
            removed += 1;
        }
    }
    tx.commit().await?;
    state.job_signal.notify();
    tracing::info!(
        project.id = project.id,
        member.id = member.id,
        count = removed,
        "coordinator removed members"
    );

    let noun = if removed == 1 { "member" } else { "members" };
    Ok(redirect_with_flash(
        &state,
        &detail_path(&project.slug),
        FlashKind::Success,
        &format!("Removed {removed} {noun}. Their tokens no longer work."),
    ))
}

fn is_removable(membership: &Membership, project_id: i64) -> bool {
    membership.project_id == project_id && membership.status.is_active(true)
}

/// Splits a list of ids separated by commas, spaces or newlines, dropping repeats.
fn split_ids(input: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in input.split(|c: char| c == ',' || c.is_whitespace()) {
        if !id.is_empty() && !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_on_commas_spaces_and_newlines() {
        assert_eq!(
            split_ids("12345678, 23456789\n34567890 ,12345678\r\n"),
            ["12345678", "23456789", "34567890"]
        );
        assert!(split_ids(" ,\n").is_empty());
    }
}
