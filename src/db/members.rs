//! Member accounts.

use super::read::Read;
use super::{Db, flag};
use crate::clock::Micros;

crate::read_row! {
    /// A member account as stored.
    #[derive(Debug, Clone)]
    pub struct MemberRow {
        pub id: i64,
        pub username: String,
        pub email: String,
        pub password_hash: String,
        pub name: String,
        pub email_verified_at: Option<i64>,
        pub is_admin: i64,
        pub is_active: i64,
        pub created_at: i64,
    }
}

/// A member account with its flags decoded.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub email_verified: bool,
    pub is_admin: bool,
    /// False once a site admin suspends the account.
    pub is_active: bool,
    pub created_at: Micros,
}

impl From<MemberRow> for Member {
    fn from(row: MemberRow) -> Self {
        Self {
            id: row.id,
            username: row.username,
            email: row.email,
            password_hash: row.password_hash,
            name: row.name,
            email_verified: row.email_verified_at.is_some(),
            is_admin: flag(row.is_admin),
            is_active: flag(row.is_active),
            created_at: row.created_at,
        }
    }
}

const COLUMNS: &str = "id, username, email, password_hash, name, email_verified_at, is_admin, \
                       is_active, created_at";

/// The fields of a member to create.
#[derive(Debug, Clone)]
pub struct NewMember<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    pub email_verified: bool,
}

/// Why a member could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateMemberError {
    #[error("the username is already taken")]
    UsernameTaken,
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Member>> {
    let sql = format!("SELECT {COLUMNS} FROM members WHERE id = $1");
    let row: Option<MemberRow> = Read::new(sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(Member::from))
}

/// Finds a member by username or email address, ignoring case.
pub async fn find_by_login(db: &Db, login: &str) -> sqlx::Result<Option<Member>> {
    let lower = login.trim().to_lowercase();
    let sql =
        format!("SELECT {COLUMNS} FROM members WHERE username_lower = $1 OR email_lower = $1");
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(lower)
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Member::from))
}

/// Inserts a member. Uniqueness of username and email (ignoring case) is enforced by
/// the database, so two signups racing for one name cannot both succeed.
pub async fn insert(db: &Db, new: &NewMember<'_>, now: Micros) -> Result<i64, CreateMemberError> {
    insert_with(&db.pool, new, now).await
}

/// Inserts a member through `executor`, e.g. inside the transaction that also queues
/// the address confirmation email. Uniqueness is enforced as in [`insert`].
pub async fn insert_with<'c, E>(
    executor: E,
    new: &NewMember<'_>,
    now: Micros,
) -> Result<i64, CreateMemberError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let result: Result<(i64,), sqlx::Error> = sqlx::query_as(
        "INSERT INTO members (username, username_lower, email, email_lower, password_hash, \
         email_verified_at, is_admin, is_active, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) RETURNING id",
    )
    .bind(new.username)
    .bind(new.username.to_lowercase())
    .bind(new.email)
    .bind(new.email.to_lowercase())
    .bind(new.password_hash)
    .bind(new.email_verified.then_some(now))
    .bind(i64::from(new.is_admin))
    .bind(now)
    .fetch_one(executor)
    .await;
    match result {
        Ok((id,)) => Ok(id),
        Err(error) if super::is_unique_violation(&error) => {
            let message = match &error {
                sqlx::Error::Database(db_error) => db_error.message().to_string(),
                _ => String::new(),
            };
            if message.contains("email") {
                Err(CreateMemberError::EmailTaken)
            } else {
                Err(CreateMemberError::UsernameTaken)
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// True when a member has this username, ignoring case.
pub async fn username_exists(db: &Db, username: &str) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM members WHERE username_lower = $1")
        .bind(username.to_lowercase())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

/// Finds a member by email address, ignoring case.
pub async fn find_by_email(db: &Db, email: &str) -> sqlx::Result<Option<Member>> {
    let sql = format!("SELECT {COLUMNS} FROM members WHERE email_lower = $1");
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(email.to_lowercase())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(Member::from))
}

/// Marks the member's address as verified, if `email` is still their address. Returns
/// false when the address has changed since the link was sent.
pub async fn mark_email_verified<'c, E>(
    executor: E,
    member_id: i64,
    email: &str,
    now: Micros,
) -> sqlx::Result<bool>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    let result = sqlx::query(
        "UPDATE members SET email_verified_at = COALESCE(email_verified_at, $1) \
         WHERE id = $2 AND email_lower = $3",
    )
    .bind(now)
    .bind(member_id)
    .bind(email.to_lowercase())
    .execute(executor)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Replaces a member's password hash.
pub async fn update_password_hash<'c, E>(
    executor: E,
    member_id: i64,
    password_hash: &str,
) -> sqlx::Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(member_id)
        .execute(executor)
        .await?;
    Ok(())
}

/// Suspends (`active` false) or reinstates a member's account. Suspending also
/// deletes the member's sessions; their tokens stop working because every token
/// lookup checks the account's flag. Returns false when no member has `member_id`.
pub async fn set_active(db: &Db, member_id: i64, active: bool) -> sqlx::Result<bool> {
    let mut tx = db.pool.begin().await?;
    let result = sqlx::query("UPDATE members SET is_active = $1 WHERE id = $2")
        .bind(i64::from(active))
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
    if !active {
        super::sessions::delete_for_member(&mut *tx, member_id).await?;
    }
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

/// Lists up to `limit` members whose username or email contains `query`, ignoring
/// case, by username.
pub async fn search(db: &Db, query: &str, limit: i64) -> sqlx::Result<Vec<Member>> {
    let pattern = super::approvals::contains_pattern(query);
    let sql = format!(
        "SELECT {COLUMNS} FROM members WHERE username_lower LIKE $1 ESCAPE '\\' \
         OR email_lower LIKE $1 ESCAPE '\\' ORDER BY username_lower LIMIT $2"
    );
    let rows: Vec<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(pattern)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows.into_iter().map(Member::from).collect())
}

/// Returns whether any account is a site admin.
pub async fn any_admin(db: &Db) -> sqlx::Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM members WHERE is_admin = 1 LIMIT 1")
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}
