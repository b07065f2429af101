//! `porteiro session env|credential-process|exec ID`: use a JIT session through Porteiro's API
//! gateway with unmodified AWS tools.
//!
//! The gateway credentials are fetched from the API (`GET /api/v1/sessions/ID/gateway-
//! credentials`, the session's owner only, while it is active) each time; they are never
//! arguments and never written to disk by Porteiro.

use std::process::{Command, ExitCode};

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::client_cmd::{Common, profile, request};

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCommand {
    /// Print `export` lines for the session's gateway credentials and endpoint
    /// (`eval "$(porteiro session env ID)"`).
    Env(IdArg),
    /// Print the session's gateway credentials as `credential_process` JSON (Version 1) for an
    /// AWS config profile: `credential_process = porteiro session credential-process ID`.
    CredentialProcess(IdArg),
    /// Run a command with the session's gateway credentials and endpoint in its environment:
    /// `porteiro session exec ID -- aws s3 ls`.
    Exec(ExecArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IdArg {
    /// The JIT session id (`ps-…`).
    id: String,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The JIT session id (`ps-…`).
    id: String,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub(crate) fn run(cmd: SessionCommand, common: Common) -> ExitCode {
    match exec(cmd, &common) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The session's gateway credentials from the API.
fn fetch(common: &Common, id: &str) -> Result<Value, String> {
    let s = profile(common.profile(), common.ca_file())?;
    let v = request(
        &s.url,
        "GET",
        &format!("/sessions/{id}/gateway-credentials"),
        Some(&s.token),
        None,
        s.ca_file.as_ref(),
    )?;
    if v["access_key_id"].as_str().is_none() || v["secret_access_key"].as_str().is_none() {
        return Err("the API answered without gateway credentials".into());
    }
    if v["endpoint"].as_str().is_none() {
        return Err(
            "no API gateway serves on this Porteiro (it starts with `porteiro serve`): nothing to point AWS tools at"
                .into(),
        );
    }
    Ok(v)
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// The environment for AWS tools: the gateway credentials, endpoint and region (and no
/// session token, which would not match the gateway key).
fn variables(g: &Value) -> Vec<(&'static str, String)> {
    let region = Some(text(g, "region"))
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".into());
    vec![
        ("AWS_ACCESS_KEY_ID", text(g, "access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", text(g, "secret_access_key")),
        ("AWS_ENDPOINT_URL", text(g, "endpoint")),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
    ]
}

/// Variables unset so that no other credentials are mixed in.
const UNSET: [&str; 3] = ["AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE"];

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:+=@,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `export` lines for a gateway credentials object (`access_key_id`, `secret_access_key`,
/// `endpoint`, `region`, `expiration`).
pub(crate) fn env_lines(g: &Value) -> String {
    let mut out = String::new();
    for (k, v) in variables(g) {
        out.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    out.push_str(&format!("unset {}\n", UNSET.join(" ")));
    if let Some(exp) = g["expiration"].as_i64() {
        out.push_str(&format!(
            "# valid until {} (the session's end)\n",
            porteiro_sigv4::time::format_iso8601(exp)
        ));
    }
    out
}

fn exec(cmd: SessionCommand, common: &Common) -> Result<ExitCode, String> {
    match cmd {
        SessionCommand::Env(a) => {
            print!("{}", env_lines(&fetch(common, &a.id)?));
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::CredentialProcess(a) => {
            let g = fetch(common, &a.id)?;
            let out = serde_json::json!({
                "Version": 1,
                "AccessKeyId": text(&g, "access_key_id"),
                "SecretAccessKey": text(&g, "secret_access_key"),
                "Expiration": porteiro_sigv4::time::format_iso8601(g["expiration"].as_i64().unwrap_or(0)),
            });
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        SessionCommand::Exec(a) => {
            let g = fetch(common, &a.id)?;
            let (program, args) = a
                .command
                .split_first()
                .ok_or("give the command to run after `--`")?;
            let mut child = Command::new(program);
            child.args(args);
            for (k, v) in variables(&g) {
                child.env(k, v);
            }
            for k in UNSET {
                child.env_remove(k);
            }
            let status = child.status().map_err(|e| format!("cannot run {program}: {e}"))?;
            Ok(match status.code() {
                Some(0) => ExitCode::SUCCESS,
                Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
                None => ExitCode::from(1),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_quote_values_and_unset_other_credentials() {
        let g = serde_json::json!({
            "access_key_id": "PGWAABC", "secret_access_key": "a/b+c'd", "endpoint": "http://127.0.0.1:8082",
            "region": "eu-west-1", "expiration": 0,
        });
        let lines = env_lines(&g);
        assert!(lines.contains("export AWS_ACCESS_KEY_ID=PGWAABC\n"));
        assert!(lines.contains("export AWS_SECRET_ACCESS_KEY='a/b+c'\\''d'\n"));
        assert!(lines.contains("export AWS_ENDPOINT_URL=http://127.0.0.1:8082\n"));
        assert!(lines.contains("export AWS_REGION=eu-west-1\n"));
        assert!(lines.contains("unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE\n"));
        assert!(lines.contains("# valid until 1970-01-01T00:00:00Z"));
    }
}
