//! Actions on a project's credentials: rotating the client secret and issuing a master
//! access token. Each new value is shown once on the detail page.

use axum::extract::{Path, State};
use axum::response::Response;

use super::reveal::{self, CredentialKind};
use super::{detail_path, load_managed_project};
use crate::app::AppState;
use crate::db::projects;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, redirect_with_flash};

/// `POST /direct-sharing/projects/oauth2/<slug>/rotate-secret/`: replaces the client
/// secret. The old secret stops working at once.
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let secret =
        projects::rotate_client_secret(&state.db, &state.key, project.id, state.clock.now())
            .await?;
    tracing::info!(
        project.id = project.id,
        member.id = member.id,
        "client secret rotated"
    );

    let mut response = redirect_with_flash(
        &state,
        &detail_path(&project.slug),
        FlashKind::Success,
        "The client secret was rotated. The previous secret no longer works.",
    );
    reveal::attach(
        &state,
        &mut response,
        project.id,
        CredentialKind::ClientSecret,
        &secret,
    );
    Ok(response)
}

/// `POST /direct-sharing/projects/oauth2/<slug>/master-token/`: issues a master access
/// token valid for 24 hours. The previous token stops working at once.
pub async fn issue_master_token(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let token =
        projects::issue_master_token(&state.db, &state.key, project.id, state.clock.now()).await?;
    tracing::info!(
        project.id = project.id,
        member.id = member.id,
        "master access token issued"
    );

    let mut response = redirect_with_flash(
        &state,
        &detail_path(&project.slug),
        FlashKind::Success,
        "A new master access token was created. The previous token no longer works.",
    );
    reveal::attach(
        &state,
        &mut response,
        project.id,
        CredentialKind::MasterToken,
        &token,
    );
    Ok(response)
}
