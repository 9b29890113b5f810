//! Showing a new credential exactly once.
//!
//! The server has a client secret or master token in plain text only while creating it,
//! because the database keeps a keyed hash. The create and rotate actions
//! answer with a 303 to the detail page (so reloading does not submit again), and the
//! new value travels to that page in a short-lived cookie: signed with the server key,
//! `HttpOnly`, `SameSite=Strict`, valid five minutes, bound to one project. The detail
//! page shows it and deletes the cookie in the same response, which carries
//! `Cache-Control: no-store`, so a second visit shows only the hash-backed metadata.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::app::AppState;
use crate::clock::{MINUTE, Micros};
use crate::http::session::read_cookie;

const REVEAL_PURPOSE: &str = "credential-reveal";
/// How long a new credential waits for the detail page to show it.
const REVEAL_LIFETIME: Micros = 5 * MINUTE;

/// Which credential a reveal carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    ClientSecret,
    MasterToken,
}

impl CredentialKind {
    fn code(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => "client-secret",
            CredentialKind::MasterToken => "master-token",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        match code {
            "client-secret" => Some(CredentialKind::ClientSecret),
            "master-token" => Some(CredentialKind::MasterToken),
            _ => None,
        }
    }
}

/// A credential to show once on a project's detail page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevealedCredential {
    pub kind: CredentialKind,
    pub value: String,
}

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-oh_reveal"
    } else {
        "oh_reveal"
    }
}

fn cookie_attributes(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Strict"
    }
}

/// Adds the cookie that carries `value` to the detail page of `project_id`.
pub fn attach(
    state: &AppState,
    response: &mut Response,
    project_id: i64,
    kind: CredentialKind,
    value: &str,
) {
    let expires_at = state.clock.now() + REVEAL_LIFETIME;
    // Credentials are alphanumeric, so ':' separates the parts unambiguously.
    let payload = format!("{project_id}:{}:{expires_at}:{value}", kind.code());
    let cookie = format!(
        "{}={}; Max-Age={}; {}",
        cookie_name(state),
        state.key.sign(REVEAL_PURPOSE, &payload),
        REVEAL_LIFETIME / 1_000_000,
        cookie_attributes(state)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Reads a credential waiting to be shown for `project_id`. Returns it, or `None` when
/// there is none, it belongs to another project, has expired or was tampered with.
pub fn take(state: &AppState, headers: &HeaderMap, project_id: i64) -> Option<RevealedCredential> {
    let signed = read_cookie(headers, cookie_name(state))?;
    let payload = state.key.verify(REVEAL_PURPOSE, signed)?;
    let mut parts = payload.splitn(4, ':');
    let id: i64 = parts.next()?.parse().ok()?;
    let kind = CredentialKind::from_code(parts.next()?)?;
    let expires_at: Micros = parts.next()?.parse().ok()?;
    let value = parts.next()?;
    if id != project_id || expires_at < state.clock.now() {
        return None;
    }
    Some(RevealedCredential {
        kind,
        value: value.to_string(),
    })
}

/// Deletes the reveal cookie in the browser.
pub fn clear(state: &AppState, response: &mut Response) {
    let cookie = format!(
        "{}=; Max-Age=0; {}",
        cookie_name(state),
        cookie_attributes(state)
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
