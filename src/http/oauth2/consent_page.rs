//! The pages of the authorization endpoint: consent, and the pages that explain why
//! a member cannot authorize.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::db::members::Member;
use crate::db::memberships::Membership;
use crate::db::projects::Project;
use crate::domain::membership::Snapshot;
use crate::domain::oauth2::authorize::AuthorizeParams;
use crate::http::error::PageError;
use crate::http::session::PageContext;

/// The project details on the consent page.
pub struct ProjectSummary {
    pub name: String,
    /// First letter of the name, shown when the project has no badge.
    pub initial: String,
    /// Path of the badge image, if the project has one.
    pub badge_path: Option<String>,
    pub is_study: bool,
    pub approved: bool,
    pub leader: String,
    pub organization: String,
    pub contact_email: String,
    pub short_description: String,
    pub terms_url: String,
    pub info_url: String,
    pub is_academic_or_nonprofit: bool,
    /// Whether members who leave may ask the project to erase their data.
    pub erasure_supported: bool,
    pub returned_data_description: String,
}

/// A requested data source.
pub struct SourceItem {
    pub name: String,
    pub has_data: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "oauth2/consent.html")]
pub struct ConsentPage {
    ctx: PageContext,
    action: String,
    project: ProjectSummary,
    sources: Vec<SourceItem>,
    message_permission: bool,
    /// The member's username, when the project requests it.
    username: Option<String>,
    previously_authorized: bool,
    request_changed: bool,
    /// The authorization request's parameters, carried to the POST.
    hidden: Vec<(&'static str, String)>,
    /// Fingerprint of the permissions shown, so that consent is recorded only for them.
    permissions: String,
}

/// Everything needed to render the consent page.
pub struct ConsentView<'a> {
    pub action: &'a str,
    pub project: &'a Project,
    pub member: &'a Member,
    pub membership: Option<&'a Membership>,
    pub params: &'a AuthorizeParams,
    pub request_changed: bool,
}

/// Renders the consent page. Rendering writes nothing.
pub async fn consent_page(
    state: &AppState,
    ctx: PageContext,
    view: ConsentView<'_>,
) -> Result<Response, PageError> {
    let config = &view.project.config;
    let requested = Snapshot::requested_by(config);
    let names = crate::db::oauth2::project_names(&state.db, &requested.granted_sources).await?;
    let sources_with_files =
        crate::db::files::source_projects_of_member(&state.db, view.member.id).await?;
    let sources = names
        .into_iter()
        .map(|(id, name)| SourceItem {
            name,
            has_data: sources_with_files.contains(&id),
        })
        .collect();
    let previously_authorized = view
        .membership
        .is_some_and(|membership| membership.status.is_active(true));
    let page = ConsentPage {
        ctx,
        action: view.action.to_string(),
        project: ProjectSummary {
            name: config.name.clone(),
            badge_path: view
                .project
                .badge_key
                .as_deref()
                .map(crate::http::badges::badge_path),
            initial: config
                .name
                .chars()
                .next()
                .map(|c| c.to_uppercase().to_string())
                .unwrap_or_default(),
            is_study: config.is_study,
            approved: view.project.approved,
            leader: config.leader.clone(),
            organization: config.organization.clone(),
            contact_email: config.contact_email.clone(),
            short_description: config.short_description.clone(),
            terms_url: config.terms_url.clone(),
            info_url: config.info_url.clone(),
            is_academic_or_nonprofit: config.is_academic_or_nonprofit,
            erasure_supported: config.erasure_supported,
            returned_data_description: config.returned_data_description.clone(),
        },
        sources,
        message_permission: requested.message_permission,
        username: requested
            .username_shared
            .then(|| view.member.username.clone()),
        previously_authorized,
        request_changed: view.request_changed,
        hidden: view
            .params
            .to_pairs()
            .into_iter()
            .map(|(name, value)| (name, value.to_string()))
            .collect(),
        permissions: requested.fingerprint(),
    };
    Ok(page.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "oauth2/refused.html")]
struct RefusedPage {
    ctx: PageContext,
    title: String,
    paragraphs: Vec<String>,
    resend_verification: bool,
}

/// Renders the page for a project that is not active.
pub fn inactive_page(ctx: PageContext, project_name: &str) -> Response {
    refused(
        ctx,
        format!("{project_name} is not accepting new members"),
        vec![
            "Enrollment in this project is closed, so it cannot be authorized now.".into(),
            "If you are already a member, nothing changes for you: you can see and withdraw \
             your authorization under your connections."
                .into(),
        ],
        false,
    )
}

/// Renders the page for an unapproved project that has all the test members it may have.
pub fn cap_reached_page(ctx: PageContext, project_name: &str, cap: u32) -> Response {
    refused(
        ctx,
        format!("{project_name} has no room for more test members"),
        vec![
            format!(
                "This project is still in development. Until the site's administrators \
                 approve it, at most {cap} members can join it to test it, and it has reached \
                 that number."
            ),
            "Try again after the project is approved, or ask the project's team whether a \
             test place becomes free."
                .into(),
        ],
        false,
    )
}

/// Renders the page for a member whose email address is not verified yet.
pub fn verify_email_page(ctx: PageContext, project_name: &str, email: &str) -> Response {
    refused(
        ctx,
        "Verify your email address first".to_string(),
        vec![format!(
            "Before you authorize {project_name}, confirm that {email} is your address by \
             following the link in the email we sent you."
        )],
        true,
    )
}

fn refused(ctx: PageContext, title: String, paragraphs: Vec<String>, resend: bool) -> Response {
    let page = RefusedPage {
        ctx,
        title,
        paragraphs,
        resend_verification: resend,
    };
    (StatusCode::FORBIDDEN, page).into_response()
}
