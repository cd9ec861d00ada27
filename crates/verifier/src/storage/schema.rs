//! The schema, embedded and applied at start (one list of migrations for
//! both backends; `{BLOB}` and `{ID}` are spelled per backend). Every
//! timestamp is milliseconds since the Unix epoch in a BIGINT, every flag a
//! BIGINT 0/1, so the same queries run on SQLite and PostgreSQL.

/// (version, statements). Append only: a released migration never changes.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, V1),
    // Row revision of an agent, bumped by every write to its row: the
    // verifier keeps agents it attests in memory and commits a round only
    // if nobody (another replica, an operator) changed the row since.
    (
        2,
        "ALTER TABLE agents ADD COLUMN rev BIGINT NOT NULL DEFAULT 0",
    ),
    (3, V3),
    // Whether the EK's issuer is a hardware root (see
    // `ServiceConfig::software_anchors`); rows enrolled before keep the
    // earlier assumption, hardware.
    (
        4,
        "ALTER TABLE agents ADD COLUMN hardware_root BIGINT NOT NULL DEFAULT 1",
    ),
];

/// Width of a `seen_bucket` (`last_seen / SEEN_BUCKET_MS`), the coarse
/// time the unreachable sweep finds stale agents by.
///
/// Every round rewrites `last_seen`; an index on it moved the row's entry
/// from a random B-tree page to the index's right edge every round, a
/// third of the row write's CPU (BENCHMARKS.md, "Issue 5", run I). The
/// bucket changes once per `SEEN_BUCKET_MS`. PostgreSQL (HOT updates)
/// then leaves the index alone; SQLite rewrites the entry of every index
/// with a column in the UPDATE's SET list even when the value is the same
/// (EXPLAIN shows IdxDelete + IdxInsert), so the round batch leaves the
/// index's columns out of the statement for rounds that keep them
/// (`storage::batch`). The sweep narrows by bucket through the index and
/// checks `last_seen` on the few rows left.
pub const SEEN_BUCKET_MS: i64 = 30_000;

/// The `seen_bucket` of a time (ms since the epoch), as the SQL that keeps
/// the column computes it (`last_seen / SEEN_BUCKET_MS`; times are not
/// negative, where integer division and flooring agree).
pub fn seen_bucket(ms: i64) -> i64 {
    ms.div_euclid(SEEN_BUCKET_MS)
}

/// The sweep index on `seen_bucket` instead of `last_seen` (see
/// [`SEEN_BUCKET_MS`]; the literal 30000 below is that constant, and a
/// released migration never changes).
const V3: &str = r#"
ALTER TABLE agents ADD COLUMN seen_bucket BIGINT NOT NULL DEFAULT 0;
UPDATE agents SET seen_bucket = last_seen / 30000;
DROP INDEX IF EXISTS agents_sweep;
CREATE INDEX IF NOT EXISTS agents_sweep_bucket ON agents (appraisal_state, seen_bucket)
"#;

const V1: &str = r#"
CREATE TABLE IF NOT EXISTS agents (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ek_cert {BLOB} NOT NULL,
    ek_public {BLOB} NOT NULL,
    ak_public {BLOB} NOT NULL,
    ak_name {BLOB} NOT NULL,
    ek_issuer TEXT NOT NULL,
    activation_digest {BLOB},
    vtpm_ca_cert {BLOB},
    host_id TEXT,
    policy TEXT,
    state TEXT NOT NULL,
    reasons TEXT NOT NULL,
    appraisal_state TEXT NOT NULL,
    appraisal_reasons TEXT NOT NULL,
    manual_reason TEXT,
    history TEXT,
    trust_vector TEXT,
    ima_offset BIGINT NOT NULL DEFAULT 0,
    nonce {BLOB},
    nonce_expires BIGINT NOT NULL DEFAULT 0,
    last_seen BIGINT NOT NULL DEFAULT 0,
    attestations BIGINT NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS agents_host ON agents (host_id);
CREATE INDEX IF NOT EXISTS agents_sweep ON agents (appraisal_state, last_seen);
CREATE TABLE IF NOT EXISTS policies (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id {ID},
    agent_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    previous_state TEXT NOT NULL,
    state TEXT NOT NULL,
    reasons TEXT NOT NULL,
    replica TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_agent ON results (agent_id, id);
CREATE TABLE IF NOT EXISTS webhooks (
    id {ID},
    url TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id {ID},
    webhook_id BIGINT NOT NULL,
    agent_id TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (status, webhook_id, agent_id, id)
"#;

/// The statements of `sql` for the backend (`postgres` or not).
pub fn statements(sql: &str, postgres: bool) -> Vec<String> {
    let (blob, id) = if postgres {
        ("BYTEA", "BIGSERIAL PRIMARY KEY")
    } else {
        ("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT")
    };
    sql.replace("{BLOB}", blob)
        .replace("{ID}", id)
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 3 spells the bucket width as a literal (migrations never
    /// change); the code that keeps `seen_bucket` current uses the constant.
    #[test]
    fn migration_3_uses_the_bucket_width() {
        assert!(V3.contains(&format!("last_seen / {SEEN_BUCKET_MS};")));
    }
}
