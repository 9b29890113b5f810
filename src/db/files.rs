//! Data files, their datatypes, the state of direct uploads, and the download log.

use std::collections::HashMap;

use sqlx::FromRow;

use super::read::{Read, ReadRow};
use super::{Backend, Db, flag};
use crate::clock::Micros;

/// A stored data file.
#[derive(Debug, Clone)]
pub struct DataFile {
    pub id: i64,
    /// The member the file belongs to.
    pub member_id: i64,
    /// The project that uploaded it.
    pub project_id: i64,
    pub storage_key: String,
    /// The file name as the uploader gave it, without any path.
    pub basename: String,
    /// The metadata JSON object, as text.
    pub metadata: String,
    /// Size in bytes; `None` until the bytes arrived.
    pub size: Option<i64>,
    /// MD5 of the bytes as lowercase hex. Known only when the uploader's metadata gave
    /// an `md5` and the bytes matched it: the app checks what it is asked to check,
    /// and does not spend a core on hashing every upload otherwise.
    pub md5: Option<String>,
    pub completed: bool,
    /// Set while a PUT to the signed upload URL streams, and kept after it succeeds.
    pub upload_started_at: Option<Micros>,
    /// When a PUT to the signed upload URL stored the bytes.
    pub uploaded_at: Option<Micros>,
    pub created_at: Micros,
    pub completed_at: Option<Micros>,
}

crate::read_row! {
    #[derive(Debug)]
    struct DataFileRow {
        id: i64,
        member_id: i64,
        project_id: i64,
        storage_key: String,
        basename: String,
        metadata: String,
        size: Option<i64>,
        md5: Option<String>,
        completed: i64,
        upload_started_at: Option<i64>,
        uploaded_at: Option<i64>,
        created_at: i64,
        completed_at: Option<i64>,
    }
}

impl DataFile {
    /// The `md5` the uploader's metadata gives, which the bytes must match.
    pub fn metadata_md5(&self) -> Option<String> {
        let metadata: serde_json::Value = serde_json::from_str(&self.metadata).ok()?;
        metadata.get("md5")?.as_str().map(str::to_string)
    }
}

impl From<DataFileRow> for DataFile {
    fn from(row: DataFileRow) -> Self {
        Self {
            id: row.id,
            member_id: row.member_id,
            project_id: row.project_id,
            storage_key: row.storage_key,
            basename: row.basename,
            metadata: row.metadata,
            size: row.size,
            md5: row.md5,
            completed: flag(row.completed),
            upload_started_at: row.upload_started_at,
            uploaded_at: row.uploaded_at,
            created_at: row.created_at,
            completed_at: row.completed_at,
        }
    }
}

const COLUMNS: &str = "id, member_id, project_id, storage_key, basename, metadata, size, md5, \
    completed, upload_started_at, uploaded_at, created_at, completed_at";

/// The fields of a file to create.
#[derive(Debug, Clone)]
pub struct NewDataFile<'a> {
    pub member_id: i64,
    pub project_id: i64,
    pub storage_key: &'a str,
    pub basename: &'a str,
    /// The validated metadata object, as JSON text.
    pub metadata: &'a str,
    /// True for files whose bytes are already stored (multipart uploads); false for
    /// direct uploads, which their completion call finishes.
    pub completed: bool,
    pub size: Option<i64>,
    pub md5: Option<&'a str>,
    pub datatype_ids: &'a [i64],
}

/// Inserts a file and its datatypes, returning the file id.
pub async fn insert(db: &Db, file: &NewDataFile<'_>, now: Micros) -> sqlx::Result<i64> {
    let mut tx = db.begin_write().await?;
    let id = insert_rows(&mut tx, file, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// Inserts a file that a project adds for a member and returns its id, if the
/// membership is still active when the row is written. Returns `None` when the member
/// left or deleted their account after the request was checked.
pub async fn insert_for_membership(
    db: &Db,
    file: &NewDataFile<'_>,
    now: Micros,
) -> sqlx::Result<Option<i64>> {
    let mut tx = db.begin_write().await?;
    if !lock_active_membership(&mut tx, db.backend, file.project_id, file.member_id).await? {
        return Ok(None);
    }
    let id = insert_rows(&mut tx, file, now).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// The outcome of a write to a file that a project adds for a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberFileWrite {
    Written,
    /// The file was deleted, or was not in the state the write expects.
    FileGone,
    /// The member left the project or deleted their account.
    MemberLeft,
}

/// Returns whether the member's membership of the project is active, and keeps it so
/// until the caller's write transaction ends.
///
/// A withdrawal deletes the project's files in the transaction that ends the
/// membership, so a write that checked the membership before it must not change the
/// files after it. On SQLite the write transaction already excludes the withdrawal.
/// On PostgreSQL a withdrawal locks the project row `FOR UPDATE`, which conflicts with
/// the `FOR KEY SHARE` taken here. Whichever comes second waits, so either the
/// withdrawal finds the write or the write finds the membership ended. Locking the
/// project before the membership is the withdrawal's order, so the two cannot
/// deadlock, and writes for different members do not wait for each other.
async fn lock_active_membership(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    project_id: i64,
    member_id: i64,
) -> sqlx::Result<bool> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM projects WHERE id = $1 FOR KEY SHARE")
            .bind(project_id)
            .fetch_optional(&mut *conn)
            .await?;
    }
    let active: Option<(i64,)> = sqlx::query_as(
        "SELECT id FROM memberships WHERE project_id = $1 AND member_id = $2 \
         AND joined = 1 AND authorized = 1 AND revoked = 0",
    )
    .bind(project_id)
    .bind(member_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(active.is_some())
}

/// Runs `sql`, an update of file `file_id` whose parameters are the size, MD5 and
/// time of `binds` and then the file id, in one write transaction if the file's
/// member is still in its project.
async fn update_for_membership(
    db: &Db,
    file_id: i64,
    sql: &'static str,
    binds: (i64, Option<&str>, Micros),
) -> sqlx::Result<MemberFileWrite> {
    let mut tx = db.begin_write().await?;
    let owner: Option<(i64, i64)> =
        sqlx::query_as("SELECT project_id, member_id FROM data_files WHERE id = $1")
            .bind(file_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((project_id, member_id)) = owner else {
        return Ok(MemberFileWrite::FileGone);
    };
    if !lock_active_membership(&mut tx, db.backend, project_id, member_id).await? {
        return Ok(MemberFileWrite::MemberLeft);
    }
    let (size, md5, now) = binds;
    let result = sqlx::query(sql)
        .bind(size)
        .bind(md5)
        .bind(now)
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
    if result.rows_affected() != 1 {
        return Ok(MemberFileWrite::FileGone);
    }
    tx.commit().await?;
    Ok(MemberFileWrite::Written)
}

async fn insert_rows(
    conn: &mut sqlx::AnyConnection,
    file: &NewDataFile<'_>,
    now: Micros,
) -> sqlx::Result<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO data_files (member_id, project_id, storage_key, basename, metadata, size, \
         md5, completed, created_at, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(file.member_id)
    .bind(file.project_id)
    .bind(file.storage_key)
    .bind(file.basename)
    .bind(file.metadata)
    .bind(file.size)
    .bind(file.md5)
    .bind(i64::from(file.completed))
    .bind(now)
    .bind(file.completed.then_some(now))
    .fetch_one(&mut *conn)
    .await?;
    for datatype_id in file.datatype_ids {
        sqlx::query("INSERT INTO data_file_datatypes (file_id, datatype_id) VALUES ($1, $2)")
            .bind(id)
            .bind(datatype_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Returns the ids of the projects that added completed files to a member's account.
pub async fn source_projects_of_member(db: &Db, member_id: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT project_id FROM data_files WHERE member_id = $1 AND completed = 1",
    )
    .bind(member_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<DataFile>> {
    let sql = format!("SELECT {COLUMNS} FROM data_files WHERE id = $1");
    let row: Option<DataFileRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(DataFile::from))
}

/// Returns the ids of each given file's datatypes, in ascending order, in one query.
/// Files without datatypes are absent from the map.
pub async fn datatype_ids(db: &Db, file_ids: &[i64]) -> sqlx::Result<HashMap<i64, Vec<i64>>> {
    let mut by_file: HashMap<i64, Vec<i64>> = HashMap::new();
    if file_ids.is_empty() {
        return Ok(by_file);
    }
    let placeholders = (1..=file_ids.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT file_id, datatype_id FROM data_file_datatypes WHERE file_id IN ({placeholders}) \
         ORDER BY file_id, datatype_id"
    );
    let mut query = Read::new(sql);
    for id in file_ids {
        query = query.bind(*id);
    }
    let rows: Vec<(i64, i64)> = query.fetch_all(db).await?;
    for (file_id, datatype_id) in rows {
        by_file.entry(file_id).or_default().push(datatype_id);
    }
    Ok(by_file)
}

/// Claims the single PUT that a signed upload URL accepts. Returns false when the file
/// is unknown, already completed, or another PUT has started or finished.
pub async fn claim_upload(db: &Db, file_id: i64, now: Micros) -> sqlx::Result<bool> {
    let result = sqlx::query(
        "UPDATE data_files SET upload_started_at = $1 \
         WHERE id = $2 AND completed = 0 AND upload_started_at IS NULL",
    )
    .bind(now)
    .bind(file_id)
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives up a claimed upload that failed, so the URL can be used again.
pub async fn release_upload(db: &Db, file_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE data_files SET upload_started_at = NULL WHERE id = $1 AND uploaded_at IS NULL",
    )
    .bind(file_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Records that a claimed upload stored its bytes, with their MD5 when it was
/// computed, if the file still exists and its member is still in the project.
pub async fn record_upload(
    db: &Db,
    file_id: i64,
    size: i64,
    md5: Option<&str>,
    now: Micros,
) -> sqlx::Result<MemberFileWrite> {
    update_for_membership(
        db,
        file_id,
        "UPDATE data_files SET size = $1, md5 = $2, uploaded_at = $3 WHERE id = $4",
        (size, md5, now),
    )
    .await
}

/// Marks an upload completed with its final size, if its member is still in the
/// project. `FileGone` when the file was deleted or already completed, so two
/// completion calls cannot both succeed. `md5`, when given, is an MD5 checked at
/// completion and replaces none recorded before.
pub async fn mark_completed(
    db: &Db,
    file_id: i64,
    size: i64,
    md5: Option<&str>,
    now: Micros,
) -> sqlx::Result<MemberFileWrite> {
    update_for_membership(
        db,
        file_id,
        "UPDATE data_files SET completed = 1, size = $1, md5 = COALESCE($2, md5), \
         completed_at = $3 WHERE id = $4 AND completed = 0",
        (size, md5, now),
    )
    .await
}

/// Lists incomplete files created before `cutoff`, as `(id, storage key)` pairs.
pub async fn list_incomplete_before(db: &Db, cutoff: Micros) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, storage_key FROM data_files WHERE completed = 0 AND created_at < $1 \
         ORDER BY id",
    )
    .bind(cutoff)
    .fetch_all(&db.pool)
    .await
}

/// Deletes a file row only if it is still incomplete, so a completion that raced the
/// clean-up keeps its file. Returns whether a row was deleted.
pub async fn delete_incomplete(db: &Db, file_id: i64) -> sqlx::Result<bool> {
    let result = sqlx::query("DELETE FROM data_files WHERE id = $1 AND completed = 0")
        .bind(file_id)
        .execute(&db.pool)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a file row (its datatype links go with it). The caller deletes the object.
pub async fn delete(db: &Db, file_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM data_files WHERE id = $1")
        .bind(file_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// One download of a file, as recorded in the owner's download log.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Download {
    pub id: i64,
    /// The owner of the file.
    pub member_id: i64,
    pub file_id: i64,
    pub basename: String,
    /// The project the download URL was made for, if any.
    pub project_id: Option<i64>,
    /// 1 when the owner downloaded the file from their own pages.
    pub by_member: i64,
    pub client_address: String,
    pub at: Micros,
}

/// Records a download in the owner's download log.
pub async fn insert_download(
    db: &Db,
    file: &DataFile,
    project_id: Option<i64>,
    client_address: &str,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO download_log (member_id, file_id, basename, project_id, by_member, \
         client_address, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(file.member_id)
    .bind(file.id)
    .bind(&file.basename)
    .bind(project_id)
    .bind(i64::from(project_id.is_none()))
    .bind(client_address)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Lists a member's downloads, newest first.
pub async fn list_downloads(db: &Db, member_id: i64, limit: i64) -> sqlx::Result<Vec<Download>> {
    sqlx::query_as(
        "SELECT id, member_id, file_id, basename, project_id, by_member, client_address, at \
         FROM download_log WHERE member_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(member_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Which files a project sees for one of its members: the completed files the project
/// uploaded for them, plus their completed files from the sources granted in the
/// membership's snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibleFiles {
    pub project_id: i64,
    pub membership_id: i64,
    pub member_id: i64,
}

const VISIBLE: &str = "FROM data_files WHERE member_id = $1 AND completed = 1 \
     AND (project_id = $2 OR project_id IN \
     (SELECT source_project_id FROM membership_sources WHERE membership_id = $3))";

/// A file row with the number of rows the query matched before paging.
#[derive(FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    file: DataFileRow,
    total: i64,
}

impl ReadRow for CountedRow {
    fn from_sqlite(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            file: DataFileRow::from_sqlite(row)?,
            total: row.get("total")?,
        })
    }
}

impl VisibleFiles {
    pub async fn count(&self, db: &Db) -> sqlx::Result<i64> {
        let sql = format!("SELECT COUNT(*) {VISIBLE}");
        let count: Option<(i64,)> = Read::new(sql)
            .bind(self.member_id)
            .bind(self.project_id)
            .bind(self.membership_id)
            .fetch_optional(db)
            .await?;
        count.map(|(count,)| count).ok_or(sqlx::Error::RowNotFound)
    }

    /// Returns one page of the files, ordered by source project, then id, with the
    /// number of files in all pages. The count comes with the page's rows, so only a
    /// page past the end needs a second query.
    pub async fn page(
        &self,
        db: &Db,
        limit: i64,
        offset: i64,
    ) -> sqlx::Result<(i64, Vec<DataFile>)> {
        let rows: Vec<CountedRow> = self
            .select(
                db,
                ", COUNT(*) OVER () AS total",
                "ORDER BY project_id, id",
                limit,
                offset,
            )
            .await?;
        let count = match rows.first() {
            Some(row) => row.total,
            None if offset == 0 => 0,
            None => self.count(db).await?,
        };
        let files = rows.into_iter().map(|row| DataFile::from(row.file));
        Ok((count, files.collect()))
    }

    /// Returns the first `limit` files by id.
    pub async fn first_by_id(&self, db: &Db, limit: i64) -> sqlx::Result<Vec<DataFile>> {
        let rows: Vec<DataFileRow> = self.select(db, "", "ORDER BY id", limit, 0).await?;
        Ok(rows.into_iter().map(DataFile::from).collect())
    }

    /// Reads the visible files' columns plus `extra_columns`, in `order`, one page.
    async fn select<R>(
        &self,
        db: &Db,
        extra_columns: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> sqlx::Result<Vec<R>>
    where
        R: ReadRow,
    {
        let sql = format!("SELECT {COLUMNS}{extra_columns} {VISIBLE} {order} LIMIT $4 OFFSET $5");
        Read::new(sql)
            .bind(self.member_id)
            .bind(self.project_id)
            .bind(self.membership_id)
            .bind(limit)
            .bind(offset)
            .fetch_all(db)
            .await
    }
}

/// Lists the completed files `project_id` uploaded for `member_id`, by id.
pub async fn list_uploaded_by_project(
    db: &Db,
    project_id: i64,
    member_id: i64,
) -> sqlx::Result<Vec<DataFile>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM data_files WHERE project_id = $1 AND member_id = $2 \
         AND completed = 1 ORDER BY id"
    );
    let rows: Vec<DataFileRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(project_id)
        .bind(member_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(DataFile::from).collect())
}

/// Lists a member's completed files, ordered by source project, then id.
pub async fn list_completed_for_member(db: &Db, member_id: i64) -> sqlx::Result<Vec<DataFile>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM data_files WHERE member_id = $1 AND completed = 1 \
         ORDER BY project_id, id"
    );
    let rows: Vec<DataFileRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(member_id)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(DataFile::from).collect())
}

/// Counts the downloads in a member's download log.
pub async fn count_downloads(db: &Db, member_id: i64) -> sqlx::Result<i64> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM download_log WHERE member_id = $1")
        .bind(member_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(count)
}

/// The filter that selects which of a member's downloads the access log shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadFilter {
    pub downloader: Option<Downloader>,
    /// Only downloads at or after this time.
    pub from: Option<Micros>,
    /// Only downloads before this time.
    pub until: Option<Micros>,
}

/// The party that made a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downloader {
    Project(i64),
    /// The file's owner, from their own pages.
    Member,
}

impl DownloadFilter {
    /// Builds the SQL condition that follows `member_id = $1`, with placeholders from
    /// `$2`, and returns it with the values to bind in order.
    fn condition(&self) -> (String, Vec<i64>) {
        let mut sql = String::new();
        let mut values = Vec::new();
        match self.downloader {
            Some(Downloader::Project(id)) => {
                values.push(id);
                sql.push_str(&format!(" AND project_id = ${}", values.len() + 1));
            }
            Some(Downloader::Member) => sql.push_str(" AND by_member = 1"),
            None => {}
        }
        if let Some(from) = self.from {
            values.push(from);
            sql.push_str(&format!(" AND at >= ${}", values.len() + 1));
        }
        if let Some(until) = self.until {
            values.push(until);
            sql.push_str(&format!(" AND at < ${}", values.len() + 1));
        }
        (sql, values)
    }
}

/// Counts the downloads of a member's files that match `filter`.
pub async fn count_downloads_matching(
    db: &Db,
    member_id: i64,
    filter: &DownloadFilter,
) -> sqlx::Result<i64> {
    let (condition, values) = filter.condition();
    let sql = format!("SELECT COUNT(*) FROM download_log WHERE member_id = $1{condition}");
    let mut query = sqlx::query_as::<_, (i64,)>(sqlx::AssertSqlSafe(sql)).bind(member_id);
    for value in values {
        query = query.bind(value);
    }
    let (count,): (i64,) = query.fetch_one(&db.pool).await?;
    Ok(count)
}

/// Lists one page of the downloads of a member's files that match `filter`, newest
/// first.
pub async fn list_downloads_matching(
    db: &Db,
    member_id: i64,
    filter: &DownloadFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Download>> {
    let (condition, values) = filter.condition();
    let next = values.len() + 2;
    let sql = format!(
        "SELECT id, member_id, file_id, basename, project_id, by_member, client_address, at \
         FROM download_log WHERE member_id = $1{condition} ORDER BY at DESC, id DESC \
         LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let mut query = sqlx::query_as::<_, Download>(sqlx::AssertSqlSafe(sql)).bind(member_id);
    for value in values {
        query = query.bind(value);
    }
    query.bind(limit).bind(offset).fetch_all(&db.pool).await
}

/// Lists the projects that downloaded any of a member's files, by id.
pub async fn downloading_projects(db: &Db, member_id: i64) -> sqlx::Result<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT project_id FROM download_log \
         WHERE member_id = $1 AND project_id IS NOT NULL ORDER BY project_id",
    )
    .bind(member_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Deletes a member's completed files, chosen by id, and returns the rows deleted
/// so the caller can delete their objects. Ids of other members' files are ignored.
pub async fn delete_for_member(
    db: &Db,
    member_id: i64,
    file_ids: &[i64],
) -> sqlx::Result<Vec<DataFile>> {
    let mut deleted = Vec::with_capacity(file_ids.len());
    for &id in file_ids {
        let sql = format!(
            "DELETE FROM data_files WHERE id = $1 AND member_id = $2 AND completed = 1 \
             RETURNING {COLUMNS}"
        );
        let row: Option<DataFileRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(member_id)
            .fetch_optional(&db.pool)
            .await?;
        deleted.extend(row.map(DataFile::from));
    }
    Ok(deleted)
}
