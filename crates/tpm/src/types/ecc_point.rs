//! TPMS_ECC_POINT and TPM2B_ECC_POINT (Part 2 §11.2.5.2–§11.2.5.3): an
//! affine point as two big-endian coordinates.

use crate::wire::{Codec, Reader, WireError};

use super::limits::read_2b;
use super::sized::{decode_sized, encode_sized};
use super::{AlgPolicy, AnyAlgorithm, EccParameter};

/// TPMS_ECC_POINT: the public key of an ECC object, an ephemeral key in
/// TPM2_ECDH_KeyGen, a salt share in TPM2_StartAuthSession.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EccPoint {
    pub x: EccParameter,
    pub y: EccParameter,
}

impl EccPoint {
    /// Unmarshals with the coordinate bound (MAX_ECC_KEY_BYTES) of `p`'s
    /// limits: a longer coordinate is TPM_RC_SIZE.
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        let limit = p.limits().ecc_key_bytes;
        Ok(EccPoint {
            x: read_2b(r, limit)?,
            y: read_2b(r, limit)?,
        })
    }
}

impl Codec for EccPoint {
    fn encode(&self, out: &mut Vec<u8>) {
        self.x.encode(out);
        self.y.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}

/// TPM2B_ECC_POINT: a sized TPMS_ECC_POINT; the size may not be zero and
/// must match the point exactly (TPM_RC_SIZE), as TPM2B_ECC_POINT_Unmarshal
/// requires.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EccPoint2b(pub EccPoint);

impl EccPoint2b {
    pub fn decode_with(r: &mut Reader<'_>, p: &dyn AlgPolicy) -> Result<Self, WireError> {
        decode_sized(r, |r| EccPoint::decode_with(r, p)).map(EccPoint2b)
    }
}

impl Codec for EccPoint2b {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_sized(out, |out| self.0.encode(out));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Self::decode_with(r, &AnyAlgorithm)
    }
}
