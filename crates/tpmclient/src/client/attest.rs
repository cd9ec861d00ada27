//! Attestation and key use (Part 3 §12.5–§12.6, §18.4, §20.2):
//! MakeCredential, ActivateCredential, Quote and Sign.

use tpm::constants::cc;
use tpm::types::{
    Attest2b, Data2b, Digest2b, EncryptedSecret2b, IdObject2b, Name, PcrSelectionList, SigScheme,
    Signature, TkHashcheck,
};
use zeroize::Zeroizing;

use super::Tpm;
use crate::command::Command;
use crate::error::{too_big, Result};
use crate::session::Auth;

/// TPM2_Quote's output: the signed TPMS_ATTEST bytes and the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub attest: Attest2b,
    pub signature: Signature,
}

impl Tpm {
    /// TPM2_MakeCredential (Part 3 §12.6) done by the TPM: wraps
    /// `credential` (at most one digest long) for the key at `handle`
    /// (usually a loaded EK public area) and the object named
    /// `object_name`. Returns (credentialBlob, secret).
    pub fn make_credential(
        &mut self,
        handle: u32,
        credential: &[u8],
        object_name: &Name,
    ) -> Result<(IdObject2b, EncryptedSecret2b)> {
        let c = Digest2b::new(credential.to_vec()).map_err(too_big("credential"))?;
        let resp = self.run(
            Command::new(cc::MAKE_CREDENTIAL)
                .handle(handle)
                .param(&c)
                .param(object_name)
                .crypt(true, true),
        )?;
        let mut o = resp.out();
        let blob: IdObject2b = o.read()?;
        let secret: EncryptedSecret2b = o.read()?;
        o.finish()?;
        Ok((blob, secret))
    }

    /// TPM2_ActivateCredential (Part 3 §12.5): recovers the credential
    /// when `activate` (ADMIN role, e.g. the attestation key) and `key`
    /// (USER role, the EK that decrypts `secret`) are in this TPM.
    pub fn activate_credential(
        &mut self,
        activate: u32,
        activate_auth: &Auth,
        key: u32,
        key_auth: &Auth,
        blob: &IdObject2b,
        secret: &EncryptedSecret2b,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let resp = self.run(
            Command::new(cc::ACTIVATE_CREDENTIAL)
                .auth_handle(activate, activate_auth)
                .auth_handle(key, key_auth)
                .param(blob)
                .param(secret)
                .crypt(true, true),
        )?;
        let mut o = resp.out();
        let cert: Digest2b = o.read()?;
        o.finish()?;
        Ok(Zeroizing::new(cert.0))
    }

    /// TPM2_Quote (Part 3 §18.4) over `pcrs` with `qualifying_data` (the
    /// verifier's nonce, at most 66 octets) signed by `key` with `scheme`
    /// (SigScheme::Null: the key's own scheme).
    pub fn quote(
        &mut self,
        key: u32,
        auth: &Auth,
        qualifying_data: &[u8],
        scheme: SigScheme,
        pcrs: &PcrSelectionList,
    ) -> Result<Quote> {
        let q = Data2b::new(qualifying_data.to_vec()).map_err(too_big("qualifying data"))?;
        let resp = self.run(
            Command::new(cc::QUOTE)
                .auth_handle(key, auth)
                .param(&q)
                .param(&scheme)
                .param(pcrs)
                .crypt(true, true),
        )?;
        let mut o = resp.out();
        let attest: Attest2b = o.read()?;
        let signature: Signature = o.read()?;
        o.finish()?;
        Ok(Quote { attest, signature })
    }

    /// TPM2_Sign (Part 3 §20.2) of `digest` with `key`. A restricted key
    /// needs the ticket from TPM2_Hash proving the digest is not of
    /// TPM-generated data; others take [`TkHashcheck::null`].
    pub fn sign(
        &mut self,
        key: u32,
        auth: &Auth,
        digest: &[u8],
        scheme: SigScheme,
        validation: &TkHashcheck,
    ) -> Result<Signature> {
        let d = Digest2b::new(digest.to_vec()).map_err(too_big("digest"))?;
        let resp = self.run(
            Command::new(cc::SIGN)
                .auth_handle(key, auth)
                .param(&d)
                .param(&scheme)
                .param(validation)
                .crypt(true, false),
        )?;
        let mut o = resp.out();
        let sig: Signature = o.read()?;
        o.finish()?;
        Ok(sig)
    }
}
