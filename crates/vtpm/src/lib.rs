//! vTPM hosting: one TPM engine with crash-safe state storage
//! ([`store`], [`instance`]), served over the TCP protocols the TPM world
//! speaks: the TCG simulator protocol ([`mssim`]) and swtpm's TCP mode
//! ([`swtpm_tcp`], with the socket-free control protocol in [`ctrl`]).

pub mod ctrl;
pub mod daemon;
pub mod durable;
pub mod ekcert;
pub mod instance;
mod instance_ctrl;
pub mod lockfile;
pub mod mssim;
pub mod net;
pub mod seal;
pub mod store;
pub mod swtpm_tcp;

pub use instance::{error_response, Instance, Opened, ReplaceError};
pub use instance_ctrl::{spec_info, CAPABILITIES};
pub use net::{StopReason, StopSender};
pub use store::{StateStore, StoreError, STATE_FILE};
