//! `/account/signup/`: creating an account.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::{
    LinkRecipient, REJECTED, acquire_limit, address_key, hash_password, redirect_with_session,
    send_link,
};
use crate::app::AppState;
use crate::clock::HOUR;
use crate::db::members::{self, CreateMemberError, NewMember};
use crate::db::rate_limits::{self, Limit};
use crate::domain::forms::FieldErrors;
use crate::domain::member::{EmailTokenPurpose, validate_email, validate_username};
use crate::domain::password;
use crate::http::client_addr::ClientAddr;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{PageContext, start_session};

const USERNAME_TAKEN: &str = "This username is taken. Choose another one.";
const EMAIL_TAKEN: &str =
    "An account with this email address exists. Log in, or reset its password.";

/// The signup form. It keeps what the visitor typed, except passwords.
#[derive(Template, WebTemplate)]
#[template(path = "account/signup.html")]
pub struct SignupPage {
    ctx: PageContext,
    username: String,
    email: String,
    errors: FieldErrors,
}

/// `GET /account/signup/`: the signup form.
pub async fn signup_form(ctx: PageContext) -> SignupPage {
    SignupPage {
        ctx,
        username: String::new(),
        email: String::new(),
        errors: FieldErrors::new(),
    }
}

/// `POST /account/signup/`: creates the account, queues the email that confirms its
/// address, logs the new member in and sends them to the "check your email" page.
///
/// The unique indexes on the lowercased username and email decide between racing
/// signups, and the loser gets the same field error as a later duplicate.
pub async fn signup(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let username = form.required("username")?.trim().to_string();
    let email = form.required("email")?.trim().to_string();
    let password = form.required("password")?;
    let confirmation = form.required("password_confirmation")?;
    let now = state.clock.now();

    let address_bucket = format!("signup:address:{}", address_key(client.ip));
    let limit = Limit {
        max: state.settings.signups_per_address_per_hour,
        window: HOUR,
    };
    let attempt = acquire_limit(
        &state,
        &address_bucket,
        limit,
        now,
        "Too many signups came from your network in the last hour.",
    )
    .await?;

    let mut page = SignupPage {
        ctx,
        errors: validate_signup(&state, &username, &email, password, confirmation).await?,
        username,
        email,
    };
    if !page.errors.is_empty() {
        return reject(&state, attempt, page).await;
    }

    // Hash before taking the write lock, so other signups do not wait for Argon2.
    let password_hash = hash_password(password).await?;
    let mut tx = state.db.begin_write().await?;
    let new = NewMember {
        username: &page.username,
        email: &page.email,
        password_hash: &password_hash,
        is_admin: false,
        email_verified: false,
    };
    let member_id = match members::insert_with(&mut *tx, &new, now).await {
        Ok(id) => id,
        Err(CreateMemberError::UsernameTaken) => {
            page.errors.add("username", USERNAME_TAKEN);
            drop(tx);
            return reject(&state, attempt, page).await;
        }
        Err(CreateMemberError::EmailTaken) => {
            page.errors.add("email", EMAIL_TAKEN);
            drop(tx);
            return reject(&state, attempt, page).await;
        }
        Err(CreateMemberError::Database(error)) => return Err(error.into()),
    };
    let recipient = LinkRecipient {
        member_id,
        username: &page.username,
        email: &page.email,
    };
    send_link(
        &mut tx,
        &state,
        &recipient,
        EmailTokenPurpose::VerifyEmail,
        now,
    )
    .await?;
    tx.commit().await?;
    state.job_signal.notify();
    tracing::info!(member.id = member_id, "member signed up");

    // The confirmation email counts toward the member's limit on such emails.
    let resend_bucket = super::confirm_email::resend_bucket(member_id);
    rate_limits::record(&state.db, &resend_bucket, now).await?;

    let cookie = start_session(&state, member_id, &headers).await?;
    Ok(redirect_with_session("/account/confirm-email/", cookie))
}

/// Re-renders a rejected signup form. A form rejected for a typo does not count toward
/// the per-address limit, so its attempt is released. One rejected because the
/// username or email address is taken does count: it tells the visitor that an account
/// exists, and the limit keeps anyone from probing many addresses that way.
async fn reject(state: &AppState, attempt: i64, page: SignupPage) -> Result<Response, PageError> {
    let reveals_account = page.errors.get("username") == Some(USERNAME_TAKEN)
        || page.errors.get("email") == Some(EMAIL_TAKEN);
    if !reveals_account {
        rate_limits::release(&state.db, attempt).await?;
    }
    Ok((REJECTED, page).into_response())
}

/// Checks every field, returning the messages to show next to them.
async fn validate_signup(
    state: &AppState,
    username: &str,
    email: &str,
    new_password: &str,
    confirmation: &str,
) -> Result<FieldErrors, PageError> {
    let mut errors = FieldErrors::new();
    match validate_username(username) {
        Err(message) => errors.add("username", message),
        Ok(()) if members::username_exists(&state.db, username).await? => {
            errors.add("username", USERNAME_TAKEN);
        }
        Ok(()) => {}
    }
    match validate_email(email) {
        Err(message) => errors.add("email", message),
        Ok(()) if members::find_by_email(&state.db, email).await?.is_some() => {
            errors.add("email", EMAIL_TAKEN);
        }
        Ok(()) => {}
    }
    if let Err(message) = password::validate(new_password, username) {
        errors.add("password", message);
    }
    if new_password != confirmation {
        errors.add(
            "password_confirmation",
            "The two passwords differ. Type the same password twice.",
        );
    }
    Ok(errors)
}
