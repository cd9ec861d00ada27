//! The master key and the keys derived from it.
//!
//! One 32-byte master key protects everything a vtpmd host stores. It is
//! never used directly: every use gets its own key from HKDF-SHA256
//! (RFC 5869) with the purpose and the context (an instance name) in the
//! `info` input, so a key that leaks, or a ciphertext moved to another
//! place, opens nothing else (NIST SP 800-108's "key separation" rule).

use hkdf::Hkdf;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of the master key and of every derived key.
pub const KEY_LEN: usize = 32;

/// HKDF salt: fixes the domain (RFC 5869 §3.1 recommends a salt even when
/// not secret), and versions the whole derivation.
const SALT: &[u8] = b"trustcloud vtpm seal v1";

/// What a derived key is for. The label enters HKDF's `info`, so keys of
/// different purposes are independent even for the same instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// AES-256-GCM key of an instance's sealed state at rest.
    State,
    /// AES-256-GCM key of an exported state (`vtpm export`).
    Export,
    /// AES-256-GCM key of a live-migration blob (swtpm GET/SET_STATEBLOB).
    Migration,
    /// HMAC-SHA256 key authenticating each commit of the version record.
    RecordMac,
    /// HMAC-SHA256 key turning a commit into the value the anchor is
    /// extended with (secret, so nobody can replay the chain elsewhere).
    AnchorChain,
    /// authValue of the host TPM's anchor NV index.
    AnchorAuth,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::State => b"state",
            Purpose::Export => b"export",
            Purpose::Migration => b"migration",
            Purpose::RecordMac => b"record-mac",
            Purpose::AnchorChain => b"anchor-chain",
            Purpose::AnchorAuth => b"anchor-auth",
        }
    }
}

/// The host's master key. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl MasterKey {
    /// Wraps key bytes (from a file, or unsealed by the host TPM).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> MasterKey {
        MasterKey(Zeroizing::new(bytes))
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> MasterKey {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(&mut k[..]);
        MasterKey(k)
    }

    /// The raw bytes, for sealing the key itself.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key for `purpose` and `context` (an instance name, or empty for
    /// host-wide keys). `info` = "tcv1" || label || 0x00 || context: the
    /// label never contains 0x00, so distinct (purpose, context) pairs
    /// never share an `info`.
    pub fn derive(&self, purpose: Purpose, context: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let hk = Hkdf::<Sha256>::new(Some(SALT), &self.0[..]);
        let label = purpose.label();
        let mut info = Zeroizing::new(Vec::with_capacity(5 + label.len() + context.len()));
        info.extend_from_slice(b"tcv1");
        info.extend_from_slice(label);
        info.push(0);
        info.extend_from_slice(context);
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        // Invariant, not input: 32 bytes is far below HKDF-SHA256's
        // 255 * 32-byte output limit (RFC 5869 §2.3), so expand never fails.
        #[allow(clippy::expect_used)]
        hk.expand(&info, &mut okm[..])
            .expect("a 32-byte HKDF-SHA256 output is within the RFC 5869 limit");
        okm
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_separates_purposes_and_instances() {
        let m = MasterKey::from_bytes([7; 32]);
        let a = m.derive(Purpose::State, b"vm1");
        assert_eq!(*a, *m.derive(Purpose::State, b"vm1"), "deterministic");
        assert_ne!(*a, *m.derive(Purpose::State, b"vm2"));
        assert_ne!(*a, *m.derive(Purpose::Migration, b"vm1"));
        assert_ne!(*a, *m.derive(Purpose::Export, b"vm1"));
        let other = MasterKey::from_bytes([8; 32]);
        assert_ne!(*a, *other.derive(Purpose::State, b"vm1"));
    }

    #[test]
    fn derivation_matches_rfc5869_construction() {
        // Recompute with HMAC directly (RFC 5869 §2.2, §2.3, one block).
        use hmac::{Mac, SimpleHmac};
        let m = MasterKey::from_bytes([1; 32]);
        let mut ext = SimpleHmac::<Sha256>::new_from_slice(SALT).unwrap();
        ext.update(&[1; 32]);
        let prk = ext.finalize().into_bytes();
        let mut exp = SimpleHmac::<Sha256>::new_from_slice(&prk).unwrap();
        exp.update(b"tcv1state\0vm1");
        exp.update(&[1]);
        let t1 = exp.finalize().into_bytes();
        assert_eq!(&m.derive(Purpose::State, b"vm1")[..], &t1[..]);
    }

    #[test]
    fn debug_does_not_print_the_key() {
        let m = MasterKey::from_bytes([0xAB; 32]);
        assert!(!format!("{m:?}").to_lowercase().contains("ab"));
    }
}
