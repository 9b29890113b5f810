//! Request headers read by hand: `Range` on downloads, `X-Forwarded-For` and
//! `X-Forwarded-Proto` through trusted proxies, the trusted proxy list itself, and
//! `Cookie`.
//!
//! Properties:
//! - A satisfiable range is non-empty and inside the file.
//! - The client address is the peer unless the peer is a trusted proxy, and
//!   otherwise an address that the headers named.
//! - A proxy list prints as text that parses to itself.
//! - A cookie value never spans two cookies.

#![no_main]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::fuzzing::{self, RangeRequest};
use openhumans::http::client_addr::{ClientAddr, TrustedProxies};
use openhumans::http::session::read_cookie;

#[derive(Debug, Arbitrary)]
struct Input {
    range: String,
    size: u64,
    proxies: String,
    peer: IpAddr,
    forwarded_for: Vec<Vec<u8>>,
    forwarded_proto: Vec<u8>,
    cookies: Vec<Vec<u8>>,
    cookie_name: String,
}

fuzz_target!(|input: Input| {
    check_range(&input.range, input.size);
    let trusted = check_trusted_proxies(&input.proxies);
    check_client_addr(&input, &trusted);
    check_cookie(&input.cookies, &input.cookie_name);
});

fn check_range(header: &str, size: u64) {
    match fuzzing::parse_range(header, size) {
        RangeRequest::Satisfiable(range) => {
            assert!(
                range.start < range.end,
                "empty range {range:?} for {header:?}"
            );
            assert!(
                range.end <= size,
                "{range:?} ends after {size} for {header:?}"
            );
        }
        RangeRequest::Unsatisfiable | RangeRequest::Ignore => {}
    }
}

fn check_trusted_proxies(list: &str) -> TrustedProxies {
    let Ok(trusted) = list.parse::<TrustedProxies>() else {
        return TrustedProxies::default();
    };
    let printed = trusted.to_string();
    assert_eq!(
        printed.parse::<TrustedProxies>().as_ref(),
        Ok(&trusted),
        "{printed}"
    );
    trusted
}

fn check_client_addr(input: &Input, trusted: &TrustedProxies) {
    let mut headers = HeaderMap::new();
    let mut named: Vec<IpAddr> = Vec::new();
    for value in &input.forwarded_for {
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        if let Ok(text) = value.to_str() {
            let entries = text
                .split(',')
                .filter_map(|entry| entry.trim().parse::<IpAddr>().ok());
            named.extend(entries.map(|address| address.to_canonical()));
        }
        headers.append("x-forwarded-for", value);
    }
    if let Ok(value) = HeaderValue::from_bytes(&input.forwarded_proto) {
        headers.append("x-forwarded-proto", value);
    }

    let client = ClientAddr::resolve(input.peer, &headers, trusted);
    let peer = input.peer.to_canonical();
    if trusted.contains(peer) {
        assert!(
            client.ip == peer || named.contains(&client.ip),
            "{client:?}"
        );
    } else {
        assert_eq!(
            client,
            ClientAddr {
                ip: peer,
                https: false
            }
        );
    }
}

fn check_cookie(values: &[Vec<u8>], name: &str) {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append("cookie", value);
        }
    }
    if let Some(value) = read_cookie(&headers, name) {
        assert!(!value.contains(';'), "{value:?} spans two cookies");
    }
}
