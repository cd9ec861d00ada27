//! One hosted TPM, independent of any transport: the engine, its state
//! store, and the platform signals a transport may deliver (power, the
//! current locality, the TPM_ACCESS.tpmEstablishment bit).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use tpm::crypto::{Drbg, HashAlg};
use tpm::engine::{SystemTime, MAX_COMMAND_SIZE};
use tpm::{EngineConfig, Rc, Tpm};

use crate::store::{StateBackend, StoreError};

/// TPM_ST_NO_SESSIONS, the tag of every error response (Part 2 §6.9).
const ST_NO_SESSIONS: u16 = 0x8001;

/// A 10-byte TPM 2.0 error response carrying `rc` (TPM 2.0 Part 1, clause
/// "Response Structure": a failing command returns only the header).
pub fn error_response(rc: Rc) -> Vec<u8> {
    let mut v = Vec::with_capacity(10);
    v.extend_from_slice(&ST_NO_SESSIONS.to_be_bytes());
    v.extend_from_slice(&10u32.to_be_bytes());
    v.extend_from_slice(&rc.0.to_be_bytes());
    v
}

/// How [`Instance::open`] obtained its TPM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// No state file existed: a new TPM was manufactured and stored.
    Manufactured,
    /// The TPM was restored from the state file (a power cycle).
    Loaded,
}

/// Why a state blob pushed by a client (swtpm CMD_SET_STATEBLOB) was not
/// taken.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("the blob is not a valid TPM state: {0}")]
    Invalid(#[from] tpm::StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One TPM with its store. Every command that changed the permanent state
/// is stored before its response is returned, so an acknowledged command
/// is durable.
pub struct Instance {
    tpm: Tpm,
    store: Box<dyn StateBackend>,
    /// Locality for transports that set it out of band (swtpm).
    locality: u8,
    /// TPM_ACCESS.tpmEstablishment (TCG PC Client Platform TPM Profile); set by
    /// _TPM_Hash_Start, cleared at locality 3 or 4.
    established: bool,
    /// Whether the platform has power applied (mssim POWER_ON/OFF, swtpm
    /// CMD_INIT/CMD_STOP).
    powered: bool,
    /// Set when a state write failed or the engine crashed: the TPM is in
    /// failure mode (TPM 2.0 Part 1, "Failure Mode") and answers TPM_RC_FAILURE until it
    /// is re-initialized from its last durable state.
    failed: bool,
    /// A volatile state received for a live migration (swtpm
    /// CMD_SET_STATEBLOB of PTM_BLOB_TYPE_VOLATILE), applied by the next
    /// (re)initialization instead of a _TPM_Init, as libtpms'
    /// TPMLIB_MainInit resumes from a cached volatile state.
    pending_volatile: Option<zeroize::Zeroizing<Vec<u8>>>,
}

impl Instance {
    /// Loads the TPM stored in `store`, or manufactures one with `config`
    /// (and stores it) when there is none. The TPM is powered on and awaits
    /// TPM2_Startup, as after _TPM_Init.
    pub fn open(
        store: impl StateBackend + 'static,
        config: &EngineConfig,
    ) -> Result<(Instance, Opened), StoreError> {
        let (tpm, opened) = match store.load()? {
            Some(blob) => (load_tpm(&store, &blob)?, Opened::Loaded),
            None => {
                tracing::info!(file = %store.path().display(), "no TPM state found: manufacturing a new TPM");
                (Tpm::new(config), Opened::Manufactured)
            }
        };
        let mut inst = Instance {
            tpm,
            store: Box::new(store),
            locality: 0,
            established: false,
            powered: true,
            failed: false,
            pending_volatile: None,
        };
        // A manufactured TPM must be durable before anyone sees its seeds.
        inst.persist()?;
        Ok((inst, opened))
    }

    /// Executes one TPM command at `locality`. The TPM must be powered
    /// (transports answer differently when it is not; see
    /// [`Instance::is_powered`]). Never panics on any input.
    pub fn execute(&mut self, locality: u8, command: &[u8]) -> Vec<u8> {
        if self.failed {
            return error_response(Rc::FAILURE);
        }
        if command.len() > MAX_COMMAND_SIZE {
            return error_response(Rc::COMMAND_SIZE);
        }
        let tpm = &mut self.tpm;
        let response = match catch_unwind(AssertUnwindSafe(|| tpm.execute(locality, command))) {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(
                    "the TPM engine panicked: entering failure mode until re-initialized"
                );
                self.failed = true;
                return error_response(Rc::FAILURE);
            }
        };
        match self.persist() {
            Ok(()) => response,
            Err(e) => {
                tracing::error!(error = %e, "cannot store the TPM state: entering failure mode until re-initialized");
                self.failed = true;
                error_response(Rc::FAILURE)
            }
        }
    }

    /// Stores the state if the engine changed it.
    fn persist(&mut self) -> Result<(), StoreError> {
        if self.tpm.take_dirty() {
            self.store.save(&self.tpm.state_blob())?;
        }
        Ok(())
    }

    /// Stores the current state unconditionally (it carries Clock, which
    /// advances without dirtying the state); used on a clean stop.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.failed {
            return Ok(());
        }
        self.tpm.take_dirty();
        self.store.save(&self.tpm.state_blob())
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Whether the TPM is in failure mode.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether TPM2_Startup has run since the last _TPM_Init.
    pub fn is_started(&self) -> bool {
        self.tpm.is_started()
    }

    /// Applies power: _TPM_Init if it was off, nothing if already on (as
    /// the TCG simulator's _rpc__Signal_PowerOn).
    pub fn power_on(&mut self) {
        if !self.powered {
            self.init_engine();
        }
    }

    /// Removes power: volatile state is lost at the next power-on.
    pub fn power_off(&mut self) {
        if self.powered {
            let _ = self.persist();
        }
        self.powered = false;
    }

    /// A TPM reset while powered (mssim SIGNAL_RESET): _TPM_Init again.
    pub fn reset(&mut self) {
        if self.powered {
            self.init_engine();
        }
    }

    /// (Re)initializes the TPM as swtpm's CMD_INIT does: a TPM in failure
    /// mode is reloaded from its last durable state first; then _TPM_Init.
    pub fn reinit(&mut self) -> Result<(), StoreError> {
        if self.failed {
            let blob = self.store.load()?.ok_or_else(|| StoreError::Io {
                op: "reload",
                path: self.store.path().to_path_buf(),
                err: std::io::Error::new(std::io::ErrorKind::NotFound, "state file vanished"),
            })?;
            self.tpm = load_tpm(&*self.store, &blob)?;
            self.failed = false;
            self.pending_volatile = None;
            tracing::info!("TPM reloaded from its last durable state");
        }
        if let Some(vol) = self.pending_volatile.take() {
            // Checked when it was received; a failure here means the
            // permanent state changed since, and the TPM starts afresh.
            self.tpm.power_on();
            match self.tpm.restore_volatile(&vol) {
                Ok(()) => {
                    self.powered = true;
                    tracing::info!("TPM resumed from a migrated volatile state");
                    if let Err(e) = self.persist() {
                        tracing::error!(error = %e, "cannot store the TPM state: entering failure mode");
                        self.failed = true;
                    }
                    return Ok(());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "migrated volatile state refused: plain _TPM_Init");
                }
            }
        }
        self.init_engine();
        Ok(())
    }

    fn init_engine(&mut self) {
        self.tpm.power_on();
        self.powered = true;
        if let Err(e) = self.persist() {
            tracing::error!(error = %e, "cannot store the TPM state: entering failure mode");
            self.failed = true;
        }
    }

    pub fn locality(&self) -> u8 {
        self.locality
    }

    pub fn set_locality(&mut self, locality: u8) {
        self.locality = locality;
    }

    pub fn established(&self) -> bool {
        self.established
    }

    pub fn set_established(&mut self, on: bool) {
        self.established = on;
    }

    /// The permanent state as the engine serializes it.
    pub fn state_blob(&self) -> Vec<u8> {
        self.tpm.state_blob()
    }

    /// The running TPM's volatile state (PCRs, loaded objects, sessions,
    /// time) as the engine serializes it for a live migration.
    pub fn volatile_blob(&self) -> Vec<u8> {
        self.tpm.volatile_blob()
    }

    /// Keeps a migrated volatile state for the next (re)initialization
    /// (swtpm: SET_STATEBLOB(VOLATILE) then CMD_INIT). It is checked now
    /// against the current permanent state, so a bad blob is refused at
    /// once; an empty blob clears any pending one.
    pub fn set_pending_volatile(&mut self, blob: &[u8]) -> Result<(), tpm::StateError> {
        if blob.is_empty() {
            self.pending_volatile = None;
            return Ok(());
        }
        let mut probe = Tpm::from_state(
            &self.tpm.state_blob(),
            Drbg::from_os(),
            Box::<SystemTime>::default(),
        )?;
        probe.restore_volatile(blob)?;
        self.pending_volatile = Some(zeroize::Zeroizing::new(blob.to_vec()));
        Ok(())
    }

    /// Replaces the TPM with one restored from `blob` (validated whole
    /// first) and stores it. The new TPM is left unpowered; it runs after
    /// the next (re)initialization.
    pub fn replace_state(&mut self, blob: &[u8]) -> Result<(), ReplaceError> {
        let tpm = Tpm::from_state(blob, Drbg::from_os(), Box::<SystemTime>::default())?;
        self.store.save(blob)?;
        self.tpm = tpm;
        self.tpm.take_dirty();
        self.powered = false;
        self.failed = false;
        self.pending_volatile = None;
        Ok(())
    }

    /// The PCR banks allocated (at least one PCR selected).
    pub fn pcr_banks(&self) -> Vec<HashAlg> {
        self.tpm
            .pcr_allocation()
            .0
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.hash)
            .collect()
    }

    /// The state file.
    pub fn state_path(&self) -> &Path {
        self.store.path()
    }
}

fn load_tpm(store: &dyn StateBackend, blob: &[u8]) -> Result<Tpm, StoreError> {
    Tpm::from_state(blob, Drbg::from_os(), Box::<SystemTime>::default()).map_err(|reason| {
        StoreError::Corrupt {
            path: store.path().to_path_buf(),
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StateStore;

    fn open(dir: &Path) -> (Instance, Opened) {
        Instance::open(StateStore::open(dir).unwrap(), &EngineConfig::default()).unwrap()
    }

    #[test]
    fn manufactured_tpm_is_stored_and_reloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let (inst, how) = open(tmp.path());
        assert_eq!(how, Opened::Manufactured);
        let blob = inst.state_blob();
        let on_disk = std::fs::read(inst.state_path()).unwrap();
        // The stored blob is a valid state (Clock may differ by then).
        assert!(Tpm::from_state(&on_disk, Drbg::from_os(), Box::<SystemTime>::default()).is_ok());
        assert_eq!(on_disk.len(), blob.len());
        drop(inst);
        let (inst, how) = open(tmp.path());
        assert_eq!(how, Opened::Loaded);
        assert_eq!(inst.pcr_banks(), vec![HashAlg::Sha256]);
    }

    #[test]
    fn corrupt_state_is_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        drop(open(tmp.path()));
        let path = tmp.path().join(crate::store::STATE_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        let err = Instance::open(
            StateStore::open(tmp.path()).unwrap(),
            &EngineConfig::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn truncated_state_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        drop(open(tmp.path()));
        let path = tmp.path().join(crate::store::STATE_FILE);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
        let err = Instance::open(
            StateStore::open(tmp.path()).unwrap(),
            &EngineConfig::default(),
        )
        .err()
        .unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn oversized_and_garbage_commands_get_error_responses() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut inst, _) = open(tmp.path());
        let big = vec![0u8; MAX_COMMAND_SIZE + 1];
        assert_eq!(inst.execute(0, &big), error_response(Rc::COMMAND_SIZE));
        let r = inst.execute(0, &[1, 2, 3]);
        assert_eq!(r.len(), 10);
        assert_eq!(&r[0..2], &[0x80, 0x01]);
        assert_ne!(&r[6..10], &[0, 0, 0, 0]);
    }

    #[test]
    fn power_on_is_a_no_op_when_on_and_power_off_sticks() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut inst, _) = open(tmp.path());
        assert!(inst.is_powered());
        inst.power_on();
        assert!(inst.is_powered());
        inst.power_off();
        assert!(!inst.is_powered());
        inst.reset();
        assert!(!inst.is_powered(), "reset does not apply power");
        inst.power_on();
        assert!(inst.is_powered());
    }
}
