//! Harness for the attestation tests: a swtpm manufactured like a real
//! TPM (EK certificate from swtpm's local CA), `trustcloud verifier` and
//! `trustcloud agent` as child processes, an operator API client, and a
//! loopback webhook receiver.
//!
//! Include it as `#[path = "support/attest.rs"] mod attest_support;` next
//! to `mod support;`. Every wait is bounded and says what it waited for; children are killed
//! and reaped on drop.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use agent::client::{ApiClient, TlsFiles};
use agent::Method;

use crate::support::run_bounded;

/// A child process killed and reaped on drop, its stderr in a log file.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
    pub what: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command, log: PathBuf, what: &str) -> Proc {
        let f = std::fs::File::create(&log).expect("create log");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(f.try_clone().expect("dup log")))
            .stderr(Stdio::from(f));
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            child,
            log,
            what: what.into(),
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let end = Instant::now() + grace;
        while Instant::now() < end {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after
/// `timeout` with `what` and `context()` (e.g. the logs).
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!(
                "timed out after {}s waiting for {what}\n{}",
                timeout.as_secs(),
                context()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Manufactures a swtpm state in `dir/state` as a TPM vendor would:
/// `swtpm_setup --tpm2 --create-ek-cert --create-platform-cert`, with
/// swtpm's local CA in `dir/localca` (a private config, so nothing under
/// /var/lib/swtpm-localca is needed or touched). Returns the state dir and
/// the CA certificates that anchor the EK certificate (root, issuer).
pub fn manufacture_swtpm(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let state = dir.join("state");
    let ca = dir.join("localca");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&ca).unwrap();
    let localca_conf = dir.join("swtpm-localca.conf");
    std::fs::write(
        &localca_conf,
        format!(
            "statedir = {0}\nsigningkey = {0}/signkey.pem\nissuercert = {0}/issuercert.pem\ncertserial = {0}/certserial\n",
            ca.display()
        ),
    )
    .unwrap();
    let options = dir.join("swtpm-localca.options");
    std::fs::write(
        &options,
        "--platform-manufacturer trustcloud-test\n--platform-version 2.1\n--platform-model swtpm\n",
    )
    .unwrap();
    let setup_conf = dir.join("swtpm_setup.conf");
    std::fs::write(
        &setup_conf,
        format!(
            "create_certs_tool = swtpm_localca\ncreate_certs_tool_config = {}\ncreate_certs_tool_options = {}\nactive_pcr_banks = sha256\n",
            localca_conf.display(),
            options.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("swtpm_setup");
    cmd.args([
        "--tpm2",
        "--create-ek-cert",
        "--create-platform-cert",
        "--overwrite",
        "--config",
    ])
    .arg(&setup_conf)
    .arg("--tpmstate")
    .arg(&state);
    let out = run_bounded(cmd, None, Duration::from_secs(60));
    assert!(
        out.success(),
        "swtpm_setup failed (is swtpm installed?): {out:?}"
    );
    let anchors = vec![
        ca.join("swtpm-localca-rootca-cert.pem"),
        ca.join("issuercert.pem"),
    ];
    for a in &anchors {
        assert!(a.exists(), "swtpm_localca did not write {}", a.display());
    }
    (state, anchors)
}

/// `trustcloud verifier` on a free loopback port with its data in `data`.
pub struct Verifier {
    pub proc: Proc,
    pub data: PathBuf,
    pub url: String,
}

impl Verifier {
    pub fn start(data: &Path, anchors: &[PathBuf], interval: &str) -> Verifier {
        Verifier::start_on(data, anchors, interval, "127.0.0.1:0")
    }

    /// As [`Verifier::start`] on a given address (to restart on the same
    /// port). A verifier.json left by a previous run is removed first.
    pub fn start_on(data: &Path, anchors: &[PathBuf], interval: &str, listen: &str) -> Verifier {
        std::fs::create_dir_all(data).unwrap();
        let _ = std::fs::remove_file(data.join("verifier.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
        cmd.args(["verifier", "--listen", listen, "--interval", interval])
            .arg("--data-dir")
            .arg(data);
        for a in anchors {
            cmd.arg("--trust-anchor").arg(a);
        }
        let proc = Proc::spawn(cmd, data.join("verifier.log"), "trustcloud verifier");
        let marker = data.join("verifier.json");
        let url = wait_for(
            "the verifier to write verifier.json",
            Duration::from_secs(30),
            || {
                let text = std::fs::read_to_string(&marker).ok()?;
                let v: serde_json::Value = serde_json::from_str(&text).ok()?;
                v["url"].as_str().map(str::to_string)
            },
            || proc.log_text(),
        );
        Verifier {
            proc,
            data: data.to_path_buf(),
            url,
        }
    }

    /// An API client with the operator certificate.
    pub fn operator(&self) -> ApiClient {
        let pki = self.data.join("pki");
        let tls = TlsFiles::read(
            &pki.join("operator.pem"),
            &pki.join("operator.key"),
            &pki.join("ca.pem"),
        )
        .expect("operator TLS files");
        ApiClient::new(&self.url, &tls).expect("operator client")
    }

    /// `trustcloud verifier issue-cert --agent ID`: (cert, key, ca).
    pub fn issue_agent_cert(&self, id: &str) -> (PathBuf, PathBuf, PathBuf) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
        cmd.args(["verifier", "issue-cert", "--agent", id, "--data-dir"])
            .arg(&self.data);
        let out = run_bounded(cmd, None, Duration::from_secs(30));
        assert!(out.success(), "issue-cert failed: {out:?}");
        let pki = self.data.join("pki");
        (
            pki.join(format!("agents/{id}.pem")),
            pki.join(format!("agents/{id}.key")),
            pki.join("ca.pem"),
        )
    }

    /// `GET /v1/nodes/{id}` as JSON, `None` while the node is unknown.
    pub fn node(&self, op: &ApiClient, id: &str) -> Option<serde_json::Value> {
        op.call::<(), serde_json::Value>(Method::GET, "node", &format!("/nodes/{id}"), None)
            .ok()
    }
}

/// A tiny HTTP/1.1 server on loopback that records every request body
/// (the verifier's webhook notifications) and answers 200.
pub struct WebhookReceiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<String>>>,
}

impl WebhookReceiver {
    pub fn start() -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = Arc::clone(&bodies);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let b = Arc::clone(&b);
                thread::spawn(move || {
                    if let Some(body) = serve_one(stream) {
                        b.lock().unwrap().push(body);
                    }
                });
            }
        });
        WebhookReceiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            bodies,
        }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

/// Reads one request (headers + Content-Length body), answers 200.
fn serve_one(stream: TcpStream) -> Option<String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; len.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    let mut s = stream;
    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    Some(String::from_utf8_lossy(&body).into_owned())
}
