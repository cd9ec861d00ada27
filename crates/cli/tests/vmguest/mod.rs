//! A test guest that runs the attestation agent: the Debian cloud kernel of
//! tests/guest (shared, read-only: its cache and unpacked package), and an
//! initramfs of our own with
//! - busybox-static and [`init.sh`](init.sh);
//! - the virtio-net driver stack: the cloud kernel builds `virtio_pci` and
//!   `virtio_net` as modules (CONFIG_VIRTIO_PCI=m, CONFIG_VIRTIO_NET=m), so
//!   they and their dependencies are copied from the package's
//!   `lib/modules/<release>/kernel` and loaded in dependency order (read
//!   from each module's own `depends=` modinfo: the package carries no
//!   `modules.dep`, `depmod` writes it at install time);
//! - `trustcloud` (stripped: the debug binary is ~200 MB), the shared
//!   libraries `ldd` lists for it and the dynamic loader, at the paths the
//!   binary asks for;
//! - the agent's mTLS certificate, key and the API CA, and
//!   `/etc/tc/config` (verifier URL, agent id, the URL of the network probe).
//!
//! The initramfs is built once per test (it holds that test's
//! certificates) and used for every boot of the VM, so boots differ only
//! where the test makes them differ (the kernel command line).

pub mod http;
pub mod qemu;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const INIT_SCRIPT: &str = include_str!("init.sh");
const BUSYBOX: &str = "/bin/busybox";
/// The modules that give the guest `eth0` on a `virtio-net-pci` device;
/// their dependencies are found by [`resolve_modules`].
const NET_MODULES: [&str; 2] = ["virtio_pci", "virtio_net"];

/// What goes into the guest besides the fixed parts.
pub struct Spec<'a> {
    /// `https://10.0.2.2:PORT`: the verifier as the guest reaches it.
    pub verifier_url: String,
    /// A URL the guest fetches once after bringing up the network (its body
    /// is printed as `TC-HTTP <body>`); empty for none.
    pub http_url: String,
    pub agent_id: &'a str,
    /// Agent client certificate, key, and the API CA (PEM files).
    pub cert: &'a Path,
    pub key: &'a Path,
    pub ca: &'a Path,
}

/// A built guest.
pub struct AgentGuest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Module file names in load order.
    pub modules: Vec<String>,
    /// Size of the initramfs in bytes.
    pub initrd_len: u64,
}

/// Builds the initramfs in `dir` (which must exist).
pub fn build(dir: &Path, spec: &Spec<'_>) -> Result<AgentGuest, String> {
    let g = crate::guest::guest();
    let release = g
        .kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .ok_or_else(|| format!("{} is not named vmlinuz-<release>", g.kernel.display()))?
        .to_owned();
    let unpacked = g
        .kernel
        .parent()
        .and_then(Path::parent)
        .ok_or("the kernel has no package directory")?;
    let moddir = unpacked.join("lib/modules").join(&release);

    let root = dir.join("initramfs-root");
    let _ = std::fs::remove_dir_all(&root);
    for d in ["bin", "dev", "proc", "sys", "etc/tc", "lib/modules/tc"] {
        mkdir(&root.join(d))?;
    }
    copy(Path::new(BUSYBOX), &root.join("bin/busybox"), 0o755)?;
    write(&root.join("init"), INIT_SCRIPT.as_bytes(), 0o755)?;

    let modules = resolve_modules(&moddir, &NET_MODULES)?;
    let mut order = String::new();
    for (name, path) in &modules {
        let file = format!("{name}.ko");
        let bytes = read_module(path)?;
        write(&root.join("lib/modules/tc").join(&file), &bytes, 0o644)?;
        order.push_str(&file);
        order.push('\n');
    }
    write(&root.join("lib/modules/tc/order"), order.as_bytes(), 0o644)?;

    let bin = Path::new(env!("CARGO_BIN_EXE_trustcloud"));
    strip(bin, &root.join("bin/trustcloud"))?;
    for lib in shared_libraries(bin)? {
        let rel = lib.strip_prefix("/").map_err(|_| "relative library path")?;
        let to = root.join(rel);
        if let Some(p) = to.parent() {
            mkdir(p)?;
        }
        let real = std::fs::canonicalize(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
        copy(&real, &to, 0o755)?;
    }

    let config = format!(
        "VERIFIER_URL='{}'\nHTTP_URL='{}'\nAGENT_ID='{}'\n",
        spec.verifier_url, spec.http_url, spec.agent_id
    );
    write(&root.join("etc/tc/config"), config.as_bytes(), 0o644)?;
    copy(spec.cert, &root.join("etc/tc/agent.pem"), 0o644)?;
    copy(spec.key, &root.join("etc/tc/agent.key"), 0o600)?;
    copy(spec.ca, &root.join("etc/tc/ca.pem"), 0o644)?;

    let initrd = dir.join("initrd.cpio");
    pack(&root, &initrd)?;
    let _ = std::fs::remove_dir_all(&root);
    let initrd_len = std::fs::metadata(&initrd).map(|m| m.len()).unwrap_or(0);
    Ok(AgentGuest {
        kernel: g.kernel.clone(),
        initrd,
        modules: modules.into_iter().map(|(n, _)| n).collect(),
        initrd_len,
    })
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("mkdir {}: {e}", p.display()))
}

fn write(p: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    std::fs::write(p, data).map_err(|e| format!("write {}: {e}", p.display()))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    let data = std::fs::read(from).map_err(|e| format!("read {}: {e}", from.display()))?;
    write(to, &data, mode)
}

/// Module name as the kernel knows it (`-` and `_` are the same).
fn module_name(file: &str) -> Option<String> {
    let stem = file
        .strip_suffix(".ko")
        .or_else(|| file.strip_suffix(".ko.xz"))
        .or_else(|| file.strip_suffix(".ko.zst"))?;
    Some(stem.replace('-', "_"))
}

/// Every module file under `dir`, by name.
fn index_modules(dir: &Path, out: &mut BTreeMap<String, PathBuf>) -> Result<(), String> {
    for e in std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))? {
        let p = e.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        if p.is_dir() {
            index_modules(&p, out)?;
        } else if let Some(n) = p.file_name().and_then(|n| n.to_str()).and_then(module_name) {
            out.insert(n, p);
        }
    }
    Ok(())
}

/// The module file's bytes, decompressed on the host (busybox `insmod`
/// may not read compressed modules).
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else {
        None
    };
    match tool {
        None => std::fs::read(path).map_err(|e| format!("read {name}: {e}")),
        Some(t) => {
            let out = Command::new(t)
                .arg("-dc")
                .arg(path)
                .output()
                .map_err(|e| format!("run {t} (to decompress {name}): {e}"))?;
            if !out.status.success() {
                return Err(format!("{t} -dc {name} failed"));
            }
            Ok(out.stdout)
        }
    }
}

/// The `depends=` field of a module's `.modinfo` section: NUL-separated
/// `key=value` strings (include/linux/moduleparam.h, MODULE_INFO).
fn module_depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"depends=";
    let mut at = 0;
    while let Some(i) = ko
        .get(at..)
        .and_then(|s| s.windows(KEY.len()).position(|w| w == KEY))
    {
        let start = at + i;
        if start == 0 || ko.get(start - 1) == Some(&0) {
            let value = &ko[start + KEY.len()..];
            let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
            return String::from_utf8_lossy(&value[..end])
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.replace('-', "_"))
                .collect();
        }
        at = start + 1;
    }
    Vec::new()
}

/// `wanted` and everything they depend on, dependencies first. Modules the
/// kernel has built in (`modules.builtin`) need no file and are left out.
pub fn resolve_modules(moddir: &Path, wanted: &[&str]) -> Result<Vec<(String, PathBuf)>, String> {
    let mut files = BTreeMap::new();
    index_modules(&moddir.join("kernel"), &mut files)?;
    let builtin: BTreeSet<String> = std::fs::read_to_string(moddir.join("modules.builtin"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.rsplit('/').next().and_then(module_name))
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    fn visit(
        name: &str,
        files: &BTreeMap<String, PathBuf>,
        builtin: &BTreeSet<String>,
        done: &mut BTreeSet<String>,
        order: &mut Vec<(String, PathBuf)>,
        depth: usize,
    ) -> Result<(), String> {
        if done.contains(name) || builtin.contains(name) {
            return Ok(());
        }
        if depth > 32 {
            return Err(format!("module dependency loop at {name}"));
        }
        let path = files
            .get(name)
            .ok_or_else(|| format!("module {name} is neither built in nor in the package"))?;
        for dep in module_depends(&read_module(path)?) {
            visit(&dep, files, builtin, done, order, depth + 1)?;
        }
        done.insert(name.to_owned());
        order.push((name.to_owned(), path.clone()));
        Ok(())
    }
    for w in wanted {
        visit(w, &files, &builtin, &mut done, &mut order, 0)?;
    }
    Ok(order)
}

/// Copies `bin` without symbols or debug info.
fn strip(bin: &Path, to: &Path) -> Result<(), String> {
    let out = Command::new("strip")
        .arg("-o")
        .arg(to)
        .arg(bin)
        .output()
        .map_err(|e| format!("run strip: {e} (apt-get install binutils)"))?;
    if !out.status.success() {
        return Err(format!(
            "strip {} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", to.display()))
}

/// The absolute paths `ldd` prints for `bin`: the libraries (`name =>
/// /path (addr)`) and the loader (`/path (addr)`).
pub fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(bin)
        .output()
        .map_err(|e| format!("run ldd: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        } else if line.contains("not found") {
            return Err(format!("ldd: {line}"));
        }
    }
    if !libs
        .iter()
        .any(|l| l.to_string_lossy().contains("ld-linux"))
    {
        return Err(format!("ldd names no dynamic loader:\n{text}"));
    }
    Ok(libs)
}

/// newc cpio, owned by root, fixed times (as tests/guest packs its own).
fn pack(root: &Path, to: &Path) -> Result<(), String> {
    let out = Command::new("sh")
        .args([
            "-c",
            "find . -exec touch -h -d @0 {} + && \
             find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible",
        ])
        .current_dir(root)
        .output()
        .map_err(|e| format!("run cpio: {e}"))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "cpio failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(to, &out.stdout).map_err(|e| format!("write {}: {e}", to.display()))
}
