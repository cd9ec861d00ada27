//! An in-process simulated attester: our own TPM engine behind
//! `tpmclient`'s engine transport, booted by replaying a firmware event log
//! into its PCRs, with an IMA list extended into PCR 10, producing real
//! `Evidence` (TPM2_Quote by a real AK). Shared by the integration tests and
//! the benchmark.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use attest::eventlog::EventLog;
use attest::ima::{write_entry, ImaLog};
use attest::pcrs::PcrValues;
use attest::protocol::{Evidence, ImaEvidence};
use tpm::constants::rh;
use tpm::crypto::{Drbg, HashAlg};
use tpm::types::{PcrSelection, PcrSelectionList, Public, SigScheme};
use tpm::wire::Codec;
use tpm::{EngineConfig, TimeSource};
use tpmclient::transport::{Transport, TransportError};
use tpmclient::{Auth, StartupType};

pub const OVMF_LOG: &[u8] = include_bytes!("../data/ovmf-qemu-q35-linux-6.1.bin");

#[derive(Clone, Default)]
pub struct Clock(pub Arc<AtomicU64>);

impl TimeSource for Clock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock {
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

/// The engine shared between the client and the test (power cycles, state
/// snapshots).
#[derive(Clone)]
pub struct Shared(pub Arc<Mutex<tpm::Tpm>>);

impl Transport for Shared {
    fn transmit(&mut self, locality: u8, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.lock().unwrap().execute(locality, command))
    }
    fn endpoint(&self) -> String {
        "shared engine (in process)".into()
    }
}

pub struct Sim {
    pub tpm: tpmclient::Tpm,
    pub engine: Shared,
    pub clock: Clock,
    pub banks: Vec<HashAlg>,
    pub ak: Public,
    pub ak_handle: u32,
    /// The IMA list as the kernel would expose it.
    pub ima: Vec<u8>,
    pub ima_count: u64,
}

pub fn engine(banks: &[HashAlg], seed: u8, clock: &Clock) -> tpm::Tpm {
    tpm::Tpm::manufacture(
        &EngineConfig {
            pcr_banks: banks.to_vec(),
        },
        Drbg::new([seed; 32]),
        Box::new(clock.clone()),
    )
}

impl Sim {
    /// A fresh TPM (started) with an ECC P-256 AK.
    pub fn new(seed: u8) -> Sim {
        Sim::with_ak(seed, tpmclient::templates::ak_ecc_p256())
    }

    pub fn with_ak(seed: u8, template: Public) -> Sim {
        let clock = Clock::default();
        let banks = vec![HashAlg::Sha1, HashAlg::Sha256];
        let e = engine(&banks, seed, &clock);
        Sim::from_engine(e, clock, banks, template)
    }

    pub fn from_engine(e: tpm::Tpm, clock: Clock, banks: Vec<HashAlg>, template: Public) -> Sim {
        let engine = Shared(Arc::new(Mutex::new(e)));
        let mut tpm = tpmclient::Tpm::new(engine.clone());
        tpm.startup(StartupType::Clear).unwrap();
        let ak = tpm
            .create_primary(
                rh::ENDORSEMENT,
                &Auth::empty(),
                &template,
                &Default::default(),
            )
            .unwrap();
        Sim {
            tpm,
            engine,
            clock,
            banks,
            ak: ak.public,
            ak_handle: ak.handle,
            ima: Vec::new(),
            ima_count: 0,
        }
    }

    /// Extends every event of `log` into the PCRs (the banks this TPM has).
    pub fn boot(&mut self, log: &EventLog) {
        for e in log.events.iter().filter(|e| e.is_extended()) {
            let digests: Vec<(HashAlg, &[u8])> = self
                .banks
                .iter()
                .filter_map(|b| e.digest(*b).map(|d| (*b, d)))
                .collect();
            self.tpm
                .pcr_extend(e.pcr_index, &Auth::empty(), &digests)
                .unwrap();
        }
    }

    /// Extends PCR `pcr` with H(data) in every bank.
    pub fn extend(&mut self, pcr: u32, data: &[u8]) {
        let digests: Vec<Vec<u8>> = self.banks.iter().map(|b| b.digest(&[data])).collect();
        let d: Vec<(HashAlg, &[u8])> = self
            .banks
            .iter()
            .zip(&digests)
            .map(|(b, d)| (*b, d.as_slice()))
            .collect();
        self.tpm.pcr_extend(pcr, &Auth::empty(), &d).unwrap();
    }

    /// Measures an IMA entry: appends it to the list and extends PCR 10.
    pub fn ima_measure(&mut self, template: &str, data: &[u8]) {
        let start = self.ima.len();
        write_entry(&mut self.ima, 10, template, data, false);
        let list = self.ima[start..].to_vec();
        let entry = ImaLog::parse(&list).unwrap()[0];
        let digests: Vec<Vec<u8>> = self
            .banks
            .iter()
            .map(|b| entry.template_digest(*b))
            .collect();
        let d: Vec<(HashAlg, &[u8])> = self
            .banks
            .iter()
            .zip(&digests)
            .map(|(b, d)| (*b, d.as_slice()))
            .collect();
        self.tpm.pcr_extend(10, &Auth::empty(), &d).unwrap();
        self.ima_count += 1;
    }

    /// IMA's first measurement as the kernel makes it when IMA starts:
    /// `boot_aggregate`, SHA-256 over the SHA-256 PCRs 0–9 as they are now
    /// (security/integrity/ima/ima_crypto.c, ima_calc_boot_aggregate).
    pub fn ima_boot_aggregate(&mut self) {
        let all: Vec<usize> = (0..10).collect();
        let sel = PcrSelectionList(vec![PcrSelection::with(HashAlg::Sha256, &all)]);
        let read = self.tpm.pcr_read(&sel).unwrap();
        assert_eq!(read.values.len(), 10);
        let parts: Vec<&[u8]> = read.values.iter().map(|v| v.digest.as_slice()).collect();
        let aggregate = HashAlg::Sha256.digest(&parts);
        let data = attest::ima::ima_ng_data("sha256", &aggregate, "boot_aggregate");
        self.ima_measure("ima-ng", &data);
    }

    /// The IMA list from entry `offset` on.
    pub fn ima_from(&self, offset: u64) -> ImaEvidence {
        let mut it = ImaLog::new(&self.ima);
        for _ in 0..offset {
            it.next();
        }
        ImaEvidence {
            offset,
            entries: self.ima[it.offset()..].to_vec(),
        }
    }

    /// Quote + PCR values for `selection` (bank, PCRs).
    pub fn evidence(
        &mut self,
        nonce: &[u8],
        selection: &[(HashAlg, &[usize])],
        event_log: Option<Vec<u8>>,
        ima: Option<ImaEvidence>,
    ) -> Evidence {
        self.clock.advance(1000);
        let sel = PcrSelectionList(
            selection
                .iter()
                .map(|(b, p)| PcrSelection::with(*b, p))
                .collect(),
        );
        let q = self
            .tpm
            .quote(self.ak_handle, &Auth::empty(), nonce, SigScheme::Null, &sel)
            .unwrap();
        let read = self.tpm.pcr_read(&sel).unwrap();
        let mut values = PcrValues::new();
        for v in &read.values {
            values.set(v.bank, v.index as u32, v.digest.clone());
        }
        Evidence {
            nonce: nonce.to_vec(),
            quote: q.attest.as_bytes().to_vec(),
            signature: q.signature.to_bytes(),
            pcrs: values.to_protocol(),
            event_log,
            ima,
        }
    }

    /// A TPM Reset (reboot): Shutdown(CLEAR) and Startup(CLEAR); the AK is
    /// re-created (same seed, same key) and PCRs start over.
    pub fn reboot(&mut self) {
        self.tpm.shutdown(StartupType::Clear).unwrap();
        self.engine.0.lock().unwrap().power_on();
        self.tpm.startup(StartupType::Clear).unwrap();
        self.recreate_ak();
    }

    /// Replaces the TPM's whole state with `blob` (a vTPM state rollback)
    /// and powers it on.
    pub fn restore(&mut self, blob: &[u8]) {
        let e =
            tpm::Tpm::from_state(blob, Drbg::new([9; 32]), Box::new(self.clock.clone())).unwrap();
        *self.engine.0.lock().unwrap() = e;
        self.tpm.startup(StartupType::Clear).unwrap();
        self.recreate_ak();
    }

    pub fn state_blob(&self) -> Vec<u8> {
        self.engine.0.lock().unwrap().state_blob()
    }

    fn recreate_ak(&mut self) {
        let mut t = self.ak.clone();
        t.unique = tpm::types::PublicId::empty(t.object_type()).unwrap();
        let ak = self
            .tpm
            .create_primary(rh::ENDORSEMENT, &Auth::empty(), &t, &Default::default())
            .unwrap();
        assert_eq!(ak.public, self.ak);
        self.ak_handle = ak.handle;
        self.ima.clear();
        self.ima_count = 0;
    }
}
