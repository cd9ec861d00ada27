//! Fixed-width Montgomery arithmetic modulo an odd number (u64 limbs;
//! products by finely integrated operand scanning, squares by separated
//! operand scanning: Koç–Acar–Kaliski, "Analyzing and comparing Montgomery
//! multiplication algorithms", 1996).
//!
//! Why our own: the prime search of RSA key derivation spends almost all
//! of its time in modular exponentiation, and num-bigint-dig's `modpow`
//! allocates, rebuilds its Montgomery context on every call (also for the
//! squarings of Miller–Rabin) and is ~3× slower than OpenSSL, which
//! libtpms/swtpm use (BENCHMARKS.md, "Where the time goes"). A fixed limb
//! count lets the compiler keep the inner loops tight.
//!
//! On x86-64 processors with BMI2 and ADX, products and squares of 8, 16,
//! 24 and 32 limbs run the `mulx`/`adcx`/`adox` assembly of
//! `montgomery_x86.rs` (half the instructions); the portable code
//! below is the fallback and the reference it is tested against.
//!
//! Values handed to [`Mont::mul`] must be below the modulus; results are
//! fully reduced, so equal residues have equal representations and can be
//! compared directly. The multiplication's final subtraction is
//! branch-free; exponentiation ([`Mont::pow`], [`Mont::pow2`]) is
//! variable time in the exponent, like num-bigint-dig's, and is used only
//! for primality tests and the RSA public operation (public exponent).

use super::limbs;
use super::montgomery_x86::Adx;
use zeroize::Zeroize;

/// Widest modulus `square_portable` handles with its double-width buffer
/// (2048 bits: the primes of a 4096-bit key); wider ones square by `mul`.
const MAX_LIMBS: usize = 32;

/// Arithmetic modulo one odd modulus `n < 2^(64·N)`, in Montgomery form
/// (x ↦ x·R mod n, R = 2^(64·N)).
pub struct Mont<const N: usize> {
    n: [u64; N],
    /// -n⁻¹ mod 2^64.
    n0: u64,
    /// R mod n: the Montgomery form of 1.
    one: [u64; N],
    /// R² mod n: converts into Montgomery form.
    r2: [u64; N],
    /// `Some` when products and squares run the `mulx`/`adcx`/`adox`
    /// assembly ([`super::montgomery_x86`]; 8, 16, 24 and 32 limbs).
    adx: Option<Adx>,
}

impl<const N: usize> Drop for Mont<N> {
    fn drop(&mut self) {
        // The modulus is usually a prime candidate that may become a key.
        self.n.zeroize();
        self.one.zeroize();
        self.r2.zeroize();
    }
}

/// x⁻¹ mod 2^64 for odd x by Newton's iteration (each step doubles the
/// number of correct low bits; x itself is correct to 3 bits).
fn inverse_mod_word(x: u64) -> u64 {
    let mut inv = x;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv
}

impl<const N: usize> Mont<N> {
    /// The context for `n`, or `None` unless `n` is odd and greater than 1.
    pub fn new(n: &[u64; N]) -> Option<Mont<N>> {
        let low = *n.first()?;
        if low & 1 == 0 || limbs::eq_small(n, 1) {
            return None;
        }
        let n0 = inverse_mod_word(low).wrapping_neg();
        let top_bit_set = n.last().is_some_and(|t| t >> 63 == 1);
        let one = if top_bit_set {
            // n > R/2, so R mod n = R - n.
            limbs::sub(&[0u64; N], n).0
        } else {
            // R mod n by doubling 1 (64·N times); only for moduli that do
            // not fill their width (tests, odd sizes).
            let mut r = limbs::from_u64::<N>(1);
            for _ in 0..N * 64 {
                r = double_mod(&r, n);
            }
            r
        };
        let mut m = Mont {
            n: *n,
            n0,
            one,
            r2: [0u64; N],
            adx: Adx::detect(),
        };
        // 2 in Montgomery form is 2R mod n; raising it to 64·N gives
        // 2^(64N)·R = R² mod n, without any big division.
        let two = double_mod(&m.one, n);
        m.r2 = m.pow(&two, &[(N as u64) * 64]);
        Some(m)
    }

    /// The modulus.
    pub fn modulus(&self) -> &[u64; N] {
        &self.n
    }

    /// The Montgomery form of 1.
    pub fn one(&self) -> &[u64; N] {
        &self.one
    }

    /// a·b·R⁻¹ mod n (both below n).
    #[inline]
    pub fn mul(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        if let Some(adx) = self.adx {
            if let Some(r) = adx.mul(a, b, &self.n, self.n0) {
                return r;
            }
        }
        self.mul_portable(a, b)
    }

    /// a²·R⁻¹ mod n (a below n). Squarings are ~90 % of the products of
    /// an exponentiation.
    #[inline]
    pub fn square(&self, a: &[u64; N]) -> [u64; N] {
        if let Some(adx) = self.adx {
            if let Some(r) = adx.square(a, &self.n, self.n0) {
                return r;
            }
        }
        self.square_portable(a)
    }

    /// a·b·R⁻¹ mod n (both below n), portable. Finely integrated operand scanning
    /// (FIOS): each pass adds a·b\[i\] and m·n in one loop with two carry
    /// chains, so the processor can overlap them and each word of t is
    /// loaded and stored once per pass.
    #[allow(clippy::needless_range_loop)] // index arithmetic across three arrays
    fn mul_portable(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let n = &self.n;
        let mut t = [0u64; N];
        let mut t_hi = 0u64;
        for i in 0..N {
            let bi = u128::from(b[i]);
            // Word 0 decides m, the multiple of n that clears it.
            let p = u128::from(a[0]) * bi + u128::from(t[0]);
            let mut c1 = (p >> 64) as u64;
            let m = (p as u64).wrapping_mul(self.n0);
            let mm = u128::from(m);
            let q = mm * u128::from(n[0]) + u128::from(p as u64);
            let mut c2 = (q >> 64) as u64;
            for j in 1..N {
                let p = u128::from(a[j]) * bi + u128::from(t[j]) + u128::from(c1);
                c1 = (p >> 64) as u64;
                let q = mm * u128::from(n[j]) + u128::from(p as u64) + u128::from(c2);
                t[j - 1] = q as u64;
                c2 = (q >> 64) as u64;
            }
            let s = u128::from(t_hi) + u128::from(c1) + u128::from(c2);
            t[N - 1] = s as u64;
            t_hi = (s >> 64) as u64;
        }
        // t + t_hi·R < 2n: subtract n once if needed.
        self.reduce_once(&t, t_hi)
    }

    /// a²·R⁻¹ mod n (a below n), portable: the double-width square, computing each
    /// cross product a\[i\]·a\[j\] once and doubling (about half the word
    /// products of a general multiplication), then a separate Montgomery
    /// reduction. Squarings are ~90 % of the products in an
    /// exponentiation; num-bigint-dig's Miller–Rabin squares with
    /// `modpow(x, 2)`, a whole exponentiation setup each time.
    ///
    /// (Operand scanning: with fixed trip counts the compiler unrolls the
    /// inner loops; a product-scanning version with per-column bounds ran
    /// nearly twice the instructions.)
    #[allow(clippy::needless_range_loop)] // index arithmetic across arrays
    fn square_portable(&self, a: &[u64; N]) -> [u64; N] {
        if N > MAX_LIMBS {
            return self.mul_portable(a, a);
        }
        let mut w = [0u64; 2 * MAX_LIMBS];
        // Cross products a[i]·a[j], i < j.
        for i in 0..N {
            let ai = u128::from(a[i]);
            let mut c = 0u64;
            for j in (i + 1)..N {
                let p = ai * u128::from(a[j]) + u128::from(w[i + j]) + u128::from(c);
                w[i + j] = p as u64;
                c = (p >> 64) as u64;
            }
            w[i + N] = c;
        }
        // Double them, then add the squares a[i]² on the diagonal.
        let mut top = 0u64;
        for k in 0..2 * N {
            let v = w[k];
            w[k] = (v << 1) | top;
            top = v >> 63;
        }
        let mut c = 0u128;
        for i in 0..N {
            let p = u128::from(a[i]) * u128::from(a[i]);
            let lo = u128::from(w[2 * i]) + u128::from(p as u64) + c;
            w[2 * i] = lo as u64;
            let hi = u128::from(w[2 * i + 1]) + (p >> 64) + (lo >> 64);
            w[2 * i + 1] = hi as u64;
            c = hi >> 64;
        }
        // Montgomery reduction: clear one low word per step; `extra` is the
        // carry into the word above the current top, added a step later.
        let n = &self.n;
        let mut extra = 0u64;
        for i in 0..N {
            let m = u128::from(w[i].wrapping_mul(self.n0));
            let mut c = 0u64;
            for j in 0..N {
                let p = m * u128::from(n[j]) + u128::from(w[i + j]) + u128::from(c);
                w[i + j] = p as u64;
                c = (p >> 64) as u64;
            }
            let (s1, o1) = w[i + N].overflowing_add(c);
            let (s2, o2) = s1.overflowing_add(extra);
            w[i + N] = s2;
            extra = u64::from(o1) + u64::from(o2);
        }
        let mut t = [0u64; N];
        t.copy_from_slice(&w[N..2 * N]);
        // `w` is not wiped here: it holds the same kind of intermediate as
        // the other stack temporaries of the search; `pow` wipes its table.
        self.reduce_once(&t, extra)
    }

    /// t + t_hi·2^(64N) (below 2n) reduced below n, without a branch.
    fn reduce_once(&self, t: &[u64; N], t_hi: u64) -> [u64; N] {
        let (d, borrow) = limbs::sub(t, &self.n);
        let keep_t = (borrow & (t_hi ^ 1)).wrapping_neg(); // all ones: t < n
        let mut out = [0u64; N];
        for ((o, x), y) in out.iter_mut().zip(t).zip(&d) {
            *o = (x & keep_t) | (y & !keep_t);
        }
        out
    }

    /// 2^exp in Montgomery form: square-and-double, since multiplying by
    /// the base 2 is a shift and a subtraction, not a Montgomery product
    /// (Miller–Rabin's first and usually only round on composites).
    /// Variable time in `exp`.
    pub fn pow2(&self, exp: &[u64]) -> [u64; N] {
        let nbits = exp
            .iter()
            .enumerate()
            .rev()
            .find(|(_, x)| **x != 0)
            .map_or(0, |(i, x)| i * 64 + 64 - x.leading_zeros() as usize);
        let mut acc = self.one;
        for i in (0..nbits).rev() {
            if i + 1 < nbits {
                acc = self.square(&acc);
            }
            if exp.get(i / 64).is_some_and(|x| (x >> (i % 64)) & 1 == 1) {
                acc = double_mod(&acc, &self.n);
            }
        }
        acc
    }

    /// The Montgomery form of `a` (any value below 2^(64·N)).
    pub fn to_mont(&self, a: &[u64; N]) -> [u64; N] {
        self.mul(a, &self.r2)
    }

    /// The ordinary value of a Montgomery-form `a`.
    pub fn from_mont(&self, a: &[u64; N]) -> [u64; N] {
        self.mul(a, &limbs::from_u64(1))
    }

    /// (a - b) mod n for a, b below n.
    pub fn sub(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let (d, borrow) = limbs::sub(a, b);
        if borrow == 1 {
            limbs::add(&d, &self.n).0
        } else {
            d
        }
    }

    /// (a + b) mod n for a, b below n.
    pub fn add(&self, a: &[u64; N], b: &[u64; N]) -> [u64; N] {
        let (s, carry) = limbs::add(a, b);
        let (d, borrow) = limbs::sub(&s, &self.n);
        if carry == 1 || borrow == 0 {
            d
        } else {
            s
        }
    }

    /// base^exp in Montgomery form (`base` in Montgomery form, `exp` as
    /// little-endian limbs of any length), left-to-right sliding window.
    /// Variable time in `exp`.
    pub fn pow(&self, base: &[u64; N], exp: &[u64]) -> [u64; N] {
        let nbits = exp
            .iter()
            .enumerate()
            .rev()
            .find(|(_, x)| **x != 0)
            .map_or(0, |(i, x)| i * 64 + 64 - x.leading_zeros() as usize);
        let bit = |i: usize| exp.get(i / 64).is_some_and(|x| (x >> (i % 64)) & 1 == 1);
        let window = match nbits {
            0..=24 => 1,
            25..=80 => 3,
            81..=240 => 4,
            _ => 5,
        };
        // Odd powers base^1, base^3, …, base^(2^window - 1).
        let mut table = [[0u64; N]; 16];
        let entries = 1usize << (window - 1);
        table[0] = *base;
        if entries > 1 {
            let b2 = self.square(base);
            for k in 1..entries {
                table[k] = self.mul(&table[k - 1], &b2);
            }
        }
        let mut acc = self.one;
        let mut started = false;
        let mut i = nbits;
        while i > 0 {
            let top = i - 1;
            if !bit(top) {
                if started {
                    acc = self.square(&acc);
                }
                i -= 1;
                continue;
            }
            // The longest window [low, top] of at most `window` bits that
            // ends in a set bit.
            let mut low = top.saturating_sub(window - 1);
            while !bit(low) {
                low += 1;
            }
            let mut value = 0usize;
            for k in (low..=top).rev() {
                value = (value << 1) | usize::from(bit(k));
            }
            let entry = table.get(value >> 1).unwrap_or(&table[0]);
            if started {
                for _ in low..=top {
                    acc = self.square(&acc);
                }
                acc = self.mul(&acc, entry);
            } else {
                acc = *entry;
                started = true;
            }
            i = low;
        }
        table.zeroize();
        acc
    }
}

/// 2a mod n for a below n.
fn double_mod<const N: usize>(a: &[u64; N], n: &[u64; N]) -> [u64; N] {
    let (s, carry) = limbs::add(a, a);
    let (d, borrow) = limbs::sub(&s, n);
    if carry == 1 || borrow == 0 {
        d
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint_dig::BigUint;

    fn big<const N: usize>(a: &[u64; N]) -> BigUint {
        BigUint::from_bytes_be(&limbs::to_be_bytes(a))
    }

    fn limbs_of<const N: usize>(b: &BigUint) -> [u64; N] {
        limbs::from_be_bytes(&b.to_bytes_be()).unwrap()
    }

    #[test]
    fn word_inverse() {
        for x in [1u64, 3, 0xffff_ffff_ffff_ffff, 0x1234_5678_9abc_def1] {
            assert_eq!(x.wrapping_mul(inverse_mod_word(x)), 1);
        }
    }

    #[test]
    fn rejects_even_and_one() {
        assert!(Mont::<2>::new(&[4, 1]).is_none());
        assert!(Mont::<2>::new(&[1, 0]).is_none());
        assert!(Mont::<2>::new(&[3, 0]).is_some());
    }

    /// An odd modulus from random limbs, `shift` top bits cleared (0 gives
    /// a full-width modulus, the prime-search case).
    fn modulus<const N: usize>(v: &[u64], shift: u32) -> [u64; N] {
        let mut n = [0u64; N];
        n.iter_mut().zip(v).for_each(|(d, s)| *d = *s);
        n[0] |= 1;
        n[N - 1] = (n[N - 1] | 1 << 63) >> shift;
        n
    }

    fn check_pow<const N: usize>(nv: &[u64], shift: u32, av: &[u64], ev: &[u64]) {
        let n: [u64; N] = modulus(nv, shift);
        let m = Mont::new(&n).unwrap();
        let nb = big(&n);
        let a_big = {
            let mut a = [0u64; N];
            a.iter_mut().zip(av).for_each(|(d, s)| *d = *s);
            big(&a) % &nb
        };
        let a: [u64; N] = limbs_of(&a_big);
        let e_big = BigUint::from_bytes_be(
            &ev.iter()
                .rev()
                .flat_map(|x| x.to_be_bytes())
                .collect::<Vec<_>>(),
        );
        let got = m.from_mont(&m.pow(&m.to_mont(&a), ev));
        assert_eq!(big(&got), a_big.modpow(&e_big, &nb));
        // The product and the square on their own.
        let b_big = (&a_big * &a_big + BigUint::from(7u32)) % &nb;
        let b: [u64; N] = limbs_of(&b_big);
        let prod = m.from_mont(&m.mul(&m.to_mont(&a), &m.to_mont(&b)));
        assert_eq!(big(&prod), (&a_big * &b_big) % &nb);
        let sq = m.from_mont(&m.square(&m.to_mont(&a)));
        assert_eq!(big(&sq), (&a_big * &a_big) % &nb);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        #[test]
        fn pow_1024_matches_modpow(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 16),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 16),
            ev in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..=16),
        ) {
            check_pow::<16>(&nv, shift, &av, &ev);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

        #[test]
        fn pow_2048_matches_modpow(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 32),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 32),
            ev in proptest::collection::vec(proptest::prelude::any::<u64>(), 1..=32),
        ) {
            check_pow::<32>(&nv, shift, &av, &ev);
        }
    }

    /// The assembly product and square against the portable code on the
    /// same operands: random ones reduced below n plus 0, 1, n − 1.
    fn check_fast<const N: usize>(nv: &[u64], shift: u32, av: &[u64], bv: &[u64]) {
        let n: [u64; N] = modulus(nv, shift);
        let m = Mont::new(&n).unwrap();
        let nb = big(&n);
        let reduce = |v: &[u64]| -> [u64; N] {
            let mut x = [0u64; N];
            x.iter_mut().zip(v).for_each(|(d, s)| *d = *s);
            limbs_of(&(big(&x) % &nb))
        };
        let nm1: [u64; N] = limbs::sub(&n, &limbs::from_u64(1)).0;
        let ops = [
            reduce(av),
            reduce(bv),
            [0u64; N],
            limbs::from_u64(1),
            nm1,
            *m.one(),
        ];
        let adx = Adx::detect();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            adx.is_some(),
            std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("adx")
        );
        assert_eq!(m.adx.is_some(), adx.is_some());
        for a in &ops {
            for b in &ops {
                let want = m.mul_portable(a, b);
                assert_eq!(m.mul(a, b), want);
                assert_eq!(
                    big(&want),
                    (big(a) * big(b) * big(&m.from_mont(&limbs::from_u64(1)))) % &nb
                );
            }
            assert_eq!(m.square(a), m.square_portable(a));
            assert_eq!(m.square(a), m.mul_portable(a, a));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn fast_matches_portable_8(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 8),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 8),
            bv in proptest::collection::vec(proptest::prelude::any::<u64>(), 8),
        ) {
            check_fast::<8>(&nv, shift, &av, &bv);
        }

        #[test]
        fn fast_matches_portable_16(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 16),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 16),
            bv in proptest::collection::vec(proptest::prelude::any::<u64>(), 16),
        ) {
            check_fast::<16>(&nv, shift, &av, &bv);
        }

        #[test]
        fn fast_matches_portable_24(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 24),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 24),
            bv in proptest::collection::vec(proptest::prelude::any::<u64>(), 24),
        ) {
            check_fast::<24>(&nv, shift, &av, &bv);
        }

        #[test]
        fn fast_matches_portable_32(
            nv in proptest::collection::vec(proptest::prelude::any::<u64>(), 32),
            shift in proptest::prop_oneof![proptest::strategy::Just(0u32), 0u32..63],
            av in proptest::collection::vec(proptest::prelude::any::<u64>(), 32),
            bv in proptest::collection::vec(proptest::prelude::any::<u64>(), 32),
        ) {
            check_fast::<32>(&nv, shift, &av, &bv);
        }
    }

    /// Extreme moduli: all ones (n = R − 1), 2^(64N−1) + 1, and the
    /// smallest full-width pattern with long carry runs.
    #[test]
    fn fast_matches_portable_extreme_moduli() {
        let ones = [u64::MAX; 32];
        let mut low = [0u64; 32];
        low[0] = 1;
        for nv in [&ones[..], &low[..], &[0xffff_ffff_0000_0001; 32][..]] {
            check_fast::<8>(nv, 0, &ones, &low);
            check_fast::<16>(nv, 0, &ones, &ones);
            check_fast::<24>(nv, 0, &ones, &low);
            check_fast::<32>(nv, 0, &ones, &ones);
            check_fast::<16>(nv, 40, &ones, &ones);
        }
    }

    #[test]
    fn pow2_matches_pow() {
        for shift in [0u32, 5, 62] {
            let n: [u64; 16] = modulus(&[0x9e37_79b9_7f4a_7c15; 16], shift);
            let m = Mont::new(&n).unwrap();
            let two = m.to_mont(&limbs::from_u64(2));
            for e in [&[0u64][..], &[1], &[2], &[0x8000_0000_0000_0001, 7], &n[..]] {
                assert_eq!(m.pow2(e), m.pow(&two, e), "{e:?}");
            }
        }
    }

    #[test]
    fn edge_exponents_and_bases() {
        let n: [u64; 16] = modulus(&[0x1234_5678; 16], 0);
        let m = Mont::new(&n).unwrap();
        let nb = big(&n);
        // x^0 = 1, 0^e = 0, (n−1)^2 = 1, x^1 = x.
        let x: [u64; 16] = limbs_of(&(BigUint::from(3u32) << 900usize));
        assert_eq!(m.from_mont(&m.pow(&m.to_mont(&x), &[])), limbs::from_u64(1));
        assert_eq!(
            m.from_mont(&m.pow(&m.to_mont(&[0u64; 16]), &[5])),
            [0u64; 16]
        );
        let nm1: [u64; 16] = limbs_of(&(&nb - BigUint::from(1u32)));
        assert_eq!(
            m.from_mont(&m.pow(&m.to_mont(&nm1), &[2])),
            limbs::from_u64(1)
        );
        assert_eq!(m.from_mont(&m.pow(&m.to_mont(&x), &[1, 0, 0])), x);
        // add/sub wrap around the modulus.
        let one = m.one();
        assert_eq!(m.from_mont(&m.sub(&[0u64; 16], one)), nm1);
        assert_eq!(m.add(&m.sub(&[0u64; 16], one), one), [0u64; 16]);
    }

    #[test]
    fn small_modulus_matches_num_bigint() {
        // n = 2^127 + 45 style value not filling the width.
        let n = [0x2du64, 0x8000_0000_0000_0000, 0];
        let m = Mont::<3>::new(&n).unwrap();
        let a = [5u64, 7, 0];
        let e = [65537u64];
        let r = m.from_mont(&m.pow(&m.to_mont(&a), &e));
        let want = big(&a).modpow(&BigUint::from(65537u32), &big(&n));
        assert_eq!(big(&r), want);
        assert_eq!(limbs_of::<3>(&want), r);
    }
}
