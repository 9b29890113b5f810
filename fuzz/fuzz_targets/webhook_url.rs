//! The URLs of a project configuration (the deauthorization webhook and the redirect
//! URIs) and the address check that guards webhook deliveries against server-side
//! request forgery.
//!
//! Properties:
//! - An accepted webhook URL is an http or https URL without user information or
//!   fragment. Its host is neither `localhost` nor an IP address outside the public
//!   internet.
//! - An accepted redirect URI follows RFC 8252.
//! - A configuration read back into a form validates to itself.
//! - `is_public` never calls an address public that the standard library's
//!   `is_global` (nightly, after the IANA special-purpose registries) rejects.
//! - An IPv6 address that embeds an IPv4 address is judged by that address.

#![no_main]
#![feature(ip)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::domain::project::{ProjectInput, private_host, validate};
use openhumans::http::webhook_client::is_public;
use url::{Host, Url};

#[derive(Debug, Arbitrary)]
struct Input {
    deauth_webhook: String,
    /// `None` stands for a valid redirect URI, so most inputs reach the webhook check.
    redirect_url: Option<String>,
    ipv4: u32,
    ipv6: u128,
}

fuzz_target!(|input: Input| {
    let redirect_url = input
        .redirect_url
        .as_deref()
        .unwrap_or("https://example.org/cb");
    check_project_urls(&input.deauth_webhook, redirect_url);
    check_ipv4(Ipv4Addr::from(input.ipv4));
    check_ipv6(Ipv6Addr::from(input.ipv6));
    check_ipv6_embedding(Ipv4Addr::from(input.ipv4), input.ipv6);
});

fn check_project_urls(deauth_webhook: &str, redirect_url: &str) {
    let input = ProjectInput {
        is_study: "true".into(),
        name: "Sleep Study".into(),
        leader: "Ada Lovelace".into(),
        is_academic_or_nonprofit: "false".into(),
        contact_email: "lab@example.org".into(),
        info_url: "https://example.org/".into(),
        short_description: "We study sleep.".into(),
        request_message_permission: "false".into(),
        request_username_access: "false".into(),
        enrollment_url: "https://example.org/join".into(),
        terms_url: "https://example.org/terms".into(),
        redirect_url: redirect_url.into(),
        deauth_webhook: deauth_webhook.into(),
        ..ProjectInput::default()
    };
    let Ok(config) = validate(&input, &[], false) else {
        return;
    };

    if let Some(webhook) = &config.deauth_webhook {
        let url = Url::parse(webhook).expect("an accepted webhook URL parses");
        assert!(matches!(url.scheme(), "http" | "https"), "{webhook}");
        assert!(
            url.username().is_empty() && url.password().is_none(),
            "{webhook}"
        );
        assert!(url.fragment().is_none(), "{webhook}");
        assert_eq!(private_host(&url), None, "{webhook}");
        match url.host() {
            Some(Host::Ipv4(ip)) => assert!(is_public(IpAddr::V4(ip)), "{webhook}"),
            Some(Host::Ipv6(ip)) => assert!(is_public(IpAddr::V6(ip)), "{webhook}"),
            Some(Host::Domain(domain)) => {
                let domain = domain.trim_end_matches('.');
                assert_ne!(domain, "localhost");
                assert!(!domain.ends_with(".localhost"), "{webhook}");
            }
            None => panic!("an accepted webhook URL has no host: {webhook}"),
        }
    }
    for uri in &config.redirect_uris {
        let url = Url::parse(uri).expect("an accepted redirect URI parses");
        assert!(!uri.contains('#'), "{uri}");
        assert!(
            url.username().is_empty() && url.password().is_none(),
            "{uri}"
        );
        let loopback = matches!(
            url.host(),
            Some(Host::Ipv4(Ipv4Addr::LOCALHOST)) | Some(Host::Ipv6(Ipv6Addr::LOCALHOST))
        ) || url.host_str() == Some("localhost");
        match url.scheme() {
            "https" => {}
            "http" => assert!(loopback, "http redirect URI on another host: {uri}"),
            scheme => assert!(scheme.contains('.'), "{uri}"),
        }
    }

    let again = validate(&ProjectInput::from_config(&config), &[], false);
    assert_eq!(
        again.as_ref(),
        Ok(&config),
        "a stored configuration no longer validates"
    );
}

fn check_ipv4(ip: Ipv4Addr) {
    if is_public(IpAddr::V4(ip)) {
        assert!(ip.is_global(), "{ip} is public but not global");
    }
}

fn check_ipv6(ip: Ipv6Addr) {
    if embedded_ipv4(ip).is_some() || ip.is_unspecified() || ip.is_loopback() {
        return;
    }
    if is_public(IpAddr::V6(ip)) {
        assert!(ip.is_global(), "{ip} is public but not global");
    }
}

/// Checks that each IPv6 address carrying `v4` is public exactly when `v4` is.
fn check_ipv6_embedding(v4: Ipv4Addr, bits: u128) {
    let v4_bits = u128::from(v4.to_bits());
    let forms = [
        v4.to_ipv6_mapped(),
        Ipv6Addr::from(0x0064_ff9b_u128 << 96 | v4_bits),
        Ipv6Addr::from(0x2002_u128 << 112 | v4_bits << 80 | (bits & ((1 << 80) - 1))),
    ];
    let expected = is_public(IpAddr::V4(v4));
    for ip in forms {
        assert_eq!(is_public(IpAddr::V6(ip)), expected, "{ip} embeds {v4}");
    }
    // IPv4-compatible addresses, except :: and ::1, which mean something else.
    if v4_bits > 1 {
        let compatible = Ipv6Addr::from(v4_bits);
        assert_eq!(is_public(IpAddr::V6(compatible)), expected, "{compatible}");
    }
}

/// Returns the IPv4 address inside a mapped, compatible, NAT64 or 6to4 address.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let low = Ipv4Addr::from((u32::from(segments[6]) << 16) | u32::from(segments[7]));
    match segments {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, high, next, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(next))),
        _ => None,
    }
}
