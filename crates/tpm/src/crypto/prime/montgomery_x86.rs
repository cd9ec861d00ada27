//! The Montgomery product and square for 8, 16, 24 and 32 limbs (the
//! primes of RSA-1024, 2048, 3072 and 4096 keys, and the RSA-2048 public
//! operation) in
//! x86-64 assembly with `mulx`/`adcx`/`adox` (BMI2 + ADX), behind a run-time
//! check; the only `unsafe` code of the crate.
//!
//! Why: the prime search of RSA key derivation is ~85 % Montgomery
//! squares, and portable u64/u128 code needs ~9 instructions per word
//! product for its carry chains (BENCHMARKS.md, "Where the time goes").
//! `mulx` leaves the flags alone and `adcx`/`adox` carry through CF and OF
//! separately, so the low and high halves of a row of products go into two
//! independent carry chains at ~4 instructions per word product — the way
//! OpenSSL (which libtpms/swtpm use) multiplies on the same processors.
//! The compiler cannot do this from intrinsics: it does not keep two flag
//! chains apart.
//!
//! Algorithms: the product by coarsely integrated operand scanning (CIOS;
//! Koç–Acar–Kaliski 1996): for each word b\[i\], one row t += a·b\[i\],
//! then one row t = (t + m·n) / 2^64 with m = t\[0\]·(−n⁻¹) mod 2^64. The
//! square as the portable one (cross products once, doubled, plus the
//! diagonal, then N reduction rows). Every row and the number of rows are
//! fixed by N and the final subtraction selects with `cmovc`: no branch or
//! address depends on the operands (no worse in constant time than the
//! portable code). Results equal the portable code's word for word
//! (tests in `montgomery.rs`).
//!
//! Measured (1024-bit modulus, callgrind): a square is ~2.2 k
//! instructions against ~4.6 k for the portable one; one RSA-2048
//! derivation 0.38 G instructions against 0.75 G. Valgrind does not report
//! ADX, so under callgrind the library itself takes the portable path.
//!
//! Safety argument, in one place:
//! - The instructions exist: an [`Adx`] value is only made by
//!   [`Adx::detect`] after `is_x86_feature_detected!` reported both BMI2
//!   (`mulx`) and ADX (`adcx`, `adox`); everything else is baseline x86-64.
//! - Memory: the assembly reads a, b and n at word offsets 0…N−1 and
//!   writes `out` at 0…N−1 (N is the length of the `&[u64; N]` /
//!   `&mut [u64; N]` arrays the safe wrappers hand over, and each
//!   function is only called from the match arm of its own N). It reads
//!   and writes its own local scratch array: the product's t at words
//!   0…N+2 of an `[u64; N + 3]` (`t` points to word 1; word 0 takes the
//!   zero each reduction row shifts out), the square's a² at words
//!   0…2N−1 of an `[u64; 2N]`. No other memory, no stack (`nostack`).
//! - Registers: all registers it writes are declared outputs or clobbers
//!   (rdx explicitly, flags by default).

/// Proof that this processor has BMI2 and ADX; made only by
/// [`Adx::detect`].
#[derive(Clone, Copy, Debug)]
pub struct Adx(());

impl Adx {
    /// `Some` if the processor has `mulx`, `adcx` and `adox` (std caches
    /// the CPUID result, so this is cheap after the first call).
    #[cfg(target_arch = "x86_64")]
    pub fn detect() -> Option<Adx> {
        (std::arch::is_x86_feature_detected!("bmi2") && std::arch::is_x86_feature_detected!("adx"))
            .then_some(Adx(()))
    }

    /// Never on other architectures: the portable code runs.
    #[cfg(not(target_arch = "x86_64"))]
    pub fn detect() -> Option<Adx> {
        None
    }

    /// a·b·2^(−64N) mod n, fully reduced (a, b below n, n odd,
    /// n0 = −n⁻¹ mod 2^64), or `None` for limb counts without an assembly
    /// version.
    #[inline]
    pub fn mul<const N: usize>(
        self,
        a: &[u64; N],
        b: &[u64; N],
        n: &[u64; N],
        n0: u64,
    ) -> Option<[u64; N]> {
        let mut out = [0u64; N];
        #[cfg(target_arch = "x86_64")]
        {
            let (a, b, n, o) = (a.as_ptr(), b.as_ptr(), n.as_ptr(), out.as_mut_ptr());
            // SAFETY: see the module documentation; `self` proves the
            // instructions exist and each arm's function takes N words.
            unsafe {
                match N {
                    8 => mul8(a, b, n, n0, o),
                    16 => mul16(a, b, n, n0, o),
                    24 => mul24(a, b, n, n0, o),
                    32 => mul32(a, b, n, n0, o),
                    _ => return None,
                }
            }
            Some(out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (a, b, n, n0, &mut out);
            None
        }
    }

    /// a²·2^(−64N) mod n as [`Adx::mul`], by a dedicated square: each
    /// cross product a\[i\]·a\[j\] (i < j) once, doubled, plus the
    /// diagonal a\[i\]², then a separate reduction (376 word products for
    /// 16 limbs instead of 512).
    #[inline]
    pub fn square<const N: usize>(self, a: &[u64; N], n: &[u64; N], n0: u64) -> Option<[u64; N]> {
        let mut out = [0u64; N];
        #[cfg(target_arch = "x86_64")]
        {
            let (a, n, o) = (a.as_ptr(), n.as_ptr(), out.as_mut_ptr());
            // SAFETY: as in `mul`.
            unsafe {
                match N {
                    8 => sq8(a, n, n0, o),
                    16 => sq16(a, n, n0, o),
                    24 => sq24(a, n, n0, o),
                    32 => sq32(a, n, n0, o),
                    _ => return None,
                }
            }
            Some(out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (a, n, n0, &mut out);
            None
        }
    }
}

/// The final conditional subtraction, branch-free: `out` = t − n, then
/// t_hi − borrow sets CF exactly when t + t_hi·R < n (t_hi = 0 and the
/// subtraction borrowed), and `cmovc` puts t back word by word. (t + t_hi·R
/// is below 2n, so one subtraction reduces it.)
#[cfg(target_arch = "x86_64")]
macro_rules! final_sub {
    ($t:ident, $hi:ident; $first:literal $($j:literal)*) => {
        concat!(
            "mov {lo}, qword ptr [{", stringify!($t), "}]\n",
            "sub {lo}, qword ptr [{n}]\n",
            "mov qword ptr [{out}], {lo}\n",
            $(
                "mov {lo}, qword ptr [{", stringify!($t), "} + 8*", stringify!($j), "]\n",
                "sbb {lo}, qword ptr [{n} + 8*", stringify!($j), "]\n",
                "mov qword ptr [{out} + 8*", stringify!($j), "], {lo}\n",
            )*
            "sbb {", stringify!($hi), "}, 0\n",
            "mov {lo}, qword ptr [{out}]\n",
            "cmovc {lo}, qword ptr [{", stringify!($t), "}]\n",
            "mov qword ptr [{out}], {lo}\n",
            $(
                "mov {lo}, qword ptr [{out} + 8*", stringify!($j), "]\n",
                "cmovc {lo}, qword ptr [{", stringify!($t), "} + 8*", stringify!($j), "]\n",
                "mov qword ptr [{out} + 8*", stringify!($j), "], {lo}\n",
            )*
        )
    };
}

/// One row t += a·b\[i\] (rdx = b\[i\]): per word, the product's low half
/// goes into t\[j\] on the OF chain and the previous product's high half on
/// the CF chain; h0/h1 alternate as "this high half" / "previous one".
#[cfg(target_arch = "x86_64")]
macro_rules! row_mul {
    ($( ($e:literal, $o:literal) )*) => {
        concat!($(
            "mulx {h0}, {lo}, qword ptr [{a} + 8*", stringify!($e), "]\n",
            "adox {lo}, qword ptr [{t} + 8*", stringify!($e), "]\n",
            "adcx {lo}, {h1}\n",
            "mov qword ptr [{t} + 8*", stringify!($e), "], {lo}\n",
            "mulx {h1}, {lo}, qword ptr [{a} + 8*", stringify!($o), "]\n",
            "adox {lo}, qword ptr [{t} + 8*", stringify!($o), "]\n",
            "adcx {lo}, {h0}\n",
            "mov qword ptr [{t} + 8*", stringify!($o), "], {lo}\n",
        )*)
    };
}

/// One row t = (t + m·n) / 2^64 (rdx = m): as `row_mul`, each word stored
/// one place lower (word 0 becomes zero and lands in the scratch word).
#[cfg(target_arch = "x86_64")]
macro_rules! row_reduce {
    ($( ($e:literal, $o:literal) )*) => {
        concat!($(
            "mulx {h0}, {lo}, qword ptr [{n} + 8*", stringify!($e), "]\n",
            "adox {lo}, qword ptr [{t} + 8*", stringify!($e), "]\n",
            "adcx {lo}, {h1}\n",
            "mov qword ptr [{t} + 8*", stringify!($e), " - 8], {lo}\n",
            "mulx {h1}, {lo}, qword ptr [{n} + 8*", stringify!($o), "]\n",
            "adox {lo}, qword ptr [{t} + 8*", stringify!($o), "]\n",
            "adcx {lo}, {h0}\n",
            "mov qword ptr [{t} + 8*", stringify!($o), " - 8], {lo}\n",
        )*)
    };
}

/// `unsafe fn $name(a, b, n, n0, out)`: the whole CIOS product for
/// $limbs limbs into `out`, fully reduced.
#[cfg(target_arch = "x86_64")]
macro_rules! mont_mul {
    ($name:ident, $limbs:literal, [$($i:literal)*], $( $pair:tt )*) => {
        /// # Safety
        /// BMI2 and ADX present; a, b, n valid for reads of $limbs words,
        /// `out` for writes of $limbs words.
        #[inline]
        unsafe fn $name(a: *const u64, b: *const u64, n: *const u64, n0: u64, out: *mut u64) {
            // t (N + 2 words) and, below it, the word each reduction row
            // shifts out.
            let mut s = [0u64; $limbs + 3];
            core::arch::asm!(
                "2:",
                // t += a·b[i]
                "mov rdx, qword ptr [{b}]",
                "lea {b}, [{b} + 8]",
                "xor {h1:e}, {h1:e}", // h1 = 0, CF = OF = 0
                row_mul!($( $pair )*),
                // Close both chains into the last high half (the row
                // fits in N + 1 words, so this cannot overflow), then
                // into t[N], t[N+1].
                "mov {h0:e}, 0",
                "adcx {h1}, {h0}",
                "adox {h1}, {h0}",
                concat!("add qword ptr [{t} + 8*", stringify!($limbs), "], {h1}"),
                concat!("adc qword ptr [{t} + 8*", stringify!($limbs), " + 8], 0"),
                // t = (t + m·n) / 2^64
                "mov rdx, qword ptr [{t}]",
                "imul rdx, {n0}",
                "xor {h1:e}, {h1:e}",
                row_reduce!($( $pair )*),
                "mov {h0:e}, 0",
                "adcx {h1}, {h0}",
                "adox {h1}, {h0}",
                concat!("mov {lo}, qword ptr [{t} + 8*", stringify!($limbs), "]"),
                "add {lo}, {h1}",
                concat!("mov qword ptr [{t} + 8*", stringify!($limbs), " - 8], {lo}"),
                concat!("mov {lo}, qword ptr [{t} + 8*", stringify!($limbs), " + 8]"),
                "adc {lo}, 0",
                concat!("mov qword ptr [{t} + 8*", stringify!($limbs), "], {lo}"),
                concat!("mov qword ptr [{t} + 8*", stringify!($limbs), " + 8], 0"),
                "dec {i}",
                "jnz 2b",
                // t + t[N]·R < 2n: into `out`, below n.
                concat!("mov {h0}, qword ptr [{t} + 8*", stringify!($limbs), "]"),
                final_sub!(t, h0; $($i)*),
                a = in(reg) a,
                b = inout(reg) b => _,
                n = in(reg) n,
                n0 = in(reg) n0,
                t = in(reg) s.as_mut_ptr().add(1),
                out = in(reg) out,
                i = inout(reg) $limbs as u64 => _,
                h0 = out(reg) _,
                h1 = out(reg) _,
                lo = out(reg) _,
                out("rdx") _,
                options(nostack),
            );
        }
    };
}

#[cfg(target_arch = "x86_64")]
mont_mul!(mul8, 8, [0 1 2 3 4 5 6 7], (0, 1) (2, 3) (4, 5) (6, 7));

#[cfg(target_arch = "x86_64")]
mont_mul!(mul16, 16, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15));

#[cfg(target_arch = "x86_64")]
mont_mul!(mul24, 24,
    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15)
    (16, 17) (18, 19) (20, 21) (22, 23));

#[cfg(target_arch = "x86_64")]
mont_mul!(mul32, 32,
    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23
     24 25 26 27 28 29 30 31],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15)
    (16, 17) (18, 19) (20, 21) (22, 23) (24, 25) (26, 27) (28, 29) (30, 31));

/// Cross-product row i of the square: w\[i+j\] += a\[i\]·a\[j\] for the
/// listed j (rdx = a\[i\]), then the row's last high half into the fresh
/// word w\[i+N\]. `$hn`/`$hp` swap at each step (this / previous high
/// half), as in `row_mul`.
#[cfg(target_arch = "x86_64")]
macro_rules! sq_cross_row {
    ($n:literal; $i:literal; $hn:ident $hp:ident;) => {
        concat!(
            "mov {", stringify!($hn), ":e}, 0\n",
            "adcx {", stringify!($hp), "}, {", stringify!($hn), "}\n",
            "adox {", stringify!($hp), "}, {", stringify!($hn), "}\n",
            "mov qword ptr [{w} + 8*", stringify!($i), " + 8*", stringify!($n), "], {",
            stringify!($hp), "}\n",
        )
    };
    ($n:literal; $i:literal; $hn:ident $hp:ident; $j:literal $($rest:literal)*) => {
        concat!(
            "mulx {", stringify!($hn), "}, {lo}, qword ptr [{a} + 8*", stringify!($j), "]\n",
            "adox {lo}, qword ptr [{w} + 8*", stringify!($i), " + 8*", stringify!($j), "]\n",
            "adcx {lo}, {", stringify!($hp), "}\n",
            "mov qword ptr [{w} + 8*", stringify!($i), " + 8*", stringify!($j), "], {lo}\n",
            sq_cross_row!($n; $i; $hp $hn; $($rest)*),
        )
    };
}

/// All cross-product rows: row i multiplies by every later limb, which is
/// exactly the rest of the list.
#[cfg(target_arch = "x86_64")]
macro_rules! sq_cross_all {
    ($n:literal; $i:literal) => { "" };
    ($n:literal; $i:literal $($rest:literal)+) => {
        concat!(
            "mov rdx, qword ptr [{a} + 8*", stringify!($i), "]\n",
            "xor {h1:e}, {h1:e}\n",
            sq_cross_row!($n; $i; h0 h1; $($rest)+),
            sq_cross_all!($n; $($rest)+),
        )
    };
}

/// w = 2w + Σ a\[i\]²·2^(128i): doubling on the CF chain, the squares on
/// the OF chain (both end at zero: the result is a² < 2^(128N)).
#[cfg(target_arch = "x86_64")]
macro_rules! sq_diag {
    ($($i:literal)*) => {
        concat!($(
            "mov rdx, qword ptr [{a} + 8*", stringify!($i), "]\n",
            "mulx {h1}, {h0}, rdx\n",
            "mov {lo}, qword ptr [{w} + 16*", stringify!($i), "]\n",
            "mov {extra}, qword ptr [{w} + 16*", stringify!($i), " + 8]\n",
            "adcx {lo}, {lo}\n",
            "adcx {extra}, {extra}\n",
            "adox {lo}, {h0}\n",
            "adox {extra}, {h1}\n",
            "mov qword ptr [{w} + 16*", stringify!($i), "], {lo}\n",
            "mov qword ptr [{w} + 16*", stringify!($i), " + 8], {extra}\n",
        )*)
    };
}

/// One in-place reduction row w\[0..N\] += m·n (rdx = m), as `row_mul`.
#[cfg(target_arch = "x86_64")]
macro_rules! row_redc {
    ($( ($e:literal, $o:literal) )*) => {
        concat!($(
            "mulx {h0}, {lo}, qword ptr [{n} + 8*", stringify!($e), "]\n",
            "adox {lo}, qword ptr [{w} + 8*", stringify!($e), "]\n",
            "adcx {lo}, {h1}\n",
            "mov qword ptr [{w} + 8*", stringify!($e), "], {lo}\n",
            "mulx {h1}, {lo}, qword ptr [{n} + 8*", stringify!($o), "]\n",
            "adox {lo}, qword ptr [{w} + 8*", stringify!($o), "]\n",
            "adcx {lo}, {h0}\n",
            "mov qword ptr [{w} + 8*", stringify!($o), "], {lo}\n",
        )*)
    };
}

/// `unsafe fn $name(a, n, n0, out)`: a² into w\[0..2N\], then N
/// reduction rows, each clearing the lowest remaining word (the pointer
/// moves up one word per row) and carrying into the word N above it;
/// `extra` carries what overflows that word into the next row. Leaves t
/// in w\[N..2N\] with t_hi in `extra`, then reduces into `out`.
#[cfg(target_arch = "x86_64")]
macro_rules! mont_square {
    ($name:ident, $limbs:literal, [$($i:literal)*], $( $pair:tt )*) => {
        /// # Safety
        /// BMI2 and ADX present; a, n valid for reads of $limbs words,
        /// `out` for writes of $limbs words.
        #[inline]
        unsafe fn $name(a: *const u64, n: *const u64, n0: u64, out: *mut u64) {
            let mut w = [0u64; 2 * $limbs];
            core::arch::asm!(
                sq_cross_all!($limbs; $($i)*),
                "xor {h0:e}, {h0:e}",
                sq_diag!($($i)*),
                "xor {extra:e}, {extra:e}",
                "2:",
                "mov rdx, qword ptr [{w}]",
                "imul rdx, {n0}",
                "xor {h1:e}, {h1:e}",
                row_redc!($( $pair )*),
                "mov {h0:e}, 0",
                "adcx {h1}, {h0}",
                "adox {h1}, {h0}",
                concat!("add {h1}, qword ptr [{w} + 8*", stringify!($limbs), "]"),
                "adc {h0}, 0",
                "add {h1}, {extra}",
                "adc {h0}, 0",
                concat!("mov qword ptr [{w} + 8*", stringify!($limbs), "], {h1}"),
                "mov {extra}, {h0}",
                "lea {w}, [{w} + 8]",
                "dec {i}",
                "jnz 2b",
                // {w} now points at t.
                final_sub!(w, extra; $($i)*),
                a = in(reg) a,
                n = in(reg) n,
                n0 = in(reg) n0,
                w = inout(reg) w.as_mut_ptr() => _,
                out = in(reg) out,
                i = inout(reg) $limbs as u64 => _,
                h0 = out(reg) _,
                h1 = out(reg) _,
                lo = out(reg) _,
                extra = out(reg) _,
                out("rdx") _,
                options(nostack),
            );
        }
    };
}

#[cfg(target_arch = "x86_64")]
mont_square!(sq8, 8, [0 1 2 3 4 5 6 7], (0, 1) (2, 3) (4, 5) (6, 7));

#[cfg(target_arch = "x86_64")]
mont_square!(sq16, 16, [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15));

#[cfg(target_arch = "x86_64")]
mont_square!(sq24, 24,
    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15)
    (16, 17) (18, 19) (20, 21) (22, 23));

#[cfg(target_arch = "x86_64")]
mont_square!(sq32, 32,
    [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23
     24 25 26 27 28 29 30 31],
    (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15)
    (16, 17) (18, 19) (20, 21) (22, 23) (24, 25) (26, 27) (28, 29) (30, 31));
