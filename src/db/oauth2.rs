//! The OAuth2 authorization server's storage: authorization codes, grants, access
//! and refresh tokens, all stored as keyed hashes, plus the transactions that
//! consent, code exchange, refresh and revocation run in.
//!
//! A grant is what one code exchange creates; refreshing rotates its tokens and
//! keeps the grant. Revoking a grant deletes it with every token it holds.

mod consent;
mod tokens;

pub use consent::{CodeRequest, ConsentKind, ConsentOutcome, consent_and_issue_code};
pub use tokens::{GrantError, IssuedTokens, TokenLifetimes, exchange_code, refresh, revoke_token};

use sqlx::{AnyConnection, FromRow};

use super::memberships::Membership;
use super::projects::Project;
use super::read::{Read, ReadRow};
use super::{Backend, Db, flag};
use crate::clock::{DAY, Micros};
use crate::crypto::ServerKey;
use crate::domain::membership::{MembershipStatus, Snapshot};

/// Purpose strings for the keyed hashes of codes and tokens.
pub const CODE_PURPOSE: &str = "oauth2-code";
pub const ACCESS_TOKEN_PURPOSE: &str = "access-token";
pub const REFRESH_TOKEN_PURPOSE: &str = "refresh-token";

/// The project fields that consent depends on, read under the project row's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedProject {
    pub active: bool,
    pub approved: bool,
    /// The permissions the project requests now.
    pub requested: Snapshot,
}

/// Locks a project's row for the rest of the transaction and reads what consent
/// depends on. Consent and withdrawal take this lock first, so the test-member cap
/// is counted by one transaction at a time, and other changes to memberships should
/// take it too. On SQLite the transaction must come from [`Db::begin_write`], which
/// already excludes other writers. On PostgreSQL `FOR UPDATE` takes a row lock.
pub async fn lock_project(
    conn: &mut AnyConnection,
    backend: Backend,
    project_id: i64,
) -> sqlx::Result<Option<LockedProject>> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT active, approved, request_message_permission, request_username_access \
             FROM projects WHERE id = $1"
        }
        Backend::Postgres => {
            "SELECT active, approved, request_message_permission, request_username_access \
             FROM projects WHERE id = $1 FOR UPDATE"
        }
    };
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(sql)
        .bind(project_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some((active, approved, message, username)) = row else {
        return Ok(None);
    };
    let sources: Vec<(i64,)> =
        sqlx::query_as("SELECT source_project_id FROM requested_sources WHERE project_id = $1")
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(Some(LockedProject {
        active: flag(active),
        approved: flag(approved),
        requested: Snapshot::new(
            sources.into_iter().map(|(id,)| id).collect(),
            flag(message),
            flag(username),
        ),
    }))
}

/// Looks up the names of projects by id, for listing requested or granted sources. Ids that
/// no longer exist are left out.
pub async fn project_names(db: &Db, ids: &[i64]) -> sqlx::Result<Vec<(i64, String)>> {
    let mut names = Vec::with_capacity(ids.len());
    for id in ids {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
        if let Some((name,)) = row {
            names.push((*id, name));
        }
    }
    Ok(names)
}

/// Checks whether a membership is active now, its member's account included.
async fn membership_is_active(conn: &mut AnyConnection, membership_id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT m.joined, m.authorized, m.revoked, u.is_active FROM memberships m \
         JOIN members u ON u.id = m.member_id WHERE m.id = $1",
    )
    .bind(membership_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(
        row.is_some_and(|(joined, authorized, revoked, account_active)| {
            MembershipStatus {
                joined: flag(joined),
                authorized: flag(authorized),
                revoked: flag(revoked),
            }
            .is_active(flag(account_active))
        }),
    )
}

/// Deletes a grant with its tokens.
async fn delete_grant(conn: &mut AnyConnection, grant_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM oauth2_access_tokens WHERE grant_id = $1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM oauth2_refresh_tokens WHERE grant_id = $1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM oauth2_grants WHERE id = $1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes every code, grant and token of a membership, as withdrawal requires.
pub async fn delete_membership_credentials(
    conn: &mut AnyConnection,
    membership_id: i64,
) -> sqlx::Result<()> {
    let grants: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM oauth2_grants WHERE membership_id = $1")
            .bind(membership_id)
            .fetch_all(&mut *conn)
            .await?;
    for (grant_id,) in grants {
        delete_grant(conn, grant_id).await?;
    }
    sqlx::query("DELETE FROM oauth2_codes WHERE membership_id = $1")
        .bind(membership_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What a valid access token authorizes: its grant, the member's membership (with
/// the permission snapshot that decides what the project may read) and the project.
#[derive(Debug, Clone)]
pub struct AccessTokenGrant {
    pub grant_id: i64,
    pub scope: String,
    pub expires_at: Micros,
    pub membership: Membership,
    pub project: Project,
}

/// Looks up an access token for the project API. Returns `None` when the token is
/// unknown or expired, or its membership is no longer active (the member left or
/// was removed, or their account is suspended).
pub async fn find_access_token(
    db: &Db,
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> sqlx::Result<Option<AccessTokenGrant>> {
    // Every API request by a member runs this, so the token, its grant, the membership
    // with its granted sources and the member's account come in one query.
    let sql = format!(
        "SELECT g.id AS grant_id, a.scope AS token_scope, a.expires_at AS token_expires_at, \
         u.is_active AS account_active, {} FROM oauth2_access_tokens a \
         JOIN oauth2_grants g ON g.id = a.grant_id \
         JOIN memberships m ON m.id = g.membership_id \
         JOIN members u ON u.id = m.member_id \
         WHERE a.token_hash = $1 AND a.expires_at > $2",
        super::memberships::select_list(db.backend, "m")
    );
    let row: Option<AccessTokenRow> = Read::new(sql)
        .bind(key.hash(ACCESS_TOKEN_PURPOSE, token))
        .bind(now)
        .fetch_optional(db)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let membership = row.membership.into_membership()?;
    if !membership.status.is_active(flag(row.account_active)) {
        return Ok(None);
    }
    let Some(project) = super::projects::find_by_id(db, membership.project_id).await? else {
        return Ok(None);
    };
    Ok(Some(AccessTokenGrant {
        grant_id: row.grant_id,
        scope: row.token_scope,
        expires_at: row.token_expires_at,
        membership,
        project,
    }))
}

/// An access token joined with its grant, membership and member.
#[derive(FromRow)]
struct AccessTokenRow {
    grant_id: i64,
    token_scope: String,
    token_expires_at: Micros,
    account_active: i64,
    #[sqlx(flatten)]
    membership: super::memberships::MembershipRow,
}

impl ReadRow for AccessTokenRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            grant_id: row.get("grant_id")?,
            token_scope: row.get("token_scope")?,
            token_expires_at: row.get("token_expires_at")?,
            account_active: row.get("account_active")?,
            membership: super::memberships::MembershipRow::from_sqlite(row)?,
        })
    }
}

/// Deletes codes that expired more than a day ago (a used code is kept until then
/// so that its replay still revokes what it issued), expired access tokens, and
/// expired refresh tokens.
pub async fn prune(db: &Db, now: Micros) -> sqlx::Result<u64> {
    let mut deleted = 0;
    for (sql, before) in [
        ("DELETE FROM oauth2_codes WHERE expires_at < $1", now - DAY),
        (
            "DELETE FROM oauth2_access_tokens WHERE expires_at < $1",
            now,
        ),
        (
            "DELETE FROM oauth2_refresh_tokens WHERE expires_at < $1",
            now,
        ),
    ] {
        deleted += sqlx::query(sql)
            .bind(before)
            .execute(&db.pool)
            .await?
            .rows_affected();
    }
    Ok(deleted)
}
