//! `/direct-sharing/projects/oauth2/<slug>/webhooks/`: the project's deauthorization
//! webhook deliveries with every attempt, and redelivery of one of them.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::load_managed_project;
use super::withdrawn::PageQuery;
use crate::app::AppState;
use crate::clock::human;
use crate::db::projects::Project;
use crate::db::webhooks::{self, Redelivery};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

/// Deliveries shown per page.
const PAGE_SIZE: i64 = 20;

/// One attempt as the page shows it.
pub struct AttemptItem {
    pub at: String,
    pub url: String,
    /// The HTTP status, or the error when the receiver did not answer.
    pub result: String,
    pub succeeded: bool,
    pub duration_ms: i64,
}

/// One delivery with its attempts.
pub struct DeliveryItem {
    pub id: i64,
    pub webhook_id: String,
    pub project_member_id: String,
    pub body: String,
    pub state: String,
    pub created: String,
    /// When the next attempt of a pending delivery is due.
    pub next_attempt: Option<String>,
    pub attempts: Vec<AttemptItem>,
}

#[derive(Template, WebTemplate)]
#[template(path = "projects/deliveries.html")]
pub struct DeliveriesPage {
    ctx: PageContext,
    project: Project,
    deliveries: Vec<DeliveryItem>,
    page: i64,
    previous_page: Option<i64>,
    next_page: Option<i64>,
}

/// `GET /direct-sharing/projects/oauth2/<slug>/webhooks/`
pub async fn list_deliveries(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<DeliveriesPage, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let page = query.number();
    let total = webhooks::count_for_project(&state.db, project.id).await?;
    let rows = webhooks::list_for_project(&state.db, project.id, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        .await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for delivery in rows {
        let attempts = webhooks::attempts(&state.db, delivery.id)
            .await?
            .into_iter()
            .map(|attempt| AttemptItem {
                at: human(attempt.at),
                url: attempt.url,
                succeeded: attempt
                    .status_code
                    .is_some_and(|code| (200..300).contains(&code)),
                result: match (attempt.status_code, attempt.error) {
                    (Some(code), _) => format!("HTTP {code}"),
                    (None, Some(error)) => error,
                    (None, None) => "no result".to_string(),
                },
                duration_ms: attempt.duration_ms,
            })
            .collect();
        let next_attempt = if delivery.state == webhooks::PENDING {
            webhooks::next_attempt_at(&state.db, delivery.id)
                .await?
                .map(human)
        } else {
            None
        };
        deliveries.push(DeliveryItem {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            project_member_id: delivery.project_member_id,
            body: delivery.body,
            state: delivery.state,
            created: human(delivery.created_at),
            next_attempt,
            attempts,
        });
    }
    Ok(DeliveriesPage {
        ctx,
        project,
        deliveries,
        page,
        previous_page: (page > 1).then_some(page - 1),
        next_page: (page * PAGE_SIZE < total).then_some(page + 1),
    })
}

/// `POST /direct-sharing/projects/oauth2/<slug>/webhooks/<delivery_id>/redeliver/`:
/// queues the delivery again with the same `webhook-id` and body, to the project's
/// current webhook URL.
pub async fn redeliver(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    Path((slug, delivery_id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let project = load_managed_project(&state, &member, &slug).await?;
    let delivery_id: i64 = delivery_id.parse().map_err(|_| PageError::NotFound)?;
    let now = state.clock.now();
    let back = format!("/direct-sharing/projects/oauth2/{}/webhooks/", project.slug);
    match webhooks::redeliver(&state.db, project.id, delivery_id, now).await? {
        Redelivery::Queued => {}
        Redelivery::NotFound => return Err(PageError::NotFound),
        Redelivery::Superseded => {
            return Ok(redirect_with_flash(
                &state,
                &back,
                FlashKind::Error,
                "This webhook was not sent again: the member authorized the project again \
                 after this withdrawal, so the project must keep their data.",
            ));
        }
    }
    state.job_signal.notify();
    tracing::info!(
        project.id = project.id,
        delivery.id = delivery_id,
        member.id = member.id,
        "webhook redelivery queued"
    );
    Ok(redirect_with_flash(
        &state,
        &back,
        FlashKind::Success,
        "The webhook was queued for delivery again, with the same webhook-id and body.",
    ))
}
