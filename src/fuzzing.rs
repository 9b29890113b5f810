//! Entry points for the fuzz targets in `fuzz/`.
//!
//! Several parsers of outside input are private to the module that uses them. The
//! fuzz crate links this library like any other crate, so it reaches those parsers
//! through the wrappers here instead of the modules making them public. The server
//! never calls this module, and it is hidden from the documentation.

use std::collections::HashMap;

use axum::http::HeaderValue;
use axum::http::request::Parts;

use crate::clock::Micros;
use crate::crypto::ServerKey;
use crate::domain::oauth2::TokenError;
use crate::http::api::error::ApiError;
pub use crate::http::storage::{DownloadGrant, RangeRequest, SignedUrlError};

/// Decodes a page form body as the `FormBody` extractor does.
pub fn parse_page_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    crate::http::form::parse_urlencoded(body)
}

/// Decodes a token or revocation request body as those endpoints do.
pub fn parse_token_form(
    content_type: Option<&HeaderValue>,
    body: &[u8],
) -> Result<HashMap<String, String>, TokenError> {
    crate::http::oauth2::parse_form(content_type, body)
}

/// Reads the credential of a project API request as the `ApiAuth` extractor does.
pub fn api_request_token(parts: &Parts) -> Result<Option<String>, ApiError> {
    crate::http::api::auth::request_token(parts)
}

/// Parses a `Range` header against a file of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    crate::http::storage::parse_range(header, size)
}

/// Signs the token of an upload URL.
pub fn sign_upload_token(key: &ServerKey, file_id: i64, expires_at: Micros) -> String {
    crate::http::storage::sign_upload_token(key, file_id, expires_at)
}

/// Checks the token of an upload URL and returns its file id.
pub fn verify_upload_token(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Result<i64, SignedUrlError> {
    crate::http::storage::verify_upload_token(key, token, now)
}

/// Signs the token of a download URL.
pub fn sign_download_token(key: &ServerKey, grant: DownloadGrant, expires_at: Micros) -> String {
    crate::http::storage::sign_download_token(key, grant, expires_at)
}

/// Checks the token of a download URL and returns what it grants.
pub fn verify_download_token(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Result<DownloadGrant, SignedUrlError> {
    crate::http::storage::verify_download_token(key, token, now)
}

/// Checks an exchange credential. Returns `None` when `token` is not one, otherwise the
/// project id, project member id and binding tag it carries, or the error when it has
/// expired.
pub fn verify_exchange_credential(
    key: &ServerKey,
    token: &str,
    now: Micros,
) -> Option<Result<(i64, String, String), ApiError>> {
    crate::http::api::auth::verify_exchange_credential(key, token, now)
}

/// Computes the binding tag that an exchange credential carries.
pub fn exchange_tag(
    key: &ServerKey,
    master_hash: Option<&str>,
    authorized_at: Option<Micros>,
) -> String {
    crate::http::api::auth::exchange_tag(key, master_hash, authorized_at)
}
