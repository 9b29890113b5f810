//! Request bodies of the project API, read into one multi-map whatever their encoding.
//!
//! Open Humans accepts `application/x-www-form-urlencoded`, `multipart/form-data` and
//! JSON, and its clients use all three. Handlers read fields from [`ApiBody`] without
//! caring which one arrived. Fields that carry JSON (`metadata`, `datatypes`) are JSON
//! text in every encoding, also inside a JSON body.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::error::ApiError;
use crate::app::AppState;

/// Returns the directory inside `data_dir` that multipart bodies are spooled to.
/// A spooled file is removed when its body is dropped; one a crash left is removed by
/// the clean-up job after a day.
pub fn spool_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("tmp")
}

/// The fields of a request body, and the one file part a multipart body may carry.
///
/// Text fields are limited to `--max-body-bytes` in total and the file part to
/// `--max-upload-bytes`; more is a 413. The file part is streamed to a temporary file
/// under `<data-dir>/tmp/`, removed when the body is dropped. Routes on the main
/// router still respond 408 after `--request-timeout-seconds`, which bounds the size
/// of a multipart upload in practice.
#[derive(Debug, Default)]
pub struct ApiBody {
    fields: Vec<(String, String)>,
    pub file: Option<UploadedFile>,
}

/// A file part of a multipart body, stored in a temporary file.
#[derive(Debug)]
pub struct UploadedFile {
    /// Name of the form field, e.g. `data_file`.
    pub field: String,
    /// The file name the client sent, as given.
    pub filename: String,
    pub content_type: Option<String>,
    pub size: u64,
    /// The temporary file; it is deleted when this value is dropped.
    pub path: tempfile::TempPath,
}

impl ApiBody {
    /// Builds a body from field pairs, for tests and internal callers.
    pub fn from_fields<K: Into<String>, V: Into<String>>(
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
            file: None,
        }
    }

    /// The last value of field `name`, as Django's `QueryDict` returns it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of field `name`, in order: repeated form fields, or the items of a
    /// JSON array.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|(field, _)| field == name)
    }

    /// Every `(name, value)` pair, in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

impl FromRequest<AppState> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| {
                value.to_str().map(str::to_string).map_err(|_| {
                    ApiError::BadRequest("The Content-Type header is not valid ASCII.".into())
                })
            })
            .transpose()?;
        let text_limit = state.settings.max_body_bytes;
        let body = request.into_body();

        let Some(content_type) = content_type else {
            let bytes = read_limited(body, text_limit).await?;
            if bytes.is_empty() {
                return Ok(ApiBody::default());
            }
            return Err(ApiError::BadRequest(
                "The request has a body but no Content-Type header; send \
                 application/x-www-form-urlencoded, multipart/form-data or application/json."
                    .into(),
            ));
        };
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();

        if essence == "application/x-www-form-urlencoded" {
            let bytes = read_limited(body, text_limit).await?;
            Ok(ApiBody {
                fields: parse_urlencoded(&bytes)?,
                file: None,
            })
        } else if essence == "application/json" || essence.ends_with("+json") {
            let bytes = read_limited(body, text_limit).await?;
            Ok(ApiBody {
                fields: parse_json(&bytes)?,
                file: None,
            })
        } else if essence == "multipart/form-data" {
            let boundary = multer::parse_boundary(&content_type).map_err(|error| {
                ApiError::BadRequest(format!("Multipart form parse error - {error}"))
            })?;
            read_multipart(
                body.into_data_stream(),
                boundary,
                text_limit,
                state.settings.max_upload_bytes,
                &spool_dir(&state.settings.data_dir),
            )
            .await
        } else {
            Err(ApiError::BadRequest(format!(
                "Unsupported media type \"{content_type}\" in request."
            )))
        }
    }
}

/// Reads the whole body, failing with 413 once it passes `limit` bytes.
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buffer = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::BadRequest(format!("Reading the request body failed: {error}"))
        })?;
        if buffer.len() + chunk.len() > limit {
            return Err(body_too_large(limit));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

fn body_too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "The request body is larger than the limit of {limit} bytes."
    ))
}

/// Parses `application/x-www-form-urlencoded` text, rejecting bytes that do not
/// decode to UTF-8 instead of replacing them.
pub fn parse_urlencoded(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut fields = Vec::new();
    for pair in bytes.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        fields.push((decode_form_component(name)?, decode_form_component(value)?));
    }
    Ok(fields)
}

fn decode_form_component(raw: &[u8]) -> Result<String, ApiError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(decoded).map_err(|_| {
        ApiError::BadRequest("The form body is not valid UTF-8 after percent-decoding.".into())
    })
}

/// Flattens a JSON object body into fields: strings as they are, numbers and booleans
/// as their JSON text, `null` as an absent field, each array item as one more value
/// of its field, and nested objects as JSON text.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| ApiError::BadRequest(format!("JSON parse error - {error}")))?;
    let Value::Object(object) = value else {
        return Err(ApiError::BadRequest(
            "JSON parse error - the body must be a JSON object.".into(),
        ));
    };
    let mut fields = Vec::new();
    for (name, value) in object {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    fields.push((name.clone(), json_field_text(item)));
                }
            }
            other => fields.push((name, json_field_text(other))),
        }
    }
    Ok(fields)
}

fn json_field_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

async fn read_multipart<S>(
    stream: S,
    boundary: String,
    text_limit: usize,
    file_limit: u64,
    temp_dir: &std::path::Path,
) -> Result<ApiBody, ApiError>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Send + 'static,
{
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut body = ApiBody::default();
    let mut text_bytes = 0usize;

    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if let Some(filename) = field.file_name().map(str::to_string) {
            if body.file.is_some() {
                return Err(ApiError::BadRequest(
                    "The multipart body has more than one file part; send one file per \
                     request."
                        .into(),
                ));
            }
            let content_type = field.content_type().map(ToString::to_string);
            let (path, size) = write_temp_file(&mut field, file_limit, temp_dir).await?;
            body.file = Some(UploadedFile {
                field: name,
                filename,
                content_type,
                size,
                path,
            });
            continue;
        }

        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            text_bytes += chunk.len();
            if text_bytes > text_limit {
                return Err(body_too_large(text_limit));
            }
            value.extend_from_slice(&chunk);
        }
        let value = String::from_utf8(value).map_err(|_| {
            ApiError::BadRequest(format!("The multipart field {name:?} is not valid UTF-8."))
        })?;
        body.fields.push((name, value));
    }
    Ok(body)
}

async fn write_temp_file(
    field: &mut multer::Field<'static>,
    limit: u64,
    temp_dir: &std::path::Path,
) -> Result<(tempfile::TempPath, u64), ApiError> {
    let internal = |error: std::io::Error| {
        ApiError::Internal(anyhow::Error::new(error).context("writing an uploaded file part"))
    };
    tokio::fs::create_dir_all(temp_dir)
        .await
        .map_err(internal)?;
    let path = tempfile::NamedTempFile::new_in(temp_dir)
        .map_err(internal)?
        .into_temp_path();
    let mut file = tokio::fs::File::create(&path).await.map_err(internal)?;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "The uploaded file is larger than the limit of {limit} bytes."
            )));
        }
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.flush().await.map_err(internal)?;
    Ok((path, size))
}

fn multipart_error(error: multer::Error) -> ApiError {
    ApiError::BadRequest(format!("Multipart form parse error - {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(fields: &[(&str, &str)]) -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn urlencoded_keeps_repeated_fields_and_decodes() {
        let fields =
            parse_urlencoded(b"project_member_ids=1&project_member_ids=2&message=a+b%21&flag")
                .unwrap();
        assert_eq!(
            fields,
            pairs(&[
                ("project_member_ids", "1"),
                ("project_member_ids", "2"),
                ("message", "a b!"),
                ("flag", ""),
            ])
        );
    }

    #[test]
    fn urlencoded_rejects_invalid_utf8() {
        let error = parse_urlencoded(b"name=%FF%FE").unwrap_err();
        assert!(matches!(error, ApiError::BadRequest(message) if message.contains("UTF-8")));
    }

    #[test]
    fn json_flattens_into_fields() {
        let mut fields = parse_json(
            br#"{"metadata": "{\"tags\": []}", "all_members": true, "file_id": 5,
                 "project_member_ids": ["12345678", 87654321], "skip": null,
                 "nested": {"a": 1}}"#,
        )
        .unwrap();
        // Object keys come out sorted; the items of one array keep their order.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            fields,
            pairs(&[
                ("all_members", "true"),
                ("file_id", "5"),
                ("metadata", "{\"tags\": []}"),
                ("nested", "{\"a\":1}"),
                ("project_member_ids", "12345678"),
                ("project_member_ids", "87654321"),
            ])
        );
    }

    #[test]
    fn json_errors_name_the_problem() {
        let error = parse_json(b"{not json").unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest(m) if m.starts_with("JSON parse error")));
        let error = parse_json(b"[1, 2]").unwrap_err();
        assert!(matches!(&error, ApiError::BadRequest(m) if m.contains("JSON object")));
        assert_eq!(parse_json(b"  ").unwrap(), Vec::new());
    }

    #[test]
    fn get_returns_the_last_value() {
        let body = ApiBody::from_fields([("a", "1"), ("a", "2")]);
        assert_eq!(body.get("a"), Some("2"));
        assert_eq!(body.get_all("a"), vec!["1", "2"]);
        assert!(body.contains("a"));
        assert_eq!(body.get("b"), None);
    }
}
