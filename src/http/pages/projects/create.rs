//! Creating a project.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::form::{ProjectFormPage, check_submission, read_submission};
use super::{detail_path, reveal};
use crate::app::AppState;
use crate::db::projects;
use crate::domain::forms::FieldErrors;
use crate::domain::project::ProjectInput;
use crate::http::badges::store_badge;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

const ACTION: &str = "/direct-sharing/projects/oauth2/create/";

fn form_page(ctx: PageContext, input: ProjectInput) -> ProjectFormPage {
    ProjectFormPage {
        ctx,
        title: "Create a project".to_string(),
        action: ACTION.to_string(),
        submit_label: "Create project",
        cancel_path: "/direct-sharing/projects/manage/".to_string(),
        input,
        errors: FieldErrors::new(),
        sources: Vec::new(),
        badge_path: None,
        badge_dropped: false,
    }
}

/// `GET /direct-sharing/projects/oauth2/create/`: an empty project form.
pub async fn create_project_form(
    State(state): State<AppState>,
    CurrentMember(_member): CurrentMember,
    ctx: PageContext,
) -> Result<Response, PageError> {
    let mut page = form_page(ctx, ProjectInput::default());
    page.sources = ProjectFormPage::load_sources(&state, &page.input, None).await?;
    Ok(page.into_response_with(StatusCode::OK))
}

/// `POST /direct-sharing/projects/oauth2/create/`: creates the project, then stores its
/// badge, and redirects to the detail page, which shows the client secret once.
pub async fn create_project(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let submission = match read_submission(multipart).await {
        Ok(submission) => submission,
        Err(response) => return Ok(response),
    };

    // Everything, the badge included, is checked before the project is inserted.
    let checked = match check_submission(&state, &submission, None).await? {
        Ok(checked) => checked,
        Err(errors) => {
            let mut page = form_page(ctx, submission.input);
            page.sources = ProjectFormPage::load_sources(&state, &page.input, None).await?;
            page.errors = errors;
            page.badge_dropped = submission.badge.is_some();
            return Ok(page.into_response_with(StatusCode::UNPROCESSABLE_ENTITY));
        }
    };

    let now = state.clock.now();
    let created = projects::insert(&state.db, &state.key, member.id, &checked.config, now).await?;
    tracing::info!(
        project.id = created.id,
        project.slug = %created.slug,
        member.id = member.id,
        "project created"
    );

    // The badge's key contains the project id, so it is stored only now. A storage
    // failure leaves a usable project without a badge, and the flash message says so.
    let mut message = "Project created. Copy the client secret below now: it is shown only \
                       once."
        .to_string();
    let mut kind = FlashKind::Success;
    if let Some(badge) = &checked.badge {
        let stored = match store_badge(&state, created.id, badge).await {
            Ok(key) => projects::set_badge_key(&state.db, created.id, Some(&key))
                .await
                .map_err(anyhow::Error::from),
            Err(error) => Err(error),
        };
        if let Err(error) = stored {
            tracing::error!(project.id = created.id, error = %format!("{error:#}"), "storing a badge failed");
            message = "Project created, but its badge image could not be stored. Upload it again \
                       from the edit page. Copy the client secret below now: it is shown only once."
                .to_string();
            kind = FlashKind::Error;
        }
    }

    let mut response = redirect_with_flash(&state, &detail_path(&created.slug), kind, &message);
    reveal::attach(
        &state,
        &mut response,
        created.id,
        reveal::CredentialKind::ClientSecret,
        &created.client_secret,
    );
    Ok(response)
}
