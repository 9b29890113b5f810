//! Operator commands (`openhumans admin …`), printing JSON for automation.

use std::process::ExitCode;

use clap::Subcommand;

use crate::app::AppState;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {}

/// Runs one admin command, printing its result as JSON on standard output.
pub async fn run(_state: &AppState, command: AdminCommand) -> anyhow::Result<ExitCode> {
    match command {}
}
