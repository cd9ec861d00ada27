//! Sessions (Part 3 §11) and the policy commands (Part 3 §23) the client
//! needs: PolicySecret, PolicyPCR, PolicyCommandCode, PolicyAuthValue,
//! PolicyPassword, PolicyOR, PolicyRestart and PolicyGetDigest.

use rand_core::{OsRng, RngCore};
use tpm::constants::{cc, rh};
use tpm::crypto::kdf::kdfa;
use tpm::crypto::HashAlg;
use tpm::types::{
    Digest2b, DigestList, EncryptedSecret2b, Nonce2b, PcrSelectionList, SessionType, SymDef,
};
use tpm::wire::Tpm2b;
use zeroize::Zeroizing;

use super::Tpm;
use crate::command::Command;
use crate::error::{too_big, Error, Result};
use crate::session::{trim, Auth, Session, SessionState};

/// Options of TPM2_StartAuthSession beyond its type and hash.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// The entity the session is bound to and its authValue: the session
    /// key is derived from it (Part 1 §19.6.8), and an HMAC session used
    /// for that same entity leaves its authValue out of the HMAC key.
    pub bind: Option<(u32, Zeroizing<Vec<u8>>)>,
    /// Parameter encryption algorithm (TPMT_SYM_DEF), e.g. AES-128-CFB.
    pub symmetric: SymDef,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            bind: None,
            symmetric: SymDef::Null,
        }
    }
}

impl SessionOptions {
    /// AES-128 in CFB mode, the parameter encryption every TPM implements.
    pub fn aes128_cfb() -> Self {
        SessionOptions {
            bind: None,
            symmetric: SymDef::Cipher {
                alg: tpm::constants::alg::AES,
                key_bits: 128,
                mode: tpm::constants::alg::CFB,
            },
        }
    }

    /// Binds the session to `handle` whose authValue is `auth`.
    #[must_use]
    pub fn bound_to(mut self, handle: u32, auth: impl AsRef<[u8]>) -> Self {
        self.bind = Some((handle, Zeroizing::new(auth.as_ref().to_vec())));
        self
    }
}

impl Tpm {
    /// TPM2_StartAuthSession (Part 3 §11.1), unsalted: tpmKey is
    /// TPM_RH_NULL, so the session key comes from the bind entity's
    /// authValue alone (and is empty for an unbound session).
    pub fn start_auth_session(
        &mut self,
        kind: SessionType,
        hash: HashAlg,
        options: &SessionOptions,
    ) -> Result<Session> {
        let mut nonce_caller = vec![0u8; hash.digest_size()];
        OsRng.fill_bytes(&mut nonce_caller);
        let (bind_handle, bind_auth) = match &options.bind {
            Some((h, a)) => (*h, a.clone()),
            None => (rh::NULL, Zeroizing::new(Vec::new())),
        };
        let bind_name = if bind_handle == rh::NULL {
            None
        } else {
            Some(self.name_of(bind_handle)?)
        };
        let resp = self.run(
            Command::new(cc::START_AUTH_SESSION)
                .handle(rh::NULL)
                .handle(bind_handle)
                .param(&Tpm2b::<64>(nonce_caller.clone()))
                .param(&EncryptedSecret2b::empty())
                .param(&kind)
                .param(&options.symmetric)
                .param(&hash.id())
                .returns_handle(),
        )?;
        let handle = resp.handle()?;
        let mut o = resp.out();
        let nonce_tpm: Nonce2b = o.read()?;
        o.finish()?;
        let want_type = match kind {
            SessionType::Hmac => rh::HT_HMAC_SESSION,
            SessionType::Policy | SessionType::Trial => rh::HT_POLICY_SESSION,
        };
        if rh::handle_type(handle) != want_type || nonce_tpm.len() != hash.digest_size() {
            return Err(Error::malformed(
                cc::START_AUTH_SESSION,
                "not a session of the kind asked for",
            ));
        }
        // sessionKey = KDFa(authHash, bind.authValue || salt, "ATH",
        // nonceTPM, nonceCaller, bits) unless both are empty (Part 1
        // §19.6.8); there is no salt here.
        let key = if bind_handle == rh::NULL {
            Zeroizing::new(Vec::new())
        } else {
            kdfa(
                hash,
                trim(&bind_auth),
                b"ATH",
                nonce_tpm.as_slice(),
                &nonce_caller,
                (hash.digest_size() * 8) as u32,
            )
        };
        let bind = match (kind, bind_name) {
            (SessionType::Hmac, Some(n)) => Some((n, bind_auth)),
            _ => None,
        };
        self.sessions.insert(
            handle,
            SessionState {
                kind,
                hash,
                key,
                nonce_tpm: nonce_tpm.0,
                symmetric: options.symmetric,
                bind,
                policy_auth_value: false,
                policy_password: false,
            },
        );
        Ok(Session { handle, kind, hash })
    }

    /// An unbound, unsalted HMAC session with AES-128-CFB parameter
    /// encryption available.
    pub fn start_hmac_session(&mut self, hash: HashAlg) -> Result<Session> {
        self.start_auth_session(SessionType::Hmac, hash, &SessionOptions::aes128_cfb())
    }

    /// An unbound, unsalted policy session.
    pub fn start_policy_session(&mut self, hash: HashAlg) -> Result<Session> {
        self.start_auth_session(SessionType::Policy, hash, &SessionOptions::default())
    }

    /// A trial policy session (computes a digest, authorizes nothing).
    pub fn start_trial_session(&mut self, hash: HashAlg) -> Result<Session> {
        self.start_auth_session(SessionType::Trial, hash, &SessionOptions::default())
    }

    /// TPM2_PolicySecret (Part 3 §23.4) with no nonce, cpHash or policyRef
    /// and no expiration: proves knowledge of `auth_handle`'s
    /// authorization (e.g. TPM_RH_ENDORSEMENT for an EK's policy).
    pub fn policy_secret(&mut self, session: Session, auth_handle: u32, auth: &Auth) -> Result<()> {
        self.session_state(session.handle)?;
        self.run(
            Command::new(cc::POLICY_SECRET)
                .auth_handle(auth_handle, auth)
                .handle(session.handle)
                .param(&Nonce2b::empty())
                .param(&Digest2b::empty())
                .param(&Nonce2b::empty())
                .param(&0i32)
                .crypt(true, true),
        )?;
        Ok(())
    }

    /// TPM2_PolicyPCR (Part 3 §23.7): the selected PCRs must hash to
    /// `pcr_digest` (empty: whatever they hold now).
    pub fn policy_pcr(
        &mut self,
        session: Session,
        pcr_digest: &[u8],
        pcrs: &PcrSelectionList,
    ) -> Result<()> {
        self.session_state(session.handle)?;
        let d = Digest2b::new(pcr_digest.to_vec()).map_err(too_big("PCR digest"))?;
        self.run(
            Command::new(cc::POLICY_PCR)
                .handle(session.handle)
                .param(&d)
                .param(pcrs)
                .crypt(true, false),
        )?;
        Ok(())
    }

    /// TPM2_PolicyCommandCode (Part 3 §23.11).
    pub fn policy_command_code(&mut self, session: Session, code: u32) -> Result<()> {
        self.session_state(session.handle)?;
        self.run(
            Command::new(cc::POLICY_COMMAND_CODE)
                .handle(session.handle)
                .param(&code),
        )?;
        Ok(())
    }

    /// TPM2_PolicyAuthValue (Part 3 §23.17): the entity's authValue keys
    /// the session's HMAC from now on.
    pub fn policy_auth_value(&mut self, session: Session) -> Result<()> {
        self.session_state(session.handle)?;
        self.run(Command::new(cc::POLICY_AUTH_VALUE).handle(session.handle))?;
        let st = self.session_state_mut(session.handle)?;
        st.policy_auth_value = true;
        st.policy_password = false;
        Ok(())
    }

    /// TPM2_PolicyPassword (Part 3 §23.18): the authValue is sent in clear
    /// in the HMAC field.
    pub fn policy_password(&mut self, session: Session) -> Result<()> {
        self.session_state(session.handle)?;
        self.run(Command::new(cc::POLICY_PASSWORD).handle(session.handle))?;
        let st = self.session_state_mut(session.handle)?;
        st.policy_password = true;
        st.policy_auth_value = false;
        Ok(())
    }

    /// TPM2_PolicyOR (Part 3 §23.6) over 2 to 8 branch digests.
    pub fn policy_or(&mut self, session: Session, branches: &[&[u8]]) -> Result<()> {
        self.session_state(session.handle)?;
        let mut list = Vec::with_capacity(branches.len());
        for b in branches {
            list.push(Digest2b::new(b.to_vec()).map_err(too_big("policy branch"))?);
        }
        if !(2..=8).contains(&list.len()) {
            return Err(Error::invalid("PolicyOR takes 2 to 8 branches"));
        }
        self.run(
            Command::new(cc::POLICY_OR)
                .handle(session.handle)
                .param(&DigestList(list)),
        )?;
        Ok(())
    }

    /// TPM2_PolicyRestart (Part 3 §23.10): back to the empty policy.
    pub fn policy_restart(&mut self, session: Session) -> Result<()> {
        self.session_state(session.handle)?;
        self.run(Command::new(cc::POLICY_RESTART).handle(session.handle))?;
        let st = self.session_state_mut(session.handle)?;
        st.policy_auth_value = false;
        st.policy_password = false;
        Ok(())
    }

    /// TPM2_PolicyGetDigest (Part 3 §23.19): the session's policyDigest.
    pub fn policy_get_digest(&mut self, session: Session) -> Result<Vec<u8>> {
        self.session_state(session.handle)?;
        let resp = self.run(
            Command::new(cc::POLICY_GET_DIGEST)
                .handle(session.handle)
                .crypt(false, true),
        )?;
        let mut o = resp.out();
        let d: Tpm2b<64> = o.read()?;
        o.finish()?;
        Ok(d.0)
    }

    /// Forgets a session the TPM flushed by other means (e.g. a TPM
    /// restart) without sending anything.
    pub fn forget_session(&mut self, session: Session) {
        self.sessions.remove(&session.handle);
    }
}
