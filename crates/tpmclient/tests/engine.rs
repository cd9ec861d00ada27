//! The client against this project's engine in process: every helper,
//! password, HMAC and policy sessions, parameter encryption, response-HMAC
//! checking, and the errors. The same flows run against swtpm and
//! `trustcloud tpm serve` in crates/cli/tests/tpmclient_*.rs.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tpm::constants::{cc, pt, rh};
use tpm::crypto::HashAlg;
use tpm::engine::verify_signature;
use tpm::templates::{self, EkTemplate};
use tpm::types::{
    Attested, NvAttributes, NvPublic, NvType, PcrSelection, PcrSelectionList, PublicId,
    SessionType, SigScheme, TkHashcheck,
};
use tpm::{EngineConfig, Rc};
use tpmclient::policy::PolicyDigest;
use tpmclient::transport::{EngineTransport, Transport, TransportError};
use tpmclient::{templates as keys, Auth, Error, KeyInputs, SessionOptions, StartupType, Tpm};

fn engine(banks: &[HashAlg]) -> Tpm {
    let e = tpm::Tpm::new(&EngineConfig {
        pcr_banks: banks.to_vec(),
    });
    let mut t = Tpm::new(EngineTransport::new(e));
    assert!(t.startup(StartupType::Clear).unwrap());
    t
}

fn sha256_banks(pcrs: &[usize]) -> PcrSelectionList {
    PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, pcrs)])
}

#[test]
fn startup_tolerates_initialize_and_random_fills() {
    let mut t = engine(&[HashAlg::Sha256]);
    assert!(!t.startup(StartupType::Clear).unwrap(), "second startup");
    let r = t.get_random(200).unwrap();
    assert_eq!(r.len(), 200);
    assert_ne!(r, t.get_random(200).unwrap());
    assert_eq!(t.nv_buffer_max().unwrap(), 1024);
    assert_eq!(t.tpm_property(pt::PCR_COUNT).unwrap(), Some(24));
    let all = t.tpm_properties(pt::FIXED, 1000).unwrap();
    assert!(all.len() > 40, "{} fixed+variable properties", all.len());
    assert!(all.windows(2).all(|w| w[0].property < w[1].property));
    // Every implemented bank is listed; only SHA-256 has PCRs allocated.
    let alloc = t.pcr_allocation().unwrap();
    for s in &alloc.0 {
        let n = if s.hash == HashAlg::Sha256 { 24 } else { 0 };
        assert_eq!(s.indices().count(), n, "{:?}", s.hash);
    }
    assert!(alloc.0.iter().any(|s| s.hash == HashAlg::Sha256));
    let h = t.hash(b"abc", HashAlg::Sha256, rh::OWNER).unwrap();
    assert_eq!(h.digest, HashAlg::Sha256.digest(&[b"abc"]));
    assert_eq!(h.ticket.hierarchy, rh::OWNER);
    t.shutdown(StartupType::Clear).unwrap();
}

/// Counts the TPM2_PCR_Read commands that pass.
struct Counting(EngineTransport, Arc<AtomicUsize>);

impl Transport for Counting {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        if command.get(6..10) == Some(&cc::PCR_READ.to_be_bytes()[..]) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        self.0.transmit(locality, command)
    }
    fn endpoint(&self) -> String {
        "counting".into()
    }
}

/// 48 PCRs over two banks take six TPM2_PCR_Read calls (at most eight
/// digests each); the values follow extends computed independently.
#[test]
fn pcr_read_collects_every_pcr_and_extend_is_verified() {
    let reads = Arc::new(AtomicUsize::new(0));
    let e = tpm::Tpm::new(&EngineConfig {
        pcr_banks: vec![HashAlg::Sha256, HashAlg::Sha1],
    });
    let mut t = Tpm::new(Counting(EngineTransport::new(e), reads.clone()));
    t.startup(StartupType::Clear).unwrap();
    let sel = PcrSelectionList(vec![
        PcrSelection::all(HashAlg::Sha256),
        PcrSelection::all(HashAlg::Sha1),
    ]);
    let before = t.pcr_read(&sel).unwrap();
    assert_eq!(before.values.len(), 48);
    assert_eq!(reads.load(Ordering::SeqCst), 6);
    assert_eq!(before.selection(), sel);
    assert_eq!(before.get(HashAlg::Sha256, 8).unwrap(), &[0u8; 32]);
    let d256 = HashAlg::Sha256.digest(&[b"event"]);
    let d1 = HashAlg::Sha1.digest(&[b"event"]);
    t.pcr_extend(
        8,
        &Auth::empty(),
        &[(HashAlg::Sha256, &d256), (HashAlg::Sha1, &d1)],
    )
    .unwrap();
    let after = t.pcr_read(&sel).unwrap();
    assert!(after.update_counter > before.update_counter);
    assert_eq!(
        after.get(HashAlg::Sha256, 8).unwrap(),
        HashAlg::Sha256.digest(&[&[0u8; 32], &d256])
    );
    assert_eq!(
        after.get(HashAlg::Sha1, 8).unwrap(),
        HashAlg::Sha1.digest(&[&[0u8; 20], &d1])
    );
    // A bank the TPM lacks is absent, not an error.
    let mixed = PcrSelectionList(vec![
        PcrSelection::with(HashAlg::Sha384, &[0]),
        PcrSelection::with(HashAlg::Sha256, &[8]),
    ]);
    let v = t.pcr_read(&mixed).unwrap();
    assert_eq!(v.values.len(), 1);
    assert_eq!(v.selection(), sha256_banks(&[8]));
    // Bad digest length is refused before anything is sent.
    assert!(matches!(
        t.pcr_extend(8, &Auth::empty(), &[(HashAlg::Sha256, &d1)]),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn ek_templates_create_keys_with_their_public_area() {
    let mut t = engine(&[HashAlg::Sha256]);
    for tpl in [
        EkTemplate::RsaL1,
        EkTemplate::EccP256L2,
        EkTemplate::EccP256H2,
        EkTemplate::Sm2P256H5,
    ] {
        let template = tpl.public();
        let ek = t
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &template,
                &KeyInputs::default(),
            )
            .unwrap();
        assert_eq!(ek.public.attributes, template.attributes, "{}", tpl.label());
        assert_eq!(ek.public.auth_policy, template.auth_policy);
        assert_eq!(ek.public.parameters, template.parameters);
        assert_eq!(Some(ek.name.clone()), ek.public.name());
        match &ek.public.unique {
            PublicId::Rsa(n) => assert_eq!(n.len(), 256),
            PublicId::Ecc(p) => assert_eq!((p.x.len(), p.y.len()), (32, 32)),
            other => panic!("{other:?}"),
        }
        // The same template gives the same key (the EK is derived).
        let again = t
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &template,
                &KeyInputs::default(),
            )
            .unwrap();
        assert_eq!(again.public, ek.public);
        let rp = t.read_public(ek.handle).unwrap();
        assert_eq!(rp.public, ek.public);
        t.flush_context(ek.handle).unwrap();
        t.flush_context(again.handle).unwrap();
    }
}

fn define(t: &mut Tpm, index: u32, ty: NvType, size: u16, auth: &[u8]) -> NvPublic {
    let attrs =
        NvAttributes(NvAttributes::AUTHWRITE | NvAttributes::AUTHREAD | NvAttributes::NO_DA)
            .with_type(ty);
    let public = NvPublic {
        nv_index: index,
        name_alg: tpm::constants::alg::SHA256,
        attributes: attrs,
        auth_policy: Default::default(),
        data_size: size,
    };
    t.nv_define_space(rh::OWNER, &Auth::empty(), auth, &public)
        .unwrap();
    public
}

/// NV round trips larger than TPM_PT_NV_BUFFER_MAX, with a password, an
/// HMAC session (whose names change as the index gets written) and with
/// parameter encryption both ways.
#[test]
fn nv_round_trips_in_chunks_with_every_kind_of_auth() {
    let mut t = engine(&[HashAlg::Sha256]);
    let idx = 0x0150_0001;
    define(&mut t, idx, NvType::Ordinary, 2000, b"nvpass");
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7 + 3) as u8).collect();
    t.nv_write(idx, idx, &Auth::password(b"nvpass"), 0, &data[..1500])
        .unwrap();
    let s = t.start_hmac_session(HashAlg::Sha256).unwrap();
    let with_session = Auth::session_with(s, b"nvpass");
    t.nv_write(idx, idx, &with_session, 1500, &data[1500..])
        .unwrap();
    let back = t.nv_read(idx, idx, &with_session, 0, 2000).unwrap();
    assert_eq!(back.as_slice(), &data[..]);
    let enc = with_session.clone().decrypt().encrypt();
    t.nv_write(idx, idx, &enc, 10, b"secret in transit")
        .unwrap();
    let part = t.nv_read(idx, idx, &enc, 10, 17).unwrap();
    assert_eq!(part.as_slice(), b"secret in transit");
    let all = t.nv_read_all(idx, idx, &Auth::password(b"nvpass")).unwrap();
    assert_eq!(&all[10..27], b"secret in transit");
    let info = t.nv_read_public(idx).unwrap();
    assert!(info.public.attributes.contains(NvAttributes::WRITTEN));
    assert_eq!(info.public.data_size, 2000);
    // A wrong authValue in an HMAC session is the TPM's BAD_AUTH/AUTH_FAIL.
    let wrong = Auth::session_with(s, b"wrong");
    let e = t.nv_read(idx, idx, &wrong, 0, 1).unwrap_err();
    assert!(e.is_rc(Rc::AUTH_FAIL) || e.is_rc(Rc::BAD_AUTH), "{e}");
    t.nv_undefine(rh::OWNER, &Auth::empty(), idx).unwrap();
    let e = t.nv_read_public(idx).unwrap_err();
    assert_eq!(e.rc().map(Rc::base), Some(Rc::HANDLE), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("TPM2_NV_ReadPublic") && msg.contains("TPM_RC_HANDLE"),
        "{msg}"
    );
}

#[test]
fn nv_counter_and_extend_indices() {
    let mut t = engine(&[HashAlg::Sha256]);
    let ctr = 0x0150_0010;
    define(&mut t, ctr, NvType::Counter, 8, b"");
    t.nv_increment(ctr, ctr, &Auth::empty()).unwrap();
    let first = t.nv_read_counter(ctr, ctr, &Auth::empty()).unwrap();
    let s = t.start_hmac_session(HashAlg::Sha256).unwrap();
    t.nv_increment(ctr, ctr, &Auth::session(s)).unwrap();
    assert_eq!(
        t.nv_read_counter(ctr, ctr, &Auth::empty()).unwrap(),
        first + 1
    );
    let ext = 0x0150_0011;
    define(&mut t, ext, NvType::Extend, 32, b"");
    t.nv_extend(ext, ext, &Auth::session(s), b"record v1")
        .unwrap();
    let v = t.nv_read(ext, ext, &Auth::empty(), 0, 32).unwrap();
    assert_eq!(
        v.as_slice(),
        HashAlg::Sha256.digest(&[&[0u8; 32], b"record v1"])
    );
}

/// A session bound to an entity: its key comes from the bound authValue
/// (KDFa "ATH"), and used for that entity the authValue stays out of the
/// HMAC key; used for another, it goes in.
#[test]
fn bound_hmac_session() {
    let mut t = engine(&[HashAlg::Sha256]);
    let idx = 0x0150_0020;
    define(&mut t, idx, NvType::Ordinary, 16, b"bindpw");
    let s = t
        .start_auth_session(
            SessionType::Hmac,
            HashAlg::Sha256,
            &SessionOptions::aes128_cfb().bound_to(idx, b"bindpw"),
        )
        .unwrap();
    let a = Auth::session_with(s, b"bindpw").decrypt().encrypt();
    t.nv_write(idx, idx, &a, 0, b"0123456789abcdef").unwrap();
    assert_eq!(
        t.nv_read(idx, idx, &a, 0, 16).unwrap().as_slice(),
        b"0123456789abcdef"
    );
    let other = 0x0150_0021;
    define(&mut t, other, NvType::Ordinary, 4, b"otherpw");
    t.nv_write(other, other, &Auth::session_with(s, b"otherpw"), 0, b"abcd")
        .unwrap();
    t.flush_context(s.handle()).unwrap();
    assert!(matches!(
        t.nv_read(idx, idx, &a, 0, 1),
        Err(Error::Invalid(_))
    ));
}

/// A transport that flips one octet of the response parameters of
/// commands that carry sessions.
struct Tamper(EngineTransport);

impl Transport for Tamper {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut r = self.0.transmit(locality, command)?;
        let code = u32::from_be_bytes(command[6..10].try_into().unwrap());
        if code == cc::NV_READ && r.len() > 20 {
            r[16] ^= 1;
        }
        Ok(r)
    }
    fn endpoint(&self) -> String {
        "tamper".into()
    }
}

#[test]
fn a_tampered_response_fails_its_hmac() {
    let e = tpm::Tpm::new(&EngineConfig::default());
    let mut t = Tpm::new(Tamper(EngineTransport::new(e)));
    t.startup(StartupType::Clear).unwrap();
    let idx = 0x0150_0030;
    define(&mut t, idx, NvType::Ordinary, 8, b"pw");
    t.nv_write(idx, idx, &Auth::password(b"pw"), 0, b"original")
        .unwrap();
    let s = t.start_hmac_session(HashAlg::Sha256).unwrap();
    let e = t
        .nv_read(idx, idx, &Auth::session_with(s, b"pw"), 0, 8)
        .unwrap_err();
    assert!(
        matches!(e, Error::ResponseHmac { command, .. } if command == cc::NV_READ),
        "{e}"
    );
    // With a password the client cannot tell.
    assert_ne!(
        t.nv_read(idx, idx, &Auth::password(b"pw"), 0, 8)
            .unwrap()
            .as_slice(),
        b"original"
    );
}

/// Seal to PCR 16 with a software-computed policy; unseal through a
/// policy session; refused once the PCR changes.
#[test]
fn policy_pcr_sealing() {
    let mut t = engine(&[HashAlg::Sha256]);
    let sel = sha256_banks(&[16]);
    let now = t.pcr_read(&sel).unwrap();
    let pcr_digest = now.quote_digest(&sel, HashAlg::Sha256).unwrap();
    let policy = PolicyDigest::new(HashAlg::Sha256)
        .policy_pcr(&sel, &pcr_digest)
        .into_digest();
    // The trial session agrees with the software computation.
    let trial = t.start_trial_session(HashAlg::Sha256).unwrap();
    t.policy_pcr(trial, &[], &sel).unwrap();
    assert_eq!(t.policy_get_digest(trial).unwrap(), policy);
    t.flush_context(trial.handle()).unwrap();

    let srk = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::srk_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap();
    let sealed = t
        .create(
            srk.handle,
            &Auth::empty(),
            &keys::sealed_data(&policy, false),
            &KeyInputs::sealing(b"disk key"),
        )
        .unwrap();
    let obj = t
        .load(srk.handle, &Auth::empty(), &sealed.private, &sealed.public)
        .unwrap();
    let s = t.start_policy_session(HashAlg::Sha256).unwrap();
    t.policy_pcr(s, &[], &sel).unwrap();
    let secret = t
        .unseal(obj.handle, &Auth::session(s).encrypt())
        .unwrap_err();
    // Encryption needs a symmetric session: refused locally.
    assert!(matches!(secret, Error::Invalid(_)), "{secret}");
    let secret = t.unseal(obj.handle, &Auth::session(s)).unwrap();
    assert_eq!(secret.as_slice(), b"disk key");
    // The policy reset after use; satisfy it again after a change.
    let d = HashAlg::Sha256.digest(&[b"boot"]);
    t.pcr_extend(16, &Auth::empty(), &[(HashAlg::Sha256, &d)])
        .unwrap();
    t.policy_pcr(s, &[], &sel).unwrap();
    let e = t.unseal(obj.handle, &Auth::session(s)).unwrap_err();
    assert!(e.is_rc(Rc::POLICY_FAIL), "{e}");
    // The password is no way in either (userWithAuth clear).
    let e = t.unseal(obj.handle, &Auth::empty()).unwrap_err();
    assert!(e.is_rc(Rc::AUTH_UNAVAILABLE), "{e}");
}

/// PolicyAuthValue and PolicyPassword put the object's authValue into the
/// HMAC key or the HMAC field.
#[test]
fn policy_auth_value_and_password() {
    let mut t = engine(&[HashAlg::Sha256]);
    let policy = PolicyDigest::new(HashAlg::Sha256)
        .policy_command_code(cc::UNSEAL)
        .policy_auth_value()
        .into_digest();
    let srk = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::srk_rsa2048(),
            &KeyInputs::default(),
        )
        .unwrap();
    let inputs = KeyInputs::sealing(b"s3cret").and_auth(b"objpw");
    let c = t
        .create(
            srk.handle,
            &Auth::empty(),
            &keys::sealed_data(&policy, false),
            &inputs,
        )
        .unwrap();
    let obj = t
        .load(srk.handle, &Auth::empty(), &c.private, &c.public)
        .unwrap();
    let s = t.start_policy_session(HashAlg::Sha256).unwrap();
    for use_password in [false, true] {
        t.policy_command_code(s, cc::UNSEAL).unwrap();
        if use_password {
            t.policy_password(s).unwrap();
        } else {
            t.policy_auth_value(s).unwrap();
        }
        assert_eq!(t.policy_get_digest(s).unwrap(), policy);
        let v = t
            .unseal(obj.handle, &Auth::session_with(s, b"objpw"))
            .unwrap();
        assert_eq!(v.as_slice(), b"s3cret");
    }
    t.policy_command_code(s, cc::UNSEAL).unwrap();
    t.policy_auth_value(s).unwrap();
    let e = t
        .unseal(obj.handle, &Auth::session_with(s, b"nope"))
        .unwrap_err();
    assert!(e.is_rc(Rc::AUTH_FAIL), "{e}");
}

/// The enrollment flow of a registrar: MakeCredential for the AK's Name
/// with the EK, ActivateCredential with the EK's PolicySecret(endorsement).
#[test]
fn credential_activation_with_the_ek_policy() {
    let mut t = engine(&[HashAlg::Sha256]);
    let ek = t
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &templates::ek_rsa2048_l1(),
            &KeyInputs::default(),
        )
        .unwrap();
    let ak = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::ak_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap();
    let (blob, secret) = t
        .make_credential(ek.handle, b"challenge-0123456789", &ak.name)
        .unwrap();
    // Without the policy the EK refuses (adminWithPolicy, no userWithAuth).
    let e = t
        .activate_credential(
            ak.handle,
            &Auth::empty(),
            ek.handle,
            &Auth::empty(),
            &blob,
            &secret,
        )
        .unwrap_err();
    assert!(e.is_rc(Rc::AUTH_UNAVAILABLE), "{e}");
    let s = t.start_policy_session(HashAlg::Sha256).unwrap();
    t.policy_secret(s, rh::ENDORSEMENT, &Auth::empty()).unwrap();
    assert_eq!(t.policy_get_digest(s).unwrap(), templates::POLICY_A_SHA256);
    let got = t
        .activate_credential(
            ak.handle,
            &Auth::empty(),
            ek.handle,
            &Auth::session(s).end_session(),
            &blob,
            &secret,
        )
        .unwrap();
    assert_eq!(got.as_slice(), b"challenge-0123456789");
    // end_session: the TPM flushed it and the client forgot it.
    assert!(matches!(t.policy_get_digest(s), Err(Error::Invalid(_))));
}

/// A quote checked the way a verifier does it, with the engine's own
/// signature rules: signature over the attest bytes, nonce, PCR digest.
#[test]
fn quote_verifies() {
    let mut t = engine(&[HashAlg::Sha256, HashAlg::Sha1]);
    let d = HashAlg::Sha256.digest(&[b"kernel"]);
    t.pcr_extend(8, &Auth::empty(), &[(HashAlg::Sha256, &d)])
        .unwrap();
    for template in [keys::ak_ecc_p256(), keys::ak_rsa2048()] {
        let ak = t
            .create_primary(rh::OWNER, &Auth::empty(), &template, &KeyInputs::default())
            .unwrap();
        let sel = PcrSelectionList(vec![
            PcrSelection::with(HashAlg::Sha256, &[0, 7, 8]),
            PcrSelection::with(HashAlg::Sha1, &[0]),
        ]);
        let s = t.start_hmac_session(HashAlg::Sha256).unwrap();
        let q = t
            .quote(
                ak.handle,
                &Auth::session(s),
                b"nonce-42",
                SigScheme::Null,
                &sel,
            )
            .unwrap();
        let digest = HashAlg::Sha256.digest(&[q.attest.as_bytes()]);
        verify_signature(&ak.public, &digest, &q.signature).expect("quote signature");
        let mut forged = digest.clone();
        forged[0] ^= 1;
        assert_eq!(
            verify_signature(&ak.public, &forged, &q.signature),
            Err(Rc::SIGNATURE)
        );
        let a = q.attest.attest().unwrap();
        assert_eq!(a.extra_data.as_slice(), b"nonce-42");
        assert_eq!(
            a.qualified_signer,
            t.read_public(ak.handle).unwrap().qualified_name
        );
        let Attested::Quote(info) = a.attested else {
            panic!("not a quote")
        };
        assert_eq!(info.pcr_select, sel);
        let values = t.pcr_read(&sel).unwrap();
        assert_eq!(
            values.quote_digest(&sel, HashAlg::Sha256).unwrap(),
            info.pcr_digest.0
        );
        t.flush_context(ak.handle).unwrap();
        t.flush_context(s.handle()).unwrap();
    }
}

#[test]
fn sign_with_an_unrestricted_key_and_a_restricted_one() {
    let mut t = engine(&[HashAlg::Sha256]);
    let key = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::signing_ecc_p256(),
            &KeyInputs::with_auth(b"kpw"),
        )
        .unwrap();
    let digest = HashAlg::Sha256.digest(&[b"certificate body"]);
    let sig = t
        .sign(
            key.handle,
            &Auth::password(b"kpw"),
            &digest,
            SigScheme::Null,
            &TkHashcheck::null(),
        )
        .unwrap();
    verify_signature(&key.public, &digest, &sig).unwrap();
    // A restricted key signs only with a hash ticket.
    let ak = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::ak_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap();
    let e = t
        .sign(
            ak.handle,
            &Auth::empty(),
            &digest,
            SigScheme::Null,
            &TkHashcheck::null(),
        )
        .unwrap_err();
    assert!(e.is_rc(Rc::TICKET), "{e}");
    let h = t
        .hash(b"certificate body", HashAlg::Sha256, rh::OWNER)
        .unwrap();
    let sig = t
        .sign(
            ak.handle,
            &Auth::empty(),
            &h.digest,
            SigScheme::Null,
            &h.ticket,
        )
        .unwrap();
    verify_signature(&ak.public, &digest, &sig).unwrap();
}

#[test]
fn evict_control_and_handles() {
    let mut t = engine(&[HashAlg::Sha256]);
    let srk = t
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::srk_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap();
    t.evict_control(rh::OWNER, &Auth::empty(), srk.handle, 0x8100_0001)
        .unwrap();
    assert_eq!(t.handles(0x8100_0000).unwrap(), vec![0x8100_0001]);
    assert_eq!(t.read_public(0x8100_0001).unwrap().name, srk.name);
    assert_eq!(t.name_of(0x8100_0001).unwrap(), srk.name.as_bytes());
    assert_eq!(t.name_of(rh::OWNER).unwrap(), rh::OWNER.to_be_bytes());
    t.evict_control(rh::OWNER, &Auth::empty(), 0x8100_0001, 0x8100_0001)
        .unwrap();
    assert!(t.handles(0x8100_0000).unwrap().is_empty());
    assert_eq!(t.handles(0x8000_0000).unwrap(), vec![srk.handle]);
}
