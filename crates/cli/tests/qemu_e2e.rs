//! End to end with a real VM (issue 4, "Must show 1"): a minimal Linux guest
//! built at test time from Debian packages (tests/guest) boots under
//! `qemu-system-x86_64` (q35, OVMF, TCG) with a vTPM on QEMU's `emulator`
//! backend. The guest prints its PCRs and the firmware's event log; the test
//! parses and replays the log with our own parser (crates/attest), checks
//! the result against `tpm2_eventlog` and against the PCRs the guest read,
//! accounts for every one of the 24 PCRs (firmware log for 0–9, IMA's log
//! for 10, reset values for the rest), and checks a second boot of the same
//! VM starts from fresh PCRs with the same EK. With vtpmd the live vTPM is
//! also read over its TCP listener while the guest runs, the CRB interface
//! is booted too, and the PCRs must equal those the same VM gets from
//! swtpm. A live migration between two QEMU processes runs with swtpm (the
//! baseline: PCRs and NV survive, the state crosses in the clear) and with
//! vtpmd (PCRs, NV and the EK survive; the state crosses sealed: nothing
//! of it is readable in the migration stream).
//!
//! Run alone: `cargo test -p trustcloud --test qemu_e2e -- --nocapture`
//! (prints boot and migration timings). The kernel .deb is cached in
//! `$TRUSTCLOUD_GUEST_CACHE` (default: target/tmp/guest-cache).
//!
//! Heavy by nature (each TCG boot takes seconds), but it must run in CI:
//! nothing here is ignored, and a host that lacks QEMU, OVMF, busybox-static
//! or the kernel package fails with a message naming what is missing.

mod guest;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use attest::eventlog::{event_type, EventLog};
use guest::qemu::{Vm, VmConfig, APPEND};
use guest::report::{self, Report};
use guest::vtpm::{Swtpm, Vtpmd};
use sha2::{Digest, Sha256};
use tpm::crypto::HashAlg;

/// One TCG boot takes ~8–15 s on an idle 2-core machine; leave room for a
/// loaded CI host.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
const POWEROFF_TIMEOUT: Duration = Duration::from_secs(60);
/// PCRs of the dynamic-launch range start as all ones (PC Client Platform
/// TPM Profile §4.6.2); the rest as zeros.
const DRTM_PCRS: std::ops::RangeInclusive<u32> = 17..=22;
/// Tagged-event IDs the Linux EFI stub uses for its PCR 9 measurements
/// (linux/drivers/firmware/efi/libstub/efistub.h: INITRD_EVENT_TAG_ID,
/// LOAD_OPTIONS_EVENT_TAG_ID).
const INITRD_EVENT_TAG_ID: u32 = 0x8F3B_22EC;
const LOAD_OPTIONS_EVENT_TAG_ID: u32 = 0x8F3B_22ED;

/// Boots run one at a time: two TCG guests on a 2-core machine would only
/// slow each other down past their timeouts.
static BOOTS: Mutex<()> = Mutex::new(());

/// The SHA-256 PCRs of each vTPM implementation's first boot. The same VM
/// (firmware, memory size, kernel, initramfs, command line, TIS) must
/// measure exactly the same into swtpm (libtpms) and vtpmd (our engine):
/// whichever of the two tests finishes its first boot second compares.
static FIRST_BOOT_PCRS: Mutex<Vec<(&str, Pcrs)>> = Mutex::new(Vec::new());

/// PCR index -> value, one bank.
type Pcrs = BTreeMap<u32, Vec<u8>>;

fn same_pcrs_as_the_other_vtpm(name: &'static str, pcrs: &BTreeMap<u32, Vec<u8>>) {
    let mut seen = FIRST_BOOT_PCRS.lock().unwrap_or_else(|p| p.into_inner());
    for (other, theirs) in seen.iter() {
        assert_eq!(
            theirs, pcrs,
            "the same VM booted with {other} and with {name} got different PCRs"
        );
    }
    seen.push((name, pcrs.clone()));
}

/// What one boot produced.
struct Boot {
    report: Report,
    /// QEMU start to the guest's complete report.
    to_report: Duration,
    /// QEMU start to QEMU exit.
    total: Duration,
}

/// Boots the guest against the vTPM at `ctrl`, calls `live` with the
/// guest's report while the guest is still up (waiting for our go-ahead),
/// then lets it power off and waits for QEMU to exit.
fn boot(dir: &Path, ctrl: &Path, device: &'static str, live: impl FnOnce(&Report)) -> Boot {
    let g = guest::guest();
    let _one_at_a_time = BOOTS.lock().unwrap_or_else(|p| p.into_inner());
    let mut cfg = VmConfig::new(dir, ctrl);
    cfg.tpm_device = device;
    let mut vm = Vm::start(g, &cfg).unwrap_or_else(|e| panic!("{e}"));
    vm.wait_for("TC-END", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let to_report = vm.started.elapsed();
    let report = report::parse(&vm.console()).unwrap_or_else(|e| panic!("{}", vm.failure(&e)));
    live(&report);
    vm.send_line("go").unwrap_or_else(|e| panic!("{e}"));
    vm.wait_for("TC-POWEROFF go", POWEROFF_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let status = vm
        .wait_exit(POWEROFF_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "{}",
        vm.failure(&format!("QEMU exited with {status}"))
    );
    Boot {
        report,
        to_report,
        total: vm.started.elapsed(),
    }
}

/// Checks one boot's report on its own and returns the 24 SHA-256 PCR
/// values it proves: the replayed firmware log (our parser, cross-checked
/// with `tpm2_eventlog`), IMA's log for PCR 10, reset values elsewhere —
/// which must equal what the guest read from its TPM.
fn verify_report(r: &Report, work: &Path) -> BTreeMap<u32, Vec<u8>> {
    let g = guest::guest();
    assert_eq!(r.tpm_version, "2", "guest saw a TPM {}", r.tpm_version);
    assert!(
        r.cmdline.starts_with(APPEND),
        "kernel command line {:?} does not start with ours",
        r.cmdline
    );

    let log = EventLog::parse(&r.event_log).expect("the guest's event log parses");
    assert!(
        log.banks().contains(&HashAlg::Sha256),
        "no SHA-256 bank in the log: {:?}",
        log.spec_id.algorithms
    );
    let replay = log
        .replay(HashAlg::Sha256)
        .expect("replay the SHA-256 bank");
    for pcr in 0..=7 {
        assert!(
            replay.contains_key(&pcr),
            "the firmware log never extends PCR {pcr}"
        );
    }

    // An independent replay: tpm2-tools' event log parser.
    let log_path = work.join("binary_bios_measurements");
    std::fs::write(&log_path, &r.event_log).unwrap();
    let mut cmd = Command::new("tpm2_eventlog");
    cmd.arg(&log_path);
    let out = support::run_bounded(cmd, None, support::TOOL_TIMEOUT);
    assert!(out.success(), "tpm2_eventlog failed: {out:?}");
    let text = out.stdout_str();
    let pcrs_section = text
        .split_once("\npcrs:")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no pcrs: section in tpm2_eventlog output:\n{text}"));
    let theirs = support::parse::pcrread(pcrs_section);
    assert_eq!(
        theirs.get("sha256"),
        Some(&replay),
        "our replay differs from tpm2_eventlog's"
    );

    // The firmware measured one boot application (the kernel QEMU loaded)
    // into PCR 4, and the kernel's EFI stub measured exactly our initramfs
    // and command line into PCR 9 (as UTF-16LE with its NUL, as the
    // firmware handed it over).
    let apps = log
        .events
        .iter()
        .filter(|e| {
            e.pcr_index == 4 && e.event_type == event_type::EV_EFI_BOOT_SERVICES_APPLICATION
        })
        .count();
    assert_eq!(apps, 1, "boot applications measured into PCR 4");
    let tagged = |id: u32| {
        let hits: Vec<_> = log
            .events
            .iter()
            .filter(|e| {
                e.pcr_index == 9
                    && e.event_type == event_type::EV_EVENT_TAG
                    && e.data.get(..4) == Some(&id.to_le_bytes()[..])
            })
            .collect();
        assert_eq!(hits.len(), 1, "PCR 9 events tagged {id:#x}");
        hits[0]
            .digest(HashAlg::Sha256)
            .expect("sha256 digest")
            .to_vec()
    };
    assert_eq!(
        tagged(INITRD_EVENT_TAG_ID),
        g.initrd_sha256,
        "PCR 9 initrd event is not the SHA-256 of the initramfs we built"
    );
    let mut options: Vec<u8> = r
        .cmdline
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    options.extend_from_slice(&[0, 0]);
    assert_eq!(
        tagged(LOAD_OPTIONS_EVENT_TAG_ID),
        Sha256::digest(&options).to_vec(),
        "PCR 9 load-options event is not the command line the guest received"
    );

    // PCR 10: IMA's boot_aggregate over PCRs 0-9 (for a SHA-256 bank IMA
    // includes 8 and 9, security/integrity/ima/ima_crypto.c).
    let ima = guest::ima::parse(&r.ima_log).expect("IMA log parses");
    let first = ima.first().expect("IMA logged its boot_aggregate");
    let fields = first.fields().unwrap();
    assert_eq!(
        fields.get(1).map(Vec::as_slice),
        Some(&b"boot_aggregate\0"[..]),
        "first IMA entry ({}) is not boot_aggregate",
        first.template_name
    );
    let mut aggregate = Sha256::new();
    for pcr in 0..10 {
        aggregate.update(replay.get(&pcr).cloned().unwrap_or_else(|| vec![0; 32]));
    }
    let mut d_ng = b"sha256:\0".to_vec();
    d_ng.extend_from_slice(&aggregate.finalize());
    assert_eq!(
        fields.first(),
        Some(&d_ng),
        "IMA boot_aggregate differs from PCRs 0-9 of the replay"
    );
    // The verifier's computation of it (which refuses an IMA list whose
    // boot_aggregate differs) agrees with the real kernel's.
    let mut boot_pcrs = attest::pcrs::PcrValues::new();
    for pcr in 0..10u32 {
        let v = replay.get(&pcr).cloned().unwrap_or_else(|| vec![0; 32]);
        boot_pcrs.set(HashAlg::Sha256, pcr, v);
    }
    let (last, verifier_view) =
        attest::ima::boot_aggregate(HashAlg::Sha256, &boot_pcrs).expect("PCRs 0-9 known");
    assert_eq!(last, 9);
    assert_eq!(
        fields.first().and_then(|d| d.strip_prefix(b"sha256:\0")),
        Some(verifier_view.as_slice()),
        "attest::ima::boot_aggregate differs from the kernel's"
    );

    let mut expected = BTreeMap::new();
    for pcr in 0..24u32 {
        let v = if let Some(v) = replay.get(&pcr) {
            v.clone()
        } else if pcr == 10 {
            guest::ima::replay_sha256(&ima, 10)
        } else if DRTM_PCRS.contains(&pcr) {
            vec![0xFF; 32]
        } else {
            vec![0; 32]
        };
        expected.insert(pcr, v);
    }
    assert_eq!(
        r.pcrs, expected,
        "the PCRs the guest read differ from the replayed logs"
    );
    expected
}

/// The RSA EK's public area as `tpm2_createek` makes it (the EK
/// Credential Profile template under the endorsement seed: the same seed
/// gives the same key), in TPM2B_PUBLIC form.
fn createek_rsa(tools: &support::Tools) -> Vec<u8> {
    tools.ok(
        "tpm2_createek",
        &["-c", "ek.ctx", "-G", "rsa", "-u", "ek.pub"],
    );
    let pub_ = std::fs::read(tools.cwd.join("ek.pub")).unwrap();
    assert!(pub_.len() > 256, "EK public area of {} bytes", pub_.len());
    pub_
}

fn swtpm_ek_public(tpm: &mut Swtpm) -> Vec<u8> {
    tpm.with_tools(|tools, _| createek_rsa(tools))
}

/// The SHA-256 bank as `tpm2_pcrread` reads it.
fn pcrread_sha256(tools: &support::Tools) -> BTreeMap<u32, Vec<u8>> {
    let out = tools.ok("tpm2_pcrread", &["sha256:all"]);
    support::parse::pcrread(&out)
        .remove("sha256")
        .unwrap_or_else(|| panic!("no sha256 bank in\n{out}"))
}

fn say(what: &str) {
    eprintln!("[qemu_e2e] {what}");
}

#[test]
fn swtpm_vm_boot_log_replays_to_its_pcrs_and_reboot_starts_fresh() {
    let t0 = Instant::now();
    let g = guest::guest();
    say(&format!(
        "guest ready in {:?} (kernel {})",
        g.build_time,
        g.kernel_deb.display()
    ));
    let mut tpm = Swtpm::new();
    let work = tpm.dir.path().to_path_buf();

    tpm.start();
    let first = boot(&work.join("vm"), &tpm.ctrl(), "tpm-tis", |_| {});
    say(&format!(
        "swtpm boot 1: report after {:?}, powered off after {:?}",
        first.to_report, first.total
    ));
    let pcrs1 = verify_report(&first.report, &work);
    same_pcrs_as_the_other_vtpm("swtpm", &pcrs1);
    let ek1 = swtpm_ek_public(&mut tpm);
    assert!(ek1.len() > 256, "EK public area of {} bytes", ek1.len());

    tpm.start();
    let second = boot(&work.join("vm"), &tpm.ctrl(), "tpm-tis", |_| {});
    say(&format!(
        "swtpm boot 2: report after {:?}, powered off after {:?}",
        second.to_report, second.total
    ));
    let pcrs2 = verify_report(&second.report, &work);
    // Same boot path, fresh PCRs: had anything carried over, the values
    // would be extended twice and differ.
    assert_eq!(
        pcrs1, pcrs2,
        "a second boot of the same VM got different PCRs"
    );
    // The same measurements in the same order (event data may differ:
    // e.g. the load address of an image is logged but not measured).
    let measured = |r: &Report| -> Vec<_> {
        EventLog::parse(&r.event_log)
            .unwrap()
            .events
            .into_iter()
            .map(|e| (e.pcr_index, e.event_type, e.digests))
            .collect()
    };
    assert_eq!(measured(&first.report), measured(&second.report));
    assert_eq!(
        swtpm_ek_public(&mut tpm),
        ek1,
        "the EK changed between boots"
    );
    say(&format!("swtpm test total {:?}", t0.elapsed()));
}

/// The same checks with the vTPM served by `trustcloud vtpmd` (QEMU talks
/// to RUN/vm1.ctrl), plus what only vtpmd allows: the test reads the live
/// vTPM over vtpmd's TCP listener while the guest runs, so "the PCRs the
/// vTPM holds" are read from the vTPM itself, not through the guest; and
/// the EK the TPM derives equals the one `vtpm show` reports, with its
/// certificate in the standard NV index. A third boot uses the CRB
/// interface (`tpm-crb`) instead of TIS.
#[test]
fn vtpmd_vm_boot_log_replays_to_the_live_vtpm_pcrs_and_reboot_keeps_the_ek() {
    let t0 = Instant::now();
    let g = guest::guest();
    say(&format!("guest ready in {:?}", g.build_time));
    let daemon = Vtpmd::start();
    let vm1 = daemon.create("vm1");
    let work = daemon.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let tools = vm1.tools(&work);
    let show = daemon.vtpm(&["show", "vm1"]);
    let ek = show["eks"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["kind"] == "rsa2048"))
        .unwrap_or_else(|| panic!("no rsa2048 EK in `vtpm show`: {show}"));
    let ek_public = hex::decode(ek["public"].as_str().unwrap()).unwrap();
    let ek_cert = hex::decode(ek["certificate"].as_str().expect("EK certificate")).unwrap();

    let mut boots = Vec::new();
    for (n, device) in [(1, "tpm-tis"), (2, "tpm-tis"), (3, "tpm-crb")] {
        let mut live = BTreeMap::new();
        let b = boot(&work.join("vm"), &vm1.ctrl, device, |_| {
            live = pcrread_sha256(&tools)
        });
        say(&format!(
            "vtpmd boot {n} ({device}): report after {:?}, powered off after {:?}",
            b.to_report, b.total
        ));
        let expected = verify_report(&b.report, &work);
        assert_eq!(
            live, expected,
            "boot {n}: the PCRs read from the live vTPM differ from the replayed logs"
        );
        // QEMU stopped the vTPM at exit; power it on to ask it for its EK.
        vm1.power_on();
        tools.ok("tpm2_startup", &["-c"]);
        let created = createek_rsa(&tools);
        assert_eq!(
            created.get(2..),
            Some(&ek_public[..]),
            "boot {n}: the EK the vTPM derives is not the one `vtpm show` reports"
        );
        let nv = tools.ok_bytes("tpm2_nvread", &["0x01C00002", "-C", "o"], None);
        assert_eq!(nv, ek_cert, "boot {n}: EK certificate in NV 0x01C00002");
        if n == 1 {
            same_pcrs_as_the_other_vtpm("vtpmd", &expected);
        }
        boots.push(expected);
    }
    assert_eq!(
        boots[0], boots[1],
        "a second boot of the same VM got different PCRs"
    );
    say(&format!("vtpmd test total {:?}", t0.elapsed()));
}

/// OVMF probes for a TPM 1.2 first (TPM_ORD_GetTicks) and takes any answer
/// tagged TPM_ST_RSP_COMMAND (0x00C4) for one, after which it measures
/// nothing into the TPM 2.0 banks. The engine must answer that probe with a
/// TPM 2.0 header, as libtpms does; the VM tests above fail without it (no
/// event log), this says why in a second.
#[test]
fn tpm12_probe_gets_a_tpm2_header_so_firmware_sees_a_tpm2() {
    let mut t = ::tpm::Tpm::new(&::tpm::EngineConfig::default());
    t.power_on();
    let get_ticks_12 = [0x00, 0xC1, 0, 0, 0, 10, 0, 0, 0, 0xF1];
    let r = t.execute(0, &get_ticks_12);
    assert_eq!(r.len(), 10, "{r:02x?}");
    assert_eq!(&r[..2], &[0x80, 0x01], "response tag {r:02x?}");
    assert_eq!(&r[6..], &[0, 0, 0, 0x1E], "TPM_RC_BAD_TAG {r:02x?}");
}

/// What a live migration produced.
struct Migrated {
    before: Report,
    after: Report,
    /// Everything the source QEMU sent the destination.
    stream: Vec<u8>,
    /// `migrate` to `completed`.
    migration: Duration,
}

/// Boots the guest against the vTPM at `src_ctrl`, runs `while_running`
/// (the host uses the live vTPM), migrates the running VM to a second QEMU
/// (`-incoming`) whose vTPM is at `dst_ctrl` through a recording relay,
/// asks the guest on the destination for a fresh report, and powers it
/// off there.
fn boot_and_migrate(
    work: &Path,
    src_ctrl: &Path,
    dst_ctrl: &Path,
    while_running: impl FnOnce(),
) -> Migrated {
    use guest::migrate::{free_port, Monitor, Relay};
    let g = guest::guest();
    let _one_at_a_time = BOOTS.lock().unwrap_or_else(|p| p.into_inner());
    let fail = |vm: &Vm, e: String| -> ! { panic!("{}", vm.failure(&e)) };

    let mut src_cfg = VmConfig::new(&work.join("src"), src_ctrl);
    src_cfg.monitor = Some(work.join("src.monitor"));
    let mut src = Vm::start(g, &src_cfg).unwrap_or_else(|e| panic!("{e}"));
    src.wait_for("TC-END", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let before = report::parse(&src.console()).unwrap_or_else(|e| fail(&src, e));
    say(&format!(
        "migration source booted in {:?}",
        src.started.elapsed()
    ));

    while_running();

    let dst_port = free_port();
    let mut dst_cfg = VmConfig::new(&work.join("dst"), dst_ctrl);
    dst_cfg.monitor = Some(work.join("dst.monitor"));
    dst_cfg.incoming = Some(format!("tcp:127.0.0.1:{dst_port}"));
    let mut dst = Vm::start(g, &dst_cfg).unwrap_or_else(|e| panic!("{e}"));
    let mut dst_mon = Monitor::connect(&work.join("dst.monitor"), Duration::from_secs(30))
        .unwrap_or_else(|e| fail(&dst, e));
    let mut src_mon = Monitor::connect(&work.join("src.monitor"), Duration::from_secs(30))
        .unwrap_or_else(|e| fail(&src, e));

    let relay = Relay::start(dst_port).unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    src_mon
        .cmd(&format!("migrate -d tcp:127.0.0.1:{}", relay.port))
        .unwrap_or_else(|e| fail(&src, e));
    src_mon
        .wait_migration(Duration::from_secs(120))
        .unwrap_or_else(|e| fail(&dst, format!("{e}\n--- source ---\n{}", src.failure(""))));
    let migration = t.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = dst_mon.cmd("info status").unwrap_or_else(|e| fail(&dst, e));
        if st.contains("running") {
            break;
        }
        if Instant::now() >= deadline {
            fail(
                &dst,
                format!("destination not running after migration: {st}"),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    src.kill();
    let stream = relay.finish().unwrap_or_else(|e| panic!("{e}"));

    dst.send_line("report").unwrap_or_else(|e| panic!("{e}"));
    dst.wait_for("TC-END", BOOT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let after = report::parse_last(&dst.console()).unwrap_or_else(|e| fail(&dst, e));
    dst.send_line("go").unwrap_or_else(|e| panic!("{e}"));
    dst.wait_for("TC-POWEROFF go", POWEROFF_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    let status = dst
        .wait_exit(POWEROFF_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        status.success(),
        "{}",
        dst.failure(&format!("QEMU exited with {status}"))
    );
    Migrated {
        before,
        after,
        stream,
        migration,
    }
}

/// A value no firmware, kernel or TPM writes by itself, to find in NV and
/// look for in the migration stream.
fn canary() -> Vec<u8> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Sha256::digest(format!("trustcloud-canary-{}-{t:?}", std::process::id())).to_vec()
}

const CANARY_NV: &str = "0x01500016";

fn define_canary(tools: &support::Tools, canary: &[u8]) {
    let size = canary.len().to_string();
    tools.ok(
        "tpm2_nvdefine",
        &[
            CANARY_NV,
            "-C",
            "o",
            "-s",
            &size,
            "-a",
            "ownerread|ownerwrite",
        ],
    );
    tools.ok_bytes(
        "tpm2_nvwrite",
        &[CANARY_NV, "-C", "o", "-i", "-"],
        Some(canary),
    );
}

fn read_canary(tools: &support::Tools) -> Vec<u8> {
    tools.ok_bytes("tpm2_nvread", &[CANARY_NV, "-C", "o"], None)
}

/// The migration baseline with swtpm: a running VM moves to a second QEMU
/// with its vTPM; PCRs (the guest reads them again on the destination) and
/// NV survive. swtpm without `--key` sends its state in the clear: the NV
/// canary is readable in the migration stream. That is what vtpmd's
/// encrypted blobs are for.
#[test]
fn swtpm_live_migration_keeps_pcrs_and_nv_and_streams_the_state_in_the_clear() {
    let t0 = Instant::now();
    let canary = canary();
    let mut src = Swtpm::new();
    src.with_tools(|tools, _| {
        define_canary(tools, &canary);
        tools.ok("tpm2_shutdown", &["-c"]);
    });
    let mut dst = Swtpm::new();
    src.start();
    dst.start();
    let work = src.dir.path().join("migration");
    let m = boot_and_migrate(&work, &src.ctrl(), &dst.ctrl(), || {});
    say(&format!(
        "swtpm migration: {} bytes streamed in {:?}",
        m.stream.len(),
        m.migration
    ));
    let expected = verify_report(&m.before, &work);
    assert_eq!(m.after.pcrs, expected, "PCRs after migration");
    assert_eq!(m.after.event_log, m.before.event_log);
    assert_eq!(
        dst.with_tools(|tools, _| read_canary(tools)),
        canary,
        "NV on the destination vTPM"
    );
    assert!(
        guest::migrate::contains(&m.stream, &canary),
        "swtpm's migration stream no longer carries NV in the clear"
    );
    say(&format!("swtpm migration test total {:?}", t0.elapsed()));
}

/// Issue 4, "Must show 4": live migration of a running VM between two QEMU
/// processes, each with a vTPM of one vtpmd: `vm1` (manufactured) and
/// `vm1-dst` (`vtpm create vm1-dst --incoming vm1`, blank until the
/// migration fills it). While the guest runs on the source, the host
/// extends PCR 16 and writes an NV index through vm1's TCP listener. The
/// guest on the destination then reads all 24 PCRs from vm1-dst: the
/// firmware's PCRs and PCR 16 carried over; NV and the EK certificate are
/// in vm1-dst. The captured migration stream holds the vTPM state sealed:
/// neither the NV canary, nor PCR 16's value, nor the EK public key, nor
/// the engine's state magic appear in it (the swtpm baseline above shows
/// the canary does appear when the state crosses in the clear).
#[test]
fn vtpmd_live_migration_keeps_pcrs_nv_and_ek_and_seals_the_state_in_the_stream() {
    let t0 = Instant::now();
    let canary = canary();
    let daemon = Vtpmd::start();
    let vm1 = daemon.create("vm1");
    let dst = daemon.create_with("vm1-dst", &["--incoming", "vm1"]);
    let work = daemon.dir.path().join("migration");
    std::fs::create_dir_all(&work).unwrap();
    let src_tools = vm1.tools(&work);
    let show = daemon.vtpm(&["show", "vm1"]);
    let ek = show["eks"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["kind"] == "rsa2048"))
        .unwrap_or_else(|| panic!("no rsa2048 EK in `vtpm show`: {show}"));
    let ek_public = hex::decode(ek["public"].as_str().unwrap()).unwrap();
    let ek_cert = hex::decode(ek["certificate"].as_str().expect("EK certificate")).unwrap();
    let pcr16 = Sha256::new()
        .chain_update([0u8; 32])
        .chain_update(&canary)
        .finalize()
        .to_vec();

    let m = boot_and_migrate(&work, &vm1.ctrl, &dst.ctrl, || {
        // The guest is running on the source: use its vTPM from the host.
        src_tools.ok(
            "tpm2_pcrextend",
            &[&format!("16:sha256={}", hex::encode(&canary))],
        );
        define_canary(&src_tools, &canary);
    });
    say(&format!(
        "vtpmd migration: {} bytes streamed in {:?}",
        m.stream.len(),
        m.migration
    ));
    let mut expected = verify_report(&m.before, &work);
    assert_eq!(m.before.pcrs.get(&16), Some(&vec![0u8; 32]));
    expected.insert(16, pcr16.clone());
    assert_eq!(
        m.after.pcrs, expected,
        "PCRs the guest reads after migration"
    );
    assert_eq!(m.after.event_log, m.before.event_log);

    // NV and the EK certificate live in the destination vTPM. QEMU shut it
    // down at exit: power it on and start it to read NV.
    let dst_tools = dst.tools(&work);
    dst.power_on();
    dst_tools.ok("tpm2_startup", &["-c"]);
    assert_eq!(read_canary(&dst_tools), canary, "NV on the destination");
    assert_eq!(
        dst_tools.ok_bytes("tpm2_nvread", &["0x01C00002", "-C", "o"], None),
        ek_cert,
        "EK certificate on the destination"
    );

    let stream = &m.stream;
    use guest::migrate::contains;
    assert!(
        contains(stream, b"TCVM"),
        "no sealed vTPM blob in the stream"
    );
    for (what, bytes) in [
        ("the NV canary", &canary[..]),
        ("PCR 16's value", &pcr16[..]),
        ("the EK public key", &ek_public[..]),
        ("the permanent-state magic", &b"TCTPMST\0"[..]),
        ("the volatile-state magic", &b"TCTPMVL\0"[..]),
    ] {
        assert!(
            !contains(stream, bytes),
            "{what} is readable in the migration stream"
        );
    }
    let log = daemon.log();
    assert!(log.contains("migration blob accepted"), "vtpmd log:\n{log}");
    say(&format!("vtpmd migration test total {:?}", t0.elapsed()));
}
