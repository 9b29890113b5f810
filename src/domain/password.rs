//! Member passwords, hashed with Argon2id (the `argon2` crate's default parameters:
//! 19 MiB of memory, 2 passes).

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// Maximum password length; longer input would only cost hashing time.
pub const MAX_LENGTH: usize = 1024;

/// Checks a new password, returning the message to show next to the field.
pub fn validate(password: &str, username: &str) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!(
            "The password must have at least {MIN_LENGTH} characters."
        ));
    }
    if length > MAX_LENGTH {
        return Err(format!(
            "The password must have at most {MAX_LENGTH} characters."
        ));
    }
    if !username.is_empty() && password.eq_ignore_ascii_case(username) {
        return Err("The password must differ from the username.".to_string());
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 with default parameters hashes any password with an OS-random salt")
        .to_string()
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// Hashes a random password, for spending the same time on unknown usernames.
pub fn dummy_hash() -> String {
    hash(&crate::crypto::random_token(32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let stored = hash("correct horse battery");
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse battery!", &stored));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn validate_rejects_short_and_username_passwords() {
        assert!(validate("short", "alice").is_err());
        assert!(validate("alice_in_wonderland", "Alice_In_Wonderland").is_err());
        assert!(validate("a long enough password", "alice").is_ok());
    }
}
