//! The agent's error type.

use std::path::PathBuf;

/// Why an agent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A TPM command failed or the TPM could not be reached.
    #[error("TPM: {0}")]
    Tpm(#[from] tpmclient::Error),
    /// The TPM has no usable EK certificate, or it does not certify the
    /// TPM's EK.
    #[error("EK: {0}")]
    Ek(String),
    /// A file could not be read or written.
    #[error("{op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    /// The verifier could not be reached (network, TLS, timeout).
    #[error("verifier unreachable: {0}")]
    Unreachable(String),
    /// The verifier answered with an error (4xx/5xx and its ApiError).
    #[error("verifier refused {what} ({status}, {code}): {message}")]
    Api {
        what: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    /// The verifier's answer or a local input is not what the protocol
    /// says.
    #[error("{0}")]
    Protocol(String),
    /// Bad configuration (certificates, keys, arguments).
    #[error("{0}")]
    Config(String),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.to_path_buf(),
            err,
        }
    }

    /// Whether the verifier no longer knows this agent (or its AK), so the
    /// agent must enroll again.
    pub fn needs_enrollment(&self) -> bool {
        match self {
            Error::Api { status, code, .. } => {
                *status == 404
                    || *status == 409
                    || matches!(
                        code.as_str(),
                        "unknown_agent" | "not_enrolled" | "not_activated" | "not_registered"
                    )
            }
            _ => false,
        }
    }

    /// Whether retrying later may help (verifier down or overloaded).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Api { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> Error {
        Error::Api {
            what: "challenge",
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn classification() {
        assert!(api(404, "unknown_agent").needs_enrollment());
        assert!(api(400, "not_activated").needs_enrollment());
        assert!(!api(400, "bad_request").needs_enrollment());
        assert!(!api(403, "forbidden").is_transient());
        assert!(api(503, "unavailable").is_transient());
        assert!(api(429, "slow_down").is_transient());
        assert!(Error::Unreachable("refused".into()).is_transient());
        assert_eq!(
            api(403, "ek_untrusted").to_string(),
            "verifier refused challenge (403, ek_untrusted): m"
        );
    }
}
