//! `/account/login/`: logging in by username or email address.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{REJECTED, acquire_limit, address_key, redirect_with_session, verify_password};
use crate::app::AppState;
use crate::clock::SECOND;
use crate::db::members;
use crate::db::rate_limits::{self, Limit};
use crate::domain::forms::FieldErrors;
use crate::http::client_addr::ClientAddr;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{PageContext, safe_next, start_session};

/// Shown for a wrong password, an unknown account and a suspended one alike, so the
/// page does not tell which accounts exist.
const LOGIN_FAILED: &str = "The username, email address or password is not correct.";
/// Shown only after the right password, so it reveals nothing to someone guessing.
const ACCOUNT_SUSPENDED: &str = "This account is suspended, so it cannot log in. Write to \
    the site's administrators to ask why or to have it reinstated.";

/// The login form. `next` is where the member goes after logging in.
#[derive(Template, WebTemplate)]
#[template(path = "account/login.html")]
pub struct LoginPage {
    ctx: PageContext,
    login: String,
    next: String,
    errors: FieldErrors,
    form_error: Option<&'static str>,
}

/// `GET /account/login/?next=…`: the login form.
pub async fn login_form(ctx: PageContext, RawQuery(query): RawQuery) -> LoginPage {
    let next = query
        .as_deref()
        .and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "next")
                .map(|(_, value)| value.into_owned())
        })
        .unwrap_or_default();
    LoginPage {
        ctx,
        login: String::new(),
        next,
        errors: FieldErrors::new(),
        form_error: None,
    }
}

/// `POST /account/login/`: checks the credentials, starts a new session and
/// redirects to `next` when it is a path on this site.
///
/// Failed attempts are limited per account and per client address. Unknown
/// accounts are checked against a dummy hash, so they take as long as a wrong
/// password, and get the same message, status and limits.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let login = form.required("login")?.trim().to_string();
    let password = form.required("password")?;
    let mut page = LoginPage {
        ctx,
        login,
        next: form.optional("next").unwrap_or_default().to_string(),
        errors: FieldErrors::new(),
        form_error: None,
    };
    if page.login.is_empty() {
        page.errors
            .add("login", "Enter your username or email address.");
    }
    if password.is_empty() {
        page.errors.add("password", "Enter your password.");
    }
    if !page.errors.is_empty() {
        return Ok((REJECTED, page).into_response());
    }

    let now = state.clock.now();
    let member = members::find_by_login(&state.db, &page.login).await?;
    let account_bucket = match &member {
        Some(member) => account_bucket(member.id),
        None => format!(
            "login-failure:unknown:{}",
            state
                .key
                .hash("login-rate-limit", &page.login.to_lowercase())
        ),
    };
    let address_bucket = format!("login-failure:address:{}", address_key(client.ip));
    let limits = [
        (&account_bucket, account_limit(&state)),
        (
            &address_bucket,
            Limit {
                max: state.settings.login_failures_per_address,
                window: login_window(&state),
            },
        ),
    ];
    // Every attempt counts until it succeeds, so parallel guesses share the limit.
    let mut attempts = Vec::with_capacity(limits.len());
    for (bucket, limit) in limits {
        let attempt = acquire_limit(
            &state,
            bucket,
            limit,
            now,
            "There were too many failed logins. For your security, logging in is paused. \
             Resetting your password at /account/password/reset/ lifts the pause at once.",
        )
        .await;
        match attempt {
            Ok(event) => attempts.push(event),
            Err(error) => {
                for event in attempts {
                    rate_limits::release(&state.db, event).await?;
                }
                return Err(error);
            }
        }
    }

    let stored_hash = match &member {
        Some(member) => member.password_hash.clone(),
        None => state.dummy_password_hash.to_string(),
    };
    let password_matches = verify_password(password, &stored_hash).await?;
    if password_matches && member.as_ref().is_some_and(|member| !member.is_active) {
        tracing::info!("login rejected: the account is suspended");
        page.form_error = Some(ACCOUNT_SUSPENDED);
        return Ok((REJECTED, page).into_response());
    }
    let Some(member) = member.filter(|member| password_matches && member.is_active) else {
        tracing::info!("login failed");
        page.form_error = Some(LOGIN_FAILED);
        return Ok((REJECTED, page).into_response());
    };

    for event in attempts {
        rate_limits::release(&state.db, event).await?;
    }
    rate_limits::clear(&state.db, &account_bucket).await?;
    let cookie = start_session(&state, member.id, &headers).await?;
    tracing::info!(member.id = member.id, "member logged in");
    let target = safe_next(Some(page.next.as_str()).filter(|next| !next.is_empty()));
    Ok(redirect_with_session(&target, cookie))
}

/// Names the rate-limit bucket of one account's failed logins. A wrong current
/// password on the password change form counts there too.
pub fn account_bucket(member_id: i64) -> String {
    format!("login-failure:member:{member_id}")
}

/// Returns the limit on one account's failed logins.
pub fn account_limit(state: &AppState) -> Limit {
    Limit {
        max: state.settings.login_failures_per_account,
        window: login_window(state),
    }
}

fn login_window(state: &AppState) -> i64 {
    i64::try_from(state.settings.login_window_seconds).unwrap_or(i64::MAX / SECOND) * SECOND
}
