//! The server key and what it keys: hashes of stored secrets and signed values.
//!
//! Client secrets, tokens, codes and session ids are long random strings, so a keyed
//! HMAC-SHA256 stores them safely; a slow password hash would add cost for nothing.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The site-wide secret. Its `Debug` output never shows the key.
///
/// It contains the HMAC state with the key already absorbed, so each MAC starts from a
/// copy instead of hashing the key again. A project API response signs one URL per file.
#[derive(Clone)]
pub struct ServerKey(HmacSha256);

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    pub fn new(key: &[u8]) -> Self {
        Self(HmacSha256::new_from_slice(key).expect("HMAC-SHA256 accepts keys of any length"))
    }

    /// Uses the configured key, or reads `secret.key` in the data directory, creating
    /// it (mode 0600) on first start. Creation is exclusive, so two instances started
    /// together on one directory end up with the same key.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(key) = configured {
            return Ok(Self::new(key.as_bytes()));
        }
        let path = data_dir.join("secret.key");
        if !path.exists() {
            let key = random_token(64);
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            match options.open(&path) {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, key.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    tracing::info!(path = %path.display(), "generated a new server key");
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("creating {}", path.display()));
                }
            }
        }
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the server key from {}", path.display()))?;
        let key = key.trim();
        anyhow::ensure!(
            key.len() >= 32,
            "the server key in {} is shorter than 32 characters",
            path.display()
        );
        Ok(Self::new(key.as_bytes()))
    }

    /// Keyed hash of a secret for storage and lookup. `purpose` separates hashes of
    /// different kinds of secret, so a session id can never match a token's hash.
    pub fn hash(&self, purpose: &str, secret: &str) -> String {
        hex::encode(self.mac(&[purpose.as_bytes(), b"\0", secret.as_bytes()]))
    }

    /// Signs `value` so that it can travel through a client and come back unchanged.
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        let tag = self.mac(&[purpose.as_bytes(), b"\0", value.as_bytes()]);
        format!("{value}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// Returns the value inside a string made by [`ServerKey::sign`], or `None` when the
    /// signature does not match.
    pub fn verify<'a>(&self, purpose: &str, signed: &'a str) -> Option<&'a str> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let expected = self.mac(&[purpose.as_bytes(), b"\0", value.as_bytes()]);
        bool::from(expected.as_slice().ct_eq(&tag)).then_some(value)
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
}

/// A random string of `len` characters from `[A-Za-z0-9]`, drawn from the thread-local
/// CSPRNG (ChaCha, seeded by the operating system).
pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Compares two strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_differ_by_purpose() {
        let key = ServerKey::new(b"0123456789abcdef0123456789abcdef");
        assert_ne!(key.hash("session", "x"), key.hash("token", "x"));
        assert_eq!(key.hash("session", "x"), key.hash("session", "x"));
    }

    #[test]
    fn signed_value_round_trips() {
        let key = ServerKey::new(b"0123456789abcdef0123456789abcdef");
        let signed = key.sign("flash", "hello.world");
        assert_eq!(key.verify("flash", &signed), Some("hello.world"));
        assert_eq!(key.verify("other", &signed), None);
        assert_eq!(key.verify("flash", &signed.replace("hello", "jello")), None);
    }

    #[test]
    fn random_token_is_alphanumeric() {
        let token = random_token(64);
        assert_eq!(token.len(), 64);
        assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(token, random_token(64));
    }
}
