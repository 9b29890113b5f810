//! `/account/password/change/`: a logged-in member changes their password.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::login::{account_bucket, account_limit};
use super::{REJECTED, acquire_limit, hash_password, verify_password, with_cookie};
use crate::app::AppState;
use crate::db::{email_tokens, members, rate_limits, sessions};
use crate::domain::forms::FieldErrors;
use crate::domain::member::EmailTokenPurpose;
use crate::domain::password;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{
    CurrentMember, FlashKind, PageContext, redirect_with_flash, start_session,
};

/// The password change form.
#[derive(Template, WebTemplate)]
#[template(path = "account/password_change.html")]
pub struct PasswordChangePage {
    ctx: PageContext,
    errors: FieldErrors,
}

/// `GET /account/password/change/`: the password change form.
pub async fn password_change_form(_member: CurrentMember, ctx: PageContext) -> PasswordChangePage {
    PasswordChangePage {
        ctx,
        errors: FieldErrors::new(),
    }
}

/// `POST /account/password/change/`: checks the current password, stores the new one,
/// ends every session of the member and starts a fresh one for this browser.
///
/// A wrong current password counts as a failed login of the account, so a stolen
/// session cannot be used to guess the password faster than the login form allows.
pub async fn change_password(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    headers: HeaderMap,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let current = form.required("current_password")?;
    let new_password = form.required("new_password")?;
    let confirmation = form.required("new_password_confirmation")?;
    let now = state.clock.now();
    let bucket = account_bucket(member.id);
    let attempt = acquire_limit(
        &state,
        &bucket,
        account_limit(&state),
        now,
        "There were too many wrong passwords. For your security, changing the password is \
         paused.",
    )
    .await?;

    let mut page = PasswordChangePage {
        ctx,
        errors: FieldErrors::new(),
    };
    if verify_password(current, &member.password_hash).await? {
        rate_limits::release(&state.db, attempt).await?;
    } else {
        page.errors
            .add("current_password", "The current password is not correct.");
    }
    if let Err(message) = password::validate(new_password, &member.username) {
        page.errors.add("new_password", message);
    }
    if new_password != confirmation {
        page.errors.add(
            "new_password_confirmation",
            "The two passwords differ. Type the same password twice.",
        );
    }
    if !page.errors.is_empty() {
        return Ok((REJECTED, page).into_response());
    }

    let password_hash = hash_password(new_password).await?;
    let mut tx = state.db.begin_write().await?;
    members::update_password_hash(&mut *tx, member.id, &password_hash).await?;
    // A reset link sent before the change must not undo it.
    let purpose = EmailTokenPurpose::PasswordReset.as_str();
    email_tokens::revoke_for_member(&mut *tx, member.id, purpose, now).await?;
    // Every old session ends with the old password; this one starts afresh below.
    sessions::delete_for_member(&mut *tx, member.id).await?;
    tx.commit().await?;

    let cookie = start_session(&state, member.id, &headers).await?;
    tracing::info!(member.id = member.id, "password changed");
    let response = redirect_with_flash(
        &state,
        "/account/password/change/",
        FlashKind::Success,
        "Your password was changed. You were logged out on every other device.",
    );
    Ok(with_cookie(response, cookie))
}
