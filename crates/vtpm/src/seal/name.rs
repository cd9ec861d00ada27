//! Instance names: they become file names (`NAME.sealed`) and enter key
//! derivation, so only a small, unambiguous alphabet is allowed.

/// Longest instance name.
pub const MAX_NAME: usize = 64;

/// Checks an instance name: 1..=64 bytes of `A-Z a-z 0-9 . _ -`, not
/// starting with `.` or `-` (no hidden files, no option look-alikes, no
/// path separators).
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > MAX_NAME {
        return Err("longer than 64 bytes");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err("starts with '.' or '-'");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only A-Z a-z 0-9 . _ - are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["vm1", "a", "VM-01_x.y", &"a".repeat(64)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".x",
            "-x",
            "a/b",
            "a b",
            "ä",
            "..",
            &"a".repeat(65),
            "a\0",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
