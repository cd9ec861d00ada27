//! The management API's messages (see the protocol description in
//! [`super`]): one JSON object per line in each direction.

use serde::{Deserialize, Serialize};

/// A request to the daemon, tagged by `"op"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Daemon facts: version, instance count, host root of trust.
    Status,
    /// Manufactures a new vTPM.
    Create(CreateRequest),
    /// Every vTPM, sorted by name.
    List,
    /// One vTPM in detail.
    Show { name: String },
    /// Removes a vTPM and its state. Refused while a client is connected
    /// unless `force`.
    Delete {
        name: String,
        #[serde(default)]
        force: bool,
    },
    /// The vTPM's permanent state and metadata as an [`ExportDocument`].
    Export { name: String },
    /// Creates a vTPM from an [`ExportDocument`].
    Import(ImportRequest),
}

/// `create`'s parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    pub name: String,
    /// EK kinds (`rsa2048`, `ecc-p256`, `sm2`); empty: `rsa2048` and `ecc-p256`.
    #[serde(default)]
    pub ek: Vec<String>,
    /// PCR banks (`sha1`, `sha256`, `sha384`, `sha512`, `sm3_256`); empty: `sha256`.
    #[serde(default)]
    pub pcr_banks: Vec<String>,
    #[serde(default, flatten)]
    pub listen: ListenRequest,
    /// Hand out and accept live-migration blobs in the clear (unsafe).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migration_plaintext: bool,
    /// Create a migration destination for the vTPM named here: no
    /// manufacture; its state arrives with CMD_SET_STATEBLOB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
}

/// An optional TCP listener pair for an instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenRequest {
    /// `ADDR:PORT` of the first port (the second is PORT+1); port 0 picks
    /// a free pair, which is then kept across restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `swtpm` (default) or `mssim`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// `import`'s parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// Name of the new vTPM; the exported name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub document: ExportDocument,
    #[serde(default, flatten)]
    pub listen: ListenRequest,
}

/// What `export` returns and `import` takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDocument {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// Format version, [`EXPORT_VERSION`].
    pub version: u32,
    pub name: String,
    pub created: u64,
    pub pcr_banks: Vec<String>,
    pub eks: Vec<EkInfo>,
    /// The engine's permanent-state blob, hex. It holds the TPM's seeds in
    /// plaintext: the file must be protected like a private key.
    pub state: String,
}

pub const EXPORT_FORMAT: &str = "trustcloud-vtpm-export";
pub const EXPORT_VERSION: u32 = 1;

/// One endorsement key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EkInfo {
    /// `rsa2048`, `ecc-p256` or `sm2`.
    pub kind: String,
    /// The EK's TPMT_PUBLIC as returned by TPM2_CreatePrimary, hex.
    pub public: String,
    /// The EK's Name (nameAlg || H(public)), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// NV index holding the EK certificate, if one was provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_nv_index: Option<u32>,
    /// The EK certificate (DER, hex), if one was provisioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// An instance as `list` and `show` describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub name: String,
    /// Whether the engine is in memory (`loaded`) or only on disk
    /// (`unloaded`); `refused` when its state could not be loaded.
    pub status: String,
    /// Open client connections (control, data, TCP).
    pub connections: u32,
    /// The swtpm control socket QEMU connects to.
    pub control_socket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<ListenInfo>,
    pub pcr_banks: Vec<String>,
    pub ek_kinds: Vec<String>,
    /// Unix time of manufacture.
    pub created: u64,
    /// `show` only: EK public keys and certificates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eks: Vec<EkInfo>,
    /// `show` only: the instance's state directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<String>,
    /// `show` only: the stored state's version, when the store keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_version: Option<u64>,
    /// Why the state was refused at the last load attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Migration blobs travel in the clear.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub migration_plaintext: bool,
    /// The source vTPM this migration destination accepts blobs from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<String>,
}

/// A TCP listener pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenInfo {
    /// `swtpm` or `mssim`.
    pub protocol: String,
    /// swtpm data / mssim command port.
    pub first: String,
    /// swtpm control / mssim platform port.
    pub second: String,
    /// The tpm2-tss TCTI string for the pair.
    pub tcti: String,
}

/// `status`' result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub version: String,
    pub instances: usize,
    pub loaded: usize,
    pub state_dir: String,
    pub run_dir: String,
    /// The host TPM's TCTI, or none: no hardware root of trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_tpm: Option<String>,
}

/// A response line: `{"ok":true,"result":...}` or
/// `{"ok":false,"error":{"code":...,"message":...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

impl Response {
    pub fn success(result: serde_json::Value) -> Response {
        Response {
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    pub fn failure(error: ApiError) -> Response {
        Response {
            ok: false,
            result: None,
            error: Some(error),
        }
    }
}

/// Machine-readable error codes of [`ApiError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request line is not a valid request.
    BadRequest,
    /// A parameter is invalid (name, EK kind, bank, address...).
    InvalidArgument,
    /// An instance of that name exists (or is being created).
    AlreadyExists,
    /// No instance of that name.
    NotFound,
    /// The instance has connected clients (delete without force).
    Busy,
    /// The stored state was refused (corrupt, rolled back...).
    StateRefused,
    /// The daemon could not bind a socket or port.
    AddressInUse,
    /// A file-system or engine failure.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Busy => "busy",
            ErrorCode::StateRefused => "state_refused",
            ErrorCode::AddressInUse => "address_in_use",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error answer: a code for programs, a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} [{}]", code.as_str())]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_documented_lines() {
        let r: Request = serde_json::from_str(
            r#"{"op":"create","name":"vm1","ek":["rsa2048"],"listen":"127.0.0.1:0","protocol":"mssim"}"#,
        )
        .unwrap();
        assert_eq!(
            r,
            Request::Create(CreateRequest {
                name: "vm1".into(),
                ek: vec!["rsa2048".into()],
                pcr_banks: vec![],
                listen: ListenRequest {
                    listen: Some("127.0.0.1:0".into()),
                    protocol: Some("mssim".into()),
                },
                ..Default::default()
            })
        );
        let r: Request = serde_json::from_str(r#"{"op":"delete","name":"a"}"#).unwrap();
        assert_eq!(
            r,
            Request::Delete {
                name: "a".into(),
                force: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"op":"show"}"#).is_err());
    }

    #[test]
    fn error_response_has_code_and_message() {
        let r = Response::failure(ApiError::new(ErrorCode::NotFound, "no vTPM named \"x\""));
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"ok":false,"error":{"code":"not_found","message":"no vTPM named \"x\""}}"#
        );
    }
}
