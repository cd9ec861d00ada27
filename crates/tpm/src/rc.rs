//! TPM 2.0 response codes (Part 2 §6.6), in the exact numbering the spec
//! gives so `tpm2_rc_decode` names them: format-zero codes (RC_VER1 and
//! RC_WARN) and format-one codes (RC_FMT1) that carry the number of the
//! handle, session or parameter at fault.

/// A TPM_RC value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rc(pub u32);

const RC_VER1: u32 = 0x100;
const RC_FMT1: u32 = 0x080;
const RC_WARN: u32 = 0x900;
const RC_P: u32 = 0x040;
const RC_S: u32 = 0x800;

impl Rc {
    pub const SUCCESS: Rc = Rc(0);
    /// A TPM 1.2-style tag was used (Part 2 §6.6.3).
    pub const BAD_TAG: Rc = Rc(0x01E);

    pub const INITIALIZE: Rc = Rc(RC_VER1);
    pub const FAILURE: Rc = Rc(RC_VER1 + 0x001);
    pub const SEQUENCE: Rc = Rc(RC_VER1 + 0x003);
    pub const PRIVATE: Rc = Rc(RC_VER1 + 0x00B);
    pub const HMAC: Rc = Rc(RC_VER1 + 0x019);
    pub const DISABLED: Rc = Rc(RC_VER1 + 0x020);
    pub const EXCLUSIVE: Rc = Rc(RC_VER1 + 0x021);
    pub const AUTH_TYPE: Rc = Rc(RC_VER1 + 0x024);
    pub const AUTH_MISSING: Rc = Rc(RC_VER1 + 0x025);
    pub const POLICY: Rc = Rc(RC_VER1 + 0x026);
    pub const PCR: Rc = Rc(RC_VER1 + 0x027);
    pub const PCR_CHANGED: Rc = Rc(RC_VER1 + 0x028);
    pub const UPGRADE: Rc = Rc(RC_VER1 + 0x02D);
    pub const TOO_MANY_CONTEXTS: Rc = Rc(RC_VER1 + 0x02E);
    pub const AUTH_UNAVAILABLE: Rc = Rc(RC_VER1 + 0x02F);
    pub const REBOOT: Rc = Rc(RC_VER1 + 0x030);
    pub const UNBALANCED: Rc = Rc(RC_VER1 + 0x031);
    pub const COMMAND_SIZE: Rc = Rc(RC_VER1 + 0x042);
    pub const COMMAND_CODE: Rc = Rc(RC_VER1 + 0x043);
    pub const AUTHSIZE: Rc = Rc(RC_VER1 + 0x044);
    pub const AUTH_CONTEXT: Rc = Rc(RC_VER1 + 0x045);
    pub const NV_RANGE: Rc = Rc(RC_VER1 + 0x046);
    pub const NV_SIZE: Rc = Rc(RC_VER1 + 0x047);
    pub const NV_LOCKED: Rc = Rc(RC_VER1 + 0x048);
    pub const NV_AUTHORIZATION: Rc = Rc(RC_VER1 + 0x049);
    pub const NV_UNINITIALIZED: Rc = Rc(RC_VER1 + 0x04A);
    pub const NV_SPACE: Rc = Rc(RC_VER1 + 0x04B);
    pub const NV_DEFINED: Rc = Rc(RC_VER1 + 0x04C);
    pub const BAD_CONTEXT: Rc = Rc(RC_VER1 + 0x050);
    pub const CPHASH: Rc = Rc(RC_VER1 + 0x051);
    pub const PARENT: Rc = Rc(RC_VER1 + 0x052);
    pub const NEEDS_TEST: Rc = Rc(RC_VER1 + 0x053);
    pub const NO_RESULT: Rc = Rc(RC_VER1 + 0x054);
    pub const SENSITIVE: Rc = Rc(RC_VER1 + 0x055);

    pub const ASYMMETRIC: Rc = Rc(RC_FMT1 + 0x001);
    pub const ATTRIBUTES: Rc = Rc(RC_FMT1 + 0x002);
    pub const HASH: Rc = Rc(RC_FMT1 + 0x003);
    pub const VALUE: Rc = Rc(RC_FMT1 + 0x004);
    pub const HIERARCHY: Rc = Rc(RC_FMT1 + 0x005);
    pub const KEY_SIZE: Rc = Rc(RC_FMT1 + 0x007);
    pub const MGF: Rc = Rc(RC_FMT1 + 0x008);
    pub const MODE: Rc = Rc(RC_FMT1 + 0x009);
    pub const TYPE: Rc = Rc(RC_FMT1 + 0x00A);
    pub const HANDLE: Rc = Rc(RC_FMT1 + 0x00B);
    pub const KDF: Rc = Rc(RC_FMT1 + 0x00C);
    pub const RANGE: Rc = Rc(RC_FMT1 + 0x00D);
    pub const AUTH_FAIL: Rc = Rc(RC_FMT1 + 0x00E);
    pub const NONCE: Rc = Rc(RC_FMT1 + 0x00F);
    pub const PP: Rc = Rc(RC_FMT1 + 0x010);
    pub const SCHEME: Rc = Rc(RC_FMT1 + 0x012);
    pub const SIZE: Rc = Rc(RC_FMT1 + 0x015);
    pub const SYMMETRIC: Rc = Rc(RC_FMT1 + 0x016);
    pub const TAG: Rc = Rc(RC_FMT1 + 0x017);
    pub const SELECTOR: Rc = Rc(RC_FMT1 + 0x018);
    pub const INSUFFICIENT: Rc = Rc(RC_FMT1 + 0x01A);
    pub const SIGNATURE: Rc = Rc(RC_FMT1 + 0x01B);
    pub const KEY: Rc = Rc(RC_FMT1 + 0x01C);
    pub const POLICY_FAIL: Rc = Rc(RC_FMT1 + 0x01D);
    pub const INTEGRITY: Rc = Rc(RC_FMT1 + 0x01F);
    pub const TICKET: Rc = Rc(RC_FMT1 + 0x020);
    pub const RESERVED_BITS: Rc = Rc(RC_FMT1 + 0x021);
    pub const BAD_AUTH: Rc = Rc(RC_FMT1 + 0x022);
    pub const EXPIRED: Rc = Rc(RC_FMT1 + 0x023);
    pub const POLICY_CC: Rc = Rc(RC_FMT1 + 0x024);
    pub const BINDING: Rc = Rc(RC_FMT1 + 0x025);
    pub const CURVE: Rc = Rc(RC_FMT1 + 0x026);
    pub const ECC_POINT: Rc = Rc(RC_FMT1 + 0x027);

    pub const CONTEXT_GAP: Rc = Rc(RC_WARN + 0x001);
    pub const OBJECT_MEMORY: Rc = Rc(RC_WARN + 0x002);
    pub const SESSION_MEMORY: Rc = Rc(RC_WARN + 0x003);
    pub const MEMORY: Rc = Rc(RC_WARN + 0x004);
    pub const SESSION_HANDLES: Rc = Rc(RC_WARN + 0x005);
    pub const OBJECT_HANDLES: Rc = Rc(RC_WARN + 0x006);
    pub const LOCALITY: Rc = Rc(RC_WARN + 0x007);
    pub const YIELDED: Rc = Rc(RC_WARN + 0x008);
    pub const CANCELED: Rc = Rc(RC_WARN + 0x009);
    pub const TESTING: Rc = Rc(RC_WARN + 0x00A);
    pub const NV_RATE: Rc = Rc(RC_WARN + 0x020);
    pub const LOCKOUT: Rc = Rc(RC_WARN + 0x021);
    pub const RETRY: Rc = Rc(RC_WARN + 0x022);
    pub const NV_UNAVAILABLE: Rc = Rc(RC_WARN + 0x023);

    /// True for format-one codes, which can carry a handle/session/parameter
    /// number (Part 2 §6.6.2, bit 7).
    pub fn is_fmt1(self) -> bool {
        self.0 & RC_FMT1 != 0 && self.0 & 0xFFFF_F000 == 0
    }

    /// Base code without any handle/session/parameter number.
    pub fn base(self) -> Rc {
        if self.is_fmt1() {
            Rc(self.0 & 0xBF)
        } else {
            self
        }
    }

    /// Tags a format-one code with parameter number `n` (1..=15). Format-zero
    /// codes and already-numbered codes are returned unchanged, so the
    /// innermost (most precise) number wins.
    pub fn param(self, n: u32) -> Rc {
        if self.is_fmt1() && self.0 & 0xF40 == 0 && (1..=15).contains(&n) {
            Rc(self.0 | RC_P | (n << 8))
        } else {
            self
        }
    }

    /// Tags a format-one code with handle number `n` (1..=7).
    pub fn handle(self, n: u32) -> Rc {
        if self.is_fmt1() && self.0 & 0xF40 == 0 && (1..=7).contains(&n) {
            Rc(self.0 | (n << 8))
        } else {
            self
        }
    }

    /// Tags a format-one code with session number `n` (1..=7).
    pub fn session(self, n: u32) -> Rc {
        if self.is_fmt1() && self.0 & 0xF40 == 0 && (1..=7).contains(&n) {
            Rc(self.0 | RC_S | (n << 8))
        } else {
            self
        }
    }
}

impl std::fmt::Debug for Rc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rc(0x{:03x})", self.0)
    }
}

impl std::fmt::Display for Rc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TPM_RC 0x{:03x}", self.0)
    }
}

impl std::error::Error for Rc {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_part2() {
        // TPM_RC_VALUE on parameter 1 is 0x1c4, on handle 1 0x184,
        // TPM_RC_AUTH_FAIL on session 1 is 0x98e (values tpm2_rc_decode names).
        assert_eq!(Rc::VALUE.param(1).0, 0x1c4);
        assert_eq!(Rc::VALUE.handle(1).0, 0x184);
        assert_eq!(Rc::AUTH_FAIL.session(1).0, 0x98e);
        assert_eq!(Rc::SIZE.param(2).0, 0x2d5);
        // Format-zero codes are not numbered.
        assert_eq!(Rc::INITIALIZE.param(1), Rc::INITIALIZE);
        // The first number given wins.
        assert_eq!(Rc::VALUE.param(1).param(3).0, 0x1c4);
        assert_eq!(Rc::VALUE.param(2).base(), Rc::VALUE);
    }
}
