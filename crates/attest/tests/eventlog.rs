//! Event log parser and replay: hand-built logs with known answers, every
//! malformed-header path, and property tests (round trip; no panic on any
//! input; replay equals extending a PCR by hand).

use attest::eventlog::{
    event_type::*, initial_value, AlgorithmSize, Event, EventDigest, EventLog, EventLogError,
    ReplayError, SpecIdEvent,
};
use proptest::prelude::*;
use tpm::crypto::HashAlg;

const SHA1: u16 = 0x0004;
const SHA256: u16 = 0x000B;
const SHA384: u16 = 0x000C;

fn spec(algs: &[(u16, u16)]) -> SpecIdEvent {
    SpecIdEvent {
        platform_class: 0,
        spec_version_minor: 0,
        spec_version_major: 2,
        spec_errata: 0,
        uintn_size: 2,
        algorithms: algs
            .iter()
            .map(|&(alg, digest_size)| AlgorithmSize { alg, digest_size })
            .collect(),
        vendor_info: Vec::new(),
    }
}

/// An event extending `data`'s digest in SHA-1 and SHA-256.
fn measured(pcr: u32, ty: u32, data: &[u8]) -> Event {
    Event {
        pcr_index: pcr,
        event_type: ty,
        digests: vec![
            EventDigest {
                alg: SHA1,
                digest: HashAlg::Sha1.digest(&[data]),
            },
            EventDigest {
                alg: SHA256,
                digest: HashAlg::Sha256.digest(&[data]),
            },
        ],
        data: data.to_vec(),
    }
}

fn two_bank_log(events: Vec<Event>) -> EventLog {
    EventLog {
        spec_id: spec(&[(SHA1, 20), (SHA256, 32)]),
        events,
    }
}

fn extend(alg: HashAlg, pcr: &[u8], data: &[u8]) -> Vec<u8> {
    alg.digest(&[pcr, &alg.digest(&[data])])
}

#[test]
fn replay_matches_hand_computed_pcrs() {
    let log = two_bank_log(vec![
        measured(0, EV_S_CRTM_VERSION, b"crtm"),
        measured(4, EV_EFI_BOOT_SERVICES_APPLICATION, b"kernel"),
        measured(0, EV_SEPARATOR, &[0, 0, 0, 0]),
        measured(4, EV_SEPARATOR, &[0, 0, 0, 0]),
    ]);
    let bytes = log.to_bytes();
    let parsed = EventLog::parse(&bytes).unwrap();
    assert_eq!(parsed, log);
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        let zero = vec![0u8; alg.digest_size()];
        let pcr0 = extend(alg, &extend(alg, &zero, b"crtm"), &[0, 0, 0, 0]);
        let pcr4 = extend(alg, &extend(alg, &zero, b"kernel"), &[0, 0, 0, 0]);
        let got = parsed.replay(alg).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[&0], pcr0);
        assert_eq!(got[&4], pcr4);
    }
    assert_eq!(parsed.banks(), vec![HashAlg::Sha1, HashAlg::Sha256]);
}

#[test]
fn no_action_events_are_not_extended_and_startup_locality_sets_pcr0() {
    let mut locality = b"StartupLocality\0".to_vec();
    locality.push(3);
    let log = two_bank_log(vec![
        Event {
            pcr_index: 0,
            event_type: EV_NO_ACTION,
            digests: vec![
                EventDigest {
                    alg: SHA1,
                    digest: vec![0; 20],
                },
                EventDigest {
                    alg: SHA256,
                    digest: vec![0; 32],
                },
            ],
            data: locality,
        },
        measured(0, EV_S_CRTM_VERSION, b"v"),
    ]);
    let parsed = EventLog::parse(&log.to_bytes()).unwrap();
    assert_eq!(parsed.startup_locality(), 3);
    let mut start = vec![0u8; 32];
    start[31] = 3;
    assert_eq!(initial_value(HashAlg::Sha256, 0, 3), start);
    assert_eq!(initial_value(HashAlg::Sha256, 1, 3), vec![0u8; 32]);
    let got = parsed.replay(HashAlg::Sha256).unwrap();
    assert_eq!(got[&0], extend(HashAlg::Sha256, &start, b"v"));
}

#[test]
fn replay_refuses_missing_bank_missing_digest_and_bad_pcrs() {
    let log = two_bank_log(vec![measured(0, EV_POST_CODE, b"x")]);
    assert_eq!(
        log.replay(HashAlg::Sha384),
        Err(ReplayError::BankNotInLog("sha384"))
    );

    let mut only_sha1 = measured(7, EV_EFI_VARIABLE_DRIVER_CONFIG, b"sb");
    only_sha1.digests.truncate(1);
    let log = two_bank_log(vec![measured(0, EV_POST_CODE, b"x"), only_sha1]);
    let bytes = log.to_bytes();
    let parsed = EventLog::parse(&bytes).unwrap();
    assert!(parsed.replay(HashAlg::Sha1).is_ok());
    let err = parsed.replay(HashAlg::Sha256).unwrap_err();
    assert_eq!(
        err,
        ReplayError::MissingDigest {
            index: 1,
            kind: "EV_EFI_VARIABLE_DRIVER_CONFIG".into(),
            pcr: 7,
            alg: "sha256"
        }
    );
    assert!(err.to_string().contains("PCR 7"), "{err}");

    let log = two_bank_log(vec![measured(24, EV_POST_CODE, b"x")]);
    assert!(matches!(
        log.replay(HashAlg::Sha256),
        Err(ReplayError::PcrOutOfRange { pcr: 24, .. })
    ));
    let log = two_bank_log(vec![measured(17, EV_POST_CODE, b"x")]);
    assert!(matches!(
        log.replay(HashAlg::Sha256),
        Err(ReplayError::DynamicLaunchPcr { pcr: 17, .. })
    ));
}

#[test]
fn trailing_zero_padding_is_accepted_but_other_trailing_bytes_are_not() {
    let log = two_bank_log(vec![measured(1, EV_EFI_VARIABLE_BOOT, b"boot")]);
    let mut bytes = log.to_bytes();
    bytes.extend_from_slice(&[0u8; 64]);
    assert_eq!(EventLog::parse(&bytes).unwrap(), log);
    bytes.push(1);
    assert!(matches!(
        EventLog::parse(&bytes),
        Err(EventLogError::Truncated { .. })
    ));
}

#[test]
fn malformed_headers_are_refused_with_the_reason() {
    assert_eq!(EventLog::parse(&[]), Err(EventLogError::Empty));
    let good = two_bank_log(Vec::new()).to_bytes();
    assert!(EventLog::parse(&good).unwrap().events.is_empty());

    // Legacy (TPM 1.2) log: first event is a real measurement.
    let mut legacy = good.clone();
    legacy[4] = 8; // eventType EV_S_CRTM_VERSION
    assert!(matches!(
        EventLog::parse(&legacy),
        Err(EventLogError::NotCryptoAgile(_))
    ));
    // Wrong signature ("Spec ID Event00" is the TPM 1.2 header).
    let mut sig = good.clone();
    sig[32 + 14] = b'0';
    assert!(matches!(
        EventLog::parse(&sig),
        Err(EventLogError::NotCryptoAgile(_))
    ));
    // Non-zero header digest.
    let mut dig = good.clone();
    dig[8] = 1;
    assert!(matches!(
        EventLog::parse(&dig),
        Err(EventLogError::NotCryptoAgile(_))
    ));

    let wrong_size = EventLog {
        spec_id: spec(&[(SHA256, 20)]),
        events: Vec::new(),
    };
    assert_eq!(
        EventLog::parse(&wrong_size.to_bytes()),
        Err(EventLogError::WrongDigestSize {
            alg: SHA256,
            size: 20,
            expected: 32
        })
    );
    let dup = EventLog {
        spec_id: spec(&[(SHA256, 32), (SHA256, 32)]),
        events: Vec::new(),
    };
    assert_eq!(
        EventLog::parse(&dup.to_bytes()),
        Err(EventLogError::DuplicateAlgorithm { alg: SHA256 })
    );
    let many: Vec<(u16, u16)> = (0..33).map(|i| (0x100 + i, 4)).collect();
    let too_many = EventLog {
        spec_id: spec(&many),
        events: Vec::new(),
    };
    assert_eq!(
        EventLog::parse(&too_many.to_bytes()),
        Err(EventLogError::TooManyAlgorithms(33))
    );
}

#[test]
fn event_digest_lists_are_checked_against_the_spec_id_table() {
    let header = two_bank_log(Vec::new()).to_bytes();
    let offset = header.len();
    let record = |algs: &[(u16, usize)], count: u32| {
        let mut b = header.clone();
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&EV_POST_CODE.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        for &(alg, len) in algs {
            b.extend_from_slice(&alg.to_le_bytes());
            b.extend_from_slice(&vec![0xAB; len]);
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        b
    };
    assert_eq!(
        EventLog::parse(&record(&[(SHA384, 48)], 1)),
        Err(EventLogError::UnknownDigestAlgorithm {
            offset,
            alg: SHA384
        })
    );
    assert_eq!(
        EventLog::parse(&record(&[(SHA1, 20), (SHA1, 20)], 2)),
        Err(EventLogError::DuplicateDigest { offset, alg: SHA1 })
    );
    assert_eq!(
        EventLog::parse(&record(&[], 3)),
        Err(EventLogError::TooManyDigests {
            offset,
            count: 3,
            max: 2
        })
    );
    // A huge event size is a truncation error, not an allocation.
    let mut huge = record(&[(SHA1, 20)], 1);
    let n = huge.len();
    huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        EventLog::parse(&huge),
        Err(EventLogError::Truncated {
            what: "event data",
            ..
        })
    ));
    let ok = EventLog::parse(&record(&[(SHA256, 32), (SHA1, 20)], 2)).unwrap();
    assert_eq!(ok.events[0].digest(HashAlg::Sha256), Some(&[0xAB; 32][..]));
}

#[test]
fn every_truncation_of_a_valid_log_is_an_error() {
    let log = two_bank_log(vec![
        measured(0, EV_S_CRTM_VERSION, b"crtm"),
        measured(7, EV_SEPARATOR, &[0; 4]),
    ]);
    let bytes = log.to_bytes();
    for cut in 1..bytes.len() {
        // A cut that lands exactly between records is a valid shorter log.
        match EventLog::parse(&bytes[..cut]) {
            Ok(l) => assert!(l.events.len() < 2, "cut {cut}"),
            Err(e) => assert!(
                matches!(e, EventLogError::Truncated { .. }),
                "cut {cut}: {e}"
            ),
        }
    }
}

fn arb_event() -> impl Strategy<Value = Event> {
    (
        0u32..24,
        prop_oneof![Just(EV_NO_ACTION), Just(EV_SEPARATOR), any::<u32>()],
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    )
        .prop_map(|(pcr, ty, data, both)| {
            let mut e = measured(pcr, ty, &data);
            if !both {
                e.digests.remove(0);
            }
            e
        })
}

proptest! {
    #[test]
    fn round_trip(events in proptest::collection::vec(arb_event(), 0..20),
                  vendor in proptest::collection::vec(any::<u8>(), 0..16)) {
        let mut log = two_bank_log(events);
        log.spec_id.vendor_info = vendor;
        prop_assert_eq!(EventLog::parse(&log.to_bytes()).unwrap(), log);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(log) = EventLog::parse(&bytes) {
            for alg in HashAlg::ALL {
                let _ = log.replay(alg);
            }
        }
    }

    #[test]
    fn mutated_valid_logs_never_panic(events in proptest::collection::vec(arb_event(), 1..8),
                                      flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = two_bank_log(events).to_bytes();
        for (at, v) in flips {
            let i = at % bytes.len();
            bytes[i] ^= v;
        }
        if let Ok(log) = EventLog::parse(&bytes) {
            let _ = log.replay(HashAlg::Sha256);
        }
    }

    #[test]
    fn replay_equals_sequential_extends(datas in proptest::collection::vec((0u32..17, proptest::collection::vec(any::<u8>(), 0..32)), 0..16)) {
        let log = two_bank_log(datas.iter().map(|(p, d)| measured(*p, EV_POST_CODE, d)).collect());
        let got = log.replay(HashAlg::Sha256).unwrap();
        let mut want = std::collections::BTreeMap::new();
        for (p, d) in &datas {
            let v = want.entry(*p).or_insert_with(|| vec![0u8; 32]);
            *v = extend(HashAlg::Sha256, v, d);
        }
        prop_assert_eq!(got, want);
    }
}
