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

/// TPM_RC_REFERENCE_H0: a handle references nothing loaded (warning;
/// H0..H6 are 0x910..0x916, S0..S6 0x918..0x91E, Part 2 §6.6.3).
const RC_REFERENCE_H0: u32 = RC_WARN + 0x010;
const RC_REFERENCE_S0: u32 = RC_WARN + 0x018;

/// The spec names of the response codes (Part 2 §6.6.3), base codes only.
const NAMES: &[(Rc, &str)] = &[
    (Rc::SUCCESS, "TPM_RC_SUCCESS"),
    (Rc::BAD_TAG, "TPM_RC_BAD_TAG"),
    (Rc::INITIALIZE, "TPM_RC_INITIALIZE"),
    (Rc::FAILURE, "TPM_RC_FAILURE"),
    (Rc::SEQUENCE, "TPM_RC_SEQUENCE"),
    (Rc::PRIVATE, "TPM_RC_PRIVATE"),
    (Rc::HMAC, "TPM_RC_HMAC"),
    (Rc::DISABLED, "TPM_RC_DISABLED"),
    (Rc::EXCLUSIVE, "TPM_RC_EXCLUSIVE"),
    (Rc::AUTH_TYPE, "TPM_RC_AUTH_TYPE"),
    (Rc::AUTH_MISSING, "TPM_RC_AUTH_MISSING"),
    (Rc::POLICY, "TPM_RC_POLICY"),
    (Rc::PCR, "TPM_RC_PCR"),
    (Rc::PCR_CHANGED, "TPM_RC_PCR_CHANGED"),
    (Rc::UPGRADE, "TPM_RC_UPGRADE"),
    (Rc::TOO_MANY_CONTEXTS, "TPM_RC_TOO_MANY_CONTEXTS"),
    (Rc::AUTH_UNAVAILABLE, "TPM_RC_AUTH_UNAVAILABLE"),
    (Rc::REBOOT, "TPM_RC_REBOOT"),
    (Rc::UNBALANCED, "TPM_RC_UNBALANCED"),
    (Rc::COMMAND_SIZE, "TPM_RC_COMMAND_SIZE"),
    (Rc::COMMAND_CODE, "TPM_RC_COMMAND_CODE"),
    (Rc::AUTHSIZE, "TPM_RC_AUTHSIZE"),
    (Rc::AUTH_CONTEXT, "TPM_RC_AUTH_CONTEXT"),
    (Rc::NV_RANGE, "TPM_RC_NV_RANGE"),
    (Rc::NV_SIZE, "TPM_RC_NV_SIZE"),
    (Rc::NV_LOCKED, "TPM_RC_NV_LOCKED"),
    (Rc::NV_AUTHORIZATION, "TPM_RC_NV_AUTHORIZATION"),
    (Rc::NV_UNINITIALIZED, "TPM_RC_NV_UNINITIALIZED"),
    (Rc::NV_SPACE, "TPM_RC_NV_SPACE"),
    (Rc::NV_DEFINED, "TPM_RC_NV_DEFINED"),
    (Rc::BAD_CONTEXT, "TPM_RC_BAD_CONTEXT"),
    (Rc::CPHASH, "TPM_RC_CPHASH"),
    (Rc::PARENT, "TPM_RC_PARENT"),
    (Rc::NEEDS_TEST, "TPM_RC_NEEDS_TEST"),
    (Rc::NO_RESULT, "TPM_RC_NO_RESULT"),
    (Rc::SENSITIVE, "TPM_RC_SENSITIVE"),
    (Rc::ASYMMETRIC, "TPM_RC_ASYMMETRIC"),
    (Rc::ATTRIBUTES, "TPM_RC_ATTRIBUTES"),
    (Rc::HASH, "TPM_RC_HASH"),
    (Rc::VALUE, "TPM_RC_VALUE"),
    (Rc::HIERARCHY, "TPM_RC_HIERARCHY"),
    (Rc::KEY_SIZE, "TPM_RC_KEY_SIZE"),
    (Rc::MGF, "TPM_RC_MGF"),
    (Rc::MODE, "TPM_RC_MODE"),
    (Rc::TYPE, "TPM_RC_TYPE"),
    (Rc::HANDLE, "TPM_RC_HANDLE"),
    (Rc::KDF, "TPM_RC_KDF"),
    (Rc::RANGE, "TPM_RC_RANGE"),
    (Rc::AUTH_FAIL, "TPM_RC_AUTH_FAIL"),
    (Rc::NONCE, "TPM_RC_NONCE"),
    (Rc::PP, "TPM_RC_PP"),
    (Rc::SCHEME, "TPM_RC_SCHEME"),
    (Rc::SIZE, "TPM_RC_SIZE"),
    (Rc::SYMMETRIC, "TPM_RC_SYMMETRIC"),
    (Rc::TAG, "TPM_RC_TAG"),
    (Rc::SELECTOR, "TPM_RC_SELECTOR"),
    (Rc::INSUFFICIENT, "TPM_RC_INSUFFICIENT"),
    (Rc::SIGNATURE, "TPM_RC_SIGNATURE"),
    (Rc::KEY, "TPM_RC_KEY"),
    (Rc::POLICY_FAIL, "TPM_RC_POLICY_FAIL"),
    (Rc::INTEGRITY, "TPM_RC_INTEGRITY"),
    (Rc::TICKET, "TPM_RC_TICKET"),
    (Rc::RESERVED_BITS, "TPM_RC_RESERVED_BITS"),
    (Rc::BAD_AUTH, "TPM_RC_BAD_AUTH"),
    (Rc::EXPIRED, "TPM_RC_EXPIRED"),
    (Rc::POLICY_CC, "TPM_RC_POLICY_CC"),
    (Rc::BINDING, "TPM_RC_BINDING"),
    (Rc::CURVE, "TPM_RC_CURVE"),
    (Rc::ECC_POINT, "TPM_RC_ECC_POINT"),
    (Rc::CONTEXT_GAP, "TPM_RC_CONTEXT_GAP"),
    (Rc::OBJECT_MEMORY, "TPM_RC_OBJECT_MEMORY"),
    (Rc::SESSION_MEMORY, "TPM_RC_SESSION_MEMORY"),
    (Rc::MEMORY, "TPM_RC_MEMORY"),
    (Rc::SESSION_HANDLES, "TPM_RC_SESSION_HANDLES"),
    (Rc::OBJECT_HANDLES, "TPM_RC_OBJECT_HANDLES"),
    (Rc::LOCALITY, "TPM_RC_LOCALITY"),
    (Rc::YIELDED, "TPM_RC_YIELDED"),
    (Rc::CANCELED, "TPM_RC_CANCELED"),
    (Rc::TESTING, "TPM_RC_TESTING"),
    (Rc::NV_RATE, "TPM_RC_NV_RATE"),
    (Rc::LOCKOUT, "TPM_RC_LOCKOUT"),
    (Rc::RETRY, "TPM_RC_RETRY"),
    (Rc::NV_UNAVAILABLE, "TPM_RC_NV_UNAVAILABLE"),
];

const REFERENCE_H: [&str; 7] = [
    "TPM_RC_REFERENCE_H0",
    "TPM_RC_REFERENCE_H1",
    "TPM_RC_REFERENCE_H2",
    "TPM_RC_REFERENCE_H3",
    "TPM_RC_REFERENCE_H4",
    "TPM_RC_REFERENCE_H5",
    "TPM_RC_REFERENCE_H6",
];
const REFERENCE_S: [&str; 7] = [
    "TPM_RC_REFERENCE_S0",
    "TPM_RC_REFERENCE_S1",
    "TPM_RC_REFERENCE_S2",
    "TPM_RC_REFERENCE_S3",
    "TPM_RC_REFERENCE_S4",
    "TPM_RC_REFERENCE_S5",
    "TPM_RC_REFERENCE_S6",
];

impl Rc {
    /// The spec name of the base code (`TPM_RC_VALUE` for 0x1c4), as
    /// `tpm2_rc_decode` prints it; `None` for a code Part 2 §6.6.3 does not
    /// define (vendor codes, TSS layer codes).
    pub fn name(self) -> Option<&'static str> {
        let base = self.base();
        if let Some((_, n)) = NAMES.iter().find(|(rc, _)| *rc == base) {
            return Some(n);
        }
        let idx = |first: u32| base.0.checked_sub(first).filter(|i| *i < 7);
        if let Some(i) = idx(RC_REFERENCE_H0) {
            return REFERENCE_H.get(i as usize).copied();
        }
        if let Some(i) = idx(RC_REFERENCE_S0) {
            return REFERENCE_S.get(i as usize).copied();
        }
        None
    }

    /// Which handle, session or parameter a format-one code blames
    /// (Part 2 §6.6.2: bit 6 selects a parameter number in bits 8–11,
    /// otherwise bit 11 a session and else a handle number in bits 8–10).
    pub fn blames(self) -> Option<(&'static str, u32)> {
        if !self.is_fmt1() {
            return None;
        }
        let n = (self.0 >> 8) & 0xF;
        if self.0 & RC_P != 0 {
            Some(("parameter", n))
        } else if n == 0 {
            None
        } else if self.0 & RC_S != 0 {
            Some(("session", n & 0x7))
        } else {
            Some(("handle", n & 0x7))
        }
    }

    /// `TPM_RC_VALUE (parameter 1)`-style text for messages: the name (or
    /// the hex value if unnamed) and what a format-one code blames.
    pub fn describe(self) -> String {
        let mut s = match self.name() {
            Some(n) => n.to_string(),
            None => format!("TPM_RC 0x{:03x}", self.0),
        };
        if let Some((what, n)) = self.blames() {
            s.push_str(&format!(" ({what} {n})"));
        }
        s
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

    #[test]
    fn names_and_blame_as_tpm2_rc_decode_gives_them() {
        assert_eq!(Rc(0x1c4).name(), Some("TPM_RC_VALUE"));
        assert_eq!(Rc(0x1c4).describe(), "TPM_RC_VALUE (parameter 1)");
        assert_eq!(Rc(0x98e).describe(), "TPM_RC_AUTH_FAIL (session 1)");
        assert_eq!(Rc(0x184).describe(), "TPM_RC_VALUE (handle 1)");
        assert_eq!(Rc(0x084).describe(), "TPM_RC_VALUE");
        assert_eq!(Rc(0x100).describe(), "TPM_RC_INITIALIZE");
        assert_eq!(Rc(0x146).name(), Some("TPM_RC_NV_RANGE"));
        assert_eq!(Rc(0x902).name(), Some("TPM_RC_OBJECT_MEMORY"));
        assert_eq!(Rc(0x910).name(), Some("TPM_RC_REFERENCE_H0"));
        assert_eq!(Rc(0x91e).name(), Some("TPM_RC_REFERENCE_S6"));
        assert_eq!(Rc(0x91f).name(), None);
        assert_eq!(Rc(0xabcdef).describe(), "TPM_RC 0xabcdef");
    }
}
