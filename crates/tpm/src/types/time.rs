use crate::wire::{Codec, Reader, WireError};

/// TPMS_CLOCK_INFO (Part 2 §10.11.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockInfo {
    pub clock: u64,
    pub reset_count: u32,
    pub restart_count: u32,
    pub safe: bool,
}

impl Codec for ClockInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        self.clock.encode(out);
        self.reset_count.encode(out);
        self.restart_count.encode(out);
        self.safe.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(ClockInfo {
            clock: r.u64()?,
            reset_count: r.u32()?,
            restart_count: r.u32()?,
            safe: bool::decode(r)?,
        })
    }
}

/// TPMS_TIME_INFO (Part 2 §10.11.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeInfo {
    pub time: u64,
    pub clock_info: ClockInfo,
}

impl Codec for TimeInfo {
    fn encode(&self, out: &mut Vec<u8>) {
        self.time.encode(out);
        self.clock_info.encode(out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(TimeInfo {
            time: r.u64()?,
            clock_info: ClockInfo::decode(r)?,
        })
    }
}
