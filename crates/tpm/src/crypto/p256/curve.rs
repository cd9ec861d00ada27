//! The constants of NIST P-256, y² = x³ − 3x + b over GF(p) (SEC 2 v2
//! §2.4.2; FIPS 186-5 / SP 800-186 §3.2.1.3), as integers, least
//! significant limb first.

use super::limbs::Limbs;

/// The coefficient b.
pub const B: Limbs = [
    0x3bce_3c3e_27d2_604b,
    0x651d_06b0_cc53_b0f6,
    0xb3eb_bd55_7698_86bc,
    0x5ac6_35d8_aa3a_93e7,
];

/// The base point G's x.
pub const GX: Limbs = [
    0xf4a1_3945_d898_c296,
    0x7703_7d81_2deb_33a0,
    0xf8bc_e6e5_63a4_40f2,
    0x6b17_d1f2_e12c_4247,
];

/// The base point G's y.
pub const GY: Limbs = [
    0xcbb6_4068_37bf_51f5,
    0x2bce_3357_6b31_5ece,
    0x8ee7_eb4a_7c0f_9e16,
    0x4fe3_42e2_fe1a_7f9b,
];

/// The group order n.
pub const N: Limbs = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];
