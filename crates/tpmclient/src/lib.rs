//! A TPM 2.0 client in pure Rust, on this project's own wire types
//! (`tpm::types`, `tpm::constants`): no C TSS needed.
//!
//! * [`Tcti`] parses tpm2-tss TCTI strings (`device:/dev/tpmrm0`,
//!   `mssim:host=..,port=..`, `swtpm:host=..,port=..`) and opens the
//!   matching [`transport::Transport`]; [`transport::EngineTransport`] runs
//!   the engine in process.
//! * [`Tpm`] builds commands and parses responses into the wire types:
//!   startup, capabilities, random, PCRs, primary and ordinary objects, NV
//!   indices, sessions and policies, credentials, quotes and signatures.
//! * Authorization ([`Auth`]) is by password or by HMAC/policy
//!   [`Session`]: the client computes cpHash and the command HMAC, checks
//!   every response HMAC (a response that does not verify is an
//!   [`Error::ResponseHmac`]) and can encrypt the first parameter.
//! * [`policy::PolicyDigest`] computes policy digests in software; the EK
//!   templates of the TCG EK Credential Profile are in `tpm::templates`.
//!
//! ```no_run
//! use tpmclient::{Auth, StartupType, Tpm};
//! # fn main() -> Result<(), tpmclient::Error> {
//! let mut tpm = Tpm::open("swtpm:host=127.0.0.1,port=2321")?;
//! tpm.startup(StartupType::Clear)?;
//! let ek = tpm.create_primary(
//!     tpm::constants::rh::ENDORSEMENT,
//!     &Auth::empty(),
//!     &tpm::templates::ek_rsa2048_l1(),
//!     &Default::default(),
//! )?;
//! println!("EK name {:?}", ek.name);
//! # Ok(()) }
//! ```

mod client;
mod command;
mod error;
mod names;
pub mod policy;
mod session;
pub mod tcti;
pub mod templates;
pub mod transport;

pub use client::{
    Created, CreatedPrimary, HashResult, KeyInputs, Loaded, NvPublicInfo, ObjectPublic, PcrValue,
    PcrValues, Quote, SessionOptions, StartupType, Tpm,
};
pub use error::{Error, Result};
pub use names::{command_name, known_name};
pub use session::{Auth, Session};
pub use tcti::{Tcti, TctiError};
