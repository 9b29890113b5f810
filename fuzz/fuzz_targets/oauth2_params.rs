//! Parameters of authorization and token requests: redirect URIs, scopes and PKCE,
//! plus the `next` target that the login page redirects to.
//!
//! Properties:
//! - A redirect URI that matches a registered one without being equal differs only
//!   in the port of a loopback address, so it reaches the same host, path and query.
//! - A scope prints as text that parses to itself.
//! - A code verifier is accepted only with its own S256 challenge.
//! - `next` never leaves the site and is always a valid `Location` header.

#![no_main]

use axum::http::HeaderValue;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::domain::oauth2::pkce;
use openhumans::domain::oauth2::redirect_uri::{matches, resolve};
use openhumans::domain::oauth2::scope::{SUPPORTED_SCOPES, Scope};
use openhumans::http::session::safe_next;
use url::Url;

const SITE: &str = "https://openhumans.example/account/login/";

#[derive(Debug, Arbitrary)]
struct Input {
    registered: Vec<String>,
    requested: Option<String>,
    scope: Option<String>,
    challenge: Option<String>,
    method: Option<String>,
    verifier: String,
    next: Option<String>,
}

fuzz_target!(|input: Input| {
    check_redirect_uri(&input.registered, input.requested.as_deref());
    check_scope(input.scope.as_deref());
    check_pkce(&input);
    check_next(input.next.as_deref());
});

fn check_redirect_uri(registered: &[String], requested: Option<&str>) {
    if let Ok(resolved) = resolve(requested, registered) {
        assert!(registered.iter().any(|uri| matches(uri, &resolved.uri)));
        if !resolved.given {
            assert_eq!(registered, [resolved.uri.clone()]);
        }
    }
    let Some(requested) = requested else { return };
    for uri in registered {
        assert!(matches(uri, uri), "{uri} does not match itself");
        if uri != requested && matches(uri, requested) {
            check_loopback_port_only(uri, requested);
        }
    }
}

/// Matching without equality is allowed only for the port of a loopback address.
fn check_loopback_port_only(registered: &str, requested: &str) {
    let (Ok(registered), Ok(requested)) = (Url::parse(registered), Url::parse(requested)) else {
        panic!("{registered} matched {requested} but one of them is not a URL");
    };
    assert_eq!(requested.scheme(), "http");
    assert_eq!(registered.scheme(), "http");
    assert!(
        matches!(requested.host_str(), Some("127.0.0.1" | "[::1]")),
        "{requested}"
    );
    assert_eq!(registered.host(), requested.host());
    assert_eq!(registered.path(), requested.path());
    assert_eq!(registered.query(), requested.query());
    assert_eq!(registered.fragment(), requested.fragment());
}

fn check_scope(value: Option<&str>) {
    let Ok(scope) = Scope::parse(value) else {
        return;
    };
    let text = scope.to_string();
    assert!(
        text.split(' ').all(|name| SUPPORTED_SCOPES.contains(&name)),
        "{text:?}"
    );
    assert_eq!(Scope::parse(Some(&text)).as_ref(), Ok(&scope));
    assert!(scope.contains_all(&scope));
}

fn check_pkce(input: &Input) {
    let challenge = input.challenge.as_deref();
    if let Ok(Some(stored)) = pkce::validate_challenge(challenge, input.method.as_deref()) {
        assert_eq!(input.method.as_deref(), Some(pkce::S256));
        assert_eq!(Some(stored.as_str()), challenge);
        assert!((43..=128).contains(&stored.len()));
    }

    let verifier = input.verifier.as_str();
    if pkce::verify(challenge, Some(verifier)).is_ok() {
        assert_eq!(challenge, Some(pkce::s256(verifier).as_str()));
    }
    let unreserved = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
    if (43..=128).contains(&verifier.len()) && verifier.bytes().all(unreserved) {
        let own = pkce::s256(verifier);
        assert_eq!(pkce::verify(Some(&own), Some(verifier)), Ok(()));
    }
}

fn check_next(next: Option<&str>) {
    let target = safe_next(next);
    assert!(
        HeaderValue::from_str(&target).is_ok(),
        "{target:?} is not a valid Location header"
    );
    let base = Url::parse(SITE).expect("the site URL parses");
    let joined = base.join(&target).expect("a local path joins the site URL");
    assert_eq!(joined.origin(), base.origin(), "{target:?} leaves the site");
}
