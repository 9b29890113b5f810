//! SMTP servers on loopback for mail tests: a real one (Python's `aiosmtpd` writing
//! each accepted message to a Maildir), which can also hold back its replies to DATA,
//! and a silent one that accepts connections and never responds, to hold a worker
//! inside an SMTP exchange.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::mail::{ReceivedEmail, parse_email};
use super::process::{ChildProcess, free_port};

/// A real SMTP server that stores every accepted message as one file, so a message
/// delivered twice shows up twice.
pub struct SmtpServer {
    pub port: u16,
    maildir: PathBuf,
    /// While this file exists, replies to DATA are held back (holding servers only).
    hold_file: PathBuf,
    /// One line is appended here for every reply held back (holding servers only).
    held_log: PathBuf,
    _dir: TempDir,
    _process: ChildProcess,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        SmtpServer::start_on(free_port()).await
    }

    /// Starts the server on `port` and waits until it accepts connections.
    pub async fn start_on(port: u16) -> SmtpServer {
        SmtpServer::launch(port, false).await
    }

    /// Starts a server that stores each message as soon as its data arrives and can
    /// then hold back the `250` reply (see [`SmtpServer::hold`]). A client cut off
    /// while waiting for that reply leaves behind a stored message that it never saw
    /// accepted.
    pub async fn start_holding() -> SmtpServer {
        SmtpServer::launch(free_port(), true).await
    }

    async fn launch(port: u16, holding: bool) -> SmtpServer {
        let python = std::env::var("OPENHUMANS_TEST_PYTHON").unwrap_or_else(|_| {
            panic!(
                "OPENHUMANS_TEST_PYTHON is not set: the mail tests need a Python with \
                 aiosmtpd. Run scripts/test, which creates .venv and sets it"
            )
        });
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let maildir = dir.path().join("maildir");
        let hold_file = dir.path().join("hold");
        let held_log = dir.path().join("held.log");
        let mut command = Command::new(&python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"));
        if holding {
            std::fs::write(dir.path().join("holding_mailbox.py"), HOLDING_MAILBOX)
                .expect("writing the holding handler");
            command
                .env("PYTHONPATH", dir.path())
                .args(["-c", "holding_mailbox.HoldingMailbox"])
                .arg(&maildir)
                .arg(&hold_file)
                .arg(&held_log);
        } else {
            command
                .args(["-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir);
        }
        let mut process = ChildProcess::spawn(command, "aiosmtpd", dir.path());

        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if let Some(status) = process.try_status() {
                panic!(
                    "the SMTP server ({python} -m aiosmtpd) exited with {status}; run \
                     scripts/test, which installs aiosmtpd into .venv. Its output:\n{}",
                    process.output()
                );
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the SMTP server did not accept connections on port {port} within 15 s; \
                     its output:\n{}",
                    process.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        SmtpServer {
            port,
            maildir,
            hold_file,
            held_log,
            _dir: dir,
            _process: process,
        }
    }

    /// Holds back the reply to every DATA from now until [`SmtpServer::release`]; the
    /// messages are stored all the same. Only for [`SmtpServer::start_holding`].
    pub fn hold(&self) {
        std::fs::write(&self.hold_file, b"").expect("creating the hold file");
    }

    /// Sends the held-back replies, and replies at once from now on.
    pub fn release(&self) {
        std::fs::remove_file(&self.hold_file).expect("removing the hold file");
    }

    /// Counts the replies held back so far.
    pub fn held(&self) -> usize {
        std::fs::read_to_string(&self.held_log)
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }

    /// Waits until at least `count` replies are being held back, failing after `timeout`.
    pub async fn wait_for_held(&self, count: usize, timeout: Duration) {
        super::eventually(timeout, &format!("{count} held SMTP replies"), || async {
            (self.held() >= count).then_some(())
        })
        .await
    }

    /// Kills the server process; the messages it stored stay readable.
    pub fn kill(&mut self) {
        self._process.kill();
    }

    /// Returns the unencrypted `SMTP_URL` of this server.
    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// Reads every message received so far, as the raw bytes the server stored.
    pub fn raw_messages(&self) -> Vec<Vec<u8>> {
        ["new", "cur"]
            .iter()
            .filter_map(|folder| std::fs::read_dir(self.maildir.join(folder)).ok())
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| std::fs::read(entry.path()).ok())
            .collect()
    }

    /// Reads and parses every message received so far.
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        self.raw_messages()
            .iter()
            .map(|raw| parse_email(raw).expect("the SMTP server stored a parsable message"))
            .collect()
    }

    /// Waits until at least `count` messages arrived and returns them all.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<ReceivedEmail> {
        super::eventually(timeout, &format!("{count} messages over SMTP"), || async {
            let messages = self.messages();
            (messages.len() >= count).then_some(messages)
        })
        .await
    }
}

/// An aiosmtpd handler that stores each message in a Maildir when its data arrives,
/// then, while the hold file exists, logs a line and waits before replying `250`. A
/// client that disconnects meanwhile cancels the wait, not the stored message.
const HOLDING_MAILBOX: &str = r#"
import asyncio
import os

from aiosmtpd.handlers import Mailbox


class HoldingMailbox(Mailbox):
    def __init__(self, mail_dir, hold_file, held_log):
        super().__init__(mail_dir)
        self.hold_file = hold_file
        self.held_log = held_log

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        if os.path.exists(self.hold_file):
            with open(self.held_log, "a") as log:
                log.write("held\n")
            while os.path.exists(self.hold_file):
                await asyncio.sleep(0.05)
        return reply

    @classmethod
    def from_cli(cls, parser, *args):
        if len(args) != 3:
            parser.error("HoldingMailbox takes a maildir, a hold file and a log file")
        return cls(*args)
"#;

/// Returns an unencrypted `SMTP_URL` for `port` on loopback.
pub fn smtp_url(port: u16) -> String {
    format!("smtp://127.0.0.1:{port}")
}

/// A TCP server that accepts connections and never sends a byte: an SMTP client
/// waits for the greeting until its own timeout. Dropping it closes every
/// connection, which the client sees as the server hanging up.
pub struct SilentServer {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl SilentServer {
    pub async fn start() -> SilentServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a free port");
        let port = listener
            .local_addr()
            .expect("reading the bound address")
            .port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut connections = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                connections.push(stream);
            }
        });
        SilentServer {
            port,
            accepted,
            task,
        }
    }

    pub fn url(&self) -> String {
        smtp_url(self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
