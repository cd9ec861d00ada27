//! TPMA_OBJECT (Part 2 §8.3): the attribute word of an object's public
//! area.

use crate::wire::{Codec, Reader, WireError};

/// TPMA_OBJECT (Part 2 §8.3.2). Set bits are tested with
/// [`ObjectAttributes::contains`]; unmarshalling refuses the reserved bits
/// with TPM_RC_RESERVED_BITS, as TPMA_OBJECT_Unmarshal does.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// The hierarchy of the object may not change.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// Saved contexts of the object may not be loaded after
    /// Startup(CLEAR).
    pub const ST_CLEAR: u32 = 1 << 2;
    /// The parent of the object may not change.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// The TPM generated the sensitive data (except authValue).
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// USER role actions may be authorized with the authValue.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// ADMIN role actions require a policy session.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// The object is not subject to dictionary-attack protection.
    pub const NO_DA: u32 = 1 << 10;
    /// Duplication requires an inner and an outer wrapper.
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    /// Key usage is restricted to TPM-generated structures.
    pub const RESTRICTED: u32 = 1 << 16;
    /// A decryption (or storage) key.
    pub const DECRYPT: u32 = 1 << 17;
    /// A signing key (asymmetric) or encryption key (symmetric).
    pub const SIGN_ENCRYPT: u32 = 1 << 18;
    /// A key that may only sign X.509 certificates (TPM2_CertifyX509).
    pub const X509_SIGN: u32 = 1 << 19;

    /// Bits that shall be zero: 0, 3, 8–9, 12–15 and 20–31. Bits 8–9
    /// (firmwareLimited, svnLimited of later revisions) are reserved here
    /// as in libtpms, which does not implement them.
    pub const RESERVED: u32 = 0xFFF0_F309;

    /// Attributes from bits; reserved bits are TPM_RC_RESERVED_BITS.
    pub fn new(bits: u32) -> Result<Self, WireError> {
        if bits & Self::RESERVED != 0 {
            return Err(WireError::ReservedBits);
        }
        Ok(ObjectAttributes(bits))
    }

    /// Whether every bit of `bits` is set.
    pub const fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }

    /// These attributes with `bits` set (`on`) or cleared.
    #[must_use]
    pub const fn with(self, bits: u32, on: bool) -> Self {
        if on {
            ObjectAttributes(self.0 | bits)
        } else {
            ObjectAttributes(self.0 & !bits)
        }
    }

    pub const fn fixed_tpm(self) -> bool {
        self.contains(Self::FIXED_TPM)
    }
    pub const fn st_clear(self) -> bool {
        self.contains(Self::ST_CLEAR)
    }
    pub const fn fixed_parent(self) -> bool {
        self.contains(Self::FIXED_PARENT)
    }
    pub const fn sensitive_data_origin(self) -> bool {
        self.contains(Self::SENSITIVE_DATA_ORIGIN)
    }
    pub const fn user_with_auth(self) -> bool {
        self.contains(Self::USER_WITH_AUTH)
    }
    pub const fn admin_with_policy(self) -> bool {
        self.contains(Self::ADMIN_WITH_POLICY)
    }
    pub const fn no_da(self) -> bool {
        self.contains(Self::NO_DA)
    }
    pub const fn encrypted_duplication(self) -> bool {
        self.contains(Self::ENCRYPTED_DUPLICATION)
    }
    pub const fn restricted(self) -> bool {
        self.contains(Self::RESTRICTED)
    }
    pub const fn decrypt(self) -> bool {
        self.contains(Self::DECRYPT)
    }
    pub const fn sign_encrypt(self) -> bool {
        self.contains(Self::SIGN_ENCRYPT)
    }
    pub const fn x509_sign(self) -> bool {
        self.contains(Self::X509_SIGN)
    }
}

impl std::fmt::Debug for ObjectAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(u32, &str); 12] = [
            (ObjectAttributes::FIXED_TPM, "fixedTPM"),
            (ObjectAttributes::ST_CLEAR, "stClear"),
            (ObjectAttributes::FIXED_PARENT, "fixedParent"),
            (
                ObjectAttributes::SENSITIVE_DATA_ORIGIN,
                "sensitiveDataOrigin",
            ),
            (ObjectAttributes::USER_WITH_AUTH, "userWithAuth"),
            (ObjectAttributes::ADMIN_WITH_POLICY, "adminWithPolicy"),
            (ObjectAttributes::NO_DA, "noDA"),
            (
                ObjectAttributes::ENCRYPTED_DUPLICATION,
                "encryptedDuplication",
            ),
            (ObjectAttributes::RESTRICTED, "restricted"),
            (ObjectAttributes::DECRYPT, "decrypt"),
            (ObjectAttributes::SIGN_ENCRYPT, "sign"),
            (ObjectAttributes::X509_SIGN, "x509sign"),
        ];
        write!(f, "ObjectAttributes({:#010x}", self.0)?;
        let mut sep = ": ";
        for (bit, name) in NAMES {
            if self.contains(bit) {
                write!(f, "{sep}{name}")?;
                sep = "|";
            }
        }
        write!(f, ")")
    }
}

impl Codec for ObjectAttributes {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        ObjectAttributes::new(r.u32()?)
    }
}
