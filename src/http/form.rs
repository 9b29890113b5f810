//! Reading `application/x-www-form-urlencoded` bodies with our own error pages.
//!
//! axum's `Form` rejects malformed input with plain-text rejections and decodes
//! invalid UTF-8 lossily; this extractor rejects it with a readable page instead:
//! 415 for another content type, 413 for a body over the configured limit, 400 for
//! invalid UTF-8 or a missing field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::{PageError, error_page};

/// The fields of a submitted form, in the order sent. Every page that takes an
/// urlencoded form reads it through this extractor.
#[derive(Debug, Clone, Default)]
pub struct FormBody(Vec<(String, String)>);

impl FormBody {
    /// Returns the first value of `name`, or a 400 naming the field when the form lacks it.
    pub fn required(&self, name: &str) -> Result<&str, PageError> {
        self.optional(name).ok_or_else(|| {
            PageError::BadRequest(format!(
                "The form field \"{name}\" is missing. Reload the page and submit the form again."
            ))
        })
    }

    /// Returns the first value of `name`, if the form has it.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        if !is_form_content_type(request.headers()) {
            return Err(error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported form encoding",
                "This page accepts forms sent as application/x-www-form-urlencoded.",
                &"unsupported content type",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    error_page(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Form too large",
                        "The submitted form is larger than this site accepts. Shorten the \
                         text and submit it again.",
                        &rejection,
                    )
                } else {
                    PageError::BadRequest("The form could not be read.".to_string()).into_response()
                }
            })?;
        let fields = parse_urlencoded(&bytes).ok_or_else(|| {
            PageError::BadRequest(
                "The form contains text that is not valid UTF-8. Submit it from a browser \
                 page of this site."
                    .to_string(),
            )
            .into_response()
        })?;
        Ok(FormBody(fields))
    }
}

fn is_form_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Decodes a urlencoded body, or returns `None` when a name or value is not valid
/// UTF-8 after percent-decoding.
pub(crate) fn parse_urlencoded(body: &[u8]) -> Option<Vec<(String, String)>> {
    body.split(|&byte| byte == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&byte| byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            Some((percent_decode(name)?, percent_decode(value)?))
        })
        .collect()
}

/// Decodes `+` and `%XX` escapes; a `%` not followed by two hex digits stays as is,
/// as browsers and the WHATWG URL standard treat it.
fn percent_decode(input: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(input.len());
    let mut index = 0;
    while index < input.len() {
        match input[index] {
            b'+' => bytes.push(b' '),
            b'%' => match input.get(index + 1..index + 3).and_then(hex_pair) {
                Some(byte) => {
                    bytes.push(byte);
                    index += 2;
                }
                None => bytes.push(b'%'),
            },
            byte => bytes.push(byte),
        }
        index += 1;
    }
    String::from_utf8(bytes).ok()
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |byte: u8| (byte as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
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
    fn parse_decodes_plus_and_percent_escapes() {
        assert_eq!(
            parse_urlencoded(b"username=a+b&email=x%40example.org&next=%2F%3Fa%3D1"),
            Some(pairs(&[
                ("username", "a b"),
                ("email", "x@example.org"),
                ("next", "/?a=1")
            ]))
        );
    }

    #[test]
    fn parse_keeps_empty_and_valueless_fields() {
        assert_eq!(
            parse_urlencoded(b"a=&b&&c=%C3%A9"),
            Some(pairs(&[("a", ""), ("b", ""), ("c", "é")]))
        );
    }

    #[test]
    fn parse_keeps_stray_percent_signs() {
        assert_eq!(
            parse_urlencoded(b"a=100%&b=%zz&c=%4"),
            Some(pairs(&[("a", "100%"), ("b", "%zz"), ("c", "%4")]))
        );
    }

    #[test]
    fn parse_rejects_invalid_utf8() {
        assert_eq!(parse_urlencoded(b"a=%FF"), None);
        assert_eq!(parse_urlencoded(b"a=\xff"), None);
        assert_eq!(parse_urlencoded(b"%C3=1"), None);
    }

    #[test]
    fn first_value_of_repeated_field_wins() {
        let form = FormBody(pairs(&[("a", "1"), ("a", "2")]));
        assert_eq!(form.optional("a"), Some("1"));
        assert!(form.required("missing").is_err());
    }
}
