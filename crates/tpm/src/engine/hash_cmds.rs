//! TPM2_Hash (Part 3 §15.4) and the TPMT_TK_HASHCHECK ticket (Part 2
//! §10.7.6) that TPM2_Hash and TPM2_SequenceComplete produce and that
//! TPM2_Sign verifies before signing a digest with a restricted key.

use subtle::ConstantTimeEq;

use crate::constants::{rh, st, TPM_GENERATED_VALUE};
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::{Digest2b, MaxBuffer, TkHashcheck};
use crate::wire::{Reader, Tpm2b, WireError};

use super::dispatch::Ctx;
use super::object::hierarchy_proof;
use super::{selftest, Tpm};

/// The hash of the HMAC that binds tickets to a hierarchy's proof value:
/// the context integrity hash (CONTEXT_INTEGRITY_HASH_ALG of the reference
/// code, reported as TPM_PT_CONTEXT_HASH), as in libtpms's Ticket.c.
pub(crate) const TICKET_HASH: HashAlg = super::algorithms::CONTEXT_INTEGRITY_HASH;

/// TPM2_Hash (Part 3 §15.4): hashes `data` in one command and, when the
/// data could not be a TPM-generated structure, returns a ticket saying
/// the TPM computed the digest.
pub(crate) fn hash(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let data: MaxBuffer = ctx.read()?;
    let alg = ctx.read_with(read_hash_alg)?;
    let hierarchy = ctx.read_with(read_hierarchy_plus)?;
    ctx.done()?;
    selftest::ensure_tested(tpm, alg.id())?;

    let digest = alg.digest(&[data.as_slice()]);
    // TPM2_Hash treats data shorter than TPM_GENERATED_VALUE as safe, unlike
    // the sequence commands (reference code TPM2_Hash: the "unsafe" test
    // only applies when size >= sizeof(TPM_GENERATED)).
    let generated = data.len() >= 4 && !ticket_is_safe(data.as_slice());
    let ticket = if generated {
        TkHashcheck::null()
    } else {
        hashcheck_ticket(tpm, hierarchy, alg, &digest)
    };
    ctx.write(&digest2b(digest));
    ctx.write(&ticket);
    Ok(())
}

/// A TPM2B_DIGEST holding a digest this TPM computed (never longer than
/// 64 octets, the largest implemented digest).
pub(crate) fn digest2b(digest: Vec<u8>) -> Digest2b {
    Tpm2b(digest)
}

/// TicketIsSafe() of the reference code (Part 4): data may be covered by
/// a hash-check ticket only if it is at least as long as
/// TPM_GENERATED_VALUE and does not start with it, so a ticket can never
/// make a TPM-generated attestation structure look like outside data
/// (Part 1 §11.4.6.3, "restricted signing keys").
pub(crate) fn ticket_is_safe(first_block: &[u8]) -> bool {
    match first_block.get(..4) {
        Some(head) => head != TPM_GENERATED_VALUE.to_be_bytes(),
        None => false,
    }
}

/// The TPMT_TK_HASHCHECK for `digest` (computed with `alg`) in `hierarchy`
/// (Part 2 §10.7.6): HMAC over (TPM_ST_HASHCHECK || hashAlg || digest)
/// keyed with the hierarchy's proof. The reference code (and libtpms)
/// binds the hash algorithm as well, so a digest cannot be presented as a
/// digest of another algorithm of the same size; we do the same.
///
/// TPM_RH_NULL (or anything that is not a hierarchy) yields the null
/// ticket: the caller asked for no ticket (Part 3 §15.4).
pub(crate) fn hashcheck_ticket(
    tpm: &Tpm,
    hierarchy: u32,
    alg: HashAlg,
    digest: &[u8],
) -> TkHashcheck {
    if hierarchy == rh::NULL {
        return TkHashcheck::null();
    }
    let Some(proof) = hierarchy_proof(tpm, hierarchy) else {
        return TkHashcheck::null();
    };
    let mac = TICKET_HASH.hmac(
        proof,
        &[
            &st::HASHCHECK.to_be_bytes(),
            &alg.id().to_be_bytes(),
            digest,
        ],
    );
    TkHashcheck {
        tag: st::HASHCHECK,
        hierarchy,
        digest: digest2b(mac),
    }
}

/// Whether `ticket` proves this TPM hashed data to `digest` with `alg`
/// (what TPM2_Sign checks for restricted keys, Part 3 §20.2). A null
/// ticket never verifies; the comparison is constant-time.
#[allow(dead_code)] // TPM2_Sign (restricted keys) arrives with the next issue.
pub(crate) fn verify_hashcheck(
    tpm: &Tpm,
    ticket: &TkHashcheck,
    alg: HashAlg,
    digest: &[u8],
) -> bool {
    if ticket.tag != st::HASHCHECK || ticket.hierarchy == rh::NULL {
        return false;
    }
    let expected = hashcheck_ticket(tpm, ticket.hierarchy, alg, digest);
    if expected.hierarchy == rh::NULL {
        return false;
    }
    bool::from(expected.digest.as_slice().ct_eq(ticket.digest.as_slice()))
}

/// Unmarshals a TPMI_ALG_HASH (Part 2 §9.27) without `+`: an implemented
/// hash; TPM_ALG_NULL and anything else is TPM_RC_HASH.
pub(crate) fn read_hash_alg(r: &mut Reader<'_>) -> Result<HashAlg, WireError> {
    HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)
}

/// Unmarshals a TPMI_ALG_HASH+: `None` for TPM_ALG_NULL.
pub(crate) fn read_hash_alg_or_null(r: &mut Reader<'_>) -> Result<Option<HashAlg>, WireError> {
    let id = r.u16()?;
    if id == crate::constants::alg::NULL {
        return Ok(None);
    }
    HashAlg::from_id(id).map(Some).ok_or(WireError::Hash)
}

/// Unmarshals a TPMI_RH_HIERARCHY+ (Part 2 §9.13): TPM_RH_OWNER,
/// _ENDORSEMENT, _PLATFORM or _NULL, else TPM_RC_VALUE. Whether the
/// hierarchy is enabled is not checked here: libtpms (swtpm 0.7.1 /
/// libtpms 0.9.2) hands out tickets for a disabled hierarchy, and a
/// ticket of a disabled hierarchy is useless anyway, since no key of that
/// hierarchy can be loaded to consume it.
pub(crate) fn read_hierarchy_plus(r: &mut Reader<'_>) -> Result<u32, WireError> {
    match r.u32()? {
        h @ (rh::OWNER | rh::ENDORSEMENT | rh::PLATFORM | rh::NULL) => Ok(h),
        _ => Err(WireError::Value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Drbg;
    use crate::engine::{EngineConfig, SystemTime};
    use hmac::{Hmac, Mac};

    fn tpm() -> Tpm {
        Tpm::manufacture(
            &EngineConfig::default(),
            Drbg::new([3; 32]),
            Box::<SystemTime>::default(),
        )
    }

    /// The ticket HMAC recomputed with the `hmac` crate directly, from the
    /// proof value in the permanent state.
    fn expected(proof: &[u8], alg: HashAlg, digest: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(
            proof: &[u8],
            alg: HashAlg,
            digest: &[u8],
        ) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(proof).unwrap();
            m.update(&[0x80, 0x24]);
            m.update(&alg.id().to_be_bytes());
            m.update(digest);
            m.finalize().into_bytes().to_vec()
        }
        match TICKET_HASH {
            HashAlg::Sha256 => run::<Hmac<sha2::Sha256>>(proof, alg, digest),
            HashAlg::Sha384 => run::<Hmac<sha2::Sha384>>(proof, alg, digest),
            HashAlg::Sha512 => run::<Hmac<sha2::Sha512>>(proof, alg, digest),
            HashAlg::Sha1 => run::<Hmac<sha1::Sha1>>(proof, alg, digest),
            HashAlg::Sm3_256 => run::<Hmac<sm3::Sm3>>(proof, alg, digest),
        }
    }

    #[test]
    fn ticket_is_hmac_of_the_hierarchy_proof() {
        let t = tpm();
        let d = HashAlg::Sha256.digest(&[b"abc"]);
        for (h, proof) in [
            (rh::OWNER, t.perm.sh_proof.to_vec()),
            (rh::ENDORSEMENT, t.perm.eh_proof.to_vec()),
            (rh::PLATFORM, t.perm.ph_proof.to_vec()),
        ] {
            let tk = hashcheck_ticket(&t, h, HashAlg::Sha256, &d);
            assert_eq!(tk.tag, 0x8024);
            assert_eq!(tk.hierarchy, h);
            assert_eq!(tk.digest.as_slice(), expected(&proof, HashAlg::Sha256, &d));
            assert!(verify_hashcheck(&t, &tk, HashAlg::Sha256, &d));
            // Bound to the algorithm, the digest and the hierarchy.
            assert!(!verify_hashcheck(&t, &tk, HashAlg::Sm3_256, &d));
            assert!(!verify_hashcheck(&t, &tk, HashAlg::Sha256, &[0; 32]));
            let mut other = tk.clone();
            other.hierarchy = if h == rh::OWNER {
                rh::PLATFORM
            } else {
                rh::OWNER
            };
            assert!(!verify_hashcheck(&t, &other, HashAlg::Sha256, &d));
        }
        let null = hashcheck_ticket(&t, rh::NULL, HashAlg::Sha256, &d);
        assert_eq!(null, TkHashcheck::null());
        assert!(!verify_hashcheck(&t, &null, HashAlg::Sha256, &d));
    }

    #[test]
    fn tickets_differ_between_tpms() {
        let a = tpm();
        let b = Tpm::manufacture(
            &EngineConfig::default(),
            Drbg::new([4; 32]),
            Box::<SystemTime>::default(),
        );
        let d = HashAlg::Sha1.digest(&[b"x"]);
        let ta = hashcheck_ticket(&a, rh::OWNER, HashAlg::Sha1, &d);
        assert_ne!(ta, hashcheck_ticket(&b, rh::OWNER, HashAlg::Sha1, &d));
        assert!(!verify_hashcheck(&b, &ta, HashAlg::Sha1, &d));
    }

    #[test]
    fn safety_of_first_block() {
        assert!(!ticket_is_safe(b""));
        assert!(!ticket_is_safe(&[0xff, 0x54, 0x43]));
        assert!(!ticket_is_safe(&[0xff, 0x54, 0x43, 0x47]));
        assert!(!ticket_is_safe(&[0xff, 0x54, 0x43, 0x47, 0]));
        assert!(ticket_is_safe(&[0xff, 0x54, 0x43, 0x48]));
        assert!(ticket_is_safe(b"abcd"));
    }

    #[test]
    fn decoders() {
        assert_eq!(
            read_hash_alg(&mut Reader::new(&[0, 0x12])),
            Ok(HashAlg::Sm3_256)
        );
        assert_eq!(
            read_hash_alg(&mut Reader::new(&[0, 0x10])),
            Err(WireError::Hash)
        );
        assert_eq!(
            read_hash_alg_or_null(&mut Reader::new(&[0, 0x10])),
            Ok(None)
        );
        assert_eq!(
            read_hash_alg_or_null(&mut Reader::new(&[0, 0x01])),
            Err(WireError::Hash)
        );
        assert_eq!(
            read_hierarchy_plus(&mut Reader::new(&[0x40, 0, 0, 0x0a])),
            Err(WireError::Value)
        );
        assert_eq!(
            read_hierarchy_plus(&mut Reader::new(&[0x40, 0, 0, 0x0c])),
            Ok(rh::PLATFORM)
        );
    }
}
