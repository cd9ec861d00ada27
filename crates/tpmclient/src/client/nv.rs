//! Non-volatile storage (Part 3 §31): define, undefine, read and write
//! (in chunks of TPM_PT_NV_BUFFER_MAX), read the public area, increment
//! and extend.

use tpm::constants::cc;
use tpm::types::{Auth2b, MaxNvBuffer, Name, NvPublic, NvPublic2b};
use tpm::wire::Tpm2bBytes;
use zeroize::Zeroizing;

use super::Tpm;
use crate::command::Command;
use crate::error::{too_big, Error, Result};
use crate::session::Auth;

/// TPM2_NV_ReadPublic's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvPublicInfo {
    pub public: NvPublic,
    pub name: Name,
}

impl Tpm {
    /// TPM2_NV_DefineSpace (Part 3 §31.3) under `auth_handle`
    /// (TPM_RH_OWNER or TPM_RH_PLATFORM), with the index's own authValue
    /// `index_auth`.
    pub fn nv_define_space(
        &mut self,
        auth_handle: u32,
        auth: &Auth,
        index_auth: &[u8],
        public: &NvPublic,
    ) -> Result<()> {
        if index_auth.len() > tpm::types::MAX_DIGEST_SIZE {
            return Err(Error::invalid("an NV authValue is at most 64 octets"));
        }
        let a: Auth2b = Tpm2bBytes(index_auth.to_vec());
        self.run(
            Command::new(cc::NV_DEFINE_SPACE)
                .auth_handle(auth_handle, auth)
                .param(&a)
                .param(&NvPublic2b(public.clone()))
                .crypt(true, false),
        )?;
        Ok(())
    }

    /// TPM2_NV_UndefineSpace (Part 3 §31.4).
    pub fn nv_undefine(&mut self, auth_handle: u32, auth: &Auth, index: u32) -> Result<()> {
        self.run(
            Command::new(cc::NV_UNDEFINE_SPACE)
                .auth_handle(auth_handle, auth)
                .handle(index),
        )?;
        Ok(())
    }

    /// TPM2_NV_ReadPublic (Part 3 §31.6). The Name is checked against the
    /// public area.
    pub fn nv_read_public(&mut self, index: u32) -> Result<NvPublicInfo> {
        let resp = self.run(
            Command::new(cc::NV_READ_PUBLIC)
                .handle(index)
                .crypt(false, true),
        )?;
        let mut o = resp.out();
        let public: NvPublic2b = o.read()?;
        let name: Name = o.read()?;
        o.finish()?;
        if public.0.nv_index != index {
            return Err(Error::malformed(
                cc::NV_READ_PUBLIC,
                "public area of another index",
            ));
        }
        if Name::from_nv_public(&public.0).is_some_and(|n| n != name) {
            return Err(Error::malformed(
                cc::NV_READ_PUBLIC,
                "Name does not match the public area",
            ));
        }
        Ok(NvPublicInfo {
            public: public.0,
            name,
        })
    }

    /// TPM2_NV_Write (Part 3 §31.7) of `data` at `offset`, in as many
    /// commands of at most TPM_PT_NV_BUFFER_MAX octets as it takes. Each
    /// chunk is authorized with `auth`; a policy session must therefore be
    /// satisfied again per chunk (it resets after each use), so with policy
    /// authorization keep `data` within one chunk.
    pub fn nv_write(
        &mut self,
        auth_handle: u32,
        index: u32,
        auth: &Auth,
        offset: u16,
        data: &[u8],
    ) -> Result<()> {
        let chunk = self.nv_buffer_max()?;
        let end = usize::from(offset) + data.len();
        if end > usize::from(u16::MAX) {
            return Err(Error::invalid("NV write past offset 65535"));
        }
        let mut at = 0usize;
        loop {
            let n = (data.len() - at).min(chunk);
            let piece = data.get(at..at + n).unwrap_or(&[]);
            let buf = MaxNvBuffer::new(piece.to_vec()).map_err(too_big("NV data"))?;
            let off = (usize::from(offset) + at) as u16;
            self.run(
                Command::new(cc::NV_WRITE)
                    .auth_handle(auth_handle, auth)
                    .handle(index)
                    .param(&buf)
                    .param(&off)
                    .crypt(true, false),
            )?;
            at += n;
            if at >= data.len() {
                return Ok(());
            }
        }
    }

    /// TPM2_NV_Read (Part 3 §31.13) of `size` octets at `offset`, in chunks
    /// of at most TPM_PT_NV_BUFFER_MAX (see [`Tpm::nv_write`] on policy
    /// sessions).
    pub fn nv_read(
        &mut self,
        auth_handle: u32,
        index: u32,
        auth: &Auth,
        offset: u16,
        size: u16,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let chunk = self.nv_buffer_max()?;
        if usize::from(offset) + usize::from(size) > usize::from(u16::MAX) {
            return Err(Error::invalid("NV read past offset 65535"));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(usize::from(size)));
        while out.len() < usize::from(size) {
            let n = (usize::from(size) - out.len()).min(chunk) as u16;
            let off = offset + out.len() as u16;
            let resp = self.run(
                Command::new(cc::NV_READ)
                    .auth_handle(auth_handle, auth)
                    .handle(index)
                    .param(&n)
                    .param(&off)
                    .crypt(false, true),
            )?;
            let mut o = resp.out();
            let data: MaxNvBuffer = o.read()?;
            o.finish()?;
            if data.len() != usize::from(n) {
                return Err(Error::malformed(cc::NV_READ, "wrong number of octets"));
            }
            out.extend_from_slice(data.as_slice());
        }
        Ok(out)
    }

    /// The whole data area of an index (its dataSize from
    /// TPM2_NV_ReadPublic), e.g. an EK certificate.
    pub fn nv_read_all(
        &mut self,
        auth_handle: u32,
        index: u32,
        auth: &Auth,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let size = self.nv_read_public(index)?.public.data_size;
        self.nv_read(auth_handle, index, auth, 0, size)
    }

    /// TPM2_NV_Increment (Part 3 §31.8) of a counter index.
    pub fn nv_increment(&mut self, auth_handle: u32, index: u32, auth: &Auth) -> Result<()> {
        self.run(
            Command::new(cc::NV_INCREMENT)
                .auth_handle(auth_handle, auth)
                .handle(index),
        )?;
        Ok(())
    }

    /// The value of a counter index (its 8 octets, big-endian).
    pub fn nv_read_counter(&mut self, auth_handle: u32, index: u32, auth: &Auth) -> Result<u64> {
        let b = self.nv_read(auth_handle, index, auth, 0, 8)?;
        let a: [u8; 8] = b
            .as_slice()
            .try_into()
            .map_err(|_| Error::malformed(cc::NV_READ, "a counter is 8 octets"))?;
        Ok(u64::from_be_bytes(a))
    }

    /// TPM2_NV_Extend (Part 3 §31.9) of an extend index with `data`
    /// (at most 1024 octets).
    pub fn nv_extend(
        &mut self,
        auth_handle: u32,
        index: u32,
        auth: &Auth,
        data: &[u8],
    ) -> Result<()> {
        let buf = MaxNvBuffer::new(data.to_vec()).map_err(too_big("NV extend data"))?;
        self.run(
            Command::new(cc::NV_EXTEND)
                .auth_handle(auth_handle, auth)
                .handle(index)
                .param(&buf)
                .crypt(true, false),
        )?;
        Ok(())
    }
}
