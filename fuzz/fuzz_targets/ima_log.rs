//! Arbitrary bytes as an IMA measurement list (`binary_runtime_measurements`):
//! parsing, template decoding, template hashes in every bank, incremental
//! PCR 10 replay and Keylime runtime-policy evaluation must return a value
//! or an error, never panic; and every entry that parses (with a correct
//! hash) must be written back byte for byte by the writer.
#![no_main]

use attest::ima::{write_entry, ImaLog, ImaState};
use attest::runtime_policy::RuntimePolicy;
use libfuzzer_sys::fuzz_target;
use tpm::crypto::HashAlg;

/// Built once: compiling the excludes per input would be most of the work.
fn policy() -> &'static RuntimePolicy {
    static POLICY: std::sync::OnceLock<RuntimePolicy> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        RuntimePolicy::from_json(
            r#"{"meta":{"version":1},"digests":{"/bin/sh":["00"]},"excludes":["/tmp/.*"]}"#,
        )
        .expect("fixed policy")
    })
}

fuzz_target!(|data: &[u8]| {
    let policy = policy();
    let mut log = ImaLog::new(data);
    let mut index = 0u64;
    while let Some(entry) = log.next() {
        let Ok(e) = entry else { break };
        let _ = e.template_hash_ok();
        for alg in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
            assert_eq!(e.template_digest(alg).len(), alg.digest_size());
        }
        let _ = e.event(index);
        let _ = policy.check_entry(index, &e);
        if e.template_hash_ok() && !e.is_violation() {
            let mut again = Vec::new();
            write_entry(&mut again, e.pcr, e.template_name, e.template_data, false);
            let back = ImaLog::parse(&again).expect("own output parses");
            assert_eq!(back, vec![e]);
        }
        index += 1;
    }
    let quoted = HashAlg::Sha256.digest(&[data]);
    let _ = ImaState::default().extend_to_quote(data, 10, &[(HashAlg::Sha256, &quoted)], |i, e| {
        let _ = policy.check_entry(i, e);
    });
});
