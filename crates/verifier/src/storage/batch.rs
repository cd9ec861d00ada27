//! Group commit of attestation rounds. Most rounds change nothing but the
//! agent's history, IMA position and next nonce; at thousands of rounds
//! per second one statement and one commit each cost more than the
//! appraisal (BENCHMARKS.md, "Issue 5: verifier"). Rounds queued while a
//! batch runs go together into the next one: a single `UPDATE ... FROM`
//! over a `VALUES` list, guarded per row by the revision the round was
//! read at, whose `RETURNING` says which rows applied. Under load a writer
//! also waits [`GATHER`] for more rounds before it commits; under light
//! load a batch is one round, committed at once.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{reasons_json, schema, state_str, Result, Round, StoreError};

/// Most rounds in one statement (13 parameters each, far below either
/// backend's parameter limit).
const MAX_BATCH: usize = 128;

/// Columns of one round, in the order of the `VALUES` tuples.
const COLUMNS: usize = 13;

/// A round as the writer needs it (owned: it outlives the request).
#[derive(Debug)]
pub(super) struct QueuedRound {
    id: String,
    rev: i64,
    history: Option<String>,
    ima_offset: i64,
    now: i64,
    trust_vector: Option<String>,
    state: &'static str,
    reasons: Cow<'static, str>,
    appraisal_state: &'static str,
    appraisal_reasons: Cow<'static, str>,
    manual_reason: Option<String>,
    nonce: Option<Vec<u8>>,
    nonce_expires: i64,
    /// Whether the round changes a column of the sweep index
    /// (`appraisal_state`, `seen_bucket`): SQLite rewrites an index entry
    /// whenever one of its columns is in the SET list, changed or not, so
    /// the other rounds (~14 of 15 at a 30 s bucket and a 2 s interval) go
    /// through a statement that leaves both out (`SEEN_BUCKET_MS`).
    moves_index: bool,
}

impl QueuedRound {
    pub(super) fn new(id: &str, r: &Round<'_>, now: i64) -> QueuedRound {
        QueuedRound {
            id: id.to_string(),
            rev: r.rev,
            history: r.saved.history.map(str::to_string),
            ima_offset: r.saved.ima_offset,
            now,
            trust_vector: r.saved.trust_vector.map(str::to_string),
            state: state_str(r.status.state),
            reasons: reasons_json(&r.status.reasons),
            appraisal_state: state_str(r.status.appraisal_state),
            appraisal_reasons: reasons_json(&r.status.appraisal_reasons),
            manual_reason: r.status.manual_reason.clone(),
            nonce: r.next_nonce.map(<[u8]>::to_vec),
            nonce_expires: r.next_expires,
            moves_index: r.previous.appraisal_state != r.status.appraisal_state
                || schema::seen_bucket(r.previous_seen) != schema::seen_bucket(now),
        }
    }
}

/// The batch statements: for n rounds at index n, one set for rounds that
/// move the row in the sweep index and one for rounds that do not.
#[derive(Debug)]
struct Statements {
    moving: Vec<String>,
    keeping: Vec<String>,
}

impl Statements {
    fn new(postgres: bool) -> Statements {
        let make = |moves_index| {
            (0..=MAX_BATCH)
                .map(|n| {
                    if n == 0 {
                        String::new()
                    } else {
                        batch_sql(n, postgres, moves_index)
                    }
                })
                .collect()
        };
        Statements {
            moving: make(true),
            keeping: make(false),
        }
    }

    fn get(&self, n: usize, moves_index: bool) -> &str {
        let set = if moves_index {
            &self.moving
        } else {
            &self.keeping
        };
        set.get(n).map(String::as_str).unwrap_or_default()
    }
}

type Job = (QueuedRound, oneshot::Sender<Result<bool>>);

/// The writers: one for SQLite (one writer at a time anyway), several for
/// PostgreSQL (rows of different agents commit in parallel there).
#[derive(Clone, Debug)]
pub(super) struct Batcher {
    sql: Arc<Statements>,
    queues: Arc<Vec<mpsc::UnboundedSender<Job>>>,
    next: Arc<AtomicUsize>,
}

impl Batcher {
    /// Starts `writers` writer tasks on the current runtime. They end when
    /// the last [`Batcher`] clone is dropped.
    pub(super) fn start(pool: AnyPool, postgres: bool, writers: usize) -> Batcher {
        let sql = Arc::new(Statements::new(postgres));
        let queues = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(write_loop(pool.clone(), sql.clone(), rx));
                tx
            })
            .collect();
        Batcher {
            sql,
            queues: Arc::new(queues),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Commits `round` alone inside `tx` (a round that changes the state,
    /// whose transition record goes into the same transaction): whether its
    /// row applied. Same statement as a batch of one.
    pub(super) async fn commit_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        round: &QueuedRound,
    ) -> Result<bool> {
        let sql = self.sql.get(1, round.moves_index);
        Ok(update_rounds(&mut **tx, sql, [round])
            .await?
            .contains(&round.id))
    }

    /// Queues `round` and waits for its batch: whether its row applied.
    pub(super) async fn commit(&self, round: QueuedRound) -> Result<bool> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.queues.len();
        let (tx, rx) = oneshot::channel();
        let queue = self
            .queues
            .get(i)
            .ok_or_else(|| StoreError::Batch("no writer".into()))?;
        queue
            .send((round, tx))
            .map_err(|_| StoreError::Batch("the round writer stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Batch("the round writer stopped".into()))?
    }
}

/// How long a busy writer gathers rounds before it commits them. Taking
/// only what was queued, 5,000 agents at 2 s made batches of 1.65 rounds:
/// ~1,500 commits a second, each paying SQLite's transaction start, WAL
/// frames and commit, the statement and the wake-ups again.
const GATHER: Duration = Duration::from_millis(2);

/// A batch that starts within this of the previous one's end means rounds
/// arrive back to back: gather. Otherwise (light load) commit at once, so
/// a lone round waits for nothing.
const BUSY: Duration = Duration::from_millis(20);

async fn write_loop(pool: AnyPool, sql: Arc<Statements>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut last_end: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = last_end
            .filter(|end| end.elapsed() < BUSY)
            .map(|_| Instant::now() + GATHER);
        while batch.len() < MAX_BATCH {
            let next = match deadline {
                Some(at) => tokio::time::timeout_at(at, rx.recv()).await.ok().flatten(),
                None => rx.try_recv().ok(),
            };
            match next {
                Some(job) => batch.push(job),
                None => break,
            }
        }
        match apply(&pool, &sql, &batch).await {
            Ok(applied) => {
                for (round, reply) in batch.drain(..) {
                    let _ = reply.send(Ok(applied.contains(&round.id)));
                }
            }
            Err(e) => {
                tracing::warn!("committing {} attestation rounds: {e}", batch.len());
                let msg = e.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::Batch(msg.clone())));
                }
            }
        }
        last_end = Some(Instant::now());
    }
}

/// Commits a batch: one statement when its rounds are all of one kind
/// (`QueuedRound::moves_index`), else one transaction with a statement
/// for each kind. The ids whose rows applied.
async fn apply(pool: &AnyPool, sql: &Statements, batch: &[Job]) -> Result<HashSet<String>> {
    let moving = batch.iter().filter(|(r, _)| r.moves_index).count();
    let rounds = || batch.iter().map(|(r, _)| r);
    if moving == 0 || moving == batch.len() {
        return update_rounds(pool, sql.get(batch.len(), moving > 0), rounds()).await;
    }
    let mut tx = pool.begin().await?;
    let mut applied = update_rounds(
        &mut *tx,
        sql.get(moving, true),
        rounds().filter(|r| r.moves_index),
    )
    .await?;
    applied.extend(
        update_rounds(
            &mut *tx,
            sql.get(batch.len() - moving, false),
            rounds().filter(|r| !r.moves_index),
        )
        .await?,
    );
    tx.commit().await?;
    Ok(applied)
}

/// Runs the statement for `rounds` (as many as `sql` was made for) on
/// `exec`: the ids whose rows applied.
async fn update_rounds<'c, 'r, E>(
    exec: E,
    sql: &'r str,
    rounds: impl IntoIterator<Item = &'r QueuedRound>,
) -> Result<HashSet<String>>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    // Borrowed, not cloned: the rounds outlive the statement.
    let mut q = sqlx::query(sql);
    for r in rounds {
        q = q
            .bind(r.id.as_str())
            .bind(r.rev)
            .bind(r.history.as_deref())
            .bind(r.ima_offset)
            .bind(r.now)
            .bind(r.trust_vector.as_deref())
            .bind(r.state)
            .bind(r.reasons.as_ref())
            .bind(r.appraisal_state)
            .bind(r.appraisal_reasons.as_ref())
            .bind(r.manual_reason.as_deref())
            .bind(r.nonce.as_deref())
            .bind(r.nonce_expires);
    }
    let rows = q.fetch_all(exec).await?;
    rows.iter()
        .map(|row| row.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

/// `UPDATE agents ... FROM (VALUES ...)` for `n` rounds; `moves_index`:
/// whether it sets the sweep index's columns. Parameters are
/// cast so PostgreSQL knows their types inside `VALUES` (SQLite accepts
/// the same casts; its blob type is spelled differently). SQLite gets
/// anonymous `?` parameters, bound in order: for numbered ones sqlx asks
/// SQLite each parameter's name, a linear search per parameter — quadratic
/// in the batch, 11 % of the verifier's CPU at 10,000 agents.
fn batch_sql(n: usize, postgres: bool, moves_index: bool) -> String {
    let blob = if postgres { "BYTEA" } else { "BLOB" };
    let types = [
        "TEXT", "BIGINT", "TEXT", "BIGINT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT",
        "TEXT", blob, "BIGINT",
    ];
    let mut values = String::new();
    for row in 0..n {
        if row > 0 {
            values.push_str(", ");
        }
        values.push('(');
        for (col, ty) in types.iter().enumerate() {
            if col > 0 {
                values.push_str(", ");
            }
            if postgres {
                values.push_str(&format!("CAST(${} AS {ty})", row * COLUMNS + col + 1));
            } else {
                values.push_str(&format!("CAST(? AS {ty})"));
            }
        }
        values.push(')');
    }
    // The row's `seen_bucket` and `appraisal_state` already hold the
    // values of a round that keeps its place in the sweep index.
    let index = if moves_index {
        format!(
            "seen_bucket = v.now / {}, appraisal_state = v.appraisal_state, ",
            schema::SEEN_BUCKET_MS
        )
    } else {
        String::new()
    };
    format!(
        "WITH v (id, rev, history, ima_offset, now, trust_vector, state, reasons, \
         appraisal_state, appraisal_reasons, manual_reason, nonce, nonce_expires) AS \
         (VALUES {values}) \
         UPDATE agents SET history = v.history, ima_offset = v.ima_offset, \
         last_seen = v.now, {index}\
         attestations = agents.attestations + 1, \
         trust_vector = v.trust_vector, state = v.state, reasons = v.reasons, \
         appraisal_reasons = v.appraisal_reasons, \
         manual_reason = v.manual_reason, updated_at = v.now, nonce = v.nonce, \
         nonce_expires = v.nonce_expires, rev = agents.rev + 1 \
         FROM v WHERE agents.id = v.id AND agents.rev = v.rev RETURNING agents.id"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_per_row_and_column() {
        let s = batch_sql(2, true, true);
        assert!(s.contains("(CAST($1 AS TEXT), CAST($2 AS BIGINT)"), "{s}");
        assert!(s.contains("CAST($12 AS BYTEA), CAST($13 AS BIGINT)), (CAST($14 AS TEXT)"));
        assert!(s.contains("CAST($26 AS BIGINT))"));
        assert!(!s.contains("$27"));
        let lite = batch_sql(2, false, true);
        assert!(lite.contains("CAST(? AS BLOB), CAST(? AS BIGINT)), (CAST(? AS TEXT)"));
        assert_eq!(lite.matches('?').count(), 2 * COLUMNS);
        assert!(!lite.contains('$'));
        // Only the moving statement names the sweep index's columns in SET.
        let set = |sql: &str| sql.split(" SET ").nth(1).unwrap_or_default().to_string();
        assert!(
            set(&lite).contains("seen_bucket = v.now / 30000, appraisal_state = v.appraisal_state")
        );
        let keep = batch_sql(2, false, false);
        assert!(!set(&keep).contains("seen_bucket"), "{keep}");
        assert!(!set(&keep).contains("appraisal_state ="), "{keep}");
        assert_eq!(keep.matches('?').count(), 2 * COLUMNS);
    }
}
