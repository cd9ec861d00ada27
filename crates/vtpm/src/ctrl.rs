//! The swtpm control protocol, without sockets.
//!
//! Facts from swtpm's `include/swtpm/tpm_ioctl.h` and
//! `src/swtpm/ctrlchannel.c` (checked byte-for-byte against swtpm 0.7.1):
//! a request is a big-endian u32 command code followed by the `req` part of
//! the command's `ptm_*` struct; a response is the `resp` part, which starts
//! with a u32 result in TPM 1.2 error numbering (TPM 1.2 Part 2 §16), all
//! big-endian. The transport (TCP here, a UNIX socket with SCM_RIGHTS for
//! QEMU later) reads a message with [`needed_len`] and hands it whole to
//! [`handle`].

/// Control command codes (`CMD_*` in tpm_ioctl.h).
pub mod cmd {
    pub const GET_CAPABILITY: u32 = 0x01;
    pub const INIT: u32 = 0x02;
    pub const SHUTDOWN: u32 = 0x03;
    pub const GET_TPMESTABLISHED: u32 = 0x04;
    pub const SET_LOCALITY: u32 = 0x05;
    pub const HASH_START: u32 = 0x06;
    pub const HASH_DATA: u32 = 0x07;
    pub const HASH_END: u32 = 0x08;
    pub const CANCEL_TPM_CMD: u32 = 0x09;
    pub const STORE_VOLATILE: u32 = 0x0a;
    pub const RESET_TPMESTABLISHED: u32 = 0x0b;
    pub const GET_STATEBLOB: u32 = 0x0c;
    pub const SET_STATEBLOB: u32 = 0x0d;
    pub const STOP: u32 = 0x0e;
    pub const GET_CONFIG: u32 = 0x0f;
    pub const SET_DATAFD: u32 = 0x10;
    pub const SET_BUFFERSIZE: u32 = 0x11;
    pub const GET_INFO: u32 = 0x12;
    pub const LOCK_STORAGE: u32 = 0x13;
}

/// Result codes (TPM 1.2 `TPM_RESULT`, as libtpms' tpm_error.h).
pub mod res {
    pub const SUCCESS: u32 = 0;
    pub const BAD_PARAMETER: u32 = 0x03;
    pub const FAIL: u32 = 0x09;
    pub const BAD_ORDINAL: u32 = 0x0a;
    pub const IOERROR: u32 = 0x1f;
    /// TPM_DECRYPT_ERROR: a state blob does not decrypt (swtpm answers it
    /// for a blob sealed with another key).
    pub const DECRYPT_ERROR: u32 = 0x21;
    pub const BAD_LOCALITY: u32 = 0x3d;
    pub const RETRY: u32 = 0x800;
}

/// Capability bits returned by CMD_GET_CAPABILITY (`PTM_CAP_*`).
pub mod cap {
    pub const INIT: u64 = 1;
    pub const SHUTDOWN: u64 = 1 << 1;
    pub const GET_TPMESTABLISHED: u64 = 1 << 2;
    pub const SET_LOCALITY: u64 = 1 << 3;
    pub const HASHING: u64 = 1 << 4;
    pub const CANCEL_TPM_CMD: u64 = 1 << 5;
    pub const STORE_VOLATILE: u64 = 1 << 6;
    pub const RESET_TPMESTABLISHED: u64 = 1 << 7;
    pub const GET_STATEBLOB: u64 = 1 << 8;
    pub const SET_STATEBLOB: u64 = 1 << 9;
    pub const STOP: u64 = 1 << 10;
    pub const GET_CONFIG: u64 = 1 << 11;
    pub const SET_DATAFD: u64 = 1 << 12;
    pub const SET_BUFFERSIZE: u64 = 1 << 13;
    pub const GET_INFO: u64 = 1 << 14;
    pub const SEND_COMMAND_HEADER: u64 = 1 << 15;
    pub const LOCK_STORAGE: u64 = 1 << 16;
}

/// State blob types (`PTM_BLOB_TYPE_*`).
pub mod blob {
    pub const PERMANENT: u32 = 1;
    pub const VOLATILE: u32 = 2;
    pub const SAVESTATE: u32 = 3;
    /// `PTM_STATE_FLAG_DECRYPTED` (request) / `_ENCRYPTED` (response, set).
    pub const FLAG_DECRYPTED: u32 = 1;
    pub const FLAG_ENCRYPTED: u32 = 2;
}

/// `PTM_INIT_FLAG_DELETE_VOLATILE`.
pub const INIT_FLAG_DELETE_VOLATILE: u32 = 1;
/// `PTM_GETINFO_SIZE`: at most this many info bytes per GET_INFO response.
pub const GETINFO_SIZE: usize = 3 * 1024;
/// `SWTPM_INFO_TPMSPECIFICATION` / `SWTPM_INFO_TPMATTRIBUTES` flags.
pub const INFO_TPMSPECIFICATION: u64 = 1;
pub const INFO_TPMATTRIBUTES: u64 = 1 << 1;
/// How long swtpm waits for the rest of a control message after its first
/// bytes (ctrlchannel_recv_cmd: 500 ms) before dropping the connection.
pub const RECV_DEADLINE_MS: u64 = 500;
/// Largest control message accepted (a SET_STATEBLOB carrying a state
/// blob, or HASH_DATA); longer ones are refused.
pub const MAX_MESSAGE: usize = 16 + crate::store::MAX_STATE_FILE as usize;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_be_bytes(a))
}

/// How many bytes the message starting with `buf` needs before it can be
/// handled (ctrlchannel_recv_cmd's `needed`): the command code, then the
/// fixed request part, plus the announced data length for HASH_DATA and
/// SET_STATEBLOB. Bytes received beyond it in the same read belong to the
/// message too, as in swtpm (so a command sent with stray bytes gets
/// TPM_BAD_PARAMETER).
pub fn needed_len(buf: &[u8]) -> usize {
    let Some(code) = be32(buf, 0) else {
        return 4;
    };
    let fixed = match code {
        cmd::INIT | cmd::SET_BUFFERSIZE | cmd::LOCK_STORAGE => 4,
        cmd::SET_LOCALITY | cmd::RESET_TPMESTABLISHED => 1,
        cmd::GET_STATEBLOB => 12,
        cmd::GET_INFO => 16,
        cmd::HASH_DATA => {
            return be32(buf, 4).map_or(8, |len| 8usize.saturating_add(len as usize));
        }
        cmd::SET_STATEBLOB => {
            return be32(buf, 12).map_or(16, |len| 16usize.saturating_add(len as usize));
        }
        _ => 0,
    };
    4 + fixed
}

/// What the host behind the control channel must provide. Result values
/// are `res::*` codes.
pub trait Backend {
    /// Whether the TPM is initialized (swtpm's `tpm_running`).
    fn is_running(&self) -> bool;
    /// CMD_INIT: (re)start the TPM (_TPM_Init).
    fn init(&mut self, flags: u32) -> u32;
    /// CMD_STOP: stop the TPM without ending the process.
    fn stop(&mut self);
    fn established(&self) -> bool;
    /// CMD_RESET_TPMESTABLISHED at `locality` (0..=4).
    fn reset_established(&mut self, locality: u8) -> u32;
    fn set_locality(&mut self, locality: u8);
    fn hash_start(&mut self) -> u32;
    fn hash_data(&mut self, data: &[u8]) -> u32;
    fn hash_end(&mut self) -> u32;
    fn cancel(&mut self) -> u32;
    fn store_volatile(&mut self) -> u32;
    /// The whole blob of `blob_type`, and whether it is encrypted.
    fn get_state_blob(&mut self, blob_type: u32, decrypt: bool) -> Result<(Vec<u8>, bool), u32>;
    fn set_state_blob(&mut self, blob_type: u32, encrypted: bool, data: &[u8]) -> u32;
    /// `PTM_CONFIG_FLAG_*` bits.
    fn config_flags(&self) -> u32;
    /// CMD_SET_BUFFERSIZE: (size in use, min, max) after asking for
    /// `requested` (0 = query).
    fn buffer_size(&mut self, requested: u32) -> (u32, u32, u32);
    /// The JSON document TPMLIB_GetInfo returns for `flags`.
    fn info(&self, flags: u64) -> String;
    fn lock_storage(&mut self, retries: u32) -> u32;
    /// The `PTM_CAP_*` bits implemented.
    fn capabilities(&self) -> u64;
}

/// The result of handling one control message.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes to send back.
    pub response: Vec<u8>,
    /// CMD_SHUTDOWN: after sending the response the process ends.
    pub terminate: bool,
    /// CMD_SET_DATAFD: the transport must take the data channel passed
    /// with the message and put its own result in `response`.
    pub set_data_fd: bool,
}

impl Outcome {
    fn result(code: u32) -> Outcome {
        Outcome::bytes(code.to_be_bytes().to_vec())
    }

    fn bytes(response: Vec<u8>) -> Outcome {
        Outcome {
            response,
            terminate: false,
            set_data_fd: false,
        }
    }
}

/// Handles one whole control message (see [`needed_len`]). A message
/// shorter than a command code gets TPM_BAD_PARAMETER, as in swtpm.
pub fn handle<B: Backend + ?Sized>(b: &mut B, msg: &[u8]) -> Outcome {
    let Some(code) = be32(msg, 0) else {
        return Outcome::result(res::BAD_PARAMETER);
    };
    let body = msg.get(4..).unwrap_or(&[]);
    let n = body.len();
    let running = b.is_running();
    // Commands that need a running TPM answer TPM_BAD_ORDINAL otherwise.
    let needs_running = matches!(
        code,
        cmd::GET_TPMESTABLISHED
            | cmd::RESET_TPMESTABLISHED
            | cmd::HASH_START
            | cmd::HASH_DATA
            | cmd::HASH_END
            | cmd::CANCEL_TPM_CMD
            | cmd::STORE_VOLATILE
            | cmd::GET_STATEBLOB
    );
    if needs_running && !running {
        return Outcome::result(res::BAD_ORDINAL);
    }
    match code {
        // A big-endian u64 of PTM_CAP_* bits; newer headers describe the
        // same 8 bytes as `ptm_cap_n {u32 tpm_result = 0, u32 caps}`.
        cmd::GET_CAPABILITY => Outcome::bytes(b.capabilities().to_be_bytes().to_vec()),
        cmd::INIT => match (n, be32(body, 0)) {
            (4, Some(flags)) => Outcome::result(b.init(flags)),
            _ => Outcome::result(res::BAD_PARAMETER),
        },
        cmd::STOP if n == 0 => {
            b.stop();
            Outcome::result(res::SUCCESS)
        }
        cmd::SHUTDOWN if n == 0 => {
            b.stop();
            Outcome {
                terminate: true,
                ..Outcome::result(res::SUCCESS)
            }
        }
        cmd::GET_TPMESTABLISHED if n == 0 => {
            // struct { ptm_res tpm_result; unsigned char bit; } padded to 8.
            let mut r = vec![0u8; 8];
            r[4] = u8::from(b.established());
            Outcome::bytes(r)
        }
        cmd::RESET_TPMESTABLISHED => match body.first() {
            Some(&loc) if loc > 4 => Outcome::result(res::BAD_LOCALITY),
            Some(&loc) => Outcome::result(b.reset_established(loc)),
            None => Outcome::result(res::BAD_PARAMETER),
        },
        cmd::SET_LOCALITY => match body.first() {
            Some(&loc) if loc > 4 => Outcome::result(res::BAD_LOCALITY),
            Some(&loc) => {
                b.set_locality(loc);
                Outcome::result(res::SUCCESS)
            }
            None => Outcome::result(res::BAD_PARAMETER),
        },
        cmd::HASH_START if n == 0 => Outcome::result(b.hash_start()),
        cmd::HASH_DATA => match be32(body, 0) {
            Some(len) if body.len() - 4 == len as usize => Outcome::result(b.hash_data(&body[4..])),
            _ => Outcome::result(res::BAD_PARAMETER),
        },
        cmd::HASH_END if n == 0 => Outcome::result(b.hash_end()),
        cmd::CANCEL_TPM_CMD if n == 0 => Outcome::result(b.cancel()),
        cmd::STORE_VOLATILE if n == 0 => Outcome::result(b.store_volatile()),
        cmd::GET_STATEBLOB => get_state_blob(b, body),
        cmd::SET_STATEBLOB => {
            if running {
                return Outcome::result(res::BAD_ORDINAL);
            }
            match (be32(body, 0), be32(body, 4), be32(body, 8)) {
                (Some(flags), Some(blob_type), Some(len)) if n - 12 == len as usize => {
                    let encrypted = flags & blob::FLAG_ENCRYPTED != 0;
                    Outcome::result(b.set_state_blob(blob_type, encrypted, &body[12..]))
                }
                _ => Outcome::result(res::BAD_PARAMETER),
            }
        }
        cmd::GET_CONFIG if n == 0 => {
            let mut r = res::SUCCESS.to_be_bytes().to_vec();
            r.extend_from_slice(&b.config_flags().to_be_bytes());
            Outcome::bytes(r)
        }
        cmd::SET_DATAFD => Outcome {
            set_data_fd: true,
            ..Outcome::result(res::IOERROR)
        },
        cmd::SET_BUFFERSIZE => match be32(body, 0) {
            Some(size) if size > 0 && running => Outcome::result(res::BAD_ORDINAL),
            Some(size) => {
                let (in_use, min, max) = b.buffer_size(size);
                let mut r = res::SUCCESS.to_be_bytes().to_vec();
                for v in [in_use, min, max] {
                    r.extend_from_slice(&v.to_be_bytes());
                }
                Outcome::bytes(r)
            }
            None => Outcome::result(res::BAD_PARAMETER),
        },
        cmd::GET_INFO => get_info(b, body),
        cmd::LOCK_STORAGE => match be32(body, 0) {
            Some(retries) => Outcome::result(b.lock_storage(retries)),
            None => Outcome::result(res::BAD_PARAMETER),
        },
        // A known fixed-size command with stray bytes.
        cmd::STOP
        | cmd::SHUTDOWN
        | cmd::GET_TPMESTABLISHED
        | cmd::HASH_START
        | cmd::HASH_END
        | cmd::CANCEL_TPM_CMD
        | cmd::STORE_VOLATILE
        | cmd::GET_CONFIG => Outcome::result(res::BAD_PARAMETER),
        _ => Outcome::result(res::BAD_ORDINAL),
    }
}

/// CMD_GET_STATEBLOB: `{res, state_flags, totlength, length}` then the
/// bytes from `offset` on (ctrlchannel_return_state).
fn get_state_blob<B: Backend + ?Sized>(b: &mut B, body: &[u8]) -> Outcome {
    let (Some(flags), Some(blob_type), Some(offset)) =
        (be32(body, 0), be32(body, 4), be32(body, 8))
    else {
        return Outcome::result(res::BAD_PARAMETER);
    };
    let decrypt = flags & blob::FLAG_DECRYPTED != 0;
    let (result, data, encrypted) = match b.get_state_blob(blob_type, decrypt) {
        Ok((data, enc)) => (res::SUCCESS, data, enc),
        Err(code) => (code, Vec::new(), false),
    };
    let rest = data.get(offset as usize..).unwrap_or(&[]);
    let len = rest.len() as u32;
    let mut r = Vec::with_capacity(16 + rest.len());
    r.extend_from_slice(&result.to_be_bytes());
    let state_flags = if encrypted { blob::FLAG_ENCRYPTED } else { 0 };
    r.extend_from_slice(&state_flags.to_be_bytes());
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(&len.to_be_bytes());
    if result == res::SUCCESS {
        r.extend_from_slice(rest);
    }
    Outcome::bytes(r)
}

/// CMD_GET_INFO: `{res, totlength, length}` then up to [`GETINFO_SIZE`]
/// bytes of the NUL-terminated JSON string from `offset` on.
fn get_info<B: Backend + ?Sized>(b: &mut B, body: &[u8]) -> Outcome {
    let (Some(flags), Some(offset)) = (be64(body, 0), be32(body, 8)) else {
        return Outcome::result(res::BAD_PARAMETER);
    };
    let mut text = b.info(flags).into_bytes();
    let strlen = text.len();
    if offset as usize >= strlen {
        return Outcome::result(res::BAD_PARAMETER);
    }
    text.push(0);
    let chunk = &text[offset as usize..];
    let chunk = &chunk[..chunk.len().min(GETINFO_SIZE)];
    let mut r = Vec::with_capacity(12 + chunk.len());
    r.extend_from_slice(&res::SUCCESS.to_be_bytes());
    r.extend_from_slice(&(text.len() as u32).to_be_bytes());
    r.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
    r.extend_from_slice(chunk);
    Outcome::bytes(r)
}

/// Builds the JSON TPMLIB_GetInfo would return for `flags` from the TPM's
/// fixed properties (libtpms' TPM2_GetInfo layout; unknown flags are
/// ignored, so flags 0 gives `{}`).
pub fn info_json(flags: u64, spec: &SpecInfo) -> String {
    let mut parts = Vec::new();
    if flags & INFO_TPMSPECIFICATION != 0 {
        parts.push(format!(
            "\"TPMSpecification\":{{\"family\":\"{}\",\"level\":{},\"revision\":{}}}",
            spec.family, spec.level, spec.revision
        ));
    }
    if flags & INFO_TPMATTRIBUTES != 0 {
        parts.push(format!(
            "\"TPMAttributes\":{{\"manufacturer\":\"id:{:08X}\",\"version\":\"id:{:08X}\",\"model\":\"{}\"}}",
            spec.manufacturer, spec.version, spec.model
        ));
    }
    format!("{{{}}}", parts.join(","))
}

/// The facts GET_INFO reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecInfo {
    /// TPM_PT_FAMILY_INDICATOR as text, e.g. "2.0".
    pub family: String,
    pub level: u32,
    pub revision: u32,
    /// TPM_PT_MANUFACTURER.
    pub manufacturer: u32,
    /// TPM_PT_FIRMWARE_VERSION_1.
    pub version: u32,
    pub model: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fake {
        running: bool,
        locality: u8,
        est: bool,
        inits: Vec<u32>,
        blobs: Vec<(u32, Vec<u8>)>,
    }

    impl Backend for Fake {
        fn is_running(&self) -> bool {
            self.running
        }
        fn init(&mut self, flags: u32) -> u32 {
            self.inits.push(flags);
            self.running = true;
            0
        }
        fn stop(&mut self) {
            self.running = false;
        }
        fn established(&self) -> bool {
            self.est
        }
        fn reset_established(&mut self, loc: u8) -> u32 {
            if loc >= 3 {
                self.est = false;
                0
            } else {
                res::BAD_LOCALITY
            }
        }
        fn set_locality(&mut self, l: u8) {
            self.locality = l;
        }
        fn hash_start(&mut self) -> u32 {
            res::FAIL
        }
        fn hash_data(&mut self, _: &[u8]) -> u32 {
            res::FAIL
        }
        fn hash_end(&mut self) -> u32 {
            res::FAIL
        }
        fn cancel(&mut self) -> u32 {
            0
        }
        fn store_volatile(&mut self) -> u32 {
            res::FAIL
        }
        fn get_state_blob(&mut self, t: u32, _: bool) -> Result<(Vec<u8>, bool), u32> {
            if t == blob::PERMANENT {
                Ok((b"0123456789".to_vec(), false))
            } else {
                Err(res::RETRY)
            }
        }
        fn set_state_blob(&mut self, t: u32, _: bool, d: &[u8]) -> u32 {
            self.blobs.push((t, d.to_vec()));
            0
        }
        fn config_flags(&self) -> u32 {
            0
        }
        fn buffer_size(&mut self, _: u32) -> (u32, u32, u32) {
            (4096, 4096, 4096)
        }
        fn info(&self, flags: u64) -> String {
            info_json(
                flags,
                &SpecInfo {
                    family: "2.0".into(),
                    level: 0,
                    revision: 164,
                    manufacturer: 0x1014,
                    version: 0x20191023,
                    model: "swtpm".into(),
                },
            )
        }
        fn lock_storage(&mut self, _: u32) -> u32 {
            0
        }
        fn capabilities(&self) -> u64 {
            0xffff
        }
    }

    fn msg(code: u32, body: &[u8]) -> Vec<u8> {
        let mut m = code.to_be_bytes().to_vec();
        m.extend_from_slice(body);
        m
    }

    fn run(f: &mut Fake, code: u32, body: &[u8]) -> String {
        hex::encode(handle(f, &msg(code, body)).response)
    }

    #[test]
    fn needed_len_follows_swtpm_framing() {
        assert_eq!(needed_len(&[0, 0]), 4);
        assert_eq!(needed_len(&msg(cmd::GET_CAPABILITY, &[])), 4);
        assert_eq!(needed_len(&msg(cmd::INIT, &[])), 8);
        assert_eq!(needed_len(&msg(cmd::SET_LOCALITY, &[])), 5);
        assert_eq!(needed_len(&msg(cmd::GET_STATEBLOB, &[])), 16);
        assert_eq!(needed_len(&msg(cmd::HASH_DATA, &[])), 8);
        assert_eq!(needed_len(&msg(cmd::HASH_DATA, &[0, 0, 0, 3])), 11);
        assert_eq!(needed_len(&msg(cmd::SET_STATEBLOB, &[0; 8])), 16);
        assert_eq!(
            needed_len(&msg(
                cmd::SET_STATEBLOB,
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]
            )),
            272
        );
        assert_eq!(needed_len(&msg(cmd::GET_INFO, &[])), 20);
        assert_eq!(needed_len(&msg(0x99, &[])), 4);
    }

    /// Expected bytes are what swtpm 0.7.1 answered to the same requests.
    #[test]
    fn responses_match_swtpm_byte_for_byte() {
        let mut f = Fake {
            running: true,
            ..Fake::default()
        };
        assert_eq!(run(&mut f, cmd::GET_CAPABILITY, &[]), "000000000000ffff");
        assert_eq!(
            run(&mut f, cmd::GET_TPMESTABLISHED, &[]),
            "0000000000000000"
        );
        assert_eq!(run(&mut f, cmd::SET_LOCALITY, &[5]), "0000003d");
        assert_eq!(run(&mut f, cmd::SET_LOCALITY, &[3]), "00000000");
        assert_eq!(f.locality, 3);
        assert_eq!(run(&mut f, cmd::RESET_TPMESTABLISHED, &[0]), "0000003d");
        assert_eq!(run(&mut f, cmd::RESET_TPMESTABLISHED, &[9]), "0000003d");
        assert_eq!(run(&mut f, cmd::RESET_TPMESTABLISHED, &[3]), "00000000");
        assert_eq!(run(&mut f, cmd::CANCEL_TPM_CMD, &[]), "00000000");
        assert_eq!(run(&mut f, cmd::GET_CONFIG, &[]), "0000000000000000");
        assert_eq!(run(&mut f, cmd::GET_CONFIG, &[0]), "00000003");
        assert_eq!(
            run(&mut f, cmd::SET_BUFFERSIZE, &[0, 0, 3, 0xe8]),
            "0000000a"
        );
        assert_eq!(run(&mut f, 0x99, &[]), "0000000a");
        assert_eq!(run(&mut f, cmd::STOP, &[0]), "00000003");
        assert_eq!(
            run(
                &mut f,
                cmd::GET_STATEBLOB,
                &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0]
            ),
            "00000800000000000000000000000000"
        );
        assert_eq!(
            run(
                &mut f,
                cmd::GET_STATEBLOB,
                &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4]
            ),
            format!("00000000000000000000000600000006{}", hex::encode("456789"))
        );
        let info = |flags: u64, off: u32| {
            let mut body = flags.to_be_bytes().to_vec();
            body.extend_from_slice(&off.to_be_bytes());
            body.extend_from_slice(&[0; 4]);
            body
        };
        let spec = "{\"TPMSpecification\":{\"family\":\"2.0\",\"level\":0,\"revision\":164}}";
        assert_eq!(
            run(&mut f, cmd::GET_INFO, &info(1, 0)),
            format!("000000000000003f0000003f{}00", hex::encode(spec))
        );
        assert_eq!(
            run(&mut f, cmd::GET_INFO, &info(2, 0)),
            format!(
                "000000000000005900000059{}00",
                hex::encode("{\"TPMAttributes\":{\"manufacturer\":\"id:00001014\",\"version\":\"id:20191023\",\"model\":\"swtpm\"}}")
            )
        );
        assert_eq!(
            run(&mut f, cmd::GET_INFO, &info(0, 0)),
            "0000000000000003000000037b7d00"
        );
        assert_eq!(run(&mut f, cmd::GET_INFO, &info(1, 9999)), "00000003");
        assert_eq!(run(&mut f, cmd::STOP, &[]), "00000000");
        assert!(!f.running);
        // Stopped: running-only commands are refused, others work.
        assert_eq!(run(&mut f, cmd::GET_TPMESTABLISHED, &[]), "0000000a");
        assert_eq!(run(&mut f, cmd::GET_STATEBLOB, &[0; 12]), "0000000a");
        assert_eq!(run(&mut f, cmd::GET_CONFIG, &[]), "0000000000000000");
        assert_eq!(
            run(&mut f, cmd::SET_BUFFERSIZE, &[0, 0, 3, 0xe8]),
            "00000000000010000000100000001000"
        );
        assert_eq!(run(&mut f, cmd::INIT, &[0]), "00000003");
        assert_eq!(run(&mut f, cmd::INIT, &[0, 0, 0, 1]), "00000000");
        assert_eq!(f.inits, vec![1]);
    }

    #[test]
    fn set_state_blob_checks_length_and_running() {
        let mut f = Fake {
            running: true,
            ..Fake::default()
        };
        let body = [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa, 0xbb];
        assert_eq!(run(&mut f, cmd::SET_STATEBLOB, &body), "0000000a");
        f.running = false;
        assert_eq!(run(&mut f, cmd::SET_STATEBLOB, &body), "00000000");
        assert_eq!(f.blobs, vec![(1, vec![0xaa, 0xbb])]);
        assert_eq!(run(&mut f, cmd::SET_STATEBLOB, &body[..13]), "00000003");
    }

    #[test]
    fn shutdown_terminates_and_datafd_is_left_to_the_transport() {
        let mut f = Fake {
            running: true,
            ..Fake::default()
        };
        let o = handle(&mut f, &msg(cmd::SHUTDOWN, &[]));
        assert!(o.terminate);
        assert_eq!(o.response, vec![0, 0, 0, 0]);
        let o = handle(&mut f, &msg(cmd::SET_DATAFD, &[]));
        assert!(o.set_data_fd);
        assert!(!o.terminate);
        assert_eq!(handle(&mut f, &[0, 1]).response, vec![0, 0, 0, 3]);
    }
}
