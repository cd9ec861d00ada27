//! TPM2_Certify (Part 3 §18.2), TPM2_CertifyCreation (§18.3) and
//! TPM2_NV_Certify (§31.16): signed statements that the TPM holds an
//! object, created an object, or holds NV contents.

use subtle::ConstantTimeEq;

use crate::rc::Rc;
use crate::types::{
    Attested, CertifyInfo, CreationInfo, Data2b, Digest2b, MaxNvBuffer, Name, NvCertifyInfo,
    NvDigestCertifyInfo, SigScheme, TkCreation,
};

use super::super::algorithms::Implemented;
use super::super::dispatch::Ctx;
use super::super::{nv, object, Tpm};
use super::fill;

fn read_scheme(ctx: &mut Ctx<'_>) -> Result<SigScheme, Rc> {
    ctx.read_with(|r| SigScheme::decode_with(r, &Implemented, true))
}

/// TPM2_Certify (Part 3 §18.2): objectHandle (ADMIN role) is certified by
/// signHandle (USER role; TPM_RC_KEY, handle 2). TPMS_CERTIFY_INFO holds
/// its Name and Qualified Name (empty under an anonymous scheme, so two
/// certifications cannot be linked).
pub(crate) fn certify(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = read_scheme(ctx)?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(1), in_scheme, 2, 2)?;
    // A sequence object (the only other thing an object handle can be)
    // has no public area to certify.
    let object = tpm.object(ctx.handle(0)).ok_or(Rc::HANDLE.handle(1))?;
    let attested = Attested::Certify(CertifyInfo {
        name: object.name.clone(),
        qualified_name: if signer.is_anonymous() {
            Name::empty()
        } else {
            object.qualified_name.clone()
        },
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}

/// TPM2_CertifyCreation (Part 3 §18.3): the creation ticket must be the
/// one the TPM made for objectHandle's Name and this creationHash
/// (TicketComputeCreation with the ticket's hierarchy; otherwise
/// TPM_RC_TICKET on creationTicket), which proves the TPM created the
/// object with that creation data.
pub(crate) fn certify_creation(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let creation_hash: Digest2b = ctx.read()?;
    let in_scheme = read_scheme(ctx)?;
    let ticket: TkCreation = ctx.read()?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(0), in_scheme, 1, 3)?;
    let name = tpm
        .object(ctx.handle(1))
        .ok_or(Rc::HANDLE.handle(2))?
        .name
        .clone();
    let expected = object::creation_ticket(tpm, ticket.hierarchy, &name, creation_hash.as_slice());
    if !bool::from(expected.digest.as_slice().ct_eq(ticket.digest.as_slice())) {
        return Err(Rc::TICKET.param(4));
    }
    let attested = Attested::Creation(CreationInfo {
        object_name: name,
        creation_hash,
    });
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}

/// TPM2_NV_Certify (Part 3 §31.16): signHandle, then authHandle's right to
/// read nvIndex (the NV module's read checks, range and size checks).
/// A non-zero size or offset certifies those octets
/// (TPM_ST_ATTEST_NV); size and offset both zero certify a digest of the
/// whole data area with the scheme's hash (TPM_ST_ATTEST_NV_DIGEST; an
/// empty digest when unsigned, as the reference hashes with TPM_ALG_NULL).
pub(crate) fn nv_certify(tpm: &mut Tpm, ctx: &mut Ctx<'_>) -> Result<(), Rc> {
    let qualifying_data: Data2b = ctx.read()?;
    let in_scheme = read_scheme(ctx)?;
    let size: u16 = ctx.read()?;
    let offset: u16 = ctx.read()?;
    ctx.done()?;
    let signer = fill::signer(tpm, ctx.handle(0), in_scheme, 1, 2)?;
    let (index_name, contents) =
        nv::certify_contents(tpm, ctx.handle(1), ctx.handle(2), size, offset, 3)?;
    let attested = if size != 0 || offset != 0 {
        Attested::Nv(NvCertifyInfo {
            index_name,
            offset,
            nv_contents: MaxNvBuffer::new(contents).map_err(|_| Rc::FAILURE)?,
        })
    } else {
        let digest = signer
            .hash()
            .map(|h| h.digest(&[&contents]))
            .unwrap_or_default();
        Attested::NvDigest(NvDigestCertifyInfo {
            index_name,
            nv_digest: Digest2b::new(digest).map_err(|_| Rc::FAILURE)?,
        })
    };
    fill::respond(tpm, ctx, &signer, qualifying_data, attested)
}
