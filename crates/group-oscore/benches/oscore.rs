//! Per-message cost of OSCORE and Group OSCORE, and the comparison with
//! aiocoap 0.4.17 measured in the same run.
//!
//! * `oscore/protect_unprotect_request`: one request protected by the client
//!   and verified by the server.
//! * `group_ed25519/protect` and `/verify`: a group-mode request, against
//!   `raw_ed25519/sign` and `/verify` over a buffer of the size of its
//!   `Countersign_structure`. The ratio raw / ours says how much of the cost
//!   is the signature (target at least 0.8).
//! * The same for ES256.
//! * Then `tests/aiocoap/bench_aiocoap.py` times aiocoap's classes for the
//!   same operations, and a summary table is printed.
//!
//! Run: `cargo bench -p group-oscore --bench oscore -- --warm-up-time 1
//! --measurement-time 3`.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use criterion::{BatchSize, Criterion};
use group_oscore::aad::{AadInput, GroupAad, aad_array};
use group_oscore::group::countersign::countersign_structure;
use group_oscore::group::{
    CountersignatureStructure, Credential, GroupParams, GroupSecurity, Member, OwnIdentity,
    RequestMode,
};
use group_oscore::{ContextParams, SecurityContext};

fn request() -> Packet {
    let mut p = Packet::new();
    p.header.set_type(MessageType::NonConfirmable);
    p.header.code = MessageClass::from(0x01);
    p.header.message_id = 1;
    p.set_token(vec![1, 2]);
    p.add_option(CoapOption::UriPath, b"sensors".to_vec());
    p.add_option(CoapOption::UriPath, b"temp".to_vec());
    p
}

fn oscore(c: &mut Criterion) {
    let ms = [1u8; 16];
    let mut client =
        SecurityContext::new(&ContextParams::new(&ms, b"", b"\x01").master_salt(b"salt")).unwrap();
    let mut server =
        SecurityContext::new(&ContextParams::new(&ms, b"\x01", b"").master_salt(b"salt")).unwrap();
    let req = request();
    let mut g = c.benchmark_group("oscore");
    g.bench_function("protect_unprotect_request", |b| {
        b.iter(|| {
            let (outer, _) = client.protect_request(&req).unwrap();
            server.unprotect_request(&outer).unwrap()
        })
    });
    g.finish();
}

fn pair(alg: SignatureAlgorithm) -> (GroupSecurity, GroupSecurity, SigningKey, usize) {
    let (ka, kb, kgm) = (
        SigningKey::generate(alg),
        SigningKey::generate(alg),
        SigningKey::generate(alg),
    );
    let cred = |k: &SigningKey| {
        ace_proto::credential::Credential::ccs_for_signing_key(k, "member", None).into_bytes()
    };
    let (ca, cb, cgm) = (cred(&ka), cred(&kb), cred(&kgm));
    let params = GroupParams::new(&[0xee], &[2u8; 16], alg, &cgm);
    let a = GroupSecurity::new(
        params.clone(),
        OwnIdentity::new(&[0xa], ka.clone(), &ca),
        [Member::new(
            &[0xb],
            Credential::new(&cb, kb.verifying_key()).unwrap(),
        )],
    )
    .unwrap();
    let b = GroupSecurity::new(
        params.clone(),
        OwnIdentity::new(&[0xb], kb, &cb),
        [Member::new(
            &[0xa],
            Credential::new(&ca, ka.verifying_key()).unwrap(),
        )],
    )
    .unwrap();
    // The size of the Countersign_structure of the benchmarked request.
    let option = [0x39u8, 0, 1, 0xee, 0xa];
    let array = aad_array(
        &AadInput::Group(GroupAad {
            algorithms: params.algorithms(),
            request_kid_context: &[0xee],
            oscore_option: &option,
            sender_cred: &ca,
            gm_cred: &cgm,
        }),
        &[0xa],
        &[0],
        b"",
    );
    // Code, Uri-Path "sensors" and "temp" (14 bytes), plus the 8-byte tag.
    let ciphertext = [0u8; 14 + 8];
    let tbs_len =
        countersign_structure(CountersignatureStructure::Rfc9338, &array, &ciphertext).len();
    (a, b, ka, tbs_len)
}

fn group(c: &mut Criterion, alg: SignatureAlgorithm, name: &str) {
    let (mut a, mut b, key, tbs_len) = pair(alg);
    let req = request();
    let mut g = c.benchmark_group(format!("group_{name}"));
    g.bench_function("protect", |bench| {
        bench.iter(|| a.protect_request(&req, &RequestMode::Group).unwrap())
    });
    g.bench_function("verify", |bench| {
        bench.iter_batched(
            || a.protect_request(&req, &RequestMode::Group).unwrap().0,
            |outer| b.unprotect_request(&outer).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let tbs = vec![0x5au8; tbs_len];
    let signature = key.sign(&tbs);
    let public = key.verifying_key();
    let mut g = c.benchmark_group(format!("raw_{name}"));
    g.bench_function("sign", |bench| bench.iter(|| key.sign(&tbs)));
    g.bench_function("verify", |bench| {
        bench.iter(|| public.verify(&tbs, &signature).unwrap())
    });
    g.finish();
}

/// The ratio raw / full measured interleaved: rounds of `per_round` raw
/// operations then `per_round` full ones, the median of the per-round
/// ratios. Both sides of each ratio see the same load, which a shared
/// machine otherwise skews between two separate Criterion runs.
fn interleaved_ratio(
    rounds: usize,
    per_round: usize,
    mut raw: impl FnMut(),
    mut prepare: impl FnMut(usize) -> Vec<Packet>,
    mut full: impl FnMut(Packet),
) -> f64 {
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let inputs = prepare(per_round);
        let t = Instant::now();
        for _ in 0..per_round {
            raw();
        }
        let raw_time = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for input in inputs {
            full(input);
        }
        ratios.push(raw_time / t.elapsed().as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}

/// Interleaved ratios (protect, verify) for `alg`.
fn interleaved(alg: SignatureAlgorithm) -> (f64, f64) {
    let (mut a, mut b, key, tbs_len) = pair(alg);
    let req = request();
    let tbs = vec![0x5au8; tbs_len];
    let signature = key.sign(&tbs);
    let public = key.verifying_key();
    let protect = interleaved_ratio(
        41,
        20,
        || drop(std::hint::black_box(key.sign(&tbs))),
        |n| vec![req.clone(); n],
        |r| {
            drop(std::hint::black_box(
                a.protect_request(&r, &RequestMode::Group).unwrap(),
            ))
        },
    );
    let verify = interleaved_ratio(
        41,
        20,
        || public.verify(&tbs, &signature).unwrap(),
        |n| {
            (0..n)
                .map(|_| a.protect_request(&req, &RequestMode::Group).unwrap().0)
                .collect()
        },
        |outer| drop(std::hint::black_box(b.unprotect_request(&outer).unwrap())),
    );
    (protect, verify)
}

fn group_ed25519(c: &mut Criterion) {
    group(c, SignatureAlgorithm::EdDsa, "ed25519");
}

fn group_es256(c: &mut Criterion) {
    group(c, SignatureAlgorithm::Es256, "es256");
}

/// Where criterion writes its results: `<target>/criterion`, the target
/// directory being three levels above this executable
/// (`<target>/release/deps/oscore-*`).
fn criterion_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(|t| t.join("criterion")))
        .unwrap_or_else(|| PathBuf::from("target/criterion"))
}

/// Median time in microseconds of a finished benchmark, from criterion's
/// `estimates.json` (the median resists the noise of a shared machine).
fn median_us(id: &str) -> Option<f64> {
    let path = criterion_dir().join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["median"]["point_estimate"].as_f64().map(|ns| ns / 1000.0)
}

fn aiocoap() -> Option<serde_json::Value> {
    let python = std::env::var_os("ACE_VENV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python")
        });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aiocoap/bench_aiocoap.py");
    let out = Command::new(python).arg(script).arg("2000").output().ok()?;
    if !out.status.success() {
        eprintln!(
            "aiocoap timing failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn summary() {
    let ours = |id: &str| median_us(id);
    let theirs = aiocoap();
    let py = |k: &str| theirs.as_ref().and_then(|v| v[k].as_f64());
    let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let ratio = |raw: Option<f64>, full: Option<f64>| match (raw, full) {
        (Some(r), Some(f)) if f > 0.0 => format!("{:.2}", r / f),
        _ => "-".to_string(),
    };
    println!("\n## summary (microseconds per operation: criterion median; aiocoap mean)");
    println!("| operation | group-oscore | aiocoap 0.4.17 |");
    println!("|---|---|---|");
    for (label, id, key) in [
        (
            "OSCORE request protect + unprotect",
            "oscore/protect_unprotect_request",
            "oscore_protect_unprotect_request",
        ),
        (
            "Group mode protect (Ed25519)",
            "group_ed25519/protect",
            "group_protect_request",
        ),
        (
            "Group mode verify (Ed25519)",
            "group_ed25519/verify",
            "group_verify_request",
        ),
        ("raw Ed25519 sign", "raw_ed25519/sign", "ed25519_sign"),
        ("raw Ed25519 verify", "raw_ed25519/verify", "ed25519_verify"),
        ("Group mode protect (ES256)", "group_es256/protect", ""),
        ("Group mode verify (ES256)", "group_es256/verify", ""),
        ("raw ES256 sign", "raw_es256/sign", ""),
        ("raw ES256 verify", "raw_es256/verify", ""),
    ] {
        let p = if key.is_empty() { None } else { py(key) };
        println!("| {label} | {} | {} |", fmt(ours(id)), fmt(p));
    }
    let (ed_protect, ed_verify) = interleaved(SignatureAlgorithm::EdDsa);
    let (es_protect, es_verify) = interleaved(SignatureAlgorithm::Es256);
    println!(
        "\n| ratio raw signature op / full group-mode op | group-oscore, from the medians | group-oscore, interleaved | aiocoap 0.4.17 |"
    );
    println!("|---|---|---|---|");
    println!(
        "| Ed25519 protect (sign) | {} | {ed_protect:.2} | {} |",
        ratio(ours("raw_ed25519/sign"), ours("group_ed25519/protect")),
        ratio(py("ed25519_sign"), py("group_protect_request"))
    );
    println!(
        "| Ed25519 verify | {} | {ed_verify:.2} | {} |",
        ratio(ours("raw_ed25519/verify"), ours("group_ed25519/verify")),
        ratio(py("ed25519_verify"), py("group_verify_request"))
    );
    println!(
        "| ES256 protect (sign) | {} | {es_protect:.2} | - |",
        ratio(ours("raw_es256/sign"), ours("group_es256/protect"))
    );
    println!(
        "| ES256 verify | {} | {es_verify:.2} | - |",
        ratio(ours("raw_es256/verify"), ours("group_es256/verify"))
    );
}

fn main() {
    let mut criterion = Criterion::default()
        .output_directory(&criterion_dir())
        .configure_from_args();
    oscore(&mut criterion);
    group_ed25519(&mut criterion);
    group_es256(&mut criterion);
    criterion.final_summary();
    // `cargo test --benches` runs this binary in test mode: no summary then.
    if !std::env::args().any(|a| a == "--test" || a == "--list") {
        summary();
    }
}
