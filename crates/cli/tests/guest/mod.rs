//! A minimal Linux guest for the QEMU end-to-end test, built at test time
//! from Debian packages: the cloud kernel (its TPM TIS/CRB drivers and
//! securityfs are built in, so no modules are needed) unpacked from its .deb
//! with `dpkg-deb -x`, and an initramfs of `busybox-static` plus
//! [`init.sh`](init.sh) packed with `cpio`.
//!
//! The kernel .deb is fetched once with `apt-get download` (see
//! `fetch-kernel.sh`) into a cache directory: `$TRUSTCLOUD_GUEST_CACHE`, or
//! `guest-cache` under cargo's per-target scratch directory. Nothing is
//! skipped: a host that cannot provide a piece fails the test with a message
//! saying which piece and how to get it.

pub mod ima;
pub mod migrate;
pub mod qemu;
pub mod report;
pub mod vtpm;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Environment variable naming the kernel/initramfs cache directory.
pub const CACHE_ENV: &str = "TRUSTCLOUD_GUEST_CACHE";
const INIT_SCRIPT: &str = include_str!("init.sh");
const FETCH_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guest/fetch-kernel.sh");
/// busybox-static's binary (the dynamic `busybox` package installs the same
/// path, which is why [`build`] checks the ELF has no interpreter).
const BUSYBOX: &str = "/bin/busybox";

/// A guest ready to boot.
pub struct Guest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The kernel package file it came from, for messages.
    pub kernel_deb: PathBuf,
    /// SHA-256 of the initramfs as built (the kernel's EFI stub measures it
    /// into PCR 9, so the test can check the event log names this file).
    pub initrd_sha256: Vec<u8>,
    /// How long fetching and building took.
    pub build_time: Duration,
}

/// The guest, built once per test process. Panics with the reason when the
/// host cannot build it.
pub fn guest() -> &'static Guest {
    static GUEST: OnceLock<Result<Guest, String>> = OnceLock::new();
    match GUEST.get_or_init(build) {
        Ok(g) => g,
        Err(e) => panic!("cannot build the QEMU test guest: {e}"),
    }
}

/// The cache directory for the kernel package and the built files.
pub fn cache_dir() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("guest-cache"))
}

fn build() -> Result<Guest, String> {
    let started = Instant::now();
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    for tool in ["dpkg-deb", "cpio"] {
        require_tool(tool)?;
    }
    check_static_busybox(Path::new(BUSYBOX))?;

    let kernel_deb = fetch_kernel(&cache)?;
    let kernel = unpack_kernel(&cache, &kernel_deb)?;
    let (initrd, initrd_sha256) = build_initramfs(&cache)?;
    Ok(Guest {
        kernel,
        initrd,
        kernel_deb,
        initrd_sha256,
        build_time: started.elapsed(),
    })
}

fn require_tool(tool: &str) -> Result<(), String> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if found {
        Ok(())
    } else {
        Err(format!(
            "`{tool}` not found (apt-get install qemu-system-x86 ovmf busybox-static cpio; .ci/run does)"
        ))
    }
}

/// A dynamically linked busybox in an initramfs without a libc makes the
/// kernel panic with "No working init found", far from the cause; say it
/// here instead. An ELF with a PT_INTERP program header is dynamic (ELF
/// gABI, "Program Header").
fn check_static_busybox(path: &Path) -> Result<(), String> {
    let elf = std::fs::read(path)
        .map_err(|e| format!("{}: {e} (apt-get install busybox-static)", path.display()))?;
    let field = |at: usize, len: usize| -> Option<u64> {
        let b = elf.get(at..at + len)?;
        let mut v = [0u8; 8];
        v.get_mut(..len)?.copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    };
    let bad = || format!("{} is not a 64-bit little-endian ELF", path.display());
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        return Err(bad());
    }
    let phoff = field(0x20, 8).ok_or_else(bad)? as usize;
    let phentsize = field(0x36, 2).ok_or_else(bad)? as usize;
    let phnum = field(0x38, 2).ok_or_else(bad)? as usize;
    for i in 0..phnum {
        const PT_INTERP: u64 = 3;
        if field(phoff + i * phentsize, 4).ok_or_else(bad)? == PT_INTERP {
            return Err(format!(
                "{} is dynamically linked; the guest needs busybox-static (apt-get install busybox-static)",
                path.display()
            ));
        }
    }
    Ok(())
}

fn fetch_kernel(cache: &Path) -> Result<PathBuf, String> {
    let out = Command::new("sh")
        .arg(FETCH_SCRIPT)
        .arg(cache)
        .output()
        .map_err(|e| format!("run {FETCH_SCRIPT}: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "fetching the Debian cloud kernel failed ({}):\n{stderr}",
            out.status
        ));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if path.is_empty() {
        return Err(format!("{FETCH_SCRIPT} printed no package path:\n{stderr}"));
    }
    Ok(PathBuf::from(path))
}

/// Unpacks the .deb once (into a directory named after it) and returns the
/// path of `boot/vmlinuz-*`.
fn unpack_kernel(cache: &Path, deb: &Path) -> Result<PathBuf, String> {
    let stem = deb
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kernel".into());
    let dir = cache.join(&stem);
    if find_vmlinuz(&dir).is_none() {
        // Unpack beside the final name, then rename: a concurrent test
        // process never sees a half-unpacked tree.
        let tmp = cache.join(format!("{stem}.unpack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let out = Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&tmp)
            .output()
            .map_err(|e| format!("run dpkg-deb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "dpkg-deb -x {} failed: {}",
                deb.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; use its copy.
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    find_vmlinuz(&dir).ok_or_else(|| format!("no boot/vmlinuz-* in {}", deb.display()))
}

fn find_vmlinuz(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
}

/// Packs `/init`, `/bin/busybox` and the mount points into a newc cpio
/// archive (the format the kernel unpacks, Documentation/driver-api/
/// early-userspace/buffer-format.rst), owned by root, with fixed times so
/// the same inputs give the same bytes. The file is named after its SHA-256:
/// concurrent test processes share it, and a changed init script or busybox
/// gets a new file rather than changing one a running VM was given.
fn build_initramfs(cache: &Path) -> Result<(PathBuf, Vec<u8>), String> {
    let root = cache.join(format!("initramfs-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for d in ["bin", "dev", "proc", "sys"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| io("mkdir", e))?;
    }
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).map_err(|e| io("copy busybox", e))?;
    let init = root.join("init");
    std::fs::write(&init, INIT_SCRIPT).map_err(|e| io("write init", e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| io("chmod init", e))?;
    }
    let out = Command::new("sh")
        .args([
            "-c",
            "find . -exec touch -h -d @0 {} + && \
             find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible",
        ])
        .current_dir(&root)
        .output()
        .map_err(|e| io("run cpio", e))?;
    let _ = std::fs::remove_dir_all(&root);
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "cpio failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let sha256 = {
        use sha2::Digest;
        sha2::Sha256::digest(&out.stdout).to_vec()
    };
    let path = cache.join(format!("initrd-{}.cpio", hex::encode(&sha256[..8])));
    if std::fs::read(&path).ok().as_deref() != Some(&out.stdout[..]) {
        let tmp = cache.join(format!("initrd.tmp-{}", std::process::id()));
        std::fs::write(&tmp, &out.stdout).map_err(|e| io("write initrd", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("rename initrd", e))?;
    }
    Ok((path, sha256))
}
