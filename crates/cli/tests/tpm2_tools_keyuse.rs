//! The real tpm2-tools (5.4) against `trustcloud tpm serve`, under both
//! protocols, for the commands that use keys: tpm2_sign and
//! tpm2_verifysignature with RSA (RSASSA, RSAPSS), ECC (ECDSA P-256,
//! P-384) and SM2 keys — each signature also verified by `openssl` —
//! tpm2_hmac (one command and, above 1024 octets, an HMAC sequence),
//! tpm2_rsaencrypt / tpm2_rsadecrypt (OAEP with and without a label,
//! RSAES) against `openssl pkeyutl` both ways, tpm2_encryptdecrypt (AES and
//! SM4 in CFB mode with an IV) against `openssl enc`, and
//! tpm2_ecdhkeygen / tpm2_ecdhzgen (the same Z from both, and the Z
//! `openssl pkeyutl -derive` computes).
//!
//! tpm2-tools run without a resource manager and leave what they load in
//! the TPM's three object slots, so every tool is followed by
//! `tpm2_flushcontext -t`. `TRUSTCLOUD_TEST_TPM=swtpm cargo test -p
//! trustcloud --test tpm2_tools_keyuse swtpm` runs the checks against swtpm.

mod support;

use std::process::Command;

use sha2::Digest;
use support::{parse, run_bounded, Protocol, Server, ToolOutput, TOOL_TIMEOUT};

macro_rules! both_protocols {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn mssim() {
                super::$name(super::Protocol::Mssim)
            }
            #[test]
            fn swtpm() {
                super::$name(super::Protocol::Swtpm)
            }
        }
    )*};
}

both_protocols!(
    sign_verify_rsa,
    sign_verify_ecdsa,
    sign_verify_sm2,
    hmac_small_and_sequence,
    rsa_encrypt_decrypt,
    encryptdecrypt_aes_and_sm4,
    ecdh_keygen_and_zgen,
);

/// Attributes of a TPM-generated signing / decryption key.
const SIGN_ATTRS: &str = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
const DECRYPT_ATTRS: &str = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt";

fn started(p: Protocol) -> Server {
    let s = Server::start(p);
    s.ok("tpm2_startup", &["-c"]);
    s
}

/// Runs a tool that must succeed, then flushes every transient object the
/// tool left loaded.
fn ok(s: &Server, tool: &str, args: &[&str]) -> String {
    let out = s.ok(tool, args);
    s.ok("tpm2_flushcontext", &["-t"]);
    out
}

fn path(s: &Server, name: &str) -> String {
    s.path(name).to_string_lossy().into_owned()
}

fn read(s: &Server, name: &str) -> Vec<u8> {
    std::fs::read(s.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn openssl(args: &[&str]) -> ToolOutput {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    run_bounded(cmd, None, TOOL_TIMEOUT)
}

fn openssl_ok(args: &[&str]) -> ToolOutput {
    let out = openssl(args);
    assert!(out.success(), "openssl failed: {out:?}");
    out
}

/// `openssl dgst -<md> -verify pem [sigopts] -signature sig msg`.
fn openssl_verifies(md: &str, pem: &str, sigopts: &[&str], sig: &str, msg: &str) -> bool {
    let md = format!("-{md}");
    let mut args = vec!["dgst", md.as_str(), "-verify", pem];
    for o in sigopts {
        args.extend(["-sigopt", o]);
    }
    args.extend(["-signature", sig, msg]);
    let out = openssl(&args);
    out.success() && out.stdout_str().contains("Verified OK")
}

/// A TPMT_TK_VERIFIED file from `tpm2_verifysignature -t`: (tag,
/// hierarchy, digest).
fn verified_ticket(bytes: &[u8]) -> (u16, u32, Vec<u8>) {
    parse::hashcheck_ticket(bytes)
}

/// `tpm2_verifysignature` of `sig` over `msg` must succeed and give an
/// owner-hierarchy TPMT_TK_VERIFIED; over a changed message it must fail.
fn tpm_verifies(s: &Server, key: &str, hash: &str, msg: &str, sig: &str) {
    let ticket = path(s, "verified.tk");
    ok(
        s,
        "tpm2_verifysignature",
        &["-c", key, "-g", hash, "-m", msg, "-s", sig, "-t", &ticket],
    );
    let (tag, hier, digest) = verified_ticket(&read(s, "verified.tk"));
    assert_eq!((tag, hier), (0x8022, 0x4000_0001), "TPM_ST_VERIFIED, owner");
    assert_eq!(digest.len(), 64, "HMAC with the owner proof");
    let other = s.write_file("other.msg", b"not the signed message");
    let out = s.fails(
        "tpm2_verifysignature",
        &["-c", key, "-g", hash, "-m", &other, "-s", sig],
    );
    // TPM_RC_SIGNATURE on parameter 2.
    assert_eq!(out.tpm_rc(), Some(0x2db), "{out:?}");
    s.ok("tpm2_flushcontext", &["-t"]);
}

fn sign_verify_rsa(p: Protocol) {
    let s = started(p);
    let msg = s.write_file("msg.txt", b"signed by an RSA key in the TPM");
    let key = path(&s, "rsa.ctx");
    let pem = path(&s, "rsa.pem");
    // No scheme in the key: the tool's -s picks it.
    ok(
        &s,
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "rsa2048:null:null",
            "-a",
            SIGN_ATTRS,
            "-c",
            &key,
        ],
    );
    ok(
        &s,
        "tpm2_readpublic",
        &["-c", &key, "-f", "pem", "-o", &pem],
    );
    for (scheme, sigopts) in [
        ("rsassa", vec![]),
        ("rsapss", vec!["rsa_padding_mode:pss", "rsa_pss_saltlen:-2"]),
    ] {
        let plain = path(&s, &format!("{scheme}.plain"));
        let tss = path(&s, &format!("{scheme}.sig"));
        ok(
            &s,
            "tpm2_sign",
            &[
                "-c", &key, "-g", "sha256", "-s", scheme, "-f", "plain", "-o", &plain, &msg,
            ],
        );
        assert_eq!(read(&s, &format!("{scheme}.plain")).len(), 256);
        assert!(
            openssl_verifies("sha256", &pem, &sigopts, &plain, &msg),
            "openssl rejects the {scheme} signature"
        );
        ok(
            &s,
            "tpm2_sign",
            &["-c", &key, "-g", "sha256", "-s", scheme, "-o", &tss, &msg],
        );
        let sig = read(&s, &format!("{scheme}.sig"));
        let alg = if scheme == "rsassa" { 0x0014 } else { 0x0016 };
        assert_eq!(
            &sig[..4],
            &[0, alg, 0x00, 0x0b],
            "TPMT_SIGNATURE sigAlg, hash"
        );
        tpm_verifies(&s, &key, "sha256", &msg, &tss);
    }
    // RSASSA is deterministic: the plain signature equals the TSS one's body.
    assert_eq!(&read(&s, "rsassa.sig")[6..], &read(&s, "rsassa.plain")[..]);
}

fn sign_verify_ecdsa(p: Protocol) {
    let s = started(p);
    let msg = s.write_file("msg.txt", b"signed by an ECC key in the TPM");
    for (alg, hash) in [
        ("ecc256:ecdsa-sha256", "sha256"),
        ("ecc384:ecdsa-sha384", "sha384"),
    ] {
        let key = path(&s, "ecc.ctx");
        let pem = path(&s, "ecc.pem");
        let plain = path(&s, "ecc.plain");
        let tss = path(&s, "ecc.sig");
        ok(
            &s,
            "tpm2_createprimary",
            &["-C", "o", "-G", alg, "-a", SIGN_ATTRS, "-c", &key],
        );
        ok(
            &s,
            "tpm2_readpublic",
            &["-c", &key, "-f", "pem", "-o", &pem],
        );
        // The key's own scheme (no -s).
        ok(
            &s,
            "tpm2_sign",
            &["-c", &key, "-g", hash, "-f", "plain", "-o", &plain, &msg],
        );
        assert!(
            openssl_verifies(hash, &pem, &[], &plain, &msg),
            "openssl rejects the {alg} signature"
        );
        ok(&s, "tpm2_sign", &["-c", &key, "-g", hash, "-o", &tss, &msg]);
        tpm_verifies(&s, &key, hash, &msg, &tss);
        // A scheme the key does not have: TPM_RC_SCHEME on inScheme.
        let out = s.fails(
            "tpm2_sign",
            &["-c", &key, "-g", hash, "-s", "rsassa", "-o", &tss, &msg],
        );
        s.ok("tpm2_flushcontext", &["-t"]);
        if let Some(rc) = out.tpm_rc() {
            assert_eq!(rc, 0x2d2, "{out:?}");
        }
    }
}

/// ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA) with the default
/// ID 1234567812345678 (GB/T 32918.2 §5.5).
fn sm2_za(x: &[u8], y: &[u8]) -> Vec<u8> {
    let h = |v: &str| hex::decode(v).unwrap();
    let id = b"1234567812345678";
    let mut d = sm3::Sm3::new();
    d.update(((id.len() * 8) as u16).to_be_bytes());
    d.update(id);
    d.update(h(
        "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
    ));
    d.update(h(
        "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
    ));
    d.update(h(
        "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
    ));
    d.update(h(
        "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
    ));
    d.update(x);
    d.update(y);
    d.finalize().to_vec()
}

/// tpm2_readpublic's `x:` and `y:` of an ECC key.
fn ecc_point(out: &str) -> (Vec<u8>, Vec<u8>) {
    let blocks = parse::blocks(out);
    let get = |k: &str| parse::hex(parse::block(&blocks, k).inline.as_deref().unwrap());
    (get("x"), get("y"))
}

/// An SM2 signature: the tool is given e = SM3(ZA || M) (`-d`, a digest),
/// as GB/T 32918.2 signs, so `openssl dgst -sm3` with the default distid
/// verifies the signature over M itself. tpm2-tools cannot write an SM2
/// PEM, so the SubjectPublicKeyInfo is built here.
fn sign_verify_sm2(p: Protocol) {
    let s = started(p);
    let msg_bytes = b"signed by an SM2 key in the TPM";
    let msg = s.write_file("msg.txt", msg_bytes);
    let key = path(&s, "sm2.ctx");
    ok(
        &s,
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "ecc_sm2:sm2-sm3_256",
            "-a",
            SIGN_ATTRS,
            "-c",
            &key,
        ],
    );
    let (x, y) = ecc_point(&ok(&s, "tpm2_readpublic", &["-c", &key]));
    assert_eq!((x.len(), y.len()), (32, 32));
    let mut e = sm3::Sm3::new();
    e.update(sm2_za(&x, &y));
    e.update(msg_bytes);
    let digest = s.write_file("e.bin", &e.finalize());
    let plain = path(&s, "sm2.plain");
    let tss = path(&s, "sm2.sig");
    ok(
        &s,
        "tpm2_sign",
        &[
            "-c", &key, "-g", "sm3_256", "-s", "sm2", "-d", "-f", "plain", "-o", &plain, &digest,
        ],
    );
    // SEQUENCE { SEQUENCE { id-ecPublicKey, sm2p256v1 }, BIT STRING 04||x||y }.
    let mut spki = hex::decode("3059301306072a8648ce3d020106082a811ccf5501822d03420004").unwrap();
    spki.extend(&x);
    spki.extend(&y);
    let der = s.write_file("sm2.der", &spki);
    let pem = path(&s, "sm2.pem");
    openssl_ok(&[
        "pkey", "-pubin", "-inform", "DER", "-in", &der, "-out", &pem,
    ]);
    assert!(
        openssl_verifies("sm3", &pem, &["distid:1234567812345678"], &plain, &msg),
        "openssl rejects the SM2 signature"
    );
    ok(
        &s,
        "tpm2_sign",
        &[
            "-c", &key, "-g", "sm3_256", "-s", "sm2", "-d", "-o", &tss, &digest,
        ],
    );
    assert_eq!(
        &read(&s, "sm2.sig")[..4],
        &[0x00, 0x1b, 0x00, 0x12],
        "SM2, SM3_256"
    );
    // tpm2_verifysignature -d: the message file holds the digest.
    let ticket = path(&s, "sm2.tk");
    ok(
        &s,
        "tpm2_verifysignature",
        &["-c", &key, "-d", &digest, "-s", &tss, "-t", &ticket],
    );
    let (tag, hier, d) = verified_ticket(&read(&s, "sm2.tk"));
    assert_eq!((tag, hier, d.len()), (0x8022, 0x4000_0001, 64));
}

/// HMAC-SHA-256 (RFC 2104), written out with sha2 so the expected value
/// does not come from the code under test.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut k0 = [0u8; 64];
    k0[..key.len()].copy_from_slice(key);
    let ipad: Vec<u8> = k0.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k0.iter().map(|b| b ^ 0x5c).collect();
    let inner = sha2::Sha256::new()
        .chain_update(&ipad)
        .chain_update(data)
        .finalize();
    sha2::Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn hmac_small_and_sequence(p: Protocol) {
    let s = started(p);
    let parent = path(&s, "parent.ctx");
    ok(
        &s,
        "tpm2_createprimary",
        &["-C", "o", "-G", "ecc", "-c", &parent],
    );
    // An HMAC key whose secret we know, imported under the parent.
    let secret = b"0123456789abcdef0123456789abcdef";
    let key_in = s.write_file("hmac.key", secret);
    let (pubf, privf, key) = (
        path(&s, "hmac.pub"),
        path(&s, "hmac.priv"),
        path(&s, "hmac.ctx"),
    );
    ok(
        &s,
        "tpm2_import",
        &[
            "-C", &parent, "-G", "hmac", "-i", &key_in, "-u", &pubf, "-r", &privf,
        ],
    );
    ok(
        &s,
        "tpm2_load",
        &["-C", &parent, "-u", &pubf, "-r", &privf, "-c", &key],
    );
    let small = b"a short message".to_vec();
    // > 1024 octets: tpm2_hmac runs HMAC_Start / SequenceUpdate /
    // SequenceComplete.
    let big: Vec<u8> = (0..3000u32).map(|i| (i * 13 % 256) as u8).collect();
    for (name, data) in [("small.bin", &small), ("big.bin", &big)] {
        let f = s.write_file(name, data);
        let out = ok(&s, "tpm2_hmac", &["-c", &key, "--hex", &f]);
        assert_eq!(parse::hex(&out), hmac_sha256(secret, data), "{name}");
        let mac = path(&s, "mac.bin");
        let tk = path(&s, "mac.tk");
        ok(&s, "tpm2_hmac", &["-c", &key, "-o", &mac, "-t", &tk, &f]);
        assert_eq!(read(&s, "mac.bin"), hmac_sha256(secret, data));
        // No ticket for an HMAC: TPM_ST_HASHCHECK, TPM_RH_NULL, empty.
        let tk = read(&s, "mac.tk");
        assert_eq!(parse::hashcheck_ticket(&tk), (0x8024, 0x4000_0007, vec![]));
    }
}

fn rsa_encrypt_decrypt(p: Protocol) {
    let s = started(p);
    let key = path(&s, "rsa.ctx");
    let pem = path(&s, "rsa.pem");
    ok(
        &s,
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "rsa2048:null:null",
            "-a",
            DECRYPT_ATTRS,
            "-c",
            &key,
        ],
    );
    ok(
        &s,
        "tpm2_readpublic",
        &["-c", &key, "-f", "pem", "-o", &pem],
    );
    let secret = b"a secret for the TPM";
    let msg = s.write_file("secret.bin", secret);
    let (ct, pt) = (path(&s, "ct.bin"), path(&s, "pt.bin"));

    // The TPM both ways, each scheme; the label gets its terminating zero
    // from the tools.
    for extra in [
        &["-s", "oaep"][..],
        &["-s", "rsaes"],
        &["-s", "oaep", "-l", "mylabel"],
    ] {
        let enc = [&["-c", key.as_str()][..], extra, &["-o", &ct, &msg]].concat();
        ok(&s, "tpm2_rsaencrypt", &enc);
        assert_eq!(read(&s, "ct.bin").len(), 256);
        let dec = [&["-c", key.as_str()][..], extra, &["-o", &pt, &ct]].concat();
        ok(&s, "tpm2_rsadecrypt", &dec);
        assert_eq!(read(&s, "pt.bin"), secret, "{extra:?}");
    }
    // openssl encrypts, the TPM decrypts.
    let label_hex = format!("{}00", hex::encode("mylabel"));
    let label_opt = format!("rsa_oaep_label:{label_hex}");
    for (opts, tpm) in [
        (
            vec!["rsa_padding_mode:oaep", "rsa_oaep_md:sha256"],
            vec!["-s", "oaep"],
        ),
        (vec![], vec!["-s", "rsaes"]),
        (
            vec![
                "rsa_padding_mode:oaep",
                "rsa_oaep_md:sha256",
                label_opt.as_str(),
            ],
            vec!["-s", "oaep", "-l", "mylabel"],
        ),
    ] {
        let mut args = vec!["pkeyutl", "-encrypt", "-pubin", "-inkey", pem.as_str()];
        for o in &opts {
            args.extend(["-pkeyopt", o]);
        }
        args.extend(["-in", msg.as_str(), "-out", ct.as_str()]);
        openssl_ok(&args);
        let dec = [&["-c", key.as_str()][..], &tpm, &["-o", &pt, &ct]].concat();
        ok(&s, "tpm2_rsadecrypt", &dec);
        assert_eq!(read(&s, "pt.bin"), secret, "{opts:?}");
    }
    // The TPM encrypts (OAEP), openssl decrypts? It has no private key;
    // instead a wrong label must make the TPM's padding check fail.
    ok(
        &s,
        "tpm2_rsaencrypt",
        &["-c", &key, "-s", "oaep", "-l", "one", "-o", &ct, &msg],
    );
    let out = s.fails(
        "tpm2_rsadecrypt",
        &["-c", &key, "-s", "oaep", "-l", "two", "-o", &pt, &ct],
    );
    s.ok("tpm2_flushcontext", &["-t"]);
    assert_eq!(out.tpm_rc(), Some(0x084), "TPM_RC_VALUE: {out:?}");
}

fn encryptdecrypt_aes_and_sm4(p: Protocol) {
    let s = started(p);
    let key_bytes: Vec<u8> = (0..16u8)
        .map(|i| i.wrapping_mul(17).wrapping_add(3))
        .collect();
    let iv_bytes: Vec<u8> = (0..16u8).map(|i| 0xf0 ^ i).collect();
    let plain: Vec<u8> = (0..100u32).map(|i| (i * 7 % 256) as u8).collect();
    let key_file = s.write_file("sym.key", &key_bytes);
    let iv = s.write_file("iv.bin", &iv_bytes);
    let pt = s.write_file("plain.bin", &plain);
    let (ct, back, oct) = (
        path(&s, "ct.bin"),
        path(&s, "back.bin"),
        path(&s, "oct.bin"),
    );
    for (tpm_alg, ossl_alg) in [("aes128cfb", "-aes-128-cfb"), ("sm4128cfb", "-sm4-cfb")] {
        let ctx = path(&s, "sym.ctx");
        ok(
            &s,
            "tpm2_loadexternal",
            &["-C", "n", "-G", tpm_alg, "-r", &key_file, "-c", &ctx],
        );
        ok(
            &s,
            "tpm2_encryptdecrypt",
            &["-c", &ctx, "-t", &iv, "-o", &ct, &pt],
        );
        openssl_ok(&[
            "enc",
            ossl_alg,
            "-K",
            &hex::encode(&key_bytes),
            "-iv",
            &hex::encode(&iv_bytes),
            "-in",
            &pt,
            "-out",
            &oct,
        ]);
        let c = read(&s, "ct.bin");
        assert_eq!(c.len(), plain.len());
        assert_ne!(c, plain);
        assert_eq!(c, read(&s, "oct.bin"), "{tpm_alg} differs from openssl");
        ok(
            &s,
            "tpm2_encryptdecrypt",
            &["-c", &ctx, "-d", "-t", &iv, "-o", &back, &ct],
        );
        assert_eq!(read(&s, "back.bin"), plain, "{tpm_alg} round trip");
    }
}

/// TPM2B_ECC_POINT file contents.
fn point_2b(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut inner = (x.len() as u16).to_be_bytes().to_vec();
    inner.extend(x);
    inner.extend((y.len() as u16).to_be_bytes());
    inner.extend(y);
    let mut v = (inner.len() as u16).to_be_bytes().to_vec();
    v.extend(inner);
    v
}

/// x of a TPM2B_ECC_POINT file.
fn point_x(file: &[u8]) -> Vec<u8> {
    let n = u16::from_be_bytes([file[0], file[1]]) as usize;
    assert_eq!(n + 2, file.len(), "TPM2B_ECC_POINT file");
    let xn = u16::from_be_bytes([file[2], file[3]]) as usize;
    file[4..4 + xn].to_vec()
}

fn ecdh_keygen_and_zgen(p: Protocol) {
    let s = started(p);
    let key = path(&s, "ecdh.ctx");
    ok(
        &s,
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "ecc256:ecdh-sha256",
            "-a",
            DECRYPT_ATTRS,
            "-c",
            &key,
        ],
    );
    // KeyGen makes (Qe, Z = de·Qs); ZGen(Qe) with ds gives the same Z.
    let (qe, z1, z2) = (path(&s, "qe.pub"), path(&s, "z1.bin"), path(&s, "z2.bin"));
    ok(&s, "tpm2_ecdhkeygen", &["-c", &key, "-u", &qe, "-o", &z1]);
    ok(&s, "tpm2_ecdhzgen", &["-c", &key, "-u", &qe, "-o", &z2]);
    let z = read(&s, "z1.bin");
    assert_eq!(z, read(&s, "z2.bin"), "ECDH_KeyGen and ECDH_ZGen disagree");
    assert_eq!(point_x(&z).len(), 32);
    assert_ne!(read(&s, "qe.pub"), z);

    // A peer key made by openssl: the TPM's ZGen equals openssl's derive.
    let tpm_pem = path(&s, "tpm.pem");
    ok(
        &s,
        "tpm2_readpublic",
        &["-c", &key, "-f", "pem", "-o", &tpm_pem],
    );
    let peer = path(&s, "peer.pem");
    openssl_ok(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        &peer,
    ]);
    let peer_der = path(&s, "peer_pub.der");
    openssl_ok(&[
        "ec", "-in", &peer, "-pubout", "-outform", "DER", "-out", &peer_der,
    ]);
    let der = read(&s, "peer_pub.der");
    let pt = &der[der.len() - 65..];
    assert_eq!(pt[0], 4, "uncompressed point");
    let peer_point = s.write_file("peer.point", &point_2b(&pt[1..33], &pt[33..]));
    let z3 = path(&s, "z3.bin");
    ok(
        &s,
        "tpm2_ecdhzgen",
        &["-c", &key, "-u", &peer_point, "-o", &z3],
    );
    let zo = path(&s, "z_openssl.bin");
    openssl_ok(&[
        "pkeyutl", "-derive", "-inkey", &peer, "-peerkey", &tpm_pem, "-out", &zo,
    ]);
    assert_eq!(point_x(&read(&s, "z3.bin")), read(&s, "z_openssl.bin"));
    // A point off the curve is refused: TPM_RC_ECC_POINT on inPoint.
    let mut y = pt[33..].to_vec();
    y[31] ^= 1;
    let bad = s.write_file("bad.point", &point_2b(&pt[1..33], &y));
    let out = s.fails("tpm2_ecdhzgen", &["-c", &key, "-u", &bad, "-o", &z3]);
    s.ok("tpm2_flushcontext", &["-t"]);
    assert_eq!(out.tpm_rc(), Some(0x1e7), "{out:?}");
}
