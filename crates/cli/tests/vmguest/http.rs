//! A one-purpose HTTP/1.0 server on the host's loopback: answers every GET
//! with a fixed body and records the request lines, so a test can prove
//! the guest reached the host through QEMU user networking (slirp maps the
//! guest's 10.0.2.2 to 127.0.0.1).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Probe {
    pub port: u16,
    /// Request lines received (`GET /path HTTP/1.1`).
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Probe {
    /// Listens on 127.0.0.1 (any port); the thread lives as long as the
    /// test process and never blocks a test: each connection has timeouts.
    pub fn start(body: &str) -> Probe {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the HTTP probe");
        let port = listener.local_addr().expect("probe address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let reply = body.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(match conn.try_clone() {
                    Ok(c) => c,
                    Err(_) => continue,
                });
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                // Skip the headers up to the blank line.
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                if let Ok(mut s) = seen.lock() {
                    s.push(first.trim_end().to_owned());
                }
                let _ = write!(
                    conn,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                    reply.len(),
                    reply
                );
            }
        });
        Probe { port, requests }
    }

    /// The URL as the guest sees it.
    pub fn guest_url(&self, path: &str) -> String {
        format!("http://10.0.2.2:{}{path}", self.port)
    }
}
