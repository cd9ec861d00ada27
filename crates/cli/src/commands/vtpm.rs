//! `trustcloud vtpm`: manage the vTPMs of a running `trustcloud vtpmd`
//! through its management socket.

use crate::stdout::{out, outln};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use vtpm::daemon::api::{
    CreateRequest, ExportDocument, ImportRequest, InstanceInfo, ListenRequest, Request,
};
use vtpm::daemon::Client;

const EXAMPLES: &str = "\
Examples:
  trustcloud vtpm create vm1 --run-dir ./run
  trustcloud vtpm create vm2 --ek rsa2048,ecc-p256,sm2 --pcr-banks sha256,sm3_256
  trustcloud vtpm create dev --listen 127.0.0.1:2321 --protocol swtpm
  trustcloud vtpm create vm1-dst --incoming vm1   # live-migration destination
  TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321 tpm2_startup -c
  trustcloud vtpm list
  trustcloud vtpm show vm1 --json
  trustcloud vtpm export vm1 --to vm1.vtpm && trustcloud vtpm delete vm1
  trustcloud vtpm import --from vm1.vtpm

Every subcommand finds the daemon through --run-dir (or TRUSTCLOUD_RUN_DIR),
by default /run/trustcloud as root, else $XDG_RUNTIME_DIR/trustcloud.";

/// Create and manage the vTPMs of a running vtpmd.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct VtpmArgs {
    /// The daemon's run directory (where vtpmd.sock is).
    /// [default: /run/trustcloud as root, else $XDG_RUNTIME_DIR/trustcloud]
    #[arg(long, value_name = "DIR", global = true, env = "TRUSTCLOUD_RUN_DIR")]
    run_dir: Option<PathBuf>,

    /// Print the daemon's answer as JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: VtpmCommand,
}

#[derive(Subcommand, Debug)]
enum VtpmCommand {
    /// Manufacture a new vTPM: fresh seeds, endorsement keys, control socket RUN/NAME.ctrl.
    Create(CreateArgs),
    /// List every vTPM.
    List,
    /// Show one vTPM: sockets, EK public keys and certificates, state.
    Show {
        /// The vTPM's name.
        name: String,
    },
    /// Delete a vTPM and its state (irreversible: export it first to keep it).
    Delete {
        /// The vTPM's name.
        name: String,
        /// Delete even while clients (a running VM) are connected.
        #[arg(long)]
        force: bool,
    },
    /// Write a vTPM's state and metadata to a file (it holds the TPM's
    /// secrets: keep it like a private key).
    Export {
        /// The vTPM's name.
        name: String,
        /// The file to write (mode 0600; an existing file is replaced).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Create a vTPM from a file written by `vtpm export`.
    Import {
        /// The file to read.
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// Name of the new vTPM [default: the exported name].
        name: Option<String>,
        #[command(flatten)]
        listen: ListenArgs,
    },
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// The vTPM's name: 1-64 characters from A-Z a-z 0-9 . _ -
    name: String,
    /// Endorsement keys to create, comma-separated: rsa2048, ecc-p256, sm2.
    /// [default: rsa2048,ecc-p256]
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    ek: Vec<String>,
    /// Active PCR banks, comma-separated: sha1, sha256, sha384, sha512, sm3_256.
    /// [default: sha256]
    #[arg(long, value_name = "BANKS", value_delimiter = ',')]
    pcr_banks: Vec<String>,
    #[command(flatten)]
    listen: ListenArgs,
    /// Make this vTPM the destination of a QEMU live migration of the vTPM
    /// SOURCE (same daemon or one sharing its master key): it is not
    /// manufactured, and accepts only state blobs sealed for SOURCE.
    /// Start the destination QEMU (-incoming) on its control socket.
    #[arg(long, value_name = "SOURCE", conflicts_with_all = ["ek", "pcr_banks"])]
    incoming: Option<String>,
    /// UNSAFE: hand out and accept live-migration state blobs in the clear
    /// (the TPM's seeds and keys then cross the migration stream readable
    /// by anyone on its path). Only for migrating to or from an emulator
    /// without this daemon's keys (e.g. swtpm).
    #[arg(long)]
    migration_plaintext: bool,
}

#[derive(Args, Debug)]
struct ListenArgs {
    /// Also serve the vTPM on TCP: ADDR:PORT of the first port, the second is
    /// PORT+1; port 0 picks a free pair (kept across daemon restarts).
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Protocol of the TCP ports: swtpm (data, control) or mssim (command,
    /// platform). [default: swtpm]
    #[arg(long, value_name = "PROTOCOL", requires = "listen", value_parser = ["swtpm", "mssim"])]
    protocol: Option<String>,
}

impl ListenArgs {
    fn request(self) -> ListenRequest {
        ListenRequest {
            listen: self.listen,
            protocol: self.protocol,
        }
    }
}

/// The run directory both `vtpmd` and `vtpm` use when none is given:
/// `/run/trustcloud` for root, `$XDG_RUNTIME_DIR/trustcloud` otherwise.
pub fn default_run_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        return Ok(PathBuf::from("/run/trustcloud"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => Ok(PathBuf::from(d).join("trustcloud")),
        None => bail!("XDG_RUNTIME_DIR is not set: pass --run-dir"),
    }
}

pub fn run(args: VtpmArgs) -> anyhow::Result<()> {
    let run_dir = match args.run_dir {
        Some(d) => d,
        None => default_run_dir()?,
    };
    let mut client = Client::connect(&run_dir)?;
    let json = args.json;
    match args.command {
        VtpmCommand::Create(c) => {
            let info: InstanceInfo = client.call_as(&Request::Create(CreateRequest {
                name: c.name,
                ek: c.ek,
                pcr_banks: c.pcr_banks,
                listen: c.listen.request(),
                migration_plaintext: c.migration_plaintext,
                incoming: c.incoming,
            }))?;
            print_info(&info, json)
        }
        VtpmCommand::List => {
            let list: Vec<InstanceInfo> = client.call_as(&Request::List)?;
            if json {
                return print_json(&list);
            }
            out!("{}", table_text(&list))
        }
        VtpmCommand::Show { name } => {
            let info: InstanceInfo = client.call_as(&Request::Show { name })?;
            print_info(&info, json)
        }
        VtpmCommand::Delete { name, force } => {
            let v = client.call(&Request::Delete {
                name: name.clone(),
                force,
            })?;
            if json {
                return print_json(&v);
            }
            outln!("deleted {name}")?;
            Ok(())
        }
        VtpmCommand::Export { name, to } => {
            let doc: ExportDocument = client.call_as(&Request::Export { name: name.clone() })?;
            write_secret(&to, &serde_json::to_vec_pretty(&doc)?)?;
            if json {
                return print_json(&serde_json::json!({ "exported": name, "file": to }));
            }
            outln!(
                "exported {name} to {} (it holds the vTPM's secrets: keep it safe)",
                to.display()
            )?;
            Ok(())
        }
        VtpmCommand::Import { from, name, listen } => {
            let mut text = Vec::new();
            std::fs::File::open(&from)
                .and_then(|mut f| f.read_to_end(&mut text))
                .with_context(|| format!("cannot read {}", from.display()))?;
            let document: ExportDocument = serde_json::from_slice(&text)
                .with_context(|| format!("{} is not a vTPM export", from.display()))?;
            let info: InstanceInfo = client.call_as(&Request::Import(ImportRequest {
                name,
                document,
                listen: listen.request(),
            }))?;
            print_info(&info, json)
        }
    }
}

/// Writes `bytes` to `path` with mode 0600 (also when replacing a file).
fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

fn print_json<T: serde::Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

fn listen_text(i: &InstanceInfo) -> String {
    i.listen
        .as_ref()
        .map(|l| format!("{} {}", l.protocol, l.first))
        .unwrap_or_else(|| "-".into())
}

/// The `vtpm list` table, one line per vTPM under a header.
fn table_text(list: &[InstanceInfo]) -> String {
    let rows: Vec<[String; 6]> = list
        .iter()
        .map(|i| {
            [
                i.name.clone(),
                i.status.clone(),
                i.connections.to_string(),
                i.ek_kinds.join(","),
                i.pcr_banks.join(","),
                listen_text(i),
            ]
        })
        .collect();
    let header = ["NAME", "STATUS", "CLIENTS", "EKS", "PCR BANKS", "TCP"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut text = line(&header);
    for r in &rows {
        text.push_str(&line(&r.each_ref().map(String::as_str)));
    }
    if list.is_empty() {
        text.push_str("(no vTPMs: create one with `trustcloud vtpm create NAME`)\n");
    }
    text
}

fn print_info(i: &InstanceInfo, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(i);
    }
    outln!("name:            {}", i.name)?;
    outln!("status:          {}", i.status)?;
    if let Some(e) = &i.error {
        outln!("error:           {e}")?;
    }
    outln!("clients:         {}", i.connections)?;
    outln!("control socket:  {}", i.control_socket)?;
    if let Some(l) = &i.listen {
        outln!(
            "tcp:             {} {} / {} (TPM2TOOLS_TCTI={})",
            l.protocol,
            l.first,
            l.second,
            l.tcti
        )?;
    }
    outln!("pcr banks:       {}", i.pcr_banks.join(","))?;
    outln!("created:         {} (unix time)", i.created)?;
    if let Some(d) = &i.state_dir {
        outln!("state:           {}", d)?;
    }
    if let Some(v) = i.state_version {
        outln!("state version:   {v}")?;
    }
    if let Some(src) = &i.incoming {
        outln!("migration:       destination of {src}")?;
    }
    if i.migration_plaintext {
        outln!("migration blobs: IN THE CLEAR (--migration-plaintext)")?;
    }
    for ek in &i.eks {
        outln!("ek {}:", ek.kind)?;
        if let Some(n) = &ek.name {
            outln!("  name:          {n}")?;
        }
        outln!("  public:        {}", ek.public)?;
        match (&ek.cert_nv_index, &ek.certificate) {
            (Some(idx), Some(c)) => {
                outln!("  certificate:   NV {idx:#010x}, {} bytes DER", c.len() / 2)?
            }
            _ => outln!("  certificate:   none")?,
        }
    }
    Ok(())
}
