//! Wire types of issue 3 (TPM 2.0 Part 2 §10–§15): keys, objects,
//! signatures, attestation, NV, contexts and sessions.
//!
//! * every type round-trips (proptest);
//! * arbitrary bytes never panic a decoder, and whatever decodes re-encodes
//!   to exactly the bytes consumed (the codecs are canonical);
//! * known-answer vectors captured from swtpm 0.7 (libtpms) with tpm2-tools
//!   5.4 (`tpm2_createek`, `tpm2_createak`, `tpm2_quote`, `tpm2_nvcertify`,
//!   `tpm2_certify`, `tpm2_gettime`, `tpm2_createprimary --creation-data`,
//!   `tpm2_certifycreation`,
//!   the context file of `tpm2_createak -c`) decode to the documented field
//!   values, re-encode byte for byte, and give the Names the TPM reported;
//! * malformed input earns the response code the reference unmarshallers
//!   give (Part 2 §6.6 via `WireError::rc`).

use proptest::prelude::*;
use tpm::constants::{alg, curve, rh, st};
use tpm::crypto::HashAlg;
use tpm::types::handles::{self, saved};
use tpm::types::{
    AlgList, AlgPolicy, AnyAlgorithm, AsymScheme, Attest, Attest2b, Attested, AuthTicketKind,
    CertifyInfo, ClockInfo, CommandAuditInfo, CommandCodeList, Context, ContextData2b,
    CreationData, CreationData2b, CreationInfo, Derive, Derive2b, Digest2b, EccParameter, EccParms,
    EccPoint, EccPoint2b, EccPrivateKey, EncryptedSecret2b, Ha, IdObject2b, Iv2b, KdfScheme,
    KeyedHashParms, KeyedHashScheme, Label2b, Limits, MaxNvBuffer, Name, NvAttributes,
    NvCertifyInfo, NvDigestCertifyInfo, NvPublic, NvPublic2b, NvType, ObjectAttributes, Operand2b,
    PcrSelection, PcrSelectionList, Private2b, PrivateKeyRsa, Public, Public2b, PublicId,
    PublicKeyRsa, PublicParms, QuoteInfo, RsaDecrypt, RsaParms, SeedValue, Sensitive, Sensitive2b,
    SensitiveComposite, SensitiveCreate, SensitiveCreate2b, SensitiveData, SessionAuditInfo,
    SessionType, SigScheme, Signature, SignatureEcc, SignatureRsa, SymCipherParms, SymDef,
    SymDefObject, SymKey, Template2b, TimeAttestInfo, TimeInfo, Timeout2b, TkAuth, TkCreation,
    TkVerified, ATTEST_MAX, CONTEXT_DATA_MAX, MAX_CONTEXT_SIZE, PRIVATE_MAX, TEMPLATE_MAX,
};
use tpm::wire::{Codec, Reader, Tpm2b, Tpm2bBytes, WireError};
use tpm::Rc;

// ---- policies ---------------------------------------------------------------

/// The engine's view: every algorithm Part 2 knows (so the tests do not
/// depend on the algorithm table), but this TPM's buffer limits
/// (`Limits::PROFILE`, the trait default), as `engine::algorithms::
/// Implemented` has.
struct Profile;

impl AlgPolicy for Profile {
    fn public_type(&self, id: u16) -> bool {
        AnyAlgorithm.public_type(id)
    }
    fn hash(&self, id: u16) -> bool {
        HashAlg::from_id(id).is_some()
    }
    fn sym_object(&self, id: u16) -> bool {
        AnyAlgorithm.sym_object(id)
    }
    fn sym_key_bits(&self, id: u16, bits: u16) -> bool {
        AnyAlgorithm.sym_key_bits(id, bits)
    }
    fn sym_mode(&self, id: u16) -> bool {
        AnyAlgorithm.sym_mode(id)
    }
    fn rsa_scheme(&self, id: u16) -> bool {
        AnyAlgorithm.rsa_scheme(id)
    }
    fn rsa_key_bits(&self, bits: u16) -> bool {
        AnyAlgorithm.rsa_key_bits(bits)
    }
    fn ecc_scheme(&self, id: u16) -> bool {
        // Like our table: no EC-Schnorr, ECDAA or ECMQV.
        matches!(id, alg::ECDSA | alg::ECDH | alg::SM2)
    }
    fn ecc_curve(&self, id: u16) -> bool {
        AnyAlgorithm.ecc_curve(id)
    }
    fn kdf(&self, id: u16) -> bool {
        AnyAlgorithm.kdf(id)
    }
    fn keyedhash_scheme(&self, id: u16) -> bool {
        AnyAlgorithm.keyedhash_scheme(id)
    }
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector hex")
}

// ---- generic properties -------------------------------------------------------

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(v: &T) {
    let b = v.to_bytes();
    let back = T::from_bytes(&b).unwrap_or_else(|e| panic!("decode {v:?}: {e:?}"));
    assert_eq!(&back, v);
    assert_eq!(back.to_bytes(), b);
}

/// Decoding arbitrary bytes never panics; a successful decode re-encodes to
/// exactly the consumed prefix.
fn canonical<T: Codec>(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(v) = T::decode(&mut r) {
        let used = r.position();
        assert_eq!(
            v.to_bytes(),
            &data[..used],
            "{}",
            std::any::type_name::<T>()
        );
    }
}

/// Like [`canonical`] for a policy-aware decoder.
fn canonical_with<T: Codec>(data: &[u8], f: impl Fn(&mut Reader<'_>) -> Result<T, WireError>) {
    let mut r = Reader::new(data);
    if let Ok(v) = f(&mut r) {
        let used = r.position();
        assert_eq!(
            v.to_bytes(),
            &data[..used],
            "{}",
            std::any::type_name::<T>()
        );
    }
}

fn dec_err<T: Codec + std::fmt::Debug>(b: &[u8]) -> WireError {
    match T::from_bytes(b) {
        Ok(v) => panic!("decoded {v:?} from {}", hex::encode(b)),
        Err(e) => e,
    }
}

// ---- strategies -----------------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

fn b2<const N: usize>(max: usize) -> impl Strategy<Value = Tpm2b<N>> {
    bytes(max.min(N)).prop_map(Tpm2b)
}

fn s2<const N: usize>(max: usize) -> impl Strategy<Value = Tpm2bBytes<N>> {
    bytes(max.min(N)).prop_map(Tpm2bBytes)
}

fn hash_alg() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::ALL.to_vec())
}

/// A TPMI_ALG_HASH value as the lenient decoder sees it: implemented
/// hashes and any other non-NULL, non-ERROR identifier.
fn hash_id() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => hash_alg().prop_map(HashAlg::id),
        1 => any::<u16>().prop_filter("not NULL/ERROR", |h| *h != alg::NULL && *h != alg::ERROR),
    ]
}

fn digest() -> impl Strategy<Value = Digest2b> {
    b2(64)
}

fn name() -> impl Strategy<Value = Name> {
    bytes(66).prop_map(|b| Name::new(b).unwrap())
}

fn ha() -> impl Strategy<Value = Ha> {
    hash_alg().prop_flat_map(|alg| {
        prop::collection::vec(any::<u8>(), alg.digest_size())
            .prop_map(move |digest| Ha { alg, digest })
    })
}

fn pcr_selection_list() -> impl Strategy<Value = PcrSelectionList> {
    prop::collection::vec(
        (hash_alg(), any::<[u8; 3]>()).prop_map(|(hash, select)| PcrSelection { hash, select }),
        0..=5,
    )
    .prop_map(PcrSelectionList)
}

fn clock_info() -> impl Strategy<Value = ClockInfo> {
    (any::<u64>(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(
        |(clock, reset_count, restart_count, safe)| ClockInfo {
            clock,
            reset_count,
            restart_count,
            safe,
        },
    )
}

fn sym_def_object(allow_null: bool) -> impl Strategy<Value = SymDefObject> {
    let cipher = (
        prop::sample::select(vec![alg::AES, alg::SM4, alg::CAMELLIA, alg::TDES]),
        any::<u16>(),
        prop::sample::select(vec![
            alg::CFB,
            alg::CBC,
            alg::CTR,
            alg::OFB,
            alg::ECB,
            alg::NULL,
        ]),
    )
        .prop_map(|(alg, key_bits, mode)| SymDefObject::Cipher {
            alg,
            key_bits,
            mode,
        });
    if allow_null {
        prop_oneof![Just(SymDefObject::Null), cipher].boxed()
    } else {
        cipher.boxed()
    }
}

fn rsa_scheme() -> impl Strategy<Value = AsymScheme> {
    prop_oneof![
        Just(AsymScheme::Null),
        Just(AsymScheme::Rsaes),
        hash_id().prop_map(AsymScheme::Rsassa),
        hash_id().prop_map(AsymScheme::Rsapss),
        hash_id().prop_map(AsymScheme::Oaep),
    ]
}

fn ecc_scheme() -> impl Strategy<Value = AsymScheme> {
    prop_oneof![
        Just(AsymScheme::Null),
        hash_id().prop_map(AsymScheme::Ecdsa),
        hash_id().prop_map(AsymScheme::Ecdh),
        hash_id().prop_map(AsymScheme::Sm2),
        hash_id().prop_map(AsymScheme::Ecschnorr),
        hash_id().prop_map(AsymScheme::Ecmqv),
        (hash_id(), any::<u16>()).prop_map(|(hash, count)| AsymScheme::Ecdaa { hash, count }),
    ]
}

fn kdf_scheme() -> impl Strategy<Value = KdfScheme> {
    prop_oneof![
        Just(KdfScheme::Null),
        hash_id().prop_map(KdfScheme::Mgf1),
        hash_id().prop_map(KdfScheme::Kdf1Sp800_56a),
        hash_id().prop_map(KdfScheme::Kdf2),
        hash_id().prop_map(KdfScheme::Kdf1Sp800_108),
    ]
}

fn keyedhash_scheme() -> impl Strategy<Value = KeyedHashScheme> {
    prop_oneof![
        Just(KeyedHashScheme::Null),
        hash_id().prop_map(KeyedHashScheme::Hmac),
        (
            hash_id(),
            prop::sample::select(vec![alg::NULL, alg::MGF1, alg::KDF1_SP800_108])
        )
            .prop_map(|(hash, kdf)| KeyedHashScheme::Xor { hash, kdf }),
    ]
}

fn ecc_point(max: usize) -> impl Strategy<Value = EccPoint> {
    (b2(max), b2(max)).prop_map(|(x, y)| EccPoint { x, y })
}

/// Parameters and a unique field of the same type.
fn parms_and_unique() -> impl Strategy<Value = (PublicParms, PublicId)> {
    prop_oneof![
        (
            sym_def_object(true),
            rsa_scheme(),
            any::<u16>(),
            any::<u32>(),
            b2(512)
        )
            .prop_map(|(symmetric, scheme, key_bits, exponent, n)| (
                PublicParms::Rsa(RsaParms {
                    symmetric,
                    scheme,
                    key_bits,
                    exponent
                }),
                PublicId::Rsa(n)
            )),
        (
            sym_def_object(true),
            ecc_scheme(),
            any::<u16>().prop_filter("curve", |c| *c != curve::NONE),
            kdf_scheme(),
            ecc_point(128)
        )
            .prop_map(|(symmetric, scheme, curve_id, kdf, p)| (
                PublicParms::Ecc(EccParms {
                    symmetric,
                    scheme,
                    curve_id,
                    kdf
                }),
                PublicId::Ecc(p)
            )),
        (keyedhash_scheme(), digest()).prop_map(|(scheme, d)| (
            PublicParms::KeyedHash(KeyedHashParms { scheme }),
            PublicId::KeyedHash(d)
        )),
        (sym_def_object(false), digest()).prop_map(|(sym, d)| (
            PublicParms::SymCipher(SymCipherParms { sym }),
            PublicId::SymCipher(d)
        )),
    ]
}

fn object_attributes() -> impl Strategy<Value = ObjectAttributes> {
    any::<u32>().prop_map(|b| ObjectAttributes(b & !ObjectAttributes::RESERVED))
}

fn public() -> impl Strategy<Value = Public> {
    (
        prop_oneof![Just(alg::NULL), hash_id()],
        object_attributes(),
        digest(),
        parms_and_unique(),
    )
        .prop_map(
            |(name_alg, attributes, auth_policy, (parameters, unique))| {
                Public::new(name_alg, attributes, auth_policy, parameters, unique).unwrap()
            },
        )
}

fn sensitive() -> impl Strategy<Value = Sensitive> {
    let composite = prop_oneof![
        s2(1280).prop_map(SensitiveComposite::Rsa),
        s2(128).prop_map(SensitiveComposite::Ecc),
        s2(128).prop_map(SensitiveComposite::KeyedHash),
        s2(32).prop_map(SensitiveComposite::SymCipher),
    ];
    (s2(64), s2(64), composite).prop_map(|(auth_value, seed_value, sensitive)| Sensitive {
        auth_value,
        seed_value,
        sensitive,
    })
}

fn sensitive_create() -> impl Strategy<Value = SensitiveCreate> {
    (s2(64), s2(128)).prop_map(|(user_auth, data)| SensitiveCreate { user_auth, data })
}

fn sig_scheme() -> impl Strategy<Value = SigScheme> {
    prop_oneof![
        Just(SigScheme::Null),
        hash_id().prop_map(SigScheme::Rsassa),
        hash_id().prop_map(SigScheme::Rsapss),
        hash_id().prop_map(SigScheme::Ecdsa),
        (hash_id(), any::<u16>()).prop_map(|(hash, count)| SigScheme::Ecdaa { hash, count }),
        hash_id().prop_map(SigScheme::Sm2),
        hash_id().prop_map(SigScheme::Ecschnorr),
        hash_id().prop_map(SigScheme::Hmac),
    ]
}

fn sig_rsa() -> impl Strategy<Value = SignatureRsa> {
    (hash_id(), b2(512)).prop_map(|(hash, sig)| SignatureRsa { hash, sig })
}

fn sig_ecc() -> impl Strategy<Value = SignatureEcc> {
    (hash_id(), b2(128), b2(128)).prop_map(|(hash, r, s)| SignatureEcc { hash, r, s })
}

fn signature() -> impl Strategy<Value = Signature> {
    prop_oneof![
        Just(Signature::Null),
        sig_rsa().prop_map(Signature::Rsassa),
        sig_rsa().prop_map(Signature::Rsapss),
        sig_ecc().prop_map(Signature::Ecdsa),
        sig_ecc().prop_map(Signature::Ecdaa),
        sig_ecc().prop_map(Signature::Sm2),
        sig_ecc().prop_map(Signature::Ecschnorr),
        ha().prop_map(Signature::Hmac),
    ]
}

fn rsa_decrypt() -> impl Strategy<Value = RsaDecrypt> {
    prop_oneof![
        Just(RsaDecrypt::Null),
        Just(RsaDecrypt::Rsaes),
        hash_id().prop_map(RsaDecrypt::Oaep),
    ]
}

fn attested() -> impl Strategy<Value = Attested> {
    prop_oneof![
        (name(), name()).prop_map(|(name, qualified_name)| Attested::Certify(CertifyInfo {
            name,
            qualified_name
        })),
        (name(), digest()).prop_map(|(object_name, creation_hash)| Attested::Creation(
            CreationInfo {
                object_name,
                creation_hash
            }
        )),
        (pcr_selection_list(), digest()).prop_map(|(pcr_select, pcr_digest)| Attested::Quote(
            QuoteInfo {
                pcr_select,
                pcr_digest
            }
        )),
        (any::<u64>(), any::<u16>(), digest(), digest()).prop_map(
            |(audit_counter, digest_alg, audit_digest, command_digest)| Attested::CommandAudit(
                CommandAuditInfo {
                    audit_counter,
                    digest_alg,
                    audit_digest,
                    command_digest
                }
            )
        ),
        (any::<bool>(), digest()).prop_map(|(exclusive_session, session_digest)| {
            Attested::SessionAudit(SessionAuditInfo {
                exclusive_session,
                session_digest,
            })
        }),
        (any::<u64>(), clock_info(), any::<u64>()).prop_map(|(time, clock_info, fw)| {
            Attested::Time(TimeAttestInfo {
                time: TimeInfo { time, clock_info },
                firmware_version: fw,
            })
        }),
        (name(), any::<u16>(), b2(1024)).prop_map(|(index_name, offset, nv_contents)| {
            Attested::Nv(NvCertifyInfo {
                index_name,
                offset,
                nv_contents,
            })
        }),
        (name(), digest()).prop_map(|(index_name, nv_digest)| Attested::NvDigest(
            NvDigestCertifyInfo {
                index_name,
                nv_digest
            }
        )),
    ]
}

fn attest() -> impl Strategy<Value = Attest> {
    (name(), b2(66), clock_info(), any::<u64>(), attested()).prop_map(
        |(qualified_signer, extra_data, clock_info, firmware_version, attested)| Attest {
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        },
    )
}

fn creation_data() -> impl Strategy<Value = CreationData> {
    (
        pcr_selection_list(),
        digest(),
        any::<u8>(),
        any::<u16>(),
        name(),
        name(),
        b2(66),
    )
        .prop_map(
            |(pcr_select, pcr_digest, locality, parent_name_alg, pn, pqn, outside_info)| {
                CreationData {
                    pcr_select,
                    pcr_digest,
                    locality,
                    parent_name_alg,
                    parent_name: pn,
                    parent_qualified_name: pqn,
                    outside_info,
                }
            },
        )
}

fn hierarchy() -> impl Strategy<Value = u32> {
    prop::sample::select(vec![rh::OWNER, rh::PLATFORM, rh::ENDORSEMENT, rh::NULL])
}

fn nv_public() -> impl Strategy<Value = NvPublic> {
    (
        0x0100_0000u32..=0x01FF_FFFF,
        hash_id(),
        any::<u32>(),
        digest(),
        any::<u16>(),
    )
        .prop_map(|(nv_index, name_alg, a, auth_policy, data_size)| NvPublic {
            nv_index,
            name_alg,
            attributes: NvAttributes(a & !NvAttributes::RESERVED),
            auth_policy,
            data_size,
        })
}

fn saved_handle() -> impl Strategy<Value = u32> {
    prop_oneof![
        prop::sample::select(vec![
            saved::TRANSIENT,
            saved::SEQUENCE,
            saved::TRANSIENT_ST_CLEAR
        ]),
        (0u32..64).prop_map(|i| rh::HMAC_SESSION_FIRST + i),
        (0u32..64).prop_map(|i| rh::POLICY_SESSION_FIRST + i),
    ]
}

fn sym_def() -> impl Strategy<Value = SymDef> {
    prop_oneof![
        Just(SymDef::Null),
        hash_id().prop_map(|hash| SymDef::Xor { hash }),
        sym_def_object(false).prop_map(SymDef::from),
    ]
}

// ---- round trips: every type ------------------------------------------------

proptest! {
    #[test]
    fn public_round_trips(p in public()) {
        round_trip(&p);
        round_trip(&Public2b(p.clone()));
        // The TPM2B size is exactly the TPMT_PUBLIC size.
        let b = Public2b(p.clone()).to_bytes();
        prop_assert_eq!(u16::from_be_bytes([b[0], b[1]]) as usize, b.len() - 2);
    }

    #[test]
    fn public_id_round_trips((parms, unique) in parms_and_unique()) {
        let mut b = Vec::new();
        unique.encode(&mut b);
        let back = PublicId::decode_with(parms.object_type(), &mut Reader::new(&b), &AnyAlgorithm).unwrap();
        prop_assert_eq!(back, unique);
    }

    #[test]
    fn object_and_nv_attributes_round_trip(a in object_attributes(), n in any::<u32>()) {
        round_trip(&a);
        round_trip(&NvAttributes(n & !NvAttributes::RESERVED));
    }

    #[test]
    fn sensitive_round_trips(s in sensitive(), present in any::<bool>()) {
        round_trip(&s);
        round_trip(&Sensitive2b(present.then_some(s)));
    }

    #[test]
    fn sensitive_create_and_derive_round_trip(s in sensitive_create(), l in b2(32), c in b2(32)) {
        round_trip(&s);
        round_trip(&SensitiveCreate2b(s));
        round_trip(&Derive { label: l, context: c });
    }

    #[test]
    fn name_round_trips(n in name()) {
        round_trip(&n);
    }

    #[test]
    fn ecc_point_round_trips(p in ecc_point(128)) {
        round_trip(&p);
        round_trip(&EccPoint2b(p));
    }

    #[test]
    fn key_buffers_round_trip(
        n in b2::<512>(512), e in b2::<128>(128), k in s2::<1280>(1280), ek in s2::<128>(128),
        sym in s2::<32>(32), data in s2::<128>(128), seed in s2::<64>(64), label in b2::<32>(32),
        derive in b2::<68>(68), iv in b2::<16>(16),
    ) {
        round_trip::<PublicKeyRsa>(&n);
        round_trip::<EccParameter>(&e);
        round_trip::<PrivateKeyRsa>(&k);
        round_trip::<EccPrivateKey>(&ek);
        round_trip::<SymKey>(&sym);
        round_trip::<SensitiveData>(&data);
        round_trip::<SeedValue>(&seed);
        round_trip::<Label2b>(&label);
        round_trip::<Derive2b>(&derive);
        round_trip::<Iv2b>(&iv);
    }

    #[test]
    fn opaque_buffers_round_trip(
        private in b2::<PRIVATE_MAX>(PRIVATE_MAX), id in b2::<132>(132),
        secret in b2::<512>(512), template in b2::<TEMPLATE_MAX>(TEMPLATE_MAX),
        nv in b2::<1024>(1024), timeout in b2::<8>(8), operand in b2::<64>(64),
        ctx in b2::<CONTEXT_DATA_MAX>(CONTEXT_DATA_MAX),
    ) {
        round_trip::<Private2b>(&private);
        round_trip::<IdObject2b>(&id);
        round_trip::<EncryptedSecret2b>(&secret);
        round_trip::<Template2b>(&template);
        round_trip::<MaxNvBuffer>(&nv);
        round_trip::<Timeout2b>(&timeout);
        round_trip::<Operand2b>(&operand);
        round_trip::<ContextData2b>(&ctx);
    }

    #[test]
    fn schemes_round_trip(s in sig_scheme(), d in rsa_decrypt()) {
        round_trip(&s);
        round_trip(&d);
    }

    #[test]
    fn signature_round_trips(s in signature()) {
        round_trip(&s);
    }

    #[test]
    fn attest_round_trips(a in attest()) {
        round_trip(&a);
        let a2b = Attest2b::from_attest(&a);
        round_trip(&a2b);
        prop_assert_eq!(a2b.attest().unwrap(), a.clone());
        prop_assert!(a2b.as_bytes().len() <= ATTEST_MAX);
        prop_assert_eq!(a.attest_type(), a.attested.attest_type());
    }

    #[test]
    fn creation_data_round_trips(c in creation_data()) {
        round_trip(&c);
        round_trip(&CreationData2b(c));
    }

    #[test]
    fn tickets_round_trip(h in hierarchy(), d in digest(), signed in any::<bool>()) {
        round_trip(&TkCreation { hierarchy: h, digest: d.clone() });
        round_trip(&TkVerified { hierarchy: h, digest: d.clone() });
        let kind = if signed { AuthTicketKind::Signed } else { AuthTicketKind::Secret };
        round_trip(&TkAuth { kind, hierarchy: h, digest: d });
    }

    #[test]
    fn nv_public_round_trips(p in nv_public()) {
        round_trip(&p);
        round_trip(&NvPublic2b(p));
    }

    #[test]
    fn context_round_trips(sequence in any::<u64>(), h in saved_handle(), hier in hierarchy(), blob in b2::<CONTEXT_DATA_MAX>(CONTEXT_DATA_MAX)) {
        round_trip(&Context { sequence, saved_handle: h, hierarchy: hier, blob });
    }

    #[test]
    fn session_types_round_trip(
        s in prop::sample::select(vec![SessionType::Hmac, SessionType::Policy, SessionType::Trial]),
        d in sym_def(),
        ccs in prop::collection::vec(any::<u32>(), 0..=254),
        algs in prop::collection::vec(any::<u16>(), 0..=64),
    ) {
        round_trip(&s);
        round_trip(&d);
        round_trip(&CommandCodeList(ccs));
        round_trip(&AlgList(algs));
    }

    /// No decoder panics on arbitrary input, and every successful decode is
    /// canonical.
    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(600)) {
        canonical::<Public>(&data);
        canonical::<Public2b>(&data);
        canonical::<ObjectAttributes>(&data);
        canonical::<Sensitive>(&data);
        canonical::<Sensitive2b>(&data);
        canonical::<SensitiveCreate>(&data);
        canonical::<SensitiveCreate2b>(&data);
        canonical::<Derive>(&data);
        canonical::<Name>(&data);
        canonical::<EccPoint>(&data);
        canonical::<EccPoint2b>(&data);
        canonical::<SigScheme>(&data);
        canonical::<RsaDecrypt>(&data);
        canonical::<Signature>(&data);
        canonical::<Attest>(&data);
        canonical::<Attest2b>(&data);
        canonical::<CreationData>(&data);
        canonical::<CreationData2b>(&data);
        canonical::<TkCreation>(&data);
        canonical::<TkVerified>(&data);
        canonical::<TkAuth>(&data);
        canonical::<NvAttributes>(&data);
        canonical::<NvPublic>(&data);
        canonical::<NvPublic2b>(&data);
        canonical::<Context>(&data);
        canonical::<SessionType>(&data);
        canonical::<SymDef>(&data);
        canonical::<CommandCodeList>(&data);
        canonical::<AlgList>(&data);
        canonical::<PrivateKeyRsa>(&data);
        canonical::<Private2b>(&data);
        canonical::<EncryptedSecret2b>(&data);
        canonical_with(&data, |r| Public2b::decode_with(r, &Profile, false));
        canonical_with(&data, |r| Sensitive2b::decode_with(r, &Profile));
        canonical_with(&data, |r| Signature::decode_with(r, &Profile, false));
        canonical_with(&data, |r| SigScheme::decode_with(r, &Profile, false));
        canonical_with(&data, |r| NvPublic2b::decode_with(r, &Profile));
        canonical_with(&data, |r| EccPoint2b::decode_with(r, &Profile));
        canonical_with(&data, |r| SymDef::decode_with(r, &Profile, false));
        canonical_with(&data, |r| RsaDecrypt::decode_with(r, &Profile, false));
        canonical_with(&data, |r| Limits::PROFILE.read_encrypted_secret(r));
    }

    /// Structured garbage: a valid public area with one byte changed still
    /// never panics and stays canonical (reaches deeper than random bytes).
    #[test]
    fn mutated_public_areas_never_panic(p in public(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut b = Public2b(p).to_bytes();
        let i = at.index(b.len());
        b[i] = v;
        canonical::<Public2b>(&b);
        canonical_with(&b, |r| Public2b::decode_with(r, &Profile, false));
    }

    #[test]
    fn mutated_attests_never_panic(a in attest(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut b = a.to_bytes();
        let i = at.index(b.len());
        b[i] = v;
        canonical::<Attest>(&b);
    }
}

// ---- known answers: structures made by swtpm (libtpms) -----------------------

/// PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256: the authPolicy of every
/// low-range template of the TCG EK Credential Profile (2.3 §B.3.3).
const EK_POLICY: &str = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";
/// TPMA_OBJECT of the EK templates: fixedTPM, fixedParent,
/// sensitiveDataOrigin, adminWithPolicy, restricted, decrypt.
const EK_ATTRIBUTES: u32 = 0x0003_00b2;

fn aes128_cfb() -> SymDefObject {
    SymDefObject::Cipher {
        alg: alg::AES,
        key_bits: 128,
        mode: alg::CFB,
    }
}

/// Template L-1 of the EK Credential Profile: RSA 2048, AES-128-CFB, no
/// scheme, default exponent, a 256-byte all-zero unique.
fn ek_template_l1() -> Public {
    Public::new(
        alg::SHA256,
        ObjectAttributes::new(EK_ATTRIBUTES).unwrap(),
        Digest2b::new(hex(EK_POLICY)).unwrap(),
        PublicParms::Rsa(RsaParms {
            symmetric: aes128_cfb(),
            scheme: AsymScheme::Null,
            key_bits: 2048,
            exponent: 0,
        }),
        PublicId::Rsa(PublicKeyRsa::new(vec![0; 256]).unwrap()),
    )
    .unwrap()
}

/// Template L-2: ECC NIST P-256, AES-128-CFB, no scheme, no KDF, 32-byte
/// all-zero coordinates.
fn ek_template_l2() -> Public {
    Public::new(
        alg::SHA256,
        ObjectAttributes::new(EK_ATTRIBUTES).unwrap(),
        Digest2b::new(hex(EK_POLICY)).unwrap(),
        PublicParms::Ecc(EccParms {
            symmetric: aes128_cfb(),
            scheme: AsymScheme::Null,
            curve_id: curve::NIST_P256,
            kdf: KdfScheme::Null,
        }),
        PublicId::Ecc(EccPoint {
            x: EccParameter::new(vec![0; 32]).unwrap(),
            y: EccParameter::new(vec![0; 32]).unwrap(),
        }),
    )
    .unwrap()
}

#[test]
fn ek_rsa_public_area_matches_template_l1_and_its_name() {
    let bytes = hex(EK_RSA_PUB);
    let p = Public2b::from_bytes(&bytes).expect("TPM2B_PUBLIC").0;
    assert_eq!(p.object_type(), alg::RSA);
    assert_eq!(p.name_alg, alg::SHA256);
    let a = p.attributes;
    assert_eq!(a.0, EK_ATTRIBUTES);
    assert!(a.fixed_tpm() && a.fixed_parent() && a.sensitive_data_origin());
    assert!(a.admin_with_policy() && a.restricted() && a.decrypt());
    assert!(!a.user_with_auth() && !a.sign_encrypt() && !a.st_clear() && !a.no_da());
    assert_eq!(p.auth_policy.as_slice(), hex(EK_POLICY).as_slice());
    let PublicId::Rsa(n) = &p.unique else {
        panic!("unique {:?}", p.unique)
    };
    assert_eq!(n.len(), 256);
    assert_eq!(n.as_slice()[0], 0xad);
    // Same as the template except for the key the TPM put in `unique`.
    let mut expected = ek_template_l1();
    expected.unique = p.unique.clone();
    assert_eq!(p, expected);
    // The template itself marshals to the 314 bytes + size the profile gives.
    assert_eq!(Public2b(ek_template_l1()).to_bytes().len(), 316);
    assert_eq!(&Public2b(ek_template_l1()).to_bytes()[..2], &[0x01, 0x3a]);
    // Byte for byte, and the Name swtpm reported (tpm2_readpublic -n).
    assert_eq!(Public2b(p.clone()).to_bytes(), bytes);
    assert_eq!(p.name().unwrap().as_bytes(), hex(EK_RSA_NAME).as_slice());
    // The engine's profile accepts it too, with NULL nameAlg refused.
    let strict = Public2b::decode_with(&mut Reader::new(&bytes), &Profile, false).unwrap();
    assert_eq!(strict.0, p);
}

#[test]
fn ek_ecc_public_area_matches_template_l2_and_its_name() {
    let bytes = hex(EK_ECC_PUB);
    let p = Public2b::from_bytes(&bytes).expect("TPM2B_PUBLIC").0;
    let PublicId::Ecc(point) = &p.unique else {
        panic!("unique {:?}", p.unique)
    };
    assert_eq!((point.x.len(), point.y.len()), (32, 32));
    let mut expected = ek_template_l2();
    expected.unique = p.unique.clone();
    assert_eq!(p, expected);
    assert_eq!(Public2b(p.clone()).to_bytes(), bytes);
    assert_eq!(p.name().unwrap().as_bytes(), hex(EK_ECC_NAME).as_slice());
}

#[test]
fn attestation_keys_decode_and_name() {
    for (pubkey, name, ty, scheme) in [
        (
            AK_ECC_PUB,
            AK_ECC_NAME,
            alg::ECC,
            AsymScheme::Ecdsa(alg::SHA256),
        ),
        (
            AK_RSA_PUB,
            AK_RSA_NAME,
            alg::RSA,
            AsymScheme::Rsassa(alg::SHA256),
        ),
    ] {
        let bytes = hex(pubkey);
        let p = Public2b::from_bytes(&bytes).unwrap().0;
        assert_eq!(p.object_type(), ty);
        // tpm2_createak: fixedTPM|fixedParent|sensitiveDataOrigin|
        // userWithAuth|restricted|sign.
        assert_eq!(p.attributes.0, 0x0005_0072);
        assert!(p.attributes.restricted() && p.attributes.sign_encrypt());
        let s = match p.parameters {
            PublicParms::Rsa(r) => r.scheme,
            PublicParms::Ecc(e) => e.scheme,
            other => panic!("{other:?}"),
        };
        assert_eq!(s, scheme);
        assert_eq!(p.name().unwrap().as_bytes(), hex(name).as_slice());
        assert_eq!(Public2b(p).to_bytes(), bytes);
    }
}

/// Qualified Names chain from the hierarchy handle through the EK to the
/// AK (Part 1 §16.3); the quote's qualifiedSigner is the AK's.
fn ak_ecc_qualified_name() -> Name {
    let ek = Name::new(hex(EK_RSA_NAME)).unwrap();
    let endorsement = Name::from_handle(rh::ENDORSEMENT).unwrap();
    let ek_qn = Name::qualified(HashAlg::Sha256, &endorsement, &ek);
    // tpm2_readpublic printed this qualified name for the EK.
    assert_eq!(
        hex::encode(ek_qn.as_bytes()),
        "000b37cfd9981e238532c466561627c976d35e085cec557a4468f2b8b51735d28320"
    );
    Name::qualified(
        HashAlg::Sha256,
        &ek_qn,
        &Name::new(hex(AK_ECC_NAME)).unwrap(),
    )
}

#[test]
fn ecdsa_quote_decodes_field_by_field() {
    let raw = hex(QUOTE_ECC_ATTEST);
    let a2b = Attest2b::new(raw.clone()).unwrap();
    let a = a2b.attest().expect("TPMS_ATTEST");
    assert_eq!(a.attest_type(), st::ATTEST_QUOTE);
    assert_eq!(a.qualified_signer, ak_ecc_qualified_name());
    assert_eq!(a.extra_data.as_slice(), hex("0102030405060708").as_slice());
    assert_eq!(
        a.clock_info.clock, 0x3a57,
        "milliseconds since swtpm started"
    );
    assert_eq!(a.clock_info.reset_count, 1);
    assert_eq!(a.clock_info.restart_count, 0);
    assert!(a.clock_info.safe);
    assert_eq!(
        a.firmware_version, 0x2019_1023_0016_3636,
        "libtpms firmware version"
    );
    let Attested::Quote(q) = &a.attested else {
        panic!("{:?}", a.attested)
    };
    assert_eq!(
        q.pcr_select.0,
        vec![PcrSelection::with(HashAlg::Sha256, &[0, 1, 2])]
    );
    // PCRs 0..2 of a fresh swtpm are zero: the digest is SHA-256 of 96 zeros.
    assert_eq!(
        q.pcr_digest.as_slice(),
        HashAlg::Sha256.digest(&[&[0u8; 96]]).as_slice()
    );
    assert_eq!(a.to_bytes(), raw);
    // As a TPM2B_ATTEST on the wire.
    let mut wire = (raw.len() as u16).to_be_bytes().to_vec();
    wire.extend_from_slice(&raw);
    assert_eq!(Attest2b::from_bytes(&wire).unwrap(), a2b);

    let sig = hex(QUOTE_ECC_SIG);
    let s = Signature::decode_with(&mut Reader::new(&sig), &Profile, false).unwrap();
    let Signature::Ecdsa(e) = &s else {
        panic!("{s:?}")
    };
    assert_eq!(e.hash, alg::SHA256);
    assert_eq!((e.r.len(), e.s.len()), (32, 32));
    assert_eq!(s.sig_alg(), alg::ECDSA);
    assert_eq!(s.hash(), Some(alg::SHA256));
    assert_eq!(s.to_bytes(), sig);
}

#[test]
fn rsassa_quote_over_two_banks() {
    let raw = hex(QUOTE_RSA_ATTEST);
    let a = Attest::from_bytes(&raw).unwrap();
    let Attested::Quote(q) = &a.attested else {
        panic!("{:?}", a.attested)
    };
    assert_eq!(
        q.pcr_select.0,
        vec![
            PcrSelection::with(HashAlg::Sha1, &[0]),
            PcrSelection::with(HashAlg::Sha256, &[7])
        ]
    );
    // SHA-1 PCR 0 then SHA-256 PCR 7, all zero: 52 zero bytes.
    assert_eq!(
        q.pcr_digest.as_slice(),
        HashAlg::Sha256.digest(&[&[0u8; 52]]).as_slice()
    );
    assert_eq!(a.extra_data.as_slice(), &[0xaa, 0xbb]);
    assert_eq!(a.to_bytes(), raw);

    let sig = hex(QUOTE_RSA_SIG);
    let s = Signature::from_bytes(&sig).unwrap();
    let Signature::Rsassa(r) = &s else {
        panic!("{s:?}")
    };
    assert_eq!((r.hash, r.sig.len()), (alg::SHA256, 256));
    assert_eq!(s.to_bytes(), sig);
}

/// The NV index tpm2_nvdefine made: 0x1500016, SHA-256, ownerread|
/// ownerwrite|authread|authwrite (+written after the write), 32 bytes.
fn nv_index() -> NvPublic {
    NvPublic {
        nv_index: 0x0150_0016,
        name_alg: alg::SHA256,
        attributes: NvAttributes::new(0x2006_0006).unwrap(),
        auth_policy: Digest2b::empty(),
        data_size: 32,
    }
}

#[test]
fn nv_public_name_matches_tpm2_nvreadpublic() {
    let p = nv_index();
    let a = p.attributes;
    assert!(a.contains(NvAttributes::OWNERWRITE | NvAttributes::AUTHWRITE));
    assert!(a.contains(NvAttributes::OWNERREAD | NvAttributes::AUTHREAD));
    assert!(a.contains(NvAttributes::WRITTEN));
    assert!(!a.contains(NvAttributes::PPWRITE) && !a.contains(NvAttributes::READLOCKED));
    assert_eq!(a.nv_type(), Some(NvType::Ordinary));
    assert_eq!(
        hex::encode(p.name().unwrap().as_bytes()),
        "000be2d663da4fcf077ab479514b7c4db4191b9931cf9551f0b70af9193ff27599ca"
    );
    // TPM2B_NV_PUBLIC: 4 + 2 + 4 + 2 + 2 bytes.
    let b = NvPublic2b(p.clone()).to_bytes();
    assert_eq!(hex::encode(&b), "000e01500016000b2006000600000020");
    assert_eq!(
        NvPublic2b::decode_with(&mut Reader::new(&b), &Profile)
            .unwrap()
            .0,
        p
    );
    // TPM_NT in bits 4..7.
    let counter = a.with_type(NvType::Counter);
    assert_eq!(counter.0, 0x2006_0016);
    assert_eq!(counter.nv_type(), Some(NvType::Counter));
    assert_eq!(NvAttributes(0x70).nv_type(), None);
}

#[test]
fn nv_certify_attestations() {
    let index_name = nv_index().name().unwrap();
    let a = Attest::from_bytes(&hex(NV_CERTIFY_ATTEST)).unwrap();
    assert_eq!(a.attest_type(), st::ATTEST_NV);
    assert_eq!(a.qualified_signer, ak_ecc_qualified_name());
    let Attested::Nv(nv) = &a.attested else {
        panic!("{:?}", a.attested)
    };
    assert_eq!(nv.index_name, index_name);
    assert_eq!(nv.offset, 4);
    assert_eq!(nv.nv_contents.as_slice(), b"456789abcdef0123");
    assert_eq!(a.to_bytes(), hex(NV_CERTIFY_ATTEST));

    // Size 0, offset 0: TPM_ST_ATTEST_NV_DIGEST over the whole index.
    let d = Attest::from_bytes(&hex(NV_DIGEST_ATTEST)).unwrap();
    assert_eq!(d.attest_type(), st::ATTEST_NV_DIGEST);
    let Attested::NvDigest(nd) = &d.attested else {
        panic!("{:?}", d.attested)
    };
    assert_eq!(nd.index_name, index_name);
    assert_eq!(
        nd.nv_digest.as_slice(),
        HashAlg::Sha256
            .digest(&[b"0123456789abcdef0123456789abcdef"])
            .as_slice()
    );
    assert_eq!(d.to_bytes(), hex(NV_DIGEST_ATTEST));
}

#[test]
fn certify_and_time_attestations() {
    let a = Attest::from_bytes(&hex(CERTIFY_ATTEST)).unwrap();
    let Attested::Certify(c) = &a.attested else {
        panic!("{:?}", a.attested)
    };
    let ak_rsa = Name::new(hex(AK_RSA_NAME)).unwrap();
    assert_eq!(c.name, ak_rsa);
    let ek = Name::new(hex(EK_RSA_NAME)).unwrap();
    let ek_qn = Name::qualified(
        HashAlg::Sha256,
        &Name::from_handle(rh::ENDORSEMENT).unwrap(),
        &ek,
    );
    assert_eq!(
        c.qualified_name,
        Name::qualified(HashAlg::Sha256, &ek_qn, &ak_rsa)
    );
    assert_eq!(a.to_bytes(), hex(CERTIFY_ATTEST));

    let t = Attest::from_bytes(&hex(TIME_ATTEST)).unwrap();
    let Attested::Time(ti) = &t.attested else {
        panic!("{:?}", t.attested)
    };
    // GetTime reports the same clock in the header and the body.
    assert_eq!(ti.time.clock_info, t.clock_info);
    assert_eq!(ti.firmware_version, t.firmware_version);
    assert_eq!(t.extra_data.as_slice(), &[0x55]);
    assert_eq!(t.qualified_signer, c.qualified_name);
    assert_eq!(t.to_bytes(), hex(TIME_ATTEST));
}

#[test]
fn creation_data_hash_and_ticket() {
    let raw = hex(CREATION_DATA);
    let cd = CreationData2b::from_bytes(&raw).unwrap().0;
    assert_eq!(
        cd.pcr_select.0,
        vec![PcrSelection::with(HashAlg::Sha256, &[0, 1])]
    );
    assert_eq!(
        cd.pcr_digest.as_slice(),
        HashAlg::Sha256.digest(&[&[0u8; 64]]).as_slice()
    );
    assert_eq!(cd.locality, 0x01, "TPMA_LOCALITY locality 0");
    // A primary object's parent is its hierarchy: NULL nameAlg, handle Names.
    assert_eq!(cd.parent_name_alg, alg::NULL);
    let owner = Name::from_handle(rh::OWNER).unwrap();
    assert_eq!(cd.parent_name, owner);
    assert_eq!(cd.parent_qualified_name, owner);
    assert_eq!(owner.handle(), Some(rh::OWNER));
    assert_eq!(cd.outside_info.as_slice(), hex("99887766").as_slice());
    assert_eq!(CreationData2b(cd.clone()).to_bytes(), raw);
    // creationHash (tpm2_createprimary -d) is SHA-256 of TPMS_CREATION_DATA.
    let hash = Digest2b::from_bytes(&hex(CREATION_HASH)).unwrap();
    assert_eq!(
        hash.as_slice(),
        HashAlg::Sha256.digest(&[&cd.to_bytes()]).as_slice()
    );

    let tk = TkCreation::from_bytes(&hex(CREATION_TICKET)).unwrap();
    assert_eq!(tk.hierarchy, rh::OWNER);
    assert_eq!(tk.digest.len(), 64);
    assert_eq!(tk.to_bytes(), hex(CREATION_TICKET));

    // TPM2_CertifyCreation of that primary with that hash and ticket.
    let a = Attest::from_bytes(&hex(CERTIFY_CREATION_ATTEST)).unwrap();
    assert_eq!(a.attest_type(), st::ATTEST_CREATION);
    assert_eq!(a.qualified_signer, ak_ecc_qualified_name());
    assert_eq!(a.extra_data.as_slice(), &[0x77]);
    let Attested::Creation(c) = &a.attested else {
        panic!("{:?}", a.attested)
    };
    assert_eq!(c.object_name.as_bytes(), hex(PRIMARY_NAME).as_slice());
    assert_eq!(c.creation_hash, hash);
    assert_eq!(a.to_bytes(), hex(CERTIFY_CREATION_ATTEST));
}

#[test]
fn saved_context_from_swtpm() {
    // tpm2-tools' context file: magic, version, hierarchy, savedHandle,
    // sequence, then the TPM2B_CONTEXT_DATA. Rebuild the TPMS_CONTEXT.
    let f = hex(AK_ECC_CONTEXT_FILE);
    assert_eq!(&f[..8], &hex("badcc0de00000001")[..]);
    let mut ctx = Vec::new();
    ctx.extend_from_slice(&f[16..24]); // sequence
    ctx.extend_from_slice(&f[12..16]); // savedHandle
    ctx.extend_from_slice(&f[8..12]); // hierarchy
    ctx.extend_from_slice(&f[24..]); // contextBlob
    let c = Context::from_bytes(&ctx).unwrap();
    assert_eq!(c.saved_handle, saved::TRANSIENT);
    assert_eq!(c.hierarchy, rh::ENDORSEMENT);
    assert_eq!(c.blob.len(), 548);
    assert!(c.blob.len() <= CONTEXT_DATA_MAX && MAX_CONTEXT_SIZE == 2680);
    assert_eq!(c.to_bytes(), ctx);
}

// ---- response codes for malformed input ------------------------------------

/// The EK public area with `f` applied to its TPMT_PUBLIC bytes and the
/// size field kept consistent.
fn ek_with(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut inner = hex(EK_RSA_PUB)[2..].to_vec();
    f(&mut inner);
    let mut b = (inner.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(&inner);
    b
}

fn strict_public(b: &[u8]) -> Result<Public2b, WireError> {
    let mut r = Reader::new(b);
    let v = Public2b::decode_with(&mut r, &Profile, false)?;
    if !r.is_empty() {
        return Err(WireError::Size);
    }
    Ok(v)
}

#[test]
fn public_area_size_rules() {
    // Size 0 is TPM_RC_SIZE (TPM2B_PUBLIC may not be empty).
    assert_eq!(dec_err::<Public2b>(&[0, 0]), WireError::Size);
    assert_eq!(WireError::Size.rc(), Rc::SIZE);
    // Declared size one larger than the area, with a spare byte present.
    let mut b = hex(EK_RSA_PUB);
    b[1] += 1;
    b.push(0);
    assert_eq!(dec_err::<Public2b>(&b), WireError::Size);
    // Declared size one smaller than the area.
    let mut b = hex(EK_RSA_PUB);
    b[1] -= 1;
    assert_eq!(dec_err::<Public2b>(&b), WireError::Size);
    // Truncated input is TPM_RC_INSUFFICIENT.
    let b = hex(EK_RSA_PUB);
    assert_eq!(dec_err::<Public2b>(&b[..100]), WireError::Insufficient);
}

#[test]
fn public_area_field_codes() {
    // Bad type: TPM_RC_TYPE.
    assert_eq!(
        strict_public(&ek_with(|b| b[1] = 0x02)).unwrap_err(),
        WireError::Type
    );
    // nameAlg NULL: TPM_RC_HASH unless the "+" allows it.
    let null_name = ek_with(|b| b[3] = 0x10);
    assert_eq!(strict_public(&null_name).unwrap_err(), WireError::Hash);
    let p = Public2b::decode_with(&mut Reader::new(&null_name), &Profile, true).unwrap();
    assert_eq!(p.0.name_alg, alg::NULL);
    assert_eq!(p.0.name(), Some(Name::empty()));
    // An unimplemented hash: TPM_RC_HASH for the engine, fine for the verifier.
    let sha3 = ek_with(|b| b[3] = 0x27);
    assert_eq!(strict_public(&sha3).unwrap_err(), WireError::Hash);
    let lenient = Public2b::from_bytes(&sha3).unwrap();
    assert_eq!(
        lenient.0.name(),
        None,
        "no Name for a hash we cannot compute"
    );
    // A reserved attribute bit (bit 0): TPM_RC_RESERVED_BITS.
    let reserved = ek_with(|b| b[7] |= 0x01);
    assert_eq!(
        strict_public(&reserved).unwrap_err(),
        WireError::ReservedBits
    );
    assert_eq!(WireError::ReservedBits.rc(), Rc::RESERVED_BITS);
    assert_eq!(Rc::RESERVED_BITS.param(1).0, 0x1e1);
    for bit in [0u32, 3, 8, 9, 12, 15, 20, 31] {
        assert_eq!(
            ObjectAttributes::new(1 << bit),
            Err(WireError::ReservedBits),
            "bit {bit}"
        );
    }
    for bit in [1u32, 2, 4, 5, 6, 7, 10, 11, 16, 17, 18, 19] {
        assert!(ObjectAttributes::new(1 << bit).is_ok(), "bit {bit}");
    }
}

#[test]
fn key_buffer_limits_follow_the_policy() {
    // A 3072-bit modulus fits the profile; 4096 bits only the verifier.
    let rsa = |bytes: usize| {
        let mut p = ek_template_l1();
        p.unique = PublicId::Rsa(PublicKeyRsa::new(vec![1; bytes]).unwrap());
        Public2b(p).to_bytes()
    };
    assert!(strict_public(&rsa(384)).is_ok());
    assert_eq!(strict_public(&rsa(385)).unwrap_err(), WireError::Size);
    assert!(Public2b::from_bytes(&rsa(512)).is_ok());
    assert_eq!(PublicKeyRsa::new(vec![0; 513]), Err(WireError::Size));
    // ECC: 48-byte (P-384) coordinates for the engine, 66 (P-521) for any TPM.
    let ecc = |bytes: usize| {
        let mut p = ek_template_l2();
        p.unique = PublicId::Ecc(EccPoint {
            x: EccParameter::new(vec![1; bytes]).unwrap(),
            y: EccParameter::new(vec![2; bytes]).unwrap(),
        });
        Public2b(p).to_bytes()
    };
    assert!(strict_public(&ecc(48)).is_ok());
    assert_eq!(strict_public(&ecc(49)).unwrap_err(), WireError::Size);
    assert!(Public2b::from_bytes(&ecc(66)).is_ok());
    // The same bound on a bare TPM2B_ECC_POINT and signature halves.
    let pt = EccPoint2b(EccPoint {
        x: EccParameter::new(vec![1; 49]).unwrap(),
        y: EccParameter::empty(),
    })
    .to_bytes();
    assert_eq!(
        EccPoint2b::decode_with(&mut Reader::new(&pt), &Profile).unwrap_err(),
        WireError::Size
    );
    assert!(EccPoint2b::from_bytes(&pt).is_ok());
    let sig = Signature::Rsassa(SignatureRsa {
        hash: alg::SHA256,
        sig: PublicKeyRsa::new(vec![7; 512]).unwrap(),
    })
    .to_bytes();
    assert_eq!(
        Signature::decode_with(&mut Reader::new(&sig), &Profile, false).unwrap_err(),
        WireError::Size
    );
    // TPM2B_ENCRYPTED_SECRET: sizeof(TPMU_ENCRYPTED_SECRET) = 384 here.
    let mut es = 385u16.to_be_bytes().to_vec();
    es.extend_from_slice(&[0; 385]);
    assert_eq!(
        Limits::PROFILE
            .read_encrypted_secret(&mut Reader::new(&es))
            .unwrap_err(),
        WireError::Size
    );
    assert_eq!(EncryptedSecret2b::from_bytes(&es).unwrap().len(), 385);
    assert_eq!(Limits::PROFILE.encrypted_secret_bytes(), 384);
    assert_eq!(Limits::PROFILE.rsa_private_bytes(), 960);
}

#[test]
fn sized_structure_codes() {
    // TPM2B_SENSITIVE may be empty; TPM2B_SENSITIVE_CREATE may not.
    assert_eq!(Sensitive2b::from_bytes(&[0, 0]).unwrap(), Sensitive2b(None));
    assert_eq!(dec_err::<SensitiveCreate2b>(&[0, 0]), WireError::Size);
    assert_eq!(dec_err::<NvPublic2b>(&[0, 0]), WireError::Size);
    assert_eq!(dec_err::<EccPoint2b>(&[0, 0]), WireError::Size);
    assert_eq!(dec_err::<CreationData2b>(&[0, 0]), WireError::Size);
    // SensitiveCreate {empty auth, empty data} is 4 bytes; claiming 5 with a
    // trailing byte is TPM_RC_SIZE, claiming 3 too.
    assert_eq!(
        dec_err::<SensitiveCreate2b>(&[0, 5, 0, 0, 0, 0, 0]),
        WireError::Size
    );
    assert_eq!(
        dec_err::<SensitiveCreate2b>(&[0, 3, 0, 0, 0, 0]),
        WireError::Size
    );
    assert!(SensitiveCreate2b::from_bytes(&[0, 4, 0, 0, 0, 0]).is_ok());
    // A userAuth longer than a digest.
    let mut b = vec![0, 69, 0, 65];
    b.extend_from_slice(&[0; 65]);
    b.extend_from_slice(&[0, 0]);
    assert_eq!(dec_err::<SensitiveCreate2b>(&b), WireError::Size);
    // Sealed data above MAX_SYM_DATA (128).
    let mut b = vec![0, 133, 0, 0, 0, 129];
    b.extend_from_slice(&[0; 129]);
    assert_eq!(dec_err::<SensitiveCreate2b>(&b), WireError::Size);
}

#[test]
fn sensitive_area_codes() {
    let s = Sensitive {
        auth_value: Tpm2bBytes(b"pw".to_vec()),
        seed_value: Tpm2bBytes(vec![9; 32]),
        sensitive: SensitiveComposite::Rsa(Tpm2bBytes(vec![3; 961])),
    };
    let b = Sensitive2b(Some(s.clone())).to_bytes();
    // 961 bytes of RSA private data exceed RSA_PRIVATE_SIZE (960) here.
    assert_eq!(
        Sensitive2b::decode_with(&mut Reader::new(&b), &Profile).unwrap_err(),
        WireError::Size
    );
    assert_eq!(Sensitive2b::from_bytes(&b).unwrap().0, Some(s));
    // Bad sensitiveType: TPM_RC_TYPE.
    assert_eq!(
        dec_err::<Sensitive>(&[0x00, 0x0b, 0, 0, 0, 0, 0, 0]),
        WireError::Type
    );
}

#[test]
fn signature_and_scheme_codes() {
    let e = |b: &[u8]| Signature::decode_with(&mut Reader::new(b), &Profile, false).unwrap_err();
    // NULL where not allowed, and a non-signing scheme: TPM_RC_SCHEME.
    assert_eq!(e(&[0x00, 0x10]), WireError::Scheme);
    assert_eq!(e(&[0x00, 0x17, 0x00, 0x0b]), WireError::Scheme); // OAEP
                                                                 // EC-Schnorr is a known scheme this profile does not implement.
    assert_eq!(e(&[0x00, 0x1c, 0x00, 0x0b, 0, 0, 0, 0]), WireError::Scheme);
    assert!(Signature::from_bytes(&[0x00, 0x1c, 0x00, 0x0b, 0, 0, 0, 0]).is_ok());
    // A NULL hash: TPM_RC_HASH.
    assert_eq!(e(&[0x00, 0x18, 0x00, 0x10, 0, 0, 0, 0]), WireError::Hash);
    // HMAC signature: TPMT_HA, digest size from the hash.
    let mut h = vec![0x00, 0x05, 0x00, 0x04];
    h.extend_from_slice(&[0xab; 20]);
    let s = Signature::from_bytes(&h).unwrap();
    assert_eq!(s.hash(), Some(alg::SHA1));
    assert_eq!(dec_err::<Signature>(&h[..10]), WireError::Insufficient);
    assert_eq!(
        dec_err::<Signature>(&[0x00, 0x05, 0x00, 0x10]),
        WireError::Hash
    );
    // NULL signature where allowed.
    assert_eq!(
        Signature::from_bytes(&[0x00, 0x10]).unwrap(),
        Signature::Null
    );

    let se = |b: &[u8]| SigScheme::decode_with(&mut Reader::new(b), &Profile, false);
    assert_eq!(se(&[0x00, 0x10]).unwrap_err(), WireError::Scheme);
    assert_eq!(
        se(&[0x00, 0x14, 0x00, 0x0b]).unwrap(),
        SigScheme::Rsassa(alg::SHA256)
    );
    assert_eq!(
        se(&[0x00, 0x15, 0x00, 0x0b]).unwrap_err(),
        WireError::Scheme
    ); // RSAES
    assert_eq!(
        SigScheme::from_bytes(&[0x00, 0x1a, 0x00, 0x0b, 0x00, 0x07]).unwrap(),
        SigScheme::Ecdaa {
            hash: alg::SHA256,
            count: 7
        }
    );
    let rd = |b: &[u8]| RsaDecrypt::decode_with(&mut Reader::new(b), &Profile, false);
    assert_eq!(rd(&[0x00, 0x10]).unwrap_err(), WireError::Value);
    assert_eq!(rd(&[0x00, 0x14, 0x00, 0x0b]).unwrap_err(), WireError::Value); // RSASSA
    assert_eq!(
        rd(&[0x00, 0x17, 0x00, 0x0b]).unwrap(),
        RsaDecrypt::Oaep(alg::SHA256)
    );
    assert_eq!(rd(&[0x00, 0x17, 0x00, 0x10]).unwrap_err(), WireError::Hash);
}

#[test]
fn attest_codes() {
    let good = hex(QUOTE_ECC_ATTEST);
    // Wrong magic: TPM_RC_VALUE.
    let mut b = good.clone();
    b[0] = 0;
    assert_eq!(dec_err::<Attest>(&b), WireError::Value);
    // A TPM_ST that is not an attestation type: TPM_RC_SELECTOR.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&st::CREATION.to_be_bytes());
    assert_eq!(dec_err::<Attest>(&b), WireError::Selector);
    // Not a TPM_ST at all: TPM_RC_VALUE.
    let mut b = good.clone();
    b[4..6].copy_from_slice(&0x801bu16.to_be_bytes());
    assert_eq!(dec_err::<Attest>(&b), WireError::Value);
    // Trailing bytes inside TPM2B_ATTEST: TPM_RC_SIZE from attest().
    let mut b = good.clone();
    b.push(0);
    assert_eq!(
        Attest2b::new(b).unwrap().attest().unwrap_err(),
        WireError::Size
    );
    // Larger than sizeof(TPMS_ATTEST).
    assert_eq!(
        Attest2b::new(vec![0; ATTEST_MAX + 1]).unwrap_err(),
        WireError::Size
    );
    let mut b = ((ATTEST_MAX + 1) as u16).to_be_bytes().to_vec();
    b.extend_from_slice(&vec![0; ATTEST_MAX + 1]);
    assert_eq!(dec_err::<Attest2b>(&b), WireError::Size);
}

#[test]
fn ticket_codes() {
    let t = TkCreation::null().to_bytes();
    assert_eq!(hex::encode(&t), "8021400000070000");
    assert_eq!(TkVerified::null().to_bytes()[..2], [0x80, 0x22]);
    // Another ticket's tag: TPM_RC_TAG; not a TPM_ST: TPM_RC_VALUE.
    assert_eq!(
        dec_err::<TkCreation>(&hex("8022400000070000")),
        WireError::Tag
    );
    assert_eq!(
        dec_err::<TkCreation>(&hex("1234400000070000")),
        WireError::Value
    );
    assert_eq!(
        dec_err::<TkVerified>(&hex("8021400000070000")),
        WireError::Tag
    );
    // Hierarchy must be TPMI_RH_HIERARCHY+: TPM_RC_VALUE.
    assert_eq!(
        dec_err::<TkCreation>(&hex("8021400000020000")),
        WireError::Value
    );
    assert_eq!(
        dec_err::<TkCreation>(&hex("802140000001")),
        WireError::Insufficient
    );
    let signed = TkAuth::from_bytes(&hex("80254000000b0000")).unwrap();
    assert_eq!(signed.kind, AuthTicketKind::Signed);
    assert_eq!(signed.hierarchy, rh::ENDORSEMENT);
    let secret = TkAuth::from_bytes(&hex("802340000001000101")).unwrap();
    assert_eq!(secret.kind, AuthTicketKind::Secret);
    assert_eq!(secret.digest.as_slice(), &[1]);
    assert_eq!(dec_err::<TkAuth>(&hex("80244000000b0000")), WireError::Tag);
}

#[test]
fn nv_public_codes() {
    let good = nv_index().to_bytes();
    let strict = |b: &[u8]| NvPublic::decode_with(&mut Reader::new(b), &Profile);
    // nvIndex outside the NV range: TPM_RC_VALUE.
    let mut b = good.clone();
    b[0] = 0x81;
    assert_eq!(strict(&b).unwrap_err(), WireError::Value);
    // nameAlg NULL: TPM_RC_HASH.
    let mut b = good.clone();
    b[5] = 0x10;
    assert_eq!(strict(&b).unwrap_err(), WireError::Hash);
    // Reserved attribute bits 8 and 20: TPM_RC_RESERVED_BITS.
    for bit in [8u32, 9, 20, 24] {
        assert_eq!(
            NvAttributes::new(1 << bit),
            Err(WireError::ReservedBits),
            "bit {bit}"
        );
    }
    let mut b = good.clone();
    b[8] |= 0x01;
    assert_eq!(strict(&b).unwrap_err(), WireError::ReservedBits);
    // dataSize above MAX_NV_INDEX_SIZE (2048) for the engine only.
    let mut p = nv_index();
    p.data_size = 2049;
    let b = p.to_bytes();
    assert_eq!(strict(&b).unwrap_err(), WireError::Size);
    assert_eq!(NvPublic::from_bytes(&b).unwrap(), p);
    p.data_size = 2048;
    assert!(strict(&p.to_bytes()).is_ok());
}

#[test]
fn context_codes() {
    let ctx = |h: u32, hier: u32| {
        Context {
            sequence: 1,
            saved_handle: h,
            hierarchy: hier,
            blob: ContextData2b::new(vec![1, 2, 3]).unwrap(),
        }
        .to_bytes()
    };
    assert!(Context::from_bytes(&ctx(saved::SEQUENCE, rh::NULL)).is_ok());
    assert!(Context::from_bytes(&ctx(0x0200_003f, rh::OWNER)).is_ok());
    // Session handles beyond MAX_ACTIVE_SESSIONS, a real transient handle,
    // and a non-hierarchy: TPM_RC_VALUE.
    assert_eq!(
        dec_err::<Context>(&ctx(0x0200_0040, rh::OWNER)),
        WireError::Value
    );
    assert_eq!(
        dec_err::<Context>(&ctx(0x8000_0003, rh::OWNER)),
        WireError::Value
    );
    assert_eq!(
        dec_err::<Context>(&ctx(saved::TRANSIENT, rh::LOCKOUT)),
        WireError::Value
    );
    // A blob larger than TPM2B_CONTEXT_DATA: TPM_RC_SIZE.
    let mut b = ctx(saved::TRANSIENT, rh::OWNER)[..16].to_vec();
    b.extend_from_slice(&((CONTEXT_DATA_MAX + 1) as u16).to_be_bytes());
    b.extend_from_slice(&vec![0; CONTEXT_DATA_MAX + 1]);
    assert_eq!(dec_err::<Context>(&b), WireError::Size);
}

#[test]
fn session_type_sym_def_and_list_codes() {
    assert_eq!(SessionType::from_bytes(&[3]).unwrap(), SessionType::Trial);
    assert_eq!(dec_err::<SessionType>(&[2]), WireError::Value);
    let sd = |b: &[u8], null: bool| SymDef::decode_with(&mut Reader::new(b), &Profile, null);
    assert_eq!(sd(&hex("0010"), true).unwrap(), SymDef::Null);
    assert_eq!(sd(&hex("0010"), false).unwrap_err(), WireError::Symmetric);
    assert_eq!(
        sd(&hex("000a000b"), false).unwrap(),
        SymDef::Xor { hash: alg::SHA256 }
    );
    assert_eq!(sd(&hex("000a0010"), false).unwrap_err(), WireError::Hash);
    assert_eq!(
        sd(&hex("000600800043"), false).unwrap(),
        SymDef::Cipher {
            alg: alg::AES,
            key_bits: 128,
            mode: alg::CFB
        }
    );
    assert_eq!(
        sd(&hex("000b00800043"), false).unwrap_err(),
        WireError::Symmetric
    );
    assert_eq!(
        sd(&hex("000600800099"), false).unwrap_err(),
        WireError::Mode
    );
    // TPML_CC above MAX_CAP_CC, TPML_ALG above MAX_ALG_LIST_SIZE: TPM_RC_SIZE.
    assert_eq!(
        dec_err::<CommandCodeList>(&255u32.to_be_bytes()),
        WireError::Count
    );
    assert_eq!(dec_err::<AlgList>(&65u32.to_be_bytes()), WireError::Count);
    assert_eq!(WireError::Count.rc(), Rc::SIZE);
    let l = AlgList::from_bytes(&hex("00000002000b0004")).unwrap();
    assert_eq!(l.0, vec![alg::SHA256, alg::SHA1]);
    assert_eq!(handles::check_auth_session(rh::PW, true), Ok(rh::PW));
    assert_eq!(
        handles::check_auth_session(rh::PW, false),
        Err(WireError::Value)
    );
    assert_eq!(
        handles::check_auth_session(rh::POLICY_SESSION_FIRST, false),
        Ok(rh::POLICY_SESSION_FIRST)
    );
}

// ---- Names and secrets --------------------------------------------------------

#[test]
fn handle_names() {
    for h in [
        0u32,
        23,
        rh::OWNER,
        rh::ENDORSEMENT,
        rh::PLATFORM,
        rh::LOCKOUT,
        rh::NULL,
    ] {
        let n = Name::from_handle(h).unwrap();
        assert_eq!(n.as_bytes(), h.to_be_bytes());
        assert_eq!(n.handle(), Some(h));
        assert_eq!(n.name_alg(), None);
    }
    assert_eq!(
        Name::from_handle(0x0200_0001).unwrap().as_bytes(),
        [2, 0, 0, 1]
    );
    assert_eq!(
        Name::from_handle(0x0300_0000).unwrap().as_bytes(),
        [3, 0, 0, 0]
    );
    // Objects and NV indices are named by their public areas.
    assert_eq!(Name::from_handle(0x8000_0000), None);
    assert_eq!(Name::from_handle(0x8100_0001), None);
    assert_eq!(Name::from_handle(0x0150_0016), None);
    let n = Name::new(hex(AK_ECC_NAME)).unwrap();
    assert_eq!(n.name_alg(), Some(alg::SHA256));
    assert_eq!(n.digest().unwrap().len(), 32);
    assert_eq!(n.handle(), None);
    assert_eq!(Name::new(vec![0; 67]), Err(WireError::Size));
    assert_eq!(dec_err::<Name>(&[0, 67]), WireError::Size);
}

#[test]
fn debug_never_prints_secrets() {
    let secret = b"hunter2-very-secret";
    let s = Sensitive {
        auth_value: Tpm2bBytes(secret.to_vec()),
        seed_value: Tpm2bBytes(secret.to_vec()),
        sensitive: SensitiveComposite::KeyedHash(Tpm2bBytes(secret.to_vec())),
    };
    let c = SensitiveCreate {
        user_auth: Tpm2bBytes(secret.to_vec()),
        data: Tpm2bBytes(secret.to_vec()),
    };
    let text = format!(
        "{:?} {:?} {:?}",
        Sensitive2b(Some(s.clone())),
        SensitiveCreate2b(c),
        s.sensitive
    );
    let hex_secret = hex::encode(secret);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains(&hex_secret), "{text}");
    assert!(
        !text.contains(&format!("{:?}", secret.as_slice())),
        "{text}"
    );
    assert!(text.contains("19 secret bytes"), "{text}");
    // Public structures print their contents.
    let a = format!("{:?}", ObjectAttributes(EK_ATTRIBUTES));
    assert!(
        a.contains("fixedTPM") && a.contains("restricted") && !a.contains("sign"),
        "{a}"
    );
    let n = format!("{:?}", NvAttributes(0x2006_0006));
    assert!(n.contains("ownerwrite") && n.contains("written"), "{n}");
    assert!(format!("{:?}", Name::new(hex(AK_ECC_NAME)).unwrap()).contains("000b2dbffdcd"));
}

#[test]
fn public_constructor_checks_the_type() {
    let t = ek_template_l1();
    assert_eq!(
        Public::new(
            t.name_alg,
            t.attributes,
            t.auth_policy.clone(),
            t.parameters,
            PublicId::empty(alg::ECC).unwrap()
        ),
        Err(WireError::Type)
    );
    assert_eq!(PublicId::empty(alg::SHA256), None);
    assert_eq!(
        PublicId::empty(alg::KEYEDHASH).unwrap().object_type(),
        alg::KEYEDHASH
    );
    // Attribute helpers.
    let a = ObjectAttributes::default()
        .with(
            ObjectAttributes::SIGN_ENCRYPT | ObjectAttributes::USER_WITH_AUTH,
            true,
        )
        .with(ObjectAttributes::USER_WITH_AUTH, false);
    assert_eq!(a.0, ObjectAttributes::SIGN_ENCRYPT);
}

#[test]
fn derive_and_template_sizes() {
    let d = Derive {
        label: Label2b::new(b"label".to_vec()).unwrap(),
        context: Label2b::new(vec![0; 32]).unwrap(),
    };
    let b = d.to_bytes();
    assert_eq!(b.len(), 2 + 5 + 2 + 32);
    assert!(Derive2b::new(b).is_ok());
    assert_eq!(Label2b::new(vec![0; 33]), Err(WireError::Size));
    // The largest marshalled TPMT_PUBLIC of the profile (RSA-3072 key with
    // a digest policy) fits a TPM2B_TEMPLATE.
    let mut p = ek_template_l1();
    p.unique = PublicId::Rsa(PublicKeyRsa::new(vec![0; 384]).unwrap());
    assert!(p.to_bytes().len() <= TEMPLATE_MAX);
    assert!(Template2b::new(p.to_bytes()).is_ok());
    assert_eq!(TEMPLATE_MAX, 478);
    assert_eq!(PRIVATE_MAX, 1230);
}

// ---- vectors (captured from swtpm 0.7.1 with tpm2-tools 5.4) -----------------

const EK_RSA_PUB: &str = concat!(
    "013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa",
    "00060080004300100800000000000100ad530f4f11eebc4a69484516fa238e36e0e5c1e3f0add07a9ae88221",
    "3bcbf14a4ee8e7abaf72a77dd70d2dccc1bceb0c9c08c8f20c67a3bc39a56beefab162d67a7c411617a7bc90",
    "60a6b1480b5e5e7204ba36cca88d1d55b3d468e2c2e3c77c2320c0821c35ec2007da2a414b476d1a7f4c63f3",
    "b0aeb5e4d4c3b0b66a1227fc08d3be943d8b65d4ae61a17b1a0a5bc95c7e24a6b2afa710db77005847e66ac7",
    "6fedfbce3c3b932713c307134857d26728ed701fdbec93370a244f934fab9f1ef31e4d9df96b1f4f566117b7",
    "b3105fb776c5bb2af1991624c2dddee7099ce88ab989e5d1c2c5f34f8699f3fd373094ead05005162491cdfb",
    "48fc599be0ec3ff9",
);

const EK_RSA_NAME: &str = "000bf523a39f86fae325d2b2f9a43426c764f708d06a9ab1ff264d4c48b0399080bf";

const EK_ECC_PUB: &str = concat!(
    "007a0023000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa",
    "000600800043001000030010002049576420e6b76171782a5a9474c8efff25d5f10d44531af2ad610b9c172e",
    "53c20020e9c10669d7f931ca89000ba3028af8c10b4e55cdcb19ce6daa901f5da3457429",
);

const EK_ECC_NAME: &str = "000bc0c5cb1e5b434b3de66e73202da6a4cb184f597b0f23c6d5cc06bc7c61919e88";

const AK_ECC_PUB: &str = concat!(
    "00580023000b00050072000000100018000b000300100020906d0e00e5c8ac55b8b6a75716c7d5c6ac7930b6",
    "29c5736102963a66fcc6ad2b00206ad25611ee422d2bc3f5c82dea40242f097a58986a080f0ceee249b1a60b",
    "5613",
);

const AK_ECC_NAME: &str = "000b2dbffdcd9b7093e235d1b75d4ae6690a0bfbeca568421eeed01c85160cad386e";

const AK_RSA_PUB: &str = concat!(
    "01180001000b00050072000000100014000b0800000000000100aaf62bae84b900261e9b460b2b3f4e6c98d7",
    "da25dedf8d8e2cc05ce0f8d19c24b0a82165887ac92f8293547ffdb8d7c1833e5f9794f29e7aa770d31d180a",
    "4dbc396808e862b04e84d5bfa4c49daa5a443342cf843edfa165b6fc0ed33edd261207cf8cf081afabd59bf2",
    "144b3eb2569362dcba6038a8635f54e1b585344101f89b4ac92845280c78c3b13ace9d25075bce99a3db54bd",
    "15d9304068391c21fef924df3f8b5ea08be9d86f9db7eb0de74c25cb078886f1b773bcaa57ed3dcd3bea337c",
    "2354017c177d0f5afed9f36bf98c492402c4ad80f358a051d8e4949d6aa7eee3bfbc8a5155681da0a8a05248",
    "4b43dfa32c1b046df9441546051d57329913",
);

const AK_RSA_NAME: &str = "000bdf640e956d996f11bc768770f76c9413563394077dc1cc4accfbaa298bd9741f";

const QUOTE_ECC_ATTEST: &str = concat!(
    "ff54434780180022000bcd31ede2e93f30d4eb4bb21ff33f8e8bd325a47cb00cbf0510ed62e99880b6a80008",
    "01020304050607080000000000003a57000000010000000001201910230016363600000001000b0307000000",
    "202ea9ab9198d1638007400cd2c3bef1cc745b864b76011a0e1bc52180ac6452d4",
);

const QUOTE_ECC_SIG: &str = concat!(
    "0018000b00209c9cbf6958a6b0bec71afd329d369ab2b56c9419a143bd55e7d2f55663ff458c0020831be8a3",
    "87053d85def724de8fc0a183313028199966a7acb2f04b14e34eb645",
);

const QUOTE_RSA_ATTEST: &str = concat!(
    "ff54434780180022000b0c05b2b4c0d543ac27500017cd96027b9041e51d1f662857385236025a5f21620002",
    "aabb0000000000003a91000000010000000001201910230016363600000002000403010000000b0380000000",
    "207955cb2de90dd9efc6df9fdbf5f5d10c114f4135a9a6b52db1003be749e32f7a",
);

const QUOTE_RSA_SIG: &str = concat!(
    "0014000b0100985ff82a71cc69b15ea324ceb34ffafda95e320d9e2d87d6b62b79a3625bf14019b889382de1",
    "4ea31f15e43cc1e1e37c08f96f25472ebb8f94678dc0831b706dc853deaf79009286dcbb941b473f0b76ef33",
    "9923e0cbef4793d81f09ecbc61d0a9e663ef6691507a120797dbdb14d8fa53ffd3f4202855e3d18dd4aa0c5b",
    "22ea3ecd73ed3cce275093b75fd695bf7a8954f863761ee22eb3c306bf8c589bcbe513028dbf2d47d32c0f36",
    "4f83d0fcdb750d7f7b54e5735ec9037967a76e85c38218fc00453b07ce8340c9313d173903829c3faeb1349c",
    "e6d1d8ccf231f44c6e08195be851d9b73c996ba5db85f5f55e749f054e07e9388a8649aa1b21a60744fe",
);

const NV_CERTIFY_ATTEST: &str = concat!(
    "ff54434780140022000bcd31ede2e93f30d4eb4bb21ff33f8e8bd325a47cb00cbf0510ed62e99880b6a80002",
    "11220000000000005c3b00000001000000000120191023001636360022000be2d663da4fcf077ab479514b7c",
    "4db4191b9931cf9551f0b70af9193ff27599ca0004001034353637383961626364656630313233",
);

const NV_DIGEST_ATTEST: &str = concat!(
    "ff544347801c0022000bcd31ede2e93f30d4eb4bb21ff33f8e8bd325a47cb00cbf0510ed62e99880b6a80002",
    "33440000000000005c7600000001000000000120191023001636360022000be2d663da4fcf077ab479514b7c",
    "4db4191b9931cf9551f0b70af9193ff27599ca00203eb1bd439947eb762998e566ccc2e099c791118b2f4057",
    "9cc4f7da2b5061b7f9",
);

const CERTIFY_ATTEST: &str = concat!(
    "ff54434780170022000bcd31ede2e93f30d4eb4bb21ff33f8e8bd325a47cb00cbf0510ed62e99880b6a80004",
    "00ff55aa0000000000005cb100000001000000000120191023001636360022000bdf640e956d996f11bc7687",
    "70f76c9413563394077dc1cc4accfbaa298bd9741f0022000b0c05b2b4c0d543ac27500017cd96027b9041e5",
    "1d1f662857385236025a5f2162",
);

const TIME_ATTEST: &str = concat!(
    "ff54434780190022000b0c05b2b4c0d543ac27500017cd96027b9041e51d1f662857385236025a5f21620001",
    "550000000000005ce300000001000000000120191023001636360000000000005ce30000000000005ce30000",
    "000100000000012019102300163636",
);

const CREATION_DATA: &str = concat!(
    "004100000001000b030300000020f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759",
    "fb4b010010000440000001000440000001000499887766",
);

const CREATION_TICKET: &str = concat!(
    "802140000001004094d57c203e3c7aaa1b5e612af1c4cf4819cac26730e839dc780998b06f2ac42494a99af3",
    "581442c8e0346eac3bcc8a2585b4b805d585bfd9a1ab13332d7c60e9",
);

const CREATION_HASH: &str = "0020f86039f7bd6319ff91aed994eb970fa53747cc3540743d1bf6b3ef5b9c7c8c16";

const AK_ECC_CONTEXT_FILE: &str = concat!(
    "badcc0de000000014000000b8000000000000000000000040224000000000196004013f0d8f00a94b66b9075",
    "e454c43341fc49edc186517f694df9f1fcc728c87fe184a5db0140604c488fdacb0cd7f202bceb83cc7adc7f",
    "e866757a727b7e5951c4c1bf688c8ecd9dd714549f71bc33f3eecf35eb639e9c8ff35ec7d7e1355264ce1740",
    "f715b9bfed3e03e4e47146f9a817ca283d4a95ccda7bb403012d9409d950cafde285638a90d9331c1284c19a",
    "fbd57f2fa9c4f94a5b9480c9536ee0bd409a83931fe7a8ebfdc4736ebd5e2f85755227a73aaab834c28eb211",
    "8378c25b00c4f3a5ed82a6a99f1cacd7719539a45bffe1b67cc6e67552e73f7c2e7e18c48f73f80e54236319",
    "7a9b841dd0a95555d3a79e6cc7a901e2829727fd16bebeb162bed272dcca7af224c0e17a282e94beaeea8ac0",
    "031526992075102ad5702c001a4b9aedaff98291b57b4ce7102f36c9571ab5207ac26da10510e027e9f1ea7f",
    "a7489ae610b8eb853b6f5649f6e39b2b48b46a71c77863c0a7abad2c403371d490672a26736082dc87f23394",
    "17635c52246b25e1e8a88f4d9803ae186684c109d0a58c683488c29ebb3d653fce87f155dd6ce4face3e0000",
    "800000010022000b2dbffdcd9b7093e235d1b75d4ae6690a0bfbeca568421eeed01c85160cad386e00000001",
    "00580023000b00050072000000100018000b000300100020906d0e00e5c8ac55b8b6a75716c7d5c6ac7930b6",
    "29c5736102963a66fcc6ad2b00206ad25611ee422d2bc3f5c82dea40242f097a58986a080f0ceee249b1a60b",
    "5613",
);

const CERTIFY_CREATION_ATTEST: &str = concat!(
    "ff544347801a0022000bcd31ede2e93f30d4eb4bb21ff33f8e8bd325a47cb00cbf0510ed62e99880b6a80001",
    "77000000000009d50900000001000000000120191023001636360022000bd38d3674636ef63234c5a778e8e5",
    "e3dec14e781fc942a88eaf62b5633a8ae2610020f86039f7bd6319ff91aed994eb970fa53747cc3540743d1b",
    "f6b3ef5b9c7c8c16",
);

const PRIMARY_NAME: &str = "000bd38d3674636ef63234c5a778e8e5e3dec14e781fc942a88eaf62b5633a8ae261";
