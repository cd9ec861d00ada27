//! The client's error type.

use tpm::wire::WireError;
use tpm::Rc;

use crate::names::command_name;
use crate::tcti::TctiError;
use crate::transport::TransportError;

/// Why a TPM operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TPM refused the command with a response code.
    #[error("{} failed: {} (0x{:03x})", command_name(*.command), .rc.describe(), .rc.0)]
    Tpm { command: u32, rc: Rc },
    /// The bytes did not reach the TPM or come back.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The TCTI string is invalid.
    #[error(transparent)]
    Tcti(#[from] TctiError),
    /// The TPM answered with something that is not a well-formed response
    /// to this command.
    #[error("malformed response to {}: {reason}", command_name(*.command))]
    Malformed { command: u32, reason: String },
    /// A session's response HMAC did not verify: the response was not made
    /// by the TPM that holds the session, or was altered in transit.
    #[error("response HMAC of session 0x{session:08x} to {} does not verify", command_name(*.command))]
    ResponseHmac { command: u32, session: u32 },
    /// The TPM's state changed while a multi-command read was running
    /// (e.g. PCRs extended between two TPM2_PCR_Read calls, repeatedly).
    #[error("inconsistent TPM state: {0}")]
    Inconsistent(String),
    /// The caller asked for something the client cannot express (a value
    /// too large for its TPM2B, an unknown session, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Error {
    /// The response code, if the TPM refused the command.
    pub fn rc(&self) -> Option<Rc> {
        match self {
            Error::Tpm { rc, .. } => Some(*rc),
            _ => None,
        }
    }

    /// Whether the TPM refused the command with `rc` (any numbering of the
    /// same base code matches, e.g. TPM_RC_VALUE + P1 matches TPM_RC_VALUE).
    pub fn is_rc(&self, rc: Rc) -> bool {
        self.rc().is_some_and(|r| r == rc || r.base() == rc.base())
    }

    pub(crate) fn malformed(command: u32, e: impl std::fmt::Display) -> Self {
        Error::Malformed {
            command,
            reason: e.to_string(),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Error::Invalid(what.into())
    }
}

/// A value that does not fit its TPM2B is a caller error.
pub(crate) fn too_big(what: &str) -> impl FnOnce(WireError) -> Error + '_ {
    move |_| Error::Invalid(format!("{what} is too large for its TPM structure"))
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
