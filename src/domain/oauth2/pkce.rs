//! PKCE (RFC 7636) with the `S256` method only: `plain` would let anyone who
//! intercepts the authorization request also redeem the code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::TokenError;
use crate::crypto::constant_time_eq;

/// The only supported `code_challenge_method`.
pub const S256: &str = "S256";

/// Checks the PKCE parameters of an authorization request and returns the challenge
/// to store with the code, or the `error_description` of an `invalid_request`.
pub fn validate_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, String> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method was sent without code_challenge".into()),
        (Some(_), None) => {
            Err("code_challenge_method is missing; only S256 is supported (RFC 7636 §4.3)".into())
        }
        (Some(_), Some("plain")) => {
            Err("code_challenge_method plain is not supported; use S256".into())
        }
        (Some(_), Some(other)) if other != S256 => Err(format!(
            "unsupported code_challenge_method {other:?}; use S256"
        )),
        (Some(challenge), Some(_)) => {
            if is_code_verifier_syntax(challenge) {
                Ok(Some(challenge.to_string()))
            } else {
                Err("code_challenge must be 43 to 128 characters from [A-Za-z0-9-._~]".into())
            }
        }
    }
}

/// Checks the `code_verifier` of a token request against the code's challenge.
pub fn verify(challenge: Option<&str>, verifier: Option<&str>) -> Result<(), TokenError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(TokenError::InvalidGrant(
            "code_verifier was sent but the code was issued without code_challenge".into(),
        )),
        (Some(_), None) => Err(TokenError::InvalidRequest(
            "code_verifier is missing; the code was issued with a code_challenge".into(),
        )),
        (Some(challenge), Some(verifier)) => {
            if !is_code_verifier_syntax(verifier) {
                return Err(TokenError::InvalidRequest(
                    "code_verifier must be 43 to 128 characters from [A-Za-z0-9-._~]".into(),
                ));
            }
            if constant_time_eq(&s256(verifier), challenge) {
                Ok(())
            } else {
                Err(TokenError::InvalidGrant(
                    "code_verifier does not match the code_challenge".into(),
                ))
            }
        }
    }
}

/// Computes the `S256` challenge of a verifier: BASE64URL(SHA256(verifier)) without padding.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_code_verifier_syntax(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn s256_matches_rfc_example() {
        assert_eq!(s256(VERIFIER), CHALLENGE);
    }

    #[test]
    fn plain_and_missing_method_are_rejected() {
        assert!(validate_challenge(Some(CHALLENGE), Some("plain")).is_err());
        assert!(validate_challenge(Some(CHALLENGE), None).is_err());
        assert!(validate_challenge(None, Some("S256")).is_err());
        assert!(validate_challenge(Some("short"), Some("S256")).is_err());
        assert_eq!(
            validate_challenge(Some(CHALLENGE), Some("S256")),
            Ok(Some(CHALLENGE.to_string()))
        );
        assert_eq!(validate_challenge(None, None), Ok(None));
    }

    #[test]
    fn verifier_must_match_challenge() {
        assert_eq!(verify(Some(CHALLENGE), Some(VERIFIER)), Ok(()));
        let other = "A".repeat(43);
        assert!(matches!(
            verify(Some(CHALLENGE), Some(&other)),
            Err(TokenError::InvalidGrant(_))
        ));
    }

    #[test]
    fn verifier_without_challenge_is_invalid_grant() {
        assert!(matches!(
            verify(None, Some(VERIFIER)),
            Err(TokenError::InvalidGrant(_))
        ));
    }

    #[test]
    fn missing_verifier_is_invalid_request() {
        assert!(matches!(
            verify(Some(CHALLENGE), None),
            Err(TokenError::InvalidRequest(_))
        ));
    }
}
