//! `/admin/members/`: finding members and suspending or reinstating their accounts.
//!
//! A suspended member cannot log in, their sessions end at once, their access tokens
//! and refresh tokens stop working (and the master tokens of projects they
//! coordinate), and they no longer count towards a project's member cap.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::members::{self, Member};
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{AdminMember, FlashKind, PageContext, redirect_with_flash, urlencode};

/// Most members one search lists.
const MAX_RESULTS: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct MemberSearch {
    #[serde(default)]
    q: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/members.html")]
pub struct MembersPage {
    ctx: PageContext,
    query: String,
    results: Vec<Member>,
    searched: bool,
}

/// `GET /admin/members/?q=`: members whose username or email contains `q`.
pub async fn members_page(
    State(state): State<AppState>,
    AdminMember(_admin): AdminMember,
    ctx: PageContext,
    Query(search): Query<MemberSearch>,
) -> Result<MembersPage, PageError> {
    let query = search.q.trim().to_string();
    let results = if query.is_empty() {
        Vec::new()
    } else {
        members::search(&state.db, &query, MAX_RESULTS).await?
    };
    Ok(MembersPage {
        ctx,
        searched: !query.is_empty(),
        query,
        results,
    })
}

/// `POST /admin/members/<id>/suspend/`: suspends the account at once.
pub async fn suspend_member(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    Path(member_id): Path<i64>,
    form: FormBody,
) -> Result<Response, PageError> {
    set_active(&state, &admin, member_id, false, &form).await
}

/// `POST /admin/members/<id>/unsuspend/`: reinstates a suspended account.
pub async fn unsuspend_member(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    Path(member_id): Path<i64>,
    form: FormBody,
) -> Result<Response, PageError> {
    set_active(&state, &admin, member_id, true, &form).await
}

async fn set_active(
    state: &AppState,
    admin: &Member,
    member_id: i64,
    active: bool,
    form: &FormBody,
) -> Result<Response, PageError> {
    let back = format!(
        "/admin/members/?q={}",
        urlencode(form.optional("q").unwrap_or_default())
    );
    let target = members::find_by_id(&state.db, member_id)
        .await?
        .ok_or(PageError::NotFound)?;
    if target.id == admin.id {
        return Ok(redirect_with_flash(
            state,
            &back,
            FlashKind::Error,
            "You cannot suspend your own account.",
        ));
    }
    members::set_active(&state.db, target.id, active).await?;
    tracing::info!(
        member.id = target.id,
        admin.id = admin.id,
        active,
        "site admin changed an account's suspension"
    );
    let message = if active {
        format!("{} is reinstated and can log in again.", target.username)
    } else {
        format!(
            "{} is suspended: their sessions and tokens stopped working.",
            target.username
        )
    };
    Ok(redirect_with_flash(
        state,
        &back,
        FlashKind::Success,
        &message,
    ))
}
