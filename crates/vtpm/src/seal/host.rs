//! The host TPM as the sealed store needs it: seal and unseal the master
//! key under the storage hierarchy, and an NV extend index as the rollback
//! anchor. [`HostTpm`] is the seam: the `tpmclient` crate implements it for
//! `device:`, `mssim:` and `swtpm:` TPMs; the store codes only against it.

use std::sync::{Arc, Mutex, PoisonError};

use zeroize::Zeroizing;

use super::anchor::{Anchor, AnchorValue};
use super::error::SealError;
use super::keys::{MasterKey, Purpose};
use super::record::Hash32;

/// An error reported by a host TPM implementation.
pub type HostTpmError = Box<dyn std::error::Error + Send + Sync>;

/// Default NV index of the anchor: in the owner range 0x01800000-0x01BFFFFF
/// of the TCG "Registry of Reserved TPM 2.0 Handles and Localities" §2.2.
pub const DEFAULT_ANCHOR_INDEX: u32 = 0x0180_7C01;

/// The operations of a host TPM the sealed store uses.
pub trait HostTpm: Send {
    /// Names the TPM for messages (e.g. its TCTI string).
    fn describe(&self) -> String;
    /// Seals `secret` in a sealed-data object (TPM 2.0 Part 1 §27.6,
    /// keyedhash with sensitive data) created under the storage hierarchy's
    /// primary key; returns an opaque blob that only this TPM can unseal.
    fn seal(&mut self, secret: &[u8]) -> Result<Vec<u8>, HostTpmError>;
    /// Loads a blob from [`HostTpm::seal`] and returns the secret (TPM2_Unseal).
    fn unseal(&mut self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, HostTpmError>;
    /// Defines `index` as a SHA-256 NV extend index (TPM_NT_EXTEND,
    /// AUTHREAD|AUTHWRITE|NO_DA, authValue `auth`) unless it exists.
    /// Returns whether it was created. An existing index with other
    /// attributes is an error.
    fn nv_define_extend(&mut self, index: u32, auth: &[u8]) -> Result<bool, HostTpmError>;
    /// Reads the extend index; `None` when it was never written
    /// (TPMA_NV_WRITTEN clear, TPM_RC_NV_UNINITIALIZED).
    fn nv_read_extend(&mut self, index: u32, auth: &[u8]) -> Result<Option<Hash32>, HostTpmError>;
    /// TPM2_NV_Extend(index, data): value = SHA-256(value || data).
    fn nv_extend(&mut self, index: u32, auth: &[u8], data: &Hash32) -> Result<(), HostTpmError>;
}

/// A host TPM connection shared by its users (the anchor, the master key,
/// the EK CA).
pub type SharedHostTpm = Arc<Mutex<dyn HostTpm>>;

/// The anchor in the host TPM: an NV extend index extended with the link
/// of every commit, so it always holds the chain head of the record.
///
/// Its authValue is derived from the master key, so only this store can
/// extend it. Its owner can undefine it (owner indices cannot be protected
/// from that): the store then sees a fresh index and refuses the existing
/// record; and a fresh index can never be brought to an old head without
/// the master key, because the links are keyed.
pub struct TpmAnchor {
    host: SharedHostTpm,
    index: u32,
    auth: Zeroizing<[u8; 32]>,
    desc: String,
}

impl TpmAnchor {
    /// Uses (defining it if missing) the extend index `index` of `host`.
    pub fn open(
        host: SharedHostTpm,
        index: u32,
        master: &MasterKey,
    ) -> Result<TpmAnchor, SealError> {
        let auth = master.derive(Purpose::AnchorAuth, &index.to_be_bytes());
        let desc = {
            let h = host.lock().unwrap_or_else(PoisonError::into_inner);
            format!("host TPM {} NV index {index:#010x}", h.describe())
        };
        let created = {
            let mut h = host.lock().unwrap_or_else(PoisonError::into_inner);
            h.nv_define_extend(index, &auth[..])
                .map_err(|err| SealError::HostTpm {
                    tpm: h.describe(),
                    op: "define the anchor NV index",
                    err,
                })?
        };
        if created {
            tracing::info!(anchor = %desc, "defined the rollback anchor NV index");
        }
        Ok(TpmAnchor {
            host,
            index,
            auth,
            desc,
        })
    }
}

impl Anchor for TpmAnchor {
    fn describe(&self) -> String {
        self.desc.clone()
    }

    fn is_hardware(&self) -> bool {
        true
    }

    fn read(&mut self) -> Result<AnchorValue, SealError> {
        let mut h = self.host.lock().unwrap_or_else(PoisonError::into_inner);
        match h.nv_read_extend(self.index, &self.auth[..]) {
            Ok(None) => Ok(AnchorValue::Fresh),
            Ok(Some(v)) => Ok(AnchorValue::Head(v)),
            Err(err) => Err(SealError::HostTpm {
                tpm: h.describe(),
                op: "read the anchor NV index",
                err,
            }),
        }
    }

    fn advance(&mut self, _seq: u64, link: &Hash32, _head: &Hash32) -> Result<(), SealError> {
        let mut h = self.host.lock().unwrap_or_else(PoisonError::into_inner);
        h.nv_extend(self.index, &self.auth[..], link)
            .map_err(|err| SealError::HostTpm {
                tpm: h.describe(),
                op: "extend the anchor NV index",
                err,
            })
    }
}

#[cfg(test)]
pub(crate) mod soft {
    //! An in-memory stand-in for a host TPM, for unit tests of the code
    //! that uses [`HostTpm`] (the real one is tested against swtpm).
    use super::*;
    use sha2::{Digest, Sha256};
    use std::collections::HashMap;

    #[derive(Default)]
    pub(crate) struct SoftTpm {
        pub nv: HashMap<u32, (Vec<u8>, Option<Hash32>)>,
    }

    impl HostTpm for SoftTpm {
        fn describe(&self) -> String {
            "soft".into()
        }
        fn seal(&mut self, secret: &[u8]) -> Result<Vec<u8>, HostTpmError> {
            Ok(secret.iter().map(|b| b ^ 0x5A).collect())
        }
        fn unseal(&mut self, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, HostTpmError> {
            Ok(Zeroizing::new(sealed.iter().map(|b| b ^ 0x5A).collect()))
        }
        fn nv_define_extend(&mut self, index: u32, auth: &[u8]) -> Result<bool, HostTpmError> {
            if self.nv.contains_key(&index) {
                return Ok(false);
            }
            self.nv.insert(index, (auth.to_vec(), None));
            Ok(true)
        }
        fn nv_read_extend(
            &mut self,
            index: u32,
            auth: &[u8],
        ) -> Result<Option<Hash32>, HostTpmError> {
            match self.nv.get(&index) {
                Some((a, v)) if a == auth => Ok(*v),
                Some(_) => Err("TPM_RC_AUTH_FAIL".into()),
                None => Err("TPM_RC_HANDLE".into()),
            }
        }
        fn nv_extend(
            &mut self,
            index: u32,
            auth: &[u8],
            data: &Hash32,
        ) -> Result<(), HostTpmError> {
            match self.nv.get_mut(&index) {
                Some((a, v)) if a == auth => {
                    let mut h = Sha256::new();
                    h.update(v.unwrap_or([0; 32]));
                    h.update(data);
                    *v = Some(h.finalize().into());
                    Ok(())
                }
                Some(_) => Err("TPM_RC_AUTH_FAIL".into()),
                None => Err("TPM_RC_HANDLE".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::soft::SoftTpm;
    use super::*;

    #[test]
    fn tpm_anchor_defines_reads_and_extends() {
        let host: SharedHostTpm = Arc::new(Mutex::new(SoftTpm::default()));
        let m = MasterKey::from_bytes([1; 32]);
        let mut a = TpmAnchor::open(host.clone(), DEFAULT_ANCHOR_INDEX, &m).unwrap();
        assert_eq!(a.read().unwrap(), AnchorValue::Fresh);
        let head = super::super::record::next_head(&[0; 32], &[7; 32]);
        a.advance(1, &[7; 32], &head).unwrap();
        assert_eq!(a.read().unwrap(), AnchorValue::Head(head));
        // Reopening does not redefine (the value stays).
        let mut b = TpmAnchor::open(host, DEFAULT_ANCHOR_INDEX, &m).unwrap();
        assert!(b.read().unwrap().matches(1, &head));
        assert!(b.describe().contains("0x01807c01"));
    }
}
