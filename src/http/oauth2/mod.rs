//! The OAuth2 authorization server: the consent flow at the authorization endpoint,
//! the token and revocation endpoints, and the server metadata document. Client
//! self-registration and token introspection are deliberately not offered.

pub mod authorize;
mod client;
mod consent_page;
pub mod metadata;
pub mod revoke;
pub mod token;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ErrorDetail;
use crate::db::oauth2::GrantError;
use crate::domain::oauth2::TokenError;

/// A failed token or revocation request, answered with the JSON of RFC 6749 §5.2.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// 400, or 401 for `invalid_client`, or 429 after too many failed client
    /// authentications.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// 500 `server_error`; the detail is logged with the request id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OAuthError {
    fn from(error: sqlx::Error) -> Self {
        OAuthError::Internal(anyhow::Error::new(error).context("database query failed"))
    }
}

impl From<GrantError> for OAuthError {
    fn from(error: GrantError) -> Self {
        match error {
            GrantError::Rejected(error) => OAuthError::Token(error),
            GrantError::Database(error) => error.into(),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    error_description: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, body) = match &self {
            OAuthError::Token(error) => {
                let status = match error {
                    TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
                    TokenError::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::BAD_REQUEST,
                };
                let body = ErrorBody {
                    error: error.code(),
                    error_description: error.description(),
                };
                (status, body)
            }
            OAuthError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorBody {
                    error: "server_error",
                    error_description: "the server could not complete the request".into(),
                },
            ),
        };
        let mut response = no_store((status, Json(body)).into_response());
        let headers = response.headers_mut();
        match &self {
            OAuthError::Token(TokenError::InvalidClient) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"openhumans\""),
                );
            }
            OAuthError::Token(TokenError::TooManyFailures { retry_after }) => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            OAuthError::Internal(error) => {
                response
                    .extensions_mut()
                    .insert(ErrorDetail(format!("{error:#}")));
            }
            OAuthError::Token(_) => {}
        }
        response
    }
}

/// Marks a response that carries or concerns credentials as uncacheable (RFC 6749
/// §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Reads an `application/x-www-form-urlencoded` body into name and value pairs,
/// rejecting other content types and repeated parameters (RFC 6749 §3.2).
pub(crate) fn parse_form(
    content_type: Option<&HeaderValue>,
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, TokenError> {
    let is_form = content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(TokenError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let mut form = std::collections::HashMap::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if form.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(TokenError::InvalidRequest(format!(
                "the parameter {name} appears more than once"
            )));
        }
    }
    Ok(form)
}
