//! A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, `initdb` and
//! `pg_ctl` in a temporary directory, listening on a free port of 127.0.0.1 (trust
//! authentication, no fsync). PostgreSQL refuses to run as root: then the cluster runs as
//! `nobody` (via `runuser`). Without the binaries the tests skip with a message, unless
//! `PORTEIRO_E2E_REQUIRE_TOOLS=1` (CI), where they fail.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running cluster, stopped and removed on drop.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_nobody: bool,
}

/// The directory of `pg_ctl`: the newest `/usr/lib/postgresql/*/bin`, else `PATH`.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .find(|d| d.join("pg_ctl").is_file() && d.join("initdb").is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

impl PgCluster {
    /// Starts a cluster, or `None` (after saying why) when PostgreSQL is not installed and
    /// the tools are not required.
    pub fn start() -> Option<PgCluster> {
        let Some(bin) = find_bin() else {
            let msg = "PostgreSQL's initdb/pg_ctl not found (Debian: apt-get install postgresql)";
            if std::env::var("PORTEIRO_E2E_REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("{msg}: PORTEIRO_E2E_REQUIRE_TOOLS=1 requires it");
            }
            eprintln!("SKIPPED: {msg}");
            return None;
        };
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "porteiro-pg-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let as_nobody = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(&dir).expect("stat").uid() == 0
        };
        if as_nobody {
            let ok = Command::new("chown")
                .args(["nobody:", &dir.display().to_string()])
                .status()
                .expect("chown runs");
            assert!(ok.success(), "chown nobody {}", dir.display());
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            as_nobody,
        };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "porteiro",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        // A port may be taken between finding and binding it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let ok = cluster.try_run(
                "pg_ctl",
                &[
                    "-D",
                    &data.display().to_string(),
                    "-l",
                    &cluster.dir.join("log").display().to_string(),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    &format!(
                        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off",
                        cluster.dir.display()
                    ),
                    "start",
                ],
            );
            if ok {
                cluster.port = port;
                return Some(cluster);
            }
        }
        let log = std::fs::read_to_string(cluster.dir.join("log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_nobody {
            // runuser (util-linux) lives in /usr/sbin, which a CI PATH may lack.
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
                .into_iter()
                .find(|p| Path::new(p).is_file())
                .unwrap_or("runuser");
            let mut c = Command::new(runuser);
            c.args(["-u", "nobody", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> bool {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        out.status.success()
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "porteiro",
                name,
            ],
        );
        self.url(name)
    }

    /// The URL of a database.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://porteiro@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs SQL in a database with psql.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "porteiro",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ])
            .current_dir(&self.dir)
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.dir.join("data").display().to_string();
            let _ = self
                .command("pg_ctl")
                .args(["-D", &data, "-m", "immediate", "-w", "stop"])
                .current_dir(&self.dir)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
