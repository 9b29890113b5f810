//! Datatypes and the projects that register them.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Db, flag, is_unique_violation};
use crate::clock::Micros;
use crate::domain::datatypes::{DatatypeInput, TreeNode};

/// A stored datatype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datatype {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub description: String,
    pub details: String,
    pub uploadable: bool,
    pub last_editor_id: Option<i64>,
    pub created_at: Micros,
    pub modified_at: Micros,
}

#[derive(Debug, FromRow)]
struct DatatypeRow {
    id: i64,
    name: String,
    parent_id: Option<i64>,
    description: String,
    details: String,
    uploadable: i64,
    last_editor_id: Option<i64>,
    created_at: i64,
    modified_at: i64,
}

impl From<DatatypeRow> for Datatype {
    fn from(row: DatatypeRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            parent_id: row.parent_id,
            description: row.description,
            details: row.details,
            uploadable: flag(row.uploadable),
            last_editor_id: row.last_editor_id,
            created_at: row.created_at,
            modified_at: row.modified_at,
        }
    }
}

const COLUMNS: &str = "id, name, parent_id, description, details, uploadable, last_editor_id, \
    created_at, modified_at";

/// Why a datatype could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveDatatypeError {
    #[error("a datatype with this name already exists")]
    NameTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn map_save_error(error: sqlx::Error) -> SaveDatatypeError {
    if is_unique_violation(&error) {
        SaveDatatypeError::NameTaken
    } else {
        SaveDatatypeError::Database(error)
    }
}

/// Inserts a validated datatype and returns its id.
pub async fn insert(
    db: &Db,
    input: &DatatypeInput,
    editor_id: i64,
    now: Micros,
) -> Result<i64, SaveDatatypeError> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO datatypes (name, name_lower, parent_id, description, details, uploadable, \
         last_editor_id, created_at, modified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(&input.name)
    .bind(input.name.to_lowercase())
    .bind(input.parent_id)
    .bind(&input.description)
    .bind(&input.details)
    .bind(i64::from(input.uploadable))
    .bind(editor_id)
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(map_save_error)?;
    Ok(id)
}

/// Saves a validated change to datatype `id`.
pub async fn update(
    db: &Db,
    id: i64,
    input: &DatatypeInput,
    editor_id: i64,
    now: Micros,
) -> Result<(), SaveDatatypeError> {
    sqlx::query(
        "UPDATE datatypes SET name = $1, name_lower = $2, parent_id = $3, description = $4, \
         details = $5, uploadable = $6, last_editor_id = $7, modified_at = $8 WHERE id = $9",
    )
    .bind(&input.name)
    .bind(input.name.to_lowercase())
    .bind(input.parent_id)
    .bind(&input.description)
    .bind(&input.details)
    .bind(i64::from(input.uploadable))
    .bind(editor_id)
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await
    .map_err(map_save_error)?;
    Ok(())
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Datatype>> {
    let sql = format!("SELECT {COLUMNS} FROM datatypes WHERE id = $1");
    let row: Option<DatatypeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Datatype::from))
}

/// Lists every datatype by name.
pub async fn list(db: &Db) -> sqlx::Result<Vec<Datatype>> {
    let sql = format!("SELECT {COLUMNS} FROM datatypes ORDER BY name_lower, id");
    let rows: Vec<DatatypeRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(Datatype::from).collect())
}

/// Every datatype's id and name, for resolving the `datatypes` field of uploads.
pub async fn names(db: &Db) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT id, name FROM datatypes ORDER BY id")
        .fetch_all(&db.pool)
        .await
}

/// The shape of the datatype tree, for validating a parent.
pub async fn tree(db: &Db) -> sqlx::Result<HashMap<i64, TreeNode>> {
    let rows: Vec<(i64, Option<i64>, i64)> =
        sqlx::query_as("SELECT id, parent_id, uploadable FROM datatypes")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, parent_id, uploadable)| {
            (
                id,
                TreeNode {
                    parent_id,
                    uploadable: flag(uploadable),
                },
            )
        })
        .collect())
}

/// The ids of a datatype's direct children, ascending.
pub async fn children(db: &Db, id: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM datatypes WHERE parent_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The ids of the approved projects that registered a datatype, ascending.
pub async fn approved_source_projects(db: &Db, id: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT p.id FROM project_datatypes pd JOIN projects p ON p.id = pd.project_id \
         WHERE pd.datatype_id = $1 AND p.approved = 1 ORDER BY p.id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// True once an approved project registered the datatype: its name, parent,
/// description and uploadable flag may then no longer change, because files and
/// project documentation rely on them.
pub async fn is_locked(db: &Db, id: i64) -> sqlx::Result<bool> {
    Ok(!approved_source_projects(db, id).await?.is_empty())
}

/// The ids of the datatypes registered for a project, ascending.
pub async fn registered_for_project(db: &Db, project_id: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT datatype_id FROM project_datatypes WHERE project_id = $1 ORDER BY datatype_id",
    )
    .bind(project_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Replaces the datatypes registered for a project.
pub async fn set_registered_for_project(
    db: &Db,
    project_id: i64,
    datatype_ids: &[i64],
) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM project_datatypes WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    for datatype_id in datatype_ids {
        sqlx::query("INSERT INTO project_datatypes (project_id, datatype_id) VALUES ($1, $2)")
            .bind(project_id)
            .bind(datatype_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}
