//! A project's detail page: its configuration, its OAuth2 endpoints and credentials.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::reveal::{self, CredentialKind, RevealedCredential};
use super::{badge_initial, load_managed_project};
use crate::app::AppState;
use crate::clock::human;
use crate::db::projects::{self, Project};
use crate::domain::approval::ApprovalState;
use crate::http::badges::badge_path;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext, urlencode};

/// A requested data source, by name.
pub struct SourceLink {
    pub name: String,
    pub slug: String,
}

#[derive(Template)]
#[template(path = "projects/detail.html")]
pub struct DetailPage {
    ctx: PageContext,
    project: Project,
    coordinator: String,
    badge_path: Option<String>,
    initial: String,
    sources: Vec<SourceLink>,
    authorize_url: String,
    token_url: String,
    /// The webhook secret as Standard Webhooks libraries take it: `whsec_` and the
    /// base64 of its UTF-8 bytes.
    webhook_secret_whsec: Option<String>,
    /// The time the webhook was turned off because its receiver responded 410 Gone.
    webhook_off_since: Option<String>,
    master_token_expiry: Option<String>,
    master_token_expired: bool,
    created: String,
    secret_rotated: String,
    /// A credential created by the previous request, shown this once.
    revealed: Option<RevealedCredential>,
    approval_state: ApprovalState,
}

impl DetailPage {
    fn revealed_client_secret(&self) -> Option<&str> {
        self.revealed
            .as_ref()
            .filter(|revealed| revealed.kind == CredentialKind::ClientSecret)
            .map(|revealed| revealed.value.as_str())
    }

    fn revealed_master_token(&self) -> Option<&str> {
        self.revealed
            .as_ref()
            .filter(|revealed| revealed.kind == CredentialKind::MasterToken)
            .map(|revealed| revealed.value.as_str())
    }
}

/// `GET /direct-sharing/projects/oauth2/<slug>/`: every configured field, the OAuth2
/// endpoints, and a new credential once if one was just created.
pub async fn project_detail_page(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;

    let coordinator = if project.coordinator_id == member.id {
        member.username.clone()
    } else {
        crate::db::members::find_by_id(&state.db, project.coordinator_id)
            .await?
            .map(|coordinator| coordinator.username)
            .unwrap_or_default()
    };
    let mut sources = Vec::new();
    for id in &project.config.requested_sources {
        if let Some(source) = projects::find_by_id(&state.db, *id).await? {
            sources.push(SourceLink {
                name: source.config.name,
                slug: source.slug,
            });
        }
    }
    let now = state.clock.now();
    let revealed = reveal::take(&state, &headers, project.id);
    let approval_state = crate::db::approvals::find(&state.db, &project).await?.state;
    let webhook_off_since = crate::db::webhooks::disabled_since(&state.db, project.id)
        .await?
        .map(human);

    let page = DetailPage {
        ctx,
        coordinator,
        badge_path: project.badge_key.as_deref().map(badge_path),
        initial: badge_initial(&project.config.name),
        sources,
        authorize_url: state.url(&format!(
            "/direct-sharing/projects/oauth2/authorize/?client_id={}&response_type=code",
            urlencode(&project.client_id)
        )),
        token_url: state.url("/oauth2/token/"),
        webhook_secret_whsec: project
            .config
            .webhook_secret
            .as_ref()
            .map(|secret| format!("whsec_{}", STANDARD.encode(secret.as_bytes()))),
        webhook_off_since,
        master_token_expiry: project.master_token_expires_at.map(human),
        master_token_expired: project
            .master_token_expires_at
            .is_some_and(|expires_at| expires_at <= now),
        created: human(project.created_at),
        secret_rotated: human(project.client_secret_rotated_at),
        revealed,
        approval_state,
        project,
    };
    let shown = page.revealed.is_some();
    let body = page
        .render()
        .map_err(|error| anyhow::Error::new(error).context("rendering the project page"))?;
    let mut response = (StatusCode::OK, Html(body)).into_response();
    // The credential is on this page, so this response deletes the cookie that carried it.
    if shown {
        reveal::clear(&state, &mut response);
    }
    Ok(response)
}
