//! Tickets other than TPMT_TK_HASHCHECK (which lives in `ticket.rs`):
//! TPMT_TK_CREATION, TPMT_TK_VERIFIED and TPMT_TK_AUTH (Part 2 §10.7).
//!
//! A ticket is an HMAC, keyed with a hierarchy proof, over something the
//! TPM did; the caller hands it back later (TPM2_CertifyCreation,
//! TPM2_PolicyAuthorize, TPM2_PolicyTicket) as proof. The tag is fixed by
//! the ticket kind, so it is not a field: unmarshalling checks it (not a
//! TPM_ST: TPM_RC_VALUE; another TPM_ST: TPM_RC_TAG) and the hierarchy
//! (TPMI_RH_HIERARCHY+: TPM_RC_VALUE), as the reference code does.

use crate::constants::{rh, st};
use crate::wire::{Codec, Reader, WireError};

use super::handles::check_hierarchy;
use super::tag::read_tag;
use super::Digest2b;

fn read_body(r: &mut Reader<'_>) -> Result<(u32, Digest2b), WireError> {
    let hierarchy = check_hierarchy(r.u32()?, true)?;
    Ok((hierarchy, Digest2b::decode(r)?))
}

/// TPMT_TK_CREATION (Part 2 §10.7.3): proof that the TPM created an object
/// with a given creation data hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TkCreation {
    pub hierarchy: u32,
    pub digest: Digest2b,
}

impl TkCreation {
    /// The NULL ticket (TPM_RH_NULL, empty digest).
    pub fn null() -> Self {
        TkCreation {
            hierarchy: rh::NULL,
            digest: Digest2b::empty(),
        }
    }
}

impl Codec for TkCreation {
    fn encode(&self, out: &mut Vec<u8>) {
        st::CREATION.encode(out);
        self.hierarchy.encode(out);
        self.digest.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        read_tag(r, |t| t == st::CREATION, WireError::Tag)?;
        let (hierarchy, digest) = read_body(r)?;
        Ok(TkCreation { hierarchy, digest })
    }
}

/// TPMT_TK_VERIFIED (Part 2 §10.7.4): proof that the TPM verified a
/// signature over a digest (TPM2_VerifySignature → TPM2_PolicyAuthorize).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TkVerified {
    pub hierarchy: u32,
    pub digest: Digest2b,
}

impl TkVerified {
    /// The NULL ticket (TPM_RH_NULL, empty digest).
    pub fn null() -> Self {
        TkVerified {
            hierarchy: rh::NULL,
            digest: Digest2b::empty(),
        }
    }
}

impl Codec for TkVerified {
    fn encode(&self, out: &mut Vec<u8>) {
        st::VERIFIED.encode(out);
        self.hierarchy.encode(out);
        self.digest.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        read_tag(r, |t| t == st::VERIFIED, WireError::Tag)?;
        let (hierarchy, digest) = read_body(r)?;
        Ok(TkVerified { hierarchy, digest })
    }
}

/// Which authorization a TPMT_TK_AUTH records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthTicketKind {
    /// TPM_ST_AUTH_SIGNED: from TPM2_PolicySigned.
    Signed,
    /// TPM_ST_AUTH_SECRET: from TPM2_PolicySecret.
    Secret,
}

impl AuthTicketKind {
    /// The ticket's TPM_ST tag.
    pub fn tag(self) -> u16 {
        match self {
            AuthTicketKind::Signed => st::AUTH_SIGNED,
            AuthTicketKind::Secret => st::AUTH_SECRET,
        }
    }
}

/// TPMT_TK_AUTH (Part 2 §10.7.5): proof of a PolicySigned or PolicySecret
/// authorization, redeemed with TPM2_PolicyTicket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TkAuth {
    pub kind: AuthTicketKind,
    pub hierarchy: u32,
    pub digest: Digest2b,
}

impl Codec for TkAuth {
    fn encode(&self, out: &mut Vec<u8>) {
        self.kind.tag().encode(out);
        self.hierarchy.encode(out);
        self.digest.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let t = read_tag(
            r,
            |t| t == st::AUTH_SIGNED || t == st::AUTH_SECRET,
            WireError::Tag,
        )?;
        let kind = if t == st::AUTH_SIGNED {
            AuthTicketKind::Signed
        } else {
            AuthTicketKind::Secret
        };
        let (hierarchy, digest) = read_body(r)?;
        Ok(TkAuth {
            kind,
            hierarchy,
            digest,
        })
    }
}
