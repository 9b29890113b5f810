//! Redirect URI matching: an exact string match against the registered list, except
//! that a loopback URI may use any port (RFC 8252 §7.3), because native apps listen
//! on whatever port the system gives them.

/// The reason no redirect URI could be chosen. The authorization server then shows
/// an error page and never redirects (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    #[error("redirect_uri is missing, and the project registered {0} redirect URIs")]
    Missing(usize),
    #[error("redirect_uri is not one of the project's registered redirect URIs")]
    NotRegistered,
}

/// The redirect URI an authorization request resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRedirectUri {
    pub uri: String,
    /// Whether the request named it; if so the token request must repeat it.
    pub given: bool,
}

/// Picks the redirect URI of an authorization request. Without `redirect_uri` the
/// only registered URI is used; a blank value counts as absent.
pub fn resolve(
    requested: Option<&str>,
    registered: &[String],
) -> Result<ResolvedRedirectUri, RedirectUriError> {
    match requested.filter(|uri| !uri.is_empty()) {
        None => match registered {
            [only] => Ok(ResolvedRedirectUri {
                uri: only.clone(),
                given: false,
            }),
            _ => Err(RedirectUriError::Missing(registered.len())),
        },
        Some(uri) if registered.iter().any(|candidate| matches(candidate, uri)) => {
            Ok(ResolvedRedirectUri {
                uri: uri.to_string(),
                given: true,
            })
        }
        Some(_) => Err(RedirectUriError::NotRegistered),
    }
}

/// True when `requested` may be used for the registered URI `registered`.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (
        without_loopback_port(registered),
        without_loopback_port(requested),
    ) {
        (Some(registered), Some(requested)) => registered == requested,
        _ => false,
    }
}

/// Checks the `redirect_uri` of a token request against the code's (RFC 6749
/// §4.1.3): it must be repeated exactly when the authorization request named it, and
/// may be omitted, or equal the default, when it did not.
pub fn matches_code(code_uri: &str, code_uri_given: bool, requested: Option<&str>) -> bool {
    match requested {
        Some(requested) => requested == code_uri,
        None => !code_uri_given,
    }
}

/// Removes the port from an `http` loopback IP literal URI. Returns `None` for any
/// other URI, `localhost` included (RFC 8252 §8.3).
fn without_loopback_port(uri: &str) -> Option<String> {
    for prefix in ["http://127.0.0.1", "http://[::1]"] {
        let Some(mut rest) = uri.strip_prefix(prefix) else {
            continue;
        };
        if let Some(after_colon) = rest.strip_prefix(':') {
            let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
            after_colon[..digits].parse::<u16>().ok()?;
            rest = &after_colon[digits..];
        }
        if rest.is_empty() || rest.starts_with('/') || rest.starts_with('?') {
            return Some(format!("{prefix}{rest}"));
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<String> {
        list.iter().map(|uri| uri.to_string()).collect()
    }

    #[test]
    fn exact_match_is_required() {
        let registered = "https://app.example/complete/";
        assert!(matches(registered, "https://app.example/complete/"));
        assert!(!matches(registered, "https://app.example/complete"));
        assert!(!matches(registered, "https://app.example/complete/?x=1"));
        assert!(!matches(registered, "https://APP.example/complete/"));
        assert!(!matches(registered, "https://app.example:443/complete/"));
    }

    #[test]
    fn loopback_port_may_differ() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:53211/cb"));
        assert!(matches("http://127.0.0.1:8080/cb", "http://127.0.0.1:9/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53211/other"
        ));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1.evil.example/cb"
        ));
        assert!(!matches("http://localhost/cb", "http://localhost:4000/cb"));
        assert!(!matches(
            "https://127.0.0.1/cb",
            "https://127.0.0.1:4000/cb"
        ));
    }

    #[test]
    fn single_registered_uri_is_default() {
        let registered = uris(&["https://app.example/cb"]);
        assert_eq!(
            resolve(None, &registered),
            Ok(ResolvedRedirectUri {
                uri: "https://app.example/cb".into(),
                given: false
            })
        );
        assert_eq!(resolve(Some(""), &registered).map(|r| r.given), Ok(false));
    }

    #[test]
    fn several_registered_uris_need_redirect_uri() {
        let registered = uris(&["https://a.example/cb", "https://b.example/cb"]);
        assert_eq!(
            resolve(None, &registered),
            Err(RedirectUriError::Missing(2))
        );
        assert_eq!(
            resolve(Some("https://b.example/cb"), &registered).map(|r| r.given),
            Ok(true)
        );
        assert_eq!(
            resolve(Some("https://c.example/cb"), &registered),
            Err(RedirectUriError::NotRegistered)
        );
    }

    #[test]
    fn token_request_repeats_given_uri() {
        assert!(matches_code(
            "https://a.example/cb",
            true,
            Some("https://a.example/cb")
        ));
        assert!(!matches_code("https://a.example/cb", true, None));
        assert!(!matches_code(
            "https://a.example/cb",
            true,
            Some("https://a.example/cb/")
        ));
        assert!(matches_code("https://a.example/cb", false, None));
        assert!(matches_code(
            "https://a.example/cb",
            false,
            Some("https://a.example/cb")
        ));
    }
}
