//! OAuth2 data request projects: their configuration and the rules on it.

mod input;

pub use input::{
    MAX_REDIRECT_URIS, ProjectInput, is_valid_email, private_host, private_webhook_message,
    validate, validate_webhook_secret,
};

/// Everything a coordinator configures on a project, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectConfig {
    pub name: String,
    /// A study (research with ethics-board approval) rather than an activity.
    pub is_study: bool,
    pub leader: String,
    pub organization: String,
    pub is_academic_or_nonprofit: bool,
    /// Reply-To of project messages; receives withdrawal notices.
    pub contact_email: String,
    pub info_url: String,
    /// At most 140 characters.
    pub short_description: String,
    /// At most 10,000 characters.
    pub long_description: String,
    /// Description of the data the project adds to members' accounts; empty when none.
    pub returned_data_description: String,
    /// Open for enrollment. Members of an inactive project keep their access.
    pub active: bool,
    pub request_message_permission: bool,
    pub request_username_access: bool,
    pub enrollment_url: String,
    pub terms_url: String,
    /// Registered redirect URIs, compared by exact string match.
    pub redirect_uris: Vec<String>,
    pub deauth_webhook: Option<String>,
    pub webhook_secret: Option<String>,
    pub erasure_supported: bool,
    pub deauth_email_notification: bool,
    pub require_pkce: bool,
    /// Ids of the projects whose data this project requests members to share.
    pub requested_sources: Vec<i64>,
}

/// Length of generated client ids.
pub const CLIENT_ID_LENGTH: usize = 40;
/// Length of generated client secrets.
pub const CLIENT_SECRET_LENGTH: usize = 64;
/// Length of master access tokens.
pub const MASTER_TOKEN_LENGTH: usize = 64;
/// Maximum slug length; longer names are cut at a word boundary.
pub const MAX_SLUG_LENGTH: usize = 50;

/// Makes the URL slug for a project name: lowercase ASCII letters and digits separated by
/// single hyphens, at most [`MAX_SLUG_LENGTH`] characters, `project` when the name
/// has no ASCII letter or digit. The slug is fixed at creation.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug = slug.trim_end_matches('-').to_string();
    if slug.len() > MAX_SLUG_LENGTH {
        slug.truncate(MAX_SLUG_LENGTH);
        if let Some(cut) = slug.rfind('-').filter(|&cut| cut > MAX_SLUG_LENGTH / 2) {
            slug.truncate(cut);
        }
        slug = slug.trim_end_matches('-').to_string();
    }
    if slug.is_empty() {
        "project".to_string()
    } else {
        slug
    }
}

/// Slugs that would collide with fixed paths under `/direct-sharing/projects/oauth2/`.
const RESERVED_SLUGS: &[&str] = &["authorize", "create", "update"];

/// Returns whether `slug` names a fixed page rather than a project, so no project may
/// take it.
pub fn is_reserved_slug(slug: &str) -> bool {
    RESERVED_SLUGS.contains(&slug)
}

/// Returns the `n`-th candidate slug: the base itself, then `base-2`, `base-3`, …
pub fn slug_candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_string()
    } else {
        format!("{base}-{n}")
    }
}

/// Returns the label the Open Humans API uses for a project as a data source.
pub fn id_label(project_id: i64) -> String {
    format!("direct-sharing-{project_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_ascii_words() {
        assert_eq!(slugify("My Genome Study!"), "my-genome-study");
        assert_eq!(slugify("  --Fitbit   Connection-- "), "fitbit-connection");
        assert_eq!(slugify("Étude über Schlaf"), "tude-ber-schlaf");
        assert_eq!(slugify("研究"), "project");
    }

    #[test]
    fn slugify_caps_length_at_word_boundary() {
        let slug = slugify(&"word ".repeat(30));
        assert!(slug.len() <= MAX_SLUG_LENGTH, "{slug}");
        assert!(!slug.ends_with('-'));
        assert!(slug.ends_with("word"));
    }

    #[test]
    fn slug_candidates_count_from_two() {
        assert_eq!(slug_candidate("study", 1), "study");
        assert_eq!(slug_candidate("study", 2), "study-2");
    }

    #[test]
    fn fixed_page_names_are_reserved() {
        assert!(is_reserved_slug("authorize"));
        assert!(is_reserved_slug("create"));
        assert!(!is_reserved_slug("authorize-2"));
    }
}
