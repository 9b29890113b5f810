//! Login sessions. The cookie carries a random id; the table keeps only its keyed hash.

use super::Db;
use crate::clock::Micros;

pub async fn insert(
    db: &Db,
    id_hash: &str,
    member_id: i64,
    now: Micros,
    expires_at: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, member_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id_hash)
    .bind(member_id)
    .bind(now)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Returns the member id of an unexpired session.
pub async fn find_member(db: &Db, id_hash: &str, now: Micros) -> sqlx::Result<Option<i64>> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT member_id FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(|(id,)| id))
}

pub async fn delete(db: &Db, id_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Ends every session of a member, e.g. after a password change or reset. Takes any
/// executor so the sessions end in the same transaction as the change.
pub async fn delete_for_member<'c, E>(executor: E, member_id: i64) -> sqlx::Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("DELETE FROM sessions WHERE member_id = $1")
        .bind(member_id)
        .execute(executor)
        .await?;
    Ok(())
}

pub async fn delete_expired(db: &Db, now: Micros) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected())
}
