//! Where the time of one `vtpm create` goes, step by step, in this
//! process with the library calls the daemon makes (`daemon/ops.rs`
//! `create`): a fresh engine (seeds from the OS), TPM2_Startup, the EK
//! (TPM2_CreatePrimary with the EK Credential Profile template), its
//! certificate (X.509, ECDSA P-256 signature by the host vTPM CA), the
//! whole `ekcert::manufacture` (EK + certificate + NV define/write/lock),
//! the first sealed save (AES-GCM, state file replaced with fsyncs, the
//! version record appended and fsynced, the anchor file replaced), the
//! load-back check, and the instance directory (instance.json, renames,
//! directory fsyncs).
//!
//! The sealed save is timed twice: on the bench's state file system and
//! on tmpfs (`/dev/shm`, where fsync returns at once), so the difference
//! is what durability costs.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use tpm::{EngineConfig, Tpm};
use vtpm::daemon::meta::{self, Meta};
use vtpm::ekcert::{self, CaAlgorithm, EkKind, FileCa};
use vtpm::seal::{open_sealed_store, SealConfig, SealedStore};

use crate::{commands as c, harness};

/// One measured step.
pub struct Step {
    pub name: String,
    pub samples: Vec<Duration>,
}

impl Step {
    fn new(name: &str, mut samples: Vec<Duration>) -> Step {
        samples.sort_unstable();
        Step {
            name: name.to_string(),
            samples,
        }
    }

    pub fn p50(&self) -> Duration {
        harness::percentile(&self.samples, 0.5)
    }

    pub fn mean(&self) -> Duration {
        let n = self.samples.len().max(1) as u32;
        self.samples.iter().sum::<Duration>() / n
    }
}

fn time<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// A started engine and what the EK certificate says about it.
fn started_tpm() -> (Tpm, ekcert::TpmInfo) {
    let mut tpm = Tpm::new(&EngineConfig::default());
    let r = tpm.execute(0, &c::startup_clear());
    assert_eq!(c::rc(&r), 0, "Startup");
    let info = ekcert::read_tpm_info(&mut tpm).expect("TPM properties");
    (tpm, info)
}

/// Engine and certificate steps: `ecc` rounds for everything ECC, `rsa`
/// rounds for the RSA EK (each RSA round is a new TPM: the prime search
/// depends on the seed).
pub fn engine_steps(ca_dir: &Path, ecc: usize, rsa: usize) -> Vec<Step> {
    let (ca, _) =
        FileCa::open_or_create(ca_dir, CaAlgorithm::default(), "bench").expect("bench CA");
    let mut new = Vec::new();
    let mut startup = Vec::new();
    let mut ek_ecc = Vec::new();
    let mut cert_ecc = Vec::new();
    let mut man_ecc = Vec::new();
    let mut blob_t = Vec::new();
    for _ in 0..ecc {
        let (mut tpm, t) = time(|| Tpm::new(&EngineConfig::default()));
        new.push(t);
        let (info, t) = time(|| {
            assert_eq!(c::rc(&tpm.execute(0, &c::startup_clear())), 0);
            ekcert::read_tpm_info(&mut tpm).expect("TPM properties")
        });
        startup.push(t);
        let (public, t) = time(|| ekcert::create_ek(&mut tpm, EkKind::EccP256).expect("EK"));
        ek_ecc.push(t);
        let (_, t) = time(|| {
            ekcert::issue_ek_certificate(&ca, &public, &info, SystemTime::now()).expect("cert")
        });
        cert_ecc.push(t);
        let mut fresh = Tpm::new(&EngineConfig::default());
        let (_, t) = time(|| ekcert::manufacture(&mut fresh, &ca, &[EkKind::EccP256]).expect("m"));
        man_ecc.push(t);
        let (_, t) = time(|| fresh.state_blob());
        blob_t.push(t);
    }
    let mut ek_rsa = Vec::new();
    let mut cert_rsa = Vec::new();
    for _ in 0..rsa {
        let (mut tpm, info) = started_tpm();
        let (public, t) = time(|| ekcert::create_ek(&mut tpm, EkKind::Rsa2048).expect("EK"));
        ek_rsa.push(t);
        let (_, t) = time(|| {
            ekcert::issue_ek_certificate(&ca, &public, &info, SystemTime::now()).expect("cert")
        });
        cert_rsa.push(t);
    }
    vec![
        Step::new("Tpm::new (seeds from the OS)", new),
        Step::new("TPM2_Startup + GetCapability(properties)", startup),
        Step::new("EK ECC P-256: CreatePrimary (L-2) + Flush", ek_ecc),
        Step::new("EK certificate for the ECC EK (ECDSA P-256 CA)", cert_ecc),
        Step::new(
            "ekcert::manufacture, ECC EK only (all of the above + NV)",
            man_ecc,
        ),
        Step::new("state_blob()", blob_t),
        Step::new("EK RSA 2048: CreatePrimary (L-1) + Flush", ek_rsa),
        Step::new("EK certificate for the RSA EK", cert_rsa),
    ]
}

fn store_in(dir: &Path) -> Arc<SealedStore> {
    let cfg = SealConfig::under(dir, false);
    Arc::new(open_sealed_store(&cfg, None).expect("sealed store"))
}

/// A manufactured (ECC EK) state blob, as `create` stores it.
pub fn sample_blob(ca_dir: &Path) -> Vec<u8> {
    let (ca, _) =
        FileCa::open_or_create(ca_dir, CaAlgorithm::default(), "bench").expect("bench CA");
    let mut tpm = Tpm::new(&EngineConfig::default());
    ekcert::manufacture(&mut tpm, &ca, &[EkKind::EccP256]).expect("manufacture");
    tpm.state_blob()
}

/// Storage steps of `create` on the file system of `dir` (`label` names
/// it), `rounds` new instances one after another; then `rounds` more
/// first saves from `threads` threads at once (group commit of the
/// version record). Returns the steps and the parallel save rate.
pub fn storage_steps(
    dir: &Path,
    label: &str,
    blob: &[u8],
    rounds: usize,
    threads: usize,
) -> (Vec<Step>, f64) {
    let store = store_in(&dir.join("state"));
    let instances = dir.join("instances");
    fs::create_dir_all(&instances).expect("instances dir");
    let mut save = Vec::new();
    let mut load = Vec::new();
    let mut idir = Vec::new();
    for i in 0..rounds {
        let name = format!("s{i}");
        let (_, t) = time(|| store.save(&name, blob).expect("save"));
        save.push(t);
        let (_, t) = time(|| {
            let l = store.load(&name).expect("load").expect("present");
            Tpm::from_state(
                &l.blob,
                tpm::crypto::Drbg::from_os(),
                Box::<tpm::engine::SystemTime>::default(),
            )
            .expect("state")
        });
        load.push(t);
        let (_, t) = time(|| {
            let partial = instances.join(format!(".partial-{name}"));
            fs::create_dir(&partial).expect("mkdir");
            meta::write(
                &partial,
                &Meta::new(&name, vec!["sha256".into()], Vec::new()),
            )
            .expect("meta");
            fs::rename(&partial, instances.join(&name)).expect("rename");
            fs::File::open(&instances)
                .and_then(|d| d.sync_all())
                .expect("fsync");
        });
        idir.push(t);
    }
    let started = Instant::now();
    let per = rounds.div_ceil(threads.max(1));
    let hs: Vec<_> = (0..threads.max(1))
        .map(|t| {
            let (store, blob) = (Arc::clone(&store), blob.to_vec());
            thread::spawn(move || {
                for i in 0..per {
                    store.save(&format!("p{t}-{i}"), &blob).expect("save");
                }
            })
        })
        .collect();
    for h in hs {
        h.join().expect("save thread");
    }
    let rate = (per * threads.max(1)) as f64 / started.elapsed().as_secs_f64();
    (
        vec![
            Step::new(&format!("sealed save, new instance ({label})"), save),
            Step::new(&format!("sealed load + Tpm::from_state ({label})"), load),
            Step::new(
                &format!("instance dir: mkdir, instance.json, renames, fsyncs ({label})"),
                idir,
            ),
        ],
        rate,
    )
}
