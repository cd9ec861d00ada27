//! Storage through sqlx: SQLite by default (`DATA/verifier.db`, WAL, busy
//! timeout), PostgreSQL with `postgres://...`. One [`Store`] over sqlx's
//! `Any` driver runs the same SQL on both (numbered `$N` parameters work
//! on both); the few backend differences (row locking with `FOR UPDATE
//! SKIP LOCKED`, column types) are spelled here.
//!
//! Several verifier processes may share one PostgreSQL: everything a
//! request needs is in the database (nonces too, so any replica can take
//! any evidence), nonces are consumed by a conditional UPDATE (single use
//! across replicas), and periodic work (the unreachable sweep, webhook
//! delivery) is claimed with leases (`lease_owner`, `lease_until`) so two
//! replicas never do the same piece twice.

mod batch;
mod checkpoint;
mod schema;

use std::borrow::Cow;
use std::time::Duration;

use attest::protocol::{NodeKind, NodeState};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Why the database could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database holds an invalid value in {0}")]
    Corrupt(&'static str),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    Url(String),
    #[error("database (batched rounds): {0}")]
    Batch(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything the verifier keeps about one agent (a node: host or VM).
#[derive(Clone, Debug)]
pub struct AgentRecord {
    pub id: String,
    pub kind: NodeKind,
    pub ek_cert: Vec<u8>,
    pub ek_public: Vec<u8>,
    pub ak_public: Vec<u8>,
    pub ak_name: Vec<u8>,
    /// Subject of the CA that issued the EK certificate.
    pub ek_issuer: String,
    /// The EK certificate chains to a hardware root (a `--trust-anchor`,
    /// or for a VM a host that does), not to a software TPM's CA
    /// (`--software-trust-anchor`): the EAR `hardware` claim says which.
    pub hardware_root: bool,
    /// Expected activation proof (HMAC of the credential secret) until the
    /// agent activates; `None` once activated.
    pub activation_digest: Option<Vec<u8>>,
    pub vtpm_ca_cert: Option<Vec<u8>>,
    pub host_id: Option<String>,
    pub policy: Option<String>,
    /// Effective state: appraisal combined with host link and manual mark.
    pub status: Status,
    /// attest's per-agent history (counters, clock, IMA state), JSON.
    pub history: Option<String>,
    /// AR4SI vector of the last appraisal (JSON), for EAR tokens.
    pub trust_vector: Option<String>,
    pub ima_offset: i64,
    pub last_seen: i64,
    pub attestations: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Row revision: every write to the row increments it (see
    /// [`Store::commit_round`]).
    pub rev: i64,
    /// The outstanding challenge nonce and when it expires (ms).
    pub nonce: Option<Vec<u8>>,
    pub nonce_expires: i64,
}

/// The mutable trust fields of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: NodeState,
    pub reasons: Vec<String>,
    /// What the agent's own evidence says (registered, enrolled, trusted,
    /// failed, unreachable), before host linkage and the manual mark.
    pub appraisal_state: NodeState,
    pub appraisal_reasons: Vec<String>,
    /// Set by an operator (`POST /v1/nodes/{id}/state`).
    pub manual_reason: Option<String>,
}

/// A new or replacing enrollment.
#[derive(Clone, Debug)]
pub struct Enrollment {
    pub id: String,
    pub kind: NodeKind,
    pub ek_cert: Vec<u8>,
    pub ek_public: Vec<u8>,
    pub ak_public: Vec<u8>,
    pub ak_name: Vec<u8>,
    pub ek_issuer: String,
    pub hardware_root: bool,
    pub activation_digest: Vec<u8>,
    pub vtpm_ca_cert: Option<Vec<u8>>,
    pub host_id: Option<String>,
}

/// What an appraisal leaves for the next one.
#[derive(Clone, Copy, Debug)]
pub struct AppraisalRecord<'a> {
    /// attest's history JSON.
    pub history: Option<&'a str>,
    /// AR4SI vector JSON for EAR.
    pub trust_vector: Option<&'a str>,
    /// IMA entries verified so far.
    pub ima_offset: i64,
}

/// One attestation round to commit (see [`Store::commit_round`]).
#[derive(Clone, Copy, Debug)]
pub struct Round<'a> {
    /// The revision the round's inputs were read at.
    pub rev: i64,
    pub saved: AppraisalRecord<'a>,
    pub previous: &'a Status,
    /// `last_seen` as read at `rev` (whether the round moves the row's
    /// `seen_bucket`).
    pub previous_seen: i64,
    pub status: &'a Status,
    /// The nonce of the challenge issued with the answer (`None`: none).
    pub next_nonce: Option<&'a [u8]>,
    pub next_expires: i64,
}

/// One recorded state transition.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Transition {
    pub at: i64,
    pub previous_state: String,
    pub state: String,
    pub reasons: Vec<String>,
    pub replica: String,
}

/// A webhook notification claimed for delivery.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: i64,
    pub url: String,
    pub body: String,
    pub attempts: i64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
}

pub fn state_str(s: NodeState) -> &'static str {
    match s {
        NodeState::Registered => "registered",
        NodeState::Enrolled => "enrolled",
        NodeState::Trusted => "trusted",
        NodeState::Failed => "failed",
        NodeState::Unreachable => "unreachable",
    }
}

pub fn parse_state(s: &str) -> Option<NodeState> {
    Some(match s {
        "registered" => NodeState::Registered,
        "enrolled" => NodeState::Enrolled,
        "trusted" => NodeState::Trusted,
        "failed" => NodeState::Failed,
        "unreachable" => NodeState::Unreachable,
        _ => return None,
    })
}

pub fn kind_str(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Host => "host",
        NodeKind::Vm => "vm",
    }
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    postgres: bool,
    rounds: batch::Batcher,
    /// SQLite files only: the WAL checkpoint task (see [`checkpoint`]).
    _checkpoints: Option<std::sync::Arc<checkpoint::Checkpointer>>,
}

/// Round writers (see [`batch`]) for PostgreSQL; SQLite has one.
const POSTGRES_ROUND_WRITERS: usize = 4;

/// Connections to one SQLite file (see [`Store::open`]).
pub const SQLITE_CONNECTIONS: u32 = 1;

const AGENT_COLS: &str = "id, kind, ek_cert, ek_public, ak_public, ak_name, ek_issuer, hardware_root, \
    activation_digest, vtpm_ca_cert, host_id, policy, state, reasons, appraisal_state, \
    appraisal_reasons, manual_reason, history, trust_vector, ima_offset, last_seen, attestations, created_at, updated_at, rev, nonce, nonce_expires";

impl Store {
    /// Connects to `url` (`sqlite://PATH`, `sqlite::memory:`,
    /// `postgres://...`) and applies the schema.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        let sqlite = url.starts_with("sqlite:");
        if !postgres && !sqlite {
            return Err(StoreError::Url(url.to_string()));
        }
        // SQLite has one writer at a time: with several pooled connections
        // concurrent writers collide and wait in the busy handler's sleeps
        // (1-100 ms steps), which under load (10,000 agents) starved the
        // verifier while its CPU idled (BENCHMARKS.md, "Issue 5: verifier").
        // One connection serializes the short statements instead; each is
        // a few tens of µs. Storage never holds a transaction while
        // awaiting another pool query, so this cannot deadlock.
        let mut opts = AnyPoolOptions::new()
            .max_connections(if postgres { 16 } else { SQLITE_CONNECTIONS })
            .acquire_timeout(Duration::from_secs(30));
        if sqlite {
            // WAL lets readers run beside the writer; the busy timeout makes
            // a writer wait for another instead of failing with SQLITE_BUSY.
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    // 32 MiB of page cache instead of SQLite's 2 MiB: at
                    // 5,000 agents (~10 MB of rows) every round's row was
                    // read from the OS again; the SQLite thread's CPU
                    // fell by ~6 % (BENCHMARKS.md "Issue 5", run K).
                    conn.execute("PRAGMA cache_size = -32768").await?;
                    // Checkpoints run on a connection of their own
                    // ([`checkpoint`]); the automatic one only bounds the WAL
                    // if that task falls behind.
                    conn.execute(
                        format!(
                            "PRAGMA wal_autocheckpoint = {}",
                            checkpoint::WRITER_THRESHOLD_FRAMES
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let url = if sqlite && !url.contains("mode=") && !url.contains(":memory:") {
            format!("{url}{}mode=rwc", if url.contains('?') { "&" } else { "?" })
        } else {
            url.to_string()
        };
        let pool = opts.connect(&url).await?;
        let writers = if postgres { POSTGRES_ROUND_WRITERS } else { 1 };
        let rounds = batch::Batcher::start(pool.clone(), postgres, writers);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let checkpoints =
            (sqlite && !in_memory).then(|| std::sync::Arc::new(checkpoint::start(url.clone())));
        let store = Store {
            pool,
            postgres,
            rounds,
            _checkpoints: checkpoints,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.postgres {
            // Replicas starting together: one applies, the others wait.
            conn.execute("SELECT pg_advisory_lock(74331)").await?;
        }
        let result = async {
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await?;
            for (version, sql) in schema::MIGRATIONS {
                let done: Option<i64> =
                    sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                        .bind(*version)
                        .fetch_optional(&mut *conn)
                        .await?;
                if done.is_some() {
                    continue;
                }
                // One transaction per migration (DDL is transactional in
                // both backends): a crash half-way leaves the old schema,
                // not a column added and its version unrecorded (which
                // would fail the next start on "duplicate column").
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                for stmt in schema::statements(sql, self.postgres) {
                    tx.execute(stmt.as_str()).await?;
                }
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(*version)
                    .bind(now_ms())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok::<(), sqlx::Error>(())
        }
        .await;
        if self.postgres {
            conn.execute("SELECT pg_advisory_unlock(74331)").await?;
        }
        result?;
        Ok(())
    }

    fn skip_locked(&self) -> &'static str {
        if self.postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        }
    }

    // ---- agents ----

    /// Inserts an enrollment (state registered), or replaces the AK of an
    /// existing agent (re-enrollment: history and nonce reset, policy and
    /// state kept; the caller then records the move back to registered
    /// with [`Store::save_status`]).
    pub async fn enroll(&self, e: &Enrollment, now: i64) -> Result<()> {
        let registered = state_str(NodeState::Registered);
        sqlx::query(
            "INSERT INTO agents (id, kind, ek_cert, ek_public, ak_public, ak_name, ek_issuer, \
             activation_digest, vtpm_ca_cert, host_id, state, reasons, appraisal_state, \
             appraisal_reasons, ima_offset, nonce_expires, last_seen, attestations, lease_until, \
             created_at, updated_at, hardware_root) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'[]',$11,'[]',0,0,0,0,0,$12,$12,$13) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, ek_cert = excluded.ek_cert, \
             ek_public = excluded.ek_public, ak_public = excluded.ak_public, \
             ak_name = excluded.ak_name, ek_issuer = excluded.ek_issuer, \
             activation_digest = excluded.activation_digest, vtpm_ca_cert = excluded.vtpm_ca_cert, \
             host_id = excluded.host_id, hardware_root = excluded.hardware_root, \
             trust_vector = NULL, \
             history = NULL, ima_offset = 0, nonce = NULL, nonce_expires = 0, \
             rev = agents.rev + 1, updated_at = excluded.updated_at",
        )
        .bind(&e.id)
        .bind(kind_str(e.kind))
        .bind(&e.ek_cert)
        .bind(&e.ek_public)
        .bind(&e.ak_public)
        .bind(&e.ak_name)
        .bind(&e.ek_issuer)
        .bind(&e.activation_digest)
        .bind(e.vtpm_ca_cert.clone())
        .bind(e.host_id.clone())
        .bind(registered)
        .bind(now)
        .bind(i64::from(e.hardware_root))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> Result<Option<AgentRecord>> {
        let row = sqlx::query(&format!("SELECT {AGENT_COLS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| agent_from_row(&r)).transpose()
    }

    /// Just the effective state of `id` (host linkage needs no more).
    pub async fn state_of(&self, id: &str) -> Result<Option<NodeState>> {
        let s: Option<String> = sqlx::query_scalar("SELECT state FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        s.map(|s| parse_state(&s).ok_or(StoreError::Corrupt("state")))
            .transpose()
    }

    pub async fn list(&self) -> Result<Vec<AgentRecord>> {
        let rows = sqlx::query(&format!("SELECT {AGENT_COLS} FROM agents ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// The VMs linked to `host`.
    pub async fn vms_of(&self, host: &str) -> Result<Vec<AgentRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLS} FROM agents WHERE host_id = $1 ORDER BY id"
        ))
        .bind(host)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// Activated hosts that declared a vTPM CA: (host id, CA DER, whether
    /// the host has a hardware root).
    pub async fn host_vtpm_cas(&self) -> Result<Vec<(String, Vec<u8>, bool)>> {
        let rows = sqlx::query(
            "SELECT id, vtpm_ca_cert, hardware_root FROM agents WHERE kind = 'host' \
             AND vtpm_ca_cert IS NOT NULL AND activation_digest IS NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("vtpm_ca_cert")?,
                    r.try_get::<i64, _>("hardware_root")? != 0,
                ))
            })
            .collect()
    }

    /// Deletes an agent and its pending notifications. Returns whether it
    /// existed.
    pub async fn delete(&self, id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM deliveries WHERE agent_id = $1 AND status = 'pending'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn set_policy(&self, id: &str, policy: Option<&str>, now: i64) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE agents SET policy = $2, updated_at = $3, rev = rev + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(policy.map(str::to_string))
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    /// Marks the AK activated (the expected proof is no longer kept).
    pub async fn clear_activation(&self, id: &str) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE agents SET activation_digest = NULL, last_seen = $2, seen_bucket = $3, \
             rev = rev + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .bind(schema::seen_bucket(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores the agent's one outstanding nonce. Returns the row's new
    /// revision (`None` when the agent is gone).
    pub async fn set_nonce(&self, id: &str, nonce: &[u8], expires: i64) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "UPDATE agents SET nonce = $2, nonce_expires = $3, rev = rev + 1 WHERE id = $1 \
             RETURNING rev",
        )
        .bind(id)
        .bind(nonce.to_vec())
        .bind(expires)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Commits one attestation round (appraisal result, status, the next
    /// challenge's nonce) if the row is still at revision `round.rev`, i.e.
    /// nobody changed the agent since the caller read it. When the state
    /// stays (the common case) the round joins a group commit with other
    /// agents' rounds (`storage::batch`); with a state change, one transaction
    /// with the transition record and notifications. Returns
    /// whether it applied; on `false` the caller re-reads the row.
    pub async fn commit_round(
        &self,
        id: &str,
        round: &Round<'_>,
        replica: &str,
        now: i64,
    ) -> Result<bool> {
        let queued = batch::QueuedRound::new(id, round, now);
        if round.previous.state == round.status.state {
            return self.rounds.commit(queued).await;
        }
        let mut tx = self.pool.begin().await?;
        if !self.rounds.commit_in(&mut tx, &queued).await? {
            return Ok(false);
        }
        record_transition(&mut tx, id, round.previous, round.status, replica, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Saves a new status (and its transition record and notifications when
    /// the state changed). `expect` guards against a concurrent change: the
    /// update applies only if the stored state is still `previous.state`.
    /// Returns whether it applied.
    pub async fn save_status(
        &self,
        id: &str,
        previous: &Status,
        status: &Status,
        replica: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let applied = write_status(&mut tx, id, previous, status, replica, now).await?;
        tx.commit().await?;
        Ok(applied)
    }

    pub async fn transitions(&self, id: &str, limit: i64) -> Result<Vec<Transition>> {
        let rows = sqlx::query(
            "SELECT at, previous_state, state, reasons, replica FROM results \
             WHERE agent_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Transition> = rows
            .iter()
            .map(|r| {
                Ok(Transition {
                    at: r.try_get("at")?,
                    previous_state: r.try_get("previous_state")?,
                    state: r.try_get("state")?,
                    reasons: parse_reasons(&r.try_get::<String, _>("reasons")?)?,
                    replica: r.try_get("replica")?,
                })
            })
            .collect::<Result<_>>()?;
        out.reverse();
        Ok(out)
    }

    // ---- leases (periodic work split between replicas) ----

    /// Claims up to `limit` agents that should be sending evidence but have
    /// not since `cutoff`, and that no other replica holds.
    pub async fn claim_stale(
        &self,
        owner: &str,
        cutoff: i64,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        let sql = format!(
            "UPDATE agents SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM agents WHERE appraisal_state IN ('enrolled','trusted','failed') \
             AND seen_bucket <= $6 AND last_seen < $3 \
             AND activation_digest IS NULL AND lease_until < $4 \
             ORDER BY last_seen LIMIT $5{}) RETURNING id",
            self.skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(cutoff)
            .bind(now)
            .bind(limit)
            .bind(schema::seen_bucket(cutoff))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").map_err(Into::into))
            .collect()
    }

    pub async fn release(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query(
            "UPDATE agents SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- policies ----

    pub async fn put_policy(&self, name: &str, body: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO policies (name, body, version, updated_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, \
             version = policies.version + 1, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(body)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn get_policy(&self, name: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT body FROM policies WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The policy's version (incremented by every PUT), to reuse a parsed
    /// copy while it is current.
    pub async fn policy_version(&self, name: &str) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT version FROM policies WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    pub async fn list_policies(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, body FROM policies ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("body")?)))
            .collect()
    }

    // ---- webhooks ----

    pub async fn add_webhook(&self, url: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhooks (url, created_at) VALUES ($1, $2) ON CONFLICT (url) DO NOTHING",
        )
        .bind(url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query("SELECT id, url FROM webhooks ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Webhook {
                    id: r.try_get("id")?,
                    url: r.try_get("url")?,
                })
            })
            .collect()
    }

    /// Removes the webhook with `url` (all of them when `None`) and its
    /// pending deliveries. Returns how many were removed.
    pub async fn delete_webhooks(&self, url: Option<&str>) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let n = match url {
            Some(u) => {
                sqlx::query("DELETE FROM deliveries WHERE webhook_id IN (SELECT id FROM webhooks WHERE url = $1)")
                    .bind(u)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM webhooks WHERE url = $1")
                    .bind(u)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
            None => {
                sqlx::query("DELETE FROM deliveries")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM webhooks")
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
        };
        tx.commit().await?;
        Ok(n)
    }

    /// Claims due notifications: for each (webhook, agent) only the oldest
    /// pending one, so a node's notifications arrive in order.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let sql = format!(
            "UPDATE deliveries SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT d.id FROM deliveries d WHERE d.status = 'pending' AND d.next_at <= $3 \
             AND d.lease_until < $3 AND NOT EXISTS (SELECT 1 FROM deliveries e \
             WHERE e.webhook_id = d.webhook_id AND e.agent_id = d.agent_id \
             AND e.status = 'pending' AND e.id < d.id) ORDER BY d.id LIMIT $4{}) \
             RETURNING id, webhook_id, body, attempts",
            self.skip_locked()
        );
        let rows = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let hooks = self.list_webhooks().await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let webhook_id: i64 = r.try_get("webhook_id")?;
            let Some(h) = hooks.iter().find(|h| h.id == webhook_id) else {
                continue;
            };
            out.push(Delivery {
                id: r.try_get("id")?,
                url: h.url.clone(),
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
            });
        }
        out.sort_by_key(|d| d.id);
        Ok(out)
    }

    /// Records the outcome of one delivery attempt: delivered, retry at
    /// `retry_at`, or given up (`retry_at` None after the last attempt).
    pub async fn finish_delivery(
        &self,
        id: i64,
        delivered: bool,
        retry_at: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        let status = match (delivered, retry_at) {
            (true, _) => "delivered",
            (false, Some(_)) => "pending",
            (false, None) => "dead",
        };
        sqlx::query(
            "UPDATE deliveries SET status = $2, attempts = attempts + 1, next_at = $3, \
             lease_owner = NULL, lease_until = 0, last_error = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(retry_at.unwrap_or(0))
        .bind(error.map(str::to_string))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets finished (delivered or given-up) notifications older than
    /// `before`, so the queue does not grow without bound.
    pub async fn prune_deliveries(&self, before: i64) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM deliveries WHERE status <> 'pending' AND created_at < $1")
                .bind(before)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Counts of deliveries by status (for tests and status output).
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
            .collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn write_status(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    previous: &Status,
    status: &Status,
    replica: &str,
    now: i64,
) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE agents SET state = $2, reasons = $3, appraisal_state = $4, \
         appraisal_reasons = $5, manual_reason = $6, updated_at = $7, rev = rev + 1 \
         WHERE id = $1 AND state = $8",
    )
    .bind(id)
    .bind(state_str(status.state))
    .bind(reasons_json(&status.reasons).into_owned())
    .bind(state_str(status.appraisal_state))
    .bind(reasons_json(&status.appraisal_reasons).into_owned())
    .bind(status.manual_reason.clone())
    .bind(now)
    .bind(state_str(previous.state))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 0 {
        return Ok(false);
    }
    if previous.state != status.state {
        record_transition(tx, id, previous, status, replica, now).await?;
    }
    Ok(true)
}

/// The transition record and one pending notification per webhook, in
/// the transaction that changed the state (so a notification is queued
/// exactly when the change commits).
async fn record_transition(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: &str,
    previous: &Status,
    status: &Status,
    replica: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO results (agent_id, at, previous_state, state, reasons, replica) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(now)
    .bind(state_str(previous.state))
    .bind(state_str(status.state))
    .bind(reasons_json(&status.reasons).into_owned())
    .bind(replica)
    .execute(&mut **tx)
    .await?;
    let body = serde_json::json!({
        "node": id,
        "previous_state": state_str(previous.state),
        "state": state_str(status.state),
        "reasons": status.reasons,
        "at": rfc3339(now),
    })
    .to_string();
    sqlx::query(
        "INSERT INTO deliveries (webhook_id, agent_id, body, status, attempts, next_at, \
         lease_until, created_at) SELECT id, $1, $2, 'pending', 0, $3, 0, $3 FROM webhooks",
    )
    .bind(id)
    .bind(body)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The reasons as stored (a JSON array). Most rounds have none, and their
/// `"[]"` is not allocated.
fn reasons_json(r: &[String]) -> Cow<'static, str> {
    if r.is_empty() {
        return Cow::Borrowed("[]");
    }
    Cow::Owned(serde_json::to_string(r).unwrap_or_else(|_| "[]".into()))
}

fn parse_reasons(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|_| StoreError::Corrupt("reasons"))
}

fn agent_from_row(r: &AnyRow) -> Result<AgentRecord> {
    let kind = match r.try_get::<String, _>("kind")?.as_str() {
        "host" => NodeKind::Host,
        "vm" => NodeKind::Vm,
        _ => return Err(StoreError::Corrupt("kind")),
    };
    let st = |col: &'static str| -> Result<NodeState> {
        parse_state(&r.try_get::<String, _>(col)?).ok_or(StoreError::Corrupt(col))
    };
    Ok(AgentRecord {
        id: r.try_get("id")?,
        kind,
        ek_cert: r.try_get("ek_cert")?,
        ek_public: r.try_get("ek_public")?,
        ak_public: r.try_get("ak_public")?,
        ak_name: r.try_get("ak_name")?,
        ek_issuer: r.try_get("ek_issuer")?,
        hardware_root: r.try_get::<i64, _>("hardware_root")? != 0,
        activation_digest: r.try_get("activation_digest")?,
        vtpm_ca_cert: r.try_get("vtpm_ca_cert")?,
        host_id: r.try_get("host_id")?,
        policy: r.try_get("policy")?,
        status: Status {
            state: st("state")?,
            reasons: parse_reasons(&r.try_get::<String, _>("reasons")?)?,
            appraisal_state: st("appraisal_state")?,
            appraisal_reasons: parse_reasons(&r.try_get::<String, _>("appraisal_reasons")?)?,
            manual_reason: r.try_get("manual_reason")?,
        },
        history: r.try_get("history")?,
        trust_vector: r.try_get("trust_vector")?,
        ima_offset: r.try_get("ima_offset")?,
        last_seen: r.try_get("last_seen")?,
        attestations: r.try_get("attestations")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        rev: r.try_get("rev")?,
        nonce: r.try_get("nonce")?,
        nonce_expires: r.try_get("nonce_expires")?,
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC time of `ms` (civil-from-days, Howard Hinnant's algorithm).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    /// Pages written through the store reach the database file within a
    /// checkpoint period, although the writer's own threshold (32,000
    /// frames) is far away: the checkpoint task copies them.
    #[tokio::test]
    async fn the_checkpoint_task_copies_the_wal_into_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.db");
        let store = Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let threshold: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(threshold, i64::from(checkpoint::WRITER_THRESHOLD_FRAMES));
        store
            .pool
            .execute("CREATE TABLE filler (v BLOB)")
            .await
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for _ in 0..64 {
            sqlx::query("INSERT INTO filler VALUES (zeroblob(16384))")
                .execute(&store.pool)
                .await
                .unwrap();
        }
        let wal = dir.path().join("ckpt.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 1 << 20);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = std::fs::metadata(&path).unwrap().len();
            if now >= before + (1 << 20) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "database file still {now} bytes (was {before})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A round that keeps its place in the sweep index leaves the index's
    /// columns out of the UPDATE (SQLite would rewrite the entry anyway);
    /// one that moves to another bucket or appraisal state sets them, also
    /// when both kinds share a batch (one transaction, every row applied).
    #[tokio::test]
    async fn rounds_set_the_sweep_columns_only_when_they_move() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}", dir.path().join("r.db").display()))
            .await
            .unwrap();
        let t0 = 1_800_000_000_000 - 1_800_000_000_000 % schema::SEEN_BUCKET_MS;
        let bucket = schema::seen_bucket(t0);
        for id in ["keeps", "next-bucket", "fails"] {
            sqlx::query(
                "INSERT INTO agents (id, kind, ek_cert, ek_public, ak_public, ak_name, ek_issuer, \
                 state, reasons, appraisal_state, appraisal_reasons, last_seen, seen_bucket, \
                 created_at, updated_at) VALUES ($1, 'host', x'00', x'00', x'00', x'00', 'ca', \
                 'trusted', '[]', 'trusted', '[]', $2, $3, 0, 0)",
            )
            .bind(id)
            .bind(t0)
            .bind(bucket)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        // A marker no UPDATE that sets the column would leave.
        sqlx::query("UPDATE agents SET seen_bucket = -1 WHERE id = 'keeps'")
            .execute(&store.pool)
            .await
            .unwrap();
        let trusted = Status {
            state: NodeState::Trusted,
            reasons: vec![],
            appraisal_state: NodeState::Trusted,
            appraisal_reasons: vec![],
            manual_reason: None,
        };
        // Own appraisal failed, effective state kept (an operator's mark
        // aside, the batch only takes rounds that keep the state).
        let failing = Status {
            appraisal_state: NodeState::Failed,
            appraisal_reasons: vec!["PCR 7".into()],
            ..trusted.clone()
        };
        let round = |status| Round {
            rev: 0,
            saved: AppraisalRecord {
                history: Some("{}"),
                trust_vector: None,
                ima_offset: 0,
            },
            previous: &trusted,
            previous_seen: t0,
            status,
            next_nonce: None,
            next_expires: 0,
        };
        let later = t0 + 1_000;
        let next_bucket = t0 + schema::SEEN_BUCKET_MS;
        let queued = [
            batch::QueuedRound::new("keeps", &round(&trusted), later),
            batch::QueuedRound::new("next-bucket", &round(&trusted), next_bucket),
            batch::QueuedRound::new("fails", &round(&failing), later),
        ];
        let [a, b, c] = queued;
        let applied = tokio::join!(
            store.rounds.commit(a),
            store.rounds.commit(b),
            store.rounds.commit(c)
        );
        assert!(
            matches!(applied, (Ok(true), Ok(true), Ok(true))),
            "{applied:?}"
        );
        let rows: Vec<(String, i64, i64, String, i64)> = sqlx::query_as(
            "SELECT id, last_seen, seen_bucket, appraisal_state, rev FROM agents ORDER BY id",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            rows,
            vec![
                ("fails".into(), later, bucket, "failed".into(), 1),
                ("keeps".into(), later, -1, "trusted".into(), 1),
                (
                    "next-bucket".into(),
                    next_bucket,
                    bucket + 1,
                    "trusted".into(),
                    1
                ),
            ]
        );
    }

    /// A database written before migration 3 (sweep index on `last_seen`)
    /// gets its `seen_bucket` filled from `last_seen`: an agent silent since
    /// then is still found by the sweep, a fresh one is not, and the sweep
    /// reads the new index.
    #[tokio::test]
    async fn migration_3_buckets_existing_rows_for_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("v2.db").display());
        let now = now_ms();
        {
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(&{
                    sqlx::any::install_default_drivers();
                    url.clone()
                })
                .await
                .unwrap();
            pool.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
                .await
                .unwrap();
            for (version, sql) in &schema::MIGRATIONS[..2] {
                for stmt in schema::statements(sql, false) {
                    pool.execute(stmt.as_str()).await.unwrap();
                }
                sqlx::query("INSERT INTO schema_migrations VALUES ($1, 0)")
                    .bind(*version)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            for (id, seen) in [("old", now - 600_000), ("fresh", now - 1_000)] {
                sqlx::query(
                    "INSERT INTO agents (id, kind, ek_cert, ek_public, ak_public, ak_name, ek_issuer, \
                     state, reasons, appraisal_state, appraisal_reasons, last_seen, created_at, updated_at) \
                     VALUES ($1, 'host', x'00', x'00', x'00', x'00', 'ca', 'trusted', '[]', 'trusted', '[]', $2, 0, 0)",
                )
                .bind(id)
                .bind(seen)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
        }
        let store = Store::open(&url).await.unwrap();
        let stale = store
            .claim_stale("r", now - 4_000, now, 10_000, 10)
            .await
            .unwrap();
        assert_eq!(stale, vec!["old".to_string()]);
        let bucket: i64 = sqlx::query_scalar("SELECT seen_bucket FROM agents WHERE id = 'fresh'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(bucket, (now - 1_000) / schema::SEEN_BUCKET_MS);
        let indexes: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_index_list('agents')")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert!(
            indexes.iter().any(|n| n == "agents_sweep_bucket"),
            "{indexes:?}"
        );
        assert!(!indexes.iter().any(|n| n == "agents_sweep"), "{indexes:?}");
        let plan: Vec<String> = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT id FROM agents WHERE appraisal_state IN ('enrolled','trusted','failed') \
             AND seen_bucket <= 1 AND last_seen < 2 AND activation_digest IS NULL AND lease_until < 3 \
             ORDER BY last_seen LIMIT 5",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>("detail").unwrap())
        .collect();
        assert!(
            plan.iter().any(|d| d.contains("agents_sweep_bucket")),
            "{plan:?}"
        );
    }
}
