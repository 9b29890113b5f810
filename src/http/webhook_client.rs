//! The outbound HTTP client for webhooks, with a guard against server-side request
//! forgery.
//!
//! A project chooses its webhook URL, so without the guard it could make this server
//! POST to hosts on its own network or to a cloud metadata service. The host is
//! resolved with the system resolver and every address is checked. The client is then
//! pinned to the checked addresses, so a DNS response that changes between the check
//! and the connection cannot swap in another address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use url::Url;

/// Time allowed for connecting, and separately for the whole request.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Failure of a webhook POST that got no HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL may never be delivered to as configured: retrying cannot help.
    #[error("{0}")]
    Rejected(String),
    /// The receiver could not be reached this time (DNS, connection, timeout).
    #[error("{0}")]
    Unreachable(String),
}

/// POSTs `body` to `url` with `headers`, without following redirects, and returns
/// the response status. Unless `allow_private` is set, a URL whose host resolves to
/// any non-public address is rejected before anything is sent.
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: &str,
    allow_private: bool,
) -> Result<u16, SendError> {
    let parsed = Url::parse(url)
        .map_err(|error| SendError::Rejected(format!("invalid webhook URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(SendError::Rejected(format!(
            "invalid webhook URL: the scheme {:?} is not http or https",
            parsed.scheme()
        )));
    }
    let addresses = resolve(&parsed).await?;
    if !allow_private && let Some(address) = addresses.iter().find(|a| !is_public(a.ip())) {
        return Err(SendError::Rejected(format!(
            "webhook URL rejected: its host resolves to {}, which is not a public address \
             (the operator can allow them with OPENHUMANS_WEBHOOK_ALLOW_LOOPBACK=1)",
            address.ip()
        )));
    }

    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT);
    if let Some(url::Host::Domain(domain)) = parsed.host() {
        builder = builder.resolve_to_addrs(domain, &addresses);
    }
    let client = builder
        .build()
        .map_err(|error| SendError::Unreachable(format!("building the HTTP client: {error}")))?;
    let mut request = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.map_err(|error| {
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        // The URL may carry a token in its query, so it stays out of the stored error.
        let error = error.without_url();
        SendError::Unreachable(format!("{kind}: {}", error_chain(&error)))
    })?;
    Ok(response.status().as_u16())
}

/// Time allowed for resolving a webhook host when a project form is saved.
pub const SAVE_RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Returns one address of the host of `url` when the host is a name that resolves
/// only to non-public addresses. A name that does not resolve within
/// [`SAVE_RESOLVE_TIMEOUT`] passes, because the address guard checks it again before
/// each delivery.
pub async fn resolves_only_to_private(url: &str) -> Option<IpAddr> {
    let parsed = Url::parse(url).ok()?;
    if !matches!(parsed.host(), Some(url::Host::Domain(_))) {
        return None;
    }
    let addresses = tokio::time::timeout(SAVE_RESOLVE_TIMEOUT, resolve(&parsed))
        .await
        .ok()?
        .ok()?;
    if addresses.iter().all(|address| !is_public(address.ip())) {
        addresses.first().map(SocketAddr::ip)
    } else {
        None
    }
}

/// Resolves the URL's host to socket addresses with the system resolver.
async fn resolve(url: &Url) -> Result<Vec<SocketAddr>, SendError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| SendError::Rejected("invalid webhook URL: it has no port".to_string()))?;
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(url::Host::Domain(domain)) => {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
                .await
                .map_err(|error| {
                    SendError::Unreachable(format!("resolving {domain} failed: {error}"))
                })?
                .collect();
            if found.is_empty() {
                return Err(SendError::Unreachable(format!(
                    "resolving {domain} returned no address"
                )));
            }
            Ok(found)
        }
        None => Err(SendError::Rejected(
            "invalid webhook URL: it has no host".to_string(),
        )),
    }
}

/// Joins an error with its sources, as reqwest hides the cause (refused, DNS) in them.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Checks whether an address is globally reachable: not private, loopback,
/// link-local (which contains cloud metadata services), shared (CGNAT), multicast,
/// unspecified, reserved or set aside for documentation. IPv6 addresses that embed an
/// IPv4 address (mapped, compatible, the well-known NAT64 prefix, 6to4) are judged by
/// that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let forbidden = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata at 169.254.169.254
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224; // multicast, reserved, broadcast
    !forbidden
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) addresses carry
    // an IPv4 address in their last 32 bits.
    if segments[..6] == [0; 6] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        if ip.is_unspecified() || ip.is_loopback() {
            return false;
        }
        return is_public_v4(embedded_v4(segments[6], segments[7]));
    }
    // 6to4 (2002::/16) carries an IPv4 address in bits 16 to 48.
    if segments[0] == 0x2002 {
        return is_public_v4(embedded_v4(segments[1], segments[2]));
    }
    let forbidden = (segments[0] & 0xfe00) == 0xfc00 // unique local, fd00:ec2::254 included
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] & 0xff00) == 0xff00 // multicast
        // Local-use NAT64 (RFC 8215): a local translator may map it to any IPv4 address.
        || (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
        // IETF protocol assignments (2001::/23): Teredo, which tunnels to IPv4,
        // benchmarking, ORCHID and others that no webhook receiver uses.
        || (segments[0] == 0x2001 && segments[1] < 0x0200)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x3fff && segments[1] < 0x1000) // documentation (RFC 9637)
        || segments[0] == 0x5f00 // segment routing identifiers (RFC 9602)
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]); // discard-only
    !forbidden
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(address: &str) -> bool {
        is_public(address.parse().unwrap())
    }

    #[test]
    fn private_ipv4_addresses_are_not_public() {
        for address in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
        ] {
            assert!(!public(address), "{address}");
        }
    }

    #[test]
    fn public_ipv4_addresses_are_public() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.0.1",
            "172.32.0.1",
            "93.184.216.34",
        ] {
            assert!(public(address), "{address}");
        }
    }

    #[test]
    fn private_ipv6_addresses_are_not_public() {
        for address in [
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "2001:db8::1",
            "fec0::1",
            "64:ff9b:1::a9fe:a9fe",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "3fff::1",
            "5f00::1",
        ] {
            assert!(!public(address), "{address}");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_public() {
        for address in [
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(public(address), "{address}");
        }
    }

    #[tokio::test]
    async fn loopback_url_is_rejected_before_sending() {
        let result = post("http://127.0.0.1:9/hook", &[], "{}", false).await;
        assert!(matches!(result, Err(SendError::Rejected(_))), "{result:?}");
        let result = post("http://localhost:9/hook", &[], "{}", false).await;
        assert!(matches!(result, Err(SendError::Rejected(_))), "{result:?}");
    }

    #[tokio::test]
    async fn localhost_name_resolves_only_to_private() {
        let address = resolves_only_to_private("http://localhost:9/hook").await;
        assert!(address.is_some_and(|ip| ip.is_loopback()), "{address:?}");
        assert_eq!(resolves_only_to_private("http://127.0.0.1:9/").await, None);
    }

    #[tokio::test]
    async fn non_http_scheme_is_rejected() {
        let result = post("file:///etc/passwd", &[], "{}", true).await;
        assert!(matches!(result, Err(SendError::Rejected(_))), "{result:?}");
    }
}
