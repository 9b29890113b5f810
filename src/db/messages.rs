//! Project messages and their per-recipient outbox: choosing recipients, the daily
//! limit, queueing one email job per recipient, and the member's list of messages.

use sqlx::{AnyConnection, FromRow};

use super::oauth2::lock_project;
use super::{Db, flag, jobs};
use crate::clock::{DAY, Micros};
use crate::domain::messaging::{
    Draft, MESSAGE_JOB, MESSAGE_MAX_ATTEMPTS, Recipients, Rejection, Sender, check_daily_limit,
};

/// Recipient states.
pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const CANCELLED: &str = "cancelled";

/// A member a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub member_id: i64,
    pub project_member_id: String,
}

/// A message that was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    pub message_id: i64,
    pub recipients: usize,
}

/// SQL condition selecting the memberships of project `$1` that may be messaged:
/// active (joined, authorized, not revoked, with an active account) and granting the
/// message permission in their snapshot.
const MESSAGEABLE: &str = "FROM memberships m JOIN members u ON u.id = m.member_id \
     WHERE m.project_id = $1 AND m.joined = 1 AND m.authorized = 1 AND m.revoked = 0 \
     AND u.is_active = 1 AND m.message_permission = 1";

/// Resolves the recipients of a message to `project_id`, or the rejection naming
/// every listed id that cannot be messaged.
pub async fn resolve(
    conn: &mut AnyConnection,
    project_id: i64,
    recipients: &Recipients,
) -> sqlx::Result<Result<Vec<Recipient>, Rejection>> {
    let ids = match recipients {
        Recipients::AllMembers => {
            let sql = format!(
                "SELECT m.member_id, m.project_member_id {MESSAGEABLE} \
                 ORDER BY m.project_member_id"
            );
            let rows: Vec<(i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(project_id)
                .fetch_all(&mut *conn)
                .await?;
            let all = rows
                .into_iter()
                .map(|(member_id, project_member_id)| Recipient {
                    member_id,
                    project_member_id,
                })
                .collect();
            return Ok(Ok(all));
        }
        Recipients::Ids(ids) => ids,
    };

    let mut found = Vec::with_capacity(ids.len());
    let mut unknown = Vec::new();
    let mut not_permitted = Vec::new();
    for id in ids {
        let row: Option<(i64, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT m.project_id, m.member_id, m.joined, m.authorized, m.revoked, \
             m.message_permission, u.is_active FROM memberships m \
             JOIN members u ON u.id = m.member_id WHERE m.project_member_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some((project, member_id, joined, authorized, revoked, permission, active))
                if project == project_id
                    && flag(joined)
                    && flag(authorized)
                    && !flag(revoked)
                    && flag(active) =>
            {
                if flag(permission) {
                    found.push(Recipient {
                        member_id,
                        project_member_id: id.clone(),
                    });
                } else {
                    not_permitted.push(id.clone());
                }
            }
            _ => unknown.push(id.clone()),
        }
    }
    if unknown.is_empty() && not_permitted.is_empty() {
        Ok(Ok(found))
    } else {
        Ok(Err(Rejection::Recipients {
            unknown,
            not_permitted,
        }))
    }
}

/// Returns the queue times of the recipients `project_id` messaged in the day before
/// `now`, oldest first: what the daily limit counts.
pub async fn recent_recipient_times(
    conn: &mut AnyConnection,
    project_id: i64,
    now: Micros,
) -> sqlx::Result<Vec<Micros>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT created_at FROM message_recipients WHERE project_id = $1 AND created_at > $2 \
         ORDER BY created_at",
    )
    .bind(project_id)
    .bind(now - DAY)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(at,)| at).collect())
}

/// Resolves the recipients and checks the daily limit without queueing anything,
/// for the coordinator's preview.
pub async fn preview(
    db: &Db,
    project_id: i64,
    recipients: &Recipients,
    daily_limit: u32,
    now: Micros,
) -> sqlx::Result<Result<Vec<Recipient>, Rejection>> {
    let mut conn = db.pool.acquire().await?;
    let found = match resolve(&mut conn, project_id, recipients).await? {
        Ok(found) => found,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let recent = recent_recipient_times(&mut conn, project_id, now).await?;
    Ok(check_daily_limit(&recent, found.len(), daily_limit, now).map(|()| found))
}

/// A message to queue.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub project_id: i64,
    pub draft: &'a Draft,
    pub sender: Sender,
    pub recipients: &'a Recipients,
}

/// Checks the recipients and the daily limit, then stores the message, one row and one
/// email job per recipient, in one transaction. Nothing is stored when any check
/// fails. The project row is locked first, so concurrent requests of one project
/// count each other's recipients against the limit.
pub async fn queue(
    db: &Db,
    message: &NewMessage<'_>,
    daily_limit: u32,
    mail_from: &str,
    now: Micros,
) -> sqlx::Result<Result<Queued, Rejection>> {
    let NewMessage {
        project_id,
        draft,
        sender,
        recipients,
    } = *message;
    let mut tx = db.begin_write().await?;
    if lock_project(&mut tx, db.backend, project_id)
        .await?
        .is_none()
    {
        return Err(sqlx::Error::RowNotFound);
    }
    let found = match resolve(&mut tx, project_id, recipients).await? {
        Ok(found) => found,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let recent = recent_recipient_times(&mut tx, project_id, now).await?;
    if let Err(rejection) = check_daily_limit(&recent, found.len(), daily_limit, now) {
        return Ok(Err(rejection));
    }

    let (message_id,): (i64,) = sqlx::query_as(
        "INSERT INTO messages (project_id, subject, body, sent_by, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(&draft.subject)
    .bind(&draft.body)
    .bind(sender.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    for recipient in &found {
        let (recipient_id,): (i64,) = sqlx::query_as(
            "INSERT INTO message_recipients (message_id, project_id, member_id, \
             project_member_id, message_id_header, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(message_id)
        .bind(project_id)
        .bind(recipient.member_id)
        .bind(&recipient.project_member_id)
        .bind(crate::mail::new_message_id(mail_from))
        .bind(QUEUED)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let payload = serde_json::json!({ "recipient_id": recipient_id }).to_string();
        jobs::insert(
            &mut *tx,
            MESSAGE_JOB,
            &payload,
            MESSAGE_MAX_ATTEMPTS,
            now,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(Queued {
        message_id,
        recipients: found.len(),
    }))
}

/// One recipient's email as the sending job needs it.
#[derive(Debug, Clone, FromRow)]
pub struct Outgoing {
    pub recipient_id: i64,
    pub project_id: i64,
    pub member_id: i64,
    pub project_member_id: String,
    pub message_id_header: String,
    pub state: String,
    pub subject: String,
    pub body: String,
}

/// Looks up the email of recipient row `recipient_id`.
pub async fn find_outgoing(db: &Db, recipient_id: i64) -> sqlx::Result<Option<Outgoing>> {
    sqlx::query_as(
        "SELECT r.id AS recipient_id, r.project_id, r.member_id, r.project_member_id, \
         r.message_id_header, r.state, m.subject, m.body \
         FROM message_recipients r JOIN messages m ON m.id = r.message_id WHERE r.id = $1",
    )
    .bind(recipient_id)
    .fetch_optional(&db.pool)
    .await
}

/// Checks whether `member_id` may still be messaged by `project_id`.
pub async fn is_messageable(db: &Db, project_id: i64, member_id: i64) -> sqlx::Result<bool> {
    let sql = format!("SELECT COUNT(*) {MESSAGEABLE} AND m.member_id = $2");
    let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(member_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(count > 0)
}

/// Records that a recipient's email was sent or cancelled.
pub async fn set_state(db: &Db, recipient_id: i64, state: &str, now: Micros) -> sqlx::Result<()> {
    sqlx::query("UPDATE message_recipients SET state = $1, sent_at = $2 WHERE id = $3")
        .bind(state)
        .bind(now)
        .bind(recipient_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A message as its recipient's list shows it.
#[derive(Debug, Clone, FromRow)]
pub struct ReceivedMessage {
    pub project_name: String,
    pub project_member_id: String,
    pub subject: String,
    /// The body before substitution.
    pub body: String,
    pub state: String,
    pub created_at: i64,
}

/// Counts the messages `member_id` received (queued or sent, not cancelled).
pub async fn count_for_member(db: &Db, member_id: i64) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM message_recipients WHERE member_id = $1 AND state <> $2",
    )
    .bind(member_id)
    .bind(CANCELLED)
    .fetch_one(&db.pool)
    .await?;
    Ok(count)
}

/// Lists the messages `member_id` received, newest first.
pub async fn list_for_member(
    db: &Db,
    member_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<ReceivedMessage>> {
    sqlx::query_as(
        "SELECT p.name AS project_name, r.project_member_id, m.subject, m.body, r.state, \
         r.created_at FROM message_recipients r \
         JOIN messages m ON m.id = r.message_id JOIN projects p ON p.id = r.project_id \
         WHERE r.member_id = $1 AND r.state <> $2 \
         ORDER BY r.created_at DESC, r.id DESC LIMIT $3 OFFSET $4",
    )
    .bind(member_id)
    .bind(CANCELLED)
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
}
