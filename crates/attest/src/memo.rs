//! A value derived from its owner's other fields, computed on first use
//! and kept beside them, for derived values the verifier would otherwise
//! recompute every round (a policy's fingerprint).

use std::fmt;
use std::sync::OnceLock;

/// Not part of the owner's identity: equal to any other memo, empty in a
/// clone (a clone may be edited, so its value is derived again), skipped by
/// serde (`#[serde(skip)]`). The owner must not be edited in place after
/// the value was derived; edit a clone.
#[derive(Default)]
pub(crate) struct Memo<T>(OnceLock<T>);

impl<T> Memo<T> {
    pub(crate) fn get_or_init(&self, derive: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(derive)
    }
}

impl<T> Clone for Memo<T> {
    fn clone(&self) -> Self {
        Memo(OnceLock::new())
    }
}

impl<T> PartialEq for Memo<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Memo<T> {}

impl<T> fmt::Debug for Memo<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Memo")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_once_and_a_clone_derives_again() {
        let m: Memo<u32> = Memo::default();
        assert_eq!(*m.get_or_init(|| 1), 1);
        assert_eq!(*m.get_or_init(|| 2), 1, "kept");
        let c = m.clone();
        assert_eq!(*c.get_or_init(|| 3), 3, "a clone starts empty");
        assert_eq!(m, c);
    }
}
