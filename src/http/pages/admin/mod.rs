//! Site admin pages: the queue of projects in review, the review page with its
//! decisions, and member suspension.
//!
//! Every handler takes [`AdminMember`]: an anonymous visitor is sent to log in, and
//! any other member gets 404, so the pages' existence is not revealed to them.

pub mod members;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::approval::HistoryRow;
use super::projects::detail::SourceLink;
use crate::app::AppState;
use crate::clock::human;
use crate::db::approvals::{self, Actor, Approval};
use crate::db::projects::{self, Project};
use crate::domain::approval::{ApprovalAction, ApprovalState, check_decision};
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{AdminMember, FlashKind, PageContext, redirect_with_flash};
use crate::mail::{Email, new_message_id};

/// Path of the review queue.
pub const QUEUE_PATH: &str = "/admin/approvals/";

/// A project waiting for review.
pub struct QueueRow {
    pub slug: String,
    pub name: String,
    pub kind: &'static str,
    pub submitted: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/queue.html")]
pub struct QueuePage {
    ctx: PageContext,
    rows: Vec<QueueRow>,
}

/// `GET /admin/approvals/`: projects in review, the longest waiting first.
pub async fn review_queue(
    State(state): State<AppState>,
    AdminMember(_admin): AdminMember,
    ctx: PageContext,
) -> Result<QueuePage, PageError> {
    let rows = approvals::list_in_review(&state.db)
        .await?
        .into_iter()
        .map(|(project, submitted_at)| QueueRow {
            slug: project.slug,
            name: project.config.name,
            kind: if project.config.is_study {
                "Study"
            } else {
                "Activity"
            },
            submitted: human(submitted_at),
        })
        .collect();
    Ok(QueuePage { ctx, rows })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/review.html")]
pub struct ReviewPage {
    ctx: PageContext,
    project: Project,
    approval: Approval,
    coordinator: String,
    /// Whether the admin viewing the page coordinates the project, and so may not decide.
    own_project: bool,
    sources: Vec<SourceLink>,
    member_count: i64,
    /// Whether a site admin deactivated the project, which only an admin may undo.
    admin_deactivated: bool,
    history: Vec<HistoryRow>,
    comment: String,
    discussion_url: String,
    error: Option<String>,
}

/// `GET /admin/approvals/<slug>/`: every field of the project, what it requests from
/// members, its member count, its approval request and history, and the decisions.
pub async fn review_page(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    ctx: PageContext,
    Path(slug): Path<String>,
) -> Result<ReviewPage, PageError> {
    let project = find_project(&state, &slug).await?;
    render_review(&state, ctx, &admin, project, String::new(), None, None).await
}

/// `POST /admin/approvals/<slug>/decide/`: approves the project or requests changes
/// (`decision` is `approve` or `request_changes`; the latter needs a `comment`), and
/// saves the optional `discussion_url`.
pub async fn decide(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    ctx: PageContext,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = find_project(&state, &slug).await?;
    let action = match form.required("decision")? {
        "approve" => ApprovalAction::Approved,
        "request_changes" => ApprovalAction::ChangesRequested,
        other => {
            return Err(PageError::BadRequest(format!(
                "Unknown decision {other:?}: choose approve or request_changes."
            )));
        }
    };
    let comment = form.optional("comment").unwrap_or_default().to_string();
    let discussion_url = form
        .optional("discussion_url")
        .unwrap_or_default()
        .trim()
        .to_string();
    let approval = approvals::find(&state.db, &project).await?;

    let mut problem = check_decision(
        approval.state,
        action,
        project.coordinator_id == admin.id,
        &comment,
    )
    .err()
    .map(|error| error.to_string());
    if problem.is_none() && !is_valid_discussion_url(&discussion_url) {
        problem = Some("The discussion URL must be an http or https URL.".to_string());
    }
    if let Some(problem) = problem {
        let page = render_review(
            &state,
            ctx,
            &admin,
            project,
            comment,
            Some(discussion_url),
            Some(problem),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }

    let now = state.clock.now();
    approvals::set_discussion_url(&state.db, project.id, &discussion_url, now).await?;
    decide_and_redirect(
        &state,
        &project,
        &admin,
        action,
        Some(approval.state),
        &comment,
    )
    .await
}

/// `POST /admin/approvals/<slug>/remove-approval/`: returns an approved project to the
/// draft state, so the member cap applies again to new members (existing members stay).
pub async fn remove_approval(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = find_project(&state, &slug).await?;
    let comment = form.optional("comment").unwrap_or_default().to_string();
    let approval = approvals::find(&state.db, &project).await?;
    let action = ApprovalAction::ApprovalRemoved;
    if let Err(error) = check_decision(
        approval.state,
        action,
        project.coordinator_id == admin.id,
        &comment,
    ) {
        return Ok(back_to_review(&state, &project, &error.to_string()));
    }
    decide_and_redirect(
        &state,
        &project,
        &admin,
        action,
        Some(approval.state),
        &comment,
    )
    .await
}

/// `POST /admin/approvals/<slug>/deactivate/`: closes the project to new members and
/// takes it out of the directory. Existing members keep access until they leave. The
/// project stays inactive until an admin reactivates it: its coordinator cannot undo
/// the deactivation, even when they had closed the project themselves before.
pub async fn deactivate(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = find_project(&state, &slug).await?;
    if approvals::is_admin_deactivated(&state.db, project.id).await? {
        return Ok(back_to_review(
            &state,
            &project,
            "A site admin deactivated this project already.",
        ));
    }
    toggle_activation(&state, &admin, &project, ApprovalAction::Deactivated, &form).await
}

/// `POST /admin/approvals/<slug>/reactivate/`: lifts an admin's deactivation, making the
/// project active again, so it accepts new members and, when approved, is listed in
/// the directory.
pub async fn reactivate(
    State(state): State<AppState>,
    AdminMember(admin): AdminMember,
    Path(slug): Path<String>,
    form: FormBody,
) -> Result<Response, PageError> {
    let project = find_project(&state, &slug).await?;
    if !approvals::is_admin_deactivated(&state.db, project.id).await? {
        return Ok(back_to_review(
            &state,
            &project,
            "No site admin deactivated this project, so there is nothing to reactivate.",
        ));
    }
    toggle_activation(&state, &admin, &project, ApprovalAction::Reactivated, &form).await
}

/// Records a deactivation or reactivation with the form's optional comment.
async fn toggle_activation(
    state: &AppState,
    admin: &crate::db::members::Member,
    project: &Project,
    action: ApprovalAction,
    form: &FormBody,
) -> Result<Response, PageError> {
    let comment = form.optional("comment").unwrap_or_default().to_string();
    decide_and_redirect(state, project, admin, action, None, &comment).await
}

/// Builds the email that notifies a project's contact address of a decision.
pub fn decision_email(
    state: &AppState,
    project: &Project,
    action: ApprovalAction,
    comment: &str,
) -> Email {
    let site = &state.settings.site_name;
    let name = &project.config.name;
    let (subject, summary) = match action {
        ApprovalAction::Approved => (
            format!("{name} is approved"),
            format!(
                "A site admin approved {name}. It is now listed in the {site} directory, \
                 and any number of members can join it."
            ),
        ),
        ApprovalAction::ChangesRequested => (
            format!("{name}: changes requested"),
            format!(
                "A site admin reviewed {name} and asked for changes before approving it. \
                 Make them, then submit the project again from its approval page."
            ),
        ),
        ApprovalAction::ApprovalRemoved => (
            format!("{name} is no longer approved"),
            format!(
                "A site admin removed the approval of {name}. It is no longer listed in \
                 the directory, and new members can join only while it has fewer than \
                 {} members. Existing members keep their access.",
                state.settings.max_unapproved_members
            ),
        ),
        ApprovalAction::Deactivated => (
            format!("{name} was deactivated"),
            format!(
                "A site admin deactivated {name}. New members cannot join it and it is \
                 not listed in the directory. Existing members keep their access until \
                 they leave."
            ),
        ),
        ApprovalAction::Reactivated => (
            format!("{name} was reactivated"),
            format!(
                "A site admin reactivated {name}. New members can join it again, and it \
                 is listed in the directory once approved."
            ),
        ),
        ApprovalAction::Submitted => (
            format!("{name} is in review"),
            format!("{name} was submitted for review."),
        ),
    };
    let comment = comment.trim();
    let comment_text = if comment.is_empty() {
        String::new()
    } else {
        format!("\nThe reviewer's comment:\n\n{comment}\n")
    };
    let link = state.url(&super::approval::request_path(&project.slug));
    Email {
        to: project.config.contact_email.clone(),
        from_name: Some(site.clone()),
        reply_to: None,
        subject: format!("{site}: {subject}"),
        body: format!(
            "{summary}\n{comment_text}\nThe project's approval history:\n{link}\n\n{site}\n"
        ),
        message_id: new_message_id(&state.settings.mail_from),
    }
}

/// Checks the optional discussion URL: empty, or an absolute http or https URL.
fn is_valid_discussion_url(value: &str) -> bool {
    value.is_empty()
        || url::Url::parse(value)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}

async fn find_project(state: &AppState, slug: &str) -> Result<Project, PageError> {
    projects::find_by_slug(&state.db, slug)
        .await?
        .ok_or(PageError::NotFound)
}

fn review_path(slug: &str) -> String {
    format!("/admin/approvals/{slug}/")
}

/// Records a decision with its history entry and email, then redirects with a notice.
/// When another admin changed the project's state meanwhile, nothing is recorded and
/// the admin is sent back to the review page.
async fn decide_and_redirect(
    state: &AppState,
    project: &Project,
    admin: &crate::db::members::Member,
    action: ApprovalAction,
    from: Option<ApprovalState>,
    comment: &str,
) -> Result<Response, PageError> {
    let actor = Actor {
        id: Some(admin.id),
        name: admin.username.clone(),
    };
    let email = decision_email(state, project, action, comment);
    let now = state.clock.now();
    let decided = approvals::record_decision(
        &state.db, project.id, &actor, action, from, comment, &email, now,
    )
    .await?;
    if decided {
        state.job_signal.notify();
        tracing::info!(
            project.id = project.id,
            member.id = admin.id,
            action = action.as_str(),
            "approval decision recorded"
        );
    }
    Ok(after_decision(state, project, action, decided))
}

fn after_decision(
    state: &AppState,
    project: &Project,
    action: ApprovalAction,
    decided: bool,
) -> Response {
    if !decided {
        return back_to_review(
            state,
            project,
            "Another admin changed this project's state meanwhile; review it again.",
        );
    }
    let message = format!(
        "{}: {}. The contact address was emailed.",
        project.config.name,
        action.label().to_lowercase()
    );
    let to = match action {
        ApprovalAction::Approved | ApprovalAction::ChangesRequested => QUEUE_PATH.to_string(),
        _ => review_path(&project.slug),
    };
    redirect_with_flash(state, &to, FlashKind::Success, &message)
}

fn back_to_review(state: &AppState, project: &Project, message: &str) -> Response {
    redirect_with_flash(
        state,
        &review_path(&project.slug),
        FlashKind::Error,
        message,
    )
}

async fn render_review(
    state: &AppState,
    ctx: PageContext,
    admin: &crate::db::members::Member,
    project: Project,
    comment: String,
    discussion_url: Option<String>,
    error: Option<String>,
) -> Result<ReviewPage, PageError> {
    let approval = approvals::find(&state.db, &project).await?;
    let coordinator = crate::db::members::find_by_id(&state.db, project.coordinator_id)
        .await?
        .map(|member| member.username)
        .unwrap_or_default();
    let mut sources = Vec::new();
    for id in &project.config.requested_sources {
        if let Some(source) = projects::find_by_id(&state.db, *id).await? {
            sources.push(SourceLink {
                name: source.config.name,
                slug: source.slug,
            });
        }
    }
    let mut conn = state.db.pool.acquire().await?;
    let member_count = crate::db::memberships::count_active(&mut conn, project.id).await?;
    drop(conn);
    let history = HistoryRow::list(approvals::history(&state.db, project.id).await?);
    let admin_deactivated = approvals::is_admin_deactivated(&state.db, project.id).await?;
    Ok(ReviewPage {
        admin_deactivated,
        ctx,
        own_project: project.coordinator_id == admin.id,
        coordinator,
        sources,
        member_count,
        history,
        comment,
        discussion_url: discussion_url.unwrap_or_else(|| approval.discussion_url.clone()),
        error,
        approval,
        project,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discussion_url_must_be_web_url() {
        assert!(is_valid_discussion_url(""));
        assert!(is_valid_discussion_url("https://forum.example/t/1"));
        assert!(!is_valid_discussion_url("javascript:alert(1)"));
        assert!(!is_valid_discussion_url("not a url"));
    }
}
