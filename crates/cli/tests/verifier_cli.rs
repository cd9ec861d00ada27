//! `trustcloud verifier`, `node`, `policy`, `attest status` as a user runs
//! them: the real binary, a data dir, verifier.json discovery, SIGTERM.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const OVMF_LOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../attest/tests/data/ovmf-qemu-q35-linux-6.1.bin"
);

fn tc(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustcloud"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap()
}

/// Runs a command whose stdout is a pipe nobody reads any more (`| head -c
/// 0` that already exited), as `tc` does otherwise.
fn tc_closed_stdout(data: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_trustcloud"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// What a user sees of `trustcloud ARGS | head`: the command ends as `cat`
/// would there, killed by SIGPIPE, without a panic message.
fn assert_quiet_sigpipe(o: &Output, what: &str) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(13), "{what}: {:?}", o.status);
    assert_eq!(stderr(o), "", "{what}");
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Verifier(Child);

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(data: &Path) -> Verifier {
    let child = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
        .args([
            "verifier",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "2s",
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let v = Verifier(child);
    let end = Instant::now() + Duration::from_secs(60);
    while !data.join("verifier.json").exists() {
        assert!(Instant::now() < end, "verifier.json never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    v
}

#[test]
fn verifier_and_operator_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut v = start(&data);
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("verifier.json")).unwrap()).unwrap();
    assert!(status["url"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert_eq!(status["pid"], v.0.id());

    let o = tc(&data, &["node", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout(&o)).unwrap(),
        serde_json::json!([])
    );
    let o = tc(&data, &["node", "list"]);
    assert_eq!(stdout(&o), "no nodes enrolled yet\n");
    let o = tc_closed_stdout(&data, &["node", "list", "--json"]);
    assert_quiet_sigpipe(&o, "node list --json");

    // A policy from a known-good event log, PCRs 0 and 7 pinned.
    let o = tc(
        &data,
        &[
            "policy",
            "create",
            "good-boot",
            "--from-event-log",
            OVMF_LOG,
            "--pcrs",
            "0,7",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("policy good-boot stored"),
        "{}",
        stdout(&o)
    );
    let o = tc(&data, &["policy", "show", "good-boot", "--json"]);
    let p: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(p["name"], "good-boot");
    assert_eq!(p["pcrs"]["sha256"]["7"].as_array().unwrap().len(), 1);
    assert_eq!(p["pcrs"]["sha256"]["7"][0].as_str().unwrap().len(), 64);
    assert!(p["measured_boot"]["boot_applications"].is_array());
    let o = tc(&data, &["policy", "list"]);
    let text = stdout(&o);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("good-boot") && text.contains("measured boot"),
        "{text}"
    );
    // Written to a file instead of uploaded.
    let out = tmp.path().join("p.json");
    let o = tc(
        &data,
        &[
            "policy",
            "create",
            "lab",
            "--pcr",
            "7=00",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("32-byte hex digest"), "{}", stderr(&o));
    let o = tc(
        &data,
        &[
            "policy",
            "create",
            "lab",
            "--pcr",
            &format!("sha256:7={}", "ab".repeat(32)),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["pcrs"]["sha256"]["7"][0], "ab".repeat(32));
    let o = tc(&data, &["policy", "apply", "good-boot", "--node", "ghost"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no node \"ghost\""), "{}", stderr(&o));

    let o = tc(&data, &["attest", "status", "--json"]);
    let st: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(st["total"], 0);
    assert_eq!(st["verifier"], status["url"]);

    // Agent certificate.
    let certs = tmp.path().join("certs");
    let o = tc(
        &data,
        &[
            "verifier",
            "issue-cert",
            "--agent",
            "host-1",
            "--out",
            certs.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("agent.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(std::fs::read_to_string(certs.join("agent.pem"))
        .unwrap()
        .contains("BEGIN CERTIFICATE"));
    assert!(data.join("pki/agents/host-1.pem").exists());
    let o = tc(&data, &["verifier", "issue-cert", "--agent", "../evil"]);
    assert!(!o.status.success());

    // SIGTERM: clean exit, verifier.json removed.
    let rc = Command::new("kill")
        .args(["-TERM", &v.0.id().to_string()])
        .status()
        .unwrap();
    assert!(rc.success());
    let end = Instant::now() + Duration::from_secs(15);
    let code = loop {
        if let Some(s) = v.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "verifier did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(code.success(), "{code:?}");
    assert!(!data.join("verifier.json").exists());
    let o = tc(&data, &["node", "list"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no running verifier"), "{}", stderr(&o));
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // No verifier is needed to write a policy to stdout.
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "policy",
        "create",
        "good-boot",
        "--from-event-log",
        OVMF_LOG,
        "--out",
        "-",
    ];
    let o = tc_closed_stdout(tmp.path(), &args);
    assert_quiet_sigpipe(&o, "policy create --out -");
    // The same command into a reader still writes the whole policy.
    let o = tc(tmp.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(p["name"], "good-boot");
}

#[test]
fn help_teaches_with_examples() {
    for cmd in [
        &["verifier", "--help"][..],
        &["node", "--help"],
        &["policy", "--help"],
        &["attest", "--help"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_trustcloud"))
            .args(cmd)
            .output()
            .unwrap();
        assert!(o.status.success());
        let text = stdout(&o);
        assert!(text.contains("Examples:"), "{cmd:?}: {text}");
    }
}
