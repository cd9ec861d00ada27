//! The real binary picks its allocator from the subcommand before `main`
//! (crates/cli/src/allocator.rs): mimalloc for the verifier and the agent,
//! glibc's malloc for vtpmd and the rest (vtpmd's thread per connection
//! would cost ~1 MiB per loaded vTPM under mimalloc). Each run fails fast
//! on a bad path after logging its choice at debug level. (The choice is
//! made on glibc targets only.)
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::Command;

/// The allocator a `trustcloud -v ARGS` process logged, and its stderr.
fn chosen(args: &[&str], env: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustcloud"));
    cmd.arg("-v").args(args).env_remove("RUST_LOG");
    match env {
        Some(v) => cmd.env("TRUSTCLOUD_ALLOCATOR", v),
        None => cmd.env_remove("TRUSTCLOUD_ALLOCATOR"),
    };
    let out = cmd.output().expect("run trustcloud");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a fast failure: {stderr}");
    let name = ["mimalloc", "glibc"]
        .into_iter()
        .find(|n| stderr.contains(&format!("allocator=\"{n}\"")))
        .unwrap_or_else(|| panic!("no allocator line in: {stderr}"));
    (name.to_string(), stderr)
}

fn missing_dir() -> String {
    // A path under a regular file: never a directory.
    "/dev/null/trustcloud-allocator-test".to_string()
}

#[test]
fn verifier_and_agent_processes_use_mimalloc() {
    let dir = missing_dir();
    let (verifier, _) = chosen(&["verifier", "--data-dir", &dir], None);
    assert_eq!(verifier, "mimalloc");
    let (agent, _) = chosen(
        &[
            "agent",
            "--tpm",
            "device:/nonexistent",
            "--verifier",
            "https://127.0.0.1:1",
            "--id",
            "a",
            "--data-dir",
            &dir,
        ],
        None,
    );
    assert_eq!(agent, "mimalloc");
}

#[test]
fn other_commands_keep_glibc_and_the_environment_overrides() {
    let dir = missing_dir();
    let (node, _) = chosen(&["node", "list", "--data-dir", &dir], None);
    assert_eq!(node, "glibc");
    let (forced, _) = chosen(&["node", "list", "--data-dir", &dir], Some("mimalloc"));
    assert_eq!(forced, "mimalloc");
    let (forced_off, _) = chosen(&["verifier", "--data-dir", &dir], Some("glibc"));
    assert_eq!(forced_off, "glibc");
    let (ignored, stderr) = chosen(&["verifier", "--data-dir", &dir], Some("tcmalloc"));
    assert_eq!(ignored, "mimalloc");
    assert!(
        stderr.contains("TRUSTCLOUD_ALLOCATOR=\"tcmalloc\" names no allocator"),
        "{stderr}"
    );
}
