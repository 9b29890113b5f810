//! One-time links sent by email (address confirmation, password reset). The table
//! keeps only a keyed hash of each token, so a leaked table grants nothing.

use sqlx::FromRow;

use super::Db;
use crate::clock::Micros;

/// A stored one-time link.
#[derive(Debug, Clone, FromRow)]
pub struct EmailToken {
    pub member_id: i64,
    /// The address the link was sent to.
    pub email: String,
    pub expires_at: Micros,
    pub used_at: Option<Micros>,
}

/// The fields of a link to store.
#[derive(Debug, Clone)]
pub struct NewEmailToken<'a> {
    pub token_hash: &'a str,
    pub member_id: i64,
    pub purpose: &'a str,
    pub email: &'a str,
    pub expires_at: Micros,
}

/// Stores a link, inside the transaction that queues its email.
pub async fn insert<'c, E>(executor: E, new: &NewEmailToken<'_>, now: Micros) -> sqlx::Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO email_tokens (token_hash, member_id, purpose, email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.token_hash)
    .bind(new.member_id)
    .bind(new.purpose)
    .bind(new.email)
    .bind(now)
    .bind(new.expires_at)
    .execute(executor)
    .await?;
    Ok(())
}

/// Finds a link by its hash and purpose, used or not.
pub async fn find(db: &Db, token_hash: &str, purpose: &str) -> sqlx::Result<Option<EmailToken>> {
    sqlx::query_as(
        "SELECT member_id, email, expires_at, used_at FROM email_tokens \
         WHERE token_hash = $1 AND purpose = $2",
    )
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(&db.pool)
    .await
}

/// Marks an unused, unexpired link as used and returns it. Of two requests racing to
/// use one link, only one gets `Some`.
pub async fn consume<'c, E>(
    executor: E,
    token_hash: &str,
    purpose: &str,
    now: Micros,
) -> sqlx::Result<Option<EmailToken>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query_as(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING member_id, email, expires_at, used_at",
    )
    .bind(now)
    .bind(token_hash)
    .bind(purpose)
    .fetch_optional(executor)
    .await
}

/// Marks every unused link of a member for `purpose` as used, e.g. outstanding reset
/// links once the password has changed.
pub async fn revoke_for_member<'c, E>(
    executor: E,
    member_id: i64,
    purpose: &str,
    now: Micros,
) -> sqlx::Result<u64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let result = sqlx::query(
        "UPDATE email_tokens SET used_at = $1 \
         WHERE member_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(member_id)
    .bind(purpose)
    .execute(executor)
    .await?;
    Ok(result.rows_affected())
}
