//! Rules of the OAuth2 authorization server (RFC 6749, RFC 7636 PKCE, RFC 8252
//! loopback redirects, RFC 9700 refresh token rotation) as plain functions.

pub mod authorize;
pub mod cap;
pub mod client_auth;
pub mod pkce;
pub mod redirect_uri;
pub mod refresh;
pub mod scope;

use crate::clock::{HOUR, MINUTE, Micros};

/// How long an authorization code can be exchanged.
pub const CODE_LIFETIME: Micros = 10 * MINUTE;
/// How long an access token is valid; `expires_in` reports it in seconds.
pub const ACCESS_TOKEN_LIFETIME: Micros = 10 * HOUR;
/// Length of codes, access tokens and refresh tokens, all drawn from `[A-Za-z0-9]`.
pub const TOKEN_LENGTH: usize = 40;

/// An error of the token or revocation endpoint, named by its RFC 6749 §5.2 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// Too many failed client authentications; retry after this many seconds.
    #[error("too many failed client authentications")]
    TooManyFailures { retry_after: u64 },
}

impl TokenError {
    /// Returns the `error` code of the JSON response.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::InvalidClient => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::UnsupportedGrantType => "unsupported_grant_type",
            TokenError::InvalidScope(_) => "invalid_scope",
            // RFC 6749 defines no code for rate limiting; the status 429 carries it.
            TokenError::TooManyFailures { .. } => "invalid_client",
        }
    }

    /// Returns the `error_description` of the JSON response.
    pub fn description(&self) -> String {
        match self {
            TokenError::InvalidRequest(detail)
            | TokenError::InvalidGrant(detail)
            | TokenError::InvalidScope(detail) => detail.clone(),
            TokenError::InvalidClient => "client authentication failed".to_string(),
            TokenError::UnsupportedGrantType => {
                "grant_type must be authorization_code or refresh_token".to_string()
            }
            TokenError::TooManyFailures { retry_after } => format!(
                "too many failed client authentications for this client; retry after \
                 {retry_after} seconds"
            ),
        }
    }
}
