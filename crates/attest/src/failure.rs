//! Why evidence was rejected. Every variant names the exact check that
//! failed and the values involved, because the verifier shows these
//! strings to operators as the reason a node is not trusted (issue 5:
//! "the reason for every failure").

/// One reason evidence did not pass appraisal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    // ---- the AK and the quote (TPM 2.0 Part 2 §10.12.12, Part 3 §18.4) ----
    /// The enrolled AK public area cannot verify quotes.
    #[error("the enrolled AK cannot verify quotes: {0}")]
    AkUnusable(String),
    /// The quote bytes are not a TPMS_ATTEST.
    #[error("quote is not a well-formed TPMS_ATTEST: {0}")]
    QuoteMalformed(String),
    /// TPMS_ATTEST.magic is not TPM_GENERATED_VALUE: the TPM did not make it.
    #[error("quote magic is {0:#010x}, not TPM_GENERATED_VALUE (0xff544347)")]
    QuoteMagic(u32),
    /// TPMS_ATTEST.type is not TPM_ST_ATTEST_QUOTE.
    #[error("attestation structure has type {0:#06x}, not TPM_ST_ATTEST_QUOTE (0x8018)")]
    NotAQuote(u16),
    /// The signature bytes are not a TPMT_SIGNATURE.
    #[error("quote signature is not a well-formed TPMT_SIGNATURE: {0}")]
    SignatureMalformed(String),
    /// The signature's scheme or hash does not fit the AK.
    #[error("quote signature scheme {scheme:#06x} with hash {hash:#06x} cannot be checked with the enrolled AK")]
    SignatureScheme { scheme: u16, hash: u16 },
    /// The signature does not verify: forged, or made by another key.
    #[error("quote signature does not verify with the enrolled AK")]
    SignatureInvalid,
    /// extraData is not the nonce the verifier issued.
    #[error("quote nonce does not match the challenge nonce (stale or replayed evidence)")]
    NonceMismatch,
    /// The evidence's nonce field is not the one the verifier issued.
    #[error("evidence nonce does not match the challenge nonce")]
    EvidenceNonceMismatch,

    // ---- PCR values (Part 3 §18.4.1 pcrDigest) ----
    /// A PCR map entry could not be read.
    #[error("PCR values are malformed: {0}")]
    PcrValuesMalformed(String),
    /// The quote covers a PCR whose value was not sent.
    #[error("PCR {index} ({bank}) is quoted but its value was not sent")]
    PcrValueMissing { bank: String, index: u32 },
    /// The quote covers a bank this verifier cannot hash.
    #[error("quote covers PCR bank {0:#06x}, which this verifier does not implement")]
    PcrBankUnsupported(u16),
    /// The PCR values sent do not hash to the signed pcrDigest.
    #[error("the PCR values sent do not match the quote's pcrDigest ({hash}: quoted {quoted}, values hash to {computed})")]
    PcrDigestMismatch {
        hash: String,
        quoted: String,
        computed: String,
    },
    /// A PCR the policy needs is not in the quote's selection.
    #[error("policy needs PCR {index} ({bank}), which the quote does not cover")]
    PcrNotQuoted { bank: String, index: u32 },
    /// A PCR has a value the policy does not allow.
    #[error("PCR {index} ({bank}) is 0x{value}, not an allowed value")]
    PcrNotAllowed {
        bank: String,
        index: u32,
        value: String,
    },

    // ---- counters (Part 1 §36.7 clock, resetCount, restartCount) ----
    /// resetCount went down: the TPM was cleared or this is old evidence.
    #[error("TPM reset counter went backwards ({previous} -> {current})")]
    ResetCountBackwards { previous: u32, current: u32 },
    /// restartCount went down within one reset cycle.
    #[error("TPM restart counter went backwards ({previous} -> {current}) without a reset")]
    RestartCountBackwards { previous: u32, current: u32 },
    /// The clock went backwards within one reset/restart cycle.
    #[error("TPM clock went backwards ({previous} ms -> {current} ms) without a reset")]
    ClockBackwards { previous: u64, current: u64 },

    // ---- measured boot (TCG PC Client PFP) ----
    /// The policy needs the event log and none was sent nor can be reused.
    #[error("the firmware event log is required but was not sent (and the PCRs changed since the last good log)")]
    EventLogMissing,
    /// The event log does not parse.
    #[error("event log is malformed: {0}")]
    EventLogMalformed(String),
    /// The event log cannot be replayed in a bank.
    #[error("event log cannot be replayed: {0}")]
    EventLogReplay(String),
    /// Replaying the event log gives another value than the quoted PCR.
    #[error(
        "event log does not replay to PCR {index} ({bank}): log gives 0x{log}, quoted 0x{quoted}"
    )]
    EventLogMismatch {
        bank: String,
        index: u32,
        log: String,
        quoted: String,
    },
    /// A boot application (EV_EFI_BOOT_SERVICES_APPLICATION) is not allowed.
    #[error("boot application with digest {bank}:{digest} (PCR {pcr}) is not allowed by the measured-boot policy")]
    BootApplicationNotAllowed {
        bank: String,
        digest: String,
        pcr: u32,
    },
    /// The kernel command line is not allowed.
    #[error("kernel command line {0:?} is not allowed by the measured-boot policy")]
    KernelCmdlineNotAllowed(String),
    /// The Linux EFI stub's LoadOptions (command line) digest is not allowed.
    #[error("kernel command line (LoadOptions event digest {bank}:{digest}) is not allowed by the measured-boot policy")]
    KernelCmdlineDigestNotAllowed { bank: String, digest: String },
    /// The initrd digest (Linux EFI stub tagged event) is not allowed.
    #[error("initrd with digest {bank}:{digest} is not allowed by the measured-boot policy")]
    InitrdNotAllowed { bank: String, digest: String },
    /// The log records no kernel command line but the policy requires one.
    #[error(
        "the event log records no kernel command line, which the measured-boot policy requires"
    )]
    KernelCmdlineMissing,
    /// Secure Boot state differs from the policy.
    #[error("Secure Boot is {actual}, the measured-boot policy requires {expected}")]
    SecureBoot { expected: String, actual: String },

    // ---- IMA (Linux IMA measurement list; Keylime runtime policy) ----
    /// The IMA measurement list is malformed.
    #[error("IMA measurement list is malformed: {0}")]
    ImaMalformed(String),
    /// The IMA slice does not start where the verifier stopped.
    #[error("IMA entries start at entry {got}, the verifier expected entry {expected}")]
    ImaOffset { expected: u64, got: u64 },
    /// An entry's template hash is not the hash of its template data.
    #[error("IMA entry {entry} ({path}): template hash does not match its template data")]
    ImaTemplateHash { entry: u64, path: String },
    /// An entry extends another PCR than the IMA PCR.
    #[error("IMA entry {entry} ({path}) is for PCR {pcr}, not PCR {expected}")]
    ImaWrongPcr {
        entry: u64,
        path: String,
        pcr: u32,
        expected: u32,
    },
    /// Replaying the IMA list does not give the quoted PCR 10.
    #[error("IMA measurement list ({entries} entries) does not replay to PCR {pcr} ({bank}): quoted 0x{quoted}")]
    ImaPcrMismatch {
        bank: String,
        pcr: u32,
        entries: u64,
        quoted: String,
    },
    /// The quote does not cover the IMA PCR although a runtime policy applies.
    #[error("the runtime policy needs PCR {pcr} ({bank}) in the quote")]
    ImaPcrNotQuoted { bank: String, pcr: u32 },
    /// A measured file is not in the runtime policy.
    #[error("IMA entry {entry}: {path} is not in the runtime policy")]
    ImaFileNotInPolicy { entry: u64, path: String },
    /// A measured file has a digest the runtime policy does not allow.
    #[error("IMA entry {entry}: {path} has digest {digest}, not an allowed one")]
    ImaDigestNotAllowed {
        entry: u64,
        path: String,
        digest: String,
    },
    /// An entry's template cannot be appraised.
    #[error("IMA entry {entry}: template {template:?} is not supported")]
    ImaTemplateUnsupported { entry: u64, template: String },
    /// IMA's first entry, `boot_aggregate`, is not the digest of the
    /// quoted boot PCRs: the measurement list did not start on the boot
    /// the quote shows (another boot's list, or PCRs 0–9 changed after the
    /// kernel started IMA).
    #[error(
        "IMA boot_aggregate is {bank}:{got}, but the quoted PCRs 0-{last} ({bank}) give {expected}"
    )]
    ImaBootAggregate {
        bank: String,
        last: u32,
        expected: String,
        got: String,
    },
    /// A measurement violation (ToMToU / open-writers) was recorded.
    #[error("IMA entry {entry} ({path}) is a measurement violation")]
    ImaViolation { entry: u64, path: String },

    // ---- policy ----
    /// The policy itself cannot be used.
    #[error("policy is invalid: {0}")]
    PolicyInvalid(String),
}

/// Lower-case hex (as `tpm2_pcrread` prints), for failure messages and
/// the stored history (a formatter call per byte was 4 % of the verifier's
/// CPU per verification).
pub(crate) fn hex(bytes: &[u8]) -> String {
    crate::pcr_hex::hex_string(bytes)
}
