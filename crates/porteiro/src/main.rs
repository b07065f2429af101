//! `porteiro`: the one binary. Subcommands are thin faces over the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cloud_cmd;
mod policy_cmd;

/// Porteiro: recorded, time-bound access to AWS accounts, an embedded AWS-compatible cloud,
/// and a faithful AWS IAM policy engine.
#[derive(Debug, Parser)]
#[command(name = "porteiro", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The IAM policy engine: simulate scenarios, explain decisions, check policies.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// The embedded AWS-compatible cloud (IAM, STS, S3): serve it, manage its accounts.
    #[command(subcommand)]
    Cloud(cloud_cmd::CloudCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Cloud(cmd) => cloud_cmd::run(cmd),
    }
}
