//! Middleware that every request passes through: request id and logging, metrics,
//! security headers, and the cross-site request check for forms.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::client_addr::{ClientAddr, client_of};
use super::error::{ErrorDetail, error_page};
use crate::app::AppState;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Returns the id of the request being handled, or `-` outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "-".to_string())
}

/// Runs `future` as part of the request `request_id`, for work a handler moves to a
/// task of its own.
pub fn with_request_id<F: std::future::Future>(
    request_id: String,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(request_id, future)
}

/// Status logged and counted for a request abandoned before its response, the code
/// nginx logs when a client closes the connection first.
const ABANDONED: u16 = 499;

/// The fields of a request's log line, kept until the response is ready.
struct RequestLine {
    started: Instant,
    request_id: String,
    method: Method,
    client: String,
    route: String,
}

/// Logs the request as abandoned (status 499) when dropped still armed, that is when
/// hyper drops the request's future before it produced a response: the connection
/// failed while the body was arriving, or the server stopped with the request running.
struct UnansweredGuard(Option<RequestLine>);

impl Drop for UnansweredGuard {
    fn drop(&mut self) {
        if let Some(line) = self.0.take() {
            let latency = line.started.elapsed();
            let latency_ms = latency.as_secs_f64() * 1000.0;
            let RequestLine {
                request_id,
                method,
                client,
                route,
                ..
            } = &line;
            tracing::info!(%method, %route, status = ABANDONED, latency_ms, request_id, client,
                "request abandoned before its response: the connection failed or the server stopped");
            record_metrics(line.method, line.route, ABANDONED, latency);
        }
    }
}

/// Gives the request an id, then logs one line and records metrics when it finishes,
/// or when it is abandoned first (status 499, see [`UnansweredGuard`]).
///
/// The log line names the matched route, never the URI: query strings carry access
/// tokens, codes and `state`. Its `client` is the address [`ClientAddr`] resolved.
pub async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = crate::crypto::random_token(16);
    let method = request.method().clone();
    let client = request
        .extensions()
        .get::<ClientAddr>()
        .map(|client| client.ip.to_string())
        .unwrap_or_else(|| "-".to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let mut guard = UnansweredGuard(Some(RequestLine {
        started,
        request_id: request_id.clone(),
        method,
        client,
        route,
    }));

    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .await;

    let RequestLine {
        method,
        client,
        route,
        ..
    } = guard
        .0
        .take()
        .expect("the guard is armed until the response");
    let status = response.status().as_u16();
    let latency = started.elapsed();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let error = response.extensions_mut().remove::<ErrorDetail>();
    match error {
        Some(ErrorDetail(detail)) if status >= 500 => {
            tracing::error!(%method, %route, status, latency_ms, request_id, client, error = %detail, "request failed");
        }
        _ => {
            tracing::info!(%method, %route, status, latency_ms, request_id, client, "request");
        }
    }

    record_metrics(method, route, status, latency);

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// Counts a finished request and records its duration, by method, route and status.
fn record_metrics(method: Method, route: String, status: u16, latency: std::time::Duration) {
    // Any client can send any method name; only standard ones become label values, so
    // the number of series stays bounded.
    let method = match method {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::OPTIONS
        | Method::PATCH => method,
        _ => Method::from_bytes(b"OTHER").expect("OTHER is a valid method token"),
    };
    let labels = [
        ("method", method.to_string()),
        ("route", route.clone()),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route)
        .record(latency.as_secs_f64());
}

/// Adds the security headers every response carries. Responses that set no
/// `Cache-Control` get `no-store`, because pages and API responses carry personal data
/// or credentials; static assets set their own.
///
/// `Strict-Transport-Security` is sent only on responses to requests that arrived over
/// https, which this server learns from a trusted proxy's `X-Forwarded-Proto`. Browsers
/// ignore the header on responses over plain HTTP (RFC 6797, section 8.1).
pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let https = client_of(&request, &state.settings.trusted_proxies).https;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Authorization redirects carry codes in the URL; only the origin may leak onward.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Rejects state-changing requests to pages that a browser sent from another site.
///
/// Browsers mark every request with `Sec-Fetch-Site`, and older ones send `Origin`
/// on cross-origin POSTs. A request with neither did not come from a browser page, so
/// it cannot be a cross-site forgery. Together with `SameSite=Lax` session cookies
/// this protects every form without a per-form token. Paths that take bearer
/// credentials instead of cookies (the API, the token endpoint, signed upload URLs)
/// are exempt: a forged request there carries no credential.
pub async fn reject_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_safe_method(request.method()) || is_exempt_path(request.uri().path()) {
        return next.run(request).await;
    }
    match cross_site_reason(request.headers(), &state.public_url) {
        None => next.run(request).await,
        Some(reason) => {
            // The matched route, not the path: paths such as reset links carry tokens.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map(|path| path.as_str().to_string())
                .unwrap_or_else(|| "unmatched".to_string());
            tracing::warn!(
                %route,
                reason,
                "rejected a cross-site form submission"
            );
            error_page(
                StatusCode::FORBIDDEN,
                "Request blocked",
                "This form was submitted from another site, so it was not accepted. Go back, \
                 reload the page and submit it again.",
                &reason,
            )
        }
    }
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths authenticated by bearer credentials, not by the session cookie.
fn is_exempt_path(path: &str) -> bool {
    path.starts_with("/api/")
        || path == "/oauth2/token/"
        || path == "/oauth2/revoke_token/"
        || path.starts_with("/upload/")
}

/// Returns why a request looks cross-site, or `None` when it is same-origin.
fn cross_site_reason(headers: &HeaderMap, public_url: &str) -> Option<&'static str> {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            _ => Some("Sec-Fetch-Site is not same-origin"),
        };
    }
    match headers.get(header::ORIGIN) {
        None => None,
        Some(origin) if origin.as_bytes() == public_url.as_bytes() => None,
        Some(_) => Some("Origin differs from the public URL"),
    }
}

/// Gives the router's bare 405 responses to page requests the site's error page; the
/// API renders its own JSON errors.
pub async fn render_method_not_allowed(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    if is_api
        || response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut page = error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This address takes form submissions only",
        "Open the page that has the form, and use its button.",
        &"method not allowed",
    );
    if let Some(allow) = allow {
        page.headers_mut().insert(header::ALLOW, allow);
    }
    page
}

/// Responds 404 to paths no route matches.
pub async fn not_found() -> impl IntoResponse {
    super::error::PageError::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cross_site_check_reads_fetch_metadata_then_origin() {
        let site = "http://127.0.0.1:8000";
        assert_eq!(
            cross_site_reason(&headers(&[("sec-fetch-site", "same-origin")]), site),
            None
        );
        assert_eq!(
            cross_site_reason(&headers(&[("sec-fetch-site", "none")]), site),
            None
        );
        assert!(cross_site_reason(&headers(&[("sec-fetch-site", "cross-site")]), site).is_some());
        assert!(cross_site_reason(&headers(&[("sec-fetch-site", "same-site")]), site).is_some());
        assert_eq!(
            cross_site_reason(&headers(&[("origin", "http://127.0.0.1:8000")]), site),
            None
        );
        assert!(cross_site_reason(&headers(&[("origin", "https://evil.example")]), site).is_some());
        assert!(cross_site_reason(&headers(&[("origin", "null")]), site).is_some());
        assert_eq!(cross_site_reason(&headers(&[]), site), None);
    }

    /// Log output collected in memory.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn abandoned_request_logged_as_499() {
        use tower::ServiceExt;

        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/slow/{id}",
                axum::routing::put(std::future::pending::<&'static str>),
            )
            .layer(axum::middleware::from_fn(log_request));
        let request = Request::put("/slow/7?code=secret")
            .body(axum::body::Body::empty())
            .unwrap();

        // The future is dropped unfinished, as hyper drops it when the connection fails.
        let outcome =
            tokio::time::timeout(std::time::Duration::from_millis(50), app.oneshot(request)).await;
        assert!(outcome.is_err(), "the handler never answers");

        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("request abandoned"), "{log}");
        assert!(log.contains("status=499"), "{log}");
        assert!(log.contains("route=/slow/{id}"), "{log}");
        assert!(!log.contains("secret"), "the URI is not logged: {log}");
    }
}
