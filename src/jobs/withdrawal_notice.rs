//! The email that notifies a project's contact address of a withdrawal.

use super::JobError;
use crate::app::AppState;
use crate::clock::human;
use crate::db::{projects, withdrawals};
use crate::domain::membership::WithdrawalReason;
use crate::mail::{Email, parse_mailbox};

/// The payload of a notice job. `message_token` is drawn when the job is queued, so
/// every retry sends the same `Message-ID`.
#[derive(Debug, serde::Deserialize)]
struct NoticeJob {
    withdrawal_id: i64,
    message_token: String,
}

/// Builds and sends the notice of one withdrawal.
pub async fn send_notice(state: &AppState, payload: &str) -> Result<(), JobError> {
    let job: NoticeJob = serde_json::from_str(payload)
        .map_err(|error| JobError::Permanent(format!("invalid notice payload: {error}")))?;
    let database = |error: sqlx::Error| JobError::Retry(format!("database error: {error}"));
    let withdrawal = withdrawals::find_by_id(&state.db, job.withdrawal_id)
        .await
        .map_err(database)?
        .ok_or_else(|| {
            JobError::Permanent(format!("withdrawal {} not found", job.withdrawal_id))
        })?;
    let project = projects::find_by_id(&state.db, withdrawal.project_id)
        .await
        .map_err(database)?
        .ok_or_else(|| {
            JobError::Permanent(format!("project {} not found", withdrawal.project_id))
        })?;

    let domain = parse_mailbox(&state.settings.mail_from)
        .map(|mailbox| mailbox.email.domain().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    let link = state.url(&format!(
        "/direct-sharing/projects/oauth2/{}/withdrawn/",
        project.slug
    ));
    let email = Email {
        to: project.config.contact_email.clone(),
        from_name: Some(state.settings.site_name.clone()),
        reply_to: None,
        subject: format!(
            "{} notification: member withdrawal",
            state.settings.site_name
        ),
        body: notice_body(
            &project.config.name,
            &state.settings.site_name,
            &withdrawal,
            &link,
        ),
        message_id: format!("<{}@{domain}>", job.message_token),
    };
    state
        .mailer
        .send(&email)
        .await
        .map_err(|error| JobError::Retry(format!("{error:#}")))
}

/// Writes the notice's text. It names the member by `project_member_id` and states
/// only what was done, so files are reported deleted only when they were.
pub fn notice_body(
    project_name: &str,
    site_name: &str,
    withdrawal: &withdrawals::Withdrawal,
    link: &str,
) -> String {
    let reason = WithdrawalReason::parse(&withdrawal.reason);
    let mut body = format!(
        "Hello,\n\nThe member {id} of your project \"{project_name}\" {what} on {at}. \
         Their tokens no longer work and your project can no longer read their data.\n\n",
        id = withdrawal.project_member_id,
        what = reason.describe(),
        at = human(withdrawal.at),
    );
    if withdrawal.erasure_requested {
        body.push_str(&format!(
            "Erasure requested: yes. The member asks your project to erase the data it \
             holds about them (project member id {}). Please do so.\n\n",
            withdrawal.project_member_id
        ));
    } else {
        body.push_str("Erasure requested: no.\n\n");
    }
    let files = match (reason, withdrawal.files_deleted) {
        (WithdrawalReason::AccountDeleted, _) => format!(
            "Files: the member deleted their {site_name} account, and with it every file \
             in it, including the files your project added."
        ),
        (_, true) => format!(
            "Files: the member deleted the files your project added to their {site_name} \
             account."
        ),
        (_, false) => format!(
            "Files: the files your project added to the member's {site_name} account were \
             not deleted; they stay in the member's account."
        ),
    };
    body.push_str(&files);
    body.push_str(&format!(
        "\n\nEvery withdrawal from your project is listed at\n{link}\n\n-- \n{site_name}\n"
    ));
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn withdrawal(reason: WithdrawalReason, erasure: bool, files: bool) -> withdrawals::Withdrawal {
        withdrawals::Withdrawal {
            id: 1,
            project_id: 1,
            project_member_id: "01234567".to_string(),
            reason: reason.as_str().to_string(),
            erasure_requested: erasure,
            files_deleted: files,
            at: 1_593_547_200_000_000,
        }
    }

    #[test]
    fn notice_names_member_and_erasure() {
        let body = notice_body(
            "Step Study",
            "openhumans",
            &withdrawal(WithdrawalReason::Member, true, false),
            "https://example.org/withdrawn/",
        );
        assert!(body.contains("The member 01234567 of your project \"Step Study\" withdrew"));
        assert!(body.contains("Erasure requested: yes"));
        assert!(body.contains("were not deleted"));
        assert!(body.contains("https://example.org/withdrawn/"));
    }

    #[test]
    fn notice_states_deleted_files_only_when_deleted() {
        let deleted = notice_body(
            "P",
            "openhumans",
            &withdrawal(WithdrawalReason::Member, false, true),
            "l",
        );
        assert!(deleted.contains("the member deleted the files your project added"));
        assert!(deleted.contains("Erasure requested: no."));
        let removed = notice_body(
            "P",
            "openhumans",
            &withdrawal(WithdrawalReason::Project, false, false),
            "l",
        );
        assert!(removed.contains("was removed by the project"));
        assert!(removed.contains("were not deleted"));
    }
}
