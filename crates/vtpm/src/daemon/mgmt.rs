//! The management socket `RUN/vtpmd.sock`: JSON lines (protocol in
//! [`super`]). Each connection may send any number of requests; each gets
//! one response line, in order. The work runs on blocking-pool threads, so
//! a long `create` (RSA key generation) delays only its own connection.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::api::{ApiError, ErrorCode, Request, Response};
use super::registry::Registry;

/// Longest request line (an `import` carries a state blob in hex).
pub const MAX_REQUEST: u64 = 256 * 1024 * 1024;

pub(crate) async fn serve(reg: Arc<Registry>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(Arc::clone(&reg), stream));
            }
            Err(e) => {
                tracing::warn!(error = %e, "management socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(reg: Arc<Registry>, stream: UnixStream) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let n = match (&mut rd)
            .take(MAX_REQUEST)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        let too_long = line.last() != Some(&b'\n') && n as u64 >= MAX_REQUEST;
        let response = if too_long {
            Response::failure(ApiError::new(
                ErrorCode::BadRequest,
                format!("request longer than {MAX_REQUEST} bytes"),
            ))
        } else {
            answer(&reg, &line).await
        };
        let mut out = match serde_json::to_vec(&response) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a management response");
                return;
            }
        };
        out.push(b'\n');
        if wr.write_all(&out).await.is_err() || too_long {
            return;
        }
    }
}

async fn answer(reg: &Arc<Registry>, line: &[u8]) -> Response {
    let req: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => {
            return Response::failure(ApiError::new(
                ErrorCode::BadRequest,
                format!("not a valid request: {e}"),
            ))
        }
    };
    let op = op_name(&req);
    let reg = Arc::clone(reg);
    let result = tokio::task::spawn_blocking(move || reg.handle(req))
        .await
        .unwrap_or_else(|e| {
            Err(ApiError::new(
                ErrorCode::Internal,
                format!("the request failed: {e}"),
            ))
        });
    match result {
        Ok(v) => Response::success(v),
        Err(e) => {
            tracing::info!(op, code = e.code.as_str(), error = %e.message, "management request refused");
            Response::failure(e)
        }
    }
}

fn op_name(r: &Request) -> &'static str {
    match r {
        Request::Status => "status",
        Request::Create(_) => "create",
        Request::List => "list",
        Request::Show { .. } => "show",
        Request::Delete { .. } => "delete",
        Request::Export { .. } => "export",
        Request::Import(_) => "import",
    }
}
