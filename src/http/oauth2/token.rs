//! `POST /oauth2/token/`: the token endpoint (RFC 6749 §3.2) for the authorization
//! code and refresh token grants.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{OAuthError, client, no_store, parse_form};
use crate::app::AppState;
use crate::clock::{DAY, SECOND};
use crate::db::oauth2::{self, IssuedTokens, TokenLifetimes};
use crate::domain::oauth2::{ACCESS_TOKEN_LIFETIME, TokenError};

/// A successful token response (RFC 6749 §5.1), keys in the order Open Humans sends
/// them. `expires_in` is a number: clients pass it to `timedelta(seconds=…)`.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
    token_type: &'static str,
    scope: String,
    refresh_token: String,
}

/// `POST /oauth2/token/`: exchanges an authorization code, or a refresh token, for a
/// new access and refresh token pair.
pub async fn issue_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &headers, &body).await {
        Ok(tokens) => no_store(
            Json(TokenResponse {
                access_token: tokens.access_token,
                expires_in: ACCESS_TOKEN_LIFETIME / SECOND,
                token_type: "Bearer",
                scope: tokens.scope,
                refresh_token: tokens.refresh_token,
            })
            .into_response(),
        ),
        Err(error) => error.into_response(),
    }
}

async fn grant(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<IssuedTokens, OAuthError> {
    let form = parse_form(headers.get(header::CONTENT_TYPE), body)?;
    let project = client::authenticate(state, headers, &form).await?;
    let param = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let lifetimes = TokenLifetimes {
        refresh_token: i64::from(state.settings.refresh_token_lifetime_days) * DAY,
        refresh_reuse_grace: state.settings.refresh_reuse_grace_seconds as i64 * SECOND,
    };
    let now = state.clock.now();

    match param("grant_type") {
        Some("authorization_code") => {
            let code = param("code")
                .ok_or_else(|| TokenError::InvalidRequest("code is missing".into()))?;
            let tokens = oauth2::exchange_code(
                &state.db,
                &state.key,
                project.id,
                code,
                param("redirect_uri"),
                param("code_verifier"),
                lifetimes,
                now,
            )
            .await?;
            tracing::info!(
                project.id = project.id,
                membership.id = tokens.membership_id,
                grant.id = tokens.grant_id,
                "exchanged an authorization code for tokens"
            );
            Ok(tokens)
        }
        Some("refresh_token") => {
            let refresh_token = param("refresh_token")
                .ok_or_else(|| TokenError::InvalidRequest("refresh_token is missing".into()))?;
            let tokens = oauth2::refresh(
                &state.db,
                &state.key,
                project.id,
                refresh_token,
                param("scope"),
                lifetimes,
                now,
            )
            .await?;
            tracing::info!(
                project.id = project.id,
                membership.id = tokens.membership_id,
                grant.id = tokens.grant_id,
                "refreshed tokens"
            );
            Ok(tokens)
        }
        Some(_) => Err(TokenError::UnsupportedGrantType.into()),
        None => Err(TokenError::InvalidRequest("grant_type is missing".into()).into()),
    }
}
