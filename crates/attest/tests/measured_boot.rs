//! Measured-boot policy over the real OVMF log: what `generate_from`
//! extracts, and that the generated policy accepts its own log and names
//! what differs in another.

use attest::eventlog::{event_type, EventLog};
use attest::policy::{
    BootFacts, MeasuredBootPolicy, Policy, TAG_LINUX_INITRD, TAG_LINUX_LOAD_OPTIONS,
};
use attest::Failure;
use tpm::crypto::HashAlg;

const LOG: &[u8] = include_bytes!("data/ovmf-qemu-q35-linux-6.1.bin");

#[test]
fn generated_policy_describes_the_ovmf_direct_kernel_boot() {
    let log = EventLog::parse(LOG).unwrap();
    let p = MeasuredBootPolicy::generate_from(&log);
    assert_eq!(p.bank, "sha256");
    // OVMF measured one boot application: the kernel (PE/COFF Authenticode).
    let kernel = log
        .events
        .iter()
        .find(|e| e.event_type == event_type::EV_EFI_BOOT_SERVICES_APPLICATION)
        .unwrap()
        .digest(HashAlg::Sha256)
        .unwrap()
        .to_vec();
    assert_eq!(p.boot_applications, Some(vec![hex::encode(&kernel)]));
    // The EFI stub tagged the command line and the initrd into PCR 9.
    assert_eq!(p.load_options_digests.as_ref().map(Vec::len), Some(1));
    assert_eq!(p.initrd_digests.as_ref().map(Vec::len), Some(1));
    assert_eq!(p.kernel_cmdlines, None, "no grub EV_IPL in a direct boot");
    // Secure Boot off in this OVMF build.
    assert_eq!(p.secure_boot, Some(false));
    assert_eq!(p.replay_pcrs, vec![0, 1, 2, 3, 4, 5, 6, 7, 9]);
    assert!(p.check(&log).is_empty());
    let facts = BootFacts::from_log(&log, HashAlg::Sha256);
    assert_eq!(facts.boot_applications, vec![(4, kernel)]);
    assert_ne!(TAG_LINUX_INITRD, TAG_LINUX_LOAD_OPTIONS);

    // JSON round trip inside a Policy.
    let policy = Policy {
        name: "ovmf".into(),
        measured_boot: Some(p.clone()),
        ..Default::default()
    };
    let json = serde_json::to_string_pretty(&policy).unwrap();
    assert_eq!(Policy::from_json(&json).unwrap(), policy);
}

#[test]
fn generated_policy_names_what_differs() {
    let log = EventLog::parse(LOG).unwrap();
    let mut p = MeasuredBootPolicy::generate_from(&log);
    p.secure_boot = Some(true);
    p.boot_applications = Some(vec!["11".repeat(32)]);
    let got = p.check(&log);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(
        &got[0],
        Failure::BootApplicationNotAllowed { pcr: 4, .. }
    ));
    assert_eq!(
        got[1].to_string(),
        "Secure Boot is disabled, the measured-boot policy requires enabled"
    );
    // A grub-style EV_IPL command line.
    let mut grub = log.clone();
    grub.events.push(attest::Event {
        pcr_index: 8,
        event_type: event_type::EV_IPL,
        digests: vec![],
        data: b"kernel_cmdline: /vmlinuz root=/dev/vda1 ro\0".to_vec(),
    });
    let mut p = MeasuredBootPolicy::generate_from(&grub);
    assert_eq!(
        p.kernel_cmdlines,
        Some(vec!["/vmlinuz root=/dev/vda1 ro".to_string()])
    );
    p.kernel_cmdlines = Some(vec!["/vmlinuz root=/dev/vda1 ro quiet".into()]);
    assert_eq!(
        p.check(&grub),
        vec![Failure::KernelCmdlineNotAllowed(
            "/vmlinuz root=/dev/vda1 ro".into()
        )]
    );
}
