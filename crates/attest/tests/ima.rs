//! IMA list: writer/parser round trips and no-panic properties, and
//! incremental verification of a 100,000-entry list in slices, each entry
//! checked exactly once (issue 5, "must show" 3).

use attest::ima::{
    ima_buf_data, ima_legacy_data, ima_ng_data, ima_sig_data, write_entry, ImaEntry, ImaLog,
    ImaState,
};
use attest::runtime_policy::RuntimePolicy;
use proptest::prelude::*;
use tpm::crypto::HashAlg;

#[derive(Clone, Debug)]
enum Spec {
    Ng(String, Vec<u8>, String),
    Sig(Vec<u8>, String, Vec<u8>),
    Buf(String, Vec<u8>),
    Legacy([u8; 20], String),
    Other(String, Vec<u8>),
}

fn spec() -> impl Strategy<Value = (u32, Spec, bool)> {
    let path = "[/a-z0-9._-]{1,40}";
    let s = prop_oneof![
        (
            prop_oneof![
                Just("sha1".to_string()),
                Just("sha256".to_string()),
                Just("sha512".to_string())
            ],
            proptest::collection::vec(any::<u8>(), 0..64),
            path
        )
            .prop_map(|(a, d, p)| Spec::Ng(a, d, p)),
        (
            proptest::collection::vec(any::<u8>(), 32),
            path,
            proptest::collection::vec(any::<u8>(), 0..80)
        )
            .prop_map(|(d, p, s)| Spec::Sig(d, p, s)),
        (
            "[a-z.]{1,20}",
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(n, b)| Spec::Buf(n, b)),
        (any::<[u8; 20]>(), path).prop_map(|(d, p)| Spec::Legacy(d, p)),
        (
            "[a-z|-]{1,30}",
            proptest::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(n, d)| Spec::Other(n, d)),
    ];
    (0u32..24, s, any::<bool>())
}

fn build(s: &Spec) -> (String, Vec<u8>) {
    match s {
        Spec::Ng(a, d, p) => ("ima-ng".into(), ima_ng_data(a, d, p)),
        Spec::Sig(d, p, sig) => ("ima-sig".into(), ima_sig_data("sha256", d, p, sig)),
        Spec::Buf(n, b) => ("ima-buf".into(), ima_buf_data("sha256", n, b)),
        Spec::Legacy(d, p) => ("ima".into(), ima_legacy_data(d, p)),
        Spec::Other(n, d) if n == "ima" => ("ima-x".into(), d.clone()),
        Spec::Other(n, d) => (n.clone(), d.clone()),
    }
}

proptest! {
    #[test]
    fn written_lists_parse_back(entries in proptest::collection::vec(spec(), 0..20)) {
        let mut list = Vec::new();
        let mut expected = Vec::new();
        for (pcr, s, violation) in &entries {
            let (name, data) = build(s);
            write_entry(&mut list, *pcr, &name, &data, *violation);
            expected.push((*pcr, name, data, *violation));
        }
        let parsed = ImaLog::parse(&list).unwrap();
        prop_assert_eq!(parsed.len(), expected.len());
        for (i, (e, (pcr, name, data, violation))) in parsed.iter().zip(&expected).enumerate() {
            prop_assert_eq!(e.pcr, *pcr);
            prop_assert_eq!(e.template_name, name.as_str());
            prop_assert_eq!(e.template_data, data.as_slice());
            prop_assert_eq!(e.is_violation(), *violation);
            prop_assert!(e.template_hash_ok());
            // Known templates decode to the path they were built with.
            if matches!(entries[i].1, Spec::Other(..)) {
                let _ = e.event(i as u64);
            } else if let Some(ev) = e.event(i as u64) {
                let ev = ev.unwrap();
                let want: &[u8] = match &entries[i].1 {
                    Spec::Ng(_, _, p) | Spec::Sig(_, p, _) | Spec::Legacy(_, p) => p.as_bytes(),
                    Spec::Buf(n, _) => n.as_bytes(),
                    Spec::Other(..) => ev.path,
                };
                prop_assert_eq!(ev.path, want);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let policy = RuntimePolicy::from_json(r#"{"meta":{"version":1},"excludes":["/tmp/.*"]}"#).unwrap();
        for (i, e) in ImaLog::new(&bytes).enumerate() {
            let Ok(e) = e else { break };
            let _ = e.template_hash_ok();
            let _ = e.template_digest(HashAlg::Sha256);
            let _ = e.event(i as u64);
            let _ = policy.check_entry(i as u64, &e);
        }
        let _ = ImaState::default().extend_to_quote(&bytes, 10, &[(HashAlg::Sha256, &[0u8; 32])], |_, _| {});
    }

    #[test]
    fn every_truncation_is_an_error(s in spec()) {
        let (name, data) = build(&s.1);
        let mut list = Vec::new();
        write_entry(&mut list, 10, &name, &data, false);
        for cut in 1..list.len() {
            prop_assert!(ImaLog::parse(&list[..cut]).is_err());
        }
    }
}

/// 100,000 entries verified in slices of 10,000 (the quote taken after each
/// slice), plus 37 entries that arrived after the last quote: every entry
/// is visited exactly once and the state ends at the quoted PCR 10.
#[test]
fn incremental_verification_of_100k_entries_checks_each_once() {
    const N: usize = 100_000;
    const SLICE: usize = 10_000;
    let mut list = Vec::with_capacity(N * 90);
    let mut offsets = Vec::with_capacity(N + 1);
    let mut pcr = vec![0u8; 32];
    let mut after = Vec::with_capacity(N);
    for i in 0..N + 37 {
        offsets.push(list.len());
        let mut d = [0u8; 32];
        d[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let data = ima_ng_data("sha256", &d, &format!("/usr/lib/f{i}"));
        write_entry(&mut list, 10, "ima-ng", &data, false);
        pcr = HashAlg::Sha256.digest(&[&pcr, &HashAlg::Sha256.digest(&[&data])]);
        after.push(pcr.clone());
    }
    offsets.push(list.len());
    let mut visits = vec![0u8; N + 37];
    let mut state = ImaState::default();
    let mut slice_no = 0;
    while (state.count as usize) < N {
        slice_no += 1;
        let quoted = &after[slice_no * SLICE - 1];
        // The agent sends everything from the verifier's offset (including
        // entries newer than the quote, which must be left for later).
        let from = offsets[state.count as usize];
        let to = offsets[(slice_no * SLICE + 37).min(N + 37)];
        let p = state
            .extend_to_quote(
                &list[from..to],
                10,
                &[(HashAlg::Sha256, quoted)],
                |i, e: &ImaEntry<'_>| {
                    assert_eq!(e.pcr, 10);
                    visits[i as usize] += 1;
                },
            )
            .unwrap();
        assert_eq!(p.accepted as usize, SLICE);
        state = p.state;
        assert_eq!(state.value(HashAlg::Sha256), *quoted);
    }
    assert_eq!(state.count as usize, N);
    assert!(visits[..N].iter().all(|&v| v == 1));
    assert!(visits[N..].iter().all(|&v| v == 0));
}
