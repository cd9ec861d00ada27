//! Every wire type's decoder on arbitrary bytes: no panic, and a decoded
//! value re-encodes to exactly the bytes consumed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tpm::types::*;
use tpm::wire::{Codec, Reader};

fn check<T: Codec>(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(v) = T::decode(&mut r) {
        assert_eq!(v.to_bytes(), &data[..r.position()]);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<PcrSelectionList>(data);
    check::<DigestValues>(data);
    check::<DigestList>(data);
    check::<AuthCommand>(data);
    check::<AuthResponse>(data);
    check::<TimeInfo>(data);
    check::<TkHashcheck>(data);
    check::<MaxBuffer>(data);
});
