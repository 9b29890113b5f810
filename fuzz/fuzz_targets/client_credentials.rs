//! Client authentication at the token endpoint (HTTP Basic or body fields) and the
//! credential of project API requests (`access_token` or `Authorization: Bearer`).
//!
//! Properties:
//! - Credentials encoded as RFC 6749 §2.3.1 prescribes decode to exactly what was
//!   encoded, whatever characters they contain.
//! - A header of another scheme is never taken for Basic credentials.
//! - An API credential is a non-empty value that the request carried.

#![no_main]

use axum::http::{Request, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::domain::oauth2::TokenError;
use openhumans::domain::oauth2::client_auth::credentials;
use openhumans::fuzzing;
use openhumans::http::api::direct_sharing::query_value;

#[derive(Debug, Arbitrary)]
struct Input {
    authorization: Option<String>,
    body_client_id: Option<String>,
    body_client_secret: Option<String>,
    client_id: String,
    client_secret: String,
    query: String,
    api_authorization: Vec<u8>,
}

fuzz_target!(|input: Input| {
    check_any_credentials(&input);
    check_basic_round_trip(&input.client_id, &input.client_secret);
    check_api_token(&input.query, &input.api_authorization);
});

fn check_any_credentials(input: &Input) {
    let result = credentials(
        input.authorization.as_deref(),
        input.body_client_id.as_deref(),
        input.body_client_secret.as_deref(),
    );
    match &input.authorization {
        None => {
            let expected = match (&input.body_client_id, &input.body_client_secret) {
                (Some(id), Some(secret)) => Ok((id.clone(), secret.clone())),
                _ => Err(TokenError::InvalidClient),
            };
            let parsed = result.map(|found| (found.client_id, found.client_secret));
            assert_eq!(parsed, expected);
        }
        Some(header) => {
            let scheme = header.trim().split(' ').next().unwrap_or_default();
            if !scheme.eq_ignore_ascii_case("basic") {
                assert_eq!(result, Err(TokenError::InvalidClient));
            }
        }
    }
}

fn check_basic_round_trip(client_id: &str, client_secret: &str) {
    let encode = |value: &str| -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    };
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    let header = format!("Basic {}", STANDARD.encode(pair));
    let parsed = credentials(Some(&header), None, None).expect("encoded credentials parse");
    assert_eq!(parsed.client_id, client_id);
    assert_eq!(parsed.client_secret, client_secret);

    // Clients that do not form-encode send alphanumeric credentials unchanged.
    let alphanumeric = |value: &str| value.bytes().all(|byte| byte.is_ascii_alphanumeric());
    if alphanumeric(client_id) && alphanumeric(client_secret) {
        let raw = format!(
            "basic   {}",
            STANDARD.encode(format!("{client_id}:{client_secret}"))
        );
        let parsed = credentials(Some(&raw), Some(client_id), None).expect("raw credentials parse");
        assert_eq!(parsed.client_id, client_id);
        assert_eq!(parsed.client_secret, client_secret);
    }
}

fn check_api_token(query: &str, authorization: &[u8]) {
    let mut request = Request::builder().uri(format!("/api/direct-sharing/project/?{query}"));
    if !authorization.is_empty() {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    let Ok(request) = request.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let Ok(Some(token)) = fuzzing::api_request_token(&parts) else {
        return;
    };

    assert!(!token.is_empty());
    let from_query = query_value(parts.uri.query(), "access_token").filter(|t| !t.is_empty());
    match from_query {
        Some(expected) => assert_eq!(token, expected, "access_token must win"),
        None => {
            assert!(
                !token.contains(' '),
                "a Bearer token with a space: {token:?}"
            );
            let header = String::from_utf8_lossy(authorization);
            assert!(header.contains(&token), "{token:?} is not in {header:?}");
        }
    }
}
