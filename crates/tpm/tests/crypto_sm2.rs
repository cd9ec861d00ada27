//! SM2 signatures against the published example of GM/T 0003.5-2012
//! Annex A (the same example OpenSSL's test/sm2_internal_test.c uses) and
//! against the RustCrypto sm2 crate, which computes ZA itself.

use rand_core::{CryptoRng, RngCore};
use tpm::crypto::sm2::{sm2_sign, sm2_verify};
use tpm::crypto::{CryptoError, Drbg, EccCurve, EccKeyPair, EccPoint, HashAlg};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

// SM2 recommended curve parameters (GB/T 32918.5-2017).
const A: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC";
const B: &str = "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93";
const GX: &str = "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7";
const GY: &str = "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";
const N: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

// GM/T 0003.5-2012 Annex A signature example.
const D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
const XA: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
const YA: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
const ID: &[u8] = b"1234567812345678";
const MSG: &[u8] = b"message digest";
const ZA: &str = "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3";
const E: &str = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640";
const K: &str = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21";
const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";

/// Returns exactly the octets it was given.
struct Fixed(Vec<u8>);
impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        unimplemented!()
    }
    fn next_u64(&mut self) -> u64 {
        unimplemented!()
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

/// ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GB/T 32918.2 §5.5.
fn za(id: &[u8], xa: &[u8], ya: &[u8]) -> Vec<u8> {
    let entl = ((id.len() * 8) as u16).to_be_bytes();
    HashAlg::Sm3_256.digest(&[&entl, id, &h(A), &h(B), &h(GX), &h(GY), xa, ya])
}

#[test]
fn gmt_0003_annex_a_example() {
    let key = EccKeyPair::from_private(EccCurve::Sm2P256, &h(D)).unwrap();
    assert_eq!(key.public().x, h(XA));
    assert_eq!(key.public().y, h(YA));
    let za = za(ID, &h(XA), &h(YA));
    assert_eq!(hex::encode_upper(&za), ZA);
    let e = HashAlg::Sm3_256.digest(&[&za, MSG]);
    assert_eq!(hex::encode_upper(&e), E);

    let (r, s) = sm2_sign(&key, &e, &mut Fixed(h(K))).unwrap();
    assert_eq!(hex::encode_upper(&r), R);
    assert_eq!(hex::encode_upper(&s), S);
    sm2_verify(EccCurve::Sm2P256, key.public(), &e, &r, &s).unwrap();

    let mut bad_e = e.clone();
    bad_e[0] ^= 1;
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, key.public(), &bad_e, &r, &s),
        Err(CryptoError::Signature)
    );
}

#[test]
fn rustcrypto_sm2_accepts_our_signatures() {
    use sm2::dsa::signature::Verifier;
    let mut rng = Drbg::new([4; 32]);
    for _ in 0..4 {
        let key = EccKeyPair::generate(EccCurve::Sm2P256, &mut rng).unwrap();
        let za = za(ID, &key.public().x, &key.public().y);
        let msg = b"TPMS_ATTEST bytes";
        let e = HashAlg::Sm3_256.digest(&[&za, msg]);
        let (r, s) = sm2_sign(&key, &e, &mut rng).unwrap();
        let sec1 = [&[4u8][..], &key.public().x, &key.public().y].concat();
        let vk = sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", &sec1).unwrap();
        let sig = sm2::dsa::Signature::from_slice(&[r.clone(), s.clone()].concat()).unwrap();
        vk.verify(msg, &sig).unwrap();
        sm2_verify(EccCurve::Sm2P256, key.public(), &e, &r, &s).unwrap();
    }
}

#[test]
fn verification_rejects_bad_values() {
    let mut rng = Drbg::new([5; 32]);
    let key = EccKeyPair::generate(EccCurve::Sm2P256, &mut rng).unwrap();
    let e = [0x11u8; 32];
    let (r, s) = sm2_sign(&key, &e, &mut rng).unwrap();
    let q = key.public();
    sm2_verify(EccCurve::Sm2P256, q, &e, &r, &s).unwrap();
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, q, &e, &s, &r),
        Err(CryptoError::Signature)
    );
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, q, &e, &[0], &s),
        Err(CryptoError::Signature)
    );
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, q, &e, &r, &h(N)),
        Err(CryptoError::Signature),
        "s = n"
    );
    // r + s = n makes t = 0.
    let n_minus_r = {
        let n = rsa::BigUint::from_bytes_be(&h(N));
        (n - rsa::BigUint::from_bytes_be(&r)).to_bytes_be()
    };
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, q, &e, &r, &n_minus_r),
        Err(CryptoError::Signature)
    );
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, &EccPoint::new(&[1], &[1]), &e, &r, &s),
        Err(CryptoError::EccPoint)
    );
    // Another key's public point.
    let other = EccKeyPair::generate(EccCurve::Sm2P256, &mut rng).unwrap();
    assert_eq!(
        sm2_verify(EccCurve::Sm2P256, other.public(), &e, &r, &s),
        Err(CryptoError::Signature)
    );
}

#[test]
fn digests_of_any_length_and_other_curves() {
    let mut rng = Drbg::new([6; 32]);
    for curve in EccCurve::ALL {
        let key = EccKeyPair::generate(curve, &mut rng).unwrap();
        for h in HashAlg::ALL {
            let e = h.digest(&[b"x"]);
            let (r, s) = sm2_sign(&key, &e, &mut rng).unwrap();
            sm2_verify(curve, key.public(), &e, &r, &s).unwrap();
        }
        // e is a number: a leading zero octet does not change it.
        let e = [0x77u8; 64];
        let (r, s) = sm2_sign(&key, &e, &mut rng).unwrap();
        sm2_verify(curve, key.public(), &[&[0u8][..], &e].concat(), &r, &s).unwrap();
    }
    // d = n - 1 cannot sign (1 + d is not invertible).
    let mut n1 = h(N);
    n1[31] -= 1;
    let key = EccKeyPair::from_private(EccCurve::Sm2P256, &n1).unwrap();
    assert_eq!(
        sm2_sign(&key, &[1; 32], &mut rng).err(),
        Some(CryptoError::Key)
    );
}
