//! ECC keys, ECDSA and ECDH on P-256, P-384 and SM2-P256, checked against
//! the RustCrypto ecdsa implementation and the openssl command line.

use std::path::Path;
use std::process::Command;
use tpm::crypto::ecc::{ecdh_ephemeral, ecdsa_verify, validate_point};
use tpm::crypto::kdf::KdfRng;
use tpm::crypto::{CryptoError, Drbg, EccCurve, EccKeyPair, EccPoint, HashAlg};

fn rng() -> Drbg {
    Drbg::new([0x33; 32])
}

fn have_openssl() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn keys_are_valid_and_deterministic_in_the_rng() {
    for curve in EccCurve::ALL {
        let mut r = KdfRng::for_primary(HashAlg::Sha256, &[9u8; 64], b"name", b"");
        let k = EccKeyPair::generate(curve, &mut r).unwrap();
        assert_eq!(k.private().len(), curve.size());
        assert_eq!(k.public().x.len(), curve.size());
        assert_eq!(k.public().y.len(), curve.size());
        validate_point(curve, k.public()).unwrap();
        let mut r2 = KdfRng::for_primary(HashAlg::Sha256, &[9u8; 64], b"name", b"");
        let k2 = EccKeyPair::generate(curve, &mut r2).unwrap();
        assert_eq!(k.private(), k2.private());
        // d is the first curve-size octets of the stream (they are below n).
        let mut r3 = KdfRng::for_primary(HashAlg::Sha256, &[9u8; 64], b"name", b"");
        let mut first = vec![0u8; curve.size()];
        rand_core::RngCore::fill_bytes(&mut r3, &mut first);
        assert_eq!(k.private(), &first[..]);

        let again = EccKeyPair::from_private(curve, k.private()).unwrap();
        assert_eq!(again.public(), k.public());
        EccKeyPair::from_parts(curve, k.private(), k.public()).unwrap();
        let other = EccKeyPair::generate(curve, &mut rng()).unwrap();
        assert_eq!(
            EccKeyPair::from_parts(curve, k.private(), other.public()).err(),
            Some(CryptoError::Binding)
        );
        assert_eq!(
            EccKeyPair::from_private(curve, &[0u8; 32]).err(),
            Some(CryptoError::Key)
        );
        assert_eq!(
            EccKeyPair::from_private(curve, &[0xffu8; 48]).err(),
            Some(CryptoError::Key)
        );
        assert_eq!(
            EccKeyPair::from_private(curve, &[1u8; 49]).err(),
            Some(CryptoError::Key)
        );
        // d = 1 gives the generator; short input is left-padded.
        let one = EccKeyPair::from_private(curve, &[1]).unwrap();
        assert_eq!(one.private().len(), curve.size());
    }
}

#[test]
fn public_points_match_rustcrypto() {
    let mut r = rng();
    let k = EccKeyPair::generate(EccCurve::NistP256, &mut r).unwrap();
    let pk = p256::SecretKey::from_slice(k.private())
        .unwrap()
        .public_key();
    let ep = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    assert_eq!(ep.x().unwrap().as_slice(), &k.public().x[..]);
    assert_eq!(ep.y().unwrap().as_slice(), &k.public().y[..]);
    let k = EccKeyPair::generate(EccCurve::NistP384, &mut r).unwrap();
    let pk = p384::SecretKey::from_slice(k.private())
        .unwrap()
        .public_key();
    let ep = p384::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    assert_eq!(ep.x().unwrap().as_slice(), &k.public().x[..]);
    let k = EccKeyPair::generate(EccCurve::Sm2P256, &mut r).unwrap();
    let pk = sm2::SecretKey::from_slice(k.private())
        .unwrap()
        .public_key();
    let ep = sm2::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    assert_eq!(ep.y().unwrap().as_slice(), &k.public().y[..]);
}

#[test]
fn invalid_points_are_rejected() {
    for curve in EccCurve::ALL {
        let n = curve.size();
        let k = EccKeyPair::generate(curve, &mut rng()).unwrap();
        let good = k.public().clone();
        let mut off = good.clone();
        off.y[n - 1] ^= 1;
        let cases = [
            EccPoint::new(&[], &[]),
            EccPoint::new(&vec![0; n], &vec![0; n]),
            EccPoint::new(&vec![0xff; n], &good.y),
            off,
            EccPoint::new(&[&[1u8][..], &good.x].concat(), &good.y), // too long
        ];
        for p in &cases {
            assert_eq!(
                validate_point(curve, p),
                Err(CryptoError::EccPoint),
                "{curve:?} {p:?}"
            );
            assert_eq!(k.ecdh(p).err(), Some(CryptoError::EccPoint));
            assert_eq!(
                ecdsa_verify(curve, p, &[0; 32], &[1], &[1]),
                Err(CryptoError::EccPoint)
            );
        }
        // Coordinates are big-endian numbers: extra leading zeros are fine.
        validate_point(
            curve,
            &EccPoint::new(&[&[0u8, 0][..], &good.x].concat(), &good.y),
        )
        .unwrap();
        let mut x = good.x.clone();
        if x[0] == 0 {
            x.remove(0);
            validate_point(curve, &EccPoint::new(&x, &good.y)).unwrap();
        }
    }
}

#[test]
fn tpms_ecc_point_wire_form() {
    let p = EccPoint::new(&[1, 2, 3], &[4, 5]);
    let m = p.marshal();
    assert_eq!(m, [0, 3, 1, 2, 3, 0, 2, 4, 5]);
    assert_eq!(EccPoint::unmarshal(&m).unwrap(), p);
    assert_eq!(EccPoint::unmarshal(&m[..8]), Err(CryptoError::Insufficient));
    assert_eq!(EccPoint::unmarshal(&m[..1]), Err(CryptoError::Insufficient));
    assert_eq!(
        EccPoint::unmarshal(&[0xff, 0xff, 0]),
        Err(CryptoError::Insufficient)
    );
    assert_eq!(
        EccPoint::unmarshal(&[m.as_slice(), &[0]].concat()),
        Err(CryptoError::Size)
    );
    assert_eq!(
        EccPoint::unmarshal(&[0, 0, 0, 0]).unwrap(),
        EccPoint::default()
    );
}

#[test]
fn ecdsa_round_trip_and_rustcrypto_cross_check() {
    use ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
    for curve in EccCurve::ALL {
        let k = EccKeyPair::generate(curve, &mut rng()).unwrap();
        for h in HashAlg::ALL {
            let d = h.digest(&[b"quote info"]);
            let (r, s) = k.ecdsa_sign(&d, &mut rng()).unwrap();
            assert_eq!((r.len(), s.len()), (curve.size(), curve.size()));
            ecdsa_verify(curve, k.public(), &d, &r, &s).unwrap();
            let other = h.digest(&[b"quote infO"]);
            assert_eq!(
                ecdsa_verify(curve, k.public(), &other, &r, &s),
                Err(CryptoError::Signature)
            );
            assert_eq!(
                ecdsa_verify(curve, k.public(), &d, &s, &r),
                Err(CryptoError::Signature)
            );
            // The ecdsa crate refuses prehashes shorter than half the field.
            if d.len() < curve.size() / 2 {
                continue;
            }
            match curve {
                EccCurve::NistP256 => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(k.public())).unwrap();
                    let sig = p256::ecdsa::Signature::from_scalars(
                        *p256::FieldBytes::from_slice(&r),
                        *p256::FieldBytes::from_slice(&s),
                    )
                    .unwrap();
                    vk.verify_prehash(&d, &sig).unwrap();
                    let sk = p256::ecdsa::SigningKey::from_slice(k.private()).unwrap();
                    let theirs: p256::ecdsa::Signature = sk.sign_prehash(&d).unwrap();
                    ecdsa_verify(
                        curve,
                        k.public(),
                        &d,
                        &theirs.r().to_bytes(),
                        &theirs.s().to_bytes(),
                    )
                    .unwrap();
                }
                EccCurve::NistP384 => {
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1(k.public())).unwrap();
                    let sig = p384::ecdsa::Signature::from_scalars(
                        *p384::FieldBytes::from_slice(&r),
                        *p384::FieldBytes::from_slice(&s),
                    )
                    .unwrap();
                    vk.verify_prehash(&d, &sig).unwrap();
                    let sk = p384::ecdsa::SigningKey::from_slice(k.private()).unwrap();
                    let theirs: p384::ecdsa::Signature = sk.sign_prehash(&d).unwrap();
                    ecdsa_verify(
                        curve,
                        k.public(),
                        &d,
                        &theirs.r().to_bytes(),
                        &theirs.s().to_bytes(),
                    )
                    .unwrap();
                }
                EccCurve::Sm2P256 => {}
            }
        }
        // r, s out of range.
        let d = [7u8; 32];
        let (r, s) = k.ecdsa_sign(&d, &mut rng()).unwrap();
        let n_minus_0 = vec![0xffu8; curve.size()];
        assert_eq!(
            ecdsa_verify(curve, k.public(), &d, &[0], &s),
            Err(CryptoError::Signature)
        );
        assert_eq!(
            ecdsa_verify(curve, k.public(), &d, &r, &n_minus_0),
            Err(CryptoError::Signature)
        );
        assert_eq!(
            ecdsa_verify(curve, k.public(), &d, &[&[1u8][..], &r].concat(), &s),
            Err(CryptoError::Signature)
        );
        ecdsa_verify(curve, k.public(), &d, &[&[0u8][..], &r].concat(), &s).unwrap();
        assert_eq!(
            ecdsa_verify(curve, k.public(), &d, &r, &[]),
            Err(CryptoError::Signature)
        );
        // An empty digest is e = 0, still a well-defined signature.
        let (r0, s0) = k.ecdsa_sign(&[], &mut rng()).unwrap();
        ecdsa_verify(curve, k.public(), &[], &r0, &s0).unwrap();
    }
}

fn sec1(p: &EccPoint) -> Vec<u8> {
    [&[4u8][..], &p.x, &p.y].concat()
}

fn der_int(v: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    [vec![2, v.len() as u8], v].concat()
}

fn der_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let body = [der_int(r), der_int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

fn parse_der_sig(sig: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(sig[0], 0x30);
    let mut i = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(sig[i], 2);
        let l = sig[i + 1] as usize;
        out.push(sig[i + 2..i + 2 + l].to_vec());
        i += 2 + l;
    }
    (out[0].clone(), out[1].clone())
}

/// SubjectPublicKeyInfo and SEC1 ECPrivateKey DER, written out by hand from
/// RFC 5480 / RFC 5915 so the test does not depend on our own encoder.
fn key_files(dir: &Path, curve: EccCurve, k: &EccKeyPair) -> (String, String) {
    let (oid, spki_prefix): (&[u8], &str) = match curve {
        EccCurve::NistP256 => (
            &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            "3059301306072a8648ce3d020106082a8648ce3d030107034200",
        ),
        EccCurve::NistP384 => (
            &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            "3076301006072a8648ce3d020106052b81040022036200",
        ),
        EccCurve::Sm2P256 => unreachable!(),
    };
    let point = sec1(k.public());
    let spki = [hex::decode(spki_prefix).unwrap(), point.clone()].concat();
    let d = k.private();
    let inner = [
        vec![0x02, 0x01, 0x01, 0x04, d.len() as u8],
        d.to_vec(),
        vec![0xa0, oid.len() as u8],
        oid.to_vec(),
        vec![
            0xa1,
            (point.len() + 3) as u8,
            0x03,
            (point.len() + 1) as u8,
            0x00,
        ],
        point,
    ]
    .concat();
    let sk = if inner.len() < 128 {
        [vec![0x30, inner.len() as u8], inner].concat()
    } else {
        [vec![0x30, 0x81, inner.len() as u8], inner].concat()
    };
    let (pk_path, sk_path) = (
        dir.join(format!("{curve:?}.pub.der")),
        dir.join(format!("{curve:?}.key.der")),
    );
    std::fs::write(&pk_path, spki).unwrap();
    std::fs::write(&sk_path, sk).unwrap();
    (
        pk_path.to_str().unwrap().to_string(),
        sk_path.to_str().unwrap().to_string(),
    )
}

#[test]
fn ecdsa_and_ecdh_interoperate_with_openssl() {
    if !have_openssl() {
        eprintln!("openssl not installed; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for curve in [EccCurve::NistP256, EccCurve::NistP384] {
        let k = EccKeyPair::generate(curve, &mut rng()).unwrap();
        let (pk, sk) = key_files(dir.path(), curve, &k);
        for h in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            let d = h.digest(&[b"nonce"]);
            std::fs::write(path("d"), &d).unwrap();
            // Ours -> openssl.
            let (r, s) = k.ecdsa_sign(&d, &mut rng()).unwrap();
            std::fs::write(path("sig"), der_sig(&r, &s)).unwrap();
            let out = Command::new("openssl")
                .args([
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-keyform",
                    "DER",
                    "-inkey",
                    &pk,
                    "-in",
                    &path("d"),
                    "-sigfile",
                    &path("sig"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl rejects {curve:?}/{h:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            // openssl -> ours.
            let out = Command::new("openssl")
                .args([
                    "pkeyutl",
                    "-sign",
                    "-keyform",
                    "DER",
                    "-inkey",
                    &sk,
                    "-in",
                    &path("d"),
                    "-out",
                    &path("sig2"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (r2, s2) = parse_der_sig(&std::fs::read(path("sig2")).unwrap());
            ecdsa_verify(curve, k.public(), &d, &r2, &s2).unwrap();
        }
        // ECDH: openssl derives the same Z as our d·Q.
        let peer = EccKeyPair::generate(curve, &mut rng()).unwrap();
        let peer_dir = dir.path().join("peer");
        std::fs::create_dir_all(&peer_dir).unwrap();
        let (peer_pk, _) = key_files(&peer_dir, curve, &peer);
        let out = Command::new("openssl")
            .args([
                "pkeyutl",
                "-derive",
                "-keyform",
                "DER",
                "-inkey",
                &sk,
                "-peerform",
                "DER",
                "-peerkey",
                &peer_pk,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let z = k.ecdh(peer.public()).unwrap();
        assert_eq!(out.stdout, z.x, "{curve:?} ECDH Z");
    }
}

#[test]
fn ecdh_agrees_and_ephemeral_helper_is_consistent() {
    for curve in EccCurve::ALL {
        let a = EccKeyPair::generate(curve, &mut rng()).unwrap();
        let b = EccKeyPair::generate(curve, &mut Drbg::new([1; 32])).unwrap();
        let ab = a.ecdh(b.public()).unwrap();
        let ba = b.ecdh(a.public()).unwrap();
        assert_eq!(ab, ba);
        validate_point(curve, &ab).unwrap();
        let (qe, p) = ecdh_ephemeral(curve, a.public(), &mut rng()).unwrap();
        validate_point(curve, &qe).unwrap();
        assert_eq!(a.ecdh(&qe).unwrap(), p);
        assert_eq!(
            ecdh_ephemeral(curve, &EccPoint::new(&[1], &[2]), &mut rng()).err(),
            Some(CryptoError::EccPoint)
        );
    }
}

#[test]
fn curve_ids() {
    for c in EccCurve::ALL {
        assert_eq!(EccCurve::from_id(c.id()), Some(c));
    }
    assert_eq!(EccCurve::from_id(0x0003), Some(EccCurve::NistP256));
    assert_eq!(EccCurve::from_id(0x0020), Some(EccCurve::Sm2P256));
    assert_eq!(
        EccCurve::from_id(0x0010),
        None,
        "BN P-256 is not implemented"
    );
    assert_eq!(EccCurve::NistP384.key_bits(), 384);
}
