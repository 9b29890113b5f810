//! `GET /.well-known/oauth-authorization-server`: authorization server metadata
//! (RFC 8414).

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::app::AppState;
use crate::domain::oauth2::scope::SUPPORTED_SCOPES;

/// The metadata document. Open Humans clients do not read it; generic OAuth2
/// clients can discover the endpoints from it.
#[derive(Serialize)]
pub struct ServerMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    scopes_supported: [&'static str; SUPPORTED_SCOPES.len()],
    response_types_supported: [&'static str; 1],
    response_modes_supported: [&'static str; 1],
    grant_types_supported: [&'static str; 2],
    token_endpoint_auth_methods_supported: [&'static str; 2],
    revocation_endpoint_auth_methods_supported: [&'static str; 2],
    code_challenge_methods_supported: [&'static str; 1],
}

/// `GET /.well-known/oauth-authorization-server`
pub async fn server_metadata(State(state): State<AppState>) -> Json<ServerMetadata> {
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Json(ServerMetadata {
        issuer: state.public_url.to_string(),
        authorization_endpoint: state.url("/direct-sharing/projects/oauth2/authorize/"),
        token_endpoint: state.url("/oauth2/token/"),
        revocation_endpoint: state.url("/oauth2/revoke_token/"),
        scopes_supported: SUPPORTED_SCOPES,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        token_endpoint_auth_methods_supported: auth_methods,
        revocation_endpoint_auth_methods_supported: auth_methods,
        code_challenge_methods_supported: ["S256"],
    })
}
