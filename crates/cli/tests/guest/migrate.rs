//! Live migration plumbing: QEMU's human monitor (HMP) on a UNIX socket,
//! and a TCP relay between the source and the destination QEMU that keeps
//! a copy of the migration stream, so the test can look inside it.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A connection to `-monitor unix:PATH,server=on,wait=off`.
pub struct Monitor(UnixStream);

const PROMPT: &str = "(qemu) ";

impl Monitor {
    /// Connects (QEMU may still be creating the socket) and reads the
    /// banner up to the first prompt.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Monitor, String> {
        let deadline = Instant::now() + timeout;
        let s = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("monitor {}: {e}", path.display()))
                }
                Err(_) => thread::sleep(Duration::from_millis(20)),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let mut m = Monitor(s);
        m.read_to_prompt()?;
        Ok(m)
    }

    fn read_to_prompt(&mut self) -> Result<String, String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while !out.ends_with(PROMPT.as_bytes()) {
            let n = self
                .0
                .read(&mut buf)
                .map_err(|e| format!("monitor read: {e}"))?;
            if n == 0 {
                return Err("monitor closed".into());
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Runs one HMP command and returns its output (without the echo and
    /// the prompt; HMP decorates lines with terminal escapes, removed too).
    pub fn cmd(&mut self, line: &str) -> Result<String, String> {
        self.0
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("monitor write: {e}"))?;
        let raw = self.read_to_prompt()?;
        let clean: String = strip_escapes(&raw).replace('\r', "");
        Ok(clean
            .trim_end_matches(PROMPT)
            .lines()
            .filter(|l| !l.contains(line))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// Polls `info migrate` until the status is final.
    pub fn wait_migration(&mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.cmd("info migrate")?;
            let status = info
                .lines()
                .find_map(|l| l.trim().strip_prefix("Migration status:"))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default();
            match status.as_str() {
                "completed" => return Ok(info),
                "failed" | "cancelled" => return Err(format!("migration {status}:\n{info}")),
                _ if Instant::now() >= deadline => {
                    return Err(format!("migration not done after {timeout:?}:\n{info}"))
                }
                _ => thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// Removes ANSI escape sequences (ESC [ ... letter) HMP adds.
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            if it.peek() == Some(&'[') {
                it.next();
                for d in it.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Relays one TCP connection from `listen` to `target`, recording what the
/// source sends (the migration stream; the destination's replies are
/// forwarded but not kept).
pub struct Relay {
    pub port: u16,
    stream: Arc<Mutex<Vec<u8>>>,
    worker: Option<thread::JoinHandle<Result<(), String>>>,
}

impl Relay {
    pub fn start(target_port: u16) -> Result<Relay, String> {
        let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = l.local_addr().map_err(|e| e.to_string())?.port();
        let stream = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stream);
        let worker = thread::spawn(move || -> Result<(), String> {
            let (mut src, _) = l.accept().map_err(|e| format!("relay accept: {e}"))?;
            let mut dst = TcpStream::connect(("127.0.0.1", target_port))
                .map_err(|e| format!("relay connect to destination: {e}"))?;
            let (mut src_back, mut dst_back) = (
                src.try_clone().map_err(|e| e.to_string())?,
                dst.try_clone().map_err(|e| e.to_string())?,
            );
            // Destination -> source (return path), not recorded.
            let back = thread::spawn(move || {
                let _ = std::io::copy(&mut dst_back, &mut src_back);
                let _ = src_back.shutdown(Shutdown::Write);
            });
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = src.read(&mut buf).map_err(|e| format!("relay read: {e}"))?;
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = sink.lock() {
                    s.extend_from_slice(&buf[..n]);
                }
                dst.write_all(&buf[..n])
                    .map_err(|e| format!("relay write: {e}"))?;
            }
            let _ = dst.shutdown(Shutdown::Write);
            let _ = back.join();
            Ok(())
        });
        Ok(Relay {
            port,
            stream,
            worker: Some(worker),
        })
    }

    /// Waits for the relay to finish and returns the recorded stream.
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        if let Some(w) = self.worker.take() {
            w.join()
                .map_err(|_| "relay thread panicked".to_string())??;
        }
        Ok(self.stream.lock().map(|s| s.clone()).unwrap_or_default())
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; QEMU binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
