//! An instance's optional TCP listener pair, speaking swtpm's TCP protocol
//! or the TCG simulator's (the connection handling of
//! [`crate::swtpm_tcp`] and [`crate::mssim`]), for tpm2-tools and other
//! TSS clients.
//!
//! The accept loops are async tasks that end when the instance is deleted
//! or the daemon stops; each accepted connection is served by the
//! blocking handlers on a thread of its own (tcti-swtpm opens one per
//! command, and they are short). The engine is loaded at the first
//! connection and then stays loaded (see [`super::registry`]).

use std::collections::HashMap;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::ctrl_socket::load;
use super::meta::Protocol;
use super::registry::{lock, stopped, Registry, Slot};
use crate::net;
use crate::{mssim, swtpm_tcp};

/// The loaded handlers and the open connections of one instance.
pub(crate) struct TcpState {
    handler: Handler,
    /// Clones of the open streams, shut down when the instance is deleted
    /// so their threads end.
    streams: Mutex<HashMap<u64, TcpStream>>,
    next: AtomicU64,
}

enum Handler {
    Swtpm(swtpm_tcp::Handler),
    Mssim(mssim::Handler),
}

impl TcpState {
    /// Ends every open connection.
    pub fn close_all(&self) {
        for (_, s) in lock(&self.streams).drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Serves the pair until the instance stops.
pub(crate) fn start(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    first: TcpListener,
    second: TcpListener,
    protocol: Protocol,
) {
    if let (Ok(a), Ok(b)) = (first.local_addr(), second.local_addr()) {
        tracing::info!(name = %slot.name, protocol = protocol.as_str(), first = %a, second = %b, "vTPM listening on TCP");
    }
    tokio::spawn(accept_loop(
        Arc::clone(&reg),
        Arc::clone(&slot),
        first,
        protocol,
        false,
    ));
    tokio::spawn(accept_loop(reg, slot, second, protocol, true));
}

async fn state(reg: &Arc<Registry>, slot: &Arc<Slot>, protocol: Protocol) -> Option<Arc<TcpState>> {
    if let Some(s) = lock(&slot.tcp).clone() {
        return Some(s);
    }
    let inst = load(reg, slot).await?;
    let mut tcp = lock(&slot.tcp);
    if let Some(s) = tcp.clone() {
        return Some(s);
    }
    // A client's TPM_STOP / CMD_SHUTDOWN stops this TPM (the control
    // protocol already powered it off), never the daemon: nobody listens.
    let (stop, _) = mpsc::channel();
    let handler = match protocol {
        Protocol::Swtpm => Handler::Swtpm(swtpm_tcp::Handler::new(inst, stop)),
        Protocol::Mssim => Handler::Mssim(mssim::Handler::new(inst, stop)),
    };
    let s = Arc::new(TcpState {
        handler,
        streams: Mutex::new(HashMap::new()),
        next: AtomicU64::new(0),
    });
    *tcp = Some(Arc::clone(&s));
    Some(s)
}

async fn accept_loop(
    reg: Arc<Registry>,
    slot: Arc<Slot>,
    listener: TcpListener,
    protocol: Protocol,
    second: bool,
) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(name = %slot.name, error = %e, "cannot serve the TCP port");
            return;
        }
    };
    let mut stop = slot.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            _ = stopped(&mut stop) => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(name = %slot.name, error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(state) = state(&reg, &slot, protocol).await else {
            continue;
        };
        if let Err(e) = serve(&reg, &slot, state, stream, second) {
            tracing::warn!(name = %slot.name, error = %e, "cannot serve a TCP connection");
        }
    }
}

fn serve(
    reg: &Arc<Registry>,
    slot: &Arc<Slot>,
    state: Arc<TcpState>,
    stream: tokio::net::TcpStream,
    second: bool,
) -> std::io::Result<()> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(net::FRAME_TIMEOUT))?;
    {
        let streams = lock(&state.streams);
        if streams.len() >= net::MAX_CONNECTIONS {
            tracing::warn!(name = %slot.name, "too many TCP connections: closing a new one");
            return Ok(());
        }
    }
    let id = state.next.fetch_add(1, Ordering::Relaxed);
    lock(&state.streams).insert(id, stream.try_clone()?);
    let guard = slot.connection();
    let (reg, slot) = (Arc::clone(reg), Arc::clone(slot));
    let registered = Arc::clone(&state);
    let spawned = thread::Builder::new()
        .name("vtpmd-tcp".into())
        .spawn(move || {
            match (&state.handler, second) {
                (Handler::Swtpm(h), false) => h.data_connection(stream),
                (Handler::Swtpm(h), true) => h.control_connection(stream),
                (Handler::Mssim(h), false) => h.command_connection(stream),
                (Handler::Mssim(h), true) => h.platform_connection(stream),
            }
            lock(&state.streams).remove(&id);
            reg.touch(&slot);
            drop(guard);
        });
    if spawned.is_err() {
        lock(&registered.streams).remove(&id);
    }
    spawned.map(|_| ())
}
