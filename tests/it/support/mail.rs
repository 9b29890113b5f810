//! Reading the emails a test app sent to its outbox directory.

use std::path::Path;
use std::time::Duration;

use mail_parser::MessageParser;

/// An email as a test sees it: decoded headers and plain-text body.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    pub to: String,
    pub from: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub message_id: String,
    pub body: String,
}

/// Parses every `.eml` file in `dir`, oldest first.
pub fn read_outbox(dir: &Path) -> Vec<ReceivedEmail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "eml"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|(_, path)| parse_email(&std::fs::read(path).ok()?))
        .collect()
}

/// Parses one raw RFC 5322 message.
pub fn parse_email(raw: &[u8]) -> Option<ReceivedEmail> {
    let message = MessageParser::default().parse(raw)?;
    let address = |list: Option<&mail_parser::Address>| -> Option<String> {
        let first = list?.first()?;
        let email = first.address()?.to_string();
        Some(match first.name() {
            Some(name) => format!("{name} <{email}>"),
            None => email,
        })
    };
    Some(ReceivedEmail {
        to: address(message.to())?,
        from: address(message.from())?,
        reply_to: address(message.reply_to()),
        subject: message.subject().unwrap_or_default().to_string(),
        message_id: message.message_id().unwrap_or_default().to_string(),
        body: message
            .body_text(0)
            .map(|text| text.to_string())
            .unwrap_or_default(),
    })
}

/// Waits until an email to `to` reaches the outbox and returns the newest one.
pub async fn wait_for_email(dir: &Path, to: &str) -> ReceivedEmail {
    super::eventually(
        Duration::from_secs(15),
        &format!("an email to {to}"),
        || async {
            read_outbox(dir)
                .into_iter()
                .rev()
                .find(|email| email.to.contains(to))
        },
    )
    .await
}

/// The first `http…` link in `body` that contains `fragment`.
pub fn find_link(body: &str, fragment: &str) -> Option<String> {
    body.split_whitespace()
        .map(|word| {
            word.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | '"' | '.' | ','))
        })
        .find(|word| word.starts_with("http") && word.contains(fragment))
        .map(str::to_string)
}
