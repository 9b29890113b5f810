//! Deleting a member's account, after the caller has withdrawn it from every project.

use sqlx::AnyConnection;

/// Deletes a member's sessions and account row inside the caller's transaction, and
/// returns the storage keys of the member's files and data exports, whose rows go
/// with the account. The caller deletes the objects once it has committed.
/// Memberships, email links, files, exports and the download log go by cascade.
pub async fn delete_member(conn: &mut AnyConnection, member_id: i64) -> sqlx::Result<Vec<String>> {
    let keys: Vec<(String,)> = sqlx::query_as(
        "SELECT storage_key FROM data_files WHERE member_id = $1 \
         UNION ALL SELECT storage_key FROM exports \
         WHERE member_id = $1 AND storage_key IS NOT NULL",
    )
    .bind(member_id)
    .fetch_all(&mut *conn)
    .await?;
    super::sessions::delete_for_member(&mut *conn, member_id).await?;
    sqlx::query("DELETE FROM data_files WHERE member_id = $1")
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM members WHERE id = $1")
        .bind(member_id)
        .execute(&mut *conn)
        .await?;
    Ok(keys.into_iter().map(|(key,)| key).collect())
}
