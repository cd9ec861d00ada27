//! Secret sharing (salted sessions, credentials, duplication) against the
//! "labeled encapsulation" vectors of github.com/chrisfenner/tpm-test-vectors,
//! which were checked against TPMs through TPM2_StartAuthSession,
//! TPM2_ActivateCredential and TPM2_Import; plus round trips and hostile input.

use rand_core::{CryptoRng, RngCore};
use tpm::crypto::secret::{
    decrypt_seed, encrypt_seed, SeedPrivate, SeedPublic, LABEL_DUPLICATE, LABEL_IDENTITY,
    LABEL_SECRET,
};
use tpm::crypto::{
    CryptoError, Drbg, EccCurve, EccKeyPair, EccPoint, HashAlg, RsaKeyPair, RsaPublic,
};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Hands out exactly the octets it was given, in order.
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

fn name_alg(public: &[u8]) -> HashAlg {
    HashAlg::from_id(u16::from_be_bytes([public[2], public[3]])).unwrap()
}

struct EccVector {
    label: &'static str,
    ephemeral: &'static str,
    secret: &'static str,
    public: &'static str,
    ciphertext: &'static str,
}

const P256_SHA1: &str = "002300040003046000000006008000430010000300100020c83ef61e207350d3fbd754d2fc3ee92e86ca5bbddcd82bee45fbbd0ccc99cfa000203aed53f5f39e2734972f78029ae8a95e2fe25938a958d8553f22470d88c205bf";
const P256_SHA256_128: &str = "0023000b00030460000000060080004300100003001000207d1f639091f4f93753e5ca964f537491e2ee50058bdf8d93c2f6f165d02a6f2c00205b4e618a7dad9e0cbc7d974ff78ac75ac3ca7be3c54a2b064e0f42f3b43de892";
const P256_SHA256_256: &str = "0023000b0003046000000006010000430010000300100020fe4cf1f3e8f583c19e1af6190a7c20751658914a93cd77efb871cb1557377560002007b6b7c55bea1d17b1a9d96f367cf315b2942d517fd8642e9d9157036831c4d5";
const P256_SHA384: &str = "0023000c0003046000000006008000430010000300100020dad4ee6197c5272f524af7573365a1fb7623adcaf6485217a1da90da71478b2b00205cb46b5d9aa69c394879cb074633298bb03ddf8b47e3feef908504ac61edc8c5";

#[test]
fn ecc_encapsulation_matches_tpm_validated_vectors() {
    let vectors = [
        // 00_P256_SHA1_128_restricted, validated with TPM2_StartAuthSession.
        EccVector {
            label: "SECRET",
            ephemeral: "a8dae6cf3ecbe6873a4e0e2b206037a92412caa65cd20738fc72e81d3aea710c",
            secret: "dc8d5b2f053a4d13efddc1c39ae0da7879b47ead",
            public: P256_SHA1,
            ciphertext: "0020df2471de98da02cc40d4a4991d10ac8bd350649f066ee779531e538e17f835320020de203d5e506073f4a8bd3f3134726d88e0943796dc2363c8d62b1849aef7db2c",
        },
        // 06_P256_SHA256_128_restricted, TPM2_StartAuthSession.
        EccVector {
            label: "SECRET",
            ephemeral: "897989c19f950c5f32f3a2156832bb49b39b0562f372e6e180be309c2bbc07c0",
            secret: "428bee6074a8d9c43979617363ca78cedc7b56673d43750678c965d0fddeb4be",
            public: P256_SHA256_128,
            ciphertext: "00208588b3516e0cc43073b2577362ff1b712373213043bcb0c7364c74bfc6f626e200203534ac662cd4462172cdd0dbe3f0d0e28edb9e08484a3a34b8e8e00d9cb5b4c1",
        },
        // 12_P256_SHA256_256_restricted, TPM2_ActivateCredential.
        EccVector {
            label: "IDENTITY",
            ephemeral: "9efafbaf83563f8ac5a27815eae1017ca78c92f9cde976b1a2e0ad95b8a19bc1",
            secret: "2a03ff2b874e44d36a567e67a0bf08227b9e65a0e9ca5215d4a9e573c23159a1",
            public: P256_SHA256_256,
            ciphertext: "002017ca41bd94c7f12436cf135ff1852408ef6a1ee1989e4e6250ef73c348dd6fa90020346f6016d6f6a2ef8e07df6d7b53b362005fc21cda1e1ab25e61f38a87e017b8",
        },
        // 07_P256_SHA256_128_restricted, TPM2_Import.
        EccVector {
            label: "DUPLICATE",
            ephemeral: "7f6b770bd2b5ca9a5a08999823efc73c75fb0dd3b676ea9fc0ff53e9d845406e",
            secret: "7acf2e8296c4100f700c6ed84df8aded6f1b308fe469f74886bce6bb2d6d542e",
            public: P256_SHA256_128,
            ciphertext: "002073eecdd4c2ec3d396c3d77d2fd0760d4b155dd803708f84b92350e0f9899c00700205067d286710a4837e31767fbb7336c2cd74a0c3767572834cf4fc55e329a67ac",
        },
        // 20_P256_SHA384_128_restricted, TPM2_Import.
        EccVector {
            label: "DUPLICATE",
            ephemeral: "51a261fe51ce4b52796c6e31f9619ba63bb5bc0591f05da8a2f36284da5a90b0",
            secret: "67953a530758b0b9c3df20caf3ec4f7b1e0cbc39c92dc2a375696dad45ba1c881a8896d387fbfc91f90f9e36af697b8c",
            public: P256_SHA384,
            ciphertext: "002081163d3a883ca2d6424361ee7000d09a1d9063301adf891810077c37e5e7ec9e0020c3ec367e4b3a3b41c7b4ed556e6ed6ed060a3526755d291f575d02f2b74f7cc6",
        },
    ];
    for v in vectors {
        let public = h(v.public);
        let hash = name_alg(&public);
        // TPMT_PUBLIC ends with unique: TPMS_ECC_POINT (0x0020 x, 0x0020 y).
        let q = EccPoint::unmarshal(&public[public.len() - 68..]).unwrap();
        let (seed, ct) = encrypt_seed(
            SeedPublic::Ecc(EccCurve::NistP256, &q),
            hash,
            v.label.as_bytes(),
            &mut Fixed(h(v.ephemeral)),
        )
        .unwrap();
        assert_eq!(hex::encode(&*seed), v.secret, "{} {hash:?}", v.label);
        assert_eq!(hex::encode(&ct), v.ciphertext, "{} {hash:?}", v.label);
    }
}

struct RsaVector {
    label: &'static str,
    oaep_seed: &'static str,
    secret: &'static str,
    public: &'static str,
    ciphertext: &'static str,
}

#[test]
fn rsa_encapsulation_matches_tpm_validated_vectors() {
    let vectors = [
        // 00_2048_SHA1_128_restricted, validated with TPM2_ActivateCredential.
        RsaVector {
            label: "IDENTITY",
            oaep_seed: "e56cf0637db2dd60c1c7c3b954af363a8bca10ff",
            secret: "fd402efdd1db1fe0231271c8a2f7f2127bc2f8ff",
            public: "00010004000304600000000600800043001008000000000001008048d6eeb469fb88591a4c2d43878a8de8ecb83340ef5f8738e0d70350dc52788ff128c10c02d5297edd1c5c96ba6bc08a3a25570f7b2b2b3857ad249178d6861494fb9fdfe1892820cd6d0da1b836117df7f62aeda3129959f016494a02655e5ed350e3d03655c5d1a098ec6a400be495b373fa615800b24ff03a8aca66ca57cbb8db875f211737ff4d83d91c95721005b3759a7de2864d300a85362aa660b20f743c7bf790c8bb411ea4021f7153dbe27e11316cca4702066162b6a577dac3e9a4d9a371d32d5e0ab52417bf334d7088ec7a4beb2d10554877698fc465b6d8311ac4e6e82cc7352a1ebc2cab74bd3551c312219115896770dadb92240c0101",
            ciphertext: "6eefd19c65bd6322c7962264bbd37c3d2ceb9df5f90e92d97bcbf4331c7234cd7091ce8ce7196876185accb5a212a16152c59400f1529d7fcae6736235cde1b46a6d0d9f5402184ca95dfd7dfd15809946719a925cb905ae536d26752ba2147fde4b8ca0ecc3b5e950904f3f25290a01fdd51fea4d17f5015daa5a6d5bf5b98e07d1e63b315ac8a1c25fb968979ed1efea3ccd5fa34c6df4d6c976e1a61dc31f469566e8949b5f68e1ba33cb28406e6e76bdc30fad2399540d417f867c9adde2d89a8b18664c3d80486d3caba4b6c743add3ed62c2f24aca23892f359fce225f6a825b2f98681f752db15a5886591873b9d2d560d34bb95cdee8af2fb4c775d7",
        },
        // 07_2048_SHA256_128_restricted.
        RsaVector {
            label: "SECRET",
            oaep_seed: "00d89dc6335565397a612d87ea372b753701060709a79ad9171e9b468b944f40",
            secret: "ff5a3ac45f3ee8fa592f039c94a9bfdfb1e67709a6bff4bd8a7c54ed1be47df5",
            public: "0001000b000304600000000600800043001008000000000001008054bc2c75a670a0d6372d5d37944609a79e94865c48c16c46e9354912f4aab3213c2cb204f104329de5a6e21fd459ad7e5e6e9afbbd8ee14d22ebd23821815be7b3e225ffd06c0097b91b0e0d71c27d5eee235ea37ae1d6ff84ffca71ea9926103ab5da58befeaad5df0de20662cc05096706aeafaaa5b231e6bd0fddbb26c1fa1c9f05861e11525360373789f9e07c96d65f8a9f3483bb7d95e5286ed66b4ae5588e5ed38ab15d40059b5c7d8d9ef0a67d7ab9e0b923f618e5a2cddad5b644080391196d0214d6d4bef749cb8228b947ea0a1feb305414e0023ec6022e1b8098f96a53c1e878ddb85a3dc39dbbfc600bffaa34ace17465825ddccd7796dbaf",
            ciphertext: "7d28343b75b31731f4ab8a13947bbe4e0cf769001a9dd4b6bcdb7126ac6fbfd5cdd3aaae65712aa6cce001176bc103e7ac48e9cff55ac6544519da0d8ec51c41744498ba8f45478685550895cb6ff792c98a4ceb32b24e8f55a1282d7ccd99545eb7086333df9b193b41d342af46c95964360f255144f22df583608167c6cbb42da16aea1488c5a6e2fc99b7bf081cc02154ff94e835a871708b426d6da7b1bb67f37d70d1e77345bfd9cc0d4782df06eb987556ab6a9ed2dae457ad0a6f32f38c51d2321f10bac13b2f5d5ab20a5a05000323a86828ab6699a0dedfe623ac740a4820aab647acd18640d1731cc6afe9091f7cd472774fae1030e8e40fbcea7b",
        },
        // 21_2048_SHA384_256_restricted, validated with TPM2_Import.
        RsaVector {
            label: "DUPLICATE",
            oaep_seed: "a0767c4a9fd6b442f8f78a3429ef29c097384784a43b80cce552065f514c19818ea9e9b1c427f98c8ccc2b8578e287ff",
            secret: "edd91835ad4118d29ea7dbc51cdc682b9f2a54ae101c920d1157e6da34a5adf0b09bcf322b79b8518afc297c9d597c00",
            public: "0001000c00030460000000060100004300100800000000000100803dbf62c1cc6c54037724706b0c5c4b916ae4feb833cd72b6a0bbe9054254e6a7b95d0292fbd72d713c348a20245a9b48d13ae2b665171d82409a2012c2e61cbabdbef39180ace9bf74cb36e727507799638b4e47ee177c7611c12ea499c25469d209150cb8416369a5c0065faafac40fe7fb430da65f494ad37e68a664f27e5112dbf4229e7fb9cd772ef52ffd8c905158dae703c65ac306fd1932c8815cedc0eec9dab49b743e19515fe214220ca30990f1a22fbc72a0bb53022fe47a413e04f07b295cbd5af2892a48cd5dc8ceb7197c66445b8e3fc6c5ac940fe28dec985244c13ee5337e76298965c264fa29ea571f06594637c51935e850a24b707ad9",
            ciphertext: "23fe6a85a6a9e63201d6d12f56a96313bde98d4028fd1df871f76363894f4b2693976af0fa3ec5694a87bae164704ec32202d3ff7621e8f5f0a47926d82c900b00da987b76a039b6d2da5a94d1857f1b3cb53e575f55eff465a355f547077c1dd827bc555ff57626b22a49049a216eb163e41e1df861344d523aada65ac3f185a440a0b232261aa3458fd503d2999fa74d8c27b8d4ec8f24b0881011ac64074592d46c538e0035d7a4e3538275d76fb131d6fbdc31a5e320c9ee4ae98cbfac7a3acafae39462a93bfe898d23ef1fa03eec540c4fd437bfa0ef6c0a61903e6c1d216affd171c74fd2f6c81910684f8bfe50b7570deb3fad43f9eeca7215a038db",
        },
    ];
    for v in vectors {
        let public = h(v.public);
        let hash = name_alg(&public);
        let n = &public[public.len() - 256..];
        let e = u32::from_be_bytes(
            public[public.len() - 262..public.len() - 258]
                .try_into()
                .unwrap(),
        );
        let key = RsaPublic::new(n, e).unwrap();
        // The seed is drawn first, then the OAEP seed (as CryptSecretEncrypt).
        let rng = &mut Fixed([h(v.secret), h(v.oaep_seed)].concat());
        let (seed, ct) =
            encrypt_seed(SeedPublic::Rsa(&key), hash, v.label.as_bytes(), rng).unwrap();
        assert_eq!(hex::encode(&*seed), v.secret);
        assert_eq!(hex::encode(&ct), v.ciphertext, "{} {hash:?}", v.label);
    }
}

#[test]
fn round_trips_for_every_key_type_and_label() {
    let mut rng = Drbg::new([8; 32]);
    let rsa = RsaKeyPair::generate(&mut rng, 2048, 0).unwrap();
    let rsa_pub = rsa.public();
    for label in [
        LABEL_SECRET,
        LABEL_IDENTITY,
        LABEL_DUPLICATE,
        b"SECRET".as_slice(),
    ] {
        for hash in HashAlg::ALL {
            let (seed, ct) =
                encrypt_seed(SeedPublic::Rsa(&rsa_pub), hash, label, &mut rng).unwrap();
            assert_eq!(seed.len(), hash.digest_size());
            assert_eq!(ct.len(), 256);
            let back = decrypt_seed(SeedPrivate::Rsa(&rsa), hash, label, &ct, &mut rng).unwrap();
            assert_eq!(*back, *seed);
            for curve in EccCurve::ALL {
                let ecc = EccKeyPair::generate(curve, &mut rng).unwrap();
                let (seed, ct) =
                    encrypt_seed(SeedPublic::Ecc(curve, ecc.public()), hash, label, &mut rng)
                        .unwrap();
                assert_eq!(seed.len(), hash.digest_size());
                assert_eq!(ct.len(), 4 + 2 * curve.size());
                let back =
                    decrypt_seed(SeedPrivate::Ecc(&ecc), hash, label, &ct, &mut rng).unwrap();
                assert_eq!(*back, *seed, "{curve:?} {hash:?}");
            }
        }
    }
    // The label is bound: RSA fails to decrypt, ECC derives another seed.
    let (_, ct) = encrypt_seed(
        SeedPublic::Rsa(&rsa_pub),
        HashAlg::Sha256,
        LABEL_IDENTITY,
        &mut rng,
    )
    .unwrap();
    assert_eq!(
        decrypt_seed(
            SeedPrivate::Rsa(&rsa),
            HashAlg::Sha256,
            LABEL_DUPLICATE,
            &ct,
            &mut rng
        )
        .err(),
        Some(CryptoError::Value)
    );
    let ecc = EccKeyPair::generate(EccCurve::NistP256, &mut rng).unwrap();
    let (seed, ct) = encrypt_seed(
        SeedPublic::Ecc(EccCurve::NistP256, ecc.public()),
        HashAlg::Sha256,
        LABEL_IDENTITY,
        &mut rng,
    )
    .unwrap();
    let other = decrypt_seed(
        SeedPrivate::Ecc(&ecc),
        HashAlg::Sha256,
        LABEL_DUPLICATE,
        &ct,
        &mut rng,
    )
    .unwrap();
    assert_ne!(*other, *seed);
}

#[test]
fn rsa_seed_longer_than_the_digest_is_refused() {
    let mut rng = Drbg::new([9; 32]);
    let rsa = RsaKeyPair::generate(&mut rng, 2048, 0).unwrap();
    // A 64-octet secret encrypted with OAEP/SHA-256 is a valid ciphertext but
    // not a valid SHA-256 seed (CryptSecretDecrypt: TPM_RC_VALUE).
    let ct = rsa
        .public()
        .encrypt(
            tpm::crypto::rsa::RsaEncScheme::Oaep(HashAlg::Sha256),
            &[1u8; 64],
            LABEL_SECRET,
            &mut rng,
        )
        .unwrap();
    assert_eq!(
        decrypt_seed(
            SeedPrivate::Rsa(&rsa),
            HashAlg::Sha256,
            LABEL_SECRET,
            &ct,
            &mut rng
        )
        .err(),
        Some(CryptoError::Value)
    );
}

#[test]
fn hostile_encrypted_secrets_are_errors() {
    let mut rng = Drbg::new([10; 32]);
    let rsa = RsaKeyPair::generate(&mut rng, 1024, 0).unwrap();
    let ecc = EccKeyPair::generate(EccCurve::NistP384, &mut rng).unwrap();
    let ecc_key = SeedPrivate::Ecc(&ecc);
    let d =
        |k, b: &[u8], rng: &mut Drbg| decrypt_seed(k, HashAlg::Sha256, LABEL_SECRET, b, rng).err();
    assert_eq!(d(ecc_key, &[], &mut rng), Some(CryptoError::Insufficient));
    assert_eq!(
        d(ecc_key, &[0, 48], &mut rng),
        Some(CryptoError::Insufficient)
    );
    assert_eq!(
        d(ecc_key, &[0, 0, 0, 0], &mut rng),
        Some(CryptoError::EccPoint)
    );
    let mut m = ecc.public().marshal();
    m.push(0);
    assert_eq!(d(ecc_key, &m, &mut rng), Some(CryptoError::Size));
    let mut m = ecc.public().marshal();
    let last = m.len() - 1;
    m[last] ^= 1;
    assert_eq!(d(ecc_key, &m, &mut rng), Some(CryptoError::EccPoint));
    assert_eq!(
        d(SeedPrivate::Rsa(&rsa), &[1, 2, 3], &mut rng),
        Some(CryptoError::Size)
    );
    assert_eq!(
        d(SeedPrivate::Rsa(&rsa), &[0x55; 128], &mut rng),
        Some(CryptoError::Value)
    );
    // Random garbage of every length never panics.
    let mut buf = vec![0u8; 300];
    for len in 0..300 {
        rng.fill_bytes(&mut buf[..len]);
        let _ = decrypt_seed(
            SeedPrivate::Rsa(&rsa),
            HashAlg::Sha1,
            LABEL_SECRET,
            &buf[..len],
            &mut rng,
        );
        let _ = decrypt_seed(ecc_key, HashAlg::Sha1, LABEL_SECRET, &buf[..len], &mut rng);
    }
    // An ECC public key off the curve cannot be encrypted to.
    let bad = EccPoint::new(&[1; 48], &[2; 48]);
    assert_eq!(
        encrypt_seed(
            SeedPublic::Ecc(EccCurve::NistP384, &bad),
            HashAlg::Sha256,
            LABEL_SECRET,
            &mut rng
        )
        .err(),
        Some(CryptoError::EccPoint)
    );
    // OAEP with SHA-512 needs k >= 2*64 + 2 = 130 octets; a 1024-bit key has 128.
    assert_eq!(
        encrypt_seed(
            SeedPublic::Rsa(&rsa.public()),
            HashAlg::Sha512,
            LABEL_SECRET,
            &mut rng
        )
        .err(),
        Some(CryptoError::Hash)
    );
}
