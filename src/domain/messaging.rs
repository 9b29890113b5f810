//! Project messages to members: what a request must contain, who may receive it, the
//! daily limit, and the text of each email.
//!
//! Only members whose permission snapshot grants the message permission receive
//! messages. The body is plain text in which `{{ PROJECT_MEMBER_ID }}` (any spacing
//! inside the braces) is replaced by the recipient's project member id; nothing else
//! in it is interpreted.

use std::collections::BTreeMap;

use crate::clock::{DAY, Micros, SECOND};
use crate::domain::files::{parse_bool_field, parse_project_member_ids};

/// Kind of the job that emails one recipient of a message.
pub const MESSAGE_JOB: &str = "send_project_message";

/// Attempts per recipient: with delays doubling from 10 s up to one hour, about a day.
pub const MESSAGE_MAX_ATTEMPTS: i64 = 12;

/// Maximum length of a subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Maximum length of a message body, in characters.
pub const MAX_MESSAGE_CHARS: usize = 50_000;

/// Field errors keyed by field name, `__all__` for request-wide ones: the shape of
/// the API's `{"errors": …}` body.
pub type MessageErrors = BTreeMap<String, Vec<String>>;

/// A validated subject and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub subject: String,
    pub body: String,
}

/// Whom a project addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Every active member whose snapshot grants the message permission.
    AllMembers,
    /// These project member ids, each of which must be such a member.
    Ids(Vec<String>),
}

/// The credential or page that queued a message, as stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    MasterToken,
    MemberToken,
    Coordinator,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::MasterToken => "master-token",
            Sender::MemberToken => "member-token",
            Sender::Coordinator => "coordinator",
        }
    }
}

/// The reason a message with valid input is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Listed ids that cannot be messaged: `unknown` are not active members of the
    /// project (including ids of other projects), `not_permitted` are members whose
    /// snapshot does not grant the message permission.
    Recipients {
        unknown: Vec<String>,
        not_permitted: Vec<String>,
    },
    /// Sending to `requested` more recipients would pass the project's daily limit.
    DailyLimit {
        limit: u32,
        requested: usize,
        remaining: u32,
        retry_after_seconds: u64,
    },
}

impl Rejection {
    /// Returns the messages to show, one per problem.
    pub fn messages(&self) -> Vec<String> {
        match self {
            Rejection::Recipients {
                unknown,
                not_permitted,
            } => {
                let mut messages = Vec::new();
                if !unknown.is_empty() {
                    messages.push(format!(
                        "These ids are not active members of this project: {}",
                        unknown.join(", ")
                    ));
                }
                if !not_permitted.is_empty() {
                    messages.push(format!(
                        "These members have not granted this project permission to message \
                         them: {}",
                        not_permitted.join(", ")
                    ));
                }
                messages
            }
            Rejection::DailyLimit {
                limit,
                requested,
                remaining,
                retry_after_seconds,
            } => vec![format!(
                "Daily message limit reached: a project may message at most {limit} \
                 recipients per day; {remaining} of today's are left and this message \
                 has {requested}. Retry after {retry_after_seconds} seconds, or send to fewer \
                 members."
            )],
        }
    }
}

/// Checks the subject and message body. Both are required; the subject must fit on
/// one line.
pub fn validate_draft(
    subject: Option<&str>,
    message: Option<&str>,
) -> Result<Draft, MessageErrors> {
    let mut errors = MessageErrors::new();
    let subject = subject.unwrap_or_default().trim();
    if subject.is_empty() {
        add(&mut errors, "subject", "This field is required.");
    } else if subject.chars().count() > MAX_SUBJECT_CHARS {
        add(
            &mut errors,
            "subject",
            format!("subject must be at most {MAX_SUBJECT_CHARS} characters."),
        );
    } else if subject.contains(['\r', '\n']) {
        add(&mut errors, "subject", "subject must be a single line.");
    }
    let body = message.unwrap_or_default();
    if body.trim().is_empty() {
        add(&mut errors, "message", "This field is required.");
    } else if body.chars().count() > MAX_MESSAGE_CHARS {
        add(
            &mut errors,
            "message",
            format!("message must be at most {MAX_MESSAGE_CHARS} characters."),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Draft {
        subject: subject.to_string(),
        body: body.replace("\r\n", "\n"),
    })
}

/// Reads the recipients of a master-token or coordinator request: `all_members` (a
/// form boolean) or `project_member_ids` (every value, each separated by commas,
/// spaces or newlines), exactly one of them.
pub fn parse_recipients(
    all_members: Option<&str>,
    ids: &[&str],
) -> Result<Recipients, MessageErrors> {
    let mut errors = MessageErrors::new();
    let all = match all_members.map(|value| parse_bool_field("all_members", value)) {
        Some(Ok(all)) => all,
        Some(Err(message)) => {
            add(&mut errors, "all_members", format!("{message}."));
            false
        }
        None => false,
    };
    let ids = match parse_project_member_ids(ids) {
        Ok(ids) => ids,
        Err(invalid) => {
            add(
                &mut errors,
                "project_member_ids",
                format!(
                    "Project member ids are 8 digits; these are not: {}",
                    invalid.join(", ")
                ),
            );
            Vec::new()
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    match (all, ids.is_empty()) {
        (true, true) => Ok(Recipients::AllMembers),
        (false, false) => Ok(Recipients::Ids(ids)),
        (true, false) => Err(MessageErrors::from([(
            "__all__".to_string(),
            vec!["Send either all_members or project_member_ids, not both.".to_string()],
        )])),
        (false, true) => Err(MessageErrors::from([(
            "__all__".to_string(),
            vec![
                "Choose the recipients: set all_members to true or list project_member_ids."
                    .to_string(),
            ],
        )])),
    }
}

/// Decides whether `requested` more recipients fit in the daily `limit`, given the
/// send times of the recipients counted in the last day (`recent`, oldest first).
/// When they do not, the rejection gives the seconds until enough of them leave the
/// window. A request larger than the whole limit waits a full day.
pub fn check_daily_limit(
    recent: &[Micros],
    requested: usize,
    limit: u32,
    now: Micros,
) -> Result<(), Rejection> {
    let used = recent.len();
    let capacity = limit as usize;
    if used + requested <= capacity {
        return Ok(());
    }
    let retry_after = if requested > capacity {
        DAY
    } else {
        // The request fits once this many of the oldest recipients leave the window.
        let must_expire = used + requested - capacity;
        recent[must_expire - 1] + DAY - now
    };
    Err(Rejection::DailyLimit {
        limit,
        requested,
        remaining: capacity.saturating_sub(used) as u32,
        retry_after_seconds: ((retry_after.max(0) + SECOND - 1) / SECOND).max(1) as u64,
    })
}

/// Replaces every `{{ PROJECT_MEMBER_ID }}`, with any spaces or tabs inside the
/// braces, by `project_member_id`. Every other character is kept as written.
pub fn substitute_member_id(text: &str, project_member_id: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        output.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let inner = after.trim_start_matches([' ', '\t']);
        let matched = inner
            .strip_prefix("PROJECT_MEMBER_ID")
            .map(|tail| tail.trim_start_matches([' ', '\t']))
            .and_then(|tail| tail.strip_prefix("}}"));
        match matched {
            Some(tail) => {
                output.push_str(project_member_id);
                rest = tail;
            }
            None => {
                output.push_str("{{");
                rest = after;
            }
        }
    }
    output.push_str(rest);
    output
}

/// Returns the subject line of a project's email.
pub fn email_subject(site_name: &str, subject: &str) -> String {
    format!("[{site_name} project message] {subject}")
}

/// The names and the link in the footer of a project's email.
#[derive(Debug, Clone)]
pub struct Footer<'a> {
    pub site_name: &'a str,
    pub project_name: &'a str,
    pub project_member_id: &'a str,
    /// Absolute URL of the member's connections page.
    pub connections_url: &'a str,
}

/// Writes the plain-text body of one recipient's email: the message with the
/// member id substituted, then a footer that names the project and explains how to stop
/// its messages.
pub fn email_body(body: &str, footer: &Footer<'_>) -> String {
    let text = substitute_member_id(body, footer.project_member_id);
    format!(
        "{text}\n\n-- \n\
         This message was sent by the project \"{project}\" to you, its member \
         {id}, through {site}. The project does not know your email address. If you \
         reply, your reply goes to the project's contact address, and the project then \
         sees your address.\n\n\
         To stop messages from \"{project}\", withdraw from the project on your \
         connections page:\n{connections}\n\
         If the project stops asking for permission to message you, authorizing it \
         again withdraws that permission.\n",
        text = text.trim_end(),
        project = footer.project_name,
        id = footer.project_member_id,
        site = footer.site_name,
        connections = footer.connections_url,
    )
}

fn add(errors: &mut MessageErrors, field: &str, message: impl Into<String>) {
    errors
        .entry(field.to_string())
        .or_default()
        .push(message.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_is_replaced_with_any_spacing() {
        let text =
            "Hi {{ PROJECT_MEMBER_ID }}, {{PROJECT_MEMBER_ID}} and {{\tPROJECT_MEMBER_ID  }}.";
        assert_eq!(
            substitute_member_id(text, "01234567"),
            "Hi 01234567, 01234567 and 01234567."
        );
    }

    #[test]
    fn other_braces_stay_untouched() {
        let text = "{% if x %}{{ name }} {{ PROJECT_MEMBER_IDS }} {{ {{ PROJECT_MEMBER_ID }} }}{{";
        assert_eq!(
            substitute_member_id(text, "7"),
            "{% if x %}{{ name }} {{ PROJECT_MEMBER_IDS }} {{ 7 }}{{"
        );
    }

    #[test]
    fn draft_requires_subject_and_message() {
        let errors = validate_draft(None, Some("  ")).unwrap_err();
        assert_eq!(errors["subject"], ["This field is required."]);
        assert_eq!(errors["message"], ["This field is required."]);
        let errors = validate_draft(Some("a\nb"), Some("x")).unwrap_err();
        assert_eq!(errors["subject"], ["subject must be a single line."]);
        let long = "x".repeat(MAX_SUBJECT_CHARS + 1);
        assert!(validate_draft(Some(&long), Some("x")).is_err());
        let draft = validate_draft(Some(" Hello "), Some("line\r\nnext")).unwrap();
        assert_eq!(draft.subject, "Hello");
        assert_eq!(draft.body, "line\nnext");
    }

    #[test]
    fn recipients_need_exactly_one_selector() {
        assert_eq!(
            parse_recipients(Some("True"), &[]).unwrap(),
            Recipients::AllMembers
        );
        assert_eq!(
            parse_recipients(Some("False"), &["12345678", "23456789,34567890"]).unwrap(),
            Recipients::Ids(vec![
                "12345678".to_string(),
                "23456789".to_string(),
                "34567890".to_string()
            ])
        );
        assert!(
            parse_recipients(None, &[])
                .unwrap_err()
                .contains_key("__all__")
        );
        assert!(
            parse_recipients(Some("true"), &["12345678"])
                .unwrap_err()
                .contains_key("__all__")
        );
        let errors = parse_recipients(Some("maybe"), &["12x"]).unwrap_err();
        assert!(errors["all_members"][0].contains("\"maybe\""));
        assert!(errors["project_member_ids"][0].contains("12x"));
    }

    #[test]
    fn daily_limit_counts_and_computes_retry_after() {
        let now = 10 * DAY;
        let recent = [now - 20 * crate::clock::HOUR, now - HOUR_2, now - 10];
        assert!(check_daily_limit(&recent, 2, 5, now).is_ok());
        // One more than fits: the oldest recipient leaves the window in four hours.
        match check_daily_limit(&recent, 3, 5, now) {
            Err(Rejection::DailyLimit {
                remaining,
                retry_after_seconds,
                ..
            }) => {
                assert_eq!(remaining, 2);
                assert_eq!(retry_after_seconds, 4 * 3600);
            }
            other => panic!("expected the daily limit, got {other:?}"),
        }
        match check_daily_limit(&[], 6, 5, now) {
            Err(Rejection::DailyLimit {
                retry_after_seconds,
                ..
            }) => assert_eq!(retry_after_seconds, 86_400),
            other => panic!("expected the daily limit, got {other:?}"),
        }
    }

    const HOUR_2: Micros = 2 * crate::clock::HOUR;

    #[test]
    fn body_has_substitution_and_footer() {
        let body = email_body(
            "Dear {{ PROJECT_MEMBER_ID }},\nthanks.\n",
            &Footer {
                site_name: "openhumans",
                project_name: "Step Study",
                project_member_id: "01234567",
                connections_url: "https://example.org/member/me/connections/",
            },
        );
        assert!(body.starts_with("Dear 01234567,\nthanks.\n\n-- \n"));
        assert!(body.contains("\"Step Study\""));
        assert!(body.contains("https://example.org/member/me/connections/"));
    }
}
