//! Validation of authorization requests (RFC 6749 §4.1.1) and the redirects that
//! respond to them.

use super::pkce;
use super::redirect_uri::{self, RedirectUriError, ResolvedRedirectUri};
use super::scope::Scope;

/// The parameters of an authorization request, from the query (GET) or from the
/// consent form's hidden fields (POST).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub response_type: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub approval_prompt: Option<String>,
}

impl AuthorizeParams {
    /// Reads the parameters from `application/x-www-form-urlencoded` pairs. Unknown
    /// names are ignored and empty values count as absent; a repeated parameter is
    /// an error (RFC 6749 §3.1).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    ) -> Result<Self, String> {
        let mut params = AuthorizeParams::default();
        for (name, value) in pairs {
            let slot = match name.as_ref() {
                "client_id" => &mut params.client_id,
                "response_type" => &mut params.response_type,
                "redirect_uri" => &mut params.redirect_uri,
                "scope" => &mut params.scope,
                "state" => &mut params.state,
                "code_challenge" => &mut params.code_challenge,
                "code_challenge_method" => &mut params.code_challenge_method,
                "approval_prompt" => &mut params.approval_prompt,
                _ => continue,
            };
            if slot.is_some() {
                return Err(format!("the parameter {name} appears more than once"));
            }
            if !value.is_empty() {
                *slot = Some(value.into_owned());
            }
        }
        Ok(params)
    }

    /// Lists the parameters as query pairs in a fixed order, leaving out absent ones.
    pub fn to_pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("client_id", &self.client_id),
            ("response_type", &self.response_type),
            ("redirect_uri", &self.redirect_uri),
            ("scope", &self.scope),
            ("state", &self.state),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("approval_prompt", &self.approval_prompt),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|value| (name, value)))
        .collect()
    }
}

/// An authorization request that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub redirect_uri: ResolvedRedirectUri,
    pub scope: Scope,
    pub state: Option<String>,
    /// The PKCE `S256` challenge, if the client sent one.
    pub code_challenge: Option<String>,
    /// `approval_prompt=force`: show the consent page even when it could be skipped.
    pub force_prompt: bool,
}

/// An error code of the authorization endpoint (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    InvalidRequest,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
}

impl AuthorizeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeErrorCode::InvalidRequest => "invalid_request",
            AuthorizeErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeErrorCode::InvalidScope => "invalid_scope",
            AuthorizeErrorCode::AccessDenied => "access_denied",
        }
    }
}

/// The reason an authorization request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// The redirect URI cannot be trusted: show an error page, never redirect.
    RedirectUri(RedirectUriError),
    /// The client and redirect URI are valid: send the error back to the client.
    Redirect {
        redirect_uri: String,
        code: AuthorizeErrorCode,
        description: String,
        state: Option<String>,
    },
}

/// Validates a request for a client whose registered redirect URIs and PKCE
/// setting are given. The client itself has already been found by `client_id`.
pub fn validate(
    params: &AuthorizeParams,
    registered_redirect_uris: &[String],
    require_pkce: bool,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let redirect_uri =
        redirect_uri::resolve(params.redirect_uri.as_deref(), registered_redirect_uris)
            .map_err(AuthorizeRejection::RedirectUri)?;
    let reject = |code: AuthorizeErrorCode, description: String| AuthorizeRejection::Redirect {
        redirect_uri: redirect_uri.uri.clone(),
        code,
        description,
        state: params.state.clone(),
    };

    match params.response_type.as_deref() {
        Some("code") => {}
        None => {
            return Err(reject(
                AuthorizeErrorCode::InvalidRequest,
                "response_type is missing; use response_type=code".into(),
            ));
        }
        Some(other) => {
            return Err(reject(
                AuthorizeErrorCode::UnsupportedResponseType,
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
    }
    let scope = Scope::parse(params.scope.as_deref())
        .map_err(|error| reject(AuthorizeErrorCode::InvalidScope, error.to_string()))?;
    let code_challenge = pkce::validate_challenge(
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    )
    .map_err(|description| reject(AuthorizeErrorCode::InvalidRequest, description))?;
    if require_pkce && code_challenge.is_none() {
        return Err(reject(
            AuthorizeErrorCode::InvalidRequest,
            "this project requires PKCE: send code_challenge with code_challenge_method=S256"
                .into(),
        ));
    }

    Ok(AuthorizationRequest {
        redirect_uri: redirect_uri.clone(),
        scope,
        state: params.state.clone(),
        code_challenge,
        force_prompt: params.approval_prompt.as_deref() == Some("force"),
    })
}

/// `redirect_uri` with `params` appended to its query, form-url-encoded. The URI is
/// not otherwise normalized, so it stays byte-identical to the registered one.
pub fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let query = query.finish();
    let separator = match redirect_uri.contains('?') {
        false => '?',
        true if redirect_uri.ends_with('?') || redirect_uri.ends_with('&') => {
            return format!("{redirect_uri}{query}");
        }
        true => '&',
    };
    format!("{redirect_uri}{separator}{query}")
}

/// Builds the redirect that reports an error to the client, with `state` when it was
/// sent.
pub fn error_redirect_url(
    redirect_uri: &str,
    code: AuthorizeErrorCode,
    description: &str,
    state: Option<&str>,
) -> String {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect_url(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "https://app.example/cb";

    fn params(pairs: &[(&str, &str)]) -> AuthorizeParams {
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        AuthorizeParams::from_pairs(url::form_urlencoded::parse(encoded.as_bytes())).unwrap()
    }

    fn registered() -> Vec<String> {
        vec![URI.to_string()]
    }

    #[test]
    fn minimal_client_request_is_valid() {
        let request = validate(
            &params(&[("client_id", "x"), ("response_type", "code")]),
            &registered(),
            false,
        )
        .unwrap();
        assert_eq!(request.redirect_uri.uri, URI);
        assert!(!request.redirect_uri.given);
        assert_eq!(request.scope.to_string(), "read");
        assert_eq!(request.state, None);
        assert!(!request.force_prompt);
    }

    #[test]
    fn repeated_parameter_is_rejected() {
        let pairs = url::form_urlencoded::parse(b"state=a&state=b");
        assert!(AuthorizeParams::from_pairs(pairs).is_err());
    }

    #[test]
    fn unsupported_response_type_redirects_with_state() {
        let rejection = validate(
            &params(&[("response_type", "token"), ("state", "s1")]),
            &registered(),
            false,
        )
        .unwrap_err();
        assert_eq!(
            rejection,
            AuthorizeRejection::Redirect {
                redirect_uri: URI.into(),
                code: AuthorizeErrorCode::UnsupportedResponseType,
                description: "response_type \"token\" is not supported; use code".into(),
                state: Some("s1".into()),
            }
        );
    }

    #[test]
    fn unregistered_redirect_uri_never_redirects() {
        let rejection = validate(
            &params(&[
                ("response_type", "token"),
                ("redirect_uri", "https://evil.example/"),
            ]),
            &registered(),
            false,
        )
        .unwrap_err();
        assert_eq!(
            rejection,
            AuthorizeRejection::RedirectUri(RedirectUriError::NotRegistered)
        );
    }

    #[test]
    fn required_pkce_needs_challenge() {
        let rejection =
            validate(&params(&[("response_type", "code")]), &registered(), true).unwrap_err();
        assert!(matches!(
            rejection,
            AuthorizeRejection::Redirect {
                code: AuthorizeErrorCode::InvalidRequest,
                ..
            }
        ));
    }

    #[test]
    fn redirect_url_encodes_state() {
        assert_eq!(
            redirect_url(URI, &[("code", "abc"), ("state", "a b&c=d/é")]),
            "https://app.example/cb?code=abc&state=a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            redirect_url("https://app.example/cb?x=1", &[("code", "abc")]),
            "https://app.example/cb?x=1&code=abc"
        );
        assert_eq!(
            redirect_url("com.example.app:/cb", &[("code", "abc")]),
            "com.example.app:/cb?code=abc"
        );
    }
}
