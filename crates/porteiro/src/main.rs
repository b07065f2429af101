//! `porteiro`: the one binary. Subcommands are thin faces over the library crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client_cmd;
mod cloud_cmd;
mod policy_cmd;
mod recordings_cmd;
mod serve_cmd;
mod session_cmd;

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
    /// Run Porteiro: the access manager's REST API, its scheduler, and the embedded cloud as
    /// the first account.
    Serve(serve_cmd::ServeArgs),
    /// Log in to a running `porteiro serve` (the password from PORTEIRO_PASSWORD or stdin).
    Login(client_cmd::LoginArgs),
    /// End the profile's API token.
    Logout {
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Platform users.
    Users {
        #[command(subcommand)]
        command: client_cmd::UsersCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Access groups and their permissions.
    Groups {
        #[command(subcommand)]
        command: client_cmd::GroupsCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Cloud accounts.
    Accounts {
        #[command(subcommand)]
        command: client_cmd::AccountsCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Cloud IAM users (created through Porteiro, or imported).
    CloudUsers {
        #[command(subcommand)]
        command: client_cmd::CloudUsersCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Credentials (access keys) of cloud IAM users.
    Credentials {
        #[command(subcommand)]
        command: client_cmd::CredentialsCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// JIT settings per account.
    Jit {
        #[command(subcommand)]
        command: client_cmd::JitCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Console and JIT sessions: start, list, drop.
    Sessions {
        #[command(subcommand)]
        command: client_cmd::SessionsCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Use a JIT session through the API gateway: env, credential-process, exec.
    Session {
        #[command(subcommand)]
        command: session_cmd::SessionCommand,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// The audit trail.
    Audit {
        #[command(flatten)]
        args: client_cmd::AuditArgs,
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// Durable jobs (provisioning, removal, expiry, revocation) and their history.
    Jobs {
        #[command(flatten)]
        common: client_cmd::Common,
    },
    /// The embedded AWS-compatible cloud (IAM, STS, S3, KMS): serve it, manage its accounts.
    #[command(subcommand)]
    Cloud(cloud_cmd::CloudCommand),
    /// Session recordings: list, show, verify, export, import, play.
    Recordings(recordings_cmd::RecordingsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Cloud(cmd) => cloud_cmd::run(cmd),
        Command::Serve(args) => serve_cmd::run(args),
        Command::Login(args) => client_cmd::run(client_cmd::Client::Login(args)),
        Command::Logout { common } => client_cmd::run(client_cmd::Client::Logout(common)),
        Command::Users { command, common } => client_cmd::run(client_cmd::Client::Users(command, common)),
        Command::Groups { command, common } => client_cmd::run(client_cmd::Client::Groups(command, common)),
        Command::Accounts { command, common } => {
            client_cmd::run(client_cmd::Client::Accounts(command, common))
        }
        Command::CloudUsers { command, common } => {
            client_cmd::run(client_cmd::Client::CloudUsers(command, common))
        }
        Command::Credentials { command, common } => {
            client_cmd::run(client_cmd::Client::Credentials(command, common))
        }
        Command::Jit { command, common } => client_cmd::run(client_cmd::Client::Jit(command, common)),
        Command::Sessions { command, common } => {
            client_cmd::run(client_cmd::Client::Sessions(command, common))
        }
        Command::Session { command, common } => session_cmd::run(command, common),
        Command::Audit { args, common } => client_cmd::run(client_cmd::Client::Audit(args, common)),
        Command::Jobs { common } => client_cmd::run(client_cmd::Client::Jobs(common)),
        Command::Recordings(args) => recordings_cmd::run(args),
    }
}
