//! PCR values as the agent reports them (protocol: bank name → index →
//! hex), and the check that they are the values a quote signed: the
//! quote's pcrDigest is H(value of every selected PCR, concatenated in
//! TPML_PCR_SELECTION order — banks in list order, PCRs ascending within a
//! bank) with the signing hash (TPM 2.0 Part 3 §18.4.1, Part 1 §17).

use std::collections::BTreeMap;

use subtle::ConstantTimeEq;
use tpm::crypto::HashAlg;
use tpm::types::PcrSelectionList;

use crate::failure::{hex, Failure};
use crate::pcr_hex::PcrHex;
use crate::protocol::ReportedPcrs;
use crate::quote::QuoteInfo;

/// PCRs of a PC Client TPM.
pub const PCR_COUNT: usize = 24;

/// The longest digest of any bank (SHA-512, SHA3-512).
const MAX_DIGEST: usize = 64;

/// One PCR value, held inline: an evidence carries up to 48 of them and
/// every one is decoded every round. With a heap buffer each, reading a
/// report of 2 banks × 24 PCRs made 53 allocations; now 5 (and it takes
/// 2.4–3.4 µs instead of 4.0–7.2; BENCHMARKS.md, "Issue 5", run N).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Value {
    len: u8,
    bytes: [u8; MAX_DIGEST],
}

impl Value {
    /// `None` if `v` is longer than any digest.
    fn new(v: &[u8]) -> Option<Value> {
        let mut bytes = [0u8; MAX_DIGEST];
        bytes.get_mut(..v.len())?.copy_from_slice(v);
        Some(Value {
            len: u8::try_from(v.len()).ok()?,
            bytes,
        })
    }

    /// Decodes hex (as [`hex_decode`] reads it) in place: `None` if it
    /// is not hex or longer than any digest.
    fn from_hex(s: &str) -> Option<Value> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut bytes = [0u8; MAX_DIGEST];
        let slots = bytes.get_mut(..s.len() / 2)?;
        let mut pairs = hex_pairs(s)?;
        for slot in slots.iter_mut() {
            *slot = pairs.next()??;
        }
        Some(Value {
            len: u8::try_from(s.len() / 2).ok()?,
            bytes,
        })
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(self.as_slice()))
    }
}

/// One bank's values, by index.
type Bank = Box<[Option<Value>; PCR_COUNT]>;

/// PCR values per bank.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcrValues {
    banks: Vec<(HashAlg, Bank)>,
}

impl PcrValues {
    pub fn new() -> PcrValues {
        PcrValues::default()
    }

    /// Reads the protocol map (`Evidence::pcrs`). Unknown bank names,
    /// indices ≥ 24, bad hex and values of the wrong size are errors.
    pub fn from_protocol(map: &ReportedPcrs) -> Result<PcrValues, Failure> {
        let mut out = PcrValues::new();
        for (bank_name, values) in map {
            let bank = HashAlg::from_name(bank_name).ok_or_else(|| {
                Failure::PcrValuesMalformed(format!("unknown PCR bank {bank_name:?}"))
            })?;
            for (&index, value) in values {
                let value = value.as_str();
                let not_hex =
                    || Failure::PcrValuesMalformed(format!("PCR {index} ({bank_name}) is not hex"));
                let hex_len = value.strip_prefix("0x").unwrap_or(value).len();
                if !hex_len.is_multiple_of(2) {
                    return Err(not_hex());
                }
                if hex_len != 2 * bank.digest_size() {
                    return Err(Failure::PcrValuesMalformed(format!(
                        "PCR {index} ({bank_name}) is {} bytes, not {}",
                        hex_len / 2,
                        bank.digest_size()
                    )));
                }
                let bytes = Value::from_hex(value).ok_or_else(not_hex)?;
                if !out.put(bank, index, bytes) {
                    return Err(Failure::PcrValuesMalformed(format!(
                        "PCR index {index} ({bank_name}) is out of range"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// The protocol map form (what the agent sends).
    pub fn to_protocol(&self) -> ReportedPcrs {
        let mut out = ReportedPcrs::new();
        for (bank, values) in &self.banks {
            let m = out.entry(bank.name().to_string()).or_default();
            for (i, v) in values.iter().enumerate() {
                if let (Some(v), Ok(i)) = (v, u32::try_from(i)) {
                    m.insert(i, PcrHex::encode(v.as_slice()));
                }
            }
        }
        out
    }

    /// Sets a value; false if `index` is out of range or the value is
    /// longer than any digest.
    pub fn set(&mut self, bank: HashAlg, index: u32, value: Vec<u8>) -> bool {
        Value::new(&value).is_some_and(|v| self.put(bank, index, v))
    }

    fn put(&mut self, bank: HashAlg, index: u32, value: Value) -> bool {
        let Some(i) = usize::try_from(index).ok().filter(|&i| i < PCR_COUNT) else {
            return false;
        };
        let slot = match self.banks.iter().position(|(b, _)| *b == bank) {
            Some(p) => p,
            None => {
                self.banks
                    .push((bank, Box::new(std::array::from_fn(|_| None))));
                self.banks.len() - 1
            }
        };
        if let Some(v) = self.banks.get_mut(slot).and_then(|(_, v)| v.get_mut(i)) {
            *v = Some(value);
        }
        true
    }

    /// The value of PCR `index` in `bank`, if known.
    pub fn get(&self, bank: HashAlg, index: u32) -> Option<&[u8]> {
        let i = usize::try_from(index).ok()?;
        self.banks
            .iter()
            .find(|(b, _)| *b == bank)
            .and_then(|(_, v)| v.get(i))
            .and_then(|v| v.as_ref())
            .map(Value::as_slice)
    }

    /// The banks with at least one value.
    pub fn banks(&self) -> impl Iterator<Item = HashAlg> + '_ {
        self.banks.iter().map(|(b, _)| *b)
    }

    /// H(selected values in selection order) — the pcrDigest a quote over
    /// `selection` with `hash` carries (Part 3 §18.4.1). A selected PCR
    /// without a value is [`Failure::PcrValueMissing`].
    pub fn digest(&self, selection: &PcrSelectionList, hash: HashAlg) -> Result<Vec<u8>, Failure> {
        let mut h = hash.hasher();
        for s in &selection.0 {
            for i in s.indices() {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                // Lazily: the failure's bank name is a String, and this runs
                // for every quoted PCR of every round.
                let v = self
                    .get(s.hash, index)
                    .ok_or_else(|| Failure::PcrValueMissing {
                        bank: s.hash.name().into(),
                        index,
                    })?;
                h.update(v);
            }
        }
        Ok(h.finish())
    }

    /// Checks that these values are the ones `quote` signed.
    pub fn check_quote(&self, quote: &QuoteInfo) -> Result<(), Failure> {
        let computed = self.digest(&quote.pcr_select, quote.hash)?;
        if bool::from(computed.as_slice().ct_eq(quote.pcr_digest.as_slice())) {
            Ok(())
        } else {
            Err(Failure::PcrDigestMismatch {
                hash: quote.hash.name().into(),
                quoted: hex(&quote.pcr_digest),
                computed: hex(&computed),
            })
        }
    }

    /// Keeps only the PCRs `selection` covers (what a quote proves), in
    /// place: the values are not copied (this runs every round).
    pub fn restricted_to(mut self, selection: &PcrSelectionList) -> PcrValues {
        for (bank, values) in &mut self.banks {
            for (i, v) in values.iter_mut().enumerate() {
                let index = u32::try_from(i).unwrap_or(u32::MAX);
                if !is_selected(selection, *bank, index) {
                    *v = None;
                }
            }
        }
        self.banks
            .retain(|(_, values)| values.iter().any(Option::is_some));
        self
    }
}

/// A challenge's `pcr_selection` (bank name → indices) as the
/// TPML_PCR_SELECTION to quote, banks in name order. Unknown banks and
/// indices ≥ 24 are errors.
pub fn selection_from_protocol(
    map: &BTreeMap<String, Vec<u32>>,
) -> Result<PcrSelectionList, Failure> {
    let mut list = Vec::new();
    for (name, indices) in map {
        let bank = HashAlg::from_name(name)
            .ok_or_else(|| Failure::PcrValuesMalformed(format!("unknown PCR bank {name:?}")))?;
        let mut sel = tpm::types::PcrSelection::none(bank);
        for &i in indices {
            let i = usize::try_from(i)
                .ok()
                .filter(|&i| i < PCR_COUNT)
                .ok_or_else(|| Failure::PcrValuesMalformed(format!("PCR index {i} ({name})")))?;
            sel.set(i, true);
        }
        list.push(sel);
    }
    Ok(PcrSelectionList(list))
}

/// Whether `selection` covers PCR `index` of `bank`.
pub fn is_selected(selection: &PcrSelectionList, bank: HashAlg, index: u32) -> bool {
    let Ok(i) = usize::try_from(index) else {
        return false;
    };
    selection
        .0
        .iter()
        .any(|s| s.hash == bank && s.is_selected(i))
}

/// Lower- or upper-case hex without separators; an optional `0x` prefix is
/// accepted (policies written by hand often have it).
pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    // Sized up front: collecting into Option<Vec> grows from nothing
    // (every reported PCR value is decoded every round).
    let mut out = Vec::with_capacity(s.len() / 2);
    for byte in hex_pairs(s)? {
        out.push(byte?);
    }
    Some(out)
}

/// Whether `s` (as [`hex_decode`] reads it) is `bytes`, without decoding
/// into a new buffer: policy and stored PCR values are compared with the
/// quoted ones every round. Not constant time: both sides are public
/// measurements.
pub(crate) fn hex_matches(s: &str, bytes: &[u8]) -> bool {
    let s = s.strip_prefix("0x").unwrap_or(s);
    s.len() == 2 * bytes.len()
        && hex_pairs(s).is_some_and(|it| it.zip(bytes).all(|(d, b)| d == Some(*b)))
}

/// The bytes of `s` (no prefix), one `None` per pair that is not hex;
/// `None` when its length is odd.
fn hex_pairs(s: &str) -> Option<impl Iterator<Item = Option<u8>> + '_> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    Some(s.as_bytes().chunks_exact(2).map(|p| match p {
        [a, b] => {
            let (hi, lo) = (NIBBLE[usize::from(*a)], NIBBLE[usize::from(*b)]);
            // A non-hex character's entry has the high bit set.
            ((hi | lo) & 0x80 == 0).then_some(hi << 4 | lo)
        }
        _ => None,
    }))
}

/// Each byte's value as a hex digit, 0xff for every other byte: one load
/// per character instead of three range tests (48 values a round).
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 10 {
        t[b'0' as usize + c] = c as u8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        t[b'a' as usize + c] = 10 + c as u8;
        t[b'A' as usize + c] = 10 + c as u8;
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use tpm::types::PcrSelection;

    /// SHA-256 PCRs 0 and 7, SHA-1 PCR 0.
    fn two_banks() -> PcrValues {
        let mut v = PcrValues::new();
        v.set(HashAlg::Sha256, 0, vec![1; 32]);
        v.set(HashAlg::Sha256, 7, vec![7; 32]);
        v.set(HashAlg::Sha1, 0, vec![2; 20]);
        v
    }

    /// Only what the quote covers is kept: a reported value outside the
    /// selection must not stand in for a quoted one.
    #[test]
    fn restriction_drops_what_the_selection_does_not_cover() {
        let v = two_banks();
        let sel = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[7, 10])]);
        let r = v.restricted_to(&sel);
        assert_eq!(r.get(HashAlg::Sha256, 7), Some(&[7u8; 32][..]));
        assert_eq!(r.get(HashAlg::Sha256, 0), None);
        assert_eq!(r.get(HashAlg::Sha256, 10), None);
        assert_eq!(r.get(HashAlg::Sha1, 0), None);
        assert_eq!(r.banks().collect::<Vec<_>>(), vec![HashAlg::Sha256]);
    }

    #[test]
    fn hex_matches_agrees_with_decoding() {
        for (s, b, want) in [
            ("00ff", &[0x00, 0xff][..], true),
            ("0x00FF", &[0x00, 0xff][..], true),
            ("00ff", &[0x00, 0xfe][..], false),
            ("00ff", &[0x00][..], false),
            ("00f", &[0x00, 0x0f][..], false),
            ("00fg", &[0x00, 0xf0][..], false),
            ("", &[][..], true),
            ("0x0xff", &[0xff][..], false),
            ("0x0xff", &[0x0f, 0xff][..], false),
        ] {
            assert_eq!(hex_matches(s, b), want, "{s}");
            assert_eq!(hex_decode(s).as_deref() == Some(b), want, "{s}");
        }
    }

    proptest::proptest! {
        /// The allocation-free compare says what decoding and comparing
        /// says, for hex of the bytes (either case, with or without 0x) and
        /// for any other text.
        #[test]
        fn hex_matches_is_decode_then_compare(
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..70),
            other in "(0x)?[0-9a-fA-Fx]{0,12}",
            upper in proptest::bool::ANY,
            prefix in proptest::bool::ANY,
        ) {
            let mut h = hex(&b);
            if upper { h = h.to_uppercase(); }
            if prefix { h.insert_str(0, "0x"); }
            proptest::prop_assert!(hex_matches(&h, &b));
            proptest::prop_assert_eq!(hex_decode(&h), Some(b.clone()));
            proptest::prop_assert_eq!(hex_matches(&other, &b), hex_decode(&other).as_deref() == Some(b.as_slice()));
            // The inline value decodes what `hex_decode` does, up to the
            // longest digest.
            let inline = Value::from_hex(&h).map(|v| v.as_slice().to_vec());
            proptest::prop_assert_eq!(inline, hex_decode(&h).filter(|v| v.len() <= MAX_DIGEST));
            let inline = Value::from_hex(&other).map(|v| v.as_slice().to_vec());
            proptest::prop_assert_eq!(inline, hex_decode(&other));
        }
    }

    #[test]
    fn digest_follows_selection_order() {
        let v = two_banks();
        let sel = PcrSelectionList(vec![
            PcrSelection::with(HashAlg::Sha1, &[0]),
            PcrSelection::with(HashAlg::Sha256, &[7, 0]),
        ]);
        let want = HashAlg::Sha256.digest(&[&[2; 20], &[1; 32], &[7; 32]]);
        assert_eq!(v.digest(&sel, HashAlg::Sha256).unwrap(), want);
        let missing = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &[8])]);
        assert_eq!(
            v.digest(&missing, HashAlg::Sha256),
            Err(Failure::PcrValueMissing {
                bank: "sha256".into(),
                index: 8
            })
        );
    }

    #[test]
    fn protocol_map_round_trips_and_rejects_bad_values() {
        let mut v = PcrValues::new();
        v.set(HashAlg::Sha256, 3, vec![0xab; 32]);
        let map = v.to_protocol();
        assert_eq!(map["sha256"][&3], "ab".repeat(32));
        assert_eq!(PcrValues::from_protocol(&map).unwrap(), v);
        let bad = BTreeMap::from([(
            "sha256".to_string(),
            BTreeMap::from([(3, PcrHex::from("ab"))]),
        )]);
        assert!(matches!(
            PcrValues::from_protocol(&bad),
            Err(Failure::PcrValuesMalformed(m)) if m.contains("1 bytes, not 32")
        ));
        let sel =
            selection_from_protocol(&BTreeMap::from([("sha256".to_string(), vec![10, 0, 7])]))
                .unwrap();
        assert_eq!(sel.0[0].indices().collect::<Vec<_>>(), vec![0, 7, 10]);
        assert!(
            selection_from_protocol(&BTreeMap::from([("sha256".to_string(), vec![24])])).is_err()
        );
        for (value, reason) in [
            ("abc".to_string(), "is not hex"),
            ("zz".repeat(32), "is not hex"),
            ("ab".repeat(33), "33 bytes, not 32"),
            ("ab".repeat(70), "70 bytes, not 32"),
        ] {
            let bad = BTreeMap::from([(
                "sha256".to_string(),
                BTreeMap::from([(3, PcrHex::from(value))]),
            )]);
            assert!(matches!(
                PcrValues::from_protocol(&bad),
                Err(Failure::PcrValuesMalformed(m)) if m.contains(reason)
            ));
        }
        let mut too_long = PcrValues::new();
        assert!(!too_long.set(HashAlg::Sha256, 3, vec![0; 65]));
        assert!(too_long.set(HashAlg::Sha256, 3, vec![0; 64]));
        let bad = BTreeMap::from([("md5".to_string(), BTreeMap::new())]);
        assert!(PcrValues::from_protocol(&bad).is_err());
        let bad = BTreeMap::from([(
            "sha1".to_string(),
            BTreeMap::from([(24, PcrHex::from("00".repeat(20)))]),
        )]);
        assert!(PcrValues::from_protocol(&bad).is_err());
    }
}
