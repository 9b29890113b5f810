//! Deauthorization webhooks: the exact body a project receives when a member
//! withdraws, its two signatures, and the retry schedule of a delivery.
//!
//! The body keeps the key order and the separators of Python's `json.dumps`, so a
//! receiver that signs the bytes it was sent gets the same signature as we do. Two
//! signatures travel with it: the Open Humans one (`X-OpenHumans-Webhooks-Signature`,
//! HMAC-SHA1 over the body), which existing receivers check, and a Standard Webhooks
//! one (`webhook-signature`, HMAC-SHA256 over id, timestamp and body), which also
//! protects against replays.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha1::Sha1;
use sha2::Sha256;

use crate::clock::{HOUR, MINUTE, Micros};

/// Kind of the job that sends one delivery.
pub const DELIVERY_JOB: &str = "deliver_webhook";

/// Header of the Open Humans signature.
pub const OPEN_HUMANS_SIGNATURE_HEADER: &str = "X-OpenHumans-Webhooks-Signature";

/// Attempts of one delivery, the first included. With [`retry_delay`] they span
/// about 32 hours, so a receiver that is down for a day still gets the delivery.
pub const MAX_ATTEMPTS: i64 = 16;

/// Delay before the second attempt; each later delay doubles, up to [`MAX_DELAY`].
const FIRST_DELAY: Micros = MINUTE;
const MAX_DELAY: Micros = 4 * HOUR;

/// Builds the body of a deauthorization webhook, byte for byte as Open Humans sends it:
/// `{"project_member_id": "12345678", "erasure_requested": true, "timestamp": "…"}`.
/// `timestamp` is the time of the withdrawal.
pub fn deauthorization_body(
    project_member_id: &str,
    erasure_requested: bool,
    withdrawn_at: Micros,
) -> String {
    let id = serde_json::to_string(project_member_id).expect("a string serializes");
    let timestamp =
        serde_json::to_string(&python_isoformat(withdrawn_at)).expect("a string serializes");
    format!(
        "{{\"project_member_id\": {id}, \"erasure_requested\": {erasure_requested}, \
         \"timestamp\": {timestamp}}}"
    )
}

/// Formats a time as Python's `datetime.isoformat()` does for a UTC time with
/// microseconds: `2020-06-30T20:00:00.000000+00:00`.
pub fn python_isoformat(at: Micros) -> String {
    let time = Utc.timestamp_micros(at).single().unwrap_or_default();
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// Computes the `X-OpenHumans-Webhooks-Signature` value: `sha1=` and the lowercase hex
/// HMAC-SHA1 of the exact body bytes, keyed with the secret's UTF-8 bytes.
pub fn open_humans_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body.as_bytes());
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Computes the Standard Webhooks `webhook-signature` value: `v1,` and the base64
/// HMAC-SHA256 of `<id>.<timestamp>.<body>`. Open Humans secrets are text, so the key
/// is the secret's UTF-8 bytes, which is what [`whsec`] encodes.
pub fn standard_signature(key: &[u8], webhook_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("{webhook_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Returns the secret in the form Standard Webhooks libraries take: `whsec_` and the
/// base64 of its UTF-8 bytes.
pub fn whsec(secret: &str) -> String {
    format!("whsec_{}", STANDARD.encode(secret.as_bytes()))
}

/// Draws a new `webhook-id`, fixed when a delivery is queued and kept on every retry
/// and redelivery, so receivers can drop duplicates.
pub fn new_webhook_id() -> String {
    format!("msg_{}", crate::crypto::random_token(24))
}

/// Delay before attempt `attempt + 1`: one minute doubling per attempt, capped at four
/// hours, plus up to 10% jitter so retries of many deliveries spread out. The jitter
/// only adds, so the schedule never gets shorter than the one documented on
/// [`MAX_ATTEMPTS`].
pub fn retry_delay(attempt: i64) -> Micros {
    let delay = base_delay(attempt);
    delay + rand::rng().random_range(0..=delay / 10)
}

fn base_delay(attempt: i64) -> Micros {
    let exponent = attempt.clamp(1, 20) - 1;
    FIRST_DELAY.saturating_mul(1 << exponent).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::DAY;

    /// 2020-06-30T20:00:00Z.
    const REFERENCE_TIME: Micros = 1_593_547_200_000_000;
    const REFERENCE_BODY: &str = "{\"project_member_id\": \"12345678\", \"erasure_requested\": true, \"timestamp\": \"2020-06-30T20:00:00.000000+00:00\"}";

    #[test]
    fn body_matches_open_humans_bytes() {
        assert_eq!(
            deauthorization_body("12345678", true, REFERENCE_TIME),
            REFERENCE_BODY
        );
    }

    #[test]
    fn body_without_erasure_says_false() {
        let body = deauthorization_body("00000042", false, REFERENCE_TIME + 513_837);
        assert_eq!(
            body,
            "{\"project_member_id\": \"00000042\", \"erasure_requested\": false, \"timestamp\": \"2020-06-30T20:00:00.513837+00:00\"}"
        );
    }

    #[test]
    fn open_humans_signature_matches_reference_vector() {
        assert_eq!(
            open_humans_signature("abcdefghijklmnop", REFERENCE_BODY),
            "sha1=ebda5c0a38593a4350ad8401b7d8c8f1cd08ec67"
        );
    }

    /// The example of the Standard Webhooks specification and its reference libraries.
    #[test]
    fn standard_signature_matches_specification_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            standard_signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                "{\"test\": 2432232314}"
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn whsec_encodes_utf8_bytes() {
        assert_eq!(whsec("abcdefghijklmnop"), "whsec_YWJjZGVmZ2hpamtsbW5vcA==");
    }

    #[test]
    fn webhook_id_has_prefix_and_differs() {
        let a = new_webhook_id();
        assert!(a.starts_with("msg_"), "{a}");
        assert_ne!(a, new_webhook_id());
    }

    #[test]
    fn retries_span_more_than_a_day() {
        let total: Micros = (1..MAX_ATTEMPTS).map(base_delay).sum();
        assert!(total >= DAY, "retries span only {} hours", total / HOUR);
        for attempt in 1..MAX_ATTEMPTS {
            let delay = retry_delay(attempt);
            assert!(delay >= base_delay(attempt));
            assert!(delay <= base_delay(attempt) * 11 / 10);
        }
        assert_eq!(base_delay(30), MAX_DELAY);
    }
}
