//! Page errors. Each variant documents the status it becomes. Internal details go to
//! the log (through the request-logging middleware), never to the visitor.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::middleware::current_request_id;

/// An error detail attached to a response for the request log to record.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// A page request that failed.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 404: the page does not exist, or the visitor may not know that it does.
    #[error("not found")]
    NotFound,
    /// 400: the request is malformed in a way no form field can show.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 429 with `Retry-After` in seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64, message: String },
    /// 500: anything unexpected; the detail is logged with the request id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PageError {
    fn from(error: sqlx::Error) -> Self {
        PageError::Internal(anyhow::Error::new(error).context("database query failed"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    request_id: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing here, or you do not have access to it.".to_string(),
            ),
            PageError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "Invalid request", message.clone())
            }
            PageError::TooManyRequests { message, .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                message.clone(),
            ),
            PageError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete this request. Please try again; if it keeps \
                 failing, report the request id below to the site operators."
                    .to_string(),
            ),
        };
        let response = error_page(status, title, &message, &self);
        match self {
            PageError::TooManyRequests { retry_after, .. } => {
                with_retry_after(response, retry_after)
            }
            _ => response,
        }
    }
}

/// Renders the error page with the request id, recording `error` for the log.
pub fn error_page(
    status: StatusCode,
    title: &str,
    message: &str,
    error: &dyn std::fmt::Display,
) -> Response {
    let page = ErrorPage {
        title,
        message,
        request_id: current_request_id(),
    };
    let body = page.render().unwrap_or_else(|_| message.to_string());
    let mut response = (status, Html(body)).into_response();
    response
        .extensions_mut()
        .insert(ErrorDetail(format!("{error:#}")));
    response
}

/// Adds `Retry-After` to a 429 response.
pub fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
