//! Errors of the JSON API, rendered in the shapes Open Humans clients expect. Each
//! variant documents the status it becomes. Internal details go to the request log,
//! never to the client.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::http::error::ErrorDetail;

/// The message of one field in a flat field-error response: a list of messages, as
/// form validation produces, or a single string, as hand-raised errors are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldMessage {
    List(Vec<String>),
    Single(String),
}

/// A failed API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `{"detail": …}` with `WWW-Authenticate: Bearer realm="api"`: credentials
    /// missing, unknown or expired.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403 `{"detail": …}`.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 404 `{"detail": "Not found."}`.
    #[error("not found")]
    NotFound,
    /// 405 `{"detail": "Method \"X\" not allowed."}`.
    #[error("method {0} not allowed")]
    MethodNotAllowed(Method),
    /// 400 `{"detail": …}`: a body that cannot be read (bad JSON, invalid UTF-8, an
    /// unsupported content type), or a request-wide problem such as an unknown file.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400 with a flat object of field errors: `{"metadata": ["…"]}` or
    /// `{"project_member_id": "…"}`, as the upload, delete and exchange endpoints
    /// return them.
    #[error("invalid fields")]
    Fields(BTreeMap<String, FieldMessage>),
    /// 400 `{"errors": {"field": ["…"]}}`, as the message and remove-members endpoints
    /// return them; `__all__` contains request-wide messages.
    #[error("invalid fields")]
    Errors(BTreeMap<String, Vec<String>>),
    /// 413 `{"detail": …}`.
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    /// 429 `{"detail": …}` with `Retry-After` in seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64, detail: String },
    /// 500 `{"detail": "A server error occurred."}`; the cause is logged with the
    /// request id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A flat field error whose value is a list holding `message`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(BTreeMap::from([(
            field.to_string(),
            FieldMessage::List(vec![message.into()]),
        )]))
    }

    /// A flat field error whose value is the string `message`.
    pub fn field_single(field: &str, message: impl Into<String>) -> Self {
        ApiError::Fields(BTreeMap::from([(
            field.to_string(),
            FieldMessage::Single(message.into()),
        )]))
    }

    /// An `{"errors": {field: [message]}}` error.
    pub fn errors(field: &str, message: impl Into<String>) -> Self {
        ApiError::Errors(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }

    /// Returns the status code this error becomes.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) | ApiError::Fields(_) | ApiError::Errors(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Returns the JSON body this error becomes.
    pub fn body(&self) -> Value {
        match self {
            ApiError::Unauthorized(detail)
            | ApiError::Forbidden(detail)
            | ApiError::BadRequest(detail)
            | ApiError::PayloadTooLarge(detail)
            | ApiError::TooManyRequests { detail, .. } => json!({ "detail": detail }),
            ApiError::NotFound => json!({ "detail": "Not found." }),
            ApiError::MethodNotAllowed(method) => {
                json!({ "detail": format!("Method \"{method}\" not allowed.") })
            }
            ApiError::Fields(fields) => {
                let object: Map<String, Value> = fields
                    .iter()
                    .map(|(field, message)| {
                        let value = match message {
                            FieldMessage::List(messages) => json!(messages),
                            FieldMessage::Single(message) => json!(message),
                        };
                        (field.clone(), value)
                    })
                    .collect();
                Value::Object(object)
            }
            ApiError::Errors(errors) => json!({ "errors": errors }),
            ApiError::Internal(_) => json!({ "detail": "A server error occurred." }),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(error).context("database query failed"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"api\""),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
            .extensions_mut()
            .insert(ErrorDetail(format!("{self:#}")));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies_match_the_upstream_shapes() {
        let cases: Vec<(ApiError, u16, Value)> = vec![
            (
                ApiError::Unauthorized("Invalid token.".into()),
                401,
                json!({"detail": "Invalid token."}),
            ),
            (ApiError::NotFound, 404, json!({"detail": "Not found."})),
            (
                ApiError::MethodNotAllowed(Method::GET),
                405,
                json!({"detail": "Method \"GET\" not allowed."}),
            ),
            (
                ApiError::field("metadata", "metadata is not valid JSON"),
                400,
                json!({"metadata": ["metadata is not valid JSON"]}),
            ),
            (
                ApiError::field_single("project_member_id", "project_member_id is invalid"),
                400,
                json!({"project_member_id": "project_member_id is invalid"}),
            ),
            (
                ApiError::errors("__all__", "Choose recipients."),
                400,
                json!({"errors": {"__all__": ["Choose recipients."]}}),
            ),
            (
                ApiError::Internal(anyhow::anyhow!("secret detail")),
                500,
                json!({"detail": "A server error occurred."}),
            ),
        ];
        for (error, status, body) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.body(), body, "{error:?}");
        }
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let response = ApiError::Unauthorized("Invalid token.".into()).into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"api\""
        );
    }

    #[test]
    fn internal_detail_is_kept_for_the_log_only() {
        let response = ApiError::Internal(anyhow::anyhow!("disk on fire")).into_response();
        let detail = response.extensions().get::<ErrorDetail>().unwrap();
        assert!(detail.0.contains("disk on fire"));
    }
}
