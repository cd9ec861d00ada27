//! Live migration of a vTPM through QEMU (swtpm CMD_GET/SET_STATEBLOB).
//!
//! QEMU (backends/tpm/tpm_emulator.c) fetches the PERMANENT, VOLATILE and
//! SAVESTATE blobs from the source's control socket while the VM is
//! paused, puts them in the migration stream, and on the destination sends
//! CMD_STOP, CMD_SET_STATEBLOB for each non-empty blob with the flags the
//! source returned, then CMD_INIT with PTM_INIT_FLAG_DELETE_VOLATILE,
//! which resumes the TPM from the volatile blob.
//!
//! Blobs leave the daemon sealed (AES-256-GCM under the source instance's
//! migration key, see [`SealedStore::seal_migration_blob`]) even though
//! QEMU asks for PTM_STATE_FLAG_DECRYPTED: the blob holds the TPM's seeds
//! and every key it protects, and the migration stream is typically plain
//! TCP between hosts. The answer carries PTM_STATE_FLAG_ENCRYPTED, so QEMU
//! passes the flag back to the destination, which opens the blob. Only an
//! instance created with `--migration-plaintext` hands out (and accepts)
//! clear blobs, for a destination that is not a vtpmd sharing this host's
//! master key (e.g. swtpm).
//!
//! A destination created with `--incoming SOURCE` accepts only blobs
//! sealed for SOURCE; every other instance only its own. A blob sealed for
//! another instance or by another daemon (another master key) is refused
//! with TPM_DECRYPT_ERROR and a log line naming both instances; a
//! received PERMANENT state is stored as a new version of the destination
//! (crash-safe, recorded in the rollback record) before the answer.

use std::sync::Arc;

use crate::ctrl::{blob, res, Backend};
use crate::instance::Instance;
use crate::seal::SealedStore;

/// What the daemon knows about one instance's migration settings.
#[derive(Clone)]
pub(crate) struct MigrationPolicy {
    pub name: Arc<str>,
    /// Blobs in the clear (`vtpm create --migration-plaintext`).
    pub plaintext: bool,
    /// The source instance a destination accepts blobs from.
    pub incoming: Option<Arc<str>>,
    pub store: Arc<SealedStore>,
}

/// An [`Instance`] as its control socket sees it: every command as the
/// instance answers it, except the state blobs.
pub(crate) struct Migrating<'a> {
    pub inst: &'a mut Instance,
    pub policy: &'a MigrationPolicy,
}

fn type_name(t: u32) -> &'static str {
    match t {
        blob::PERMANENT => "permanent",
        blob::VOLATILE => "volatile",
        blob::SAVESTATE => "savestate",
        _ => "unknown",
    }
}

/// The instance's blob in the clear: PERMANENT is the engine's permanent
/// state (it holds what TPM2_Shutdown(STATE) saved, so SAVESTATE is always
/// empty, as with libtpms' TPM 2.0), VOLATILE its running state
/// ([`tpm::Tpm::volatile_blob`]). Unknown types answer TPM_RETRY as swtpm
/// does for a blob it has not got.
fn plain_state_blob(inst: &Instance, blob_type: u32) -> Result<Vec<u8>, u32> {
    match blob_type {
        blob::PERMANENT => Ok(inst.state_blob()),
        blob::VOLATILE => Ok(inst.volatile_blob()),
        blob::SAVESTATE => Ok(Vec::new()),
        _ => Err(res::RETRY),
    }
}

/// CMD_SET_STATEBLOB of a blob already decrypted (or sent in the clear):
/// PERMANENT replaces and stores the TPM, VOLATILE is kept for the next
/// CMD_INIT, SAVESTATE must be empty (see [`plain_state_blob`]).
fn set_plain_state_blob(inst: &mut Instance, blob_type: u32, data: &[u8]) -> u32 {
    match blob_type {
        blob::PERMANENT => match inst.replace_state(data) {
            Ok(()) => {
                tracing::info!("permanent state replaced by CMD_SET_STATEBLOB");
                res::SUCCESS
            }
            Err(e) => {
                tracing::warn!(error = %e, "CMD_SET_STATEBLOB(PERMANENT) refused");
                res::BAD_PARAMETER
            }
        },
        blob::VOLATILE => match inst.set_pending_volatile(data) {
            Ok(()) => {
                tracing::info!("volatile state received: the next CMD_INIT resumes it");
                res::SUCCESS
            }
            Err(e) => {
                tracing::warn!(error = %e, "CMD_SET_STATEBLOB(VOLATILE) refused");
                res::BAD_PARAMETER
            }
        },
        blob::SAVESTATE if data.is_empty() => res::SUCCESS,
        _ => res::BAD_PARAMETER,
    }
}

impl Backend for Migrating<'_> {
    fn is_running(&self) -> bool {
        self.inst.is_running()
    }
    fn init(&mut self, flags: u32) -> u32 {
        Backend::init(self.inst, flags)
    }
    fn stop(&mut self) {
        Backend::stop(self.inst)
    }
    fn established(&self) -> bool {
        Backend::established(self.inst)
    }
    fn reset_established(&mut self, locality: u8) -> u32 {
        Backend::reset_established(self.inst, locality)
    }
    fn set_locality(&mut self, locality: u8) {
        Backend::set_locality(self.inst, locality)
    }
    fn hash_start(&mut self) -> u32 {
        self.inst.hash_start()
    }
    fn hash_data(&mut self, data: &[u8]) -> u32 {
        self.inst.hash_data(data)
    }
    fn hash_end(&mut self) -> u32 {
        self.inst.hash_end()
    }
    fn cancel(&mut self) -> u32 {
        self.inst.cancel()
    }
    fn store_volatile(&mut self) -> u32 {
        self.inst.store_volatile()
    }

    /// The instance's blob, sealed unless plaintext was configured (see
    /// the module docs for why `decrypt` is not honoured).
    fn get_state_blob(&mut self, blob_type: u32, decrypt: bool) -> Result<(Vec<u8>, bool), u32> {
        let plain = zeroize::Zeroizing::new(plain_state_blob(self.inst, blob_type)?);
        if plain.is_empty() || self.policy.plaintext {
            if !plain.is_empty() {
                tracing::warn!(name = %self.policy.name, blob = type_name(blob_type), "state blob leaves the daemon in the clear (--migration-plaintext)");
            }
            return Ok((plain.to_vec(), false));
        }
        match self
            .policy
            .store
            .seal_migration_blob(&self.policy.name, blob_type, &plain)
        {
            Ok(sealed) => {
                tracing::info!(name = %self.policy.name, blob = type_name(blob_type), decrypt_requested = decrypt, bytes = sealed.len(), "state blob sealed for migration");
                Ok((sealed, true))
            }
            Err(e) => {
                tracing::error!(name = %self.policy.name, error = %e, "cannot seal a migration blob");
                Err(res::FAIL)
            }
        }
    }

    fn set_state_blob(&mut self, blob_type: u32, encrypted: bool, data: &[u8]) -> u32 {
        let name = &self.policy.name;
        let sealed = encrypted || data.starts_with(b"TCVM");
        if !sealed {
            if !self.policy.plaintext && !data.is_empty() {
                tracing::error!(name = %name, blob = type_name(blob_type), "migration blob in the clear refused: this vTPM accepts only sealed blobs (create it with --migration-plaintext to allow clear ones)");
                return res::DECRYPT_ERROR;
            }
            return set_plain_state_blob(self.inst, blob_type, data);
        }
        let expected: &str = self.policy.incoming.as_deref().unwrap_or(name);
        let (from, sealed_type, plain) = match self.policy.store.open_migration_blob(data) {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(name = %name, expected_source = expected, error = %e, "migration blob refused: it does not open with this daemon's keys");
                return res::DECRYPT_ERROR;
            }
        };
        if from != expected {
            tracing::error!(name = %name, expected_source = expected, sealed_for = %from, "migration blob refused: it was sealed for another vTPM");
            return res::DECRYPT_ERROR;
        }
        if sealed_type != u64::from(blob_type) {
            tracing::error!(name = %name, blob = type_name(blob_type), sealed_type, "migration blob refused: sealed as another blob type");
            return res::DECRYPT_ERROR;
        }
        let r = set_plain_state_blob(self.inst, blob_type, &plain);
        if r == res::SUCCESS {
            tracing::info!(name = %name, source = %from, blob = type_name(blob_type), "migration blob accepted");
        }
        r
    }

    fn config_flags(&self) -> u32 {
        // PTM_CONFIG_FLAG_MIGRATION_KEY: blobs are encrypted on the way out.
        if self.policy.plaintext {
            self.inst.config_flags()
        } else {
            self.inst.config_flags() | 2
        }
    }
    fn buffer_size(&mut self, requested: u32) -> (u32, u32, u32) {
        self.inst.buffer_size(requested)
    }
    fn info(&self, flags: u64) -> String {
        self.inst.info(flags)
    }
    fn lock_storage(&mut self, retries: u32) -> u32 {
        self.inst.lock_storage(retries)
    }
    fn capabilities(&self) -> u64 {
        self.inst.capabilities()
    }
}
