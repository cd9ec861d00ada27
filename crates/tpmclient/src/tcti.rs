//! TCTI configuration strings as tpm2-tss's TCTI loader reads them
//! (`TPM2TOOLS_TCTI`, `--tcti`): `NAME[:CONF]`.
//!
//! * `device[:PATH]` — the character device at PATH; without one, the
//!   first of `/dev/tpmrm0`, `/dev/tpm0` that opens (tcti-device).
//! * `mssim[:host=HOST,port=PORT]` — TCG simulator, defaults `localhost`
//!   and 2321; the platform port is PORT + 1 (tcti-mssim).
//! * `swtpm[:host=HOST,port=PORT]` or `swtpm:path=SOCKET` — swtpm's data
//!   channel, defaults `localhost` and 2321; control channel PORT + 1 or
//!   SOCKET.ctrl (tcti-swtpm).
//!
//! The name may also be spelled as the loader accepts library names
//! (`tcti-mssim`, `libtss2-tcti-mssim.so`, `libtss2-tcti-mssim.so.0`).
//! Key/value pairs are comma-separated and empty pairs are skipped, as in
//! tpm2-tss's parse_key_value_string; unlike it, a pair with a second `=`
//! or a port with trailing garbage is refused rather than truncated, since
//! a silently misread address would talk to the wrong TPM.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::transport::{
    DeviceTransport, MssimTransport, SwtpmEndpoint, SwtpmTransport, Timeouts, Transport,
    TransportError,
};

/// The default host of the socket TCTIs.
pub const DEFAULT_HOST: &str = "localhost";
/// The default (command / data) port of the socket TCTIs.
pub const DEFAULT_PORT: u16 = 2321;

/// A parsed TCTI configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tcti {
    /// `device:PATH`; `None` tries the default devices.
    Device(Option<PathBuf>),
    /// `mssim:host=..,port=..`.
    Mssim { host: String, port: u16 },
    /// `swtpm:host=..,port=..` or `swtpm:path=..`.
    Swtpm(SwtpmEndpoint),
}

/// Why a TCTI string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TctiError {
    #[error(
        "empty TCTI string (expected device:PATH, mssim:host=..,port=.. or swtpm:host=..,port=..)"
    )]
    Empty,
    #[error("unsupported TCTI {0:?} (supported: device, mssim, swtpm)")]
    UnknownTcti(String),
    #[error("{tcti} TCTI: {pair:?} is not a key=value pair")]
    NotKeyValue { tcti: &'static str, pair: String },
    #[error("{tcti} TCTI: unknown key {key:?} (allowed: {allowed})")]
    UnknownKey {
        tcti: &'static str,
        key: String,
        allowed: &'static str,
    },
    #[error("{tcti} TCTI: port {0:?} is not a number from 1 to 65535", .value)]
    BadPort { tcti: &'static str, value: String },
    #[error("{tcti} TCTI: key {key:?} given twice")]
    Duplicate { tcti: &'static str, key: String },
    #[error("swtpm TCTI: path= cannot be combined with host= or port=")]
    PathAndHost,
}

impl FromStr for Tcti {
    type Err = TctiError;

    fn from_str(s: &str) -> Result<Self, TctiError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TctiError::Empty);
        }
        let (name, conf) = match s.split_once(':') {
            Some((n, c)) => (n, c),
            None => (s, ""),
        };
        match normalize_name(name).as_str() {
            "device" => Ok(Tcti::Device(
                (!conf.is_empty()).then(|| PathBuf::from(conf)),
            )),
            "mssim" => {
                let kv = parse_pairs("mssim", conf, &["host", "port"], "host, port")?;
                let (host, port) = host_port("mssim", &kv)?;
                Ok(Tcti::Mssim { host, port })
            }
            "swtpm" => {
                let kv = parse_pairs("swtpm", conf, &["host", "port", "path"], "host, port, path")?;
                if let Some((_, path)) = kv.iter().find(|(k, _)| *k == "path") {
                    if kv.iter().any(|(k, _)| *k != "path") {
                        return Err(TctiError::PathAndHost);
                    }
                    return Ok(Tcti::Swtpm(SwtpmEndpoint::Unix {
                        path: PathBuf::from(path),
                    }));
                }
                let (host, port) = host_port("swtpm", &kv)?;
                Ok(Tcti::Swtpm(SwtpmEndpoint::Tcp { host, port }))
            }
            _ => Err(TctiError::UnknownTcti(name.to_string())),
        }
    }
}

/// `libtss2-tcti-mssim.so.0` → `mssim`, `tcti-swtpm` → `swtpm`.
fn normalize_name(name: &str) -> String {
    let mut n = name;
    for suffix in [".so.0", ".so"] {
        if let Some(x) = n.strip_suffix(suffix) {
            n = x;
            break;
        }
    }
    for prefix in ["libtss2-tcti-", "tcti-"] {
        if let Some(x) = n.strip_prefix(prefix) {
            n = x;
            break;
        }
    }
    n.to_string()
}

fn parse_pairs<'a>(
    tcti: &'static str,
    conf: &'a str,
    keys: &[&str],
    allowed: &'static str,
) -> Result<Vec<(&'a str, &'a str)>, TctiError> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for pair in conf.split(',').filter(|p| !p.is_empty()) {
        let mut it = pair.split('=');
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(TctiError::NotKeyValue {
                tcti,
                pair: pair.to_string(),
            });
        };
        if k.is_empty() || v.is_empty() {
            return Err(TctiError::NotKeyValue {
                tcti,
                pair: pair.to_string(),
            });
        }
        if !keys.contains(&k) {
            return Err(TctiError::UnknownKey {
                tcti,
                key: k.to_string(),
                allowed,
            });
        }
        if out.iter().any(|(x, _)| *x == k) {
            return Err(TctiError::Duplicate {
                tcti,
                key: k.to_string(),
            });
        }
        out.push((k, v));
    }
    Ok(out)
}

fn host_port(tcti: &'static str, kv: &[(&str, &str)]) -> Result<(String, u16), TctiError> {
    let mut host = DEFAULT_HOST.to_string();
    let mut port = DEFAULT_PORT;
    for (k, v) in kv {
        match *k {
            "host" => host = v.to_string(),
            "port" => {
                port = v
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0 && v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| TctiError::BadPort {
                        tcti,
                        value: v.to_string(),
                    })?;
            }
            _ => {}
        }
    }
    Ok((host, port))
}

impl fmt::Display for Tcti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tcti::Device(None) => write!(f, "device"),
            Tcti::Device(Some(p)) => write!(f, "device:{}", p.display()),
            Tcti::Mssim { host, port } => write!(f, "mssim:host={host},port={port}"),
            Tcti::Swtpm(e) => write!(f, "{e}"),
        }
    }
}

impl Tcti {
    /// Opens the transport this configuration names.
    pub fn connect(&self, timeouts: Timeouts) -> Result<Box<dyn Transport>, TransportError> {
        self.open(timeouts, false)
    }

    /// Like [`Tcti::connect`], but a swtpm gets a new data connection per
    /// command (as tcti-swtpm does), so other clients of the same swtpm
    /// are not locked out between commands.
    pub fn connect_shared(&self, timeouts: Timeouts) -> Result<Box<dyn Transport>, TransportError> {
        self.open(timeouts, true)
    }

    fn open(&self, timeouts: Timeouts, shared: bool) -> Result<Box<dyn Transport>, TransportError> {
        Ok(match self {
            Tcti::Device(p) => Box::new(DeviceTransport::open(p.as_deref(), timeouts)?),
            Tcti::Mssim { host, port } => Box::new(MssimTransport::connect(host, *port, timeouts)?),
            Tcti::Swtpm(e) => {
                let mut t = SwtpmTransport::connect(e.clone(), timeouts)?;
                t.set_connection_per_command(shared);
                Box::new(t)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Tcti, TctiError> {
        s.parse()
    }

    fn tcp(host: &str, port: u16) -> Tcti {
        Tcti::Swtpm(SwtpmEndpoint::Tcp {
            host: host.into(),
            port,
        })
    }

    #[test]
    fn device_strings() {
        assert_eq!(
            p("device:/dev/tpmrm0"),
            Ok(Tcti::Device(Some("/dev/tpmrm0".into())))
        );
        assert_eq!(p("device"), Ok(Tcti::Device(None)));
        assert_eq!(p("device:"), Ok(Tcti::Device(None)));
        // The whole configuration is the path, as in tcti-device.
        assert_eq!(
            p("device:/tmp/a:b=c"),
            Ok(Tcti::Device(Some("/tmp/a:b=c".into())))
        );
        assert_eq!(
            p("libtss2-tcti-device.so.0:/dev/tpm0"),
            Ok(Tcti::Device(Some("/dev/tpm0".into())))
        );
    }

    #[test]
    fn socket_strings_and_defaults() {
        assert_eq!(
            p("mssim:host=127.0.0.1,port=2321"),
            Ok(Tcti::Mssim {
                host: "127.0.0.1".into(),
                port: 2321
            })
        );
        assert_eq!(
            p("mssim"),
            Ok(Tcti::Mssim {
                host: "localhost".into(),
                port: 2321
            })
        );
        assert_eq!(
            p("tcti-mssim:port=4000"),
            Ok(Tcti::Mssim {
                host: "localhost".into(),
                port: 4000
            })
        );
        assert_eq!(p("swtpm:port=2331"), Ok(tcp("localhost", 2331)));
        assert_eq!(p("swtpm:host=::1"), Ok(tcp("::1", 2321)));
        assert_eq!(p("swtpm:,host=h,,port=7,"), Ok(tcp("h", 7)));
        assert_eq!(
            p("swtpm:path=/run/vm1.sock"),
            Ok(Tcti::Swtpm(SwtpmEndpoint::Unix {
                path: "/run/vm1.sock".into()
            }))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "device",
            "device:/dev/tpmrm0",
            "mssim:host=127.0.0.1,port=2321",
            "swtpm:host=localhost,port=9",
            "swtpm:path=/x/y",
        ] {
            assert_eq!(p(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_strings_are_refused_with_a_reason() {
        assert_eq!(p(""), Err(TctiError::Empty));
        assert_eq!(p("tabrmd"), Err(TctiError::UnknownTcti("tabrmd".into())));
        assert!(matches!(
            p("mssim:host"),
            Err(TctiError::NotKeyValue { .. })
        ));
        assert!(matches!(
            p("mssim:host="),
            Err(TctiError::NotKeyValue { .. })
        ));
        assert!(matches!(
            p("mssim:host=a=b"),
            Err(TctiError::NotKeyValue { .. })
        ));
        assert!(matches!(
            p("mssim:path=/x"),
            Err(TctiError::UnknownKey { key, .. }) if key == "path"
        ));
        for bad in ["0", "65536", "12ab", "-1", "+5"] {
            let e = p(&format!("swtpm:port={bad}")).unwrap_err();
            assert!(matches!(e, TctiError::BadPort { .. }), "{bad}: {e:?}");
            assert!(e.to_string().contains(bad));
        }
        assert!(matches!(
            p("swtpm:port=1,port=2"),
            Err(TctiError::Duplicate { .. })
        ));
        assert_eq!(p("swtpm:path=/x,port=2"), Err(TctiError::PathAndHost));
        let msg = p("mssim:foo=1").unwrap_err().to_string();
        assert!(msg.contains("foo") && msg.contains("host, port"), "{msg}");
    }
}
