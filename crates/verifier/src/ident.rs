//! Agent identifiers: `[A-Za-z0-9._-]{1,64}` (protocol::EnrollRequest), so
//! an id is safe as a file name, a URL segment and a certificate CN.

/// Whether `id` is an acceptable agent id.
pub fn valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Policy names follow the same rule.
pub fn valid_policy_name(name: &str) -> bool {
    valid_agent_id(name)
}
