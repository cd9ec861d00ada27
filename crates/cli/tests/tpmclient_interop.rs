//! The `tpmclient` crate against real TPM servers over their TCP
//! protocols: the reference swtpm (libtpms) and `trustcloud tpm serve`
//! (mssim and swtpm protocols), with tpm2-tools as the independent check.
//!
//! swtpm is what proves the client's session arithmetic (cpHash/rpHash,
//! command and response HMACs, session keys of bound sessions, parameter
//! encryption, policy digests) interoperates with another implementation
//! than the engine it was written next to.
//!
//! swtpm serves one data connection at a time, so every test runs the
//! tpm2-tools it needs while no client is connected.

mod support;

use support::{Protocol, Server, ServerBuilder};
use tpm::constants::{cap, cc, pt, rh};
use tpm::crypto::HashAlg;
use tpm::engine::verify_signature;
use tpm::templates::{self, EkTemplate};
use tpm::types::{
    Attested, Capabilities, NvAttributes, NvPublic, NvType, PcrSelection, PcrSelectionList,
    Public2b, SessionType, SigScheme,
};
use tpm::wire::Codec;
use tpm::Rc;
use tpmclient::policy::PolicyDigest;
use tpmclient::{templates as keys, Auth, Error, KeyInputs, SessionOptions, StartupType, Tpm};

/// The servers every flow runs against.
fn servers() -> Vec<ServerBuilder> {
    vec![
        ServerBuilder::swtpm(),
        ServerBuilder::trustcloud(Protocol::Swtpm),
        ServerBuilder::trustcloud(Protocol::Mssim),
    ]
}

fn label(s: &Server) -> String {
    format!("{:?}/{}", s.implementation(), s.protocol())
}

/// A client on `s`'s TCTI string, with the TPM started.
fn client(s: &Server) -> Tpm {
    let mut t = Tpm::open(&s.tcti()).unwrap_or_else(|e| panic!("{}: {e}", label(s)));
    t.startup(StartupType::Clear).unwrap();
    t
}

/// EK creation with the profile templates gives exactly the key
/// tpm2_createek makes on the same TPM.
#[test]
fn ek_equals_tpm2_createek() {
    for b in [
        ServerBuilder::swtpm(),
        ServerBuilder::trustcloud(Protocol::Swtpm),
    ] {
        let s = b.start();
        s.ok("tpm2_startup", &["-c"]);
        for (alg, tpl) in [("rsa", EkTemplate::RsaL1), ("ecc", EkTemplate::EccP256L2)] {
            let out = format!("ek-{alg}.pub");
            let ctx = format!("ek-{alg}.ctx");
            s.ok("tpm2_createek", &["-G", alg, "-u", &out, "-c", &ctx]);
            let tools = Public2b::from_bytes(&std::fs::read(s.path(&out)).unwrap())
                .unwrap()
                .0;
            let mut t = client(&s);
            assert!(!t.startup(StartupType::Clear).unwrap(), "already started");
            let ek = t
                .create_primary(
                    rh::ENDORSEMENT,
                    &Auth::empty(),
                    &tpl.public(),
                    &KeyInputs::default(),
                )
                .unwrap();
            assert_eq!(ek.public, tools, "{}: {alg} EK", label(&s));
            assert_eq!(Some(ek.name), tools.name());
            t.flush_context(ek.handle).unwrap();
        }
    }
}

fn nv_public(index: u32, ty: NvType, size: u16) -> NvPublic {
    NvPublic {
        nv_index: index,
        name_alg: tpm::constants::alg::SHA256,
        attributes: NvAttributes(
            NvAttributes::AUTHWRITE | NvAttributes::AUTHREAD | NvAttributes::NO_DA,
        )
        .with_type(ty),
        auth_policy: Default::default(),
        data_size: size,
    }
}

/// NV data larger than TPM_PT_NV_BUFFER_MAX written through an encrypting
/// HMAC session comes back the same through the client and through
/// tpm2_nvread; counters count and extend indices extend.
#[test]
fn nv_round_trips() {
    for b in servers() {
        let s = b.start();
        let idx = 0x0150_0100;
        let data: Vec<u8> = (0..1800u32).map(|i| (i * 13 + 5) as u8).collect();
        {
            let mut t = client(&s);
            t.nv_define_space(
                rh::OWNER,
                &Auth::empty(),
                b"nvpw",
                &nv_public(idx, NvType::Ordinary, 1800),
            )
            .unwrap();
            let sess = t.start_hmac_session(HashAlg::Sha256).unwrap();
            let a = Auth::session_with(sess, b"nvpw").decrypt().encrypt();
            t.nv_write(idx, idx, &a, 0, &data).unwrap();
            assert_eq!(
                t.nv_read(idx, idx, &a, 0, 1800).unwrap().as_slice(),
                &data[..]
            );
            assert_eq!(
                t.nv_read_all(idx, idx, &Auth::password(b"nvpw"))
                    .unwrap()
                    .as_slice(),
                &data[..]
            );
            let ctr = 0x0150_0101;
            t.nv_define_space(
                rh::OWNER,
                &Auth::empty(),
                b"",
                &nv_public(ctr, NvType::Counter, 8),
            )
            .unwrap();
            t.nv_increment(ctr, ctr, &Auth::session(sess)).unwrap();
            let c = t.nv_read_counter(ctr, ctr, &Auth::empty()).unwrap();
            t.nv_increment(ctr, ctr, &Auth::empty()).unwrap();
            assert_eq!(
                t.nv_read_counter(ctr, ctr, &Auth::session(sess)).unwrap(),
                c + 1
            );
            let ext = 0x0150_0102;
            t.nv_define_space(
                rh::OWNER,
                &Auth::empty(),
                b"",
                &nv_public(ext, NvType::Extend, 32),
            )
            .unwrap();
            t.nv_extend(ext, ext, &Auth::session(sess).decrypt(), b"record")
                .unwrap();
            assert_eq!(
                t.nv_read(ext, ext, &Auth::empty(), 0, 32)
                    .unwrap()
                    .as_slice(),
                HashAlg::Sha256.digest(&[&[0u8; 32], b"record"])
            );
            t.flush_context(sess.handle()).unwrap();
        }
        let out = s.path("nv.bin");
        s.ok(
            "tpm2_nvread",
            &[
                "0x01500100",
                "-C",
                "0x01500100",
                "-P",
                "nvpw",
                "-o",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(std::fs::read(&out).unwrap(), data, "{}", label(&s));
        let mut t = client(&s);
        t.nv_undefine(rh::OWNER, &Auth::empty(), idx).unwrap();
        let e = t.nv_read_public(idx).unwrap_err();
        assert_eq!(e.rc().map(Rc::base), Some(Rc::HANDLE), "{}: {e}", label(&s));
        assert!(e.to_string().contains("TPM2_NV_ReadPublic"), "{e}");
    }
}

/// A quote over PCRs in two banks with a nonce, checked with the
/// engine's own verifier rules and PCR values read back through the
/// client (several TPM2_PCR_Read calls).
#[test]
fn quote_verifies() {
    for b in [
        ServerBuilder::swtpm(),
        ServerBuilder::trustcloud(Protocol::Mssim),
    ] {
        let s = b.start();
        let mut t = client(&s);
        let banks: Vec<HashAlg> = t
            .pcr_allocation()
            .unwrap()
            .0
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| b.hash)
            .collect();
        assert!(banks.contains(&HashAlg::Sha256), "{banks:?}");
        let d = HashAlg::Sha256.digest(&[b"kernel cmdline"]);
        t.pcr_extend(9, &Auth::empty(), &[(HashAlg::Sha256, &d)])
            .unwrap();
        let sel = PcrSelectionList(banks.iter().map(|b| PcrSelection::all(*b)).collect());
        let all = t.pcr_read(&sel).unwrap();
        assert_eq!(all.values.len(), 24 * banks.len(), "{}", label(&s));
        let ak = t
            .create_primary(
                rh::OWNER,
                &Auth::empty(),
                &keys::ak_ecc_p256(),
                &KeyInputs::default(),
            )
            .unwrap();
        let quoted = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[0, 7, 9, 10])]);
        let sess = t.start_hmac_session(HashAlg::Sha256).unwrap();
        let nonce = t.get_random(20).unwrap();
        let q = t
            .quote(
                ak.handle,
                &Auth::session(sess).encrypt(),
                &nonce,
                SigScheme::Null,
                &quoted,
            )
            .unwrap();
        let digest = HashAlg::Sha256.digest(&[q.attest.as_bytes()]);
        verify_signature(&ak.public, &digest, &q.signature)
            .unwrap_or_else(|rc| panic!("{}: quote signature: {rc:?}", label(&s)));
        let a = q.attest.attest().unwrap();
        assert_eq!(a.extra_data.as_slice(), &nonce[..]);
        let Attested::Quote(info) = a.attested else {
            panic!("not a quote")
        };
        assert_eq!(info.pcr_select, quoted);
        let now = t.pcr_read(&quoted).unwrap();
        assert_eq!(
            now.quote_digest(&quoted, HashAlg::Sha256).unwrap(),
            info.pcr_digest.0,
            "{}",
            label(&s)
        );
        assert_eq!(
            now.get(HashAlg::Sha256, 9).unwrap(),
            HashAlg::Sha256.digest(&[&[0u8; 32], &d])
        );
    }
}

/// Bound and unbound HMAC sessions, policy sessions (PolicySecret for the
/// EK, PolicyPCR, PolicyAuthValue, PolicyPassword), and credential
/// activation: every command HMAC is checked by the server and every
/// response HMAC by the client.
#[test]
fn sessions_interoperate() {
    for b in [
        ServerBuilder::swtpm(),
        ServerBuilder::trustcloud(Protocol::Swtpm),
    ] {
        let s = b.start();
        let who = label(&s);
        let mut t = client(&s);

        // Bound session with parameter encryption on an NV index.
        let idx = 0x0150_0200;
        t.nv_define_space(
            rh::OWNER,
            &Auth::empty(),
            b"bindpw",
            &nv_public(idx, NvType::Ordinary, 32),
        )
        .unwrap();
        let bound = t
            .start_auth_session(
                SessionType::Hmac,
                HashAlg::Sha256,
                &SessionOptions::aes128_cfb().bound_to(idx, b"bindpw"),
            )
            .unwrap();
        let a = Auth::session_with(bound, b"bindpw").decrypt().encrypt();
        t.nv_write(idx, idx, &a, 0, b"bound session secret, 32 octets")
            .unwrap();
        assert_eq!(
            t.nv_read(idx, idx, &a, 0, 31).unwrap().as_slice(),
            b"bound session secret, 32 octets",
            "{who}"
        );
        // The same session for another entity mixes that entity's auth in.
        let srk = t
            .create_primary(
                rh::OWNER,
                &Auth::empty(),
                &keys::srk_ecc_p256(),
                &KeyInputs::with_auth(b"srkpw"),
            )
            .unwrap();
        let key = t
            .create(
                srk.handle,
                &Auth::session_with(bound, b"srkpw").decrypt(),
                &keys::signing_ecc_p256(),
                &KeyInputs::with_auth(b"keypw"),
            )
            .unwrap();
        let key = t
            .load(
                srk.handle,
                &Auth::session_with(bound, b"srkpw"),
                &key.private,
                &key.public,
            )
            .unwrap();
        let digest = HashAlg::Sha256.digest(&[b"to sign"]);
        let sig = t
            .sign(
                key.handle,
                &Auth::session_with(bound, b"keypw").decrypt(),
                &digest,
                SigScheme::Null,
                &tpm::types::TkHashcheck::null(),
            )
            .unwrap();
        let public = t.read_public(key.handle).unwrap().public;
        verify_signature(&public, &digest, &sig).unwrap();
        let e = t
            .sign(
                key.handle,
                &Auth::session_with(bound, b"wrong"),
                &digest,
                SigScheme::Null,
                &tpm::types::TkHashcheck::null(),
            )
            .unwrap_err();
        assert!(e.is_rc(Rc::AUTH_FAIL), "{who}: {e}");
        t.flush_context(bound.handle()).unwrap();
        // libtpms has three transient object slots.
        t.flush_context(key.handle).unwrap();

        // EK policy: PolicySecret(endorsement) and credential activation.
        let ek = t
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &templates::ek_rsa2048_l1(),
                &KeyInputs::default(),
            )
            .unwrap();
        let ak = t
            .create(
                srk.handle,
                &Auth::password(b"srkpw"),
                &keys::ak_rsa2048(),
                &KeyInputs::default(),
            )
            .unwrap();
        let ak = t
            .load(
                srk.handle,
                &Auth::password(b"srkpw"),
                &ak.private,
                &ak.public,
            )
            .unwrap();
        let (blob, secret) = t
            .make_credential(ek.handle, b"0123456789abcdef", &ak.name)
            .unwrap();
        let hmac = t.start_hmac_session(HashAlg::Sha256).unwrap();
        let policy = t.start_policy_session(HashAlg::Sha256).unwrap();
        t.policy_secret(policy, rh::ENDORSEMENT, &Auth::session(hmac))
            .unwrap();
        assert_eq!(
            t.policy_get_digest(policy).unwrap(),
            templates::POLICY_A_SHA256,
            "{who}"
        );
        let got = t
            .activate_credential(
                ak.handle,
                &Auth::session(hmac),
                ek.handle,
                &Auth::session(policy).encrypt(),
                &blob,
                &secret,
            )
            .unwrap_err();
        // The policy session has no symmetric algorithm: refused locally.
        assert!(matches!(got, Error::Invalid(_)), "{got}");
        let got = t
            .activate_credential(
                ak.handle,
                &Auth::session(hmac).encrypt(),
                ek.handle,
                &Auth::session(policy),
                &blob,
                &secret,
            )
            .unwrap();
        assert_eq!(got.as_slice(), b"0123456789abcdef", "{who}");
        t.flush_context(ak.handle).unwrap();
        t.flush_context(ek.handle).unwrap();

        // PolicyPCR sealing, then PolicyAuthValue and PolicyPassword.
        let sel = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[11])]);
        let v = t
            .pcr_read(&sel)
            .unwrap()
            .quote_digest(&sel, HashAlg::Sha256)
            .unwrap();
        let digest = PolicyDigest::new(HashAlg::Sha256)
            .policy_pcr(&sel, &v)
            .policy_auth_value()
            .into_digest();
        let inputs = KeyInputs::sealing(b"sealed to PCR 11").and_auth(b"objpw");
        let obj = t
            .create(
                srk.handle,
                &Auth::password(b"srkpw"),
                &keys::sealed_data(&digest, false),
                &inputs,
            )
            .unwrap();
        let obj = t
            .load(
                srk.handle,
                &Auth::password(b"srkpw"),
                &obj.private,
                &obj.public,
            )
            .unwrap();
        for password in [false, true] {
            t.policy_pcr(policy, &[], &sel).unwrap();
            if password {
                t.policy_password(policy).unwrap();
            } else {
                t.policy_auth_value(policy).unwrap();
            }
            assert_eq!(t.policy_get_digest(policy).unwrap(), digest, "{who}");
            let out = t
                .unseal(obj.handle, &Auth::session_with(policy, b"objpw"))
                .unwrap();
            assert_eq!(
                out.as_slice(),
                b"sealed to PCR 11",
                "{who} password={password}"
            );
        }
        let d = HashAlg::Sha256.digest(&[b"changed"]);
        t.pcr_extend(11, &Auth::session(hmac), &[(HashAlg::Sha256, &d)])
            .unwrap();
        t.policy_pcr(policy, &[], &sel).unwrap();
        t.policy_auth_value(policy).unwrap();
        let e = t
            .unseal(obj.handle, &Auth::session_with(policy, b"objpw"))
            .unwrap_err();
        assert!(e.is_rc(Rc::POLICY_FAIL), "{who}: {e}");
    }
}

/// The locality reaches the TPM: a PCR that only locality 3 may extend
/// refuses locality 0 and accepts locality 3 (mssim framing, and swtpm's
/// CMD_SET_LOCALITY).
#[test]
fn locality_reaches_the_tpm() {
    for b in servers() {
        let s = b.start();
        let who = label(&s);
        let mut t = client(&s);
        let props = match t
            .get_capability(cap::PCR_PROPERTIES, pt::PCR_EXTEND_L0, 12)
            .unwrap()
            .1
        {
            Capabilities::PcrProperties(p) => p,
            other => panic!("{other:?}"),
        };
        let of = |tag| {
            props
                .iter()
                .find(|p| p.tag == tag)
                .unwrap_or_else(|| panic!("{who}: no {tag:#x}"))
        };
        let l0 = of(pt::PCR_EXTEND_L0);
        let l3 = of(pt::PCR_EXTEND_L3);
        let pcr = (0..24)
            .find(|i| l3.is_selected(*i) && !l0.is_selected(*i))
            .unwrap_or_else(|| panic!("{who}: no PCR for locality 3 only"));
        let d = HashAlg::Sha256.digest(&[b"locality"]);
        let e = t
            .pcr_extend(pcr as u32, &Auth::empty(), &[(HashAlg::Sha256, &d)])
            .unwrap_err();
        assert!(e.is_rc(Rc::LOCALITY), "{who}: PCR {pcr} at locality 0: {e}");
        t.set_locality(3);
        t.pcr_extend(pcr as u32, &Auth::empty(), &[(HashAlg::Sha256, &d)])
            .unwrap_or_else(|e| panic!("{who}: PCR {pcr} at locality 3: {e}"));
        t.set_locality(0);
        let sel = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[pcr])]);
        let v = t.pcr_read(&sel).unwrap();
        assert_ne!(v.get(HashAlg::Sha256, pcr).unwrap(), &[0u8; 32], "{who}");
        assert_ne!(v.get(HashAlg::Sha256, pcr).unwrap(), &[0xffu8; 32], "{who}");
    }
}

/// Transport failures name the endpoint; TPM failures name the command
/// and the response code.
#[test]
fn errors_are_clear() {
    let port = support::free_port_pair();
    let e = Tpm::open(&format!("swtpm:host=127.0.0.1,port={port}")).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Transport(_)), "{msg}");
    assert!(msg.contains(&port.to_string()), "{msg}");
    let e = Tpm::open("mssim:host=127.0.0.1,port=0").unwrap_err();
    assert!(matches!(e, Error::Tcti(_)), "{e}");
    let e = Tpm::open("device:/nonexistent/tpm").unwrap_err();
    assert!(e.to_string().contains("/nonexistent/tpm"), "{e}");

    let s = ServerBuilder::swtpm().start();
    let mut t = Tpm::open(&s.tcti()).unwrap();
    // Before TPM2_Startup everything but Startup is TPM_RC_INITIALIZE.
    let e = t.get_random(8).unwrap_err();
    assert_eq!(e.rc(), Some(Rc::INITIALIZE), "{e}");
    assert_eq!(
        e.to_string(),
        "TPM2_GetRandom failed: TPM_RC_INITIALIZE (0x100)"
    );
    t.startup(StartupType::Clear).unwrap();
    let e = t
        .create_primary(
            rh::OWNER,
            &Auth::password(b"wrong"),
            &keys::srk_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap_err();
    assert_eq!(e.rc(), Some(Rc::BAD_AUTH.session(1)), "{e}");
    assert!(
        e.to_string()
            .contains("TPM2_CreatePrimary failed: TPM_RC_BAD_AUTH (session 1)"),
        "{e}"
    );
    assert_eq!(cc::CREATE_PRIMARY, 0x131);
}

/// With a connection per command (`Tcti::connect_shared`), tpm2-tools can
/// use the same swtpm between two commands of a live client, and a
/// session of the client survives the interleaving.
#[test]
fn shared_swtpm_lets_other_clients_in() {
    let s = ServerBuilder::swtpm().start();
    let tcti: tpmclient::Tcti = s.tcti().parse().unwrap();
    let transport = tcti
        .connect_shared(tpmclient::transport::Timeouts::default())
        .unwrap();
    let mut t = Tpm::new(transport);
    t.startup(StartupType::Clear).unwrap();
    let sess = t.start_hmac_session(HashAlg::Sha256).unwrap();
    let d = HashAlg::Sha256.digest(&[b"shared"]);
    t.pcr_extend(12, &Auth::session(sess), &[(HashAlg::Sha256, &d)])
        .unwrap();
    let out = s.ok("tpm2_pcrread", &["sha256:12"]);
    let banks = support::parse::pcrread(&out);
    let want = HashAlg::Sha256.digest(&[&[0u8; 32], &d]);
    assert_eq!(banks["sha256"][&12], want);
    t.pcr_extend(12, &Auth::session(sess), &[(HashAlg::Sha256, &d)])
        .unwrap();
    let sel = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[12])]);
    assert_eq!(
        t.pcr_read(&sel).unwrap().get(HashAlg::Sha256, 12).unwrap(),
        HashAlg::Sha256.digest(&[&want, &d])
    );
}

/// `swtpm:path=SOCKET`: swtpm on UNIX sockets, data at SOCKET and control
/// at SOCKET.ctrl (tcti-swtpm's convention), locality included.
#[test]
fn swtpm_over_unix_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tpm.sock");
    let mut child = std::process::Command::new("swtpm")
        .args(["socket", "--tpm2", "--flags", "not-need-init", "--tpmstate"])
        .arg(format!("dir={}", dir.path().display()))
        .arg("--server")
        .arg(format!("type=unixio,path={}", sock.display()))
        .arg("--ctrl")
        .arg(format!("type=unixio,path={}.ctrl", sock.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn swtpm");
    let deadline = std::time::Instant::now() + support::SERVER_START_TIMEOUT;
    let ctrl = dir.path().join("tpm.sock.ctrl");
    while !(sock.exists() && ctrl.exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "swtpm did not create its sockets"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let r = std::panic::catch_unwind(|| {
        let mut t = Tpm::open(&format!("swtpm:path={}", sock.display())).unwrap();
        assert!(t.startup(StartupType::Clear).unwrap());
        assert_eq!(t.get_random(32).unwrap().len(), 32);
        t.set_locality(3);
        let d = HashAlg::Sha256.digest(&[b"unix"]);
        // PCR 20 is extendable at localities 1-3 in the PC Client profile.
        t.pcr_extend(20, &Auth::empty(), &[(HashAlg::Sha256, &d)])
            .unwrap();
        t.set_locality(0);
        let e = t
            .pcr_extend(20, &Auth::empty(), &[(HashAlg::Sha256, &d)])
            .unwrap_err();
        assert!(e.is_rc(Rc::LOCALITY), "{e}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

/// The registrar's half of enrollment in process: the engine loads the
/// swtpm's EK public area (TPM2_LoadExternal) and makes the credential
/// for the AK's Name; swtpm activates it with the EK policy.
#[test]
fn registrar_makes_the_credential_in_process() {
    let s = ServerBuilder::swtpm().start();
    let mut agent = client(&s);
    let ek = agent
        .create_primary(
            rh::ENDORSEMENT,
            &Auth::empty(),
            &templates::ek_ecc_p256_l2(),
            &KeyInputs::default(),
        )
        .unwrap();
    let ak = agent
        .create_primary(
            rh::OWNER,
            &Auth::empty(),
            &keys::ak_ecc_p256(),
            &KeyInputs::default(),
        )
        .unwrap();

    let engine = tpm::Tpm::new(&tpm::EngineConfig::default());
    let mut registrar = Tpm::new(tpmclient::transport::EngineTransport::new(engine));
    registrar.startup(StartupType::Clear).unwrap();
    let loaded = registrar
        .load_external_public(&ek.public, rh::NULL)
        .unwrap();
    assert_eq!(loaded.name, ek.name);
    let secret_value = registrar.get_random(32).unwrap();
    let (blob, secret) = registrar
        .make_credential(loaded.handle, &secret_value, &ak.name)
        .unwrap();

    let policy = agent.start_policy_session(HashAlg::Sha256).unwrap();
    agent
        .policy_secret(policy, rh::ENDORSEMENT, &Auth::empty())
        .unwrap();
    let got = agent
        .activate_credential(
            ak.handle,
            &Auth::empty(),
            ek.handle,
            &Auth::session(policy),
            &blob,
            &secret,
        )
        .unwrap();
    assert_eq!(got.as_slice(), &secret_value[..]);
}
