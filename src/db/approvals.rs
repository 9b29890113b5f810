//! Approval requests, their history, and the public directory of projects.
//!
//! `project_approvals.state` is the workflow state and `projects.approved` the flag
//! that lifts the member cap; every change here updates both in one transaction, so
//! they never disagree. A project without an approval row is a draft (or approved,
//! when an operator approved it before the row existed).

use sqlx::AnyConnection;

use super::projects::{self, Project};
use super::{Db, flag};
use crate::clock::Micros;
use crate::domain::approval::{ApprovalAction, ApprovalRequest, ApprovalState};
use crate::mail::Email;

/// A project's current approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub state: ApprovalState,
    pub ethics_board: String,
    pub ethics_reference: String,
    /// Storage key and original file name of the ethics approval document.
    pub document: Option<(String, String)>,
    pub discussion_url: String,
    pub submitted_at: Option<Micros>,
}

/// One entry of a project's approval history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalEvent {
    pub actor_name: String,
    pub action: ApprovalAction,
    pub comment: String,
    pub at: Micros,
}

/// The author of a change: a member, or an operator on the command line (`id` is
/// `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
}

impl Actor {
    /// Returns the actor of changes made with `openhumans admin` commands.
    pub fn operator() -> Self {
        Actor {
            id: None,
            name: "operator (command line)".to_string(),
        }
    }
}

type ApprovalRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
);

/// Loads a project's approval request. A project without one is a draft, or approved
/// when its approved flag is set.
pub async fn find(db: &Db, project: &Project) -> sqlx::Result<Approval> {
    let row: Option<ApprovalRow> = sqlx::query_as(
        "SELECT state, ethics_board, ethics_reference, document_key, document_name, \
         discussion_url, submitted_at FROM project_approvals WHERE project_id = $1",
    )
    .bind(project.id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        Some((state, board, reference, key, name, discussion_url, submitted_at)) => Approval {
            state: ApprovalState::parse(&state),
            ethics_board: board,
            ethics_reference: reference,
            document: key.zip(name),
            discussion_url,
            submitted_at,
        },
        None => Approval {
            state: if project.approved {
                ApprovalState::Approved
            } else {
                ApprovalState::Draft
            },
            ethics_board: String::new(),
            ethics_reference: String::new(),
            document: None,
            discussion_url: String::new(),
            submitted_at: None,
        },
    })
}

/// Lists a project's approval history, oldest first.
pub async fn history(db: &Db, project_id: i64) -> sqlx::Result<Vec<ApprovalEvent>> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT actor_name, action, comment, at FROM approval_events \
         WHERE project_id = $1 ORDER BY at, id",
    )
    .bind(project_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(actor_name, action, comment, at)| {
            Some(ApprovalEvent {
                actor_name,
                action: ApprovalAction::parse(&action)?,
                comment,
                at,
            })
        })
        .collect())
}

/// Submits a project for review. `document`, when given, replaces the stored
/// document (storage key, file name). Returns `false`, changing nothing, when the
/// project is not in a state that may be submitted (someone submitted it already).
pub async fn submit(
    db: &Db,
    project_id: i64,
    actor: &Actor,
    request: &ApprovalRequest,
    document: Option<(&str, &str)>,
    now: Micros,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let (key, name) = document.unzip();
    // The conditional upsert is the state check: it changes no row unless the
    // project is a draft or had changes requested, even under concurrent submissions.
    let changed = sqlx::query(
        "INSERT INTO project_approvals (project_id, state, guidelines_acknowledged_at, \
         ethics_board, ethics_reference, document_key, document_name, submitted_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $3, $3) \
         ON CONFLICT (project_id) DO UPDATE SET state = excluded.state, \
         guidelines_acknowledged_at = excluded.guidelines_acknowledged_at, \
         ethics_board = excluded.ethics_board, ethics_reference = excluded.ethics_reference, \
         document_key = COALESCE(excluded.document_key, project_approvals.document_key), \
         document_name = COALESCE(excluded.document_name, project_approvals.document_name), \
         submitted_at = excluded.submitted_at, updated_at = excluded.updated_at \
         WHERE project_approvals.state IN ('draft', 'changes_requested')",
    )
    .bind(project_id)
    .bind(ApprovalState::InReview.as_str())
    .bind(now)
    .bind(request.ethics_board.trim())
    .bind(request.ethics_reference.trim())
    .bind(key)
    .bind(name)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Ok(false);
    }
    record_event(
        &mut tx,
        project_id,
        actor,
        ApprovalAction::Submitted,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records an admin's (or the operator's) decision on a project in one transaction.
/// The approval state moves from `from` (any state when `None`) and the approved flag
/// follows it; [`ApprovalAction::Deactivated`] and [`ApprovalAction::Reactivated`]
/// clear or set the active flag instead. The history entry and `email` are written in
/// the same transaction. Returns `false`, changing nothing, when the project was no
/// longer in state `from`, or when it was deactivated (or reactivated) meanwhile.
#[allow(clippy::too_many_arguments)]
pub async fn record_decision(
    db: &Db,
    project_id: i64,
    actor: &Actor,
    action: ApprovalAction,
    from: Option<ApprovalState>,
    comment: &str,
    email: &Email,
    now: Micros,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    super::oauth2::lock_project(&mut tx, db.backend, project_id).await?;

    if let Some(next) = action.next_state() {
        let current = current_state(&mut tx, project_id).await?;
        if from.is_some_and(|from| from != current) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO project_approvals (project_id, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (project_id) DO UPDATE SET state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(project_id)
        .bind(next.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE projects SET approved = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(next == ApprovalState::Approved))
            .bind(now)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
    } else {
        let reactivating = action == ApprovalAction::Reactivated;
        // Deactivating needs a project that no admin deactivated yet, and reactivating
        // needs one that an admin deactivated.
        if is_deactivated(&mut tx, project_id).await? != reactivating {
            return Ok(false);
        }
        sqlx::query("UPDATE projects SET active = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(reactivating))
            .bind(now)
            .bind(project_id)
            .execute(&mut *tx)
            .await?;
    }

    record_event(&mut tx, project_id, actor, action, comment.trim(), now).await?;
    crate::jobs::enqueue_email(&mut *tx, email, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Checks whether a site admin deactivated the project and no admin reactivated it
/// since: the latest deactivation or reactivation in its history is a deactivation.
/// While it is, only an admin may make the project active again.
pub async fn is_admin_deactivated(db: &Db, project_id: i64) -> sqlx::Result<bool> {
    let mut conn = db.pool.acquire().await?;
    is_deactivated(&mut conn, project_id).await
}

async fn is_deactivated(conn: &mut AnyConnection, project_id: i64) -> sqlx::Result<bool> {
    let last: Option<(String,)> = sqlx::query_as(
        "SELECT action FROM approval_events WHERE project_id = $1 AND action IN ($2, $3) \
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(project_id)
    .bind(ApprovalAction::Deactivated.as_str())
    .bind(ApprovalAction::Reactivated.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(last.is_some_and(|(action,)| action == ApprovalAction::Deactivated.as_str()))
}

/// Saves the reviewer's link to a public discussion of the project.
pub async fn set_discussion_url(
    db: &Db,
    project_id: i64,
    url: &str,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE project_approvals SET discussion_url = $1, updated_at = $2 WHERE project_id = $3",
    )
    .bind(url)
    .bind(now)
    .bind(project_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Lists the projects in review, the longest waiting first.
pub async fn list_in_review(db: &Db) -> sqlx::Result<Vec<(Project, Micros)>> {
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT project_id, submitted_at FROM project_approvals WHERE state = $1 \
         ORDER BY submitted_at, project_id",
    )
    .bind(ApprovalState::InReview.as_str())
    .fetch_all(&db.pool)
    .await?;
    let mut queue = Vec::with_capacity(rows.len());
    for (project_id, submitted_at) in rows {
        if let Some(project) = projects::find_by_id(db, project_id).await? {
            queue.push((project, submitted_at.unwrap_or_default()));
        }
    }
    Ok(queue)
}

async fn current_state(conn: &mut AnyConnection, project_id: i64) -> sqlx::Result<ApprovalState> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT state FROM project_approvals WHERE project_id = $1")
            .bind(project_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((state,)) = row {
        return Ok(ApprovalState::parse(&state));
    }
    let (approved,): (i64,) = sqlx::query_as("SELECT approved FROM projects WHERE id = $1")
        .bind(project_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(if flag(approved) {
        ApprovalState::Approved
    } else {
        ApprovalState::Draft
    })
}

async fn record_event(
    conn: &mut AnyConnection,
    project_id: i64,
    actor: &Actor,
    action: ApprovalAction,
    comment: &str,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO approval_events (project_id, actor_id, actor_name, action, comment, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(project_id)
    .bind(actor.id)
    .bind(&actor.name)
    .bind(action.as_str())
    .bind(comment)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The kind of projects a directory listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Approved, active projects: the public directory.
    Approved,
    /// Active projects not yet approved.
    InDevelopment,
}

/// Lists one page of active projects, by name, whose name, short or long description
/// or organization contains `query` (case-insensitively; every project when empty).
/// Returns the page and the total number of matches.
pub async fn list_directory(
    db: &Db,
    listing: Listing,
    query: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Project>, i64)> {
    let approved = i64::from(listing == Listing::Approved);
    let pattern = contains_pattern(query);
    let filter = "FROM projects WHERE active = 1 AND approved = $1 AND \
        (LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(short_description) LIKE $2 ESCAPE '\\' \
        OR LOWER(long_description) LIKE $2 ESCAPE '\\' OR LOWER(organization) LIKE $2 ESCAPE '\\')";
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {filter}")))
        .bind(approved)
        .bind(&pattern)
        .fetch_one(&db.pool)
        .await?;
    let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id {filter} ORDER BY LOWER(name), id LIMIT $3 OFFSET $4"
    )))
    .bind(approved)
    .bind(&pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    let mut page = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(project) = projects::find_by_id(db, id).await? {
            page.push(project);
        }
    }
    Ok((page, total))
}

/// Returns the `LIKE` pattern (escaped with a backslash) that matches lowercased text
/// containing `query`, trimmed and lowercased, with its own wildcards taken literally.
pub fn contains_pattern(query: &str) -> String {
    format!("%{}%", escape_like(&query.trim().to_lowercase()))
}

/// Escapes the `LIKE` wildcards `%` and `_` (and the escape character) in `text`.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_like_escapes_wildcards() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(escape_like("plain"), "plain");
    }
}
