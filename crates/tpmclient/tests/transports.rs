//! The socket transports against small fake servers that misbehave on
//! purpose: silence (bounded by the command timeout), absurd size fields,
//! a data connection closed after every response (re-opened before the
//! next command), and the platform/control handshakes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tpmclient::transport::{
    MssimTransport, SwtpmEndpoint, SwtpmTransport, Timeouts, Transport, TransportError,
};

const GET_RANDOM_8: [u8; 12] = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8];
const OK_RESPONSE: [u8; 10] = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0];

fn short() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        command: Duration::from_millis(300),
    }
}

/// Two listeners on adjacent ports (data/command and control/platform).
fn port_pair() -> (TcpListener, TcpListener, u16) {
    for _ in 0..100 {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p == u16::MAX {
            continue;
        }
        if let Ok(b) = TcpListener::bind(("127.0.0.1", p + 1)) {
            return (a, b, p);
        }
    }
    panic!("no adjacent ports");
}

fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    s.read_exact(&mut b).unwrap();
    b
}

/// A swtpm control channel that answers every command with result 0 and
/// reports the payloads it saw.
fn fake_control(l: TcpListener, seen: mpsc::Sender<Vec<u8>>) {
    thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let mut b = [0u8; 5];
            if c.read_exact(&mut b).is_err() {
                continue;
            }
            let _ = seen.send(b.to_vec());
            let _ = c.write_all(&0u32.to_be_bytes());
        }
    });
}

#[test]
fn swtpm_sets_locality_and_survives_a_server_that_closes_after_each_response() {
    let (data, ctrl, port) = port_pair();
    let (tx, rx) = mpsc::channel();
    fake_control(ctrl, tx);
    let served = thread::spawn(move || {
        // Three connections, one command each, like tcti-swtpm's server
        // side expectations.
        for _ in 0..3 {
            let (mut c, _) = data.accept().unwrap();
            assert_eq!(read_n(&mut c, 12), GET_RANDOM_8);
            c.write_all(&OK_RESPONSE).unwrap();
        }
    });
    let ep = SwtpmEndpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let mut t = SwtpmTransport::connect(ep, short()).unwrap();
    // CMD_SET_LOCALITY (5) with locality 0 on connect.
    assert_eq!(rx.recv().unwrap(), [0, 0, 0, 5, 0]);
    for locality in [0, 0, 2] {
        // Let the server's close arrive before the next command.
        thread::sleep(Duration::from_millis(50));
        assert_eq!(t.transmit(locality, &GET_RANDOM_8).unwrap(), OK_RESPONSE);
    }
    assert_eq!(rx.recv().unwrap(), [0, 0, 0, 5, 2]);
    served.join().unwrap();
}

#[test]
fn swtpm_connection_per_command_closes_after_each_response() {
    let (data, ctrl, port) = port_pair();
    let (tx, _rx) = mpsc::channel();
    fake_control(ctrl, tx);
    let served = thread::spawn(move || {
        // The connection made by connect() is closed by the switch.
        let (mut c0, _) = data.accept().unwrap();
        let mut rest = Vec::new();
        c0.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        for _ in 0..2 {
            let (mut c, _) = data.accept().unwrap();
            assert_eq!(read_n(&mut c, 12), GET_RANDOM_8);
            c.write_all(&OK_RESPONSE).unwrap();
            // The client hangs up once it has the response.
            let mut rest = Vec::new();
            c.read_to_end(&mut rest).unwrap();
            assert!(rest.is_empty());
        }
    });
    let ep = SwtpmEndpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let mut t = SwtpmTransport::connect(ep, short()).unwrap();
    t.set_connection_per_command(true);
    for _ in 0..2 {
        assert_eq!(t.transmit(0, &GET_RANDOM_8).unwrap(), OK_RESPONSE);
    }
    served.join().unwrap();
}

#[test]
fn a_silent_server_times_out_and_a_huge_size_is_refused() {
    let (data, ctrl, port) = port_pair();
    let (tx, _rx) = mpsc::channel();
    fake_control(ctrl, tx);
    let served = thread::spawn(move || {
        let (mut c, _) = data.accept().unwrap();
        read_n(&mut c, 12);
        // Say nothing until the client gave up; then answer late.
        thread::sleep(Duration::from_millis(600));
        let _ = c.write_all(&OK_RESPONSE);
        // The client does not read the late answer: it reconnects.
        let (mut c2, _) = data.accept().unwrap();
        read_n(&mut c2, 12);
        // A header claiming 16 MiB.
        c2.write_all(&[0x80, 0x01, 0x01, 0, 0, 0, 0, 0, 0, 0])
            .unwrap();
        thread::sleep(Duration::from_millis(200));
    });
    let ep = SwtpmEndpoint::Tcp {
        host: "127.0.0.1".into(),
        port,
    };
    let mut t = SwtpmTransport::connect(ep, short()).unwrap();
    let started = Instant::now();
    let e = t.transmit(0, &GET_RANDOM_8).unwrap_err();
    let waited = started.elapsed();
    assert!(matches!(e, TransportError::Timeout { .. }), "{e}");
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    thread::sleep(Duration::from_millis(400));
    let e = t.transmit(0, &GET_RANDOM_8).unwrap_err();
    assert!(matches!(e, TransportError::Protocol { .. }), "{e}");
    assert!(e.to_string().contains("out of range"), "{e}");
    served.join().unwrap();
}

#[test]
fn mssim_powers_on_and_frames_commands_with_the_locality() {
    let (cmd_l, plat_l, port) = port_pair();
    let platform = thread::spawn(move || {
        let (mut p, _) = plat_l.accept().unwrap();
        let mut signals = Vec::new();
        for _ in 0..2 {
            signals.push(u32::from_be_bytes(read_n(&mut p, 4).try_into().unwrap()));
            p.write_all(&0u32.to_be_bytes()).unwrap();
        }
        // TPM_SESSION_END on drop.
        signals.push(u32::from_be_bytes(read_n(&mut p, 4).try_into().unwrap()));
        signals
    });
    let command = thread::spawn(move || {
        let (mut c, _) = cmd_l.accept().unwrap();
        let head = read_n(&mut c, 9);
        assert_eq!(&head[..4], &8u32.to_be_bytes(), "TPM_SEND_COMMAND");
        let locality = head[4];
        assert_eq!(&head[5..], &12u32.to_be_bytes());
        assert_eq!(read_n(&mut c, 12), GET_RANDOM_8);
        c.write_all(&10u32.to_be_bytes()).unwrap();
        c.write_all(&OK_RESPONSE).unwrap();
        c.write_all(&0u32.to_be_bytes()).unwrap();
        let end = read_n(&mut c, 4);
        (locality, end)
    });
    let mut t = MssimTransport::connect("127.0.0.1", port, short()).unwrap();
    assert_eq!(t.transmit(3, &GET_RANDOM_8).unwrap(), OK_RESPONSE);
    drop(t);
    assert_eq!(
        platform.join().unwrap(),
        vec![1, 11, 20],
        "POWER_ON, NV_ON, SESSION_END"
    );
    let (locality, end) = command.join().unwrap();
    assert_eq!(locality, 3);
    assert_eq!(end, 20u32.to_be_bytes());
}

#[test]
fn mssim_refuses_a_nonzero_platform_ack() {
    let (_cmd_l, plat_l, port) = port_pair();
    thread::spawn(move || {
        let (mut p, _) = plat_l.accept().unwrap();
        read_n(&mut p, 4);
        p.write_all(&1u32.to_be_bytes()).unwrap();
        thread::sleep(Duration::from_millis(100));
    });
    let e = MssimTransport::connect("127.0.0.1", port, short()).unwrap_err();
    assert!(matches!(e, TransportError::Protocol { .. }), "{e}");
}

#[test]
fn the_client_is_send() {
    fn send<T: Send>() {}
    send::<tpmclient::Tpm>();
}
