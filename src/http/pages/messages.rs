//! `/member/me/messages/`: the messages projects sent the logged-in member, newest
//! first. Each member can read only their own.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};

use crate::app::AppState;
use crate::clock::human;
use crate::db::messages;
use crate::domain::messaging::substitute_member_id;
use crate::http::error::PageError;
use crate::http::pages::projects::withdrawn::PageQuery;
use crate::http::session::{CurrentMember, PageContext};

/// Messages shown per page.
pub const PAGE_SIZE: i64 = 20;

/// One message as its recipient reads it.
pub struct MessageItem {
    pub project_name: String,
    pub subject: String,
    /// The body with the member's project member id substituted, as emailed.
    pub body: String,
    pub at: String,
    /// True until the email was handed to the mail server.
    pub pending: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "messages/list.html")]
pub struct MessagesPage {
    ctx: PageContext,
    items: Vec<MessageItem>,
    total: i64,
    page: i64,
    previous_page: Option<i64>,
    next_page: Option<i64>,
}

/// `GET /member/me/messages/`
pub async fn list_messages(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Query(query): Query<PageQuery>,
) -> Result<MessagesPage, PageError> {
    let page = query.number();
    let total = messages::count_for_member(&state.db, member.id).await?;
    let rows =
        messages::list_for_member(&state.db, member.id, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    let items = rows
        .into_iter()
        .map(|message| MessageItem {
            body: substitute_member_id(&message.body, &message.project_member_id),
            pending: message.state == messages::QUEUED,
            project_name: message.project_name,
            subject: message.subject,
            at: human(message.created_at),
        })
        .collect();
    Ok(MessagesPage {
        ctx,
        items,
        total,
        page,
        previous_page: (page > 1).then_some(page - 1),
        next_page: (page * PAGE_SIZE < total).then_some(page + 1),
    })
}
