//! Credentials of the project API: a member's OAuth2 access token, the project's
//! master token, or the short-lived credential that the members list embeds in each
//! `exchange_member` URL.
//!
//! A token arrives as the `access_token` query parameter (which wins, as on Open
//! Humans) or as `Authorization: Bearer`. Only `/api/` routes use this extractor, so a
//! token never logs anyone in to a web page. Tokens are never logged or stored: a
//! lookup compares keyed hashes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::app::AppState;
use crate::clock::{HOUR, Micros};
use crate::crypto::{ServerKey, constant_time_eq};
use crate::db::memberships::Membership;
use crate::db::projects::{self, Project};
use crate::db::{oauth2, project_api};

/// How long the credential in an `exchange_member` URL is valid.
pub const EXCHANGE_CREDENTIAL_LIFETIME: Micros = HOUR;

const EXCHANGE_CREDENTIAL_PURPOSE: &str = "exchange-member-credential";
const EXCHANGE_BINDING_PURPOSE: &str = "exchange-member-binding";

/// Path of the only endpoint that accepts an exchange credential.
pub const EXCHANGE_MEMBER_PATH: &str = "/api/direct-sharing/project/exchange-member/";

/// An authenticated project API request: the project and who acts for it.
#[derive(Debug, Clone)]
pub struct ApiAuth {
    pub project: Project,
    pub credential: Credential,
}

/// The kind of credential a request authenticated with.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A member's access token; the membership is active.
    Member(Box<Membership>),
    /// The project's master token.
    Master,
    /// A credential from an `exchange_member` URL, scoped to reading one member.
    ExchangeMember { project_member_id: String },
}

impl ApiAuth {
    /// Rejects every credential but the master token, as the members list requires.
    pub fn require_master(&self) -> Result<(), ApiError> {
        match self.credential {
            Credential::Master => Ok(()),
            _ => Err(invalid_token()),
        }
    }

    /// Rejects the exchange credential, which is valid on exchange-member only.
    pub fn reject_exchange_credential(&self) -> Result<(), ApiError> {
        match self.credential {
            Credential::ExchangeMember { .. } => Err(invalid_token()),
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = request_token(parts)?.ok_or_else(|| {
            ApiError::Unauthorized("Authentication credentials were not provided.".into())
        })?;
        let now = state.clock.now();

        if let Some(scoped) = verify_exchange_credential(&state.key, &token, now) {
            if parts.uri.path() != EXCHANGE_MEMBER_PATH {
                return Err(invalid_token());
            }
            let (project_id, project_member_id, tag) = scoped?;
            let binding =
                project_api::exchange_binding(&state.db, project_id, &project_member_id).await?;
            let Some((master_hash, authorized_at)) = binding else {
                return Err(invalid_token());
            };
            let expected = exchange_tag(&state.key, master_hash.as_deref(), authorized_at);
            if !constant_time_eq(&tag, &expected) {
                return Err(invalid_token());
            }
            let project = load_project(state, project_id).await?;
            return Ok(ApiAuth {
                project,
                credential: Credential::ExchangeMember { project_member_id },
            });
        }

        if let Some(grant) = oauth2::find_access_token(&state.db, &state.key, &token, now).await? {
            return Ok(ApiAuth {
                project: grant.project,
                credential: Credential::Member(Box::new(grant.membership)),
            });
        }

        let found = project_api::find_by_master_token(&state.db, &state.key, &token).await?;
        let Some(found) = found else {
            return Err(invalid_token());
        };
        if found.expires_at.is_some_and(|expires_at| now >= expires_at) {
            return Err(ApiError::Unauthorized("Expired token.".into()));
        }
        let project = load_project(state, found.project_id).await?;
        Ok(ApiAuth {
            project,
            credential: Credential::Master,
        })
    }
}

/// Mints the credential of an `exchange_member` URL: valid one hour from `now`, for
/// reading `project_member_id` in `project_id` on exchange-member only. It is bound
/// to the master token it was minted under (`master_hash`, the stored hash) and to
/// the membership's last authorization, so rotating the master token or the member
/// leaving ends it, even if they later rejoin.
pub fn mint_exchange_credential(
    key: &ServerKey,
    project_id: i64,
    project_member_id: &str,
    master_hash: Option<&str>,
    authorized_at: Option<Micros>,
    now: Micros,
) -> String {
    let expires_at = now + EXCHANGE_CREDENTIAL_LIFETIME;
    let tag = exchange_tag(key, master_hash, authorized_at);
    let value = format!("x-{project_id}-{project_member_id}-{expires_at}-{tag}");
    key.sign(EXCHANGE_CREDENTIAL_PURPOSE, &value)
}

/// Computes a short tag of what an exchange credential is bound to. The credential is
/// signed, so the tag only has to change when the master token or the authorization
/// does.
pub(crate) fn exchange_tag(
    key: &ServerKey,
    master_hash: Option<&str>,
    authorized_at: Option<Micros>,
) -> String {
    let binding = format!(
        "{}:{}",
        master_hash.unwrap_or(""),
        authorized_at.map_or_else(String::new, |at| at.to_string())
    );
    let mut tag = key.hash(EXCHANGE_BINDING_PURPOSE, &binding);
    tag.truncate(16);
    tag
}

/// Checks an exchange credential's signature and expiry. Returns `None` when `token`
/// is not one (so other credential kinds are tried), or the project id,
/// `project_member_id` and binding tag it carries, or a 401 when it has expired.
pub(crate) fn verify_exchange_credential(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Option<Result<(i64, String, String), ApiError>> {
    let value = key.verify(EXCHANGE_CREDENTIAL_PURPOSE, token)?;
    let mut parts = value.strip_prefix("x-")?.splitn(4, '-');
    let project_id: i64 = parts.next()?.parse().ok()?;
    let project_member_id = parts.next()?.to_string();
    let expires_at: Micros = parts.next()?.parse().ok()?;
    let tag = parts.next()?.to_string();
    if now >= expires_at {
        return Some(Err(ApiError::Unauthorized("Expired token.".into())));
    }
    Some(Ok((project_id, project_member_id, tag)))
}

/// Reads the token from `?access_token=` (last value) or else from
/// `Authorization: Bearer`. A header with another scheme is ignored; a Bearer header
/// without a value or with spaces in it is a 401.
pub(crate) fn request_token(parts: &Parts) -> Result<Option<String>, ApiError> {
    let from_query = parts.uri.query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .filter(|(name, _)| name == "access_token")
            .map(|(_, value)| value.into_owned())
            .last()
    });
    if let Some(token) = from_query.filter(|token| !token.is_empty()) {
        return Ok(Some(token));
    }

    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let header = header.to_str().map_err(|_| invalid_header())?;
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let value = value.trim();
    if value.is_empty() || value.contains(' ') {
        return Err(invalid_header());
    }
    Ok(Some(value.to_string()))
}

/// Loads the project a master token or exchange credential belongs to. Both are the
/// coordinator's credentials, so they stop working while the coordinator's account
/// is suspended.
async fn load_project(state: &AppState, project_id: i64) -> Result<Project, ApiError> {
    let project = projects::find_by_id(&state.db, project_id)
        .await?
        .ok_or_else(invalid_token)?;
    let coordinator = crate::db::members::find_by_id(&state.db, project.coordinator_id).await?;
    if !coordinator.is_some_and(|coordinator| coordinator.is_active) {
        return Err(invalid_token());
    }
    Ok(project)
}

fn invalid_token() -> ApiError {
    ApiError::Unauthorized("Invalid token.".into())
}

fn invalid_header() -> ApiError {
    ApiError::Unauthorized(
        "Invalid token header: send \"Authorization: Bearer <token>\" with one token.".into(),
    )
}
