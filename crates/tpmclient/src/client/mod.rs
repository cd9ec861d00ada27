//! The client: frames commands, runs their authorization sessions, and
//! checks and decodes responses. The typed commands live in the sibling
//! modules, one per area of Part 3.

mod attest;
mod basic;
mod nv;
mod object;
mod pcr;
mod policy;

use std::collections::HashMap;
use std::time::Duration;

use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use tpm::constants::{rh, session_attr, st};
use tpm::crypto::sym::param_cfb;
use tpm::crypto::xor::param_xor;
use tpm::crypto::SymAlg;
use tpm::types::{AuthCommand, AuthResponse, SymDef};
use tpm::wire::{Codec, Reader, Tpm2b, Tpm2bBytes};
use tpm::Rc;
use zeroize::Zeroizing;

pub use attest::Quote;
pub use basic::{HashResult, StartupType};
pub use nv::NvPublicInfo;
pub use object::{Created, CreatedPrimary, KeyInputs, Loaded, ObjectPublic};
pub use pcr::{PcrValue, PcrValues};
pub use policy::SessionOptions;

use crate::command::{Command, Response};
use crate::error::{Error, Result};
use crate::session::{self, Auth, SessionState};
use crate::tcti::Tcti;
use crate::transport::{Timeouts, Transport};

/// Warnings after which the same command is simply sent again (Part 2
/// §6.6.3: the TPM was busy, not wrong).
fn retryable(rc: Rc) -> bool {
    rc == Rc::RETRY || rc == Rc::YIELDED || rc == Rc::TESTING || rc == Rc::NV_RATE
}

/// A TPM 2.0 client over one [`Transport`].
pub struct Tpm {
    transport: Box<dyn Transport>,
    locality: u8,
    sessions: HashMap<u32, SessionState>,
    nv_buffer_max: Option<usize>,
    max_retries: u32,
}

/// One prepared authorization of a command.
struct Prepared {
    /// TPM_RS_PW or the session handle.
    handle: u32,
    nonce_caller: Vec<u8>,
    attrs: u8,
    /// The HMAC (or password) field.
    hmac: Zeroizing<Vec<u8>>,
    /// The HMAC key, for the response.
    key: Zeroizing<Vec<u8>>,
    /// The entity's authValue (parameter encryption keys).
    auth_value: Zeroizing<Vec<u8>>,
}

impl Tpm {
    /// A client over `transport`, at locality 0.
    pub fn new(transport: impl Transport + 'static) -> Self {
        Tpm {
            transport: Box::new(transport),
            locality: 0,
            sessions: HashMap::new(),
            nv_buffer_max: None,
            max_retries: 6,
        }
    }

    /// Connects to the TPM a tpm2-tss TCTI string names
    /// (`device:/dev/tpmrm0`, `mssim:host=..,port=..`,
    /// `swtpm:host=..,port=..`), with default [`Timeouts`].
    pub fn open(tcti: &str) -> Result<Self> {
        Self::open_with(&tcti.parse::<Tcti>()?, Timeouts::default())
    }

    /// Connects to `tcti` with explicit timeouts.
    pub fn open_with(tcti: &Tcti, timeouts: Timeouts) -> Result<Self> {
        Ok(Tpm::new(tcti.connect(timeouts)?))
    }

    /// The locality of the following commands.
    pub fn set_locality(&mut self, locality: u8) {
        self.locality = locality;
    }

    pub fn locality(&self) -> u8 {
        self.locality
    }

    /// How many times a command answered TPM_RC_RETRY, _YIELDED, _TESTING
    /// or _NV_RATE is sent again (with a short, growing pause) before the
    /// warning is returned. Default 6 (about 1.3 s of waiting in total).
    pub fn set_max_retries(&mut self, n: u32) {
        self.max_retries = n;
    }

    /// The transport, e.g. for swtpm control commands.
    pub fn transport_mut(&mut self) -> &mut dyn Transport {
        self.transport.as_mut()
    }

    /// Sends raw command bytes and returns the raw response, for commands
    /// this client has no helper for. Sessions are not involved.
    pub fn execute_raw(&mut self, command: &[u8]) -> Result<Vec<u8>> {
        Ok(self.transport.transmit(self.locality, command)?)
    }

    /// The Name of the entity `handle` refers to (Part 1 §16): read from
    /// the TPM for objects (TPM2_ReadPublic) and NV indices
    /// (TPM2_NV_ReadPublic), the handle itself for everything else.
    pub fn name_of(&mut self, handle: u32) -> Result<Vec<u8>> {
        Ok(match rh::handle_type(handle) {
            rh::HT_NV_INDEX => self.nv_read_public(handle)?.name.as_bytes().to_vec(),
            rh::HT_TRANSIENT | rh::HT_PERSISTENT => {
                self.read_public(handle)?.name.as_bytes().to_vec()
            }
            _ => handle.to_be_bytes().to_vec(),
        })
    }

    pub(crate) fn session_state(&self, handle: u32) -> Result<&SessionState> {
        self.sessions
            .get(&handle)
            .ok_or_else(|| Error::invalid(format!("no session 0x{handle:08x} in this client")))
    }

    pub(crate) fn session_state_mut(&mut self, handle: u32) -> Result<&mut SessionState> {
        self.sessions
            .get_mut(&handle)
            .ok_or_else(|| Error::invalid(format!("no session 0x{handle:08x} in this client")))
    }

    /// Runs `cmd`, sending it again after a retryable warning.
    pub(crate) fn run(&mut self, cmd: Command) -> Result<Response> {
        let mut attempt = 0u32;
        loop {
            match self.run_once(&cmd) {
                Err(Error::Tpm { rc, .. }) if retryable(rc) && attempt < self.max_retries => {
                    attempt += 1;
                    tracing::debug!(command = cmd.code, rc = rc.0, attempt, "TPM busy; retrying");
                    std::thread::sleep(Duration::from_millis(10 << attempt.min(6)));
                }
                r => return r,
            }
        }
    }

    fn run_once(&mut self, cmd: &Command) -> Result<Response> {
        if cmd.auths.len() > 3 || cmd.auths.len() > cmd.handles.len() {
            return Err(Error::invalid("more authorizations than handles"));
        }
        let uses_sessions = cmd.auths.iter().any(|a| a.session_ref().is_some());
        let names: Vec<Vec<u8>> = if uses_sessions {
            let handles = cmd.handles.clone();
            handles
                .into_iter()
                .map(|h| self.name_of(h))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };

        let mut prepared = Vec::with_capacity(cmd.auths.len());
        let mut decrypt_at = None;
        let mut encrypt_at = None;
        for (i, auth) in cmd.auths.iter().enumerate() {
            prepared.push(self.prepare(cmd, i, auth, &names, &mut decrypt_at, &mut encrypt_at)?);
        }

        let mut params = Zeroizing::new(cmd.params.to_vec());
        if let Some(d) = decrypt_at {
            self.crypt_first_param(&prepared[d], &mut params, true, cmd.code)?;
        }
        self.compute_hmacs(cmd, &names, &params, &mut prepared, decrypt_at, encrypt_at)?;

        let bytes = Zeroizing::new(frame(cmd, &prepared, &params));
        let resp = Zeroizing::new(self.transport.transmit(self.locality, &bytes)?);
        self.finish(cmd, &prepared, encrypt_at, &resp)
    }

    /// Builds the authorization of handle `i`.
    fn prepare(
        &self,
        cmd: &Command,
        i: usize,
        auth: &Auth,
        names: &[Vec<u8>],
        decrypt_at: &mut Option<usize>,
        encrypt_at: &mut Option<usize>,
    ) -> Result<Prepared> {
        let (session, auth_value, requested) = match auth {
            Auth::Password(p) => {
                if p.len() > tpm::types::MAX_DIGEST_SIZE {
                    return Err(Error::invalid(
                        "a password is at most 64 octets (TPM2B_AUTH)",
                    ));
                }
                return Ok(Prepared {
                    handle: rh::PW,
                    nonce_caller: Vec::new(),
                    attrs: session_attr::CONTINUE_SESSION,
                    hmac: p.clone(),
                    key: Zeroizing::new(Vec::new()),
                    auth_value: p.clone(),
                });
            }
            Auth::Session {
                session,
                auth_value,
                attributes,
            } => (session, auth_value, *attributes),
        };
        let st = self.session_state(session.handle)?;
        let mut attrs = requested & session_attr::CONTINUE_SESSION;
        let wants = |bit: u8| requested & bit != 0;
        if wants(session_attr::DECRYPT) && cmd.decrypt && decrypt_at.is_none() {
            if st.symmetric == SymDef::Null {
                return Err(Error::invalid(
                    "decrypt asked of a session without a symmetric algorithm",
                ));
            }
            attrs |= session_attr::DECRYPT;
            *decrypt_at = Some(i);
        }
        if wants(session_attr::ENCRYPT) && cmd.encrypt && encrypt_at.is_none() {
            if st.symmetric == SymDef::Null {
                return Err(Error::invalid(
                    "encrypt asked of a session without a symmetric algorithm",
                ));
            }
            attrs |= session_attr::ENCRYPT;
            *encrypt_at = Some(i);
        }
        let mut nonce = vec![0u8; st.hash.digest_size()];
        OsRng.fill_bytes(&mut nonce);
        let name = names.get(i).map(Vec::as_slice).unwrap_or(&[]);
        let include = st.include_auth(name, auth_value);
        Ok(Prepared {
            handle: session.handle,
            nonce_caller: nonce,
            attrs,
            hmac: Zeroizing::new(Vec::new()),
            key: st.hmac_key(include, auth_value),
            auth_value: auth_value.clone(),
        })
    }

    /// Fills in the HMAC (or, after PolicyPassword, the password) of every
    /// session, over the parameters as sent.
    fn compute_hmacs(
        &self,
        cmd: &Command,
        names: &[Vec<u8>],
        params: &[u8],
        prepared: &mut [Prepared],
        decrypt_at: Option<usize>,
        encrypt_at: Option<usize>,
    ) -> Result<()> {
        // The first session's HMAC also covers the nonces of separate
        // decrypt and encrypt sessions (Part 1 §19.6.5).
        let mut extra = Vec::new();
        if let Some(first) = prepared.first() {
            if first.handle != rh::PW {
                for at in [decrypt_at, encrypt_at.filter(|e| Some(*e) != decrypt_at)]
                    .into_iter()
                    .flatten()
                    .filter(|i| *i != 0)
                {
                    if let Some(p) = prepared.get(at) {
                        extra.push(self.session_state(p.handle)?.nonce_tpm.clone());
                    }
                }
            }
        }
        for (i, p) in prepared.iter_mut().enumerate() {
            if p.handle == rh::PW {
                continue;
            }
            let st = self.session_state(p.handle)?;
            if st.is_policy() && st.policy_password {
                p.hmac = Zeroizing::new(session::trim(&p.auth_value).to_vec());
                continue;
            }
            let cp = session::cp_hash(st.hash, cmd.code, names, params);
            let ex: &[Vec<u8>] = if i == 0 { &extra } else { &[] };
            p.hmac = Zeroizing::new(st.command_hmac(&p.key, &cp, &p.nonce_caller, ex, p.attrs));
        }
        Ok(())
    }

    /// Encrypts (command) or decrypts (response) the first parameter with
    /// the session of `p` (Part 1 §21): nonceNewer is the sender's nonce.
    fn crypt_first_param(
        &self,
        p: &Prepared,
        params: &mut [u8],
        command_side: bool,
        code: u32,
    ) -> Result<()> {
        let st = self.session_state(p.handle)?;
        let n = match params.get(..2) {
            Some(b) => u16::from_be_bytes([b[0], b[1]]) as usize,
            None => return Err(Error::malformed(code, "no parameter to decrypt")),
        };
        let data = params
            .get_mut(2..2 + n)
            .ok_or_else(|| Error::malformed(code, "first parameter overruns the parameters"))?;
        let (newer, older) = if command_side {
            (p.nonce_caller.as_slice(), st.nonce_tpm.as_slice())
        } else {
            (st.nonce_tpm.as_slice(), p.nonce_caller.as_slice())
        };
        let auth = session::trim(&p.auth_value);
        let r = match st.symmetric {
            SymDef::Null => return Err(Error::invalid("session has no symmetric algorithm")),
            SymDef::Xor { hash } => {
                let h = tpm::crypto::HashAlg::from_id(hash)
                    .ok_or_else(|| Error::invalid("XOR session with an unknown hash"))?;
                param_xor(h, &st.key, auth, newer, older, data)
            }
            SymDef::Cipher { alg, key_bits, .. } => {
                let a = SymAlg::from_tpm(alg, key_bits)
                    .ok_or_else(|| Error::invalid("session cipher not implemented here"))?;
                param_cfb(st.hash, a, &st.key, auth, newer, older, command_side, data)
            }
        };
        r.map_err(|e| Error::invalid(format!("parameter encryption: {e}")))
    }

    /// Checks the response, verifies and rolls the sessions, decrypts the
    /// first response parameter and returns the parameters.
    fn finish(
        &mut self,
        cmd: &Command,
        prepared: &[Prepared],
        encrypt_at: Option<usize>,
        resp: &[u8],
    ) -> Result<Response> {
        let code = cmd.code;
        let bad = |why: &str| Error::malformed(code, why);
        let mut r = Reader::new(resp);
        let tag = r.u16().map_err(|_| bad("short header"))?;
        let size = r.u32().map_err(|_| bad("short header"))? as usize;
        let rc = Rc(r.u32().map_err(|_| bad("short header"))?);
        if size != resp.len() {
            return Err(bad("size field disagrees with the response length"));
        }
        if rc != Rc::SUCCESS {
            return Err(Error::Tpm { command: code, rc });
        }
        let with_sessions = !prepared.is_empty();
        let want_tag = if with_sessions {
            st::SESSIONS
        } else {
            st::NO_SESSIONS
        };
        if tag != want_tag {
            return Err(bad("unexpected response tag"));
        }
        let handle = if cmd.response_handle {
            Some(r.u32().map_err(|_| bad("missing response handle"))?)
        } else {
            None
        };
        let mut params: Zeroizing<Vec<u8>> = Zeroizing::new(if with_sessions {
            let n = r.u32().map_err(|_| bad("missing parameter size"))? as usize;
            r.take(n)
                .map_err(|_| bad("parameter size overruns the response"))?
                .to_vec()
        } else {
            r.take_rest().to_vec()
        });
        let mut acks = Vec::with_capacity(prepared.len());
        for _ in prepared {
            acks.push(AuthResponse::decode(&mut r).map_err(|e| Error::malformed(code, e))?);
        }
        if !r.is_empty() {
            return Err(bad("trailing octets after the authorization area"));
        }

        for (p, ack) in prepared.iter().zip(&acks) {
            self.verify_ack(code, p, ack, &params)?;
        }
        if let Some(e) = encrypt_at {
            if let Some(p) = prepared.get(e) {
                self.crypt_first_param(p, &mut params, false, code)?;
            }
        }
        for p in prepared {
            if p.handle != rh::PW && p.attrs & session_attr::CONTINUE_SESSION == 0 {
                self.sessions.remove(&p.handle);
            }
        }
        Ok(Response {
            code,
            handle,
            params,
        })
    }

    /// Verifies one session's response HMAC and takes the TPM's new nonce.
    fn verify_ack(
        &mut self,
        code: u32,
        p: &Prepared,
        ack: &AuthResponse,
        params: &[u8],
    ) -> Result<()> {
        if p.handle == rh::PW {
            if !ack.nonce.is_empty() || !ack.hmac.is_empty() {
                return Err(Error::malformed(
                    code,
                    "password session answered with a nonce or HMAC",
                ));
            }
            return Ok(());
        }
        let st = self.session_state(p.handle)?;
        if ack.nonce.is_empty() {
            return Err(Error::malformed(code, "session answered without a nonce"));
        }
        let password = st.is_policy() && st.policy_password;
        let ok = if password || (p.key.is_empty() && ack.hmac.is_empty()) {
            // No key, no HMAC (Part 1 §19.6.5; PolicyPassword sessions
            // answer with an empty HMAC).
            ack.hmac.is_empty()
        } else {
            let rp = session::rp_hash(st.hash, code, params);
            let want = st.response_hmac(
                &p.key,
                &rp,
                ack.nonce.as_slice(),
                &p.nonce_caller,
                ack.attributes,
            );
            bool::from(want.as_slice().ct_eq(ack.hmac.as_slice()))
        };
        if !ok {
            return Err(Error::ResponseHmac {
                command: code,
                session: p.handle,
            });
        }
        let st = self.session_state_mut(p.handle)?;
        st.nonce_tpm = ack.nonce.as_slice().to_vec();
        // A policy session that authorized a command starts over (Part 1
        // §19.7.1; the TPM resets its policyDigest).
        st.policy_auth_value = false;
        st.policy_password = false;
        Ok(())
    }
}

/// Marshals the command: header, handles, authorization area, parameters.
fn frame(cmd: &Command, prepared: &[Prepared], params: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(64 + params.len());
    cmd.code.encode(&mut body);
    for h in &cmd.handles {
        h.encode(&mut body);
    }
    if !prepared.is_empty() {
        let mut area = Vec::new();
        for p in prepared {
            AuthCommand {
                session_handle: p.handle,
                nonce: Tpm2b(p.nonce_caller.clone()),
                attributes: p.attrs,
                hmac: Tpm2bBytes(p.hmac.to_vec()),
            }
            .encode(&mut area);
        }
        (area.len() as u32).encode(&mut body);
        body.extend_from_slice(&area);
    }
    body.extend_from_slice(params);
    let tag = if prepared.is_empty() {
        st::NO_SESSIONS
    } else {
        st::SESSIONS
    };
    let mut out = Vec::with_capacity(6 + body.len());
    tag.encode(&mut out);
    ((6 + body.len()) as u32).encode(&mut out);
    out.extend_from_slice(&body);
    out
}

impl std::fmt::Debug for Tpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tpm")
            .field("endpoint", &self.transport.endpoint())
            .field("locality", &self.locality)
            .field("sessions", &self.sessions.keys().collect::<Vec<_>>())
            .finish()
    }
}
