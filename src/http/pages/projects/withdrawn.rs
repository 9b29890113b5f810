//! `/direct-sharing/projects/oauth2/<slug>/withdrawn/`: the project's withdrawn and
//! removed members, newest first, 50 per page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};

use super::load_managed_project;
use crate::app::AppState;
use crate::clock::human;
use crate::db::projects::Project;
use crate::db::withdrawals;
use crate::domain::membership::WithdrawalReason;
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext};

/// Withdrawals shown per page.
pub const PAGE_SIZE: i64 = 50;

/// The `?page=` query of a paginated list, counted from 1. A missing or invalid value
/// shows the first page.
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

impl PageQuery {
    pub fn number(&self) -> i64 {
        self.page
            .as_deref()
            .and_then(|page| page.parse::<i64>().ok())
            .filter(|page| (1..=1_000_000).contains(page))
            .unwrap_or(1)
    }
}

/// One row of the list.
pub struct WithdrawnItem {
    pub project_member_id: String,
    pub at: String,
    pub how: &'static str,
    pub erasure_requested: bool,
    pub files_deleted: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "projects/withdrawn.html")]
pub struct WithdrawnPage {
    ctx: PageContext,
    project: Project,
    items: Vec<WithdrawnItem>,
    total: i64,
    page: i64,
    previous_page: Option<i64>,
    next_page: Option<i64>,
}

/// `GET /direct-sharing/projects/oauth2/<slug>/withdrawn/`
pub async fn withdrawn_members_page(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<WithdrawnPage, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let page = query.number();
    let total = withdrawals::count_for_project(&state.db, project.id).await?;
    let rows =
        withdrawals::list_for_project(&state.db, project.id, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            .await?;
    let items = rows
        .into_iter()
        .map(|withdrawal| WithdrawnItem {
            at: human(withdrawal.at),
            how: match WithdrawalReason::parse(&withdrawal.reason) {
                WithdrawalReason::Member => "Left",
                WithdrawalReason::Project => "Removed by the project",
                WithdrawalReason::AccountDeleted => "Deleted their account",
            },
            erasure_requested: withdrawal.erasure_requested,
            files_deleted: withdrawal.files_deleted,
            project_member_id: withdrawal.project_member_id,
        })
        .collect();
    Ok(WithdrawnPage {
        ctx,
        project,
        items,
        total,
        page,
        previous_page: (page > 1).then_some(page - 1),
        next_page: (page * PAGE_SIZE < total).then_some(page + 1),
    })
}
