//! Startup and shutdown (Part 3 §9), randomness (§16), hashing (§15.4),
//! capabilities (§30.2) and context flushing (§28.4).

use tpm::constants::{cap, cc, pt, rh, su};
use tpm::crypto::HashAlg;
use tpm::types::{
    Capabilities, CapabilityData, MaxBuffer, PcrSelectionList, TaggedProperty, TkHashcheck,
};
use tpm::wire::Tpm2b;
use tpm::Rc;

use super::Tpm;
use crate::command::Command;
use crate::error::{too_big, Error, Result};

/// TPM_SU (Part 2 §6.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupType {
    /// Startup(CLEAR) / Shutdown(CLEAR): a TPM Reset at the next startup.
    Clear,
    /// Startup(STATE) / Shutdown(STATE): resume saved state.
    State,
}

impl StartupType {
    fn value(self) -> u16 {
        match self {
            StartupType::Clear => su::CLEAR,
            StartupType::State => su::STATE,
        }
    }
}

/// TPM2_Hash's output: the digest and the ticket proving the TPM hashed
/// data that did not start with TPM_GENERATED_VALUE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashResult {
    pub digest: Vec<u8>,
    pub ticket: TkHashcheck,
}

/// TPM2_GetRandom returns at most this many octets per call on any TPM
/// (the largest digest).
const RANDOM_CHUNK: usize = 64;

impl Tpm {
    /// TPM2_Startup (Part 3 §9.3). Returns `true` if this call started the
    /// TPM and `false` if it was already started (TPM_RC_INITIALIZE, which
    /// a resource manager or firmware that ran Startup earlier causes).
    pub fn startup(&mut self, kind: StartupType) -> Result<bool> {
        match self.run(Command::new(cc::STARTUP).param(&kind.value())) {
            Ok(_) => Ok(true),
            Err(Error::Tpm { rc, .. }) if rc == Rc::INITIALIZE => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// TPM2_Shutdown (Part 3 §9.4).
    pub fn shutdown(&mut self, kind: StartupType) -> Result<()> {
        self.run(Command::new(cc::SHUTDOWN).param(&kind.value()))?;
        Ok(())
    }

    /// `n` random octets from the TPM's RNG (TPM2_GetRandom, Part 3 §16.1),
    /// in as many calls as the TPM needs.
    pub fn get_random(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let want = (n - out.len()).min(RANDOM_CHUNK) as u16;
            let resp = self.run(Command::new(cc::GET_RANDOM).param(&want).crypt(false, true))?;
            let mut o = resp.out();
            let bytes: Tpm2b<RANDOM_CHUNK> = o.read()?;
            o.finish()?;
            if bytes.is_empty() || bytes.len() > usize::from(want) {
                return Err(Error::malformed(
                    cc::GET_RANDOM,
                    "wrong number of random octets",
                ));
            }
            out.extend_from_slice(bytes.as_slice());
        }
        Ok(out)
    }

    /// TPM2_Hash (Part 3 §15.4) of at most 1024 octets in `hierarchy`
    /// (TPM_RH_NULL for no ticket).
    pub fn hash(&mut self, data: &[u8], alg: HashAlg, hierarchy: u32) -> Result<HashResult> {
        let data = MaxBuffer::new(data.to_vec()).map_err(too_big("data to hash"))?;
        let resp = self.run(
            Command::new(cc::HASH)
                .param(&data)
                .param(&alg.id())
                .param(&hierarchy)
                .crypt(true, true),
        )?;
        let mut o = resp.out();
        let digest: tpm::types::Digest2b = o.read()?;
        let ticket: TkHashcheck = o.read()?;
        o.finish()?;
        Ok(HashResult {
            digest: digest.0,
            ticket,
        })
    }

    /// One TPM2_GetCapability call (Part 3 §30.2): (moreData, the list).
    pub fn get_capability(
        &mut self,
        capability: u32,
        property: u32,
        count: u32,
    ) -> Result<(bool, Capabilities)> {
        let resp = self.run(
            Command::new(cc::GET_CAPABILITY)
                .param(&capability)
                .param(&property)
                .param(&count),
        )?;
        let mut o = resp.out();
        let more: bool = o.read()?;
        let data: CapabilityData = o.read()?;
        o.finish()?;
        if data.0.capability() != capability {
            return Err(Error::malformed(
                cc::GET_CAPABILITY,
                "answer for another capability",
            ));
        }
        Ok((more, data.0))
    }

    /// Every TPM property from `first` on, up to `count`, following
    /// moreData across calls.
    pub fn tpm_properties(&mut self, first: u32, count: u32) -> Result<Vec<TaggedProperty>> {
        let mut out: Vec<TaggedProperty> = Vec::new();
        let mut next = first;
        loop {
            let left = count.saturating_sub(out.len() as u32);
            if left == 0 {
                break;
            }
            let (more, caps) = self.get_capability(cap::TPM_PROPERTIES, next, left)?;
            let Capabilities::TpmProperties(props) = caps else {
                return Err(Error::malformed(cc::GET_CAPABILITY, "not a property list"));
            };
            let Some(last) = props.last().map(|p| p.property) else {
                break;
            };
            if last < next {
                return Err(Error::malformed(
                    cc::GET_CAPABILITY,
                    "properties went backwards",
                ));
            }
            out.extend(props);
            if !more {
                break;
            }
            next = last.saturating_add(1);
        }
        Ok(out)
    }

    /// The value of one TPM property (TPM_PT), if the TPM reports it.
    pub fn tpm_property(&mut self, property: u32) -> Result<Option<u32>> {
        let props = self.tpm_properties(property, 1)?;
        Ok(props
            .into_iter()
            .find(|p| p.property == property)
            .map(|p| p.value))
    }

    /// The PCR banks and which PCRs of each are allocated (TPM_CAP_PCRS).
    pub fn pcr_allocation(&mut self) -> Result<PcrSelectionList> {
        match self.get_capability(cap::PCRS, 0, 1)?.1 {
            Capabilities::Pcrs(l) => Ok(l),
            _ => Err(Error::malformed(cc::GET_CAPABILITY, "not a PCR selection")),
        }
    }

    /// Every handle of the type of `first` (e.g. 0x81000000 for persistent
    /// objects, 0x01000000 for NV indices) from `first` on.
    pub fn handles(&mut self, first: u32) -> Result<Vec<u32>> {
        let ty = rh::handle_type(first);
        let mut out: Vec<u32> = Vec::new();
        let mut next = first;
        loop {
            let (more, caps) = self.get_capability(cap::HANDLES, next, 254)?;
            let Capabilities::Handles(hs) = caps else {
                return Err(Error::malformed(cc::GET_CAPABILITY, "not a handle list"));
            };
            let before = out.len();
            out.extend(
                hs.iter()
                    .copied()
                    .filter(|h| rh::handle_type(*h) == ty && *h >= next),
            );
            let Some(last) = out.last().copied() else {
                break;
            };
            if !more || out.len() == before || last == u32::MAX {
                break;
            }
            next = last + 1;
        }
        Ok(out)
    }

    /// TPM_PT_NV_BUFFER_MAX, the largest NV read or write in one command,
    /// capped by TPM2B_MAX_NV_BUFFER (1024); asked once per client.
    pub fn nv_buffer_max(&mut self) -> Result<usize> {
        if let Some(n) = self.nv_buffer_max {
            return Ok(n);
        }
        let n = self
            .tpm_property(pt::NV_BUFFER_MAX)?
            .map_or(512, |v| v as usize)
            .clamp(1, tpm::types::MAX_NV_BUFFER_SIZE);
        self.nv_buffer_max = Some(n);
        Ok(n)
    }

    /// TPM2_FlushContext (Part 3 §28.4) of a transient object or session.
    pub fn flush_context(&mut self, handle: u32) -> Result<()> {
        self.run(Command::new(cc::FLUSH_CONTEXT).param(&handle))?;
        self.sessions.remove(&handle);
        Ok(())
    }
}
