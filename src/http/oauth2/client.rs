//! Client authentication at the token and revocation endpoints, with the limit on
//! failed attempts.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};

use crate::app::AppState;
use crate::clock::MINUTE;
use crate::crypto::constant_time_eq;
use crate::db::projects::{self, CLIENT_SECRET_PURPOSE, Project};
use crate::db::rate_limits::{self, Limit};
use crate::domain::oauth2::TokenError;
use crate::domain::oauth2::client_auth;

use super::OAuthError;

/// Client ids longer than this are rejected without a lookup or a recorded failure.
const MAX_CLIENT_ID_LENGTH: usize = 128;

/// Authenticates the calling client by HTTP Basic or by the body's `client_id` and
/// `client_secret`, comparing keyed hashes of the secret in constant time. Failures
/// count per client id; past the limit they are answered with 429. A correct secret
/// is never limited.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Project, OAuthError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let credentials = client_auth::credentials(
        authorization,
        form.get("client_id").map(String::as_str),
        form.get("client_secret").map(String::as_str),
    )?;
    if credentials.client_id.is_empty() || credentials.client_id.len() > MAX_CLIENT_ID_LENGTH {
        return Err(TokenError::InvalidClient.into());
    }

    let project = projects::find_by_client_id(&state.db, &credentials.client_id).await?;
    // Unknown clients are hashed too, so timing does not tell which ids exist.
    let presented = state
        .key
        .hash(CLIENT_SECRET_PURPOSE, &credentials.client_secret);
    if let Some(project) = project
        && constant_time_eq(&presented, &project.client_secret_hash)
    {
        return Ok(project);
    }

    let now = state.clock.now();
    let bucket = format!("oauth2-client-auth:{}", credentials.client_id);
    let limit = Limit {
        max: state.settings.client_auth_failures_per_minute,
        window: MINUTE,
    };
    if let Err(retry_after) = rate_limits::acquire(&state.db, &bucket, limit, now).await? {
        tracing::warn!(
            client_id = %credentials.client_id,
            "too many failed client authentications"
        );
        return Err(TokenError::TooManyFailures {
            retry_after: retry_after.0,
        }
        .into());
    }
    tracing::info!(client_id = %credentials.client_id, "client authentication failed");
    Err(TokenError::InvalidClient.into())
}
