//! A blocking client of the management socket, for the CLI and tests.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::api::{ApiError, Request, Response};
use super::SOCKET_NAME;

/// How long a request may take (creating an RSA EK on a busy machine
/// takes seconds).
const TIMEOUT: Duration = Duration::from_secs(300);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach vtpmd at {}: {err} (is `trustcloud vtpmd --run-dir {}` running?)", path.display(), path.parent().unwrap_or(Path::new(".")).display())]
    Connect { path: PathBuf, err: io::Error },
    #[error("lost the connection to vtpmd: {0}")]
    Io(#[from] io::Error),
    #[error("vtpmd sent an unreadable answer: {0}")]
    Protocol(String),
    /// The daemon refused the request.
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// One connection to the daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to `RUN/vtpmd.sock`.
    pub fn connect(run_dir: &Path) -> Result<Client, ClientError> {
        let path = run_dir.join(SOCKET_NAME);
        let stream = UnixStream::connect(&path).map_err(|err| ClientError::Connect {
            path: path.clone(),
            err,
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sends `req` and returns the result of a successful answer.
    pub fn call(&mut self, req: &Request) -> Result<serde_json::Value, ClientError> {
        let mut line = serde_json::to_vec(req).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        let mut answer = String::new();
        if self.reader.read_line(&mut answer)? == 0 {
            return Err(ClientError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "vtpmd closed the connection",
            )));
        }
        let resp: Response =
            serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(e.to_string()))?;
        match (resp.ok, resp.result, resp.error) {
            (true, Some(v), _) => Ok(v),
            (false, _, Some(e)) => Err(ClientError::Api(e)),
            _ => Err(ClientError::Protocol(format!(
                "neither result nor error in {answer:?}"
            ))),
        }
    }

    /// [`Client::call`], decoding the result as `T`.
    pub fn call_as<T: DeserializeOwned>(&mut self, req: &Request) -> Result<T, ClientError> {
        let v = self.call(req)?;
        serde_json::from_value(v).map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
