//! Self-test (Part 1 §12.3; Part 3 §10): known-answer tests of the
//! algorithms the engine implements, TPM2_SelfTest,
//! TPM2_IncrementalSelfTest and TPM2_GetTestResult.
//!
//! Tests run synchronously, so TPM_RC_TESTING is never returned. An
//! algorithm is also tested on its first use by a command
//! ([`ensure_tested`]), as the reference implementation does, so the
//! to-do list shrinks as the TPM is used. A failed known-answer test is
//! recorded in the volatile state: the TPM is in failure mode until the
//! next _TPM_Init, TPM2_SelfTest, TPM2_IncrementalSelfTest and any command
//! needing an algorithm test answer TPM_RC_FAILURE, and
//! TPM2_GetTestResult reports it in testResult.

use crate::constants::alg;
use crate::crypto::HashAlg;
use crate::rc::Rc;
use crate::types::MaxBuffer;
use crate::wire::{decode_list_u32, encode_list_u32};

use super::algorithms;
use super::dispatch::Ctx;
use super::Tpm;

/// MAX_ALG_LIST_SIZE: the capacity of TPML_ALG (Part 2 §10.9.2); a longer
/// toTest list is TPM_RC_SIZE on parameter 1, as in libtpms.
pub(crate) const MAX_ALG_LIST_SIZE: usize = 64;

/// The algorithms with a known-answer test here, in TPM_ALG_ID order.
#[cfg(test)]
const WITH_KAT: &[u16] = &[
    alg::SHA1,
    alg::HMAC,
    alg::SHA256,
    alg::SHA384,
    alg::SHA512,
    alg::SM3_256,
];

/// Whether `id` is subject to self-test: every implemented algorithm
/// ([`algorithms::ALGORITHMS`], the list TPM_CAP_ALGS reports) except
/// TPM_ALG_NULL, which libtpms also refuses in IncrementalSelfTest.
fn is_testable(id: u16) -> bool {
    id != alg::NULL && algorithms::is_implemented(id)
}

/// Every testable algorithm, ascending (the order of the toDoList).
fn testable() -> impl Iterator<Item = u16> {
    algorithms::ALGORITHMS
        .iter()
        .map(|a| a.id)
        .filter(|&id| is_testable(id))
}

/// A hash known answer: message and expected digest (hex).
struct HashKat {
    alg: HashAlg,
    msg: &'static [u8],
    digest: &'static str,
}

const ABC: &[u8] = b"abc";
/// The two-block message of FIPS 180-2 for SHA-1 and SHA-256.
const MSG448: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
/// The two-block message of FIPS 180-2 for SHA-384 and SHA-512.
const MSG896: &[u8] = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
/// The 512-bit example of GB/T 32905-2016 (SM3).
const MSG_SM3: &[u8] = b"abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd";

/// FIPS 180-2 appendix examples and GB/T 32905-2016 examples.
const HASH_KATS: &[HashKat] = &[
    HashKat {
        alg: HashAlg::Sha1,
        msg: ABC,
        digest: "a9993e364706816aba3e25717850c26c9cd0d89d",
    },
    HashKat {
        alg: HashAlg::Sha1,
        msg: MSG448,
        digest: "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    },
    HashKat {
        alg: HashAlg::Sha256,
        msg: ABC,
        digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    },
    HashKat {
        alg: HashAlg::Sha256,
        msg: MSG448,
        digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    },
    HashKat {
        alg: HashAlg::Sha384,
        msg: ABC,
        digest: "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
                 8086072ba1e7cc2358baeca134c825a7",
    },
    HashKat {
        alg: HashAlg::Sha384,
        msg: MSG896,
        digest: "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712\
                 fcc7c71a557e2db966c3e9fa91746039",
    },
    HashKat {
        alg: HashAlg::Sha512,
        msg: ABC,
        digest: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    },
    HashKat {
        alg: HashAlg::Sha512,
        msg: MSG896,
        digest: "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
                 501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
    },
    HashKat {
        alg: HashAlg::Sm3_256,
        msg: ABC,
        digest: "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    },
    HashKat {
        alg: HashAlg::Sm3_256,
        msg: MSG_SM3,
        digest: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
    },
];

/// HMAC known answers: key "Jefe", message "what do ya want for
/// nothing?" (RFC 2202 §3 case 2 for SHA-1, RFC 4231 §4.3 for SHA-2; the
/// SM3 value from OpenSSL's HMAC-SM3).
const HMAC_KEY: &[u8] = b"Jefe";
const HMAC_MSG: &[u8] = b"what do ya want for nothing?";
const HMAC_KATS: &[(HashAlg, &str)] = &[
    (HashAlg::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    (
        HashAlg::Sha256,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        HashAlg::Sha384,
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
         8e2240ca5e69e2c78b3239ecfab21649",
    ),
    (
        HashAlg::Sha512,
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
         9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
    (
        HashAlg::Sm3_256,
        "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
    ),
];

/// Whether `bytes` equals the hex string `hex` (no allocation, no hex crate
/// outside tests).
fn eq_hex(bytes: &[u8], hex: &str) -> bool {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let h = hex.as_bytes();
    h.len() == 2 * bytes.len()
        && bytes.iter().zip(h.chunks(2)).all(|(b, pair)| match pair {
            [hi, lo] => {
                matches!((nibble(*hi), nibble(*lo)), (Some(x), Some(y)) if x << 4 | y == *b)
            }
            _ => false,
        })
}

/// Runs the known-answer tests of `id`: `None` when there is none for
/// this algorithm, otherwise whether every vector matched. Each hash
/// vector is checked one-shot and fed in two uneven pieces, since
/// sequences hash incrementally.
fn known_answer(id: u16) -> Option<bool> {
    if id == alg::HMAC {
        return Some(
            HMAC_KATS
                .iter()
                .all(|(a, mac)| eq_hex(&a.hmac(HMAC_KEY, &[HMAC_MSG]), mac)),
        );
    }
    let hash = HashAlg::from_id(id)?;
    Some(HASH_KATS.iter().filter(|k| k.alg == hash).all(|k| {
        let (a, b) = k.msg.split_at(k.msg.len() / 3);
        let mut h = hash.hasher();
        h.update(a);
        h.update(b);
        eq_hex(&hash.digest(&[k.msg]), k.digest) && eq_hex(&h.finish(), k.digest)
    }))
}

/// A known-answer test runner: `None` = no test for that algorithm.
type Kat = fn(u16) -> Option<bool>;

/// Tests each algorithm of `algs` with `kat`, recording passes in
/// `tpm.vol.tested`. An algorithm without a known-answer test here (the
/// asymmetric and symmetric ones, until their engines arrive; the methods
/// such as MGF1 and the KDFs) passes trivially, as the reference code's
/// TestAlgorithm() does for algorithms that have no self-test. The first
/// failure puts the TPM in failure mode and is TPM_RC_FAILURE.
fn run_tests(tpm: &mut Tpm, algs: &[u16], kat: Kat) -> Result<(), Rc> {
    if tpm.vol.test_failure.is_some() {
        return Err(Rc::FAILURE);
    }
    for &a in algs {
        if kat(a) == Some(false) {
            tpm.vol.tested.remove(&a);
            tpm.vol.test_failure = Some(a);
            return Err(Rc::FAILURE);
        }
        tpm.vol.tested.insert(a);
    }
    Ok(())
}

/// Tests algorithm `id` before its first use (Part 1 §12.3: a TPM may
/// test an algorithm when a command first needs it). Cheap once tested.
pub(crate) fn ensure_tested(tpm: &mut Tpm, id: u16) -> Result<(), Rc> {
    if tpm.vol.test_failure.is_some() {
        return Err(Rc::FAILURE);
    }
    if tpm.vol.tested.contains(&id) || !is_testable(id) {
        return Ok(());
    }
    run_tests(tpm, &[id], known_answer)
}

/// Whether a known-answer test has failed since _TPM_Init: the command
/// framework should then accept only TPM2_GetTestResult and
/// TPM2_GetCapability (Part 3 §5.2, failure mode).
#[allow(dead_code)] // Used by the command framework once failure mode is wired in.
pub(crate) fn in_failure_mode(tpm: &Tpm) -> bool {
    tpm.vol.test_failure.is_some()
}

/// The testable algorithms not yet tested, ascending.
fn to_do(tpm: &Tpm) -> Vec<u16> {
    testable()
        .filter(|a| !tpm.vol.tested.contains(a))
        .take(MAX_ALG_LIST_SIZE)
        .collect()
}

/// TPM2_SelfTest (Part 3 §10.2): fullTest = YES tests every algorithm
/// again, NO only those not yet tested.
pub(crate) fn self_test(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let full: bool = ctx.read()?;
    ctx.done()?;
    let algs: Vec<u16> = if full {
        testable().collect()
    } else {
        testable().filter(|a| !tpm.vol.tested.contains(a)).collect()
    };
    run_tests(tpm, &algs, known_answer)
}

/// TPM2_IncrementalSelfTest (Part 3 §10.3): tests the listed algorithms
/// and returns those still untested. An algorithm this TPM does not
/// implement is TPM_RC_VALUE on parameter 1 (libtpms numbers it so),
/// checked before any test runs.
pub(crate) fn incremental_self_test(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let to_test: Vec<u16> = ctx.read_with(|r| decode_list_u32(r, MAX_ALG_LIST_SIZE))?;
    let n = ctx.last_param();
    ctx.done()?;
    if to_test.iter().any(|&a| !is_testable(a)) {
        return Err(Rc::VALUE.param(n));
    }
    run_tests(tpm, &to_test, known_answer)?;
    let list = to_do(tpm);
    encode_list_u32(&list, &mut ctx.out);
    Ok(())
}

/// TPM2_GetTestResult (Part 3 §10.4): empty outData and TPM_RC_SUCCESS
/// unless a test failed (libtpms also answers SUCCESS while tests are
/// still pending). After a failure, outData holds the failed algorithm's
/// TPM_ALG_ID and testResult is TPM_RC_FAILURE.
pub(crate) fn get_test_result(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    ctx.done()?;
    let (data, rc) = match tpm.vol.test_failure {
        Some(a) => (a.to_be_bytes().to_vec(), Rc::FAILURE),
        None => (Vec::new(), Rc::SUCCESS),
    };
    ctx.write(&MaxBuffer::new(data).map_err(|_| Rc::FAILURE)?);
    ctx.write(&rc.0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Drbg;
    use crate::engine::{EngineConfig, SystemTime};

    fn tpm() -> Tpm {
        let mut t = Tpm::manufacture(
            &EngineConfig::default(),
            Drbg::new([9; 32]),
            Box::<SystemTime>::default(),
        );
        // Unit tests bypass TPM2_Startup (tested in tests/random_selftest.rs).
        t.started = true;
        t
    }

    fn exec(t: &mut Tpm, cc: u32, params: &[u8]) -> (u32, Vec<u8>) {
        let mut c = Vec::new();
        c.extend_from_slice(&0x8001u16.to_be_bytes());
        c.extend_from_slice(&(10 + params.len() as u32).to_be_bytes());
        c.extend_from_slice(&cc.to_be_bytes());
        c.extend_from_slice(params);
        let r = t.execute(0, &c);
        let rc = u32::from_be_bytes(r[6..10].try_into().unwrap());
        (rc, r[10..].to_vec())
    }

    #[test]
    fn every_testable_algorithm_passes_its_kats() {
        for &a in WITH_KAT {
            assert_eq!(known_answer(a), Some(true), "alg {a:#06x}");
            assert!(is_testable(a));
        }
        assert!(!is_testable(alg::NULL));
        assert!(!is_testable(0xffff));
        assert_eq!(known_answer(alg::RSA), None);
        assert_eq!(known_answer(alg::NULL), None);
        // Every hash has vectors, so a hash without any would not pass vacuously.
        for h in HashAlg::ALL {
            assert!(HASH_KATS.iter().filter(|k| k.alg == h).count() >= 2);
            assert!(HMAC_KATS.iter().any(|(a, _)| *a == h));
        }
    }

    #[test]
    fn eq_hex_is_exact() {
        assert!(eq_hex(&[0xab, 0x01], "ab01"));
        assert!(!eq_hex(&[0xab, 0x01], "ab02"));
        assert!(!eq_hex(&[0xab], "ab01"));
        assert!(!eq_hex(&[0xab, 0x01], "AB01"));
        assert!(eq_hex(&[], ""));
    }

    #[test]
    fn a_failing_kat_enters_failure_mode() {
        let mut t = tpm();
        fn broken(id: u16) -> Option<bool> {
            if id == alg::SHA384 {
                Some(false)
            } else {
                known_answer(id)
            }
        }
        assert_eq!(run_tests(&mut t, WITH_KAT, broken), Err(Rc::FAILURE));
        assert!(in_failure_mode(&t));
        // Algorithms before the failure passed; SHA-384 is not tested.
        assert!(t.vol.tested.contains(&alg::SHA256));
        assert!(!t.vol.tested.contains(&alg::SHA384));
        let (rc, out) = exec(&mut t, crate::constants::cc::GET_TEST_RESULT, &[]);
        assert_eq!(rc, 0);
        assert_eq!(out, [0, 2, 0, 0x0c, 0, 0, 0x01, 0x01]);
        assert_eq!(
            exec(&mut t, crate::constants::cc::SELF_TEST, &[0]).0,
            Rc::FAILURE.0
        );
        assert_eq!(ensure_tested(&mut t, alg::SHA256), Err(Rc::FAILURE));
        // _TPM_Init clears failure mode (the state is volatile).
        t.power_on();
        assert!(!in_failure_mode(&t));
    }

    #[test]
    fn ensure_tested_runs_once() {
        let mut t = tpm();
        assert!(t.vol.tested.is_empty());
        ensure_tested(&mut t, alg::SM3_256).unwrap();
        assert_eq!(
            t.vol.tested.iter().copied().collect::<Vec<_>>(),
            [alg::SM3_256]
        );
        // Unimplemented algorithms are not recorded.
        ensure_tested(&mut t, 0x7777).unwrap();
        ensure_tested(&mut t, alg::NULL).unwrap();
        assert_eq!(t.vol.tested.len(), 1);
    }
}
