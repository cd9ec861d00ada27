//! Arbitrary bytes as a measured-boot event log: parsing and replay in every
//! bank must return a value or an error, never panic or allocate beyond the
//! input; and a log that parses must serialize back to bytes that parse to
//! the same log.
#![no_main]

use attest::eventlog::EventLog;
use libfuzzer_sys::fuzz_target;
use tpm::crypto::HashAlg;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = EventLog::parse(data) {
        for alg in HashAlg::ALL {
            let _ = log.replay(alg);
        }
        let again = EventLog::parse(&log.to_bytes());
        assert_eq!(again.as_ref(), Ok(&log));
    }
});
