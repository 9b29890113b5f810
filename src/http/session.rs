//! Login sessions, flash messages and the page context every template receives.
//!
//! A session cookie carries 32 random characters; the database keeps only their keyed
//! hash, so a leaked table cannot be replayed. Cookies are `HttpOnly`, `SameSite=Lax`,
//! and `Secure` (with the `__Host-` prefix) when the site is served over https.
//! Sessions never apply to `/api/` paths: the API takes only bearer tokens.

use axum::extract::{FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::PageError;
use crate::app::AppState;
use crate::clock::{DAY, Micros};
use crate::db::members::Member;

/// How long a login lasts.
pub const SESSION_LIFETIME: Micros = 14 * DAY;

const SESSION_PURPOSE: &str = "session";
const FLASH_PURPOSE: &str = "flash";

/// The member a request's session belongs to, if any; set by [`load_session`].
#[derive(Debug, Clone)]
struct SessionMember(Option<Member>);

/// A one-time message shown on the next page, e.g. "Your project was saved."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Success,
    Error,
}

impl FlashKind {
    /// CSS class of the message box.
    pub fn class(self) -> &'static str {
        match self {
            FlashKind::Success => "success",
            FlashKind::Error => "error",
        }
    }
}

fn session_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-oh_session"
    } else {
        "oh_session"
    }
}

fn flash_cookie_name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-oh_flash"
    } else {
        "oh_flash"
    }
}

fn cookie_attributes(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "Path=/; HttpOnly; SameSite=Lax; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Lax"
    }
}

/// Reads one cookie's value from the request headers.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// Looks up the session of page requests and stores the member in the request, then
/// clears a flash message once a page has shown it.
pub async fn load_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path.starts_with("/static/") {
        return next.run(request).await;
    }
    let member = match member_from_cookie(&state, request.headers()).await {
        Ok(member) => member,
        Err(error) => return PageError::Internal(error).into_response(),
    };
    request.extensions_mut().insert(SessionMember(member));

    let flash = read_cookie(request.headers(), flash_cookie_name(&state))
        .and_then(|value| decode_flash(&state, value));
    let had_flash = flash.is_some();
    if let Some(flash) = flash {
        request.extensions_mut().insert(flash);
    }

    let mut response = next.run(request).await;
    // A redirect passes the message on to the page it leads to; a page consumes it.
    let sets_flash = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| {
            value
                .as_bytes()
                .starts_with(flash_cookie_name(&state).as_bytes())
        });
    if had_flash && !sets_flash && !response.status().is_redirection() {
        let clear = format!(
            "{}=; Max-Age=0; {}",
            flash_cookie_name(&state),
            cookie_attributes(&state)
        );
        if let Ok(value) = HeaderValue::from_str(&clear) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn member_from_cookie(
    state: &AppState,
    headers: &HeaderMap,
) -> anyhow::Result<Option<Member>> {
    let Some(session_id) = read_cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    let id_hash = state.key.hash(SESSION_PURPOSE, session_id);
    let now = state.clock.now();
    let Some(member_id) = crate::db::sessions::find_member(&state.db, &id_hash, now).await? else {
        return Ok(None);
    };
    let member = crate::db::members::find_by_id(&state.db, member_id).await?;
    // A suspended member's sessions stop working at once.
    Ok(member.filter(|member| member.is_active))
}

/// Starts a new session for `member_id` and returns the `Set-Cookie` value. A fresh
/// id on every login defeats session fixation; `replaced` (the request's old
/// session cookie, if any) is deleted.
pub async fn start_session(
    state: &AppState,
    member_id: i64,
    request_headers: &HeaderMap,
) -> anyhow::Result<HeaderValue> {
    if let Some(old) = read_cookie(request_headers, session_cookie_name(state)) {
        crate::db::sessions::delete(&state.db, &state.key.hash(SESSION_PURPOSE, old)).await?;
    }
    let session_id = crate::crypto::random_token(32);
    let now = state.clock.now();
    crate::db::sessions::insert(
        &state.db,
        &state.key.hash(SESSION_PURPOSE, &session_id),
        member_id,
        now,
        now + SESSION_LIFETIME,
    )
    .await?;
    let cookie = format!(
        "{}={session_id}; Max-Age={}; {}",
        session_cookie_name(state),
        SESSION_LIFETIME / 1_000_000,
        cookie_attributes(state)
    );
    Ok(HeaderValue::from_str(&cookie).expect("session ids are alphanumeric"))
}

/// Ends the request's session and returns the `Set-Cookie` value that clears it.
pub async fn end_session(
    state: &AppState,
    request_headers: &HeaderMap,
) -> anyhow::Result<HeaderValue> {
    if let Some(session_id) = read_cookie(request_headers, session_cookie_name(state)) {
        crate::db::sessions::delete(&state.db, &state.key.hash(SESSION_PURPOSE, session_id))
            .await?;
    }
    let cookie = format!(
        "{}=; Max-Age=0; {}",
        session_cookie_name(state),
        cookie_attributes(state)
    );
    Ok(HeaderValue::from_str(&cookie).expect("the cookie name is ASCII"))
}

/// Redirects to `to` and shows `message` on that page.
pub fn redirect_with_flash(state: &AppState, to: &str, kind: FlashKind, message: &str) -> Response {
    let kind_name = match kind {
        FlashKind::Success => "s",
        FlashKind::Error => "e",
    };
    let encoded = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!("{kind_name}:{message}"),
    );
    let cookie = format!(
        "{}={}; Max-Age=300; {}",
        flash_cookie_name(state),
        state.key.sign(FLASH_PURPOSE, &encoded),
        cookie_attributes(state)
    );
    let mut response = Redirect::to(to).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn decode_flash(state: &AppState, cookie: &str) -> Option<Flash> {
    let encoded = state.key.verify(FLASH_PURPOSE, cookie)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, encoded).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (kind, message) = text.split_once(':')?;
    let kind = match kind {
        "s" => FlashKind::Success,
        "e" => FlashKind::Error,
        _ => return None,
    };
    Some(Flash {
        kind,
        message: message.to_string(),
    })
}

/// The logged-in member. Extracting it from an anonymous request redirects (303) to
/// the login page, which returns to the same path and query after login.
#[derive(Debug, Clone)]
pub struct CurrentMember(pub Member);

impl FromRequestParts<AppState> for CurrentMember {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Response> {
        match parts.extensions.get::<SessionMember>() {
            Some(SessionMember(Some(member))) => Ok(CurrentMember(member.clone())),
            _ => Err(login_redirect(&login_return_path(parts))),
        }
    }
}

impl OptionalFromRequestParts<AppState> for CurrentMember {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(match parts.extensions.get::<SessionMember>() {
            Some(SessionMember(Some(member))) => Some(CurrentMember(member.clone())),
            _ => None,
        })
    }
}

/// Redirects (303) to the login page, which returns to `next` (a local path) after
/// login.
pub fn login_redirect(next: &str) -> Response {
    Redirect::to(&format!("/account/login/?next={}", urlencode(next))).into_response()
}

/// Where the login page returns to: the requested page for a GET. A form submission
/// cannot be repeated after login, and its path is often not a page, so it returns to
/// the front page.
fn login_return_path(parts: &Parts) -> String {
    if matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        return parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/")
            .to_string();
    }
    "/".to_string()
}

/// A site admin. An anonymous visitor is redirected to log in; any other member gets
/// 404, so the admin pages' existence is not revealed to them.
#[derive(Debug, Clone)]
pub struct AdminMember(pub Member);

impl FromRequestParts<AppState> for AdminMember {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let CurrentMember(member) =
            <CurrentMember as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if member.is_admin {
            Ok(AdminMember(member))
        } else {
            Err(PageError::NotFound.into_response())
        }
    }
}

/// Data for the shared layout: the site name, the logged-in member, a flash message.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub site_name: String,
    pub member: Option<Member>,
    pub flash: Option<Flash>,
}

impl FromRequestParts<AppState> for PageContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let member = match parts.extensions.get::<SessionMember>() {
            Some(SessionMember(member)) => member.clone(),
            None => None,
        };
        Ok(PageContext {
            site_name: state.settings.site_name.clone(),
            member,
            flash: parts.extensions.get::<Flash>().cloned(),
        })
    }
}

/// Percent-encodes a query parameter value.
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Accepts a post-login `next` target only if it is a path on this site, so the login
/// page cannot be used as an open redirect.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control()) =>
        {
            path.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_next_keeps_local_paths_only() {
        assert_eq!(
            safe_next(Some("/direct-sharing/projects/manage/?a=1")),
            "/direct-sharing/projects/manage/?a=1"
        );
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/ok\r\nSet-Cookie: x")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn read_cookie_finds_named_value() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; oh_session=abc; b=2"),
        );
        assert_eq!(read_cookie(&headers, "oh_session"), Some("abc"));
        assert_eq!(read_cookie(&headers, "missing"), None);
    }
}
