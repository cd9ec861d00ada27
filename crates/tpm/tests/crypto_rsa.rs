//! RSA: deterministic key generation, the stored-prime form, signatures and
//! encryption checked against the openssl command line in both directions.

use rand_core::{CryptoRng, RngCore};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tpm::crypto::kdf::KdfRng;
use tpm::crypto::rsa::{
    label_is_properly_formatted, pss_salt_len, verify_pkcs1v15, verify_pss, RsaEncScheme,
};
use tpm::crypto::{CryptoError, Drbg, HashAlg, RsaKeyPair, RsaPublic};

fn rng() -> Drbg {
    Drbg::new([0x5a; 32])
}

/// One RSA-2048 key for the whole file, derived from a fixed seed.
fn key2048() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut r = KdfRng::for_primary(HashAlg::Sha256, &[1u8; 64], b"template", b"");
        RsaKeyPair::generate(&mut r, 2048, 0).unwrap()
    })
}

fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The key as PKCS#8 / SPKI DER files for openssl, rebuilt independently
/// from (n, e, p) with the rsa crate.
fn export(dir: &Path, key: &RsaKeyPair) -> (PathBuf, PathBuf) {
    let public = key.public();
    let n = rsa::BigUint::from_bytes_be(&public.modulus());
    let p = rsa::BigUint::from_bytes_be(&key.prime());
    let q = &n / &p;
    let e = rsa::BigUint::from(public.exponent());
    let sk = rsa::RsaPrivateKey::from_p_q(p, q, e).unwrap();
    let sk_path = dir.join("key.der");
    let pk_path = dir.join("pub.der");
    std::fs::write(&sk_path, sk.to_pkcs8_der().unwrap().as_bytes()).unwrap();
    std::fs::write(
        &pk_path,
        sk.to_public_key().to_public_key_der().unwrap().as_bytes(),
    )
    .unwrap();
    (sk_path, pk_path)
}

fn openssl(args: &[&str]) -> std::process::Output {
    let out = Command::new("openssl").args(args).output().unwrap();
    out
}

fn ossl_digest(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
        HashAlg::Sm3_256 => "sm3",
    }
}

#[test]
fn generation_is_deterministic_in_the_rng_stream() {
    let k1 = key2048();
    let mut r = KdfRng::for_primary(HashAlg::Sha256, &[1u8; 64], b"template", b"");
    let k2 = RsaKeyPair::generate(&mut r, 2048, 0).unwrap();
    assert_eq!(k1.public(), k2.public());
    assert_eq!(*k1.prime(), *k2.prime());
    let pubk = k1.public();
    assert_eq!(pubk.size(), 256);
    assert_eq!(pubk.bits(), 2048);
    assert_eq!(pubk.exponent(), 65537);
    assert_eq!(k1.prime().len(), 128);
    assert!(k1.prime()[0] & 0x80 != 0, "prime has its top bit set");

    let mut r = KdfRng::for_primary(HashAlg::Sha256, &[1u8; 64], b"other template", b"");
    let k3 = RsaKeyPair::generate(&mut r, 2048, 0).unwrap();
    assert_ne!(k1.public(), k3.public());
}

#[test]
fn generation_checks_size_and_exponent() {
    let mut r = rng();
    assert_eq!(
        RsaKeyPair::generate(&mut r, 2000, 0).err(),
        Some(CryptoError::KeySize)
    );
    assert_eq!(
        RsaKeyPair::generate(&mut r, 2048, 3).err(),
        Some(CryptoError::Exponent)
    );
    assert_eq!(
        RsaKeyPair::generate(&mut r, 2048, 65539 + 2).err(),
        Some(CryptoError::Exponent),
        "65541 is not prime"
    );
    let k = RsaKeyPair::generate(&mut r, 1024, 65539).unwrap();
    assert_eq!(k.public().exponent(), 65539);
}

#[test]
fn rsa3072_generation() {
    let start = std::time::Instant::now();
    let mut r = KdfRng::new(HashAlg::Sha384, &[3u8; 48], b"PRIMARY", b"n", b"");
    let k = RsaKeyPair::generate(&mut r, 3072, 0).unwrap();
    assert_eq!(k.public().size(), 384);
    let d = HashAlg::Sha384.digest(&[b"x"]);
    let sig = k.sign_pss(HashAlg::Sha384, &d, &mut rng()).unwrap();
    verify_pss(&k.public(), HashAlg::Sha384, &d, &sig).unwrap();
    eprintln!(
        "RSA-3072 generation + PSS round trip: {:?}",
        start.elapsed()
    );
}

#[test]
fn import_from_one_prime() {
    let k = key2048();
    let public = k.public();
    let again = RsaKeyPair::from_prime(&public.modulus(), 0, &k.prime()).unwrap();
    assert_eq!(again.public(), public);
    let d = HashAlg::Sha256.digest(&[b"msg"]);
    let sig = again
        .sign_pkcs1v15(HashAlg::Sha256, &d, &mut rng())
        .unwrap();
    assert_eq!(
        sig,
        k.sign_pkcs1v15(HashAlg::Sha256, &d, &mut rng()).unwrap(),
        "PKCS#1 v1.5 is deterministic"
    );

    // The other prime works as well.
    let n = rsa::BigUint::from_bytes_be(&public.modulus());
    let q = &n / rsa::BigUint::from_bytes_be(&k.prime());
    let mut qb = q.to_bytes_be();
    while qb.len() < 128 {
        qb.insert(0, 0);
    }
    RsaKeyPair::from_prime(&public.modulus(), 65537, &qb).unwrap();

    let mut wrong = k.prime().to_vec();
    wrong[127] ^= 2;
    assert_eq!(
        RsaKeyPair::from_prime(&public.modulus(), 0, &wrong).err(),
        Some(CryptoError::Binding)
    );
    assert_eq!(
        RsaKeyPair::from_prime(&public.modulus(), 0, &[0u8; 128]).err(),
        Some(CryptoError::Binding)
    );
    assert_eq!(
        RsaKeyPair::from_prime(&public.modulus(), 0, &k.prime()[1..]).err(),
        Some(CryptoError::KeySize)
    );
    // Right prime, wrong exponent: not a valid key.
    assert!(RsaKeyPair::from_prime(&public.modulus(), 3, &k.prime()).is_err());
    assert_eq!(RsaPublic::new(&[0u8; 256], 0).err(), Some(CryptoError::Key));
    assert_eq!(
        RsaPublic::new(&[0xffu8; 100], 0).err(),
        Some(CryptoError::Key)
    );
    assert_eq!(
        RsaPublic::new(&public.modulus(), 4).err(),
        Some(CryptoError::Key)
    );
}

#[test]
fn signatures_verify_and_tampering_is_detected() {
    let k = key2048();
    let p = k.public();
    for h in HashAlg::ALL {
        let d = h.digest(&[b"attest"]);
        let s1 = k.sign_pkcs1v15(h, &d, &mut rng()).unwrap();
        verify_pkcs1v15(&p, h, &d, &s1).unwrap();
        let s2 = k.sign_pss(h, &d, &mut rng()).unwrap();
        verify_pss(&p, h, &d, &s2).unwrap();
        assert_eq!(s1.len(), 256);
        assert_eq!(s2.len(), 256);
        // Wrong scheme, wrong digest, flipped bit, wrong length.
        assert_eq!(verify_pss(&p, h, &d, &s1), Err(CryptoError::Signature));
        assert_eq!(verify_pkcs1v15(&p, h, &d, &s2), Err(CryptoError::Signature));
        let other = h.digest(&[b"attesT"]);
        assert_eq!(
            verify_pkcs1v15(&p, h, &other, &s1),
            Err(CryptoError::Signature)
        );
        assert_eq!(verify_pss(&p, h, &other, &s2), Err(CryptoError::Signature));
        let mut bad = s2.clone();
        bad[100] ^= 1;
        assert_eq!(verify_pss(&p, h, &d, &bad), Err(CryptoError::Signature));
        assert_eq!(
            verify_pkcs1v15(&p, h, &d, &s1[1..]),
            Err(CryptoError::Signature)
        );
        assert_eq!(
            verify_pss(&p, h, &d, &[0xff; 256]),
            Err(CryptoError::Signature),
            "s >= n"
        );
    }
    // Digest of the wrong length for the hash.
    assert_eq!(
        k.sign_pkcs1v15(HashAlg::Sha256, &[0u8; 20], &mut rng())
            .err(),
        Some(CryptoError::Value)
    );
    assert_eq!(
        k.sign_pss(HashAlg::Sha256, &[0u8; 20], &mut rng()).err(),
        Some(CryptoError::Value)
    );
    assert_eq!(pss_salt_len(HashAlg::Sha256, 256), 32);
    assert_eq!(
        pss_salt_len(HashAlg::Sha512, 128),
        62,
        "1024-bit key with SHA-512: largest salt that fits"
    );
}

#[test]
fn signatures_interoperate_with_openssl() {
    if !have_openssl() {
        eprintln!("openssl not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let k = key2048();
    let (sk, pk) = export(dir.path(), k);
    let (sk, pk) = (sk.to_str().unwrap(), pk.to_str().unwrap());
    let dgst = dir.path().join("digest.bin");
    let sig = dir.path().join("sig.bin");
    let (dgst_s, sig_s) = (dgst.to_str().unwrap(), sig.to_str().unwrap());
    for h in HashAlg::ALL {
        let d = h.digest(&[b"quote"]);
        std::fs::write(&dgst, &d).unwrap();
        if h == HashAlg::Sm3_256 {
            sm3_signatures_checked_independently(k, &d, pk, sig_s);
            continue;
        }
        let md = format!("digest:{}", ossl_digest(h));

        // Ours -> openssl (PKCS#1 v1.5 and PSS with salt = digest length).
        std::fs::write(&sig, k.sign_pkcs1v15(h, &d, &mut rng()).unwrap()).unwrap();
        let out = openssl(&[
            "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pk, "-in", dgst_s,
            "-sigfile", sig_s, "-pkeyopt", &md,
        ]);
        assert!(
            out.status.success(),
            "openssl rejects our RSASSA/{h:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&sig, k.sign_pss(h, &d, &mut rng()).unwrap()).unwrap();
        let out = openssl(&[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            pk,
            "-in",
            dgst_s,
            "-sigfile",
            sig_s,
            "-pkeyopt",
            &md,
            "-pkeyopt",
            "rsa_padding_mode:pss",
            "-pkeyopt",
            &format!("rsa_pss_saltlen:{}", h.digest_size()),
        ]);
        assert!(
            out.status.success(),
            "openssl rejects our PSS/{h:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        // openssl -> ours: PKCS#1 v1.5, and PSS with several salt lengths.
        let out = openssl(&[
            "pkeyutl", "-sign", "-keyform", "DER", "-inkey", sk, "-in", dgst_s, "-out", sig_s,
            "-pkeyopt", &md,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        verify_pkcs1v15(&k.public(), h, &d, &std::fs::read(&sig).unwrap()).unwrap();
        for salt in ["0", "20", "max"] {
            let out = openssl(&[
                "pkeyutl",
                "-sign",
                "-keyform",
                "DER",
                "-inkey",
                sk,
                "-in",
                dgst_s,
                "-out",
                sig_s,
                "-pkeyopt",
                &md,
                "-pkeyopt",
                "rsa_padding_mode:pss",
                "-pkeyopt",
                &format!("rsa_pss_saltlen:{salt}"),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            verify_pss(&k.public(), h, &d, &std::fs::read(&sig).unwrap())
                .unwrap_or_else(|e| panic!("openssl PSS {h:?} salt {salt}: {e}"));
        }
    }
}

/// OpenSSL's RSA signature provider refuses SM3, so for SM3 openssl only
/// recovers the padded block (raw PKCS#1 type 1 unpadding) and the test
/// compares it with the DigestInfo written out here from the OID
/// 1.2.156.10197.1.401; PSS/SM3 is checked with the rsa crate's verifier.
fn sm3_signatures_checked_independently(k: &RsaKeyPair, d: &[u8], pk: &str, sig_s: &str) {
    use rsa::traits::SignatureScheme;
    std::fs::write(
        sig_s,
        k.sign_pkcs1v15(HashAlg::Sm3_256, d, &mut rng()).unwrap(),
    )
    .unwrap();
    let out = openssl(&[
        "pkeyutl",
        "-verifyrecover",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        pk,
        "-in",
        sig_s,
        "-pkeyopt",
        "rsa_padding_mode:pkcs1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = hex::decode("3030300c06082a811ccf550183110500 0420".replace(' ', "")).unwrap();
    want.extend_from_slice(d);
    assert_eq!(hex::encode(out.stdout), hex::encode(want));

    let sig = k.sign_pss(HashAlg::Sm3_256, d, &mut rng()).unwrap();
    let n = rsa::BigUint::from_bytes_be(&k.public().modulus());
    let pubkey = rsa::RsaPublicKey::new(n, rsa::BigUint::from(65537u32)).unwrap();
    rsa::pss::Pss::new_with_salt::<sm3::Sm3>(32)
        .verify(&pubkey, d, &sig)
        .unwrap();
}

#[test]
fn encryption_round_trips_and_bad_input_is_rejected() {
    let k = key2048();
    let p = k.public();
    let mut r = rng();
    let msg = b"a secret of 32 octets, exactly!!";
    for scheme in [
        RsaEncScheme::Rsaes,
        RsaEncScheme::Oaep(HashAlg::Sha256),
        RsaEncScheme::Oaep(HashAlg::Sm3_256),
        RsaEncScheme::Oaep(HashAlg::Sha512),
    ] {
        let ct = p.encrypt(scheme, msg, b"label\0", &mut r).unwrap();
        assert_eq!(ct.len(), 256);
        assert_eq!(
            &*k.decrypt(scheme, &ct, b"label\0", &mut r).unwrap(),
            msg,
            "{scheme:?}"
        );
        let ct2 = p.encrypt(scheme, msg, b"label\0", &mut r).unwrap();
        assert_ne!(ct, ct2, "randomized padding");
        let mut bad = ct.clone();
        bad[200] ^= 0x80;
        assert_eq!(
            k.decrypt(scheme, &bad, b"label\0", &mut r).err(),
            Some(CryptoError::Value)
        );
        assert_eq!(
            k.decrypt(scheme, &ct[1..], b"label\0", &mut r).err(),
            Some(CryptoError::Size)
        );
        assert_eq!(
            k.decrypt(scheme, &[0xff; 256], b"label\0", &mut r).err(),
            Some(CryptoError::Size),
            "c >= n"
        );
    }
    // OAEP binds the label.
    let ct = p
        .encrypt(RsaEncScheme::Oaep(HashAlg::Sha1), msg, b"A\0", &mut r)
        .unwrap();
    assert_eq!(
        k.decrypt(RsaEncScheme::Oaep(HashAlg::Sha1), &ct, b"B\0", &mut r)
            .err(),
        Some(CryptoError::Value)
    );
    assert_eq!(
        k.decrypt(RsaEncScheme::Oaep(HashAlg::Sha1), &ct, b"", &mut r)
            .err(),
        Some(CryptoError::Value)
    );
    // Empty message.
    let ct = p
        .encrypt(RsaEncScheme::Oaep(HashAlg::Sha256), b"", b"", &mut r)
        .unwrap();
    assert!(k
        .decrypt(RsaEncScheme::Oaep(HashAlg::Sha256), &ct, b"", &mut r)
        .unwrap()
        .is_empty());
    // Size limits: k - 2h - 2 for OAEP, k - 11 for RSAES.
    assert!(p
        .encrypt(
            RsaEncScheme::Oaep(HashAlg::Sha256),
            &[1u8; 190],
            b"",
            &mut r
        )
        .is_ok());
    assert_eq!(
        p.encrypt(
            RsaEncScheme::Oaep(HashAlg::Sha256),
            &[1u8; 191],
            b"",
            &mut r
        )
        .err(),
        Some(CryptoError::Value)
    );
    assert!(p
        .encrypt(RsaEncScheme::Rsaes, &[1u8; 245], b"", &mut r)
        .is_ok());
    assert_eq!(
        p.encrypt(RsaEncScheme::Rsaes, &[1u8; 246], b"", &mut r)
            .err(),
        Some(CryptoError::Value)
    );

    // Raw RSA: leading zeros ignored, value must be below n, output k octets.
    let ct = p
        .encrypt(RsaEncScheme::Null, &[0, 0, 0, 42], b"", &mut r)
        .unwrap();
    let pt = k.decrypt(RsaEncScheme::Null, &ct, b"", &mut r).unwrap();
    assert_eq!(pt.len(), 256);
    assert_eq!(pt[255], 42);
    assert!(pt[..255].iter().all(|b| *b == 0));
    assert_eq!(
        p.encrypt(RsaEncScheme::Null, &[0xff; 256], b"", &mut r)
            .err(),
        Some(CryptoError::Value)
    );
    assert_eq!(
        p.encrypt(RsaEncScheme::Null, &[1u8; 257], b"", &mut r)
            .err(),
        Some(CryptoError::Value)
    );

    assert!(label_is_properly_formatted(b""));
    assert!(label_is_properly_formatted(b"DUPLICATE\0"));
    assert!(!label_is_properly_formatted(b"DUPLICATE"));
}

#[test]
fn encryption_interoperates_with_openssl() {
    if !have_openssl() {
        eprintln!("openssl not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let k = key2048();
    let (sk, pk) = export(dir.path(), k);
    let (sk, pk) = (sk.to_str().unwrap(), pk.to_str().unwrap());
    let msg_path = dir.path().join("msg.bin");
    let ct_path = dir.path().join("ct.bin");
    let (msg_s, ct_s) = (msg_path.to_str().unwrap(), ct_path.to_str().unwrap());
    let msg = b"0123456789abcdef0123456789abcdef";
    std::fs::write(&msg_path, msg).unwrap();
    let label = b"IDENTITY\0";
    let mut r = rng();
    for h in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        let opts = [
            "-pkeyopt".to_string(),
            "rsa_padding_mode:oaep".to_string(),
            "-pkeyopt".to_string(),
            format!("rsa_oaep_md:{}", ossl_digest(h)),
            "-pkeyopt".to_string(),
            format!("rsa_oaep_label:{}", hex::encode(label)),
        ];
        let opts: Vec<&str> = opts.iter().map(|s| s.as_str()).collect();
        // openssl encrypts, we decrypt.
        let mut args = vec![
            "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pk, "-in", msg_s, "-out",
            ct_s,
        ];
        args.extend_from_slice(&opts);
        let out = openssl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pt = k
            .decrypt(
                RsaEncScheme::Oaep(h),
                &std::fs::read(&ct_path).unwrap(),
                label,
                &mut r,
            )
            .unwrap();
        assert_eq!(&*pt, msg, "OAEP {h:?} from openssl");
        // We encrypt, openssl decrypts.
        std::fs::write(
            &ct_path,
            k.public()
                .encrypt(RsaEncScheme::Oaep(h), msg, label, &mut r)
                .unwrap(),
        )
        .unwrap();
        let mut args = vec![
            "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", sk, "-in", ct_s,
        ];
        args.extend_from_slice(&opts);
        let out = openssl(&args);
        assert!(
            out.status.success(),
            "openssl cannot decrypt our OAEP/{h:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, msg);
    }
    // RSAES (PKCS#1 v1.5) both ways.
    let out = openssl(&[
        "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", pk, "-in", msg_s, "-out",
        ct_s,
    ]);
    assert!(out.status.success());
    assert_eq!(
        &*k.decrypt(
            RsaEncScheme::Rsaes,
            &std::fs::read(&ct_path).unwrap(),
            b"",
            &mut r
        )
        .unwrap(),
        msg
    );
    std::fs::write(
        &ct_path,
        k.public()
            .encrypt(RsaEncScheme::Rsaes, msg, b"", &mut r)
            .unwrap(),
    )
    .unwrap();
    let out = openssl(&[
        "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", sk, "-in", ct_s,
    ]);
    assert!(out.status.success());
    assert_eq!(out.stdout, msg);
}

/// A generator that fails loudly if asked for more than it was given,
/// to pin down exactly which random values an operation consumes.
struct Fixed(Vec<u8>);
impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        assert!(
            dest.len() <= self.0.len(),
            "RNG asked for more than expected"
        );
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}
impl CryptoRng for Fixed {}

#[test]
fn oaep_encoding_consumes_exactly_one_seed() {
    let k = key2048();
    // OAEP consumes exactly one hash-size seed.
    let ct = k
        .public()
        .encrypt(
            RsaEncScheme::Oaep(HashAlg::Sha256),
            b"m",
            b"",
            &mut Fixed(vec![7u8; 32]),
        )
        .unwrap();
    let ct2 = k
        .public()
        .encrypt(
            RsaEncScheme::Oaep(HashAlg::Sha256),
            b"m",
            b"",
            &mut Fixed(vec![7u8; 32]),
        )
        .unwrap();
    assert_eq!(ct, ct2);
    let mut r = rng();
    assert_eq!(
        &*k.decrypt(RsaEncScheme::Oaep(HashAlg::Sha256), &ct, b"", &mut r)
            .unwrap(),
        b"m"
    );
}
