use crate::crypto::HashAlg;
use crate::wire::{decode_list_u32, encode_list_u32, Codec, Reader, Tpm2b, WireError};

use super::{HASH_COUNT, MAX_DIGEST_BUFFER, MAX_DIGEST_SIZE};

/// TPM2B_DIGEST (Part 2 §10.4.2).
pub type Digest2b = Tpm2b<MAX_DIGEST_SIZE>;
/// TPM2B_DATA (Part 2 §10.4.3): capacity sizeof(TPMT_HA).
pub type Data2b = Tpm2b<{ MAX_DIGEST_SIZE + 2 }>;
/// TPM2B_EVENT (Part 2 §10.4.7).
pub type Event2b = Tpm2b<MAX_DIGEST_BUFFER>;
/// TPM2B_MAX_BUFFER (Part 2 §10.4.8).
pub type MaxBuffer = Tpm2b<MAX_DIGEST_BUFFER>;

/// TPMT_HA (Part 2 §10.3.2): a digest tagged with its algorithm; the digest
/// length is fixed by the algorithm, not carried on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ha {
    pub alg: HashAlg,
    pub digest: Vec<u8>,
}

impl Codec for Ha {
    fn encode(&self, out: &mut Vec<u8>) {
        self.alg.id().encode(out);
        out.extend_from_slice(&self.digest);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        let alg = HashAlg::from_id(r.u16()?).ok_or(WireError::Hash)?;
        let digest = r.take(alg.digest_size())?.to_vec();
        Ok(Ha { alg, digest })
    }
}

/// TPML_DIGEST_VALUES (Part 2 §10.9.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestValues(pub Vec<Ha>);

impl Codec for DigestValues {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list_u32(&self.0, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DigestValues(decode_list_u32(r, HASH_COUNT)?))
    }
}

/// TPML_DIGEST (Part 2 §10.9.3): at most 8 digests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DigestList(pub Vec<Digest2b>);

impl Codec for DigestList {
    fn encode(&self, out: &mut Vec<u8>) {
        encode_list_u32(&self.0, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(DigestList(decode_list_u32(r, 8)?))
    }
}
