//! The agent's TPM: the EK (see [`crate::ek`]), an attestation key under
//! it, credential activation and quotes.
//!
//! The AK is a child of the EK, as in the TCG/Keylime enrollment pattern:
//! a low-range EK has no userWithAuth, so every use of it as a parent
//! (TPM2_Create, TPM2_Load) and as the decryption key of
//! TPM2_ActivateCredential needs a policy session satisfying Policy A,
//! PolicySecret(TPM_RH_ENDORSEMENT) (EK Credential Profile §2.1.5, §B.3.3;
//! TPM 2.0 Part 3 §23.4). A session serves one command and is flushed by
//! it (continueSession clear), since the TPM resets its policy after use.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use attest::protocol::{PcrHex, ReportedPcrs};
use tpm::constants::rh;
use tpm::crypto::HashAlg;
use tpm::types::{
    Attest2b, Attested, EncryptedSecret2b, IdObject2b, Name, PcrSelection, PcrSelectionList,
    Private2b, Public, SigScheme,
};
use tpm::wire::Codec;
use tpm::Rc;
use tpmclient::{Auth, PcrValues, StartupType, Tpm};
use zeroize::Zeroizing;

use crate::ek::{self, Ek};
use crate::{Error, Result};

/// Which attestation key to make.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AkKind {
    /// ECC NIST P-256, ECDSA with SHA-256 (small, fast).
    #[default]
    EccP256,
    /// RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256.
    Rsa2048,
}

impl AkKind {
    fn template(self) -> Public {
        match self {
            AkKind::EccP256 => tpmclient::templates::ak_ecc_p256(),
            AkKind::Rsa2048 => tpmclient::templates::ak_rsa2048(),
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            AkKind::EccP256 => "ak-ecc",
            AkKind::Rsa2048 => "ak-rsa",
        }
    }
}

impl std::str::FromStr for AkKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ecc" | "ecc-p256" | "p256" => Ok(AkKind::EccP256),
            "rsa" | "rsa2048" | "rsa-2048" => Ok(AkKind::Rsa2048),
            other => Err(format!("unknown AK type {other:?} (expected ecc or rsa)")),
        }
    }
}

/// The loaded attestation key.
#[derive(Clone, Debug)]
pub struct Ak {
    pub handle: u32,
    pub public: Public,
    pub name: Name,
}

/// A quote with the PCR values it covers.
#[derive(Clone, Debug)]
pub struct QuoteEvidence {
    /// TPMS_ATTEST bytes.
    pub quote: Vec<u8>,
    /// TPMT_SIGNATURE bytes.
    pub signature: Vec<u8>,
    /// bank name → index → lower-case hex.
    pub pcrs: ReportedPcrs,
}

/// How often "read, quote, read again" starts over when PCRs moved.
const QUOTE_ATTEMPTS: usize = 5;

/// The TPM as the agent uses it.
pub struct AgentTpm {
    tpm: Tpm,
    ek: Ek,
    ak: Ak,
}

impl std::fmt::Debug for AgentTpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTpm")
            .field("tpm", &self.tpm)
            .field("ek", &self.ek.template.label())
            .field("ak", &format_args!("0x{:08x}", self.ak.handle))
            .finish()
    }
}

impl AgentTpm {
    /// Opens the TPM named by the TCTI string and prepares EK and AK. The
    /// AK's wrapped private part and public area are kept in `state_dir`
    /// (0600) and loaded again next time, so the AK (and its Name, which
    /// the verifier enrolled) survives agent restarts.
    ///
    /// A swtpm gets a new connection per command (as tcti-swtpm does):
    /// swtpm serves one connection at a time, and an agent holding it would
    /// lock out every other client of the TPM.
    pub fn open(tcti: &str, state_dir: &Path, ak_kind: AkKind) -> Result<AgentTpm> {
        let tcti: tpmclient::Tcti = tcti.parse().map_err(tpmclient::Error::from)?;
        let transport = tcti
            .connect_shared(tpmclient::transport::Timeouts::default())
            .map_err(tpmclient::Error::from)?;
        let tpm = Tpm::new(transport);
        Self::with_tpm(tpm, state_dir, ak_kind)
    }

    /// As [`AgentTpm::open`] over an already connected client (e.g. an
    /// in-process engine).
    pub fn with_tpm(mut tpm: Tpm, state_dir: &Path, ak_kind: AkKind) -> Result<AgentTpm> {
        if tpm.startup(StartupType::Clear)? {
            tracing::info!("TPM started (TPM2_Startup CLEAR)");
        }
        match Self::keys(&mut tpm, state_dir, ak_kind) {
            Err(Error::Tpm(e)) if e.is_rc(Rc::OBJECT_MEMORY) => {
                // No resource manager (swtpm, a simulator) and an earlier
                // agent that was killed left its keys loaded: the TPM's
                // few object slots are full. The agent is the only user of
                // such a TPM; flush and start over (Part 3 §28.4).
                let stale = tpm.handles(rh::TRANSIENT_FIRST)?;
                tracing::warn!(
                    count = stale.len(),
                    "TPM object memory full (no resource manager?): flushing transient objects"
                );
                for h in stale {
                    let _ = tpm.flush_context(h);
                }
                Self::keys(&mut tpm, state_dir, ak_kind).map(|(ek, ak)| AgentTpm { tpm, ek, ak })
            }
            r => r.map(|(ek, ak)| AgentTpm { tpm, ek, ak }),
        }
    }

    /// Recreates the EK and loads (or creates) the AK.
    fn keys(tpm: &mut Tpm, state_dir: &Path, ak_kind: AkKind) -> Result<(Ek, Ak)> {
        let ek = ek::load(tpm)?;
        match load_or_create_ak(tpm, &ek, state_dir, ak_kind) {
            Ok(ak) => Ok((ek, ak)),
            Err(e) => {
                let _ = tpm.flush_context(ek.handle);
                Err(e)
            }
        }
    }

    pub fn ek(&self) -> &Ek {
        &self.ek
    }

    pub fn ak(&self) -> &Ak {
        &self.ak
    }

    /// The client, e.g. to extend PCRs in tests.
    pub fn client(&mut self) -> &mut Tpm {
        &mut self.tpm
    }

    /// The current values of `selection` (bank name → indices), e.g. to
    /// generate a reference policy on a known-good machine.
    pub fn read_pcrs(&mut self, selection: &BTreeMap<String, Vec<u32>>) -> Result<ReportedPcrs> {
        let sel = selection_list(selection)?;
        Ok(pcr_map(&self.tpm.pcr_read(&sel)?))
    }

    /// TPM2_ActivateCredential (Part 3 §12.5): the secret the registrar
    /// wrapped for this EK and AK Name. It comes out only if both keys are
    /// in this TPM.
    pub fn activate_credential(
        &mut self,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let blob = IdObject2b::new(credential_blob.to_vec())
            .map_err(|_| Error::Protocol("credential_blob is too large".into()))?;
        let secret = EncryptedSecret2b::new(encrypted_secret.to_vec())
            .map_err(|_| Error::Protocol("encrypted_secret is too large".into()))?;
        let policy = ek_policy_session(&mut self.tpm)?;
        Ok(self.tpm.activate_credential(
            self.ak.handle,
            &Auth::empty(),
            self.ek.handle,
            &Auth::session(policy).end_session(),
            &blob,
            &secret,
        )?)
    }

    /// TPM2_Quote over `selection` (bank name → PCR indices) with the
    /// verifier's nonce, and the values of those PCRs. The PCRs are read
    /// before and after the quote; if anything changed in between the
    /// whole thing starts over, so the values sent always produce the
    /// quote's pcrDigest (Part 3 §18.4.1).
    pub fn quote(
        &mut self,
        nonce: &[u8],
        selection: &BTreeMap<String, Vec<u32>>,
    ) -> Result<QuoteEvidence> {
        let sel = selection_list(selection)?;
        for attempt in 0..QUOTE_ATTEMPTS {
            let before = self.tpm.pcr_read(&sel)?;
            let q = self
                .tpm
                .quote(self.ak.handle, &Auth::empty(), nonce, SigScheme::Null, &sel)?;
            let after = self.tpm.pcr_read(&sel)?;
            if before != after {
                tracing::debug!(attempt, "PCRs changed during the quote; quoting again");
                continue;
            }
            check_digest(&q.attest, &after, &sel)?;
            return Ok(QuoteEvidence {
                quote: q.attest.as_bytes().to_vec(),
                signature: q.signature.to_bytes(),
                pcrs: pcr_map(&after),
            });
        }
        Err(Error::Protocol(format!(
            "PCRs kept changing during {QUOTE_ATTEMPTS} quotes"
        )))
    }
}

impl Drop for AgentTpm {
    fn drop(&mut self) {
        // Transient objects outlive a connection on swtpm and simulators
        // (a resource manager flushes them itself).
        let _ = self.tpm.flush_context(self.ak.handle);
        let _ = self.tpm.flush_context(self.ek.handle);
    }
}

/// A policy session satisfying the low-range EK policy (Policy A).
fn ek_policy_session(tpm: &mut Tpm) -> Result<tpmclient::Session> {
    let s = tpm.start_policy_session(HashAlg::Sha256)?;
    if let Err(e) = tpm.policy_secret(s, rh::ENDORSEMENT, &Auth::empty()) {
        let _ = tpm.flush_context(s.handle());
        return Err(e.into());
    }
    Ok(s)
}

/// The challenge's selection as a TPML_PCR_SELECTION.
pub fn selection_list(selection: &BTreeMap<String, Vec<u32>>) -> Result<PcrSelectionList> {
    let mut list = Vec::new();
    for (bank, indices) in selection {
        let hash = HashAlg::from_name(bank).ok_or_else(|| {
            Error::Protocol(format!("unknown PCR bank {bank:?} in the challenge"))
        })?;
        let mut s = PcrSelection::none(hash);
        for &i in indices {
            if i >= 24 {
                return Err(Error::Protocol(format!("PCR {i} does not exist (0-23)")));
            }
            s.set(i as usize, true);
        }
        if !s.is_empty() {
            list.push(s);
        }
    }
    if list.is_empty() {
        return Err(Error::Protocol("the challenge selects no PCR".into()));
    }
    Ok(PcrSelectionList(list))
}

/// The quote must cover `sel` with the digest of `values` (the hash is
/// the AK's signing hash, SHA-256 for both AK kinds).
fn check_digest(attest: &Attest2b, values: &PcrValues, sel: &PcrSelectionList) -> Result<()> {
    let a = attest
        .attest()
        .map_err(|e| Error::Protocol(format!("the TPM's quote does not parse: {e}")))?;
    let Attested::Quote(info) = a.attested else {
        return Err(Error::Protocol("the TPM returned no quote".into()));
    };
    let missing = sel
        .0
        .iter()
        .flat_map(|s| s.indices().map(move |i| (s.hash, i)))
        .find(|(h, i)| values.get(*h, *i).is_none());
    if let Some((h, i)) = missing {
        return Err(Error::Protocol(format!(
            "the TPM has no PCR {i} in bank {} (bank not allocated?)",
            h.name()
        )));
    }
    let want = values.quote_digest(sel, HashAlg::Sha256);
    if want.as_deref() != Some(info.pcr_digest.as_slice()) {
        return Err(Error::Protocol(
            "the quote's pcrDigest does not match the PCR values read around it".into(),
        ));
    }
    Ok(())
}

fn pcr_map(values: &PcrValues) -> ReportedPcrs {
    let mut out = ReportedPcrs::new();
    for v in &values.values {
        out.entry(v.bank.name().to_string())
            .or_default()
            .insert(v.index as u32, PcrHex::encode(&v.digest));
    }
    out
}

fn ak_paths(dir: &Path, kind: AkKind) -> (PathBuf, PathBuf) {
    let stem = kind.file_stem();
    (
        dir.join(format!("{stem}.pub")),
        dir.join(format!("{stem}.priv")),
    )
}

/// Loads the AK saved in `dir`, or creates (and saves) a new one when
/// there is none or it does not load (another TPM, cleared endorsement
/// hierarchy).
fn load_or_create_ak(tpm: &mut Tpm, ek: &Ek, dir: &Path, kind: AkKind) -> Result<Ak> {
    let (pub_path, priv_path) = ak_paths(dir, kind);
    if pub_path.exists() && priv_path.exists() {
        match load_saved(tpm, ek, &pub_path, &priv_path) {
            Ok(ak) => {
                tracing::info!(dir = %dir.display(), "AK loaded from the state directory");
                return Ok(ak);
            }
            Err(e) => tracing::warn!(error = %e, "saved AK does not load: creating a new one"),
        }
    }
    let policy = ek_policy_session(tpm)?;
    let created = tpm.create(
        ek.handle,
        &Auth::session(policy).end_session(),
        &kind.template(),
        &Default::default(),
    )?;
    fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    write_private(&pub_path, &created.public.to_bytes())?;
    write_private(&priv_path, &created.private.to_bytes())?;
    let ak = load_blobs(tpm, ek, &created.private, &created.public)?;
    tracing::info!(dir = %dir.display(), name = %hex::encode(ak.name.as_bytes()), "created a new AK");
    Ok(ak)
}

fn load_saved(tpm: &mut Tpm, ek: &Ek, pub_path: &Path, priv_path: &Path) -> Result<Ak> {
    let pub_bytes = fs::read(pub_path).map_err(|e| Error::io("read", pub_path, e))?;
    let priv_bytes = fs::read(priv_path).map_err(|e| Error::io("read", priv_path, e))?;
    let public = Public::from_bytes(&pub_bytes)
        .map_err(|e| Error::Config(format!("{}: {e}", pub_path.display())))?;
    let private = Private2b::from_bytes(&priv_bytes)
        .map_err(|e| Error::Config(format!("{}: {e}", priv_path.display())))?;
    load_blobs(tpm, ek, &private, &public)
}

fn load_blobs(tpm: &mut Tpm, ek: &Ek, private: &Private2b, public: &Public) -> Result<Ak> {
    let policy = ek_policy_session(tpm)?;
    let loaded = tpm.load(
        ek.handle,
        &Auth::session(policy).end_session(),
        private,
        public,
    )?;
    Ok(Ak {
        handle: loaded.handle,
        public: public.clone(),
        name: loaded.name,
    })
}

/// Writes `data` to a 0600 file crash-safely ([`vtpm::durable::write_atomic`]).
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    vtpm::durable::write_atomic(path, data, 0o600).map_err(|e| Error::io(e.op, &e.path, e.err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_checked() {
        let sel = BTreeMap::from([("sha256".to_string(), vec![0, 7, 10])]);
        let l = selection_list(&sel).unwrap();
        assert_eq!(l.0.len(), 1);
        assert_eq!(l.0[0].indices().collect::<Vec<_>>(), vec![0, 7, 10]);
        let bad = BTreeMap::from([("md5".to_string(), vec![0])]);
        assert!(selection_list(&bad)
            .unwrap_err()
            .to_string()
            .contains("md5"));
        let big = BTreeMap::from([("sha256".to_string(), vec![24])]);
        assert!(selection_list(&big).is_err());
        assert!(selection_list(&BTreeMap::new()).is_err());
    }
}
