//! Project management pages: the coordinator's list, the create and edit forms, the
//! detail page and its credential actions.
//!
//! Only a project's coordinator or a site admin may see or change it. Everyone else
//! gets 404, so the pages do not reveal which slugs exist.

pub mod create;
pub mod credentials;
pub mod deliveries;
pub mod detail;
pub mod form;
pub mod manage;
pub mod message;
pub mod remove_members;
pub mod reveal;
pub mod update;
pub mod withdrawn;

use crate::app::AppState;
use crate::db::members::Member;
use crate::db::projects::{self, Project};
use crate::http::error::PageError;

/// Loads the project with `slug` if `member` may manage it, and 404 otherwise.
pub async fn load_managed_project(
    state: &AppState,
    member: &Member,
    slug: &str,
) -> Result<Project, PageError> {
    let project = projects::find_by_slug(&state.db, slug)
        .await?
        .ok_or(PageError::NotFound)?;
    if project.coordinator_id == member.id || member.is_admin {
        Ok(project)
    } else {
        Err(PageError::NotFound)
    }
}

/// Returns the path of a project's detail page.
pub fn detail_path(slug: &str) -> String {
    format!("/direct-sharing/projects/oauth2/{slug}/")
}

/// Returns the first letter of a project's name, shown in place of a missing badge.
pub fn badge_initial(name: &str) -> String {
    name.chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_else(|| "?".to_string())
}
