//! The JSON API under `/api/`: its error shapes, body parsing, pagination, and the
//! headers every API response carries.
//!
//! Every `/api/` response is marked never-cache and allows any origin (CORS), as Open
//! Humans does. The API takes bearer tokens only, never the session cookie, so
//! allowing every origin exposes nothing a page's cookies could unlock.

pub mod auth;
pub mod body;
pub mod direct_sharing;
pub mod error;
pub mod pagination;
pub mod public;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use body::ApiBody;
pub use error::ApiError;
pub use pagination::{PageRequest, Paginated};

/// `Cache-Control` of every API response.
pub const NEVER_CACHE: &str = "max-age=0, no-cache, no-store, must-revalidate, private";

/// Adds the never-cache and CORS headers to `/api/` responses, responds to CORS preflight
/// requests, and turns the router's plain 404 and 405 responses into the API's JSON
/// error shape.
pub async fn api_headers(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let mut response = if method == Method::OPTIONS {
        preflight_response()
    } else {
        let response = next.run(request).await;
        as_json_error(response, method)
    };
    add_api_headers(response.headers_mut());
    response
}

/// 405 handler for API routes: `{"detail": "Method \"X\" not allowed."}`. Routes
/// built with `get(..)`/`post(..)` get this shape from [`api_headers`] already; this
/// handler is for method routers that set their own fallback.
pub async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(method)
}

fn preflight_response() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    response
}

/// Replaces a 404 or 405 that is not JSON (the router's own) with the API's JSON error.
fn as_json_error(response: Response, method: Method) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let error = match response.status() {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(method),
        _ => return response,
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut replaced = error.into_response();
    if let Some(allow) = allow {
        replaced.headers_mut().insert(header::ALLOW, allow);
    }
    replaced
}

fn add_api_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NEVER_CACHE));
    let now = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(value) = HeaderValue::from_str(&now) {
        headers.insert(header::EXPIRES, value);
    }
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}
