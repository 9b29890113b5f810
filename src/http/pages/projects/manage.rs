//! The list of a member's projects.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::badge_initial;
use crate::app::AppState;
use crate::db::projects;
use crate::http::badges::badge_path;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext};

/// One project in the list.
pub struct ProjectSummary {
    pub slug: String,
    pub name: String,
    pub short_description: String,
    pub active: bool,
    pub approved: bool,
    pub badge_path: Option<String>,
    pub initial: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "projects/manage.html")]
pub struct ManagePage {
    ctx: PageContext,
    projects: Vec<ProjectSummary>,
}

/// `GET /direct-sharing/projects/manage/`: the projects the member coordinates.
pub async fn manage_projects_page(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<ManagePage, PageError> {
    let projects = projects::list_by_coordinator(&state.db, member.id)
        .await?
        .into_iter()
        .map(|project| ProjectSummary {
            initial: badge_initial(&project.config.name),
            badge_path: project.badge_key.as_deref().map(badge_path),
            slug: project.slug,
            name: project.config.name,
            short_description: project.config.short_description,
            active: project.config.active,
            approved: project.approved,
        })
        .collect();
    Ok(ManagePage { ctx, projects })
}
