//! Code exchange, refresh token rotation and revocation. Each runs in one write
//! transaction, so that a code or a refresh token is consumed exactly once even when
//! two requests race.

use sqlx::AnyConnection;

use super::{
    ACCESS_TOKEN_PURPOSE, CODE_PURPOSE, REFRESH_TOKEN_PURPOSE, delete_grant, membership_is_active,
};
use crate::clock::Micros;
use crate::crypto::{ServerKey, random_token};
use crate::db::Db;
use crate::domain::oauth2::refresh::{RotatedTokenReuse, rotated_token_reuse};
use crate::domain::oauth2::scope::Scope;
use crate::domain::oauth2::{ACCESS_TOKEN_LIFETIME, TOKEN_LENGTH, TokenError, pkce, redirect_uri};

/// How long refresh tokens live and how reuse of a rotated one is treated.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    /// A refresh token expires this long after it was issued, that is unused.
    pub refresh_token: Micros,
    /// Reuse of a rotated refresh token within this time does not revoke the grant.
    pub refresh_reuse_grace: Micros,
}

/// A new access and refresh token pair. The tokens are shown only here.
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub scope: String,
    pub grant_id: i64,
    pub membership_id: i64,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("scope", &self.scope)
            .field("grant_id", &self.grant_id)
            .field("membership_id", &self.membership_id)
            .finish_non_exhaustive()
    }
}

/// The failure of a grant request.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The request is rejected with this RFC 6749 error.
    #[error(transparent)]
    Rejected(#[from] TokenError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    project_id: i64,
    membership_id: i64,
    redirect_uri: String,
    redirect_uri_given: i64,
    scope: String,
    code_challenge: Option<String>,
    expires_at: i64,
    used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct RefreshTokenRow {
    grant_id: i64,
    project_id: i64,
    membership_id: i64,
    scope: String,
    access_token_hash: String,
    expires_at: i64,
    rotated_at: Option<i64>,
}

fn invalid_grant(description: &str) -> GrantError {
    GrantError::Rejected(TokenError::InvalidGrant(description.to_string()))
}

/// Exchanges an authorization code (RFC 6749 §4.1.3) for a new grant. A code that
/// was already used is rejected and every grant issued from it is revoked (RFC 6749
/// §4.1.2), because one of the two uses was not the client's.
#[allow(clippy::too_many_arguments)]
pub async fn exchange_code(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    lifetimes: TokenLifetimes,
    now: Micros,
) -> Result<IssuedTokens, GrantError> {
    let code_hash = key.hash(CODE_PURPOSE, code);
    let mut tx = db.begin_write().await?;
    let row: Option<CodeRow> = sqlx::query_as(
        "SELECT project_id, membership_id, redirect_uri, redirect_uri_given, scope, \
         code_challenge, expires_at, used_at FROM oauth2_codes WHERE code_hash = $1",
    )
    .bind(&code_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(code_row) = row else {
        return Err(invalid_grant("the authorization code is invalid"));
    };
    let membership_id = code_row.membership_id;
    // A code is bound to the client it was issued to; another client learns nothing.
    if code_row.project_id != project_id {
        return Err(invalid_grant("the authorization code is invalid"));
    }
    if code_row.used_at.is_some() {
        let revoked = revoke_grants_from_code(&mut tx, &code_hash).await?;
        tx.commit().await?;
        tracing::warn!(
            project.id = project_id,
            membership.id = membership_id,
            revoked,
            "authorization code reused; revoked the grants issued from it"
        );
        return Err(invalid_grant("the authorization code was already used"));
    }
    if code_row.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    if !redirect_uri::matches_code(
        &code_row.redirect_uri,
        code_row.redirect_uri_given != 0,
        redirect_uri,
    ) {
        return Err(invalid_grant(
            "redirect_uri does not match the one of the authorization request",
        ));
    }
    pkce::verify(code_row.code_challenge.as_deref(), code_verifier)?;

    // The conditional update decides between concurrent exchanges of one code; on
    // PostgreSQL the loser waits for the winner's commit and then matches no row.
    let consumed = sqlx::query(
        "UPDATE oauth2_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(&code_hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if consumed == 0 {
        let revoked = revoke_grants_from_code(&mut tx, &code_hash).await?;
        tx.commit().await?;
        tracing::warn!(
            project.id = project_id,
            membership.id = membership_id,
            revoked,
            "authorization code used twice at once; revoked the grants issued from it"
        );
        return Err(invalid_grant("the authorization code was already used"));
    }
    if !membership_is_active(&mut tx, membership_id).await? {
        return Err(invalid_grant(
            "the member's authorization is no longer active",
        ));
    }

    let (grant_id,): (i64,) = sqlx::query_as(
        "INSERT INTO oauth2_grants (project_id, membership_id, code_hash, scope, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(project_id)
    .bind(membership_id)
    .bind(&code_hash)
    .bind(&code_row.scope)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let tokens = insert_token_pair(
        &mut tx,
        key,
        grant_id,
        membership_id,
        &code_row.scope,
        lifetimes,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(tokens)
}

/// Refreshes a grant (RFC 6749 §6): the refresh token is rotated, the access token
/// issued with it is revoked, and a new pair is issued. Of two concurrent refreshes
/// with one token exactly one succeeds; the other is `invalid_grant` and changes
/// nothing. A rotated token presented after the grace period revokes the grant.
pub async fn refresh(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    refresh_token: &str,
    requested_scope: Option<&str>,
    lifetimes: TokenLifetimes,
    now: Micros,
) -> Result<IssuedTokens, GrantError> {
    let token_hash = key.hash(REFRESH_TOKEN_PURPOSE, refresh_token);
    let mut tx = db.begin_write().await?;
    let row: Option<RefreshTokenRow> = sqlx::query_as(
        "SELECT g.id AS grant_id, g.project_id, g.membership_id, g.scope, \
         r.access_token_hash, r.expires_at, r.rotated_at FROM oauth2_refresh_tokens r \
         JOIN oauth2_grants g ON g.id = r.grant_id WHERE r.token_hash = $1",
    )
    .bind(&token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(RefreshTokenRow {
        grant_id,
        project_id: grant_project,
        membership_id,
        scope,
        access_token_hash: access_hash,
        expires_at,
        rotated_at,
    }) = row
    else {
        return Err(invalid_grant("the refresh token is invalid"));
    };
    if grant_project != project_id {
        return Err(invalid_grant("the refresh token is invalid"));
    }
    if let Some(rotated_at) = rotated_at {
        match rotated_token_reuse(rotated_at, now, lifetimes.refresh_reuse_grace) {
            RotatedTokenReuse::Reject => {}
            RotatedTokenReuse::RevokeGrant => {
                delete_grant(&mut tx, grant_id).await?;
                tx.commit().await?;
                tracing::warn!(
                    project.id = project_id,
                    membership.id = membership_id,
                    grant.id = grant_id,
                    "rotated refresh token reused; revoked its grant"
                );
            }
        }
        return Err(invalid_grant("the refresh token was already used"));
    }
    if expires_at <= now {
        return Err(invalid_grant("the refresh token has expired"));
    }
    if !membership_is_active(&mut tx, membership_id).await? {
        return Err(invalid_grant(
            "the member's authorization is no longer active",
        ));
    }
    let granted =
        Scope::parse(Some(&scope)).map_err(|_| invalid_grant("stored scope is invalid"))?;
    let access_scope = match requested_scope.filter(|scope| !scope.trim().is_empty()) {
        None => granted,
        Some(requested) => {
            let requested = Scope::parse(Some(requested))
                .map_err(|error| TokenError::InvalidScope(error.to_string()))?;
            if !granted.contains_all(&requested) {
                return Err(TokenError::InvalidScope(format!(
                    "the requested scope exceeds the granted scope {granted}"
                ))
                .into());
            }
            requested
        }
    };

    let rotated = sqlx::query(
        "UPDATE oauth2_refresh_tokens SET rotated_at = $1 \
         WHERE token_hash = $2 AND rotated_at IS NULL",
    )
    .bind(now)
    .bind(&token_hash)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if rotated == 0 {
        return Err(invalid_grant("the refresh token was already used"));
    }
    sqlx::query("DELETE FROM oauth2_access_tokens WHERE token_hash = $1")
        .bind(&access_hash)
        .execute(&mut *tx)
        .await?;
    let mut tokens = insert_token_pair(
        &mut tx,
        key,
        grant_id,
        membership_id,
        &scope,
        lifetimes,
        now,
    )
    .await?;
    if access_scope.to_string() != scope {
        sqlx::query("UPDATE oauth2_access_tokens SET scope = $1 WHERE token_hash = $2")
            .bind(access_scope.to_string())
            .bind(key.hash(ACCESS_TOKEN_PURPOSE, &tokens.access_token))
            .execute(&mut *tx)
            .await?;
        tokens.scope = access_scope.to_string();
    }
    tx.commit().await?;
    Ok(tokens)
}

/// Revokes a token of the calling project (RFC 7009). Revoking an access token ends
/// only it; revoking a refresh token ends its whole grant. Tokens that are unknown
/// or belong to another project are left alone, and the response is the same.
pub async fn revoke_token(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    token: &str,
    hint: Option<&str>,
) -> sqlx::Result<bool> {
    let mut tx = db.begin_write().await?;
    let refresh_first = hint == Some("refresh_token");
    let mut revoked = false;
    for is_refresh in [refresh_first, !refresh_first] {
        let grant: Option<(i64, i64)> = if is_refresh {
            sqlx::query_as(
                "SELECT g.id, g.project_id FROM oauth2_refresh_tokens r \
                 JOIN oauth2_grants g ON g.id = r.grant_id WHERE r.token_hash = $1",
            )
            .bind(key.hash(REFRESH_TOKEN_PURPOSE, token))
            .fetch_optional(&mut *tx)
            .await?
        } else {
            sqlx::query_as(
                "SELECT g.id, g.project_id FROM oauth2_access_tokens a \
                 JOIN oauth2_grants g ON g.id = a.grant_id WHERE a.token_hash = $1",
            )
            .bind(key.hash(ACCESS_TOKEN_PURPOSE, token))
            .fetch_optional(&mut *tx)
            .await?
        };
        let Some((grant_id, grant_project)) = grant else {
            continue;
        };
        if grant_project != project_id {
            break;
        }
        if is_refresh {
            delete_grant(&mut tx, grant_id).await?;
        } else {
            sqlx::query("DELETE FROM oauth2_access_tokens WHERE token_hash = $1")
                .bind(key.hash(ACCESS_TOKEN_PURPOSE, token))
                .execute(&mut *tx)
                .await?;
        }
        revoked = true;
        break;
    }
    tx.commit().await?;
    Ok(revoked)
}

async fn revoke_grants_from_code(conn: &mut AnyConnection, code_hash: &str) -> sqlx::Result<usize> {
    let grants: Vec<(i64,)> = sqlx::query_as("SELECT id FROM oauth2_grants WHERE code_hash = $1")
        .bind(code_hash)
        .fetch_all(&mut *conn)
        .await?;
    for (grant_id,) in &grants {
        delete_grant(conn, *grant_id).await?;
    }
    Ok(grants.len())
}

async fn insert_token_pair(
    conn: &mut AnyConnection,
    key: &ServerKey,
    grant_id: i64,
    membership_id: i64,
    scope: &str,
    lifetimes: TokenLifetimes,
    now: Micros,
) -> sqlx::Result<IssuedTokens> {
    let access_token = random_token(TOKEN_LENGTH);
    let refresh_token = random_token(TOKEN_LENGTH);
    let access_hash = key.hash(ACCESS_TOKEN_PURPOSE, &access_token);
    sqlx::query(
        "INSERT INTO oauth2_access_tokens (token_hash, grant_id, scope, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&access_hash)
    .bind(grant_id)
    .bind(scope)
    .bind(now)
    .bind(now + ACCESS_TOKEN_LIFETIME)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO oauth2_refresh_tokens (token_hash, grant_id, access_token_hash, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.hash(REFRESH_TOKEN_PURPOSE, &refresh_token))
    .bind(grant_id)
    .bind(&access_hash)
    .bind(now)
    .bind(now + lifetimes.refresh_token)
    .execute(&mut *conn)
    .await?;
    Ok(IssuedTokens {
        access_token,
        refresh_token,
        scope: scope.to_string(),
        grant_id,
        membership_id,
    })
}
