//! The hash algorithms the engine implements, and HMAC over them.

use crate::constants::alg;
use digest::Digest;
use hmac::{Mac, SimpleHmac};

/// An implemented hash algorithm (TPMI_ALG_HASH without TPM_ALG_NULL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sm3_256,
}

impl HashAlg {
    /// Every implemented hash, in TPM_ALG_ID order.
    pub const ALL: [HashAlg; 5] = [
        HashAlg::Sha1,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sm3_256,
    ];

    pub fn from_id(id: u16) -> Option<HashAlg> {
        match id {
            alg::SHA1 => Some(HashAlg::Sha1),
            alg::SHA256 => Some(HashAlg::Sha256),
            alg::SHA384 => Some(HashAlg::Sha384),
            alg::SHA512 => Some(HashAlg::Sha512),
            alg::SM3_256 => Some(HashAlg::Sm3_256),
            _ => None,
        }
    }

    pub fn id(self) -> u16 {
        match self {
            HashAlg::Sha1 => alg::SHA1,
            HashAlg::Sha256 => alg::SHA256,
            HashAlg::Sha384 => alg::SHA384,
            HashAlg::Sha512 => alg::SHA512,
            HashAlg::Sm3_256 => alg::SM3_256,
        }
    }

    /// The name used by tpm2-tools and on our command lines.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha1 => "sha1",
            HashAlg::Sha256 => "sha256",
            HashAlg::Sha384 => "sha384",
            HashAlg::Sha512 => "sha512",
            HashAlg::Sm3_256 => "sm3_256",
        }
    }

    pub fn from_name(s: &str) -> Option<HashAlg> {
        // Compared in place, not through a lowercased copy: the verifier
        // looks up bank names several times per attestation round.
        const NAMES: [(&str, HashAlg); 8] = [
            ("sha256", HashAlg::Sha256),
            ("sha1", HashAlg::Sha1),
            ("sha", HashAlg::Sha1),
            ("sha384", HashAlg::Sha384),
            ("sha512", HashAlg::Sha512),
            ("sm3_256", HashAlg::Sm3_256),
            ("sm3", HashAlg::Sm3_256),
            ("sm3-256", HashAlg::Sm3_256),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, alg)| alg)
    }

    pub fn digest_size(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 | HashAlg::Sm3_256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The hash's internal block size (TPM_PT_... and HMAC need it).
    pub fn block_size(self) -> usize {
        match self {
            HashAlg::Sha1 | HashAlg::Sha256 | HashAlg::Sm3_256 => 64,
            HashAlg::Sha384 | HashAlg::Sha512 => 128,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            HashAlg::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            HashAlg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
            HashAlg::Sm3_256 => Hasher::Sm3(sm3::Sm3::new()),
        }
    }

    /// One-shot digest of the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        let mut h = self.hasher();
        for p in parts {
            h.update(p);
        }
        h.finish()
    }

    /// HMAC (RFC 2104) keyed with `key` over the concatenation of `parts`.
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<D>(key: &[u8], parts: &[&[u8]]) -> Vec<u8>
        where
            D: Digest + digest::core_api::BlockSizeUser + Clone,
        {
            // SimpleHmac accepts keys of any length, so this cannot fail.
            let Ok(mut m) = <SimpleHmac<D> as Mac>::new_from_slice(key) else {
                return Vec::new();
            };
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        match self {
            HashAlg::Sha1 => run::<sha1::Sha1>(key, parts),
            HashAlg::Sha256 => run::<sha2::Sha256>(key, parts),
            HashAlg::Sha384 => run::<sha2::Sha384>(key, parts),
            HashAlg::Sha512 => run::<sha2::Sha512>(key, parts),
            HashAlg::Sm3_256 => run::<sm3::Sm3>(key, parts),
        }
    }
}

/// A running hash of one of the implemented algorithms.
#[derive(Clone)]
pub enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Sm3(sm3::Sm3),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
            Hasher::Sm3(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
            Hasher::Sm3(h) => h.finalize().to_vec(),
        }
    }

    pub fn alg(&self) -> HashAlg {
        match self {
            Hasher::Sha1(_) => HashAlg::Sha1,
            Hasher::Sha256(_) => HashAlg::Sha256,
            Hasher::Sha384(_) => HashAlg::Sha384,
            Hasher::Sha512(_) => HashAlg::Sha512,
            Hasher::Sm3(_) => HashAlg::Sm3_256,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180 "abc" vectors and GB/T 32905 "abc" for SM3.
        let abc = b"abc";
        assert_eq!(
            hex::encode(HashAlg::Sha1.digest(&[abc])),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex::encode(HashAlg::Sha256.digest(&[abc])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(HashAlg::Sm3_256.digest(&[abc])),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        for a in HashAlg::ALL {
            assert_eq!(a.digest(&[abc]).len(), a.digest_size());
            assert_eq!(HashAlg::from_id(a.id()), Some(a));
            assert_eq!(HashAlg::from_name(a.name()), Some(a));
        }
    }

    #[test]
    fn names_are_matched_without_regard_to_case_and_with_aliases() {
        for (name, alg) in [
            ("SHA256", Some(HashAlg::Sha256)),
            ("Sha1", Some(HashAlg::Sha1)),
            ("sha", Some(HashAlg::Sha1)),
            ("SM3-256", Some(HashAlg::Sm3_256)),
            ("sm3", Some(HashAlg::Sm3_256)),
            ("sha512", Some(HashAlg::Sha512)),
            ("sha2566", None),
            ("sha25", None),
            ("", None),
            ("md5", None),
        ] {
            assert_eq!(HashAlg::from_name(name), alg, "{name:?}");
        }
    }

    #[test]
    fn hmac_rfc4231_case2() {
        let mac = HashAlg::Sha256.hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
