//! Round-trip and robustness properties of the core wire types: every value
//! survives encode → decode unchanged, and arbitrary bytes either decode to a
//! value that re-encodes to exactly the bytes consumed, or give an error —
//! never a panic.

use proptest::prelude::*;
use tpm::crypto::HashAlg;
use tpm::types::{
    AuthCommand, AuthResponse, ClockInfo, Digest2b, DigestValues, Ha, PcrSelection,
    PcrSelectionList, TimeInfo, TkHashcheck,
};
use tpm::wire::{Codec, Reader, Tpm2b, Tpm2bBytes};

fn hash_alg() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::ALL.to_vec())
}

fn pcr_selection() -> impl Strategy<Value = PcrSelection> {
    (hash_alg(), any::<[u8; 3]>()).prop_map(|(hash, select)| PcrSelection { hash, select })
}

fn ha() -> impl Strategy<Value = Ha> {
    hash_alg().prop_flat_map(|alg| {
        prop::collection::vec(any::<u8>(), alg.digest_size())
            .prop_map(move |digest| Ha { alg, digest })
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=max)
}

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(v: &T) {
    let b = v.to_bytes();
    let back = T::from_bytes(&b).expect("decode what we encoded");
    assert_eq!(&back, v);
}

/// Decoding arbitrary bytes never panics; a successful decode re-encodes to
/// exactly the consumed prefix (the codec is canonical).
fn canonical<T: Codec>(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(v) = T::decode(&mut r) {
        let used = r.position();
        assert_eq!(v.to_bytes(), &data[..used]);
    }
}

proptest! {
    #[test]
    fn pcr_selection_list_round_trips(l in prop::collection::vec(pcr_selection(), 0..=5)) {
        round_trip(&PcrSelectionList(l));
    }

    #[test]
    fn digest_values_round_trip(l in prop::collection::vec(ha(), 0..=5)) {
        round_trip(&DigestValues(l));
    }

    #[test]
    fn tpm2b_round_trips(b in bytes(64)) {
        round_trip(&Digest2b::new(b).unwrap());
    }

    #[test]
    fn auth_command_round_trips(h in any::<u32>(), n in bytes(64), a in any::<u8>(), m in bytes(64)) {
        round_trip(&AuthCommand {
            session_handle: h,
            nonce: Tpm2b::new(n).unwrap(),
            attributes: a,
            hmac: Tpm2bBytes(m),
        });
    }

    #[test]
    fn auth_response_round_trips(n in bytes(64), a in any::<u8>(), m in bytes(64)) {
        round_trip(&AuthResponse { nonce: Tpm2b::new(n).unwrap(), attributes: a, hmac: Tpm2b::new(m).unwrap() });
    }

    #[test]
    fn time_info_round_trips(t in any::<u64>(), c in any::<u64>(), r in any::<u32>(), s in any::<u32>(), safe in any::<bool>()) {
        round_trip(&TimeInfo { time: t, clock_info: ClockInfo { clock: c, reset_count: r, restart_count: s, safe } });
    }

    #[test]
    fn ticket_round_trips(h in any::<u32>(), d in bytes(64)) {
        round_trip(&TkHashcheck { tag: tpm::constants::st::HASHCHECK, hierarchy: h, digest: Tpm2b::new(d).unwrap() });
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in bytes(300)) {
        canonical::<PcrSelectionList>(&data);
        canonical::<DigestValues>(&data);
        canonical::<Ha>(&data);
        canonical::<AuthCommand>(&data);
        canonical::<AuthResponse>(&data);
        canonical::<TimeInfo>(&data);
        canonical::<TkHashcheck>(&data);
        canonical::<Digest2b>(&data);
    }
}

#[test]
fn oversized_tpm2b_is_refused_before_reading() {
    // A TPM2B_DIGEST claiming 65 bytes is TPM_RC_SIZE even when the bytes exist.
    let mut b = vec![0, 65];
    b.extend_from_slice(&[0u8; 65]);
    assert_eq!(Digest2b::from_bytes(&b), Err(tpm::wire::WireError::Size));
}

#[test]
fn huge_list_count_is_refused_without_allocating() {
    let b = [0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        PcrSelectionList::from_bytes(&b),
        Err(tpm::wire::WireError::Count)
    );
}

#[test]
fn pcr_selection_size_bounds() {
    // sizeofSelect must be PCR_SELECT_MIN..=PCR_SELECT_MAX (3 for 24 PCRs).
    for (size, ok) in [(0u8, false), (2, false), (3, true), (4, false)] {
        let mut b = vec![0x00, 0x0b, size];
        b.extend(std::iter::repeat_n(0xffu8, size as usize));
        assert_eq!(PcrSelection::from_bytes(&b).is_ok(), ok, "size {size}");
    }
}
