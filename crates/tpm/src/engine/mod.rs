//! The TPM 2.0 command engine.
//!
//! [`Tpm::execute`] runs one command the way ExecCommand.c in the reference
//! implementation does (Part 3 §5 "Command processing"): header checks,
//! handle area, authorization area, parameter unmarshalling, then the
//! command's action. Every failure becomes a response code; nothing panics
//! on outside bytes.

mod algorithms;
mod attest;
mod auth;
mod capability;
mod clock;
mod command;
mod context;
mod dispatch;
mod fields;
mod hash_cmds;
mod hierarchy;
mod keyuse;
mod nv;
mod object;
mod objects;
mod pcr;
mod policy;
mod random;
mod selftest;
mod sequence;
mod session;
mod signing;
mod startup;
mod state;
mod testparms;
mod volatile;

pub use command::MAX_COMMAND_SIZE;
pub use signing::verify_signature;
pub use state::StateError;
pub use volatile::MAX_VOLATILE_BLOB;

use crate::crypto::{Drbg, HashAlg};
use crate::types::PcrSelectionList;
pub(crate) use objects::Transient;
pub(crate) use state::{PermanentState, VolatileState};

/// A monotonic millisecond clock supplied by the host. The engine never
/// reads the system time itself, so tests can drive time explicitly.
pub trait TimeSource: Send {
    /// Milliseconds since an arbitrary fixed origin; never decreases.
    fn now_ms(&self) -> u64;
}

/// The host's monotonic clock.
pub struct SystemTime {
    origin: std::time::Instant,
}

impl Default for SystemTime {
    fn default() -> Self {
        SystemTime {
            origin: std::time::Instant::now(),
        }
    }
}

impl TimeSource for SystemTime {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }
}

/// How a fresh TPM is manufactured.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The PCR banks active after manufacture (all 24 PCRs of each).
    pub pcr_banks: Vec<HashAlg>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            pcr_banks: vec![HashAlg::Sha256],
        }
    }
}

/// One TPM 2.0 instance.
pub struct Tpm {
    pub(crate) perm: PermanentState,
    pub(crate) vol: VolatileState,
    /// Set by TPM2_Startup, cleared by _TPM_Init (power-on).
    pub(crate) started: bool,
    pub(crate) drbg: Drbg,
    pub(crate) time: Box<dyn TimeSource>,
    /// Host time (ms) at the last _TPM_Init; TPMS_TIME_INFO.time counts from it.
    pub(crate) init_ms: u64,
    /// Set when the permanent state changed and the host should store it.
    pub(crate) dirty: bool,
}

impl Tpm {
    /// Manufactures a new TPM: fresh seeds from `drbg`, default
    /// authorizations, `config.pcr_banks` allocated. The TPM is powered on
    /// and awaits TPM2_Startup.
    pub fn manufacture(config: &EngineConfig, mut drbg: Drbg, time: Box<dyn TimeSource>) -> Tpm {
        let banks = if config.pcr_banks.is_empty() {
            vec![HashAlg::Sha256]
        } else {
            config.pcr_banks.clone()
        };
        let perm = PermanentState::manufacture(&mut drbg, &banks);
        Tpm::powered_on(perm, drbg, time, true)
    }

    /// A TPM holding `perm`, just after _TPM_Init. `dirty` says whether the
    /// host has yet to store this permanent state.
    fn powered_on(perm: PermanentState, drbg: Drbg, time: Box<dyn TimeSource>, dirty: bool) -> Tpm {
        let mut tpm = Tpm {
            vol: VolatileState::new(&perm.pcr_allocation),
            perm,
            started: false,
            drbg,
            time,
            init_ms: 0,
            dirty,
        };
        tpm.power_on();
        tpm
    }

    /// A manufactured TPM with OS entropy and the system clock.
    pub fn new(config: &EngineConfig) -> Tpm {
        Tpm::manufacture(config, Drbg::from_os(), Box::<SystemTime>::default())
    }

    /// Restores a TPM from a blob written by [`Tpm::state_blob`]. The TPM is
    /// powered on (as after _TPM_Init) and awaits TPM2_Startup; a blob that
    /// is truncated, corrupt or of an unknown version is refused whole.
    pub fn from_state(
        blob: &[u8],
        drbg: Drbg,
        time: Box<dyn TimeSource>,
    ) -> Result<Tpm, StateError> {
        let perm = PermanentState::from_blob(blob)?;
        Ok(Tpm::powered_on(perm, drbg, time, false))
    }

    /// The permanent state (including any state saved by
    /// TPM2_Shutdown(STATE)) as a self-checking blob.
    pub fn state_blob(&self) -> Vec<u8> {
        self.perm.to_blob(self.current_clock())
    }

    /// True when the permanent state changed since the last
    /// [`Tpm::take_dirty`]: the host should store [`Tpm::state_blob`]
    /// before acknowledging the command that changed it.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Returns and clears the dirty flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// _TPM_Init (Part 3 §9.2): the TPM is reset and accepts only
    /// TPM2_Startup. Volatile state not saved by Shutdown(STATE) is lost.
    pub fn power_on(&mut self) {
        self.started = false;
        self.init_ms = self.time.now_ms();
        self.vol = VolatileState::new(&self.perm.pcr_allocation);
        startup::on_power_on(self);
    }

    /// Whether TPM2_Startup has run since the last power-on.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// The PCR banks currently allocated.
    pub fn pcr_allocation(&self) -> &PcrSelectionList {
        &self.perm.pcr_allocation
    }

    /// Executes one command at `locality` and returns the response bytes.
    pub fn execute(&mut self, locality: u8, command: &[u8]) -> Vec<u8> {
        command::execute(self, locality, command)
    }

    /// TPMS_TIME_INFO.time: milliseconds since the last _TPM_Init.
    pub(crate) fn time_since_init(&self) -> u64 {
        self.time.now_ms().saturating_sub(self.init_ms)
    }

    /// Current value of Clock (Part 1 §36.2): the persisted base plus the
    /// time powered since it was set.
    pub(crate) fn current_clock(&self) -> u64 {
        clock::current_clock(self)
    }
}
