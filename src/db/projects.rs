//! Projects, their OAuth2 credentials and requested sources.

use sqlx::FromRow;

use super::read::Read;
use super::{Db, flag, is_unique_violation};
use crate::clock::{DAY, Micros};
use crate::crypto::{ServerKey, random_token};
use crate::domain::project::{
    CLIENT_ID_LENGTH, CLIENT_SECRET_LENGTH, MASTER_TOKEN_LENGTH, ProjectConfig, is_reserved_slug,
    slug_candidate, slugify,
};

/// Purpose strings for keyed hashes of project credentials.
pub const CLIENT_SECRET_PURPOSE: &str = "client-secret";
pub const MASTER_TOKEN_PURPOSE: &str = "master-token";

/// How long a master access token is valid.
pub const MASTER_TOKEN_LIFETIME: Micros = DAY;

crate::read_row! {
    #[derive(Debug, Clone)]
    struct ProjectRow {
        id: i64,
        slug: String,
        coordinator_id: i64,
        name: String,
        is_study: i64,
        leader: String,
        organization: String,
        is_academic_or_nonprofit: i64,
        contact_email: String,
        info_url: String,
        short_description: String,
        long_description: String,
        returned_data_description: String,
        active: i64,
        approved: i64,
        badge_key: Option<String>,
        request_message_permission: i64,
        request_username_access: i64,
        enrollment_url: String,
        terms_url: String,
        redirect_uris: String,
        deauth_webhook: Option<String>,
        webhook_secret: Option<String>,
        erasure_supported: i64,
        deauth_email_notification: i64,
        require_pkce: i64,
        client_id: String,
        client_secret_hash: String,
        client_secret_rotated_at: i64,
        master_token_expires_at: Option<i64>,
        created_at: i64,
        updated_at: i64,
        /// Read with [`super::parse_id_list`].
        requested_source_ids: Option<String>,
    }
}

const COLUMNS: &str = "id, slug, coordinator_id, name, is_study, leader, organization, \
    is_academic_or_nonprofit, contact_email, info_url, short_description, long_description, \
    returned_data_description, active, approved, badge_key, request_message_permission, \
    request_username_access, enrollment_url, terms_url, redirect_uris, deauth_webhook, \
    webhook_secret, erasure_supported, deauth_email_notification, require_pkce, client_id, \
    client_secret_hash, client_secret_rotated_at, master_token_expires_at, created_at, updated_at";

/// A stored project. `config.requested_sources` is filled by the loading functions.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub slug: String,
    pub coordinator_id: i64,
    pub config: ProjectConfig,
    pub approved: bool,
    /// Storage key of the badge image, if one was uploaded.
    pub badge_key: Option<String>,
    pub client_id: String,
    pub client_secret_hash: String,
    pub client_secret_rotated_at: Micros,
    pub master_token_expires_at: Option<Micros>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

impl Project {
    fn from_row(row: ProjectRow) -> sqlx::Result<Self> {
        let requested_sources = super::parse_id_list(row.requested_source_ids.as_deref())?;
        Ok(Self {
            id: row.id,
            slug: row.slug,
            coordinator_id: row.coordinator_id,
            config: ProjectConfig {
                name: row.name,
                is_study: flag(row.is_study),
                leader: row.leader,
                organization: row.organization,
                is_academic_or_nonprofit: flag(row.is_academic_or_nonprofit),
                contact_email: row.contact_email,
                info_url: row.info_url,
                short_description: row.short_description,
                long_description: row.long_description,
                returned_data_description: row.returned_data_description,
                active: flag(row.active),
                request_message_permission: flag(row.request_message_permission),
                request_username_access: flag(row.request_username_access),
                enrollment_url: row.enrollment_url,
                terms_url: row.terms_url,
                redirect_uris: row
                    .redirect_uris
                    .split_whitespace()
                    .map(str::to_string)
                    .collect(),
                deauth_webhook: row.deauth_webhook,
                webhook_secret: row.webhook_secret,
                erasure_supported: flag(row.erasure_supported),
                deauth_email_notification: flag(row.deauth_email_notification),
                require_pkce: flag(row.require_pkce),
                requested_sources,
            },
            approved: flag(row.approved),
            badge_key: row.badge_key,
            client_id: row.client_id,
            client_secret_hash: row.client_secret_hash,
            client_secret_rotated_at: row.client_secret_rotated_at,
            master_token_expires_at: row.master_token_expires_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new project and the credentials to show its coordinator once.
#[derive(Debug, Clone)]
pub struct CreatedProject {
    pub id: i64,
    pub slug: String,
    pub client_id: String,
    pub client_secret: String,
}

/// Inserts a project with fresh OAuth2 credentials. The slug comes from the name;
/// when it is taken or reserved for a fixed page, `-2`, `-3`, … is appended, the
/// database's unique index deciding between concurrent creations.
pub async fn insert(
    db: &Db,
    key: &ServerKey,
    coordinator_id: i64,
    config: &ProjectConfig,
    now: Micros,
) -> anyhow::Result<CreatedProject> {
    let base = slugify(&config.name);
    for attempt in 1..=1000 {
        let slug = slug_candidate(&base, attempt);
        if is_reserved_slug(&slug) {
            continue;
        }
        let client_id = random_token(CLIENT_ID_LENGTH);
        let client_secret = random_token(CLIENT_SECRET_LENGTH);
        let mut tx = db.begin_write().await?;
        let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
            "INSERT INTO projects (slug, coordinator_id, name, is_study, leader, organization, \
             is_academic_or_nonprofit, contact_email, info_url, short_description, \
             long_description, returned_data_description, active, approved, \
             request_message_permission, request_username_access, enrollment_url, terms_url, \
             redirect_uris, deauth_webhook, webhook_secret, erasure_supported, \
             deauth_email_notification, require_pkce, client_id, client_secret_hash, \
             client_secret_rotated_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $26, $26) RETURNING id",
        )
        .bind(&slug)
        .bind(coordinator_id)
        .bind(&config.name)
        .bind(i64::from(config.is_study))
        .bind(&config.leader)
        .bind(&config.organization)
        .bind(i64::from(config.is_academic_or_nonprofit))
        .bind(&config.contact_email)
        .bind(&config.info_url)
        .bind(&config.short_description)
        .bind(&config.long_description)
        .bind(&config.returned_data_description)
        .bind(i64::from(config.active))
        .bind(i64::from(config.request_message_permission))
        .bind(i64::from(config.request_username_access))
        .bind(&config.enrollment_url)
        .bind(&config.terms_url)
        .bind(config.redirect_uris.join(" "))
        .bind(&config.deauth_webhook)
        .bind(&config.webhook_secret)
        .bind(i64::from(config.erasure_supported))
        .bind(i64::from(config.deauth_email_notification))
        .bind(i64::from(config.require_pkce))
        .bind(&client_id)
        .bind(key.hash(CLIENT_SECRET_PURPOSE, &client_secret))
        .bind(now)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok((id,)) => id,
            Err(error) if is_unique_violation(&error) => continue,
            Err(error) => return Err(anyhow::Error::new(error).context("inserting a project")),
        };
        replace_requested_sources(&mut tx, id, &config.requested_sources).await?;
        tx.commit().await?;
        return Ok(CreatedProject {
            id,
            slug,
            client_id,
            client_secret,
        });
    }
    anyhow::bail!("no free slug for a project named {:?}", config.name)
}

/// Saves a changed configuration. The slug and credentials never change here.
pub async fn update_config(
    db: &Db,
    project_id: i64,
    config: &ProjectConfig,
    now: Micros,
) -> sqlx::Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE projects SET name = $1, is_study = $2, leader = $3, organization = $4, \
         is_academic_or_nonprofit = $5, contact_email = $6, info_url = $7, \
         short_description = $8, long_description = $9, returned_data_description = $10, \
         active = $11, request_message_permission = $12, request_username_access = $13, \
         enrollment_url = $14, terms_url = $15, redirect_uris = $16, deauth_webhook = $17, \
         webhook_secret = $18, erasure_supported = $19, deauth_email_notification = $20, \
         require_pkce = $21, updated_at = $22 WHERE id = $23",
    )
    .bind(&config.name)
    .bind(i64::from(config.is_study))
    .bind(&config.leader)
    .bind(&config.organization)
    .bind(i64::from(config.is_academic_or_nonprofit))
    .bind(&config.contact_email)
    .bind(&config.info_url)
    .bind(&config.short_description)
    .bind(&config.long_description)
    .bind(&config.returned_data_description)
    .bind(i64::from(config.active))
    .bind(i64::from(config.request_message_permission))
    .bind(i64::from(config.request_username_access))
    .bind(&config.enrollment_url)
    .bind(&config.terms_url)
    .bind(config.redirect_uris.join(" "))
    .bind(&config.deauth_webhook)
    .bind(&config.webhook_secret)
    .bind(i64::from(config.erasure_supported))
    .bind(i64::from(config.deauth_email_notification))
    .bind(i64::from(config.require_pkce))
    .bind(now)
    .bind(project_id)
    .execute(&mut *tx)
    .await?;
    // Saving the project is how a coordinator turns a webhook back on after its
    // receiver responded 410 Gone.
    sqlx::query("DELETE FROM disabled_webhooks WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut *tx)
        .await?;
    replace_requested_sources(&mut tx, project_id, &config.requested_sources).await?;
    tx.commit().await
}

async fn replace_requested_sources(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    project_id: i64,
    sources: &[i64],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM requested_sources WHERE project_id = $1")
        .bind(project_id)
        .execute(&mut **tx)
        .await?;
    for source in sources {
        sqlx::query(
            "INSERT INTO requested_sources (project_id, source_project_id) VALUES ($1, $2)",
        )
        .bind(project_id)
        .bind(source)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Builds the start of every project query: the columns of [`ProjectRow`], and the
/// project's requested sources folded into the same row.
fn select_projects(db: &Db) -> String {
    let sources = db.backend.id_list(
        "source_project_id",
        "FROM requested_sources r WHERE r.project_id = projects.id",
    );
    format!("SELECT {COLUMNS}, {sources} AS requested_source_ids FROM projects")
}

async fn load_one(db: &Db, column: &'static str, value: &str) -> sqlx::Result<Option<Project>> {
    let sql = format!("{} WHERE {column} = $1", select_projects(db));
    let row: Option<ProjectRow> = Read::new(sql).bind(value).fetch_optional(db).await?;
    row.map(Project::from_row).transpose()
}

pub async fn find_by_slug(db: &Db, slug: &str) -> sqlx::Result<Option<Project>> {
    load_one(db, "slug", slug).await
}

pub async fn find_by_client_id(db: &Db, client_id: &str) -> sqlx::Result<Option<Project>> {
    load_one(db, "client_id", client_id).await
}

pub async fn find_by_id(db: &Db, id: i64) -> sqlx::Result<Option<Project>> {
    let sql = format!("{} WHERE id = $1", select_projects(db));
    let row: Option<ProjectRow> = Read::new(sql).bind(id).fetch_optional(db).await?;
    row.map(Project::from_row).transpose()
}

/// Lists the projects a member coordinates, by name.
pub async fn list_by_coordinator(db: &Db, member_id: i64) -> sqlx::Result<Vec<Project>> {
    let sql = format!(
        "{} WHERE coordinator_id = $1 ORDER BY name, id",
        select_projects(db)
    );
    let rows: Vec<ProjectRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(member_id)
        .fetch_all(&db.pool)
        .await?;
    rows.into_iter().map(Project::from_row).collect()
}

/// Replaces the client secret and returns the new one; the old one stops working at
/// once.
pub async fn rotate_client_secret(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    now: Micros,
) -> sqlx::Result<String> {
    let secret = random_token(CLIENT_SECRET_LENGTH);
    sqlx::query(
        "UPDATE projects SET client_secret_hash = $1, client_secret_rotated_at = $2 WHERE id = $3",
    )
    .bind(key.hash(CLIENT_SECRET_PURPOSE, &secret))
    .bind(now)
    .bind(project_id)
    .execute(&db.pool)
    .await?;
    Ok(secret)
}

/// Issues a new master access token valid for a day and returns it; the previous one
/// stops working at once.
pub async fn issue_master_token(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    now: Micros,
) -> sqlx::Result<String> {
    let token = random_token(MASTER_TOKEN_LENGTH);
    sqlx::query(
        "UPDATE projects SET master_token_hash = $1, master_token_expires_at = $2 WHERE id = $3",
    )
    .bind(key.hash(MASTER_TOKEN_PURPOSE, &token))
    .bind(now + MASTER_TOKEN_LIFETIME)
    .bind(project_id)
    .execute(&db.pool)
    .await?;
    Ok(token)
}

/// Sets or clears the approval flag.
pub async fn set_approved(
    db: &Db,
    project_id: i64,
    approved: bool,
    now: Micros,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE projects SET approved = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(approved))
        .bind(now)
        .bind(project_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Records the storage key of a new badge image.
pub async fn set_badge_key(db: &Db, project_id: i64, badge_key: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("UPDATE projects SET badge_key = $1 WHERE id = $2")
        .bind(badge_key)
        .bind(project_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// A project that others may request data from, as offered on the project form.
#[derive(Debug, Clone, FromRow)]
pub struct DataSource {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// Lists the projects a project may request data from: approved projects that describe
/// the data they return, by name. `except` (the requesting project itself) is left out.
pub async fn list_data_sources(db: &Db, except: Option<i64>) -> sqlx::Result<Vec<DataSource>> {
    sqlx::query_as(
        "SELECT id, slug, name FROM projects \
         WHERE approved = 1 AND returned_data_description <> '' AND id <> $1 \
         ORDER BY name, id",
    )
    .bind(except.unwrap_or(0))
    .fetch_all(&db.pool)
    .await
}
