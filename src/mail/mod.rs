//! Outgoing email: SMTP in production, `.eml` files in a local outbox in development.
//!
//! Nothing sends mail directly from a request. Callers queue an [`Email`] with
//! [`crate::jobs::enqueue_email`] and a job worker hands it to the [`Mailer`]. So a
//! slow or failing mail server never fails a page, and a crash loses no email.

use std::path::PathBuf;

use anyhow::Context;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

/// One email, as queued. `message_id` is fixed when the email is queued, so a retry
/// after a crash carries the same `Message-ID` and receivers can drop the duplicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    /// Display name for the sender; the address is always the configured sender.
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
}

/// Destination of outgoing email.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox {
        dir: PathBuf,
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { .. } => f.write_str("Mailer::Smtp"),
            Mailer::Outbox { dir, .. } => write!(f, "Mailer::Outbox({})", dir.display()),
        }
    }
}

impl Mailer {
    /// SMTP when `smtp_url` is set, otherwise an outbox directory of `.eml` files.
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf, from: &str) -> anyhow::Result<Self> {
        let from = parse_mailbox(from)?;
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("invalid SMTP_URL")?
                    .timeout(Some(std::time::Duration::from_secs(30)))
                    .build();
                Ok(Mailer::Smtp { transport, from })
            }
            None => Ok(Mailer::Outbox { dir: outbox, from }),
        }
    }

    /// Sends one email. An error means it was not accepted and should be retried.
    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        match self {
            Mailer::Smtp { transport, from } => {
                let message = build_message(email, from)?;
                transport
                    .send(message)
                    .await
                    .context("sending through SMTP")?;
            }
            Mailer::Outbox { dir, from } => {
                let message = build_message(email, from)?;
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("creating {}", dir.display()))?;
                // The Message-ID is unique, so a retried email overwrites its own file.
                let name: String = email
                    .message_id
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let partial = dir.join(format!(".{name}.eml.partial"));
                tokio::fs::write(&partial, message.formatted())
                    .await
                    .with_context(|| format!("writing {}", partial.display()))?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .with_context(|| format!("moving the email into {}", path.display()))?;
            }
        }
        Ok(())
    }
}

/// Parses `Name <address>` or a bare address.
pub fn parse_mailbox(value: &str) -> anyhow::Result<Mailbox> {
    value
        .parse::<Mailbox>()
        .with_context(|| format!("{value:?} is not a valid email address"))
}

/// Makes a new `Message-ID` value in the sender's domain, e.g. `<8f3a…@example.org>`.
pub fn new_message_id(from: &str) -> String {
    let domain = parse_mailbox(from)
        .map(|mailbox| mailbox.email.domain().to_string())
        .unwrap_or_else(|_| "localhost".to_string());
    format!("<{}@{domain}>", crate::crypto::random_token(32))
}

fn build_message(email: &Email, from: &Mailbox) -> anyhow::Result<Message> {
    let sender = match &email.from_name {
        Some(name) => Mailbox::new(Some(name.clone()), from.email.clone()),
        None => from.clone(),
    };
    let mut builder = Message::builder()
        .from(sender)
        .to(parse_mailbox(&email.to).context("invalid recipient")?)
        .subject(&email.subject)
        .message_id(Some(email.message_id.clone()))
        .header(ContentType::TEXT_PLAIN);
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(parse_mailbox(reply_to).context("invalid Reply-To")?);
    }
    builder
        .body(email.body.clone())
        .context("building the email")
}
