use crate::wire::{Codec, Reader, Tpm2b, Tpm2bBytes, WireError};

use super::MAX_DIGEST_SIZE;

/// TPM2B_NONCE (Part 2 §10.4.4).
pub type Nonce2b = Tpm2b<MAX_DIGEST_SIZE>;
/// TPM2B_AUTH (Part 2 §10.4.5): secret, zeroized on drop.
pub type Auth2b = Tpm2bBytes<MAX_DIGEST_SIZE>;

/// TPMS_AUTH_COMMAND (Part 2 §10.13.2): one entry of a command's
/// authorization area.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCommand {
    pub session_handle: u32,
    pub nonce: Nonce2b,
    pub attributes: u8,
    pub hmac: Auth2b,
}

impl Codec for AuthCommand {
    fn encode(&self, out: &mut Vec<u8>) {
        self.session_handle.encode(out);
        self.nonce.encode(out);
        self.attributes.encode(out);
        self.hmac.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AuthCommand {
            session_handle: r.u32()?,
            nonce: Nonce2b::decode(r)?,
            attributes: r.u8()?,
            hmac: Auth2b::decode(r)?,
        })
    }
}

/// TPMS_AUTH_RESPONSE (Part 2 §10.13.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthResponse {
    pub nonce: Nonce2b,
    pub attributes: u8,
    pub hmac: Tpm2b<MAX_DIGEST_SIZE>,
}

impl Codec for AuthResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        self.nonce.encode(out);
        self.attributes.encode(out);
        self.hmac.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(AuthResponse {
            nonce: Nonce2b::decode(r)?,
            attributes: r.u8()?,
            hmac: Tpm2b::decode(r)?,
        })
    }
}
