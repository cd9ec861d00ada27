//! Symmetric ciphers and modes: NIST SP800-38A and GB/T 32907 known
//! answers, the TPM's IV-out rules, an independent CFB implementation
//! (cfb-mode crate) and the openssl command line.

use std::io::Write;
use std::process::{Command, Stdio};
use tpm::crypto::kdf::kdfa;
use tpm::crypto::sym::{decrypt, encrypt, param_cfb, param_cfb_key_iv, BLOCK_SIZE};
use tpm::crypto::{CryptoError, HashAlg, SymAlg, SymMode};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

const KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const IV: &str = "000102030405060708090a0b0c0d0e0f";
const PLAIN: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 \
                     30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";

fn check(alg: SymAlg, mode: SymMode, key: &str, iv: &str, cipher: &str) {
    let key = h(key);
    let mut data = h(PLAIN);
    let mut ivb = if iv.is_empty() { vec![0u8; 16] } else { h(iv) };
    encrypt(alg, mode, &key, &mut ivb, &mut data).unwrap();
    assert_eq!(
        hex::encode(&data),
        hex::encode(h(cipher)),
        "{alg:?} {mode:?} encrypt"
    );
    let mut ivb = if iv.is_empty() { vec![0u8; 16] } else { h(iv) };
    decrypt(alg, mode, &key, &mut ivb, &mut data).unwrap();
    assert_eq!(data, h(PLAIN), "{alg:?} {mode:?} decrypt");
}

#[test]
fn nist_sp800_38a_vectors() {
    // F.3.13 CFB128-AES128.Encrypt, F.3.17 CFB128-AES256.Encrypt.
    check(
        SymAlg::Aes128,
        SymMode::Cfb,
        KEY128,
        IV,
        "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b \
         26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6",
    );
    check(
        SymAlg::Aes256,
        SymMode::Cfb,
        KEY256,
        IV,
        "dc7e84bfda79164b7ecd8486985d3860 39ffed143b28b1c832113c6331e5407b \
         df10132415e54b92a13ed0a8267ae2f9 75a385741ab9cef82031623d55b1e471",
    );
    // F.1.1 ECB, F.2.1 CBC, F.4.1 OFB, F.5.1 CTR (AES-128).
    check(
        SymAlg::Aes128,
        SymMode::Ecb,
        KEY128,
        "",
        "3ad77bb40d7a3660a89ecaf32466ef97 f5d3d58503b9699de785895a96fdbaaf \
         43b1cd7f598ece23881b00e3ed030688 7b0c785e27e8ad3f8223207104725dd4",
    );
    check(
        SymAlg::Aes128,
        SymMode::Cbc,
        KEY128,
        IV,
        "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2 \
         73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
    );
    check(
        SymAlg::Aes128,
        SymMode::Ofb,
        KEY128,
        IV,
        "3b3fd92eb72dad20333449f8e83cfb4a 7789508d16918f03f53c52dac54ed825 \
         9740051e9c5fecf64344f7a82260edcc 304c6528f659c77866a510d9c1d6ae5e",
    );
    check(
        SymAlg::Aes128,
        SymMode::Ctr,
        KEY128,
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
        "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff \
         5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
    );
}

#[test]
fn sm4_gbt32907_example() {
    // GB/T 32907-2016 Appendix A, example 1: key = plaintext.
    let key = h("0123456789abcdeffedcba9876543210");
    let mut data = key.clone();
    let mut iv = [0u8; 16];
    encrypt(SymAlg::Sm4_128, SymMode::Ecb, &key, &mut iv, &mut data).unwrap();
    assert_eq!(hex::encode(&data), "681edf34d206965e86b3e94f536e4246");
    decrypt(SymAlg::Sm4_128, SymMode::Ecb, &key, &mut iv, &mut data).unwrap();
    assert_eq!(data, key);
}

#[test]
fn cfb_iv_out_is_the_last_ciphertext_block_zero_padded() {
    let key = h(KEY128);
    let plain: Vec<u8> = (0u8..40).collect();
    let mut ct = plain.clone();
    let mut iv = h(IV);
    encrypt(SymAlg::Aes128, SymMode::Cfb, &key, &mut iv, &mut ct).unwrap();
    let mut want_iv = ct[32..40].to_vec();
    want_iv.extend_from_slice(&[0u8; 8]);
    assert_eq!(iv, want_iv, "partial last block: its ciphertext then zeros");

    // Decrypting leaves the same IV.
    let mut iv2 = h(IV);
    let mut pt = ct.clone();
    decrypt(SymAlg::Aes128, SymMode::Cfb, &key, &mut iv2, &mut pt).unwrap();
    assert_eq!(pt, plain);
    assert_eq!(iv2, want_iv);

    // Whole blocks chain: two calls equal one.
    let mut iv_a = h(IV);
    let mut one = plain[..32].to_vec();
    encrypt(SymAlg::Aes128, SymMode::Cfb, &key, &mut iv_a, &mut one).unwrap();
    assert_eq!(iv_a, one[16..32].to_vec());
    let mut iv_b = h(IV);
    let (mut p1, mut p2) = (plain[..16].to_vec(), plain[16..32].to_vec());
    encrypt(SymAlg::Aes128, SymMode::Cfb, &key, &mut iv_b, &mut p1).unwrap();
    encrypt(SymAlg::Aes128, SymMode::Cfb, &key, &mut iv_b, &mut p2).unwrap();
    assert_eq!([p1, p2].concat(), one);
    assert_eq!(iv_b, iv_a);
}

#[test]
fn cfb_matches_cfb_mode_crate_for_partial_blocks() {
    use cfb_mode::cipher::{AsyncStreamCipher, KeyIvInit};
    for len in [1usize, 15, 16, 17, 33, 100] {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let key = [0x42u8; 16];
        let iv = [0x24u8; 16];
        let mut ours = plain.clone();
        encrypt(
            SymAlg::Sm4_128,
            SymMode::Cfb,
            &key,
            &mut iv.clone(),
            &mut ours,
        )
        .unwrap();
        let mut theirs = plain.clone();
        cfb_mode::Encryptor::<sm4::Sm4>::new(&key.into(), &iv.into()).encrypt(&mut theirs);
        assert_eq!(ours, theirs, "SM4 len {len}");

        let key = [0x17u8; 32];
        let mut ours = plain.clone();
        encrypt(
            SymAlg::Aes256,
            SymMode::Cfb,
            &key,
            &mut iv.clone(),
            &mut ours,
        )
        .unwrap();
        let mut theirs = plain.clone();
        cfb_mode::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into()).encrypt(&mut theirs);
        assert_eq!(ours, theirs, "AES-256 len {len}");
    }
}

fn openssl_enc(cipher: &str, key: &[u8], iv: &[u8], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args([
            "enc",
            &format!("-{cipher}"),
            "-nopad",
            "-K",
            &hex::encode(key),
            "-iv",
            &hex::encode(iv),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl enc -{cipher}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

#[test]
fn all_modes_match_openssl_cli() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not installed; skipping the CLI cross-check");
        return;
    }
    let plain: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(31)).collect();
    let iv = [9u8; 16];
    let cases: [(SymAlg, &[u8], &str); 3] = [
        (SymAlg::Aes128, &[1u8; 16], "aes-128"),
        (SymAlg::Aes256, &[2u8; 32], "aes-256"),
        (SymAlg::Sm4_128, &[3u8; 16], "sm4"),
    ];
    for (alg, key, name) in cases {
        for (mode, m) in [
            (SymMode::Cfb, "cfb"),
            (SymMode::Ofb, "ofb"),
            (SymMode::Ctr, "ctr"),
            (SymMode::Cbc, "cbc"),
            (SymMode::Ecb, "ecb"),
        ] {
            // Stream modes also with a partial last block.
            let lens: &[usize] = if matches!(mode, SymMode::Cbc | SymMode::Ecb) {
                &[64]
            } else {
                &[64, 41]
            };
            for &len in lens {
                let cipher = format!("{name}-{m}");
                let ivarg: &[u8] = if mode == SymMode::Ecb { &[] } else { &iv };
                let Some(want) = openssl_enc(&cipher, key, ivarg, &plain[..len]) else {
                    return;
                };
                let mut ours = plain[..len].to_vec();
                encrypt(alg, mode, key, &mut iv.clone(), &mut ours).unwrap();
                assert_eq!(hex::encode(&ours), hex::encode(&want), "{cipher} len {len}");
            }
        }
    }
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let mut data = [0u8; 20];
    let mut iv = [0u8; 16];
    assert_eq!(
        encrypt(SymAlg::Aes128, SymMode::Cfb, &[0u8; 15], &mut iv, &mut data),
        Err(CryptoError::KeySize)
    );
    assert_eq!(
        encrypt(SymAlg::Aes256, SymMode::Cfb, &[0u8; 16], &mut iv, &mut data),
        Err(CryptoError::KeySize)
    );
    assert_eq!(
        encrypt(
            SymAlg::Aes128,
            SymMode::Cfb,
            &[0u8; 16],
            &mut [0u8; 15],
            &mut data
        ),
        Err(CryptoError::Size)
    );
    assert_eq!(
        decrypt(SymAlg::Aes128, SymMode::Cbc, &[0u8; 16], &mut iv, &mut data),
        Err(CryptoError::Size),
        "CBC needs whole blocks"
    );
    assert_eq!(
        encrypt(
            SymAlg::Sm4_128,
            SymMode::Ecb,
            &[0u8; 16],
            &mut iv,
            &mut data
        ),
        Err(CryptoError::Size),
        "ECB needs whole blocks"
    );
    assert_eq!(data, [0u8; 20], "nothing changed on error");
    // Empty data is fine and leaves the IV as it was.
    let mut iv = [5u8; 16];
    encrypt(SymAlg::Aes128, SymMode::Cfb, &[0u8; 16], &mut iv, &mut []).unwrap();
    assert_eq!(iv, [5u8; 16]);
    assert_eq!(SymAlg::from_tpm(0x0006, 192), None);
    assert_eq!(SymAlg::from_tpm(0x0013, 128), Some(SymAlg::Sm4_128));
    assert_eq!(SymMode::from_id(0x0043), Some(SymMode::Cfb));
    assert_eq!(BLOCK_SIZE, 16);
}

#[test]
fn session_parameter_cfb() {
    let (key, iv) = param_cfb_key_iv(
        HashAlg::Sha256,
        SymAlg::Aes128,
        b"sessionKey",
        b"auth",
        b"newer",
        b"older",
    );
    let stream = kdfa(
        HashAlg::Sha256,
        b"sessionKeyauth",
        b"CFB",
        b"newer",
        b"older",
        128 + 128,
    );
    assert_eq!(&key[..], &stream[..16]);
    assert_eq!(&iv[..], &stream[16..32]);

    let (key256, _) = param_cfb_key_iv(HashAlg::Sha384, SymAlg::Aes256, b"s", b"", b"n", b"o");
    assert_eq!(key256.len(), 32);

    let plain = b"TPM2B parameter contents, 37 octets!".to_vec();
    let mut data = plain.clone();
    param_cfb(
        HashAlg::Sha256,
        SymAlg::Aes128,
        b"sessionKey",
        b"auth",
        b"newer",
        b"older",
        true,
        &mut data,
    )
    .unwrap();
    let mut manual = plain.clone();
    encrypt(
        SymAlg::Aes128,
        SymMode::Cfb,
        &key,
        &mut iv.clone(),
        &mut manual,
    )
    .unwrap();
    assert_eq!(data, manual);
    param_cfb(
        HashAlg::Sha256,
        SymAlg::Aes128,
        b"sessionKey",
        b"auth",
        b"newer",
        b"older",
        false,
        &mut data,
    )
    .unwrap();
    assert_eq!(data, plain);
}
