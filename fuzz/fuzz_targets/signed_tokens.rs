//! Signed values: `ServerKey::sign`/`verify`, the tokens of upload and download URLs
//! and the exchange credentials (`x-…`) of the members list.
//!
//! Properties:
//! - A signed value verifies with the key and purpose that signed it. Changing one
//!   byte, the key or the purpose makes it fail.
//! - Each kind of token returns what it was minted with until it expires, and no
//!   other verifier accepts it.
//! - Arbitrary text never verifies.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::crypto::ServerKey;
use openhumans::fuzzing::{self, DownloadGrant, SignedUrlError};
use openhumans::http::api::auth::{EXCHANGE_CREDENTIAL_LIFETIME, mint_exchange_credential};

/// Purposes the server signs with, and one that it does not.
const PURPOSES: [&str; 5] = [
    "upload-url",
    "download-url",
    "exchange-member-credential",
    "flash",
    "unused",
];

#[derive(Debug, Arbitrary)]
struct Input {
    key: Vec<u8>,
    purpose: u8,
    value: String,
    position: usize,
    replacement: u8,
    file_id: u32,
    project_id: Option<u32>,
    member_id: u32,
    master_hash: Option<String>,
    authorized_at: Option<i64>,
    /// Seconds since 1970; the server's clock stays far from the range of `i64`.
    now_seconds: u32,
    lifetime: u32,
    text: String,
}

fuzz_target!(|input: Input| {
    let key = ServerKey::new(&input.key);
    let now = i64::from(input.now_seconds) * 1_000_000;
    check_sign_verify(&key, &input);
    check_url_tokens(&key, &input, now);
    check_exchange_credential(&key, &input, now);
    check_arbitrary_text_is_rejected(&key, &input.text, now);
});

fn check_sign_verify(key: &ServerKey, input: &Input) {
    let purpose = PURPOSES[usize::from(input.purpose) % PURPOSES.len()];
    let signed = key.sign(purpose, &input.value);
    assert_eq!(key.verify(purpose, &signed), Some(input.value.as_str()));

    for other in PURPOSES.iter().filter(|other| **other != purpose) {
        assert_eq!(key.verify(other, &signed), None, "verified for {other}");
    }
    // HMAC pads short keys with zeros, so the other key appends a byte that is not zero.
    let mut other_key = input.key.clone();
    other_key.push(0x5a);
    assert_eq!(ServerKey::new(&other_key).verify(purpose, &signed), None);

    let mut bytes = signed.clone().into_bytes();
    let position = input.position % bytes.len();
    if bytes[position] != input.replacement {
        bytes[position] = input.replacement;
        if let Ok(tampered) = String::from_utf8(bytes) {
            assert_eq!(
                key.verify(purpose, &tampered),
                None,
                "{tampered:?} verified"
            );
        }
    }
}

fn check_url_tokens(key: &ServerKey, input: &Input, now: i64) {
    let file_id = i64::from(input.file_id);
    let expires_at = now + i64::from(input.lifetime) + 1;

    let upload = fuzzing::sign_upload_token(key, file_id, expires_at);
    assert_eq!(fuzzing::verify_upload_token(key, &upload, now), Ok(file_id));
    assert_eq!(
        fuzzing::verify_upload_token(key, &upload, expires_at),
        Err(SignedUrlError::Expired)
    );
    assert_eq!(
        fuzzing::verify_download_token(key, &upload, now),
        Err(SignedUrlError::Invalid)
    );

    let grant = DownloadGrant {
        file_id,
        project_id: input.project_id.map(i64::from),
    };
    let download = fuzzing::sign_download_token(key, grant, expires_at);
    assert_eq!(
        fuzzing::verify_download_token(key, &download, now),
        Ok(grant)
    );
    assert_eq!(
        fuzzing::verify_download_token(key, &download, expires_at),
        Err(SignedUrlError::Expired)
    );
    assert_eq!(
        fuzzing::verify_upload_token(key, &download, now),
        Err(SignedUrlError::Invalid)
    );
    assert!(fuzzing::verify_exchange_credential(key, &download, now).is_none());
}

fn check_exchange_credential(key: &ServerKey, input: &Input, now: i64) {
    let project_id = i64::from(input.file_id);
    let project_member_id = format!("{:08}", input.member_id % 100_000_000);
    let master_hash = input.master_hash.as_deref();
    let credential = mint_exchange_credential(
        key,
        project_id,
        &project_member_id,
        master_hash,
        input.authorized_at,
        now,
    );
    let tag = fuzzing::exchange_tag(key, master_hash, input.authorized_at);

    let verified = fuzzing::verify_exchange_credential(key, &credential, now)
        .expect("a minted credential is recognized")
        .expect("a fresh credential is valid");
    assert_eq!(verified, (project_id, project_member_id, tag));

    let expired = now + EXCHANGE_CREDENTIAL_LIFETIME;
    let result = fuzzing::verify_exchange_credential(key, &credential, expired);
    assert!(
        matches!(result, Some(Err(_))),
        "an expired credential was accepted"
    );
    assert_eq!(
        fuzzing::verify_upload_token(key, &credential, now),
        Err(SignedUrlError::Invalid)
    );
}

fn check_arbitrary_text_is_rejected(key: &ServerKey, text: &str, now: i64) {
    for purpose in PURPOSES {
        assert_eq!(
            key.verify(purpose, text),
            None,
            "{text:?} verified for {purpose}"
        );
    }
    assert_eq!(
        fuzzing::verify_upload_token(key, text, now),
        Err(SignedUrlError::Invalid)
    );
    assert_eq!(
        fuzzing::verify_download_token(key, text, now),
        Err(SignedUrlError::Invalid)
    );
    assert!(fuzzing::verify_exchange_credential(key, text, now).is_none());
}
