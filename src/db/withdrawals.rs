//! The record of every withdrawal and removal, which the project's withdrawn-members
//! page lists and the withdrawal notice describes.

use sqlx::FromRow;

use super::{Db, flag};
use crate::clock::Micros;

/// A stored withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: i64,
    pub project_id: i64,
    pub project_member_id: String,
    pub reason: String,
    pub erasure_requested: bool,
    /// Whether the files the project added to the member's account were deleted.
    pub files_deleted: bool,
    pub at: Micros,
}

#[derive(Debug, FromRow)]
struct WithdrawalRow {
    id: i64,
    project_id: i64,
    project_member_id: String,
    reason: String,
    erasure_requested: i64,
    files_deleted: i64,
    at: i64,
}

impl From<WithdrawalRow> for Withdrawal {
    fn from(row: WithdrawalRow) -> Self {
        Self {
            id: row.id,
            project_id: row.project_id,
            project_member_id: row.project_member_id,
            reason: row.reason,
            erasure_requested: flag(row.erasure_requested),
            files_deleted: flag(row.files_deleted),
            at: row.at,
        }
    }
}

const COLUMNS: &str =
    "id, project_id, project_member_id, reason, erasure_requested, files_deleted, at";

/// Inserts a withdrawal inside the caller's transaction and returns its id.
pub async fn insert<'c, E>(executor: E, withdrawal: &Withdrawal) -> sqlx::Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO withdrawals (project_id, project_member_id, reason, erasure_requested, \
         files_deleted, at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(withdrawal.project_id)
    .bind(&withdrawal.project_member_id)
    .bind(&withdrawal.reason)
    .bind(i64::from(withdrawal.erasure_requested))
    .bind(i64::from(withdrawal.files_deleted))
    .bind(withdrawal.at)
    .fetch_one(executor)
    .await?;
    Ok(id)
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Withdrawal>> {
    let sql = format!("SELECT {COLUMNS} FROM withdrawals WHERE id = $1");
    let row: Option<WithdrawalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Withdrawal::from))
}

/// Lists a project's withdrawals, newest first.
pub async fn list_for_project(
    db: &Db,
    project_id: i64,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Withdrawal>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM withdrawals WHERE project_id = $1 \
         ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3"
    );
    let rows: Vec<WithdrawalRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(Withdrawal::from).collect())
}

pub async fn count_for_project(db: &Db, project_id: i64) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM withdrawals WHERE project_id = $1")
        .bind(project_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(count)
}
