//! Member accounts: signup, address confirmation, login and logout, password change
//! and reset. Handlers translate HTTP; the rules live in [`crate::domain::member`] and
//! [`crate::domain::password`].

pub mod confirm_email;
pub mod delete;
pub mod email_texts;
pub mod login;
pub mod logout;
pub mod password_change;
pub mod password_reset;
pub mod signup;

use std::net::IpAddr;
use std::sync::LazyLock;

use anyhow::Context;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tokio::sync::Semaphore;

use crate::app::AppState;
use crate::clock::{HOUR, Micros};
use crate::db::email_tokens::{self, NewEmailToken};
use crate::db::rate_limits::{self, Limit, RetryAfter};
use crate::domain::member::EmailTokenPurpose;
use crate::domain::password;
use crate::http::error::PageError;

/// Status of a form re-rendered because of invalid input.
const REJECTED: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

/// Permits for Argon2 runs, one per core. Each run holds 19 MiB while it works, and
/// tokio's blocking pool would start up to 512 at once (about 10 GB) under a burst of
/// logins. Runs beyond the cores would not finish sooner anyway.
static HASHING_PERMITS: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, |cores| cores.get()))
});

/// Runs an Argon2 computation on the blocking thread pool once a permit is free. It
/// spends tens of milliseconds of CPU, which would otherwise stall other requests.
async fn run_argon2<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
    context: &'static str,
) -> anyhow::Result<T> {
    let _permit = HASHING_PERMITS
        .acquire()
        .await
        .context("the password hashing permits are closed")?;
    tokio::task::spawn_blocking(work).await.context(context)
}

/// Hashes a password.
async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_string();
    run_argon2(move || password::hash(&password), "hashing a password").await
}

/// Checks a password against a stored hash.
async fn verify_password(password: &str, stored: &str) -> anyhow::Result<bool> {
    let password = password.to_string();
    let stored = stored.to_string();
    run_argon2(
        move || password::verify(&password, &stored),
        "verifying a password",
    )
    .await
}

/// The part of a client address that rate limits count by. An IPv6 client usually
/// gets a whole /64, so its limit covers the /64.
///
/// `ip` is the client address resolved through the trusted proxies, so clients behind
/// a configured reverse proxy keep their own limits.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = v6.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
        },
    }
}

/// Returns the limit on emails of one kind (reset or confirmation links) per account.
fn email_link_limit(state: &AppState) -> Limit {
    Limit {
        max: state.settings.resets_per_account_per_hour,
        window: HOUR,
    }
}

/// Counts one attempt against a rate limit, turning an exhausted limit into a 429 page
/// with `Retry-After`. Returns the recorded event, which the caller may release when
/// the attempt should not count after all (a correct password, a rejected form).
pub(crate) async fn acquire_limit(
    state: &AppState,
    bucket: &str,
    limit: Limit,
    now: Micros,
    message: &str,
) -> Result<i64, PageError> {
    match rate_limits::acquire(&state.db, bucket, limit, now).await? {
        Ok(event) => Ok(event),
        Err(RetryAfter(seconds)) => {
            // Buckets name accounts and addresses; only their kind goes to the log.
            let kind = bucket.split(':').next().unwrap_or_default();
            tracing::warn!(limit = kind, retry_after = seconds, "rate limit reached");
            let minutes = seconds.div_ceil(60);
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            Err(PageError::TooManyRequests {
                retry_after: seconds,
                message: format!("{message} Try again in {minutes} {unit}."),
            })
        }
    }
}

/// The recipient of a one-time link.
struct LinkRecipient<'a> {
    member_id: i64,
    username: &'a str,
    email: &'a str,
}

/// Creates a one-time link for `recipient` and queues the email that carries it,
/// both inside `tx`, so the email is sent if and only if the link was stored. The
/// caller commits and then wakes the job workers.
async fn send_link(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    state: &AppState,
    recipient: &LinkRecipient<'_>,
    purpose: EmailTokenPurpose,
    now: Micros,
) -> anyhow::Result<()> {
    let token = crate::crypto::random_token(43);
    let token_hash = state.key.hash(purpose.as_str(), &token);
    let new = NewEmailToken {
        token_hash: &token_hash,
        member_id: recipient.member_id,
        purpose: purpose.as_str(),
        email: recipient.email,
        expires_at: now + purpose.lifetime(),
    };
    email_tokens::insert(&mut **tx, &new, now)
        .await
        .context("storing an email link")?;

    let email = match purpose {
        EmailTokenPurpose::VerifyEmail => {
            let link = state.url(&format!("/account/confirm-email/{token}/"));
            email_texts::confirmation_email(state, recipient.username, recipient.email, &link)
        }
        EmailTokenPurpose::PasswordReset => {
            let link = state.url(&format!("/account/password/reset/key/{token}/"));
            email_texts::reset_email(state, recipient.username, recipient.email, &link)
        }
    };
    crate::jobs::enqueue_email(&mut **tx, &email, now)
        .await
        .context("queueing an email")?;
    Ok(())
}

/// Redirects (303) and sets the new session cookie.
fn redirect_with_session(to: &str, cookie: HeaderValue) -> Response {
    with_cookie(Redirect::to(to).into_response(), cookie)
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_runs_wait_for_permits() {
        let running = Arc::new(AtomicUsize::new(0));
        let max_running = Arc::new(AtomicUsize::new(0));

        let runs = (0..16).map(|_| {
            let running = running.clone();
            let max_running = max_running.clone();
            tokio::spawn(run_argon2(
                move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    max_running.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                },
                "a test run",
            ))
        });
        for run in futures_util::future::join_all(runs).await {
            run.unwrap().unwrap();
        }

        let permits = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        let max_running = max_running.load(Ordering::SeqCst);
        assert!(
            max_running <= permits,
            "{max_running} runs at once with {permits} permits"
        );
        assert!(max_running >= 1);
    }

    #[test]
    fn address_key_groups_ipv6_by_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
    }

    #[test]
    fn address_key_keeps_ipv4_and_unmaps_ipv6() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), "192.0.2.7");
        assert_eq!(address_key(mapped), "192.0.2.7");
    }
}
