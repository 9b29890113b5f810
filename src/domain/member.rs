//! Rules for member accounts: usernames, email addresses, and the lifetimes of the
//! one-time links sent by email.

use crate::clock::{DAY, HOUR, Micros};

/// Minimum username length, in characters.
pub const USERNAME_MIN_LENGTH: usize = 3;
/// Maximum username length, in characters.
pub const USERNAME_MAX_LENGTH: usize = 30;
/// Maximum email address length, in characters (the limit of SMTP paths, RFC 5321).
pub const EMAIL_MAX_LENGTH: usize = 254;

const EMAIL_LOCAL_MAX_LENGTH: usize = 64;
const EMAIL_LABEL_MAX_LENGTH: usize = 63;
const EMAIL_INVALID: &str = "Enter a valid email address, such as name@example.org.";

/// Checks a new username, returning the message to show next to the field. Usernames
/// are ASCII letters, digits and underscores, so they read the same everywhere and
/// compare case-insensitively without Unicode folding.
pub fn validate_username(username: &str) -> Result<(), String> {
    if username.is_empty() {
        return Err("Choose a username.".to_string());
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(
            "The username may contain only the letters A to Z, digits and underscores.".to_string(),
        );
    }
    if username.len() < USERNAME_MIN_LENGTH {
        return Err(format!(
            "The username must have at least {USERNAME_MIN_LENGTH} characters."
        ));
    }
    if username.len() > USERNAME_MAX_LENGTH {
        return Err(format!(
            "The username must have at most {USERNAME_MAX_LENGTH} characters."
        ));
    }
    Ok(())
}

/// Checks an email address, returning the message to show next to the field.
///
/// Accepts the common form `local@domain`: a dot-atom local part (RFC 5322 `atext`
/// and single dots) and a domain of at least two LDH labels. Quoted local parts,
/// address literals and non-ASCII addresses are rejected.
pub fn validate_email(email: &str) -> Result<(), String> {
    if email.is_empty() {
        return Err("Enter your email address.".to_string());
    }
    if email.chars().count() > EMAIL_MAX_LENGTH {
        return Err(format!(
            "The email address must have at most {EMAIL_MAX_LENGTH} characters."
        ));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(EMAIL_INVALID.to_string());
    };
    if is_valid_local_part(local) && is_valid_domain(domain) {
        Ok(())
    } else {
        Err(EMAIL_INVALID.to_string())
    }
}

fn is_valid_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= EMAIL_LOCAL_MAX_LENGTH
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
        })
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let top_level = labels.last().copied().unwrap_or_default();
    labels.len() >= 2
        && labels.iter().all(|label| is_valid_label(label))
        && !top_level.chars().all(|c| c.is_ascii_digit())
}

fn is_valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= EMAIL_LABEL_MAX_LENGTH
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The purpose of a one-time emailed link. Each purpose keys its own token hashes, so a
/// reset token can never confirm an email address or the other way round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    VerifyEmail,
    PasswordReset,
}

impl EmailTokenPurpose {
    /// Returns the name stored in `email_tokens.purpose` and used as the hash purpose.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailTokenPurpose::VerifyEmail => "verify-email",
            EmailTokenPurpose::PasswordReset => "password-reset",
        }
    }

    /// Returns how long a link stays valid after it is sent: 3 days to confirm an address,
    /// 1 hour to reset a password (a reset link grants the account).
    pub fn lifetime(self) -> Micros {
        match self {
            EmailTokenPurpose::VerifyEmail => 3 * DAY,
            EmailTokenPurpose::PasswordReset => HOUR,
        }
    }
}

/// The reason a stored one-time link no longer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Used,
    Expired,
}

/// Checks that a one-time link is still usable at `now`.
pub fn check_email_token(
    expires_at: Micros,
    used_at: Option<Micros>,
    now: Micros,
) -> Result<(), TokenProblem> {
    if used_at.is_some() {
        Err(TokenProblem::Used)
    } else if now >= expires_at {
        Err(TokenProblem::Expired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_accepts_letters_digits_underscores() {
        assert_eq!(validate_username("alice"), Ok(()));
        assert_eq!(validate_username("Alice_2024"), Ok(()));
        assert_eq!(validate_username("abc"), Ok(()));
        assert_eq!(validate_username(&"a".repeat(30)), Ok(()));
    }

    #[test]
    fn username_rejects_other_characters() {
        for username in [
            "al ice",
            "alice!",
            "ålice",
            "名前です",
            "alice-b",
            "a.b.c",
            "bob@x",
        ] {
            assert!(validate_username(username).is_err(), "{username}");
        }
    }

    #[test]
    fn username_rejects_wrong_lengths() {
        assert!(validate_username("").is_err());
        assert!(validate_username("ab").is_err());
        assert!(validate_username(&"a".repeat(31)).is_err());
    }

    #[test]
    fn email_accepts_common_addresses() {
        for email in [
            "alice@example.org",
            "Alice.Smith+tag@mail.example.co.uk",
            "o'brien@example.ie",
            "x@a-b.io",
        ] {
            assert_eq!(validate_email(email), Ok(()), "{email}");
        }
    }

    #[test]
    fn email_rejects_malformed_addresses() {
        for email in [
            "",
            "alice",
            "alice@",
            "@example.org",
            "alice@localhost",
            "alice@@example.org",
            "al ice@example.org",
            ".alice@example.org",
            "alice.@example.org",
            "al..ice@example.org",
            "alice@-example.org",
            "alice@example..org",
            "alice@example.123",
            "alice@exämple.org",
            "\"alice\"@example.org",
        ] {
            assert!(validate_email(email).is_err(), "{email}");
        }
    }

    #[test]
    fn email_rejects_over_254_characters() {
        let long = format!(
            "{}@{}.org",
            "a".repeat(64),
            "b".repeat(63) + "." + &"c".repeat(63) + "." + &"d".repeat(60)
        );
        assert!(long.len() > EMAIL_MAX_LENGTH);
        assert!(validate_email(&long).is_err());
    }

    #[test]
    fn token_lifetimes_per_purpose() {
        assert_eq!(EmailTokenPurpose::PasswordReset.lifetime(), HOUR);
        assert_eq!(EmailTokenPurpose::VerifyEmail.lifetime(), 3 * DAY);
    }

    #[test]
    fn token_check_rejects_used_then_expired() {
        assert_eq!(check_email_token(100, None, 99), Ok(()));
        assert_eq!(
            check_email_token(100, None, 100),
            Err(TokenProblem::Expired)
        );
        assert_eq!(
            check_email_token(100, Some(50), 60),
            Err(TokenProblem::Used)
        );
        assert_eq!(
            check_email_token(100, Some(50), 200),
            Err(TokenProblem::Used)
        );
    }
}
