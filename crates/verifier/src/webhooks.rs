//! Webhook delivery: state transitions are queued in the database in the
//! same transaction that records them (so none is lost), then POSTed as
//! JSON `{node, previous_state, state, reasons, at}`. Delivery is at least
//! once, in order per node (only the oldest pending notification of a
//! (webhook, node) pair is ever attempted), with exponential backoff and a
//! bounded number of attempts. Replicas claim deliveries with leases.

use std::sync::Arc;
use std::time::Duration;

use crate::service::Service;
use crate::storage::now_ms;

/// Attempts before a notification is given up ("dead").
pub const MAX_ATTEMPTS: i64 = 8;

/// Backoff before attempt `n+1` after `n` failures: 0.5 s doubling, 30 s max.
pub fn backoff_ms(failures: i64) -> i64 {
    let shift = failures.clamp(0, 10);
    (500_i64 << shift).min(30_000)
}

/// One pass: claims due notifications and delivers them concurrently
/// (each is the head of its own (webhook, node) queue). Returns how many
/// were delivered.
pub async fn deliver_once(service: &Arc<Service>, http: &reqwest::Client) -> usize {
    let owner = service.cfg.replica_id.clone();
    let batch = match service
        .store
        .claim_deliveries(&owner, now_ms(), 30_000, 64)
        .await
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("webhook queue: {e}");
            return 0;
        }
    };
    let mut set = tokio::task::JoinSet::new();
    for d in batch {
        let http = http.clone();
        let service = service.clone();
        set.spawn(async move {
            let result = http
                .post(&d.url)
                .header("content-type", "application/json")
                .body(d.body.clone())
                .send()
                .await;
            let error = match result {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status())),
                Err(e) => Some(e.to_string()),
            };
            let failures = d.attempts + 1;
            let (ok, retry) = match &error {
                None => (true, None),
                Some(_) if failures >= MAX_ATTEMPTS => (false, None),
                Some(_) => (false, Some(now_ms() + backoff_ms(d.attempts))),
            };
            if let Some(e) = &error {
                tracing::warn!(url = %d.url, attempt = failures, "webhook delivery failed: {e}");
            }
            if let Err(e) = service
                .store
                .finish_delivery(d.id, ok, retry, error.as_deref())
                .await
            {
                tracing::warn!("webhook queue: {e}");
            }
            ok
        });
    }
    let mut delivered = 0;
    while let Some(r) = set.join_next().await {
        if matches!(r, Ok(true)) {
            delivered += 1;
        }
    }
    delivered
}

/// The HTTP client for webhooks (no client certificate; 5 s timeout).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(super::backoff_ms(0), 500);
        assert_eq!(super::backoff_ms(1), 1000);
        assert_eq!(super::backoff_ms(3), 4000);
        assert_eq!(super::backoff_ms(20), 30_000);
    }
}
