//! Memberships, their permission snapshots and their history.
//!
//! Functions that change a membership take the caller's connection, usually inside
//! a transaction, so that everything a change entails (issuing a code on consent;
//! revoking tokens on withdrawal, and later webhooks and notices) commits together.

use sqlx::AnyConnection;

use super::jobs;
use super::webhooks::{self, NewDelivery};
use super::withdrawals::{self, Withdrawal};
use super::{Backend, Db, flag, is_unique_violation, parse_id_list};
use crate::clock::Micros;
use crate::domain::membership::{
    Actor, MembershipEventKind, MembershipStatus, Snapshot, WITHDRAWAL_NOTICE_JOB,
    WithdrawalReason, random_project_member_id,
};
use crate::domain::webhooks::{deauthorization_body, new_webhook_id};

/// A stored membership with its snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: i64,
    pub project_id: i64,
    pub member_id: i64,
    /// 8 digits, unique across all projects, kept across leaving and rejoining.
    pub project_member_id: String,
    pub status: MembershipStatus,
    pub visible: bool,
    pub snapshot: Snapshot,
    pub erasure_requested_at: Option<Micros>,
    pub created_at: Micros,
    pub authorized_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
}

crate::read_row! {
    #[derive(Debug)]
    pub(super) struct MembershipRow {
        id: i64,
        project_id: i64,
        member_id: i64,
        project_member_id: String,
        joined: i64,
        authorized: i64,
        revoked: i64,
        visible: i64,
        message_permission: i64,
        username_shared: i64,
        erasure_requested_at: Option<i64>,
        created_at: i64,
        authorized_at: Option<i64>,
        revoked_at: Option<i64>,
        /// Read with [`parse_id_list`].
        granted_source_ids: Option<String>,
    }
}

const COLUMNS: &str = "id, project_id, member_id, project_member_id, joined, authorized, \
    revoked, visible, message_permission, username_shared, erasure_requested_at, created_at, \
    authorized_at, revoked_at";

/// Builds the select list of a [`MembershipRow`]: the columns qualified by `table` (a
/// table name or alias), and the granted sources folded into the row.
pub(super) fn select_list(backend: Backend, table: &str) -> String {
    let columns = COLUMNS
        .split(',')
        .map(|column| format!("{table}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sources = backend.id_list(
        "source_project_id",
        &format!("FROM membership_sources s WHERE s.membership_id = {table}.id"),
    );
    format!("{columns}, {sources} AS granted_source_ids")
}

impl MembershipRow {
    pub(super) fn into_membership(self) -> sqlx::Result<Membership> {
        let sources = parse_id_list(self.granted_source_ids.as_deref())?;
        Ok(Membership {
            id: self.id,
            project_id: self.project_id,
            member_id: self.member_id,
            project_member_id: self.project_member_id,
            status: MembershipStatus {
                joined: flag(self.joined),
                authorized: flag(self.authorized),
                revoked: flag(self.revoked),
            },
            visible: flag(self.visible),
            snapshot: Snapshot::new(
                sources,
                flag(self.message_permission),
                flag(self.username_shared),
            ),
            erasure_requested_at: self.erasure_requested_at,
            created_at: self.created_at,
            authorized_at: self.authorized_at,
            revoked_at: self.revoked_at,
        })
    }
}

/// How a membership is looked up.
enum Key<'a> {
    Id(i64),
    ProjectAndMember(i64, i64),
    ProjectMemberId(&'a str),
}

async fn load(conn: &mut AnyConnection, key: Key<'_>) -> sqlx::Result<Option<Membership>> {
    let condition = match key {
        Key::Id(_) => "id = $1",
        Key::ProjectAndMember(..) => "project_id = $1 AND member_id = $2",
        Key::ProjectMemberId(_) => "project_member_id = $1",
    };
    let select = select_list(Backend::of(conn), "memberships");
    let sql = format!("SELECT {select} FROM memberships WHERE {condition}");
    let query = sqlx::query_as::<_, MembershipRow>(sqlx::AssertSqlSafe(sql));
    let query = match key {
        Key::Id(id) => query.bind(id),
        Key::ProjectAndMember(project_id, member_id) => query.bind(project_id).bind(member_id),
        Key::ProjectMemberId(project_member_id) => query.bind(project_member_id),
    };
    query
        .fetch_optional(&mut *conn)
        .await?
        .map(MembershipRow::into_membership)
        .transpose()
}

/// Returns the membership of `member_id` in `project_id`, if one was ever created.
pub async fn find(
    conn: &mut AnyConnection,
    project_id: i64,
    member_id: i64,
) -> sqlx::Result<Option<Membership>> {
    load(conn, Key::ProjectAndMember(project_id, member_id)).await
}

pub async fn find_by_id(conn: &mut AnyConnection, id: i64) -> sqlx::Result<Option<Membership>> {
    load(conn, Key::Id(id)).await
}

pub async fn find_by_project_member_id(
    conn: &mut AnyConnection,
    project_member_id: &str,
) -> sqlx::Result<Option<Membership>> {
    load(conn, Key::ProjectMemberId(project_member_id)).await
}

/// Lists the active memberships of a member, most recently authorized first.
pub async fn list_active_for_member(db: &Db, member_id: i64) -> sqlx::Result<Vec<Membership>> {
    list_for_member(
        db,
        member_id,
        "joined = 1 AND authorized = 1 AND revoked = 0 ORDER BY authorized_at DESC, id DESC",
    )
    .await
}

/// Lists every membership of a member that was ever authorized (current or ended),
/// most recently created first.
pub async fn list_ever_authorized_for_member(
    db: &Db,
    member_id: i64,
) -> sqlx::Result<Vec<Membership>> {
    list_for_member(
        db,
        member_id,
        "EXISTS (SELECT 1 FROM membership_events e WHERE e.membership_id = memberships.id) \
         ORDER BY created_at DESC, id DESC",
    )
    .await
}

/// Lists a member's memberships that match `condition_and_order`, a fixed SQL
/// fragment that follows `WHERE member_id = $1 AND`.
async fn list_for_member(
    db: &Db,
    member_id: i64,
    condition_and_order: &str,
) -> sqlx::Result<Vec<Membership>> {
    let select = select_list(db.backend, "memberships");
    let sql =
        format!("SELECT {select} FROM memberships WHERE member_id = $1 AND {condition_and_order}");
    let rows: Vec<MembershipRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(member_id)
        .fetch_all(&db.pool)
        .await?;
    rows.into_iter()
        .map(MembershipRow::into_membership)
        .collect()
}

/// Counts a project's active members: joined, authorized, not revoked, with an
/// active account.
pub async fn count_active(conn: &mut AnyConnection, project_id: i64) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM memberships m JOIN members u ON u.id = m.member_id \
         WHERE m.project_id = $1 AND m.joined = 1 AND m.authorized = 1 AND m.revoked = 0 \
         AND u.is_active = 1",
    )
    .bind(project_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(count)
}

/// Returns the membership of `member_id` in `project_id`, creating it (not yet
/// joined) with a fresh random `project_member_id` when there is none.
pub async fn find_or_create(
    conn: &mut AnyConnection,
    project_id: i64,
    member_id: i64,
    now: Micros,
) -> anyhow::Result<Membership> {
    for _ in 0..100 {
        if let Some(membership) = find(conn, project_id, member_id).await? {
            return Ok(membership);
        }
        // ON CONFLICT DO NOTHING keeps a PostgreSQL transaction usable when the id
        // is taken; the loop then draws another one.
        let inserted: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO memberships (project_id, member_id, project_member_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(project_id)
        .bind(member_id)
        .bind(random_project_member_id())
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .or_else(|error| match is_unique_violation(&error) {
            true => Ok(None),
            false => Err(error),
        })?;
        if let Some((id,)) = inserted
            && let Some(membership) = find_by_id(conn, id).await?
        {
            return Ok(membership);
        }
    }
    anyhow::bail!("no unused project_member_id found in 100 attempts")
}

/// Records an authorization: the membership becomes joined and authorized with
/// `snapshot`, any erasure request is cleared, and the history gains an event.
pub async fn authorize(
    conn: &mut AnyConnection,
    membership_id: i64,
    snapshot: &Snapshot,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE memberships SET joined = 1, authorized = 1, revoked = 0, \
         message_permission = $1, username_shared = $2, erasure_requested_at = NULL, \
         authorized_at = $3, revoked_at = NULL WHERE id = $4",
    )
    .bind(i64::from(snapshot.message_permission))
    .bind(i64::from(snapshot.username_shared))
    .bind(now)
    .bind(membership_id)
    .execute(&mut *conn)
    .await?;
    replace_sources(conn, membership_id, &snapshot.granted_sources).await?;
    record_event(
        conn,
        membership_id,
        MembershipEventKind::Authorized,
        Actor::Member,
        snapshot,
        now,
    )
    .await
}

/// Ends a membership: it is revoked and no longer joined or authorized, its
/// snapshot is cleared, every code, grant and token of it is deleted, and the
/// history records the snapshot that ended. The withdrawal is recorded for the
/// project, which is emailed when it asked for that; a member's own withdrawal also
/// queues the project's deauthorization webhook. Runs in the caller's transaction,
/// which should hold the project row's lock (see `db::oauth2::lock_project`).
pub async fn withdraw(
    conn: &mut AnyConnection,
    membership: &Membership,
    actor: Actor,
    now: Micros,
) -> sqlx::Result<()> {
    withdraw_with(conn, membership, actor, &WithdrawOptions::default(), now).await?;
    Ok(())
}

/// Choices a withdrawal can carry beyond [`withdraw`]'s defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WithdrawOptions {
    /// The member asks the project to erase their data. Honored only when the project
    /// supports erasure; pages reject the request before it gets here otherwise.
    pub erasure_requested: bool,
    /// Delete the files the project added to the member's account.
    pub delete_files: bool,
    /// The withdrawal is part of deleting the member's account.
    pub account_deleted: bool,
}

/// What a withdrawal did besides ending the membership.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawn {
    pub withdrawal_id: i64,
    pub erasure_requested: bool,
    /// Storage keys of the file rows deleted in the transaction. The caller deletes
    /// the objects once it has committed.
    pub deleted_file_keys: Vec<String>,
    pub webhook_queued: bool,
    pub notice_queued: bool,
}

/// Runs [`withdraw`] with `options` and returns what it did.
pub async fn withdraw_with(
    conn: &mut AnyConnection,
    membership: &Membership,
    actor: Actor,
    options: &WithdrawOptions,
    now: Micros,
) -> sqlx::Result<Withdrawn> {
    let (webhook, erasure_supported, notify): (Option<String>, i64, i64) = sqlx::query_as(
        "SELECT deauth_webhook, erasure_supported, deauth_email_notification \
         FROM projects WHERE id = $1",
    )
    .bind(membership.project_id)
    .fetch_one(&mut *conn)
    .await?;
    let erasure_requested = options.erasure_requested && flag(erasure_supported);

    sqlx::query(
        "UPDATE memberships SET joined = 0, authorized = 0, revoked = 1, \
         message_permission = 0, username_shared = 0, revoked_at = $1, \
         erasure_requested_at = $2 WHERE id = $3",
    )
    .bind(now)
    .bind(erasure_requested.then_some(now))
    .bind(membership.id)
    .execute(&mut *conn)
    .await?;
    replace_sources(conn, membership.id, &[]).await?;
    super::oauth2::delete_membership_credentials(conn, membership.id).await?;
    record_event(
        conn,
        membership.id,
        MembershipEventKind::Withdrawn,
        actor,
        &membership.snapshot,
        now,
    )
    .await?;

    let deleted_file_keys = match options.delete_files {
        true => delete_project_files(conn, membership).await?,
        false => Vec::new(),
    };
    let reason = match (options.account_deleted, actor) {
        (true, _) => WithdrawalReason::AccountDeleted,
        (false, Actor::Member) => WithdrawalReason::Member,
        (false, Actor::Project) => WithdrawalReason::Project,
    };
    let withdrawal = Withdrawal {
        id: 0,
        project_id: membership.project_id,
        project_member_id: membership.project_member_id.clone(),
        reason: reason.as_str().to_string(),
        erasure_requested,
        files_deleted: options.delete_files,
        at: now,
    };
    let withdrawal_id = withdrawals::insert(&mut *conn, &withdrawal).await?;

    let notice_queued = flag(notify);
    if notice_queued {
        let payload = serde_json::json!({
            "withdrawal_id": withdrawal_id,
            "message_token": crate::crypto::random_token(32),
        });
        jobs::insert(
            &mut *conn,
            WITHDRAWAL_NOTICE_JOB,
            &payload.to_string(),
            NOTICE_MAX_ATTEMPTS,
            now,
            now,
        )
        .await?;
    }

    // A project that removed a member itself needs no webhook about it.
    let webhook_url = webhook.filter(|url| !url.trim().is_empty());
    let webhook_queued = actor == Actor::Member && webhook_url.is_some();
    if webhook_queued {
        let body = deauthorization_body(&membership.project_member_id, erasure_requested, now);
        let webhook_id = new_webhook_id();
        let delivery = NewDelivery {
            project_id: membership.project_id,
            withdrawal_id,
            webhook_id: &webhook_id,
            project_member_id: &membership.project_member_id,
            body: &body,
        };
        webhooks::queue_new(conn, &delivery, now).await?;
    }

    Ok(Withdrawn {
        withdrawal_id,
        erasure_requested,
        deleted_file_keys,
        webhook_queued,
        notice_queued,
    })
}

/// Attempts of a withdrawal notice email: about a day, as for every email.
const NOTICE_MAX_ATTEMPTS: i64 = 12;

/// Deletes the rows of every file the project added to the member's account and
/// returns their storage keys.
async fn delete_project_files(
    conn: &mut AnyConnection,
    membership: &Membership,
) -> sqlx::Result<Vec<String>> {
    let keys: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM data_files WHERE member_id = $1 AND project_id = $2 RETURNING storage_key",
    )
    .bind(membership.member_id)
    .bind(membership.project_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(keys.into_iter().map(|(key,)| key).collect())
}

async fn replace_sources(
    conn: &mut AnyConnection,
    membership_id: i64,
    sources: &[i64],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM membership_sources WHERE membership_id = $1")
        .bind(membership_id)
        .execute(&mut *conn)
        .await?;
    for source in sources {
        sqlx::query(
            "INSERT INTO membership_sources (membership_id, source_project_id) VALUES ($1, $2)",
        )
        .bind(membership_id)
        .bind(source)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn record_event(
    conn: &mut AnyConnection,
    membership_id: i64,
    kind: MembershipEventKind,
    actor: Actor,
    snapshot: &Snapshot,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO membership_events (membership_id, kind, actor, granted_sources, \
         message_permission, username_shared, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(membership_id)
    .bind(kind.as_str())
    .bind(actor.as_str())
    .bind(snapshot.sources_json())
    .bind(i64::from(snapshot.message_permission))
    .bind(i64::from(snapshot.username_shared))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One entry of a membership's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipEvent {
    pub kind: String,
    pub actor: String,
    pub snapshot: Snapshot,
    pub at: Micros,
}

/// Lists a membership's history, oldest first.
pub async fn events(db: &Db, membership_id: i64) -> sqlx::Result<Vec<MembershipEvent>> {
    let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT kind, actor, granted_sources, message_permission, username_shared, at \
         FROM membership_events WHERE membership_id = $1 ORDER BY at, id",
    )
    .bind(membership_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, actor, sources, message, username, at)| {
            let sources: Vec<i64> = serde_json::from_str(&sources).unwrap_or_default();
            MembershipEvent {
                kind,
                actor,
                snapshot: Snapshot::new(sources, flag(message), flag(username)),
                at,
            }
        })
        .collect())
}
