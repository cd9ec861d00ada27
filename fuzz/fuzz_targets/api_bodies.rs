//! Arbitrary bytes as every JSON body of the attestation API (agent,
//! verifier, operator) and as a policy document: parsing returns a value
//! or an error, never panics; a protocol body that parses re-serializes to
//! JSON that parses to the same value; a policy that parses validates (or
//! not) and yields its PCR selection without panicking.
#![no_main]

use attest::appraise::AgentHistory;
use attest::policy::Policy;
use attest::protocol::{
    ActivateRequest, ApiError, AttestationResult, Challenge, EnrollRequest, EnrollResponse,
    Evidence, ImaEvidence,
};
use attest::runtime_policy::RuntimePolicy;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&v).expect("serializes");
        let back: T = serde_json::from_slice(&json).expect("own output parses");
        assert_eq!(back, v);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<EnrollRequest>(data);
    round_trip::<EnrollResponse>(data);
    round_trip::<ActivateRequest>(data);
    round_trip::<Challenge>(data);
    round_trip::<Evidence>(data);
    round_trip::<ImaEvidence>(data);
    round_trip::<AttestationResult>(data);
    round_trip::<ApiError>(data);
    round_trip::<AgentHistory>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = serde_json::from_str::<Policy>(text) {
            let _ = p.validate();
            let _ = p.pcr_selection();
            let _ = serde_json::to_string(&p).expect("serializes");
        }
        let _ = Policy::from_json(text);
        let _ = RuntimePolicy::from_json(text);
    }
});
