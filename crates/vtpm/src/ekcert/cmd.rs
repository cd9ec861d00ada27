//! The few TPM commands manufacturing needs, as bytes for
//! [`tpm::Tpm::execute`], with their responses parsed by the `tpm` crate's
//! wire types (TPM 2.0 Part 3; command layout Part 1 §18).
//!
//! Every authorization here is the password session (TPM_RS_PW) with an
//! empty password: a freshly manufactured TPM's hierarchies have empty
//! authValues (Part 1 §13.8).

use tpm::constants::{cap, cc, rh, st, su};
use tpm::types::{
    Capabilities, CapabilityData, NvPublic, NvPublic2b, Public, Public2b, TaggedProperty,
};
use tpm::wire::{Codec, Reader};
use tpm::{Rc, Tpm};

use super::EkCertError;

/// Locality of the platform firmware that manufactures the TPM.
const LOCALITY: u8 = 0;

/// A command being built.
struct Command {
    code: u32,
    handles: Vec<u32>,
    /// Number of password authorizations (one per handle that needs one).
    auths: usize,
    params: Vec<u8>,
}

impl Command {
    fn new(code: u32) -> Self {
        Command {
            code,
            handles: Vec::new(),
            auths: 0,
            params: Vec::new(),
        }
    }

    fn handle(mut self, h: u32) -> Self {
        self.handles.push(h);
        self
    }

    /// Adds an empty-password authorization for the next authorized handle.
    fn pw(mut self) -> Self {
        self.auths += 1;
        self
    }

    fn param<T: Codec>(mut self, v: &T) -> Self {
        v.encode(&mut self.params);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.params.len());
        let tag = if self.auths > 0 {
            st::SESSIONS
        } else {
            st::NO_SESSIONS
        };
        tag.encode(&mut out);
        0u32.encode(&mut out); // size, patched below
        self.code.encode(&mut out);
        for h in &self.handles {
            h.encode(&mut out);
        }
        if self.auths > 0 {
            // TPMS_AUTH_COMMAND for TPM_RS_PW: handle, empty nonce,
            // attributes 0, empty hmac (Part 1 §19.8.4).
            let one: [u8; 9] = [0x40, 0x00, 0x00, 0x09, 0, 0, 0, 0, 0];
            ((one.len() * self.auths) as u32).encode(&mut out);
            for _ in 0..self.auths {
                out.extend_from_slice(&one);
            }
        }
        out.extend_from_slice(&self.params);
        let size = (out.len() as u32).to_be_bytes();
        out.splice(2..6, size);
        out
    }

    /// Executes the command; returns the response parameters (after the
    /// handle area and parameterSize) and the response handles.
    fn run(
        &self,
        tpm: &mut Tpm,
        name: &'static str,
        out_handles: usize,
    ) -> Result<(Vec<u32>, Vec<u8>), EkCertError> {
        let resp = tpm.execute(LOCALITY, &self.bytes());
        let bad = |reason: String| EkCertError::Response {
            command: name,
            reason,
        };
        let mut r = Reader::new(&resp);
        let tag = r.u16().map_err(|e| bad(e.to_string()))?;
        let size = r.u32().map_err(|e| bad(e.to_string()))?;
        let rc = r.u32().map_err(|e| bad(e.to_string()))?;
        if size as usize != resp.len() {
            return Err(bad(format!("size field {size} for {} bytes", resp.len())));
        }
        if rc != 0 {
            return Err(EkCertError::Tpm {
                command: name,
                rc: Rc(rc),
            });
        }
        let mut handles = Vec::with_capacity(out_handles);
        for _ in 0..out_handles {
            handles.push(r.u32().map_err(|e| bad(e.to_string()))?);
        }
        let params = if tag == st::SESSIONS {
            let n = r.u32().map_err(|e| bad(e.to_string()))? as usize;
            r.take(n).map_err(|e| bad(e.to_string()))?.to_vec()
        } else {
            r.take_rest().to_vec()
        };
        Ok((handles, params))
    }
}

fn parse_err(command: &'static str) -> impl Fn(tpm::wire::WireError) -> EkCertError {
    move |e| EkCertError::Response {
        command,
        reason: e.to_string(),
    }
}

/// TPM2_Startup(CLEAR) (Part 3 §9.3).
pub fn startup_clear(tpm: &mut Tpm) -> Result<(), EkCertError> {
    Command::new(cc::STARTUP)
        .param(&su::CLEAR)
        .run(tpm, "TPM2_Startup", 0)
        .map(|_| ())
}

/// TPM2_Shutdown(CLEAR) (Part 3 §9.4): an orderly shutdown, so the next
/// Startup(CLEAR) finds consistent state.
pub fn shutdown_clear(tpm: &mut Tpm) -> Result<(), EkCertError> {
    Command::new(cc::SHUTDOWN)
        .param(&su::CLEAR)
        .run(tpm, "TPM2_Shutdown", 0)
        .map(|_| ())
}

/// TPM2_CreatePrimary in the endorsement hierarchy with `template`, empty
/// sensitive data, no outside info and no PCRs (Part 3 §24.1). Returns
/// the transient handle and the public area.
pub fn create_primary_ek(tpm: &mut Tpm, template: &Public) -> Result<(u32, Public), EkCertError> {
    const NAME: &str = "TPM2_CreatePrimary";
    // TPM2B_SENSITIVE_CREATE: size 4, empty userAuth, empty data.
    let sensitive: [u8; 6] = [0, 4, 0, 0, 0, 0];
    let mut cmd = Command::new(cc::CREATE_PRIMARY)
        .handle(rh::ENDORSEMENT)
        .pw();
    cmd.params.extend_from_slice(&sensitive);
    let cmd = cmd
        .param(&Public2b(template.clone()))
        .param(&0u16) // outsideInfo
        .param(&0u32); // creationPCR: empty TPML_PCR_SELECTION
    let (handles, params) = cmd.run(tpm, NAME, 1)?;
    let handle = handles.first().copied().ok_or(EkCertError::Response {
        command: NAME,
        reason: "no object handle".into(),
    })?;
    let mut r = Reader::new(&params);
    let public = Public2b::decode(&mut r).map_err(parse_err(NAME))?.0;
    Ok((handle, public))
}

/// TPM2_FlushContext (Part 3 §28.4).
pub fn flush(tpm: &mut Tpm, handle: u32) -> Result<(), EkCertError> {
    Command::new(cc::FLUSH_CONTEXT)
        .param(&handle)
        .run(tpm, "TPM2_FlushContext", 0)
        .map(|_| ())
}

/// TPM2_NV_DefineSpace under the platform hierarchy with an empty
/// authValue (Part 3 §31.3).
pub fn nv_define_platform(tpm: &mut Tpm, public: &NvPublic) -> Result<(), EkCertError> {
    Command::new(cc::NV_DEFINE_SPACE)
        .handle(rh::PLATFORM)
        .pw()
        .param(&0u16) // auth
        .param(&NvPublic2b(public.clone()))
        .run(tpm, "TPM2_NV_DefineSpace", 0)
        .map(|_| ())
}

/// TPM2_NV_Write authorized by the platform (PPWRITE), `data` at `offset`
/// (Part 3 §31.8).
pub fn nv_write_platform(
    tpm: &mut Tpm,
    index: u32,
    data: &[u8],
    offset: u16,
) -> Result<(), EkCertError> {
    let len = u16::try_from(data.len()).map_err(|_| EkCertError::CertTooLarge {
        size: data.len(),
        max: usize::from(u16::MAX),
    })?;
    let mut cmd = Command::new(cc::NV_WRITE)
        .handle(rh::PLATFORM)
        .handle(index)
        .pw()
        .param(&len);
    cmd.params.extend_from_slice(data);
    cmd.param(&offset).run(tpm, "TPM2_NV_Write", 0).map(|_| ())
}

/// TPM2_NV_WriteLock authorized by the platform (Part 3 §31.9); with
/// TPMA_NV_WRITEDEFINE the lock lasts until the index is deleted.
pub fn nv_write_lock_platform(tpm: &mut Tpm, index: u32) -> Result<(), EkCertError> {
    Command::new(cc::NV_WRITE_LOCK)
        .handle(rh::PLATFORM)
        .handle(index)
        .pw()
        .run(tpm, "TPM2_NV_WriteLock", 0)
        .map(|_| ())
}

/// TPM2_NV_ReadPublic (Part 3 §31.6), or `None` if the index is not
/// defined.
pub fn nv_read_public(tpm: &mut Tpm, index: u32) -> Result<Option<NvPublic>, EkCertError> {
    const NAME: &str = "TPM2_NV_ReadPublic";
    match Command::new(cc::NV_READ_PUBLIC)
        .handle(index)
        .run(tpm, NAME, 0)
    {
        Ok((_, params)) => {
            let mut r = Reader::new(&params);
            Ok(Some(NvPublic2b::decode(&mut r).map_err(parse_err(NAME))?.0))
        }
        Err(EkCertError::Tpm { rc, .. }) if rc.base() == Rc::HANDLE => Ok(None),
        Err(e) => Err(e),
    }
}

/// TPM2_NV_Read of `size` bytes at `offset`, authorized by the index
/// itself with its empty authValue (TPMA_NV_AUTHREAD), so it works
/// whatever the owner password has become (Part 3 §31.13).
pub fn nv_read(tpm: &mut Tpm, index: u32, size: u16, offset: u16) -> Result<Vec<u8>, EkCertError> {
    const NAME: &str = "TPM2_NV_Read";
    let (_, params) = Command::new(cc::NV_READ)
        .handle(index)
        .handle(index)
        .pw()
        .param(&size)
        .param(&offset)
        .run(tpm, NAME, 0)?;
    let mut r = Reader::new(&params);
    let n = r.u16().map_err(parse_err(NAME))?;
    Ok(r.take(usize::from(n)).map_err(parse_err(NAME))?.to_vec())
}

/// The TPM properties `first..first+count` (TPM2_GetCapability,
/// TPM_CAP_TPM_PROPERTIES, Part 3 §30.2).
pub fn tpm_properties(
    tpm: &mut Tpm,
    first: u32,
    count: u32,
) -> Result<Vec<TaggedProperty>, EkCertError> {
    const NAME: &str = "TPM2_GetCapability";
    let (_, params) = Command::new(cc::GET_CAPABILITY)
        .param(&cap::TPM_PROPERTIES)
        .param(&first)
        .param(&count)
        .run(tpm, NAME, 0)?;
    let mut r = Reader::new(&params);
    let _more = r.u8().map_err(parse_err(NAME))?;
    match CapabilityData::decode(&mut r).map_err(parse_err(NAME))?.0 {
        Capabilities::TpmProperties(v) => Ok(v),
        _ => Err(EkCertError::Response {
            command: NAME,
            reason: "not TPM properties".into(),
        }),
    }
}
