//! The client's address and scheme, as seen through trusted reverse proxies.
//!
//! The TCP peer is the client unless it is one of the configured trusted proxies. A
//! trusted proxy reports the client in `X-Forwarded-For` and the scheme the client
//! used in `X-Forwarded-Proto`. From anyone else those headers are ignored, because
//! any client can send them. [`resolve_client`] runs before everything else and
//! stores a [`ClientAddr`] in the request's extensions. Handlers and middleware that
//! need the client's address take it from there, never from the peer address.

use std::convert::Infallible;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::app::AppState;

/// The addresses and CIDR ranges of reverse proxies whose forwarding headers are
/// believed, parsed from a comma-separated list such as `10.0.0.0/8, ::1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Returns whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut networks = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let network = match entry.parse::<IpNet>() {
                Ok(network) => network.trunc(),
                Err(_) => match entry.parse::<IpAddr>() {
                    Ok(address) => IpNet::from(address.to_canonical()),
                    Err(_) => {
                        return Err(format!(
                            "{entry:?} is not an IP address or a CIDR range such as \
                             10.0.0.0/8 or fd00::/8"
                        ));
                    }
                },
            };
            networks.push(network);
        }
        Ok(TrustedProxies(networks))
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// The client of a request: its address, and whether it reached the site over https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    pub ip: IpAddr,
    /// True only when a trusted proxy reported `X-Forwarded-Proto: https`, because
    /// this server itself speaks plain HTTP.
    pub https: bool,
}

impl ClientAddr {
    /// Resolves the client of a request that arrived from `peer` with `headers`.
    ///
    /// `X-Forwarded-For` is read from right to left, skipping trusted proxies, and the
    /// first address that is not a trusted proxy is the client. Entries further left
    /// were written by that client and cannot be believed. An entry that is not an IP
    /// address ends the walk at the proxy that forwarded it.
    pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientAddr {
        let peer = peer.to_canonical();
        if !trusted.contains(peer) {
            return ClientAddr {
                ip: peer,
                https: false,
            };
        }

        let mut ip = peer;
        for entry in header_list(headers, "x-forwarded-for").into_iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(address) => {
                    ip = address.to_canonical();
                    if !trusted.contains(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        // The connected proxy sets the last value. Earlier ones may come from the client.
        let https = header_list(headers, "x-forwarded-proto")
            .last()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https"));
        ClientAddr { ip, https }
    }
}

/// Splits every `name` header at commas and returns the trimmed values in order.
fn header_list<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .collect()
}

/// Resolves the request's [`ClientAddr`] once and stores it in the request's extensions.
pub async fn resolve_client(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = client_of(&request, &state.settings.trusted_proxies);
    request.extensions_mut().insert(client);
    next.run(request).await
}

/// Returns the request's [`ClientAddr`], resolving it from the peer address when
/// [`resolve_client`] has not stored it yet.
pub fn client_of(request: &Request, trusted: &TrustedProxies) -> ClientAddr {
    if let Some(client) = request.extensions().get::<ClientAddr>() {
        return *client;
    }
    let peer = peer_ip(request.extensions());
    ClientAddr::resolve(peer, request.headers(), trusted)
}

/// Returns the TCP peer's address. A request served without connection information
/// (only in-process tests do that) counts as coming from the unspecified address.
fn peer_ip(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        if let Some(client) = parts.extensions.get::<ClientAddr>() {
            return Ok(*client);
        }
        let peer = peer_ip(&parts.extensions);
        Ok(ClientAddr::resolve(
            peer,
            &parts.headers,
            &state.settings.trusted_proxies,
        ))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn proxies(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let sent = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = ClientAddr::resolve(ip("203.0.113.9"), &sent, &proxies("10.0.0.0/8"));
        assert_eq!(client.ip, ip("203.0.113.9"));
        assert!(!client.https);
    }

    #[test]
    fn no_trusted_proxies_ignores_headers() {
        let sent = headers(&[("x-forwarded-for", "198.51.100.7")]);
        let client = ClientAddr::resolve(ip("127.0.0.1"), &sent, &TrustedProxies::default());
        assert_eq!(client.ip, ip("127.0.0.1"));
    }

    #[test]
    fn trusted_peer_gives_rightmost_untrusted_address() {
        // The client forged the first entry, and the proxy appended the real address.
        let sent = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.7, 10.0.0.5"),
            ("x-forwarded-proto", "https"),
        ]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.0/8"));
        assert_eq!(client.ip, ip("198.51.100.7"));
        assert!(client.https);
    }

    #[test]
    fn forwarded_for_headers_are_joined_in_order() {
        let sent = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.2"));
        assert_eq!(client.ip, ip("198.51.100.7"));
    }

    #[test]
    fn trusted_peer_without_header_is_the_client() {
        let client = ClientAddr::resolve(ip("10.0.0.2"), &HeaderMap::new(), &proxies("10.0.0.2"));
        assert_eq!(client.ip, ip("10.0.0.2"));
        assert!(!client.https);
    }

    #[test]
    fn all_trusted_entries_give_leftmost() {
        let sent = headers(&[("x-forwarded-for", "10.1.1.1, 10.2.2.2")]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.0/8"));
        assert_eq!(client.ip, ip("10.1.1.1"));
    }

    #[test]
    fn invalid_entry_stops_at_last_proxy() {
        let sent = headers(&[("x-forwarded-for", "198.51.100.7, unknown, 10.0.0.9")]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.0/8"));
        assert_eq!(client.ip, ip("10.0.0.9"));
    }

    #[test]
    fn last_forwarded_proto_wins() {
        let sent = headers(&[("x-forwarded-proto", "https, http")]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.2"));
        assert!(!client.https);
        let sent = headers(&[("x-forwarded-proto", "HTTPS")]);
        let client = ClientAddr::resolve(ip("10.0.0.2"), &sent, &proxies("10.0.0.2"));
        assert!(client.https);
    }

    #[test]
    fn mapped_ipv6_peer_matches_ipv4_range() {
        let sent = headers(&[("x-forwarded-for", "::ffff:198.51.100.7")]);
        let client = ClientAddr::resolve(ip("::ffff:10.0.0.2"), &sent, &proxies("10.0.0.0/8"));
        assert_eq!(client.ip, ip("198.51.100.7"));
    }

    #[test]
    fn proxy_list_parses_addresses_and_ranges() {
        let list = proxies(" 10.0.0.0/8 , 192.168.1.7,fd00::/8, ::1 ");
        assert!(list.contains(ip("10.200.0.1")));
        assert!(list.contains(ip("192.168.1.7")));
        assert!(!list.contains(ip("192.168.1.8")));
        assert!(list.contains(ip("fd12::1")));
        assert!(list.contains(ip("::1")));
        assert!(!list.contains(ip("2001:db8::1")));
        assert!(proxies("").is_empty());
    }

    #[test]
    fn proxy_list_rejects_invalid_entries() {
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.1:80", "10.0.0.0/8;"] {
            let error = bad.parse::<TrustedProxies>().unwrap_err();
            assert!(error.contains("is not an IP address"), "{bad}: {error}");
        }
    }
}
