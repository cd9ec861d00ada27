//! A throw-away PostgreSQL for tests: Debian's server binaries, a cluster
//! in a temporary directory owned by `postgres` (the server refuses to run
//! as root), listening on 127.0.0.1 at a free port, trust authentication,
//! stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    pub url: String,
    pub port: u16,
    bin: PathBuf,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn as_postgres(args: &[&str]) -> std::process::Output {
    let is_root = unsafe_geteuid() == 0;
    let mut cmd = if is_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]);
        c.args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    cmd.output().expect("run postgres tool")
}

fn unsafe_geteuid() -> u32 {
    // /proc/self/status "Uid: real effective ..." avoids a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|v| v.parse().unwrap_or(1)))
        })
        .unwrap_or(1)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Starts a server, or returns `None` (with a loud message) when the
    /// binaries are absent and CI is not set; under CI=true absence fails.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = find_bin() else {
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!(
                    "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing under CI"
                );
            }
            eprintln!("\n*** SKIPPING PostgreSQL tests: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql) ***\n");
            return None;
        };
        let tmp = tempfile::Builder::new()
            .prefix("tc-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        if unsafe_geteuid() == 0 {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(tmp.path())
                .status()
                .unwrap();
            assert!(st.success());
        }
        let dir_s = dir.to_str().unwrap().to_string();
        let initdb = bin.join("initdb");
        let out = as_postgres(&[
            initdb.to_str().unwrap(),
            "-D",
            &dir_s,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg_ctl = bin.join("pg_ctl");
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-p {port} -k {dir_s} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
            );
            let out = as_postgres(&[
                pg_ctl.to_str().unwrap(),
                "-D",
                &dir_s,
                "-o",
                &opts,
                "-l",
                &format!("{dir_s}/log"),
                "-w",
                "-t",
                "60",
                "start",
            ]);
            if out.status.success() {
                return Some(Postgres {
                    url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
                    port,
                    bin,
                    dir,
                    _tmp: tmp,
                });
            }
            eprintln!(
                "pg_ctl start on port {port} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                std::fs::read_to_string(dir.join("log")).unwrap_or_default()
            );
        }
        panic!("could not start PostgreSQL");
    }

    /// A fresh database in this server (one per test scenario).
    pub fn create_db(&self, name: &str) -> String {
        let psql = self.bin.join("psql");
        let port = self.port.to_string();
        let out = Command::new(psql)
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "createdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let _ = as_postgres(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            self.dir.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ]);
    }
}
