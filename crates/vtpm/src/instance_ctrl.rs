//! The swtpm control protocol's view of an [`Instance`].

use std::sync::OnceLock;

use tpm::crypto::Drbg;
use tpm::engine::{SystemTime, MAX_COMMAND_SIZE};
use tpm::{EngineConfig, Tpm};

use crate::ctrl::{self, blob, cap, res, Backend, SpecInfo};
use crate::instance::Instance;

/// What this host implements. Not advertised: HASHING (the engine has no
/// _TPM_Hash_Start/Data/End yet) and STORE_VOLATILE (there is no volatile
/// state file; the volatile state travels only as a state blob); those
/// commands answer TPM_FAIL.
pub const CAPABILITIES: u64 = cap::INIT
    | cap::SHUTDOWN
    | cap::GET_TPMESTABLISHED
    | cap::SET_LOCALITY
    | cap::CANCEL_TPM_CMD
    | cap::RESET_TPMESTABLISHED
    | cap::GET_STATEBLOB
    | cap::SET_STATEBLOB
    | cap::STOP
    | cap::GET_CONFIG
    | cap::SET_DATAFD
    | cap::SET_BUFFERSIZE
    | cap::GET_INFO
    | cap::SEND_COMMAND_HEADER
    | cap::LOCK_STORAGE;

impl Backend for Instance {
    fn is_running(&self) -> bool {
        self.is_powered()
    }

    fn init(&mut self, flags: u32) -> u32 {
        // Volatile state files do not exist here, so DELETE_VOLATILE has
        // nothing to delete.
        let _ = flags & ctrl::INIT_FLAG_DELETE_VOLATILE;
        match self.reinit() {
            Ok(()) => res::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "CMD_INIT: cannot reload the TPM state");
                res::FAIL
            }
        }
    }

    fn stop(&mut self) {
        self.power_off();
    }

    fn established(&self) -> bool {
        Instance::established(self)
    }

    /// TCG PC Client Platform TPM Profile, TPM_ACCESS: tpmEstablishment is cleared only from
    /// locality 3 or 4 (libtpms TPM2_IO_TpmEstablished_Reset).
    fn reset_established(&mut self, locality: u8) -> u32 {
        if locality == 3 || locality == 4 {
            self.set_established(false);
            res::SUCCESS
        } else {
            res::BAD_LOCALITY
        }
    }

    fn set_locality(&mut self, locality: u8) {
        Instance::set_locality(self, locality);
    }

    fn hash_start(&mut self) -> u32 {
        res::FAIL
    }

    fn hash_data(&mut self, _data: &[u8]) -> u32 {
        res::FAIL
    }

    fn hash_end(&mut self) -> u32 {
        res::FAIL
    }

    /// Commands run to completion synchronously, so there is never one to
    /// cancel; libtpms answers success too.
    fn cancel(&mut self) -> u32 {
        res::SUCCESS
    }

    fn store_volatile(&mut self) -> u32 {
        res::FAIL
    }

    /// Only the permanent state is offered here (`trustcloud tpm serve`);
    /// it already includes any state saved by TPM2_Shutdown(STATE). The
    /// volatile state for live migration is served by vtpmd's control
    /// sockets (`daemon::migration`), sealed. Unknown types answer
    /// TPM_RETRY as swtpm does for a blob it has not got.
    fn get_state_blob(&mut self, blob_type: u32, _decrypt: bool) -> Result<(Vec<u8>, bool), u32> {
        match blob_type {
            blob::PERMANENT => Ok((self.state_blob(), false)),
            blob::VOLATILE | blob::SAVESTATE => Err(res::FAIL),
            _ => Err(res::RETRY),
        }
    }

    fn set_state_blob(&mut self, blob_type: u32, encrypted: bool, data: &[u8]) -> u32 {
        match blob_type {
            blob::PERMANENT if !encrypted => match self.replace_state(data) {
                Ok(()) => {
                    tracing::info!("permanent state replaced by CMD_SET_STATEBLOB");
                    res::SUCCESS
                }
                Err(e) => {
                    tracing::warn!(error = %e, "CMD_SET_STATEBLOB refused");
                    res::BAD_PARAMETER
                }
            },
            blob::PERMANENT | blob::VOLATILE | blob::SAVESTATE => res::FAIL,
            _ => res::BAD_PARAMETER,
        }
    }

    /// No state encryption key, no migration key.
    fn config_flags(&self) -> u32 {
        0
    }

    /// The engine's buffer is fixed at TPM_PT_MAX_COMMAND_SIZE, so that is
    /// the size in use, the minimum and the maximum.
    fn buffer_size(&mut self, _requested: u32) -> (u32, u32, u32) {
        let size = MAX_COMMAND_SIZE as u32;
        (size, size, size)
    }

    fn info(&self, flags: u64) -> String {
        ctrl::info_json(flags, spec_info())
    }

    /// The store is locked for the whole life of the process already.
    fn lock_storage(&mut self, _retries: u32) -> u32 {
        res::SUCCESS
    }

    fn capabilities(&self) -> u64 {
        CAPABILITIES
    }
}

/// The engine's fixed properties, read once through TPM2_GetCapability on
/// a throwaway TPM (they are constants of the build, the same for every
/// instance).
pub fn spec_info() -> &'static SpecInfo {
    static INFO: OnceLock<SpecInfo> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut tpm = Tpm::manufacture(
            &EngineConfig::default(),
            Drbg::new([7; 32]),
            Box::<SystemTime>::default(),
        );
        // TPM2_Startup(CLEAR).
        let startup = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x44, 0, 0];
        tpm.execute(0, &startup);
        // TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, PT_FIXED, 64).
        let mut getcap = vec![0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7a];
        getcap.extend_from_slice(&6u32.to_be_bytes());
        getcap.extend_from_slice(&0x100u32.to_be_bytes());
        getcap.extend_from_slice(&64u32.to_be_bytes());
        let resp = tpm.execute(0, &getcap);
        let prop = |id: u32| fixed_property(&resp, id).unwrap_or(0);
        let family = prop(0x100).to_be_bytes();
        let family: String = family
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as char)
            .collect();
        SpecInfo {
            family: if family.is_empty() {
                "2.0".into()
            } else {
                family
            },
            level: prop(0x101),
            revision: prop(0x102),
            manufacturer: prop(0x105),
            version: prop(0x10b),
            model: "trustcloud".into(),
        }
    })
}

/// Finds `id` in a TPM2_GetCapability(TPM_PROPERTIES) response: header,
/// moreData, capability, count, then (property, value) pairs (TPM 2.0
/// Part 2, TPML_TAGGED_TPM_PROPERTY).
fn fixed_property(resp: &[u8], id: u32) -> Option<u32> {
    let rc = resp.get(6..10)?;
    if rc != [0, 0, 0, 0] {
        return None;
    }
    let count = u32::from_be_bytes(resp.get(15..19)?.try_into().ok()?) as usize;
    (0..count).find_map(|i| {
        let at = 19 + i * 8;
        let p = u32::from_be_bytes(resp.get(at..at + 4)?.try_into().ok()?);
        let v = u32::from_be_bytes(resp.get(at + 4..at + 8)?.try_into().ok()?);
        (p == id).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_property_parses_tagged_list() {
        let mut r = vec![
            0x80, 0x01, 0, 0, 0, 35, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0, 2,
        ];
        r.extend_from_slice(&[0, 0, 1, 0, 0x32, 0x2e, 0x30, 0]);
        r.extend_from_slice(&[0, 0, 1, 5, 0, 0, 0x10, 0x14]);
        assert_eq!(fixed_property(&r, 0x105), Some(0x1014));
        assert_eq!(fixed_property(&r, 0x100), Some(0x322e3000));
        assert_eq!(fixed_property(&r, 0x102), None);
        assert_eq!(fixed_property(&r[..20], 0x105), None);
    }
}
