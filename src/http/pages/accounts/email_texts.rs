//! The texts of the emails that carry one-time links.

use crate::app::AppState;
use crate::clock::{DAY, HOUR, Micros};
use crate::domain::member::EmailTokenPurpose;
use crate::mail::{Email, new_message_id};

/// Builds the email that confirms a new member's address.
pub fn confirmation_email(state: &AppState, username: &str, to: &str, link: &str) -> Email {
    let site = &state.settings.site_name;
    let lifetime = describe_lifetime(EmailTokenPurpose::VerifyEmail.lifetime());
    let body = format!(
        "Hello {username},\n\
         \n\
         To confirm that {to} is the email address of your account \"{username}\" \
         on {site}, open this link:\n\
         \n\
         {link}\n\
         \n\
         The link works once and expires in {lifetime}. If it has expired, log in and \
         ask for a new one.\n\
         \n\
         If you did not create an account on {site}, ignore this email: the address \
         stays unconfirmed.\n\
         \n\
         {site}\n\
         {home}\n",
        home = state.url("/"),
    );
    Email {
        to: to.to_string(),
        from_name: Some(site.clone()),
        reply_to: None,
        subject: format!("Confirm your email address for {site}"),
        body,
        message_id: new_message_id(&state.settings.mail_from),
    }
}

/// Builds the email that lets a member choose a new password.
pub fn reset_email(state: &AppState, username: &str, to: &str, link: &str) -> Email {
    let site = &state.settings.site_name;
    let lifetime = describe_lifetime(EmailTokenPurpose::PasswordReset.lifetime());
    let body = format!(
        "Hello {username},\n\
         \n\
         Someone asked to reset the password of your account \"{username}\" on {site}. \
         To choose a new password, open this link:\n\
         \n\
         {link}\n\
         \n\
         The link works once and expires in {lifetime}. Setting a new password logs \
         you out everywhere else.\n\
         \n\
         If you did not ask for this, ignore this email: your password stays \
         unchanged. If such emails keep arriving, someone may be trying to get into \
         your account; a long, unique password keeps it safe.\n\
         \n\
         {site}\n\
         {home}\n",
        home = state.url("/"),
    );
    Email {
        to: to.to_string(),
        from_name: Some(site.clone()),
        reply_to: None,
        subject: format!("Reset your password on {site}"),
        body,
        message_id: new_message_id(&state.settings.mail_from),
    }
}

/// Writes a link lifetime for people: "1 hour", "3 days".
fn describe_lifetime(lifetime: Micros) -> String {
    let (count, unit) = if lifetime % DAY == 0 {
        (lifetime / DAY, "day")
    } else {
        ((lifetime + HOUR - 1) / HOUR, "hour")
    };
    if count == 1 {
        format!("1 {unit}")
    } else {
        format!("{count} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_in_hours_or_days() {
        assert_eq!(describe_lifetime(HOUR), "1 hour");
        assert_eq!(describe_lifetime(2 * HOUR), "2 hours");
        assert_eq!(describe_lifetime(DAY), "1 day");
        assert_eq!(describe_lifetime(3 * DAY), "3 days");
    }
}
