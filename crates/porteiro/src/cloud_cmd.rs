//! `porteiro cloud serve|account create`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use porteiro_cloud::{Cloud, CloudConfig, RootCredentials, VpcEndpoint};

#[derive(Debug, Subcommand)]
pub(crate) enum CloudCommand {
    /// Serve the embedded cloud (IAM, STS and S3 over AWS's wire protocols, SigV4).
    Serve(ServeArgs),
    /// Accounts of the embedded cloud.
    #[command(subcommand)]
    Account(AccountCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum AccountCommand {
    /// Create another account (for cross-account work). A running cloud picks it up.
    Create(CreateAccountArgs),
    /// List the accounts.
    List(DataDirArg),
}

#[derive(Debug, Args)]
pub(crate) struct DataDirArg {
    /// Where the cloud keeps its state (SQLite) and generated credentials.
    #[arg(long, env = "PORTEIRO_CLOUD_DATA_DIR", default_value = "porteiro-data/cloud")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct RootArgs {
    /// Root access key id of the account (generated when absent).
    #[arg(
        long,
        env = "PORTEIRO_CLOUD_ROOT_ACCESS_KEY_ID",
        requires = "root_secret_access_key"
    )]
    pub(crate) root_access_key_id: Option<String>,
    /// Root secret access key of the account (generated when absent).
    #[arg(
        long,
        env = "PORTEIRO_CLOUD_ROOT_SECRET_ACCESS_KEY",
        requires = "root_access_key_id",
        hide_env_values = true
    )]
    pub(crate) root_secret_access_key: Option<String>,
}

impl RootArgs {
    pub(crate) fn credentials(&self) -> Option<RootCredentials> {
        match (&self.root_access_key_id, &self.root_secret_access_key) {
            (Some(id), Some(secret)) => Some(RootCredentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    listen: SocketAddr,
    #[command(flatten)]
    data: DataDirArg,
    /// Id of the first account, created on first start (12 digits; generated when absent).
    #[arg(long, env = "PORTEIRO_CLOUD_ACCOUNT_ID")]
    account_id: Option<String>,
    #[command(flatten)]
    root: RootArgs,
    /// Also listen as a VPC endpoint: `ADDRESS,vpce-ID,vpc-ID` (repeatable). Requests that
    /// arrive there carry aws:SourceVpc, aws:SourceVpce and aws:VpcSourceIp, and no
    /// aws:SourceIp.
    #[arg(long = "vpc-endpoint", value_name = "ADDRESS,VPCE,VPC", value_parser = parse_vpc_endpoint)]
    vpc_endpoints: Vec<(SocketAddr, VpcEndpoint)>,
    /// TEST ONLY (hidden): a file holding a number of seconds to add to the cloud's clock. It
    /// is read every 50 ms; each new value is applied and then written to `FILE.applied`. Lets
    /// end-to-end tests see sessions expire without waiting.
    #[arg(
        long,
        env = "PORTEIRO_CLOUD_TEST_CLOCK_OFFSET_FILE",
        hide = true,
        value_name = "FILE"
    )]
    test_clock_offset_file: Option<PathBuf>,
}

fn parse_vpc_endpoint(text: &str) -> Result<(SocketAddr, VpcEndpoint), String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    let [address, endpoint, vpc] = parts.as_slice() else {
        return Err(format!(
            "`{text}` is not ADDRESS,vpce-ID,vpc-ID: write it as 127.0.0.1:4567,vpce-0a1b2c3d,vpc-11112222"
        ));
    };
    let address: SocketAddr = address.parse().map_err(|e| {
        format!("`{address}` is not an address to listen on ({e}): write it as 127.0.0.1:4567")
    })?;
    Ok((address, VpcEndpoint::new(endpoint, vpc)?))
}

#[derive(Debug, Args)]
pub(crate) struct CreateAccountArgs {
    #[command(flatten)]
    data: DataDirArg,
    /// The new account's id (12 digits; generated when absent).
    #[arg(long)]
    account_id: Option<String>,
    #[command(flatten)]
    root: RootArgs,
}

pub(crate) fn run(cmd: CloudCommand) -> ExitCode {
    let result = match cmd {
        CloudCommand::Serve(args) => serve(args),
        CloudCommand::Account(AccountCommand::Create(args)) => create_account(args),
        CloudCommand::Account(AccountCommand::List(args)) => list_accounts(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn print_bootstrap(b: &porteiro_cloud::Bootstrap) {
    println!("created account {}", b.account_id);
    if let Some(c) = &b.generated {
        // Printed once, at creation; afterwards only the 0600 file has it.
        println!("root access key id:     {}", c.access_key_id);
        println!("root secret access key: {}", c.secret_access_key);
        println!(
            "(also written to {}, readable only by you)",
            b.credentials_file.display()
        );
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    let config = CloudConfig {
        data_dir: args.data.data_dir.clone(),
        account_id: args.account_id.clone(),
        root_credentials: args.root.credentials(),
    };
    let (cloud, bootstrap) = Cloud::open(&config).map_err(|e| e.to_string())?;
    if let Some(b) = &bootstrap {
        print_bootstrap(b);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| {
            format!(
                "cannot listen on {}: {e} (is another process using the port?)",
                args.listen
            )
        })?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let mut endpoints = tokio::task::JoinSet::new();
        for (address, endpoint) in args.vpc_endpoints {
            let l = tokio::net::TcpListener::bind(address).await.map_err(|e| {
                format!(
                    "cannot listen on {address} for {}: {e} (is another process using the port?)",
                    endpoint.endpoint_id
                )
            })?;
            let bound = l.local_addr().map_err(|e| e.to_string())?;
            println!(
                "VPC endpoint {} of {} listening on http://{bound}",
                endpoint.endpoint_id, endpoint.vpc_id
            );
            endpoints.spawn(cloud.clone().serve_vpc_endpoint(l, endpoint));
        }
        if let Some(file) = args.test_clock_offset_file {
            println!(
                "TEST ONLY: the cloud's clock follows the offset in {}",
                file.display()
            );
            tokio::spawn(follow_clock_offset(cloud.clone(), file));
        }
        println!(
            "embedded cloud listening on http://{local} (accounts: {}; data: {})",
            cloud.accounts().join(", "),
            cloud.data_dir().display()
        );
        let endpoint_failed = async {
            match endpoints.join_next().await {
                Some(Ok(Err(e))) => format!("a VPC endpoint listener stopped: {e}"),
                Some(Err(e)) => format!("a VPC endpoint listener failed: {e}"),
                _ => std::future::pending().await,
            }
        };
        tokio::select! {
            r = cloud.serve(listener) => r.map_err(|e| format!("the server stopped: {e}")),
            e = endpoint_failed => Err(e),
            _ = tokio::signal::ctrl_c() => {
                println!("shutting down");
                Ok(())
            }
        }
    })
}

/// TEST ONLY: keeps the cloud's clock offset equal to the number of seconds in `file` (absent
/// or unreadable: unchanged), and acknowledges each applied value in `FILE.applied`.
async fn follow_clock_offset(cloud: Cloud, file: PathBuf) {
    let mut applied = 0i64;
    let mut ack = file.clone().into_os_string();
    ack.push(".applied");
    let ack = PathBuf::from(ack);
    loop {
        let wanted = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        if let Some(wanted) = wanted.filter(|w| *w != applied) {
            cloud.advance_clock(wanted - applied);
            applied = wanted;
            if let Err(e) = porteiro_cloud::write_private(&ack, &format!("{applied}\n")) {
                eprintln!("TEST ONLY: cannot write {}: {e}", ack.display());
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn create_account(args: CreateAccountArgs) -> Result<(), String> {
    let config = CloudConfig {
        data_dir: args.data.data_dir.clone(),
        account_id: None,
        root_credentials: None,
    };
    let (cloud, bootstrap) = Cloud::open(&config).map_err(|e| e.to_string())?;
    if let Some(b) = &bootstrap {
        print_bootstrap(b);
    }
    let id = args.account_id.unwrap_or_else(porteiro_cloud::ids::account_id);
    let b = cloud
        .create_account(&id, args.root.credentials())
        .map_err(|e| e.to_string())?;
    print_bootstrap(&b);
    Ok(())
}

fn list_accounts(args: DataDirArg) -> Result<(), String> {
    let config = CloudConfig {
        data_dir: args.data_dir,
        account_id: None,
        root_credentials: None,
    };
    let (cloud, bootstrap) = Cloud::open(&config).map_err(|e| e.to_string())?;
    if let Some(b) = &bootstrap {
        print_bootstrap(b);
    }
    for a in cloud.accounts() {
        println!("{a}");
    }
    Ok(())
}
