//! Key creation, signing and attestation latency of `trustcloud tpm serve
//! --protocol swtpm` against swtpm, side by side over TCP in one run
//! (issue 3, "Must show 3").
//!
//! Both servers get the same PCR banks and the same raw command bytes
//! (built by `crates/tpm/benches/commands`, shared with the in-process
//! engine bench). Rounds alternate between the servers one at a time
//! (see `harness`). Rows:
//!
//! - TPM2_CreatePrimary: the ECC P-256 storage key (owner), the TCG EK
//!   templates L-2 (ECC P-256) and L-1 (RSA-2048) (endorsement); each
//!   timed command is followed by an untimed FlushContext. Round r puts r
//!   into the first octets of the template's unique field, so every round
//!   derives a new key (an RSA key's cost depends on where its prime
//!   search starts; a fixed template would time one key per instance).
//! - TPM2_Quote of the SHA-256 PCRs 0–23 with an ECDSA P-256 attestation
//!   key (restricted, under the storage key).
//! - TPM2_Sign of a SHA-256 digest: ECDSA P-256 and RSASSA RSA-2048.
//! - The attestation enrolment flow tpm2-tools/go-attestation run: EK
//!   (CreatePrimary), AK created and loaded under the EK through policy
//!   sessions with PolicySecret(TPM_RH_ENDORSEMENT), MakeCredential to the
//!   AK's Name, ActivateCredential (checked to recover the credential),
//!   Quote (checked to carry the nonce), FlushContext of both — with the
//!   ECC and the RSA EK (unique varied per round as above); the total and
//!   each step get a row.
//!
//! Run: `cargo bench -p trustcloud --bench keys_vs_swtpm`. Environment:
//! `BENCH_ITERATIONS` (default 2000 rounds per row; 300 for the flows),
//! `BENCH_SECONDS` (time cap per row, default 15: RSA key generation is
//! slow, so those rows stop on time), `BENCH_ONLY` (only the rows whose
//! name contains this text, case-insensitive).

#[path = "../tests/support/mod.rs"]
mod support;

mod harness;

#[path = "../../tpm/benches/commands/mod.rs"]
mod commands;

use std::time::Duration;

use commands as c;
use harness::{
    env_num, measure_series, print_table, swtpm_version, timed, Budget, Conn, Row, SERVER_NAMES,
};
use support::{Protocol, Server, ServerBuilder};
use tpm::constants::rh;
use tpm::types::{Public, Signature};

/// swtpm's own default allocation (it manufactures without swtpm_setup).
const BANKS: &str = "sha1,sha256,sha384,sha512";

/// Sends TPM2_Startup(CLEAR).
fn startup(server: &Server) {
    Conn::open(server.addr()).call("Startup", &c::startup_clear());
}

/// Creates a key from `template` under a fresh storage primary key, loads
/// it and flushes the parent again; returns the key's handle. swtpm has
/// three transient object slots, so each row loads only its own keys.
fn load_under_srk(server: &Server, template: &Public) -> u32 {
    let mut conn = Conn::open(server.addr());
    let srk = c::out_handle(conn.call(
        "CreatePrimary SRK",
        &c::create_primary(rh::OWNER, &c::srk_ecc_p256()),
    ));
    let (private, public) = c::created(conn.call("Create", &c::create(srk, c::pw(), template)));
    let key = c::out_handle(conn.call("Load", &c::load(srk, c::pw(), &private, &public)));
    conn.call("FlushContext SRK", &c::flush_context(srk));
    key
}

/// Times one CreatePrimary per round (the FlushContext after it is not
/// timed). Round r of each server uses `c::with_round(template, r)`: the
/// same command stream for both, a new key every round.
fn create_primary_row(
    name: &str,
    hierarchy: u32,
    template: &Public,
    servers: [&Server; 2],
    budget: Budget,
) -> Vec<Row> {
    let mut rounds = [0u32; 2];
    measure_series(&[name], servers, budget, |i, conn, t| {
        let cmd = c::create_primary(hierarchy, &c::with_round(template, rounds[i]));
        rounds[i] += 1;
        let what = SERVER_NAMES[i];
        let h = timed(&mut t[0], || c::out_handle(conn.call(what, &cmd)));
        conn.call(what, &c::flush_context(h));
    })
}

/// Builds a command for the key with this handle.
type BuildCommand = fn(u32) -> Vec<u8>;

/// A row timing one command that uses a loaded key.
struct KeyedRow {
    name: &'static str,
    template: Public,
    build: BuildCommand,
    /// Checks the first response of each server.
    check: fn(&[u8]),
}

/// Loads a key from `row.template` on both servers (see
/// [`load_under_srk`]), checks the command once with `row.check`, times it
/// one command per round, and flushes the key. The commands differ between
/// the servers only if they assigned the key different handles.
fn keyed_row(row: &KeyedRow, servers: [&Server; 2], budget: Budget) -> Vec<Row> {
    let keys = servers.map(|s| load_under_srk(s, &row.template));
    let cmds = keys.map(row.build);
    if cmds[0] != cmds[1] {
        println!(
            "note: {}: the servers' object handles differ, so do the commands",
            row.name
        );
    }
    for (i, s) in servers.iter().enumerate() {
        (row.check)(Conn::open(s.addr()).call(SERVER_NAMES[i], &cmds[i]));
    }
    let rows = measure_series(&[row.name], servers, budget, |i, conn, t| {
        timed(&mut t[0], || conn.call(SERVER_NAMES[i], &cmds[i]));
    });
    for (i, s) in servers.iter().enumerate() {
        Conn::open(s.addr()).call(SERVER_NAMES[i], &c::flush_context(keys[i]));
    }
    rows
}

fn check_ecdsa(resp: &[u8]) {
    let sig = c::signed(resp);
    assert!(matches!(sig, Signature::Ecdsa(_)), "not ECDSA: {sig:?}");
}

fn check_rsassa(resp: &[u8]) {
    let sig = c::signed(resp);
    assert!(matches!(sig, Signature::Rsassa(_)), "not RSASSA: {sig:?}");
}

fn check_quote(resp: &[u8]) {
    let (attest, sig) = c::quoted(resp);
    let attest = attest.attest().expect("TPMS_ATTEST");
    assert_eq!(attest.extra_data.as_slice(), QUOTE_NONCE);
    assert!(matches!(sig, Signature::Ecdsa(_)), "not ECDSA: {sig:?}");
}

const QUOTE_NONCE: &[u8] = b"keys_vs_swtpm quote nonce 16..32";
const CREDENTIAL: &[u8] = b"a credential for the AK, 32 byte";

/// The steps of [`flow_round`], in the order of its `times`.
const FLOW_STEPS: [&str; 8] = [
    "CreatePrimary EK",
    "StartAuthSession + PolicySecret, ×3",
    "Create AK under EK",
    "Load AK",
    "MakeCredential",
    "ActivateCredential",
    "Quote",
    "FlushContext AK, EK",
];

/// One enrolment: EK, AK, credential activation, quote. `times[0]` gets
/// the total, `times[1..]` the steps of [`FLOW_STEPS`].
fn flow_round(what: &str, conn: &mut Conn, ek_template: &Public, t: &mut [Duration]) {
    let create_ek = c::create_primary(rh::ENDORSEMENT, ek_template);
    let (ek, _, _) = c::created_primary(timed(&mut t[1], || conn.call(what, &create_ek)));
    // A fresh PolicySecret(endorsement) session satisfies the EK's policy
    // for one use (continueSession clear).
    let ek_session = |conn: &mut Conn, t: &mut Duration| {
        let s = c::out_handle(timed(t, || conn.call(what, &c::start_policy_session())));
        timed(t, || conn.call(what, &c::policy_secret(rh::ENDORSEMENT, s)));
        c::policy_once(s)
    };
    let auth = ek_session(conn, &mut t[2]);
    let create = c::create(ek, auth, &c::ak_ecc_p256());
    let (private, public) = c::created(timed(&mut t[3], || conn.call(what, &create)));
    let auth = ek_session(conn, &mut t[2]);
    let load = c::load(ek, auth, &private, &public);
    let (ak, ak_name) = c::loaded(timed(&mut t[4], || conn.call(what, &load)));
    let make = c::make_credential(ek, CREDENTIAL, &ak_name);
    let (blob, secret) = c::made_credential(timed(&mut t[5], || conn.call(what, &make)));
    let auth = ek_session(conn, &mut t[2]);
    let activate = c::activate_credential(ak, ek, auth, &blob, &secret);
    let cert = c::activated(timed(&mut t[6], || conn.call(what, &activate)));
    assert_eq!(cert, CREDENTIAL, "{what}: ActivateCredential");
    let quote = c::quote(ak, &cert, &c::sha256_pcrs());
    let (attest, _) = c::quoted(timed(&mut t[7], || conn.call(what, &quote)));
    let attest = attest.attest().expect("TPMS_ATTEST");
    assert_eq!(attest.extra_data.as_slice(), CREDENTIAL, "{what}: Quote");
    timed(&mut t[8], || {
        conn.call(what, &c::flush_context(ak));
        conn.call(what, &c::flush_context(ek));
    });
    t[0] = t[1..].iter().sum();
}

fn flow_name(ek_name: &str) -> String {
    format!("EK ({ek_name}) + AK + activate + quote flow")
}

fn flow_rows(
    ek_name: &str,
    ek_template: &Public,
    servers: [&Server; 2],
    budget: Budget,
) -> Vec<Row> {
    let total = format!("{}, total", flow_name(ek_name));
    let steps: Vec<String> = FLOW_STEPS
        .iter()
        .map(|s| format!("&nbsp;&nbsp;flow ({ek_name} EK): {s}"))
        .collect();
    let mut names = vec![total.as_str()];
    names.extend(steps.iter().map(String::as_str));
    let mut rounds = [0u32; 2];
    measure_series(&names, servers, budget, |i, conn, t| {
        let template = c::with_round(ek_template, rounds[i]);
        rounds[i] += 1;
        flow_round(SERVER_NAMES[i], conn, &template, t)
    })
}

fn main() {
    let iterations = env_num("BENCH_ITERATIONS", 2000) as usize;
    let flow_iterations = env_num("BENCH_ITERATIONS", 300) as usize;
    let cap = Duration::from_secs(env_num("BENCH_SECONDS", 15));
    let only = std::env::var("BENCH_ONLY")
        .unwrap_or_default()
        .to_lowercase();
    let wanted = |name: &str| name.to_lowercase().contains(&only);
    let fast = Budget::new(iterations, cap);
    // RSA key generation takes tens to hundreds of milliseconds: a short
    // warm-up, and the time cap ends the row.
    let slow = Budget::new(iterations, cap).warmup(2);

    let swtpm = ServerBuilder::swtpm().start();
    let ours = ServerBuilder::trustcloud(Protocol::Swtpm)
        .pcr_banks(BANKS)
        .start();
    let servers = [&swtpm, &ours];
    servers.iter().for_each(|s| startup(s));

    let mut rows = Vec::new();
    let primaries = [
        (
            "CreatePrimary ECC P-256 storage key (owner)",
            rh::OWNER,
            c::srk_ecc_p256(),
            fast,
        ),
        (
            "CreatePrimary ECC P-256 EK, template L-2",
            rh::ENDORSEMENT,
            c::ek_ecc_p256(),
            fast,
        ),
        (
            "CreatePrimary RSA-2048 EK, template L-1",
            rh::ENDORSEMENT,
            c::ek_rsa_2048(),
            slow,
        ),
    ];
    for (name, hierarchy, template, budget) in primaries {
        if wanted(name) {
            rows.extend(create_primary_row(
                name, hierarchy, &template, servers, budget,
            ));
        }
    }
    let sign: BuildCommand = |k| c::sign(k, &[0x3c; 32]);
    let keyed = [
        KeyedRow {
            name: "Quote, ECDSA P-256 AK, sha256 PCRs 0–23",
            template: c::ak_ecc_p256(),
            build: |k| c::quote(k, QUOTE_NONCE, &c::sha256_pcrs()),
            check: check_quote,
        },
        KeyedRow {
            name: "Sign, ECDSA P-256 / SHA-256",
            template: c::signer_ecc_p256(),
            build: sign,
            check: check_ecdsa,
        },
        KeyedRow {
            name: "Sign, RSASSA RSA-2048 / SHA-256",
            template: c::signer_rsa_2048(),
            build: sign,
            check: check_rsassa,
        },
    ];
    for row in &keyed {
        if wanted(row.name) {
            rows.extend(keyed_row(row, servers, fast));
        }
    }
    let flow_budget = Budget::new(flow_iterations, cap).warmup(3);
    for (ek_name, template, budget) in [
        ("ECC P-256", c::ek_ecc_p256(), flow_budget),
        ("RSA-2048", c::ek_rsa_2048(), flow_budget.warmup(1)),
    ] {
        if wanted(&flow_name(ek_name)) {
            rows.extend(flow_rows(ek_name, &template, servers, budget));
        }
    }

    print_table(
        &format!(
            "Keys, signatures and attestation over TCP, swtpm {} vs trustcloud (same machine, same banks: {BANKS})",
            swtpm_version()
        ),
        &rows,
    );
}
