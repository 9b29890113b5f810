//! Queries of the project API that span projects and memberships: the master token
//! lookup and the list of a project's active members.

use sqlx::AnyConnection;

use super::memberships::{self, Membership};
use super::projects::MASTER_TOKEN_PURPOSE;
use super::{Db, flag};
use crate::clock::Micros;
use crate::crypto::ServerKey;

/// A project found by its master token, with the token's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterTokenMatch {
    pub project_id: i64,
    pub expires_at: Option<Micros>,
}

/// Looks up the project whose master token is `token`, comparing keyed hashes. The
/// caller checks the expiry.
pub async fn find_by_master_token(
    db: &Db,
    key: &ServerKey,
    token: &str,
) -> sqlx::Result<Option<MasterTokenMatch>> {
    let row: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, master_token_expires_at FROM projects WHERE master_token_hash = $1",
    )
    .bind(key.hash(MASTER_TOKEN_PURPOSE, token))
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(project_id, expires_at)| MasterTokenMatch {
        project_id,
        expires_at,
    }))
}

/// Returns the stored hash of a project's current master token.
pub async fn master_token_hash(db: &Db, project_id: i64) -> sqlx::Result<Option<String>> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT master_token_hash FROM projects WHERE id = $1")
            .bind(project_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.and_then(|(hash,)| hash))
}

/// Returns what an exchange credential is bound to: the project's current master
/// token hash and when the membership was last authorized.
pub async fn exchange_binding(
    db: &Db,
    project_id: i64,
    project_member_id: &str,
) -> sqlx::Result<Option<(Option<String>, Option<Micros>)>> {
    sqlx::query_as(
        "SELECT p.master_token_hash, m.authorized_at FROM projects p \
         JOIN memberships m ON m.project_id = p.id \
         WHERE p.id = $1 AND m.project_member_id = $2",
    )
    .bind(project_id)
    .bind(project_member_id)
    .fetch_optional(&db.pool)
    .await
}

/// SQL condition selecting the active memberships of project `$1`: joined,
/// authorized, not revoked, with an active member account.
const ACTIVE_MEMBERS: &str = "FROM memberships m JOIN members u ON u.id = m.member_id \
     WHERE m.project_id = $1 AND m.joined = 1 AND m.authorized = 1 AND m.revoked = 0 \
     AND u.is_active = 1";

/// One page of a project's active memberships, ordered by `project_member_id`.
pub async fn list_active_members(
    db: &Db,
    project_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Membership>> {
    let mut conn = db.pool.acquire().await?;
    let sql =
        format!("SELECT m.id {ACTIVE_MEMBERS} ORDER BY m.project_member_id LIMIT $2 OFFSET $3");
    let ids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&mut *conn)
        .await?;
    let mut list = Vec::with_capacity(ids.len());
    for (id,) in ids {
        if let Some(membership) = memberships::find_by_id(&mut conn, id).await? {
            list.push(membership);
        }
    }
    Ok(list)
}

/// Checks whether a member's account is active (not suspended).
pub async fn account_is_active(conn: &mut AnyConnection, member_id: i64) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT is_active FROM members WHERE id = $1")
        .bind(member_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some_and(|(active,)| flag(active)))
}
