//! [`HostTpm`] over a real TPM through `tpmclient` (`device:/dev/tpmrm0`,
//! `mssim:`, `swtpm:`; in tests, swtpm stands in for the hardware TPM).
//!
//! - The master key is sealed in a sealed-data object (TPM 2.0 Part 1
//!   §27.6) under the owner hierarchy's ECC P-256 storage root key, which
//!   TPM2_CreatePrimary re-derives from the owner seed on every start
//!   (Part 1 §27.3): nothing persistent is left in the TPM, and the blob
//!   opens only in this TPM while its owner seed is unchanged (a
//!   TPM2_Clear destroys it, as it should).
//! - The anchor is an NV extend index (Part 3 §31.9 TPM2_NV_Extend) with
//!   AUTHREAD|AUTHWRITE|NO_DA and an authValue derived from the master
//!   key, defined with owner authorization.

use std::sync::{Arc, Mutex, PoisonError};

use tpm::constants::{alg, rh};
use tpm::types::{Digest2b, NvAttributes, NvPublic, NvType, Private2b, Public2b};
use tpm::wire::{Codec, Reader};
use tpm::Rc;
use tpmclient::{Auth, KeyInputs};
use zeroize::Zeroizing;

use super::host::{HostTpm, HostTpmError};
use super::record::Hash32;

/// Attributes of the anchor index, TPM_NT aside (Part 2 §13.4).
const ANCHOR_ATTRS: u32 = NvAttributes::AUTHWRITE | NvAttributes::AUTHREAD | NvAttributes::NO_DA;
/// Bits of an existing index compared with ours (state bits such as
/// WRITTEN and the lock bits change at run time).
const COMPARED: u32 =
    !(NvAttributes::WRITTEN | NvAttributes::WRITELOCKED | NvAttributes::READLOCKED);

/// A host TPM reached through `tpmclient`, shareable with the other users
/// of the same connection (the EK CA key).
pub struct TpmClientHost {
    tpm: Arc<Mutex<tpmclient::Tpm>>,
    desc: String,
    owner_auth: Zeroizing<Vec<u8>>,
}

impl TpmClientHost {
    /// Uses an open connection. `owner_auth` is the owner hierarchy's
    /// authorization (empty on most hosts), needed to define the anchor.
    pub fn new(
        tpm: Arc<Mutex<tpmclient::Tpm>>,
        desc: impl Into<String>,
        owner_auth: &[u8],
    ) -> TpmClientHost {
        TpmClientHost {
            tpm,
            desc: desc.into(),
            owner_auth: Zeroizing::new(owner_auth.to_vec()),
        }
    }

    /// Connects to the TPM named by a tpm2-tss TCTI string and makes sure it
    /// is started (TPM2_Startup(CLEAR) if no one did; a running TPM answers
    /// TPM_RC_INITIALIZE, which is fine).
    pub fn open(tcti: &str, owner_auth: &[u8]) -> Result<TpmClientHost, tpmclient::Error> {
        let mut tpm = tpmclient::Tpm::open(tcti)?;
        tpm.startup(tpmclient::StartupType::Clear)?;
        Ok(TpmClientHost::new(
            Arc::new(Mutex::new(tpm)),
            tcti,
            owner_auth,
        ))
    }

    /// The connection, to share with other users.
    pub fn connection(&self) -> Arc<Mutex<tpmclient::Tpm>> {
        self.tpm.clone()
    }

    fn owner(&self) -> Auth {
        Auth::password(&self.owner_auth[..])
    }

    /// The storage root key, created from the owner seed.
    fn srk(&self, tpm: &mut tpmclient::Tpm) -> Result<u32, HostTpmError> {
        let srk = tpm.create_primary(
            rh::OWNER,
            &self.owner(),
            &tpmclient::templates::srk_ecc_p256(),
            &KeyInputs::default(),
        )?;
        Ok(srk.handle)
    }
}

fn anchor_public(index: u32) -> NvPublic {
    NvPublic {
        nv_index: index,
        name_alg: alg::SHA256,
        attributes: NvAttributes(ANCHOR_ATTRS).with_type(NvType::Extend),
        auth_policy: Digest2b::empty(),
        data_size: 32,
    }
}

impl HostTpm for TpmClientHost {
    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn seal(&mut self, secret: &[u8]) -> Result<Vec<u8>, HostTpmError> {
        let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
        let srk = self.srk(&mut tpm)?;
        let created = tpm.create(
            srk,
            &Auth::empty(),
            &tpmclient::templates::sealed_data(&[], true),
            &KeyInputs::sealing(secret),
        );
        let _ = tpm.flush_context(srk);
        let created = created?;
        let mut blob = created.private.to_bytes();
        Public2b(created.public).encode(&mut blob);
        Ok(blob)
    }

    fn unseal(&mut self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, HostTpmError> {
        let mut r = Reader::new(sealed);
        let private = Private2b::decode(&mut r).map_err(|e| format!("sealed blob: {e}"))?;
        let public = Public2b::decode(&mut r).map_err(|e| format!("sealed blob: {e}"))?;
        if !r.is_empty() {
            return Err("sealed blob: trailing bytes".into());
        }
        let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
        let srk = self.srk(&mut tpm)?;
        let loaded = tpm.load(srk, &Auth::empty(), &private, &public.0);
        let _ = tpm.flush_context(srk);
        let item = loaded?.handle;
        let secret = tpm.unseal(item, &Auth::empty());
        let _ = tpm.flush_context(item);
        Ok(secret?)
    }

    fn nv_define_extend(&mut self, index: u32, auth: &[u8]) -> Result<bool, HostTpmError> {
        let want = anchor_public(index);
        let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
        match tpm.nv_read_public(index) {
            Ok(have) => {
                let same = have.public.name_alg == want.name_alg
                    && have.public.data_size == want.data_size
                    && have.public.auth_policy == want.auth_policy
                    && have.public.attributes.0 & COMPARED == want.attributes.0 & COMPARED;
                if !same {
                    return Err(format!(
                        "NV index {index:#010x} exists but is not an anchor index ({:?}); \
                         choose another index or undefine it",
                        have.public.attributes
                    )
                    .into());
                }
                return Ok(false);
            }
            Err(e) if e.is_rc(Rc::HANDLE) => {}
            Err(e) => return Err(e.into()),
        }
        tpm.nv_define_space(rh::OWNER, &self.owner(), auth, &want)?;
        Ok(true)
    }

    fn nv_read_extend(&mut self, index: u32, auth: &[u8]) -> Result<Option<Hash32>, HostTpmError> {
        let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
        match tpm.nv_read(index, index, &Auth::password(auth), 0, 32) {
            Ok(v) => {
                let h: Hash32 = v[..]
                    .try_into()
                    .map_err(|_| "anchor index returned a value that is not 32 bytes")?;
                Ok(Some(h))
            }
            Err(e) if e.is_rc(Rc::NV_UNINITIALIZED) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn nv_extend(&mut self, index: u32, auth: &[u8], data: &Hash32) -> Result<(), HostTpmError> {
        let mut tpm = self.tpm.lock().unwrap_or_else(PoisonError::into_inner);
        tpm.nv_extend(index, index, &Auth::password(auth), data)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{
        host::SharedHostTpm, tpm_master_key, Anchor, AnchorValue, MasterKey, TpmAnchor,
        DEFAULT_ANCHOR_INDEX,
    };
    use tpmclient::transport::EngineTransport;

    /// Our own engine in process, behind the same client a hardware TPM
    /// gets (the swtpm-backed test is in tests/seal_rollback.rs).
    fn engine_host() -> TpmClientHost {
        let mut tpm = tpmclient::Tpm::new(EngineTransport::new(tpm::Tpm::new(
            &tpm::EngineConfig::default(),
        )));
        tpm.startup(tpmclient::StartupType::Clear).unwrap();
        TpmClientHost::new(Arc::new(Mutex::new(tpm)), "engine", b"")
    }

    #[test]
    fn seal_unseal_and_master_key_round_trip() {
        let mut h = engine_host();
        let blob = h.seal(&[0x42; 32]).unwrap();
        assert!(!blob.windows(32).any(|w| w == [0x42; 32]));
        assert_eq!(&h.unseal(&blob).unwrap()[..], &[0x42; 32]);
        let mut bad = blob.clone();
        let n = bad.len() / 3;
        bad[n] ^= 1;
        assert!(h.unseal(&bad).is_err());
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("master.sealed");
        let a = tpm_master_key(&mut h, &p).unwrap();
        let b = tpm_master_key(&mut h, &p).unwrap();
        assert_eq!(
            *a.derive(crate::seal::Purpose::State, b"x"),
            *b.derive(crate::seal::Purpose::State, b"x")
        );
        // Another TPM (another owner seed) cannot unseal it.
        assert!(tpm_master_key(&mut engine_host(), &p).is_err());
    }

    #[test]
    fn anchor_index_is_defined_once_and_extends_like_the_chain() {
        let host: SharedHostTpm = Arc::new(Mutex::new(engine_host()));
        let m = MasterKey::from_bytes([5; 32]);
        let mut a = TpmAnchor::open(host.clone(), DEFAULT_ANCHOR_INDEX, &m).unwrap();
        assert_eq!(a.read().unwrap(), AnchorValue::Fresh);
        let h1 = crate::seal::record::next_head(&[0; 32], &[1; 32]);
        a.advance(1, &[1; 32], &h1).unwrap();
        let h2 = crate::seal::record::next_head(&h1, &[2; 32]);
        a.advance(2, &[2; 32], &h2).unwrap();
        let mut b = TpmAnchor::open(host.clone(), DEFAULT_ANCHOR_INDEX, &m).unwrap();
        assert_eq!(b.read().unwrap(), AnchorValue::Head(h2));
        // Another master key derives another authValue: refused.
        let mut c =
            TpmAnchor::open(host, DEFAULT_ANCHOR_INDEX, &MasterKey::from_bytes([6; 32])).unwrap();
        assert!(c.read().is_err());
    }
}
