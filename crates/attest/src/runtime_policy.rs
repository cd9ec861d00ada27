//! Keylime's IMA runtime policy (the JSON `keylime_create_policy` writes,
//! "meta": {"version": 1}), so existing Keylime policies load unchanged:
//!
//! ```json
//! {"meta": {"version": 1, "generator": 1},
//!  "release": 0,
//!  "digests": {"/usr/bin/bash": ["<hex>", ...], "boot_aggregate": ["<hex>"]},
//!  "excludes": ["/tmp/.*", ...],
//!  "keyrings": {".ima": ["<hex>"]},
//!  "ima": {"ignored_keyrings": ["*"], "log_hash_alg": "sha1", "dm_policy": null},
//!  "ima-buf": {}, "verification-keys": ""}
//! ```
//!
//! Evaluation of one entry follows Keylime's (keylime/ima/ima.py): a path
//! matching an exclude (Keylime joins them with `|` and uses
//! `re.match`, i.e. anchored at the start) passes; otherwise the path must
//! be in `digests` and the file digest must be one of its values (hex,
//! compared case-insensitively). `ima-buf` entries are keyring or
//! kexec measurements: a keyring listed in `ima.ignored_keyrings` (or
//! `"*"`) passes, else the buffer digest must be in `keyrings[name]`.
//! Unknown fields are kept (serde `flatten`) so a policy round-trips.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::RegexSet;
use serde::{Deserialize, Serialize};

use crate::failure::{hex, Failure};
use crate::ima::ImaEntry;

/// `meta` of a Keylime runtime policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub version: u32,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            version: 1,
            other: BTreeMap::new(),
        }
    }
}

/// `ima` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaSection {
    #[serde(default)]
    pub ignored_keyrings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_hash_alg: Option<String>,
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// A Keylime runtime policy.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RuntimePolicy {
    #[serde(default)]
    pub meta: Meta,
    #[serde(default)]
    pub digests: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub excludes: Vec<String>,
    #[serde(default)]
    pub keyrings: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub ima: ImaSection,
    /// Every other Keylime field (`release`, `ima-buf`,
    /// `verification-keys`...), kept verbatim.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
    #[serde(skip)]
    compiled: OnceLock<Result<RegexSet, String>>,
    /// `digests` by path in a hash map with the digests decoded, built on
    /// first use: the ordered map's string comparisons and the hex
    /// compare were a fifth of an IMA appraisal (BENCHMARKS.md, "Issue 5",
    /// run F). An entry that is not hex decodes to nothing and matches no
    /// measurement, as its text matched none before.
    #[serde(skip)]
    index: OnceLock<HashMap<String, Vec<Vec<u8>>>>,
}

impl PartialEq for RuntimePolicy {
    fn eq(&self, o: &Self) -> bool {
        self.meta == o.meta
            && self.digests == o.digests
            && self.excludes == o.excludes
            && self.keyrings == o.keyrings
            && self.ima == o.ima
            && self.other == o.other
    }
}

/// The version of the format this reads (Keylime RUNTIME_POLICY_CURRENT_VERSION).
pub const RUNTIME_POLICY_VERSION: u32 = 1;

impl RuntimePolicy {
    /// Parses and validates (version, regexes) a Keylime policy.
    pub fn from_json(text: &str) -> Result<RuntimePolicy, Failure> {
        let p: RuntimePolicy = serde_json::from_str(text)
            .map_err(|e| Failure::PolicyInvalid(format!("runtime policy: {e}")))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks the version and compiles the excludes (once).
    pub fn validate(&self) -> Result<(), Failure> {
        if self.meta.version != RUNTIME_POLICY_VERSION {
            return Err(Failure::PolicyInvalid(format!(
                "runtime policy version {} (only {RUNTIME_POLICY_VERSION} is supported)",
                self.meta.version
            )));
        }
        self.excludes_set().map(|_| ())
    }

    fn excludes_set(&self) -> Result<&RegexSet, Failure> {
        self.compiled
            .get_or_init(|| {
                RegexSet::new(self.excludes.iter().map(|e| format!("^(?:{e})")))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| Failure::PolicyInvalid(format!("runtime policy exclude: {e}")))
    }

    fn digest_index(&self) -> &HashMap<String, Vec<Vec<u8>>> {
        self.index.get_or_init(|| {
            self.digests
                .iter()
                .map(|(path, list)| {
                    let decoded = list.iter().filter_map(|d| hex::decode(d).ok()).collect();
                    (path.clone(), decoded)
                })
                .collect()
        })
    }

    /// Whether `path` matches an exclude.
    pub fn is_excluded(&self, path: &str) -> Result<bool, Failure> {
        Ok(self.excludes_set()?.is_match(path))
    }

    /// Appraises one IMA entry (index `entry`, for messages).
    ///
    /// An entry passes when its path is excluded, or listed with its
    /// digest (Keylime's rule); the digest lookup comes first because it is
    /// the common case and costs no regex match or allocation.
    pub fn check_entry(&self, entry: u64, e: &ImaEntry<'_>) -> Result<(), Failure> {
        let ev = match e.event(entry) {
            None => {
                return Err(Failure::ImaTemplateUnsupported {
                    entry,
                    template: e.template_name.into(),
                })
            }
            Some(Err(err)) => return Err(Failure::ImaMalformed(err.to_string())),
            Some(Ok(ev)) => ev,
        };
        let owned;
        let path: &str = match std::str::from_utf8(ev.path) {
            Ok(p) => p,
            Err(_) => {
                owned = String::from_utf8_lossy(ev.path).into_owned();
                &owned
            }
        };
        if e.is_violation() {
            if self.is_excluded(path)? {
                return Ok(());
            }
            return Err(Failure::ImaViolation {
                entry,
                path: path.into(),
            });
        }
        if ev.buf.is_some() {
            return self.check_buffer(entry, path, ev.digest);
        }
        let listed = self.digest_index().get(path);
        if let Some(allowed) = listed {
            if allowed.iter().any(|a| a.as_slice() == ev.digest) {
                return Ok(());
            }
        }
        if self.is_excluded(path)? {
            return Ok(());
        }
        match listed {
            None => Err(Failure::ImaFileNotInPolicy {
                entry,
                path: path.into(),
            }),
            Some(_) => Err(Failure::ImaDigestNotAllowed {
                entry,
                path: path.into(),
                digest: format!("{}:{}", ev.digest_alg, hex(ev.digest)),
            }),
        }
    }

    fn check_buffer(&self, entry: u64, name: &str, digest: &[u8]) -> Result<(), Failure> {
        let ignored = &self.ima.ignored_keyrings;
        if ignored.iter().any(|k| k == "*" || k == name) {
            return Ok(());
        }
        let digest_hex = hex(digest);
        match self.keyrings.get(name) {
            Some(allowed) if allowed.iter().any(|a| a.eq_ignore_ascii_case(&digest_hex)) => Ok(()),
            Some(_) => Err(Failure::ImaDigestNotAllowed {
                entry,
                path: format!("ima-buf {name}"),
                digest: digest_hex,
            }),
            None => Err(Failure::ImaFileNotInPolicy {
                entry,
                path: format!("ima-buf {name}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ima::{ima_buf_data, ima_ng_data, write_entry, ImaLog};

    const POLICY: &str = r#"{
        "meta": {"version": 1, "generator": 1, "timestamp": "2024-01-01"},
        "release": 0,
        "digests": {
            "/usr/bin/true": ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
            "boot_aggregate": ["0000000000000000000000000000000000000000000000000000000000000000"]
        },
        "excludes": ["/tmp/.*", "/var/log"],
        "keyrings": {".builtin_trusted_keys": ["bb"]},
        "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
        "ima-buf": {},
        "verification-keys": ""
    }"#;

    fn entry(data: Vec<u8>, template: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_entry(&mut out, 10, template, &data, false);
        out
    }

    #[test]
    fn keylime_policy_loads_round_trips_and_appraises() {
        let p = RuntimePolicy::from_json(POLICY).unwrap();
        let back: RuntimePolicy =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert!(back.other.contains_key("verification-keys"));

        let ok = entry(
            ima_ng_data("sha256", &[0xaa; 32], "/usr/bin/true"),
            "ima-ng",
        );
        let e = ImaLog::parse(&ok).unwrap();
        assert_eq!(p.check_entry(0, &e[0]), Ok(()));

        let excluded = entry(ima_ng_data("sha256", &[1; 32], "/tmp/foo"), "ima-ng");
        assert_eq!(
            p.check_entry(1, &ImaLog::parse(&excluded).unwrap()[0]),
            Ok(())
        );
        // Anchored at the start: /x/tmp/foo is not excluded.
        let not_excl = entry(ima_ng_data("sha256", &[1; 32], "/x/tmp/foo"), "ima-ng");
        assert_eq!(
            p.check_entry(2, &ImaLog::parse(&not_excl).unwrap()[0]),
            Err(Failure::ImaFileNotInPolicy {
                entry: 2,
                path: "/x/tmp/foo".into()
            })
        );
        let wrong = entry(
            ima_ng_data("sha256", &[0xbb; 32], "/usr/bin/true"),
            "ima-ng",
        );
        let f = p
            .check_entry(3, &ImaLog::parse(&wrong).unwrap()[0])
            .unwrap_err();
        assert!(
            f.to_string()
                .contains("/usr/bin/true has digest sha256:bbbb"),
            "{f}"
        );

        let buf = entry(ima_buf_data("sha256", ".ima", b"cert"), "ima-buf");
        assert!(matches!(
            p.check_entry(4, &ImaLog::parse(&buf).unwrap()[0]),
            Err(Failure::ImaFileNotInPolicy { .. })
        ));
    }

    #[test]
    fn bad_version_and_bad_regex_are_refused() {
        let v2 = POLICY.replace("\"version\": 1", "\"version\": 2");
        assert!(RuntimePolicy::from_json(&v2).is_err());
        let bad = POLICY.replace("/var/log", "(unclosed");
        let e = RuntimePolicy::from_json(&bad).unwrap_err();
        assert!(e.to_string().contains("exclude"), "{e}");
    }
}
