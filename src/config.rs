//! Settings, read once from flags and environment variables and validated at start.
//!
//! Every setting is both a flag and an environment variable; `openhumans --help`
//! lists them and the README has the same table.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use url::Url;

use crate::http::client_addr::TrustedProxies;

/// Site settings shared by `serve`, `migrate` and every `admin` command.
#[derive(Args, Debug, Clone)]
pub struct Settings {
    /// Address and port the web server listens on.
    #[arg(
        long,
        env = "OPENHUMANS_BIND",
        default_value = "127.0.0.1:8000",
        global = true
    )]
    pub bind: SocketAddr,

    /// Directory for the embedded database, the generated secret key, local files and
    /// the development mail outbox. Created when missing.
    #[arg(
        long,
        env = "OPENHUMANS_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Database URL: `sqlite://PATH` or `postgres://USER@HOST:PORT/DB`.
    /// Default: the SQLite file `<data-dir>/openhumans.db`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Absolute URL the site is reached at, used in links, emails and API responses.
    /// Default: `http://` plus the bind address (`localhost` for an unspecified address).
    #[arg(long, env = "OPENHUMANS_PUBLIC_URL", global = true)]
    pub public_url: Option<Url>,

    /// Server key for token hashes and signed URLs, at least 32 characters. Every
    /// instance of a site must share it; changing it invalidates every token, code,
    /// client secret and signed URL. Default: generated once into `<data-dir>/secret.key`.
    #[arg(
        long,
        env = "OPENHUMANS_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,

    /// SMTP server for outgoing mail: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtp://127.0.0.1:2525`
    /// (unencrypted, for a relay on loopback).
    /// Unset: emails are written as `.eml` files to `<data-dir>/outbox/`.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender address of every email the site sends.
    #[arg(
        long,
        env = "OPENHUMANS_MAIL_FROM",
        default_value = "openhumans <noreply@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Name of the site shown in page titles and emails.
    #[arg(
        long,
        env = "OPENHUMANS_SITE_NAME",
        default_value = "openhumans",
        global = true
    )]
    pub site_name: String,

    /// Where files are stored: a local directory path, or `s3://BUCKET` with the usual
    /// `AWS_*` variables (`AWS_ENDPOINT_URL` for S3-compatible servers).
    /// Default: `<data-dir>/files`.
    #[arg(long, env = "OPENHUMANS_STORAGE_URL", global = true)]
    pub storage_url: Option<String>,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(
        long,
        env = "OPENHUMANS_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    /// Number of background job workers in this instance.
    #[arg(long, env = "OPENHUMANS_WORKERS", default_value_t = 2, global = true)]
    pub workers: usize,

    /// Seconds a worker keeps a job's lease before another instance may take the job over.
    #[arg(
        long,
        env = "OPENHUMANS_JOB_LEASE_SECONDS",
        default_value_t = 300,
        global = true
    )]
    pub job_lease_seconds: u64,

    /// Largest request body accepted by forms and the API, in bytes (uploads through
    /// signed URLs have their own limit).
    #[arg(long, env = "OPENHUMANS_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Seconds a request may take before the server responds 408 (uploads excepted).
    #[arg(
        long,
        env = "OPENHUMANS_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 60,
        global = true
    )]
    pub request_timeout_seconds: u64,

    /// Failed logins allowed per account in the login window.
    #[arg(
        long,
        env = "OPENHUMANS_LOGIN_FAILURES_PER_ACCOUNT",
        default_value_t = 10,
        global = true
    )]
    pub login_failures_per_account: u32,

    /// Failed logins allowed per client address in the login window.
    #[arg(
        long,
        env = "OPENHUMANS_LOGIN_FAILURES_PER_ADDRESS",
        default_value_t = 20,
        global = true
    )]
    pub login_failures_per_address: u32,

    /// Length of the failed-login window, in seconds.
    #[arg(long, env = "OPENHUMANS_LOGIN_WINDOW_SECONDS", default_value_t = 15 * 60, global = true)]
    pub login_window_seconds: u64,

    /// Signups allowed per client address per hour.
    #[arg(
        long,
        env = "OPENHUMANS_SIGNUPS_PER_ADDRESS_PER_HOUR",
        default_value_t = 10,
        global = true
    )]
    pub signups_per_address_per_hour: u32,

    /// Password-reset and confirmation emails allowed per email address per hour, each
    /// kind counted on its own.
    #[arg(
        long,
        env = "OPENHUMANS_RESETS_PER_ACCOUNT_PER_HOUR",
        default_value_t = 5,
        global = true
    )]
    pub resets_per_account_per_hour: u32,

    /// Active members an unapproved project may have (its test members). Approval
    /// lifts the cap.
    #[arg(
        long,
        env = "OPENHUMANS_MAX_UNAPPROVED_MEMBERS",
        default_value_t = 20,
        global = true
    )]
    pub max_unapproved_members: u32,

    /// Days an OAuth2 refresh token stays valid when it is not used. Each refresh
    /// issues a new one.
    #[arg(
        long,
        env = "OPENHUMANS_REFRESH_TOKEN_LIFETIME_DAYS",
        default_value_t = 365,
        global = true
    )]
    pub refresh_token_lifetime_days: u32,

    /// Seconds after a refresh token was rotated during which presenting it again is
    /// only rejected; later, it also revokes every token of its grant.
    #[arg(
        long,
        env = "OPENHUMANS_REFRESH_REUSE_GRACE_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub refresh_reuse_grace_seconds: u64,

    /// Failed client authentications allowed per client id per minute at the OAuth2
    /// token and revocation endpoints; further failures get 429.
    #[arg(
        long,
        env = "OPENHUMANS_CLIENT_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 20,
        global = true
    )]
    pub client_auth_failures_per_minute: u32,

    /// Message recipients allowed per project in any 24 hours, counted over every
    /// instance; a request that would pass the limit is refused whole with 429.
    #[arg(
        long,
        env = "OPENHUMANS_MESSAGES_PER_PROJECT_PER_DAY",
        default_value_t = 1000,
        global = true
    )]
    pub messages_per_project_per_day: u32,

    /// Messages one member may send to projects through their contact forms per hour,
    /// counted over every instance.
    #[arg(
        long,
        env = "OPENHUMANS_CONTACTS_PER_MEMBER_PER_HOUR",
        default_value_t = 5,
        global = true
    )]
    pub contacts_per_member_per_hour: u32,

    /// Bytes a project may upload in any 24 hours, counted over every instance and both
    /// kinds of upload. Once the project reaches it, uploads are rejected with 429, and
    /// so is an upload that would pass it.
    #[arg(long, env = "OPENHUMANS_UPLOAD_BYTES_PER_PROJECT_PER_DAY", default_value_t = 100 * 1024 * 1024 * 1024, global = true)]
    pub upload_bytes_per_project_per_day: u64,

    /// Largest file accepted through a signed upload URL or by `files/upload/`, in
    /// bytes. Larger uploads are rejected with 413, and those to an upload URL as soon
    /// as the limit is passed.
    #[arg(long, env = "OPENHUMANS_MAX_UPLOAD_BYTES", default_value_t = 5 * 1024 * 1024 * 1024, global = true)]
    pub max_upload_bytes: u64,

    /// Endpoint of an S3-compatible server for `s3://` storage, e.g.
    /// `http://127.0.0.1:8333`. Default: Amazon S3.
    #[arg(long, env = "AWS_ENDPOINT_URL", global = true)]
    pub s3_endpoint: Option<String>,

    /// Region of the S3 bucket. Default: `us-east-1`.
    #[arg(long, env = "AWS_REGION", global = true)]
    pub s3_region: Option<String>,

    /// Access key id for `s3://` storage.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", global = true)]
    pub s3_access_key_id: Option<String>,

    /// Secret access key for `s3://` storage.
    #[arg(
        long,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        global = true
    )]
    pub s3_secret_access_key: Option<String>,

    /// Accept and deliver webhooks to URLs whose host is `localhost` or resolves to a
    /// private, loopback, link-local or otherwise non-public address. Off by default,
    /// so a project cannot make the server send requests into its own network. The
    /// variable takes `1` or `true`.
    #[arg(
        long,
        env = "OPENHUMANS_WEBHOOK_ALLOW_LOOPBACK",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new(),
        global = true
    )]
    pub allow_private_webhooks: bool,

    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` headers are
    /// believed: a comma-separated list of IP addresses and CIDR ranges, such as
    /// `10.0.0.0/8,::1`. Requests from any other peer have those headers ignored.
    /// Default: none, so the TCP peer is always the client.
    #[arg(
        long,
        env = "OPENHUMANS_TRUSTED_PROXIES",
        default_value = "",
        hide_default_value = true,
        global = true
    )]
    pub trusted_proxies: TrustedProxies,
}

/// Log output format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Settings {
    /// Settings with every default, rooted at `data_dir`; tests start from this.
    pub fn with_data_dir(data_dir: &Path) -> Self {
        use clap::Parser;

        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            settings: Settings,
        }
        let mut settings = Defaults::parse_from(["openhumans"]).settings;
        settings.data_dir = data_dir.to_path_buf();
        settings
    }

    /// Returns the database URL, defaulting to the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("openhumans.db").display()),
        }
    }

    /// Returns the public URL without a trailing slash, e.g. `https://example.org`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None if self.bind.ip().is_unspecified() => {
                format!("http://localhost:{}", self.bind.port())
            }
            None => format!("http://{}", self.bind),
        }
    }

    /// Returns whether the site is served over https, which makes cookies `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    pub fn job_lease(&self) -> Duration {
        Duration::from_secs(self.job_lease_seconds)
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }

    /// The S3 settings given as flags or variables, for `s3://` storage.
    pub fn s3_options(&self) -> crate::blob::S3Options {
        crate::blob::S3Options {
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
        }
    }

    /// Checks what clap cannot: values that depend on each other or on their format.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url {
            if !matches!(url.scheme(), "http" | "https") {
                bail!("invalid --public-url {url}: the scheme must be http or https");
            }
            if url.query().is_some() || url.fragment().is_some() {
                bail!("invalid --public-url {url}: it must not have a query or a fragment");
            }
            if !url.username().is_empty() || url.password().is_some() {
                bail!("invalid --public-url {url}: it must not contain a user name or password");
            }
            if url.path() != "/" {
                bail!(
                    "invalid --public-url {url}: the site must be served at the root of its origin \
                     because Open Humans clients drop any path prefix"
                );
            }
        }
        if let Some(key) = &self.secret_key
            && key.len() < 32
        {
            bail!(
                "invalid --secret-key: it has {} characters, at least 32 are required",
                key.len()
            );
        }
        crate::mail::parse_mailbox(&self.mail_from)
            .with_context(|| format!("invalid --mail-from {:?}", self.mail_from))?;
        if self.job_lease_seconds == 0 {
            bail!(
                "invalid --job-lease-seconds 0: a lease of at least 1 second is needed, or \
                 jobs would be taken over while their worker is still running them"
            );
        }
        if self.refresh_token_lifetime_days == 0 {
            bail!(
                "invalid --refresh-token-lifetime-days 0: refresh tokens must live at least a day"
            );
        }
        if self.workers == 0 {
            bail!("invalid --workers 0: at least one worker is needed to send email");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Settings;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn loopback_flag_defaults_off() {
        assert!(
            !Cli::parse_from(["openhumans"])
                .settings
                .allow_private_webhooks
        );
        let on = Cli::parse_from(["openhumans", "--allow-private-webhooks"]);
        assert!(on.settings.allow_private_webhooks);
    }

    #[test]
    fn loopback_variable_accepts_one() {
        use clap::CommandFactory;

        let command = Cli::command();
        let arg = command
            .get_arguments()
            .find(|arg| arg.get_id() == "allow_private_webhooks")
            .unwrap();
        assert_eq!(
            arg.get_env().unwrap(),
            std::ffi::OsStr::new("OPENHUMANS_WEBHOOK_ALLOW_LOOPBACK")
        );
        for (value, expected) in [("1", true), ("true", true), ("0", false), ("false", false)] {
            let parsed = clap::builder::TypedValueParser::parse_ref(
                &clap::builder::BoolishValueParser::new(),
                &command,
                Some(arg),
                std::ffi::OsStr::new(value),
            )
            .unwrap();
            assert_eq!(parsed, expected, "{value}");
        }
    }
}
