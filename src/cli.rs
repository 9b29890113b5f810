//! Command-line interface: `serve` (the default), `migrate` and `admin` commands.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::admin::AdminCommand;
use crate::app::{AppState, serve, shutdown_signal};
use crate::clock::Clock;
use crate::config::Settings;

/// openhumans: hold personal data and share it with research projects.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the site and run background jobs (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator tasks; each prints JSON.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// List background jobs, newest first, as JSON (payloads are not shown).
    Jobs {
        /// Only jobs in this state.
        #[arg(long, value_parser = ["queued", "running", "done", "failed"])]
        state: Option<String>,
        /// Maximum number of jobs listed.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Parses the command line and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init_logging(cli.settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let bind = cli.settings.bind;
            let state = AppState::build(cli.settings, Clock::default()).await?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|error| anyhow::anyhow!("cannot listen on {bind}: {error}"))?;
            tracing::info!(
                address = %listener.local_addr()?,
                public_url = %state.public_url,
                database = %crate::db::redact_url(&state.settings.database_url()),
                "openhumans is serving"
            );
            if !crate::db::members::any_admin(&state.db).await? {
                tracing::info!(
                    "the site has no admin yet; create one with: OPENHUMANS_PASSWORD=... \
                     openhumans admin create-member --username NAME --email ADDRESS --admin \
                     --verified (from a source checkout, run cargo run --release -- admin \
                     create-member ...)"
                );
            }
            serve(state, listener, shutdown_signal()).await?;
            tracing::info!("openhumans stopped");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            AppState::build(cli.settings, Clock::default()).await?;
            println!("{}", serde_json::json!({ "migrated": true }));
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { state, limit } => {
            let state_filter = state;
            let app = AppState::build(cli.settings, Clock::default()).await?;
            let jobs = crate::db::jobs::list(&app.db, state_filter.as_deref(), i64::from(limit))
                .await
                .context("listing jobs")?;
            println!("{}", serde_json::to_string_pretty(&jobs_json(&jobs))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(command) => {
            let state = AppState::build(cli.settings, Clock::default()).await?;
            crate::admin::run(&state, command).await
        }
    }
}

/// Formats jobs for `openhumans jobs`, with ISO 8601 timestamps.
fn jobs_json(jobs: &[crate::db::jobs::JobSummary]) -> serde_json::Value {
    use crate::clock::iso8601;

    jobs.iter()
        .map(|job| {
            serde_json::json!({
                "id": job.id,
                "kind": job.kind,
                "state": job.state,
                "attempts": job.attempts,
                "max_attempts": job.max_attempts,
                "run_at": iso8601(job.run_at),
                "locked_by": job.locked_by,
                "locked_until": job.locked_until.map(iso8601),
                "last_error": job.last_error,
                "created_at": iso8601(job.created_at),
                "finished_at": job.finished_at.map(iso8601),
            })
        })
        .collect()
}
