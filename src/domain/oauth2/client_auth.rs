//! Client credentials at the token and revocation endpoints (RFC 6749 §2.3.1):
//! HTTP Basic or `client_id` and `client_secret` in the form body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::TokenError;

/// Credentials a client presented.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"..")
            .finish()
    }
}

/// Reads the client's credentials from the `Authorization` header value and the
/// body fields. Exactly one method may carry the secret; a `client_id` in the body
/// beside Basic credentials must name the same client.
pub fn credentials(
    authorization: Option<&str>,
    body_client_id: Option<&str>,
    body_client_secret: Option<&str>,
) -> Result<ClientCredentials, TokenError> {
    match authorization {
        Some(header) => {
            let basic = parse_basic(header).ok_or(TokenError::InvalidClient)?;
            if body_client_secret.is_some() {
                return Err(TokenError::InvalidRequest(
                    "send the client secret either in the Authorization header or in the \
                     body, not both"
                        .into(),
                ));
            }
            if body_client_id.is_some_and(|id| id != basic.client_id) {
                return Err(TokenError::InvalidRequest(
                    "client_id in the body differs from the Authorization header".into(),
                ));
            }
            Ok(basic)
        }
        None => match (body_client_id, body_client_secret) {
            (Some(client_id), Some(client_secret)) => Ok(ClientCredentials {
                client_id: client_id.to_string(),
                client_secret: client_secret.to_string(),
            }),
            _ => Err(TokenError::InvalidClient),
        },
    }
}

/// Parses `Basic base64(id:secret)`. Each part is form-url-decoded as RFC 6749
/// §2.3.1 requires. Credentials made of `[A-Za-z0-9]` decode to themselves, so a
/// client that does not encode them (Python `requests`) sends the same bytes.
fn parse_basic(header: &str) -> Option<ClientCredentials> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some(ClientCredentials {
        client_id: form_decode(id),
        client_secret: form_decode(secret),
    })
}

fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("x={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> String {
        format!("Basic {}", STANDARD.encode(raw))
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let parsed = credentials(Some(&basic("my%20id:s%3Acret+x")), None, None).unwrap();
        assert_eq!(parsed.client_id, "my id");
        assert_eq!(parsed.client_secret, "s:cret x");
    }

    #[test]
    fn raw_alphanumeric_basic_credentials_parse() {
        let parsed = credentials(Some(&basic("abc123:XYZ789")), None, None).unwrap();
        assert_eq!(parsed.client_id, "abc123");
        assert_eq!(parsed.client_secret, "XYZ789");
    }

    #[test]
    fn body_credentials_are_accepted() {
        let parsed = credentials(None, Some("abc"), Some("secret")).unwrap();
        assert_eq!(parsed.client_id, "abc");
    }

    #[test]
    fn missing_or_malformed_credentials_are_invalid_client() {
        assert_eq!(
            credentials(None, Some("abc"), None),
            Err(TokenError::InvalidClient)
        );
        assert_eq!(
            credentials(Some("Bearer x"), None, None),
            Err(TokenError::InvalidClient)
        );
        assert_eq!(
            credentials(Some("Basic !!!"), None, None),
            Err(TokenError::InvalidClient)
        );
    }

    #[test]
    fn two_secrets_are_invalid_request() {
        assert!(matches!(
            credentials(Some(&basic("a:b")), Some("a"), Some("b")),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(matches!(
            credentials(Some(&basic("a:b")), Some("other"), None),
            Err(TokenError::InvalidRequest(_))
        ));
        assert!(credentials(Some(&basic("a:b")), Some("a"), None).is_ok());
    }
}
