//! What every attestation command shares (reference Attest_spt.c): the
//! signing-key check (IsSigningObject), the scheme choice
//! (CryptSelectSignScheme), the common TPMS_ATTEST fields
//! (FillInAttestInfo) and the signature over the marshalled structure
//! (SignAttestInfo).

use crate::constants::{alg, rh};
use crate::crypto::{kdfa, HashAlg};
use crate::rc::Rc;
use crate::types::{Attest, Attest2b, Attested, Data2b, Name, SigScheme, Signature};
use crate::wire::Codec;

use super::super::algorithms::CONTEXT_INTEGRITY_HASH;
use super::super::{capability, clock, signing, Tpm};

/// The KDFa label of the privacy obfuscation (reference OBFUSCATE_STRING).
const OBFUSCATE: &[u8] = b"OBFUSCATE";

/// The key that signs an attestation and the scheme chosen for it.
pub(super) struct Signer {
    /// The signHandle: TPM_RH_NULL for an unsigned attestation.
    pub handle: u32,
    /// The scheme after CryptSelectSignScheme: the caller's or the key's.
    /// Always NULL for TPM_RH_NULL.
    pub scheme: SigScheme,
    /// qualifiedSigner: the key's Qualified Name (Part 1 §16.3); the Name
    /// of TPM_RH_NULL for no key; empty for an anonymous scheme.
    qualified_signer: Name,
    /// Whether the key is outside the endorsement and platform
    /// hierarchies, so resetCount, restartCount and firmwareVersion must
    /// not be shown as they are (Part 3 §18.1, privacy).
    obfuscate: bool,
}

impl Signer {
    /// The scheme's hash (None for an unsigned attestation): what Quote
    /// digests the PCRs with and NV_Certify the index with.
    pub fn hash(&self) -> Option<HashAlg> {
        self.scheme.hash().and_then(HashAlg::from_id)
    }

    /// An anonymous scheme (ECDAA, reference CryptIsSchemeAnonymous) must
    /// not reveal which key signed: no Qualified Names, no extraData.
    pub fn is_anonymous(&self) -> bool {
        self.scheme.id() == alg::ECDAA
    }
}

/// The checks every attestation command makes first, in the reference
/// order: `handle` (handle number `handle_no`) must be TPM_RH_NULL or a
/// key that can sign (TPM_RC_KEY, IsSigningObject); the scheme
/// `in_scheme` (parameter `scheme_param`) must agree with the key's own
/// (TPM_RC_SCHEME, CryptSelectSignScheme). Both rules are the signing
/// module's, shared with TPM2_Sign.
pub(super) fn signer(
    tpm: &Tpm,
    handle: u32,
    in_scheme: SigScheme,
    handle_no: u32,
    scheme_param: u32,
) -> Result<Signer, Rc> {
    if handle == rh::NULL {
        return Ok(Signer {
            handle,
            scheme: SigScheme::Null,
            qualified_signer: Name::from_handle(rh::NULL).unwrap_or_default(),
            obfuscate: true,
        });
    }
    signing::check_sign_key(tpm, handle).map_err(|e| e.handle(handle_no))?;
    let scheme =
        signing::select_scheme(tpm, handle, &in_scheme).map_err(|e| e.param(scheme_param))?;
    let key = tpm.object(handle).ok_or(Rc::FAILURE)?;
    let qualified_signer = if scheme.id() == alg::ECDAA {
        Name::empty()
    } else {
        key.qualified_name.clone()
    };
    Ok(Signer {
        handle,
        scheme,
        qualified_signer,
        obfuscate: !matches!(key.hierarchy, rh::ENDORSEMENT | rh::PLATFORM),
    })
}

/// FillInAttestInfo: the common TPMS_ATTEST fields around `attested`
/// (Part 3 §18.1).
///
/// clockInfo and firmwareVersion are the TPM's, except that for a key
/// outside the endorsement and platform hierarchies (or no key) the
/// reference adds a per-signer mask to resetCount, restartCount and
/// firmwareVersion, so owner-hierarchy keys cannot be used to correlate
/// reboots of one TPM: KDFa(contextIntegrityHash, shProof, "OBFUSCATE",
/// qualifiedSigner, -, 128) read as two native (little-endian, as on the
/// x86 hosts libtpms runs on) UINT64s o0, o1; firmwareVersion += o0,
/// resetCount += o1 >> 32, restartCount += low 32 bits of o1, all
/// wrapping. extraData is the caller's qualifyingData (empty for an
/// anonymous scheme).
pub(super) fn fill(tpm: &Tpm, signer: &Signer, extra_data: Data2b, attested: Attested) -> Attest {
    let mut clock_info = clock::clock_info(tpm);
    let (v1, v2) = capability::firmware_version();
    let mut firmware_version = (u64::from(v1) << 32).wrapping_add(u64::from(v2));
    if signer.obfuscate {
        let mask = kdfa(
            CONTEXT_INTEGRITY_HASH,
            &tpm.perm.sh_proof,
            OBFUSCATE,
            signer.qualified_signer.as_bytes(),
            &[],
            128,
        );
        let word = |i: usize| {
            let mut b = [0u8; 8];
            if let Some(s) = mask.get(i * 8..i * 8 + 8) {
                b.copy_from_slice(s);
            }
            u64::from_le_bytes(b)
        };
        let (o0, o1) = (word(0), word(1));
        firmware_version = firmware_version.wrapping_add(o0);
        clock_info.reset_count = clock_info.reset_count.wrapping_add((o1 >> 32) as u32);
        clock_info.restart_count = clock_info.restart_count.wrapping_add(o1 as u32);
    }
    Attest {
        qualified_signer: signer.qualified_signer.clone(),
        extra_data: if signer.is_anonymous() {
            Data2b::empty()
        } else {
            extra_data
        },
        clock_info,
        firmware_version,
        attested,
    }
}

/// SignAttestInfo: marshals `attest` and signs it with the signer's key
/// and scheme (a NULL signature for TPM_RH_NULL). Signing errors
/// (TPM_RC_SCHEME, _VALUE, _ATTRIBUTES...) are returned unnumbered, as
/// the reference returns CryptSign's.
pub(super) fn sign(
    tpm: &mut Tpm,
    signer: &Signer,
    attest: &Attest,
) -> Result<(Attest2b, Signature), Rc> {
    let bytes = attest.to_bytes();
    let signature = if signer.handle == rh::NULL {
        Signature::Null
    } else {
        signing::sign_attest(tpm, signer.handle, &signer.scheme, &bytes)?
    };
    let attest = Attest2b::new(bytes).map_err(|_| Rc::FAILURE)?;
    Ok((attest, signature))
}

/// Fills, signs and writes the response of an attestation command:
/// TPM2B_ATTEST then TPMT_SIGNATURE.
pub(super) fn respond(
    tpm: &mut Tpm,
    ctx: &mut super::super::dispatch::Ctx<'_>,
    signer: &Signer,
    extra_data: Data2b,
    attested: Attested,
) -> Result<(), Rc> {
    let attest = fill(tpm, signer, extra_data, attested);
    let (attest, signature) = sign(tpm, signer, &attest)?;
    ctx.write(&attest);
    ctx.write(&signature);
    Ok(())
}
