//! Objects (Part 3 §12, §24.1, §28.5): CreatePrimary, Create, Load,
//! ReadPublic, EvictControl and Unseal.

use tpm::constants::cc;
use tpm::types::{
    CreationData, CreationData2b, Data2b, Digest2b, Name, PcrSelectionList, Private2b, Public,
    Public2b, SensitiveCreate, SensitiveCreate2b, SensitiveData, TkCreation,
};
use tpm::wire::Tpm2bBytes;
use zeroize::Zeroizing;

use super::Tpm;
use crate::command::{Command, Out};
use crate::error::{too_big, Error, Result};
use crate::session::Auth;

/// What a new object gets besides its template (TPM2B_SENSITIVE_CREATE,
/// outsideInfo and creationPCR of Part 3 §12.1 / §24.1).
#[derive(Clone, Default)]
pub struct KeyInputs {
    /// The object's authValue (at most the nameAlg digest size).
    pub user_auth: Zeroizing<Vec<u8>>,
    /// Sensitive data: the secret of a sealed data object (at most 128
    /// octets), or the key of an imported keyed-hash/symmetric object.
    pub data: Zeroizing<Vec<u8>>,
    /// Data recorded in the creation data, e.g. a nonce.
    pub outside_info: Vec<u8>,
    /// PCRs whose digest is recorded in the creation data.
    pub creation_pcrs: PcrSelectionList,
}

impl KeyInputs {
    /// Inputs with an authValue.
    pub fn with_auth(auth: impl AsRef<[u8]>) -> Self {
        KeyInputs {
            user_auth: Zeroizing::new(auth.as_ref().to_vec()),
            ..Default::default()
        }
    }

    /// Inputs sealing `data` (a keyedHash template with no scheme).
    pub fn sealing(data: impl AsRef<[u8]>) -> Self {
        KeyInputs {
            data: Zeroizing::new(data.as_ref().to_vec()),
            ..Default::default()
        }
    }

    /// These inputs with the object's authValue set to `auth`.
    #[must_use]
    pub fn and_auth(mut self, auth: impl AsRef<[u8]>) -> Self {
        self.user_auth = Zeroizing::new(auth.as_ref().to_vec());
        self
    }

    fn sensitive(&self) -> Result<SensitiveCreate2b> {
        let user_auth: tpm::types::Auth2b =
            bounded(&self.user_auth, tpm::types::MAX_DIGEST_SIZE, "userAuth")?;
        let data: SensitiveData = bounded(&self.data, tpm::types::MAX_SYM_DATA, "sensitive data")?;
        Ok(SensitiveCreate2b(SensitiveCreate { user_auth, data }))
    }

    fn outside(&self) -> Result<Data2b> {
        Data2b::new(self.outside_info.clone()).map_err(too_big("outsideInfo"))
    }
}

impl std::fmt::Debug for KeyInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyInputs")
            .field(
                "user_auth",
                &format_args!("<{} octets>", self.user_auth.len()),
            )
            .field("data", &format_args!("<{} octets>", self.data.len()))
            .field("outside_info", &self.outside_info)
            .field("creation_pcrs", &self.creation_pcrs)
            .finish()
    }
}

fn bounded<const N: usize>(v: &[u8], max: usize, what: &str) -> Result<Tpm2bBytes<N>> {
    if v.len() > max.min(N) {
        return Err(Error::invalid(format!(
            "{what} is longer than {} octets",
            max.min(N)
        )));
    }
    Ok(Tpm2bBytes(v.to_vec()))
}

/// TPM2_CreatePrimary's output.
#[derive(Clone, Debug)]
pub struct CreatedPrimary {
    pub handle: u32,
    pub public: Public,
    pub name: Name,
    pub creation_data: CreationData,
    pub creation_hash: Vec<u8>,
    pub creation_ticket: TkCreation,
}

/// TPM2_Create's output: the wrapped key to load later.
#[derive(Clone, Debug)]
pub struct Created {
    pub private: Private2b,
    pub public: Public,
    pub creation_data: CreationData,
    pub creation_hash: Vec<u8>,
    pub creation_ticket: TkCreation,
}

/// TPM2_Load's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    pub handle: u32,
    pub name: Name,
}

/// TPM2_ReadPublic's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPublic {
    pub public: Public,
    pub name: Name,
    pub qualified_name: Name,
}

/// The creation outputs shared by Create and CreatePrimary.
fn creation(o: &mut Out<'_>) -> Result<(CreationData, Vec<u8>, TkCreation)> {
    let data: CreationData2b = o.read()?;
    let hash: Digest2b = o.read()?;
    let ticket: TkCreation = o.read()?;
    Ok((data.0, hash.0, ticket))
}

impl Tpm {
    /// TPM2_CreatePrimary (Part 3 §24.1) in `hierarchy` (TPM_RH_OWNER,
    /// _ENDORSEMENT, _PLATFORM or _NULL) from `template`.
    pub fn create_primary(
        &mut self,
        hierarchy: u32,
        auth: &Auth,
        template: &Public,
        inputs: &KeyInputs,
    ) -> Result<CreatedPrimary> {
        let resp = self.run(
            Command::new(cc::CREATE_PRIMARY)
                .auth_handle(hierarchy, auth)
                .param(&inputs.sensitive()?)
                .param(&Public2b(template.clone()))
                .param(&inputs.outside()?)
                .param(&inputs.creation_pcrs)
                .returns_handle()
                .crypt(true, true),
        )?;
        let handle = resp.handle()?;
        let mut o = resp.out();
        let public: Public2b = o.read()?;
        let (creation_data, creation_hash, creation_ticket) = creation(&mut o)?;
        let name: Name = o.read()?;
        o.finish()?;
        check_name(cc::CREATE_PRIMARY, &public.0, &name)?;
        Ok(CreatedPrimary {
            handle,
            public: public.0,
            name,
            creation_data,
            creation_hash,
            creation_ticket,
        })
    }

    /// TPM2_Create (Part 3 §12.1): a child of `parent` from `template`.
    pub fn create(
        &mut self,
        parent: u32,
        auth: &Auth,
        template: &Public,
        inputs: &KeyInputs,
    ) -> Result<Created> {
        let resp = self.run(
            Command::new(cc::CREATE)
                .auth_handle(parent, auth)
                .param(&inputs.sensitive()?)
                .param(&Public2b(template.clone()))
                .param(&inputs.outside()?)
                .param(&inputs.creation_pcrs)
                .crypt(true, true),
        )?;
        let mut o = resp.out();
        let private: Private2b = o.read()?;
        let public: Public2b = o.read()?;
        let (creation_data, creation_hash, creation_ticket) = creation(&mut o)?;
        o.finish()?;
        Ok(Created {
            private,
            public: public.0,
            creation_data,
            creation_hash,
            creation_ticket,
        })
    }

    /// TPM2_Load (Part 3 §12.2) of an object made by [`Tpm::create`] under
    /// `parent`.
    pub fn load(
        &mut self,
        parent: u32,
        auth: &Auth,
        private: &Private2b,
        public: &Public,
    ) -> Result<Loaded> {
        let resp = self.run(
            Command::new(cc::LOAD)
                .auth_handle(parent, auth)
                .param(private)
                .param(&Public2b(public.clone()))
                .returns_handle()
                .crypt(true, false),
        )?;
        let handle = resp.handle()?;
        let mut o = resp.out();
        let name: Name = o.read()?;
        o.finish()?;
        check_name(cc::LOAD, public, &name)?;
        Ok(Loaded { handle, name })
    }

    /// TPM2_LoadExternal (Part 3 §12.3) of a public area only (no
    /// sensitive part), in `hierarchy` (TPM_RH_NULL for an arbitrary key):
    /// e.g. another TPM's EK, so that an in-process engine
    /// ([`crate::transport::EngineTransport`]) can run MakeCredential for
    /// it as a registrar does.
    pub fn load_external_public(&mut self, public: &Public, hierarchy: u32) -> Result<Loaded> {
        let resp = self.run(
            Command::new(cc::LOAD_EXTERNAL)
                .param(&0u16)
                .param(&Public2b(public.clone()))
                .param(&hierarchy)
                .returns_handle(),
        )?;
        let handle = resp.handle()?;
        let mut o = resp.out();
        let name: Name = o.read()?;
        o.finish()?;
        check_name(cc::LOAD_EXTERNAL, public, &name)?;
        Ok(Loaded { handle, name })
    }

    /// TPM2_ReadPublic (Part 3 §12.4). The Name is checked against the
    /// public area, so a caller that trusts the Name trusts the area.
    pub fn read_public(&mut self, handle: u32) -> Result<ObjectPublic> {
        let resp = self.run(
            Command::new(cc::READ_PUBLIC)
                .handle(handle)
                .crypt(false, true),
        )?;
        let mut o = resp.out();
        let public: Public2b = o.read()?;
        let name: Name = o.read()?;
        let qualified_name: Name = o.read()?;
        o.finish()?;
        check_name(cc::READ_PUBLIC, &public.0, &name)?;
        Ok(ObjectPublic {
            public: public.0,
            name,
            qualified_name,
        })
    }

    /// TPM2_EvictControl (Part 3 §28.5): makes transient `object`
    /// persistent at `persistent`, or (when `object` is persistent and
    /// equals `persistent`) removes it. `auth_handle` is TPM_RH_OWNER or
    /// TPM_RH_PLATFORM.
    pub fn evict_control(
        &mut self,
        auth_handle: u32,
        auth: &Auth,
        object: u32,
        persistent: u32,
    ) -> Result<()> {
        self.run(
            Command::new(cc::EVICT_CONTROL)
                .auth_handle(auth_handle, auth)
                .handle(object)
                .param(&persistent),
        )?;
        Ok(())
    }

    /// TPM2_Unseal (Part 3 §12.7): the sensitive data of a sealed object.
    pub fn unseal(&mut self, item: u32, auth: &Auth) -> Result<Zeroizing<Vec<u8>>> {
        let resp = self.run(
            Command::new(cc::UNSEAL)
                .auth_handle(item, auth)
                .crypt(false, true),
        )?;
        let mut o = resp.out();
        let data: SensitiveData = o.read()?;
        o.finish()?;
        Ok(Zeroizing::new(data.as_slice().to_vec()))
    }
}

/// A returned Name must be the Name of the returned public area: a TPM
/// that answered otherwise is broken or not the TPM.
fn check_name(code: u32, public: &Public, name: &Name) -> Result<()> {
    match Name::from_public(public) {
        Some(n) if n == *name => Ok(()),
        // A nameAlg this crate does not implement: nothing to compare.
        None => Ok(()),
        Some(_) => Err(Error::malformed(
            code,
            "Name does not match the public area",
        )),
    }
}
