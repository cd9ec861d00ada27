//! A real log: captured from OVMF (Debian bookworm `ovmf`) booting a Debian
//! 6.1 cloud kernel with `-kernel`/`-initrd` under QEMU q35, with a swtpm
//! vTPM. Expected PCRs are the ones the guest read from the vTPM (sysfs
//! `pcr-sha256/N`), which `tpm2_eventlog` also computes from this file.

use attest::eventlog::{event_type, EventLog};
use tpm::crypto::HashAlg;

const LOG: &[u8] = include_bytes!("data/ovmf-qemu-q35-linux-6.1.bin");

const SHA256_PCRS: [(u32, &str); 9] = [
    (
        0,
        "934e33f62488254af004d1451aca3b400e6b45062da33c091f5b78d1bba97c01",
    ),
    (
        1,
        "8e9d1fe23131f12d6a523e9c32eb3223d4dc25e14eb5fd60163e7ba8de0f248c",
    ),
    (
        2,
        "7283db88208a98a77b841934355d717e583235fa544a682bdaafb2232278ea36",
    ),
    (
        3,
        "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
    ),
    (
        4,
        "ff3a75147b7270f6c57a4b40a341a953aee09281c1c40513d068c108ed6c85d4",
    ),
    (
        5,
        "a5ceb755d043f32431d63e39f5161464620a3437280494b5850dc1b47cc074e0",
    ),
    (
        6,
        "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
    ),
    (
        7,
        "65caf8dd1e0ea7a6347b635d2b379c93b9a1351edc2afc3ecda700e534eb3068",
    ),
    (
        9,
        "b2f6cb6e800fa74e0c6390384106623bd388887ae48381048754c2265e5e91c6",
    ),
];

#[test]
fn ovmf_log_replays_to_the_pcrs_the_guest_read() {
    let log = EventLog::parse(LOG).unwrap();
    assert_eq!(
        log.banks(),
        vec![
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512
        ]
    );
    assert_eq!(log.startup_locality(), 0);
    let got = log.replay(HashAlg::Sha256).unwrap();
    let want: std::collections::BTreeMap<u32, Vec<u8>> = SHA256_PCRS
        .iter()
        .map(|(i, h)| (*i, hex::decode(h).unwrap()))
        .collect();
    assert_eq!(got, want);
    // Every bank replays (each event carries all four digests).
    for alg in log.banks() {
        assert_eq!(log.replay(alg).unwrap().len(), 9);
    }
    // The firmware measured exactly one boot application (the kernel) in
    // PCR 4, and the kernel's EFI stub tagged two events into PCR 9.
    let count = |pcr, ty| {
        log.events
            .iter()
            .filter(|e| e.pcr_index == pcr && e.event_type == ty)
            .count()
    };
    assert_eq!(count(4, event_type::EV_EFI_BOOT_SERVICES_APPLICATION), 1);
    assert_eq!(count(9, event_type::EV_EVENT_TAG), 2);
    assert_eq!(
        log.events
            .iter()
            .filter(|e| e.event_type == event_type::EV_SEPARATOR)
            .count(),
        8
    );
}
