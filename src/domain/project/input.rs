//! Validation of a project configuration as submitted, shared by the web form and the
//! `admin create-project` command so both accept and reject exactly the same input.
//!
//! Field names are those of the Open Humans project API (`redirect_url`, `is_study`, …).
//! The form's inputs carry the same names, so each error is keyed by its input.

use std::net::IpAddr;

use url::{Host, Url};

use super::ProjectConfig;
use crate::domain::forms::{FieldErrors, parse_bool};
use crate::http::webhook_client::is_public;

/// Most redirect URIs a project may register.
pub const MAX_REDIRECT_URIS: usize = 10;
/// Longest URL accepted in any URL field, in characters.
pub const MAX_URL_LENGTH: usize = 2000;

const MAX_NAME_LENGTH: usize = 100;
const MAX_SHORT_DESCRIPTION_LENGTH: usize = 140;
const MAX_LONG_DESCRIPTION_LENGTH: usize = 10_000;
const MAX_RETURNED_DATA_DESCRIPTION_LENGTH: usize = 1_000;
const MIN_WEBHOOK_SECRET_LENGTH: usize = 16;
const MAX_WEBHOOK_SECRET_LENGTH: usize = 64;

/// A project configuration exactly as submitted: every value is the string the form
/// sent (booleans as `true`/`false`/`on`/empty), so a rejected form can be shown again
/// with everything the coordinator typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectInput {
    /// `true` for a study, `false` for an activity.
    pub is_study: String,
    pub name: String,
    pub leader: String,
    pub organization: String,
    pub is_academic_or_nonprofit: String,
    pub contact_email: String,
    pub info_url: String,
    pub short_description: String,
    pub long_description: String,
    pub returned_data_description: String,
    /// Empty means the default, active.
    pub active: String,
    pub request_message_permission: String,
    pub request_username_access: String,
    pub enrollment_url: String,
    pub terms_url: String,
    /// Redirect URIs separated by whitespace.
    pub redirect_url: String,
    pub deauth_webhook: String,
    pub webhook_secret: String,
    pub erasure_supported: String,
    pub deauth_email_notification: String,
    pub require_pkce: String,
    /// Ids of requested source projects, as decimal strings.
    pub requested_sources: Vec<String>,
}

impl ProjectInput {
    /// The input that reproduces a stored configuration, to prefill the edit form.
    pub fn from_config(config: &ProjectConfig) -> Self {
        Self {
            is_study: config.is_study.to_string(),
            name: config.name.clone(),
            leader: config.leader.clone(),
            organization: config.organization.clone(),
            is_academic_or_nonprofit: config.is_academic_or_nonprofit.to_string(),
            contact_email: config.contact_email.clone(),
            info_url: config.info_url.clone(),
            short_description: config.short_description.clone(),
            long_description: config.long_description.clone(),
            returned_data_description: config.returned_data_description.clone(),
            active: config.active.to_string(),
            request_message_permission: config.request_message_permission.to_string(),
            request_username_access: config.request_username_access.to_string(),
            enrollment_url: config.enrollment_url.clone(),
            terms_url: config.terms_url.clone(),
            redirect_url: config.redirect_uris.join("\n"),
            deauth_webhook: config.deauth_webhook.clone().unwrap_or_default(),
            webhook_secret: config.webhook_secret.clone().unwrap_or_default(),
            erasure_supported: config.erasure_supported.to_string(),
            deauth_email_notification: config.deauth_email_notification.to_string(),
            require_pkce: config.require_pkce.to_string(),
            requested_sources: config
                .requested_sources
                .iter()
                .map(i64::to_string)
                .collect(),
        }
    }

    /// Returns whether a submitted `value` reads as true, to check boxes and radio
    /// buttons when the form is shown again.
    pub fn is_true(&self, value: &str) -> bool {
        parse_bool(value) == Some(true)
    }

    /// True when the source with this id was requested.
    pub fn requests_source(&self, id: i64) -> bool {
        let id = id.to_string();
        self.requested_sources
            .iter()
            .any(|source| source.trim() == id)
    }
}

/// Checks a submitted configuration. `eligible_sources` contains the ids of the projects
/// this one may request data from: approved projects that describe the data they
/// return, never the project itself. Any other id is rejected, whatever the form offered.
/// Unless `allow_private_webhooks` is set, a webhook URL whose host is `localhost` or a
/// non-public IP address is rejected; callers check what a host name resolves to.
pub fn validate(
    input: &ProjectInput,
    eligible_sources: &[i64],
    allow_private_webhooks: bool,
) -> Result<ProjectConfig, FieldErrors> {
    let mut errors = FieldErrors::new();

    let is_study = required_choice(
        &mut errors,
        "is_study",
        "Study or activity",
        &input.is_study,
    );
    let name = line(
        &mut errors,
        "name",
        "Name",
        &input.name,
        MAX_NAME_LENGTH,
        true,
    );
    let leader = line(
        &mut errors,
        "leader",
        "Leader",
        &input.leader,
        MAX_NAME_LENGTH,
        true,
    );
    let organization = line(
        &mut errors,
        "organization",
        "Organization",
        &input.organization,
        MAX_NAME_LENGTH,
        false,
    );
    let is_academic_or_nonprofit = required_choice(
        &mut errors,
        "is_academic_or_nonprofit",
        "Academic or non-profit",
        &input.is_academic_or_nonprofit,
    );
    let contact_email = email(&mut errors, &input.contact_email);
    let info_url = web_url(&mut errors, "info_url", "Information URL", &input.info_url);
    let short_description = text(
        &mut errors,
        "short_description",
        "Short description",
        &input.short_description,
        MAX_SHORT_DESCRIPTION_LENGTH,
        true,
    );
    let long_description = text(
        &mut errors,
        "long_description",
        "Long description",
        &input.long_description,
        MAX_LONG_DESCRIPTION_LENGTH,
        false,
    );
    let returned_data_description = text(
        &mut errors,
        "returned_data_description",
        "Description of returned data",
        &input.returned_data_description,
        MAX_RETURNED_DATA_DESCRIPTION_LENGTH,
        false,
    );
    let active = if input.active.trim().is_empty() {
        true
    } else {
        optional_flag(&mut errors, "active", "Active", &input.active)
    };
    let request_message_permission = required_choice(
        &mut errors,
        "request_message_permission",
        "Permission to message members",
        &input.request_message_permission,
    );
    let request_username_access = required_choice(
        &mut errors,
        "request_username_access",
        "Access to usernames",
        &input.request_username_access,
    );
    let enrollment_url = web_url(
        &mut errors,
        "enrollment_url",
        "Enrollment URL",
        &input.enrollment_url,
    );
    let terms_url = web_url(&mut errors, "terms_url", "Terms URL", &input.terms_url);
    let redirect_uris = redirect_uris(&mut errors, &input.redirect_url);
    let deauth_webhook =
        optional_webhook_url(&mut errors, &input.deauth_webhook, allow_private_webhooks);
    let webhook_secret = if input.webhook_secret.is_empty() {
        None
    } else {
        match validate_webhook_secret(&input.webhook_secret) {
            Ok(()) => Some(input.webhook_secret.clone()),
            Err(message) => {
                errors.add("webhook_secret", message);
                None
            }
        }
    };
    let erasure_supported = optional_flag(
        &mut errors,
        "erasure_supported",
        "Erasure supported",
        &input.erasure_supported,
    );
    let deauth_email_notification = optional_flag(
        &mut errors,
        "deauth_email_notification",
        "Email on withdrawal",
        &input.deauth_email_notification,
    );
    let require_pkce = optional_flag(
        &mut errors,
        "require_pkce",
        "Require PKCE",
        &input.require_pkce,
    );
    let requested_sources =
        requested_sources(&mut errors, &input.requested_sources, eligible_sources);

    errors.into_result()?;
    Ok(ProjectConfig {
        name,
        is_study,
        leader,
        organization,
        is_academic_or_nonprofit,
        contact_email,
        info_url,
        short_description,
        long_description,
        returned_data_description,
        active,
        request_message_permission,
        request_username_access,
        enrollment_url,
        terms_url,
        redirect_uris,
        deauth_webhook,
        webhook_secret,
        erasure_supported,
        deauth_email_notification,
        require_pkce,
        requested_sources,
    })
}

/// Checks a webhook secret: 16 to 64 printable ASCII characters (space to `~`). The
/// secret keys the HMAC signatures of webhook deliveries.
pub fn validate_webhook_secret(secret: &str) -> Result<(), String> {
    if let Some(bad) = secret.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!(
            "Webhook secret must contain only printable ASCII characters (space to ~); \
             {bad:?} is not one."
        ));
    }
    let length = secret.len();
    if !(MIN_WEBHOOK_SECRET_LENGTH..=MAX_WEBHOOK_SECRET_LENGTH).contains(&length) {
        return Err(format!(
            "Webhook secret must have {MIN_WEBHOOK_SECRET_LENGTH} to \
             {MAX_WEBHOOK_SECRET_LENGTH} characters; it has {length}."
        ));
    }
    Ok(())
}

/// Returns whether `address` is a valid email address, by the same rules as a
/// member's address at signup.
pub fn is_valid_email(address: &str) -> bool {
    crate::domain::member::validate_email(address).is_ok()
}

/// A one-line text field: trimmed, without control characters, at most `max` characters.
fn line(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let value = text(errors, field, label, value, max, required);
    if value.chars().any(char::is_control) {
        errors.add(
            field,
            format!("{label} must be a single line without control characters."),
        );
    }
    value
}

/// A text field: trimmed, at most `max` characters, required or not.
fn text(
    errors: &mut FieldErrors,
    field: &str,
    label: &str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let value = value.trim();
    let length = value.chars().count();
    if required && value.is_empty() {
        errors.add(field, format!("{label} is required."));
    } else if length > max {
        errors.add(
            field,
            format!("{label} must have at most {max} characters; it has {length}."),
        );
    }
    value.to_string()
}

/// A yes/no question with no default: it must be answered.
fn required_choice(errors: &mut FieldErrors, field: &str, label: &str, value: &str) -> bool {
    if value.trim().is_empty() {
        errors.add(
            field,
            format!("{label} is required: choose one of the options."),
        );
        return false;
    }
    optional_flag(errors, field, label, value)
}

/// A checkbox: unchecked (absent or empty) is false.
fn optional_flag(errors: &mut FieldErrors, field: &str, label: &str, value: &str) -> bool {
    match parse_bool(value.trim()) {
        Some(flag) => flag,
        None => {
            errors.add(
                field,
                format!("{label} must be true or false, not {:?}.", value.trim()),
            );
            false
        }
    }
}

fn email(errors: &mut FieldErrors, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add("contact_email", "Contact email is required.");
    } else if !is_valid_email(value) {
        errors.add(
            "contact_email",
            "Contact email must be a valid email address, such as lab@example.org.",
        );
    }
    value.to_string()
}

/// A required absolute `http` or `https` URL.
fn web_url(errors: &mut FieldErrors, field: &str, label: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, format!("{label} is required."));
    } else if let Err(problem) = check_web_url(value) {
        errors.add(field, format!("{label} {problem}."));
    }
    value.to_string()
}

/// Returns what is wrong with `value` as an absolute `http` or `https` URL.
fn check_web_url(value: &str) -> Result<Url, String> {
    if value.chars().count() > MAX_URL_LENGTH {
        return Err(format!("must have at most {MAX_URL_LENGTH} characters"));
    }
    let url = Url::parse(value)
        .map_err(|_| "must be an absolute URL starting with https:// or http://".to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must start with https:// or http://, not {}:",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err("must name a host".to_string());
    }
    Ok(url)
}

fn optional_webhook_url(
    errors: &mut FieldErrors,
    value: &str,
    allow_private: bool,
) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let label = "Deauthorization webhook URL";
    let checked = check_web_url(value);
    let private = checked
        .as_ref()
        .ok()
        .filter(|_| !allow_private)
        .and_then(private_host);
    match checked {
        Ok(_) if let Some(host) = private => {
            errors.add("deauth_webhook", private_webhook_message(&host))
        }
        Err(problem) => errors.add("deauth_webhook", format!("{label} {problem}.")),
        Ok(url) if has_userinfo(&url) => errors.add(
            "deauth_webhook",
            format!("{label} must not contain a user name or password."),
        ),
        Ok(_) if value.contains('#') => errors.add(
            "deauth_webhook",
            format!("{label} must not contain a fragment (#…)."),
        ),
        Ok(_) => {}
    }
    Some(value.to_string())
}

/// Returns the host of `url` when it is `localhost` (or a name under it) or an IP
/// address that is not public, such as loopback, private, link-local or metadata ones.
pub fn private_host(url: &Url) -> Option<String> {
    let private = match url.host()? {
        Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
        Host::Ipv4(ip) => !is_public(IpAddr::V4(ip)),
        Host::Ipv6(ip) => !is_public(IpAddr::V6(ip)),
    };
    private.then(|| url.host_str().unwrap_or_default().to_string())
}

/// Builds the field error for a webhook URL whose host is, or resolves only to, a
/// non-public address.
pub fn private_webhook_message(host: &str) -> String {
    format!(
        "Deauthorization webhook URL must reach a public address: {host} is a local, \
         private or link-local address. Use a host on the public internet."
    )
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Whitespace-separated redirect URIs, duplicates removed in order of first appearance.
fn redirect_uris(errors: &mut FieldErrors, value: &str) -> Vec<String> {
    let mut uris: Vec<String> = Vec::new();
    for uri in value.split_whitespace() {
        if !uris.iter().any(|seen| seen == uri) {
            uris.push(uri.to_string());
        }
    }
    if uris.is_empty() {
        errors.add(
            "redirect_url",
            "Redirect URIs are required: enter at least one.",
        );
    } else if uris.len() > MAX_REDIRECT_URIS {
        errors.add(
            "redirect_url",
            format!(
                "Redirect URIs: at most {MAX_REDIRECT_URIS} are allowed; {} were given.",
                uris.len()
            ),
        );
    } else if let Some(problem) = uris.iter().find_map(|uri| check_redirect_uri(uri).err()) {
        errors.add("redirect_url", format!("Redirect URIs: {problem}"));
    }
    uris
}

/// Checks one redirect URI against the rules for native and web clients (RFC 8252
/// sections 7.1 to 7.3, RFC 6749 section 3.1.2): `https`; `http` only on a loopback
/// host; or a private-use scheme in reverse domain notation, which contains a dot.
/// Fragments and user information are never allowed.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.chars().count() > MAX_URL_LENGTH {
        return Err(format!(
            "a URI must have at most {MAX_URL_LENGTH} characters."
        ));
    }
    // The URL parser would percent-encode a control character, but the URI is stored
    // and matched as typed, and no Location header can carry it.
    if uri.chars().any(char::is_control) {
        return Err(format!(
            "{} contains a control character.",
            uri.escape_debug()
        ));
    }
    let url = Url::parse(uri).map_err(|_| format!("{uri} is not an absolute URI."))?;
    if uri.contains('#') {
        return Err(format!("{uri} must not contain a fragment (#…)."));
    }
    if has_userinfo(&url) {
        return Err(format!("{uri} must not contain a user name or password."));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "{uri} uses http on a host that is not loopback; use https, or http only on \
             127.0.0.1, [::1] or localhost."
        )),
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "{uri} uses the scheme {scheme}:, which is neither https nor a private-use \
             scheme in reverse domain notation (such as com.example.app:/callback)."
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(address)) => address == std::net::Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(address)) => address == std::net::Ipv6Addr::LOCALHOST,
        None => false,
    }
}

fn requested_sources(errors: &mut FieldErrors, raw: &[String], eligible: &[i64]) -> Vec<i64> {
    let mut sources = Vec::new();
    for value in raw {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match value.parse::<i64>() {
            Ok(id) if eligible.contains(&id) => {
                if !sources.contains(&id) {
                    sources.push(id);
                }
            }
            _ => errors.add(
                "requested_sources",
                format!(
                    "Requested data sources: {value:?} cannot be requested. Only approved \
                     projects that describe the data they return, other than this project, \
                     are data sources."
                ),
            ),
        }
    }
    sources.sort_unstable();
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_input() -> ProjectInput {
        ProjectInput {
            is_study: "true".into(),
            name: "Sleep Study".into(),
            leader: "Dr. Ada Lovelace".into(),
            organization: "".into(),
            is_academic_or_nonprofit: "false".into(),
            contact_email: "lab@example.org".into(),
            info_url: "https://example.org/".into(),
            short_description: "We study sleep.".into(),
            long_description: "".into(),
            returned_data_description: "".into(),
            active: "".into(),
            request_message_permission: "true".into(),
            request_username_access: "false".into(),
            enrollment_url: "https://example.org/join".into(),
            terms_url: "http://example.org/terms".into(),
            redirect_url: "https://example.org/cb".into(),
            deauth_webhook: "".into(),
            webhook_secret: "".into(),
            erasure_supported: "".into(),
            deauth_email_notification: "on".into(),
            require_pkce: "".into(),
            requested_sources: vec![],
        }
    }

    /// Validates `input` and returns the error of `field`, failing if there is none.
    fn error_of(input: &ProjectInput, field: &str) -> String {
        let errors = validate(input, &[7], false).expect_err("input should be rejected");
        errors
            .get(field)
            .unwrap_or_else(|| panic!("no error for {field}: {errors}"))
            .to_string()
    }

    fn with(change: impl FnOnce(&mut ProjectInput)) -> ProjectInput {
        let mut input = valid_input();
        change(&mut input);
        input
    }

    #[test]
    fn valid_input_becomes_config() {
        let config = validate(&valid_input(), &[], false).unwrap();
        assert!(config.is_study);
        assert!(!config.is_academic_or_nonprofit);
        assert!(config.active, "active defaults to true");
        assert!(config.deauth_email_notification);
        assert!(!config.erasure_supported);
        assert_eq!(config.redirect_uris, vec!["https://example.org/cb"]);
        assert_eq!(config.deauth_webhook, None);
        assert_eq!(config.webhook_secret, None);
    }

    #[test]
    fn round_trip_through_input_keeps_config() {
        let mut config = validate(&valid_input(), &[], false).unwrap();
        config.requested_sources = vec![7];
        config.webhook_secret = Some("0123456789abcdef".into());
        let again = validate(&ProjectInput::from_config(&config), &[7], false).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn study_or_activity_is_required() {
        let message = error_of(&with(|i| i.is_study = "".into()), "is_study");
        assert!(
            message.contains("Study or activity is required"),
            "{message}"
        );
        let message = error_of(&with(|i| i.is_study = "maybe".into()), "is_study");
        assert!(message.contains("true or false"), "{message}");
    }

    #[test]
    fn name_is_required_and_limited() {
        assert!(error_of(&with(|i| i.name = "  ".into()), "name").contains("Name is required"));
        let message = error_of(&with(|i| i.name = "n".repeat(101)), "name");
        assert!(message.contains("at most 100 characters"), "{message}");
        assert!(validate(&with(|i| i.name = "é".repeat(100)), &[], false).is_ok());
        let message = error_of(&with(|i| i.name = "two\nlines".into()), "name");
        assert!(message.contains("single line"), "{message}");
    }

    #[test]
    fn leader_and_organization_are_limited() {
        assert!(error_of(&with(|i| i.leader = "".into()), "leader").contains("required"));
        assert!(error_of(&with(|i| i.leader = "l".repeat(101)), "leader").contains("100"));
        assert!(
            error_of(&with(|i| i.organization = "o".repeat(101)), "organization")
                .contains("at most 100")
        );
    }

    #[test]
    fn yes_no_questions_are_required() {
        for field in [
            "is_academic_or_nonprofit",
            "request_message_permission",
            "request_username_access",
        ] {
            let input = with(|i| match field {
                "is_academic_or_nonprofit" => i.is_academic_or_nonprofit.clear(),
                "request_message_permission" => i.request_message_permission.clear(),
                _ => i.request_username_access.clear(),
            });
            assert!(error_of(&input, field).contains("is required"), "{field}");
        }
    }

    #[test]
    fn contact_email_must_be_valid() {
        for bad in [
            "",
            "lab",
            "lab@",
            "@example.org",
            "lab@example",
            "a b@example.org",
        ] {
            let message = error_of(&with(|i| i.contact_email = bad.into()), "contact_email");
            assert!(message.starts_with("Contact email"), "{bad}: {message}");
        }
        assert!(is_valid_email("first.last+tag@sub.example.org"));
        assert!(!is_valid_email("a..b@example.org"));
        assert!(!is_valid_email("a@-example.org"));
    }

    #[test]
    fn urls_must_be_absolute_http() {
        for bad in [
            "",
            "example.org",
            "/relative",
            "ftp://example.org/",
            "javascript:alert(1)",
        ] {
            for field in ["info_url", "enrollment_url", "terms_url"] {
                let input = with(|i| match field {
                    "info_url" => i.info_url = bad.into(),
                    "enrollment_url" => i.enrollment_url = bad.into(),
                    _ => i.terms_url = bad.into(),
                });
                let message = error_of(&input, field);
                assert!(message.contains("URL"), "{field} {bad}: {message}");
            }
        }
    }

    #[test]
    fn descriptions_are_limited() {
        let message = error_of(
            &with(|i| i.short_description = "".into()),
            "short_description",
        );
        assert!(message.contains("required"), "{message}");
        let message = error_of(
            &with(|i| i.short_description = "s".repeat(141)),
            "short_description",
        );
        assert!(message.contains("at most 140"), "{message}");
        let message = error_of(
            &with(|i| i.long_description = "l".repeat(10_001)),
            "long_description",
        );
        assert!(message.contains("at most 10000"), "{message}");
        let message = error_of(
            &with(|i| i.returned_data_description = "r".repeat(1_001)),
            "returned_data_description",
        );
        assert!(message.contains("at most 1000"), "{message}");
    }

    #[test]
    fn innocent_words_are_accepted() {
        let input = with(|i| {
            i.name = "Learn to win: game night 88".into();
            i.short_description = "Call us at https://example.org to earn a bet".into();
        });
        assert!(validate(&input, &[], false).is_ok());
    }

    #[test]
    fn active_defaults_to_true_and_reads_false() {
        assert!(
            !validate(&with(|i| i.active = "false".into()), &[], false)
                .unwrap()
                .active
        );
        assert!(
            validate(&with(|i| i.active = "true".into()), &[], false)
                .unwrap()
                .active
        );
        assert!(error_of(&with(|i| i.active = "no".into()), "active").contains("Active"));
    }

    #[test]
    fn redirect_uris_follow_native_app_rules() {
        let accepted = [
            "https://example.org/cb",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/oauth2redirect",
        ];
        for uri in accepted {
            assert!(
                validate(&with(|i| i.redirect_url = uri.into()), &[], false).is_ok(),
                "{uri}"
            );
        }
        let rejected = [
            ("https://example.org/cb#frag", "fragment"),
            ("https://example.org/cb#", "fragment"),
            ("http://example.org/cb", "not loopback"),
            ("http://127.0.0.2/cb", "not loopback"),
            ("myapp://cb", "private-use"),
            ("javascript:alert(1)", "private-use"),
            ("https://user:pw@example.org/cb", "user name"),
            ("/cb", "not an absolute URI"),
            ("https://example.org/cb\u{7}", "control character"),
        ];
        for (uri, expected) in rejected {
            let message = error_of(&with(|i| i.redirect_url = uri.into()), "redirect_url");
            assert!(message.contains(expected), "{uri}: {message}");
            assert!(message.starts_with("Redirect URIs"), "{message}");
        }
    }

    #[test]
    fn redirect_uris_are_deduplicated_and_capped() {
        let input = with(|i| {
            i.redirect_url =
                "https://a.example/cb\n https://a.example/cb https://b.example/cb".into()
        });
        assert_eq!(
            validate(&input, &[], false).unwrap().redirect_uris,
            vec!["https://a.example/cb", "https://b.example/cb"]
        );
        let many: Vec<String> = (0..11).map(|n| format!("https://a.example/{n}")).collect();
        let message = error_of(&with(|i| i.redirect_url = many.join(" ")), "redirect_url");
        assert!(message.contains("at most 10"), "{message}");
        let message = error_of(&with(|i| i.redirect_url = " \n ".into()), "redirect_url");
        assert!(message.contains("required"), "{message}");
    }

    #[test]
    fn deauth_webhook_is_an_optional_http_url() {
        assert_eq!(
            validate(
                &with(|i| i.deauth_webhook = "https://example.org/hook".into()),
                &[],
                false
            )
            .unwrap()
            .deauth_webhook
            .as_deref(),
            Some("https://example.org/hook")
        );
        for (bad, expected) in [
            ("https://example.org/hook#x", "fragment"),
            ("https://u:p@example.org/hook", "user name"),
            ("ftp://example.org/hook", "https://"),
            ("hook", "absolute URL"),
        ] {
            let message = error_of(&with(|i| i.deauth_webhook = bad.into()), "deauth_webhook");
            assert!(message.contains(expected), "{bad}: {message}");
        }
    }

    #[test]
    fn webhook_secret_length_and_charset() {
        for good in [
            "0123456789abcdef",
            "with spaces and ~!@#$%^&*()",
            &"x".repeat(64),
        ] {
            assert!(validate_webhook_secret(good).is_ok(), "{good}");
        }
        for bad in [
            "short",
            &"x".repeat(65),
            "0123456789abcdé",
            "0123456789abcdef\n",
            "tab\there_is_too_long",
        ] {
            let message = error_of(&with(|i| i.webhook_secret = bad.into()), "webhook_secret");
            assert!(message.starts_with("Webhook secret"), "{bad:?}: {message}");
        }
    }

    #[test]
    fn checkboxes_reject_unknown_values() {
        assert!(
            validate(&with(|i| i.require_pkce = "on".into()), &[], false)
                .unwrap()
                .require_pkce
        );
        let message = error_of(
            &with(|i| i.erasure_supported = "0".into()),
            "erasure_supported",
        );
        assert!(message.contains("true or false"), "{message}");
    }

    #[test]
    fn requested_sources_must_be_eligible() {
        let config = validate(
            &with(|i| i.requested_sources = vec!["7".into(), "7".into()]),
            &[7],
            false,
        )
        .unwrap();
        assert_eq!(config.requested_sources, vec![7]);
        for forged in ["8", "x", "-1"] {
            let input = with(|i| i.requested_sources = vec![forged.into()]);
            let message = error_of(&input, "requested_sources");
            assert!(
                message.contains("cannot be requested"),
                "{forged}: {message}"
            );
        }
    }

    #[test]
    fn deauth_webhook_rejects_local_hosts() {
        for bad in [
            "http://169.254.169.254/",
            "http://10.0.0.1/hook",
            "http://localhost:9/",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://127.0.0.1:8000/hook",
            "http://[::1]/hook",
            "http://[fd00:ec2::254]/",
        ] {
            let message = error_of(&with(|i| i.deauth_webhook = bad.into()), "deauth_webhook");
            assert!(message.contains("public address"), "{bad}: {message}");
        }
    }

    #[test]
    fn deauth_webhook_allows_local_hosts_when_enabled() {
        for url in ["http://169.254.169.254/", "http://localhost:9/"] {
            let config = validate(&with(|i| i.deauth_webhook = url.into()), &[], true).unwrap();
            assert_eq!(config.deauth_webhook.as_deref(), Some(url));
        }
    }
}
