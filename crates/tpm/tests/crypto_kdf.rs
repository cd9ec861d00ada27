//! KDFa, KDFe, the KDF-based generator and XOR obfuscation against known
//! answers and an independent HMAC computation.

use hmac::{Mac, SimpleHmac};
use rand_core::RngCore;
use tpm::crypto::kdf::{kdfa, kdfe, KdfRng, KDF_RNG_LIMIT_BITS};
use tpm::crypto::xor::{param_xor, xor_obfuscate};
use tpm::crypto::HashAlg;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The reference implementation's KDFa self-test (KdfTestData.h): key,
/// label "KDFSELFTESTLABEL\0", two 8-octet contexts, 160 bits.
#[test]
fn kdfa_reference_self_test_vectors() {
    let key = h("271FA08BBDC5060EC3DFA928FF9B73123A12DA0C");
    let label = b"KDFSELFTESTLABEL\0";
    let u = h("CE244F395DCA7391");
    let v = h("DA504031DDF12E83");
    let cases = [
        (HashAlg::Sha1, "55b5a7184aa07423c47dae766c26a2377d7cf851"),
        (HashAlg::Sha256, "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4"),
        (HashAlg::Sha384, "1dce70c9113eb2dba47bd9cfc72bf46f45b09312"),
        (HashAlg::Sha512, "8be2c1b85b78569b9fa759f5857c56d684810fd3"),
    ];
    for (alg, want) in cases {
        let got = kdfa(alg, &key, label, &u, &v, 160);
        assert_eq!(hex::encode(&*got), want, "{alg:?}");
        // The same label without its terminator gives the same result.
        let got2 = kdfa(alg, &key, b"KDFSELFTESTLABEL", &u, &v, 160);
        assert_eq!(*got, *got2);
    }
}

/// An independent SP800-108 computation with the hmac crate, over several
/// blocks and for every hash (including SM3).
#[test]
fn kdfa_matches_independent_hmac_computation() {
    fn block<D>(key: &[u8], i: u32, label: &[u8], u: &[u8], v: &[u8], bits: u32) -> Vec<u8>
    where
        D: digest::Digest + digest::core_api::BlockSizeUser + Clone,
    {
        let mut m = <SimpleHmac<D> as Mac>::new_from_slice(key).unwrap();
        m.update(&i.to_be_bytes());
        m.update(label);
        m.update(&[0]);
        m.update(u);
        m.update(v);
        m.update(&bits.to_be_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let key = b"session key || auth value";
    for alg in HashAlg::ALL {
        let bits = 8 * 100; // several blocks, last one partial for every hash
        let mut want = Vec::new();
        for i in 1..=8u32 {
            let b = match alg {
                HashAlg::Sha1 => block::<sha1::Sha1>(key, i, b"STORAGE", b"U", b"VV", bits),
                HashAlg::Sha256 => block::<sha2::Sha256>(key, i, b"STORAGE", b"U", b"VV", bits),
                HashAlg::Sha384 => block::<sha2::Sha384>(key, i, b"STORAGE", b"U", b"VV", bits),
                HashAlg::Sha512 => block::<sha2::Sha512>(key, i, b"STORAGE", b"U", b"VV", bits),
                HashAlg::Sm3_256 => block::<sm3::Sm3>(key, i, b"STORAGE", b"U", b"VV", bits),
            };
            want.extend_from_slice(&b);
        }
        want.truncate(100);
        let got = kdfa(alg, key, b"STORAGE", b"U", b"VV", bits);
        assert_eq!(*got, want, "{alg:?}");
    }
}

#[test]
fn kdfa_masks_partial_octets_and_handles_zero_bits() {
    let full = kdfa(HashAlg::Sha256, b"k", b"L", b"", b"", 12);
    assert_eq!(full.len(), 2);
    assert_eq!(
        full[0] & 0xf0,
        0,
        "high 4 bits of a 12-bit result are clear"
    );
    assert!(kdfa(HashAlg::Sha256, b"k", b"L", b"", b"", 0).is_empty());
    // The bit count is an input of every block, so 12 bits is not a prefix
    // of 16 bits.
    let sixteen = kdfa(HashAlg::Sha256, b"k", b"L", b"", b"", 16);
    assert_ne!(full[1], sixteen[1]);
}

struct KdfeCase {
    hash: HashAlg,
    z: &'static str,
    label: &'static str,
    u: &'static str,
    v: &'static str,
    bits: u32,
    result: &'static str,
}

/// KDFe vectors from github.com/chrisfenner/tpm-test-vectors (generated
/// with go-tpm, whose ECC secret sharing is checked against TPMs).
#[test]
fn kdfe_known_answers() {
    let cases = [
        KdfeCase {
            hash: HashAlg::Sha1,
            z: "beefefba63c91e8eb318785c374600",
            label: "ATH",
            u: "ff8318b65e46b3",
            v: "32aa861b336c991a52b15c0c72889895e8cad4ff",
            bits: 111,
            result: "123decb8050fca8d6585f61946e2",
        },
        KdfeCase {
            hash: HashAlg::Sha1,
            z: "",
            label: "STORAGE",
            u: "",
            v: "c0227aff",
            bits: 253,
            result: "0f10d821af67e1ec776b390f3b4572bb433efd2b94fa7842d879d24d825ed2f9",
        },
        KdfeCase {
            hash: HashAlg::Sha1,
            z: "9b050039c8e5ca60deeb978f2faf573c94af61",
            label: "IDENTITY",
            u: "ff1a1852db7b60a5c963f17eb306f3a905d100ae",
            v: "0047ee45771a256d58b091b6d6",
            bits: 32,
            result: "94c3c160",
        },
        KdfeCase {
            hash: HashAlg::Sha256,
            z: "e89fc5304cf46c1cf7d1f5de5d3d1ec7eddc80b0386700",
            label: "SECRET",
            u: "e602bc959fd97af0405649e0c80e02e9dd64e9d79e698292b043c79dfa9f9261",
            v: "",
            bits: 431,
            result: "3a8e893b8b76cdddbf87845b2567fa7152577829f6a55b73cb82d4a1f0342a051d6e50e20ec2f96bc4de38d7d0d79a9caf99e1d574b9",
        },
        KdfeCase {
            hash: HashAlg::Sha384,
            z: "67d2210f344df271e1c960d595814c4aeb9706c24aa42d2d97914d1bd1452b54ec69a42d07",
            label: "STORAGE",
            u: "d3e7df7d31ef352ce0214cc940f4703488621339fa87eb2cb872093cbc00",
            v: "5ea33fdb57e2e9649e5be68cf9643c58d6da596c9f",
            bits: 79,
            result: "32c262b6c9fec57cf217",
        },
        KdfeCase {
            hash: HashAlg::Sha512,
            z: "00ecf5d16ff4c47b2a43fdafa4d449646a50abe155650a5ff0ecf89ca9768d2bed7ca0f17f113065c51190cccd4203b7",
            label: "ATH",
            u: "9c7fbe7d36257e6faa9f773d00",
            v: "fc8ff54133fdd43b485e483ce2c75bf0728c0b75a0acc28cf1d63276d420b14262130a12f6449100",
            bits: 9,
            result: "00aa",
        },
        KdfeCase {
            hash: HashAlg::Sha512,
            z: "0048",
            label: "INTEGRITY",
            u: "ffd90bea6538b482",
            v: "16081c5d5baebb66c438df9589183bff",
            bits: 448,
            result: "d352ed321afa378d1c313eaa8ee136eb09e960d01a09bebcecfe448a43b83bbeaf1c0fe35a862f6ea8fc7376c1076d464be54dd89e6c2168",
        },
    ];
    for c in cases {
        let got = kdfe(
            c.hash,
            &h(c.z),
            c.label.as_bytes(),
            &h(c.u),
            &h(c.v),
            c.bits,
        );
        assert_eq!(hex::encode(&*got), c.result, "{:?} {} bits", c.hash, c.bits);
        let mut nul = c.label.as_bytes().to_vec();
        nul.push(0);
        assert_eq!(*kdfe(c.hash, &h(c.z), &nul, &h(c.u), &h(c.v), c.bits), *got);
    }
}

#[test]
fn kdf_rng_stream_is_the_kdfa_stream() {
    let seed = [7u8; 64];
    let mut rng = KdfRng::new(HashAlg::Sha256, &seed, b"PRIMARY", b"name", b"data");
    // Read in uneven pieces across block boundaries.
    let mut got = Vec::new();
    for n in [1usize, 5, 31, 32, 33, 64, 7] {
        let mut buf = vec![0u8; n];
        rng.fill_bytes(&mut buf);
        got.extend_from_slice(&buf);
    }
    let want = {
        // kdfa(limit) would be 256 MiB; compute the same prefix block by block.
        let mut v = Vec::new();
        for i in 1..=((got.len() / 32) as u32 + 1) {
            let mut m = <SimpleHmac<sha2::Sha256> as Mac>::new_from_slice(&seed).unwrap();
            m.update(&i.to_be_bytes());
            m.update(b"PRIMARY\0");
            m.update(b"name");
            m.update(b"data");
            m.update(&KDF_RNG_LIMIT_BITS.to_be_bytes());
            v.extend_from_slice(&m.finalize().into_bytes());
        }
        v.truncate(got.len());
        v
    };
    assert_eq!(got, want);
    assert!(!rng.exhausted());

    // Deterministic, and separated by every input.
    let first = |seed: &[u8], u: &[u8], v: &[u8]| {
        let mut r = KdfRng::for_primary(HashAlg::Sha256, seed, u, v);
        let mut b = [0u8; 48];
        r.fill_bytes(&mut b);
        b
    };
    assert_eq!(first(&seed, b"n", b""), first(&seed, b"n", b""));
    assert_ne!(first(&seed, b"n", b""), first(&[8u8; 64], b"n", b""));
    assert_ne!(first(&seed, b"n", b""), first(&seed, b"m", b""));
    assert_ne!(first(&seed, b"n", b""), first(&seed, b"n", b"x"));
    // for_primary is KdfRng::new with the "PRIMARY" label.
    let mut a = KdfRng::for_primary(HashAlg::Sm3_256, &seed, b"n", b"d");
    let mut b = KdfRng::new(HashAlg::Sm3_256, &seed, b"PRIMARY\0", b"n", b"d");
    assert_eq!(a.next_u64(), b.next_u64());
}

#[test]
fn xor_obfuscation_is_the_kdfa_mask_and_an_involution() {
    let key = b"key";
    let plain = b"the quick brown fox jumps over the lazy dog, twice over".to_vec();
    let mut data = plain.clone();
    xor_obfuscate(
        HashAlg::Sha256,
        key,
        b"nonceNewer",
        b"nonceOlder",
        &mut data,
    )
    .unwrap();
    let mask = kdfa(
        HashAlg::Sha256,
        key,
        b"XOR",
        b"nonceNewer",
        b"nonceOlder",
        8 * plain.len() as u32,
    );
    let want: Vec<u8> = plain.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect();
    assert_eq!(data, want);
    xor_obfuscate(
        HashAlg::Sha256,
        key,
        b"nonceNewer",
        b"nonceOlder",
        &mut data,
    )
    .unwrap();
    assert_eq!(data, plain);

    // Parameter XOR keys with sessionKey || authValue, nonces in direction order.
    let mut p = plain.clone();
    param_xor(HashAlg::Sha1, b"sess", b"auth", b"N1", b"N2", &mut p).unwrap();
    let mut q = plain.clone();
    xor_obfuscate(HashAlg::Sha1, b"sessauth", b"N1", b"N2", &mut q).unwrap();
    assert_eq!(p, q);
    let mut r = plain.clone();
    param_xor(HashAlg::Sha1, b"sess", b"auth", b"N2", b"N1", &mut r).unwrap();
    assert_ne!(p, r, "the nonce order matters");

    let mut empty: [u8; 0] = [];
    xor_obfuscate(HashAlg::Sha256, key, b"", b"", &mut empty).unwrap();
}
