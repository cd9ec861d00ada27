//! A reported PCR value's text (`Evidence::pcrs`: bank → index → hex),
//! held inline. Every evidence carries one per quoted PCR, and as a
//! `String` each cost an allocation where the agent encodes it and
//! another where the verifier parses it, every round (BENCHMARKS.md,
//! "Issue 5", run O). The text is kept as sent, unchecked: whether it is
//! hex of the bank's size is the appraisal's call
//! ([`crate::pcrs::PcrValues::from_protocol`]), so a bad value stays a
//! reported reason, not a refused request.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// The longest text held inline: a SHA-512 digest in hex with a `0x`
/// prefix. Anything longer (always wrong) is kept on the heap.
const INLINE: usize = 2 + 2 * 64;

/// Lower-case hex digits by nibble.
const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The text of one reported PCR value (see the module doc).
#[derive(Clone)]
pub struct PcrHex(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, text: [u8; INLINE] },
    Heap(Box<str>),
}

impl PcrHex {
    /// `s` as sent.
    pub fn new(s: &str) -> PcrHex {
        let mut text = [0u8; INLINE];
        match (text.get_mut(..s.len()), u8::try_from(s.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(s.as_bytes());
                PcrHex(Repr::Inline { len, text })
            }
            _ => PcrHex(Repr::Heap(s.into())),
        }
    }

    /// Lower-case hex of `bytes`, as the agent reports a value (and
    /// `tpm2_pcrread` prints it).
    pub fn encode(bytes: &[u8]) -> PcrHex {
        let mut text = [0u8; INLINE];
        match (
            text.get_mut(..2 * bytes.len()),
            u8::try_from(2 * bytes.len()),
        ) {
            (Some(slot), Ok(len)) => {
                encode_into(bytes, slot);
                PcrHex(Repr::Inline { len, text })
            }
            _ => PcrHex(Repr::Heap(hex_string(bytes).into_boxed_str())),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The inline bytes were copied from a `str` or written as
            // ASCII digits, so they are always UTF-8.
            Repr::Inline { len, text } => text
                .get(..usize::from(*len))
                .and_then(|t| std::str::from_utf8(t).ok())
                .unwrap_or_default(),
            Repr::Heap(s) => s,
        }
    }
}

/// Writes the lower-case hex of `bytes` into `out` (two digits a byte;
/// extra room in `out` is left as it was).
fn encode_into(bytes: &[u8], out: &mut [u8]) {
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        if let [hi, lo] = pair {
            *hi = DIGITS[usize::from(b >> 4)];
            *lo = DIGITS[usize::from(b & 0xf)];
        }
    }
}

/// Lower-case hex of `bytes` as a `String`: one allocation of the exact
/// size, digits from a table (the `hex` crate's `encode` pushes one `char`
/// at a time, which was 2 % of the simulated agents' CPU).
pub(crate) fn hex_string(bytes: &[u8]) -> String {
    let mut out = vec![0u8; 2 * bytes.len()];
    encode_into(bytes, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

impl std::ops::Deref for PcrHex {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for PcrHex {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for PcrHex {
    fn from(s: &str) -> PcrHex {
        PcrHex::new(s)
    }
}

impl From<String> for PcrHex {
    fn from(s: String) -> PcrHex {
        PcrHex::new(&s)
    }
}

impl PartialEq for PcrHex {
    fn eq(&self, other: &PcrHex) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for PcrHex {}

impl PartialEq<str> for PcrHex {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<String> for PcrHex {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for PcrHex {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for PcrHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for PcrHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PcrHex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PcrHex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PcrHex, D::Error> {
        struct Text;
        impl de::Visitor<'_> for Text {
            type Value = PcrHex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a PCR value in hex")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PcrHex, E> {
                Ok(PcrHex::new(s))
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_and_long_texts_read_back_as_sent() {
        for s in [
            "",
            "00",
            "0x",
            "zz-not-hex",
            &"ab".repeat(64),
            &format!("0x{}", "AB".repeat(64)),
        ] {
            let h = PcrHex::new(s);
            assert!(matches!(h.0, Repr::Inline { .. }), "{s}");
            assert_eq!(h.as_str(), s);
        }
        // Longer than any digest: kept whole on the heap.
        let long = "0".repeat(INLINE + 1);
        let h = PcrHex::new(&long);
        assert!(matches!(h.0, Repr::Heap(_)));
        assert_eq!(h, long.as_str());
        assert_eq!(PcrHex::encode(&[0x5a; 80]), "5a".repeat(80).as_str());
    }

    #[test]
    fn json_is_a_plain_string() {
        let h: PcrHex = serde_json::from_str(r#""0x00ff""#).unwrap();
        assert_eq!(h, "0x00ff");
        assert_eq!(serde_json::to_string(&h).unwrap(), r#""0x00ff""#);
        // An escaped string is unescaped before it is kept.
        let h: PcrHex = serde_json::from_str(r#""\u0061b""#).unwrap();
        assert_eq!(h, "ab");
        let e = serde_json::from_str::<PcrHex>("12").unwrap_err();
        assert!(e.to_string().contains("a PCR value in hex"), "{e}");
    }

    proptest! {
        #[test]
        fn encode_is_lower_case_hex(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let want = hex::encode(&b);
            prop_assert_eq!(PcrHex::encode(&b), want.as_str());
            prop_assert_eq!(hex_string(&b), want);
        }

        #[test]
        fn any_text_round_trips_through_json(s in ".{0,140}") {
            let h = PcrHex::new(&s);
            prop_assert_eq!(h.as_str(), s.as_str());
            let back: PcrHex = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
            prop_assert_eq!(back, h);
        }
    }
}
