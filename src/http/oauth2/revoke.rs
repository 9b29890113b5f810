//! `POST /oauth2/revoke_token/`: token revocation (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{OAuthError, client, no_store, parse_form};
use crate::app::AppState;
use crate::db::oauth2;
use crate::domain::oauth2::TokenError;

/// `POST /oauth2/revoke_token/`: revokes one of the calling client's access or
/// refresh tokens. The response is 200 whether or not the token existed or belonged to
/// the client (RFC 7009 §2.2), so it reveals nothing about other clients' tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke(&state, &headers, &body).await {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => error.into_response(),
    }
}

async fn revoke(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let form = parse_form(headers.get(header::CONTENT_TYPE), body)?;
    let project = client::authenticate(state, headers, &form).await?;
    let token = form
        .get("token")
        .filter(|token| !token.is_empty())
        .ok_or_else(|| TokenError::InvalidRequest("token is missing".into()))?;
    let hint = form.get("token_type_hint").map(String::as_str);

    let revoked = oauth2::revoke_token(&state.db, &state.key, project.id, token, hint).await?;
    if revoked {
        tracing::info!(
            project.id = project.id,
            "revoked a token at the client's request"
        );
    }
    Ok(())
}
