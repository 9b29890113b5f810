//! Editing a project. The slug never changes, so links handed out keep working.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{ProjectFormPage, check_submission, read_submission};
use super::{detail_path, load_managed_project};
use crate::app::AppState;
use crate::db::approvals;
use crate::db::projects::{self, Project};
use crate::domain::forms::{FieldErrors, parse_bool};
use crate::domain::project::ProjectInput;
use crate::http::badges::{badge_path, store_badge};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// The field error shown to a coordinator who makes an admin-deactivated project active.
const ADMIN_DEACTIVATED: &str = "A site admin deactivated this project; ask them to reactivate it. Until then it \
     stays inactive.";

fn form_page(ctx: PageContext, project: &Project, input: ProjectInput) -> ProjectFormPage {
    ProjectFormPage {
        ctx,
        title: format!("Edit {}", project.config.name),
        action: format!("/direct-sharing/projects/oauth2/update/{}/", project.slug),
        submit_label: "Save changes",
        cancel_path: detail_path(&project.slug),
        input,
        errors: FieldErrors::new(),
        sources: Vec::new(),
        badge_path: project.badge_key.as_deref().map(badge_path),
        badge_dropped: false,
    }
}

/// `GET /direct-sharing/projects/oauth2/update/<slug>/`: the project form, prefilled.
pub async fn update_project_form(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let mut page = form_page(ctx, &project, ProjectInput::from_config(&project.config));
    page.sources = ProjectFormPage::load_sources(&state, &page.input, Some(project.id)).await?;
    Ok(page.into_response_with(StatusCode::OK))
}

/// `POST /direct-sharing/projects/oauth2/update/<slug>/`: saves the changes and
/// replaces or removes the badge, deleting the old image.
pub async fn update_project(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let submission = match read_submission(multipart).await {
        Ok(submission) => submission,
        Err(response) => return Ok(response),
    };

    let mut checked = check_submission(&state, &submission, Some(project.id)).await?;
    // Only an admin may undo a site admin's deactivation. Without one, the coordinator
    // closes and reopens the project themselves.
    // NOTE: the check and the save below are separate statements, so an admin who
    // deactivates the project between them is overwritten by this save.
    let turns_active = match &checked {
        Ok(checked) => checked.config.active,
        Err(_) => {
            let active = submission.input.active.trim();
            active.is_empty() || parse_bool(active) == Some(true)
        }
    };
    if turns_active && approvals::is_admin_deactivated(&state.db, project.id).await? {
        let mut errors = checked.err().unwrap_or_default();
        errors.add("active", ADMIN_DEACTIVATED);
        checked = Err(errors);
        tracing::info!(
            project.id = project.id,
            member.id = member.id,
            "activation rejected: a site admin deactivated the project"
        );
    }
    let checked = match checked {
        Ok(checked) => checked,
        Err(errors) => {
            let mut page = form_page(ctx, &project, submission.input);
            page.sources =
                ProjectFormPage::load_sources(&state, &page.input, Some(project.id)).await?;
            page.errors = errors;
            page.badge_dropped = submission.badge.is_some();
            return Ok(page.into_response_with(StatusCode::UNPROCESSABLE_ENTITY));
        }
    };

    projects::update_config(&state.db, project.id, &checked.config, state.clock.now()).await?;
    tracing::info!(
        project.id = project.id,
        member.id = member.id,
        "project updated"
    );

    let new_badge_key = match &checked.badge {
        Some(badge) => match store_badge(&state, project.id, badge).await {
            Ok(key) => Some(key),
            Err(error) => {
                tracing::error!(project.id = project.id, error = %format!("{error:#}"), "storing a badge failed");
                return Ok(redirect_with_flash(
                    &state,
                    &detail_path(&project.slug),
                    FlashKind::Error,
                    "The changes were saved, but the new badge image could not be stored. \
                     Try uploading it again.",
                ));
            }
        },
        None => None,
    };
    if new_badge_key.is_some() || submission.remove_badge {
        projects::set_badge_key(&state.db, project.id, new_badge_key.as_deref()).await?;
        if let Some(old_key) = &project.badge_key
            && let Err(error) = state.storage.delete(old_key).await
        {
            // The project already points at its new badge; the old file is only garbage.
            tracing::warn!(project.id = project.id, error = %format!("{error:#}"), "deleting an old badge failed");
        }
    }

    Ok(redirect_with_flash(
        &state,
        &detail_path(&project.slug),
        FlashKind::Success,
        "Project saved.",
    ))
}
