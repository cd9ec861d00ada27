//! WAL checkpoints for a SQLite store, on a connection of their own.
//!
//! Why: with SQLite's automatic checkpoints the connection that commits
//! the WAL frame crossing the threshold copies the whole WAL back into the
//! database file and fsyncs both, before its next statement. The store has
//! one connection (see `Store::open`), so every read and every batch of
//! rounds waited behind it: at 10,000 agents every ~3 s a stall of a few
//! hundred ms (strace: fsync of the WAL 75–90 ms, the page copies, fsync of
//! the database 55 ms), during which the verifier idled (0.3 of the 2
//! cores) and agents fell behind their interval. A PASSIVE checkpoint on
//! a second connection copies frames while the writer goes on appending
//! (SQLite, "Write-Ahead Logging" §3: checkpoints run concurrently with
//! readers and writers). Under a steady stream of rounds such a checkpoint
//! never reaches the WAL's end, so the WAL is only reset by the writer's
//! own automatic checkpoint at a high threshold; it then finds the frames
//! already copied, and its fsync of the database cheap, because this task
//! fsyncs the database file after each of its checkpoints (fsync flushes
//! the file's dirty pages whichever descriptor wrote them).

use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::{Connection, Row};

/// How often the checkpoint runs. Each copies every page written since the
/// last one once, however often it was rewritten, so a longer period copies
/// fewer pages per round (every round rewrites its agent's row); one
/// second is ~5,000 frames at 5,000 rounds per second, close to the
/// 8,000-frame automatic threshold the store used before.
const PERIOD: Duration = Duration::from_secs(1);

/// The writer's automatic checkpoint threshold in frames (4 KiB each):
/// reached only if this task stops keeping up; bounds the WAL at 128 MiB.
pub(super) const WRITER_THRESHOLD_FRAMES: u32 = 32_000;

/// The running checkpoint task; dropping the last clone of the store
/// (which holds it in an `Arc`) stops it.
#[derive(Debug)]
pub(super) struct Checkpointer(tokio::task::JoinHandle<()>);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts checkpointing the SQLite database at `url` on the current
/// runtime.
pub(super) fn start(url: String) -> Checkpointer {
    Checkpointer(tokio::spawn(run(url)))
}

/// The file of a `sqlite://PATH?...` or `sqlite:PATH` URL.
fn database_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty()).then(|| std::path::PathBuf::from(path))
}

/// fsync of the database file, off the runtime's threads.
async fn sync_database(path: &std::path::Path) -> std::io::Result<()> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(path)?.sync_data())
        .await
        .map_err(std::io::Error::other)?
}

async fn run(url: String) {
    let db_file = database_path(&url);
    let mut conn: Option<AnyConnection> = None;
    let mut failing = false;
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let mut result = match conn.as_mut() {
            Some(c) => checkpoint(c).await,
            None => match AnyConnection::connect(&url).await {
                Ok(c) => checkpoint(conn.insert(c)).await,
                Err(e) => Err(e),
            },
        };
        if let (Ok(()), Some(path)) = (&result, &db_file) {
            result = sync_database(path).await.map_err(sqlx::Error::Io);
        }
        match result {
            Ok(()) if failing => {
                tracing::info!("WAL checkpoints work again");
                failing = false;
            }
            Ok(()) => {}
            Err(e) => {
                // Logged once per failing spell; the writer's own threshold
                // still bounds the WAL meanwhile. Reconnect next time.
                if !failing {
                    tracing::warn!("WAL checkpoint failed (will retry every {PERIOD:?}): {e}");
                }
                failing = true;
                conn = None;
            }
        }
    }
}

/// One PASSIVE checkpoint: copies what it can without waiting for the
/// writer or readers. Its row (busy, WAL frames, frames copied) is only
/// read to surface errors.
async fn checkpoint(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await?;
    let frames: i64 = row.try_get(1)?;
    let copied: i64 = row.try_get(2)?;
    tracing::trace!(frames, copied, "WAL checkpoint");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_path_of_store_urls() {
        let p = |u: &str| super::database_path(u).map(|p| p.display().to_string());
        assert_eq!(
            p("sqlite:///tmp/v.db?mode=rwc").as_deref(),
            Some("/tmp/v.db")
        );
        assert_eq!(p("sqlite://rel/v.db").as_deref(), Some("rel/v.db"));
        assert_eq!(p("sqlite:v.db").as_deref(), Some("v.db"));
        assert_eq!(p("sqlite://?mode=rwc"), None);
        assert_eq!(p("postgres://x"), None);
    }
}
