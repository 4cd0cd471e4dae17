//! Every scenario file in `scenarios/` runs in this process and passes: its
//! steps, the reports it writes (SVG and Mermaid diagram, JSON report) and a
//! pcap with each datagram once. A test per file, so that they run in
//! parallel and a failure names its scenario; a check that no file in the
//! directory is left without a test.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

/// The scenario files, each with its test below.
const FILES: &[&str] = &[
    "aiocoap-interop",
    "bulk-join",
    "control-uri-rekey",
    "creation-hints",
    "creds-filters",
    "demo",
    "errors",
    "join",
    "kdc-restart",
    "key-renewal",
    "keying-material",
    "leave-rekey",
    "material-expiry",
    "observe-rekey",
    "packet-loss",
    "several-groups",
    "token-expiry",
];

#[test]
fn every_file_in_scenarios_has_a_test() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(support::root().join("scenarios"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            if p.extension()? != "toml" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    let listed: BTreeSet<String> = FILES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, listed, "scenarios/ and the tests disagree");
    // And each parses.
    for f in FILES {
        let path = support::root().join("scenarios").join(format!("{f}.toml"));
        ace_scenario::model::parse_file(&path).unwrap();
    }
}

macro_rules! scenario {
    ($test:ident, $file:literal) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            support::run_file($file).await;
        }
    };
}

scenario!(join, "join");
scenario!(creation_hints, "creation-hints");
scenario!(several_groups, "several-groups");
scenario!(keying_material, "keying-material");
scenario!(observe_rekey, "observe-rekey");
scenario!(control_uri_rekey, "control-uri-rekey");
scenario!(key_renewal, "key-renewal");
scenario!(creds_filters, "creds-filters");
scenario!(leave_rekey, "leave-rekey");
scenario!(token_expiry, "token-expiry");
scenario!(material_expiry, "material-expiry");
scenario!(kdc_restart, "kdc-restart");
scenario!(packet_loss, "packet-loss");
scenario!(demo, "demo");

/// Every error id 0-9 was expected by a step, and each such step passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors() {
    let run = support::run_file("errors").await;
    let text = std::fs::read_to_string(support::root().join("scenarios/errors.toml")).unwrap();
    for id in 0..=9 {
        let expected = format!("error_id = {id} }}");
        let named = id == 5 || id == 6 || text.contains(&expected);
        assert!(named, "error id {id} is not provoked in errors.toml");
    }
    let refused = run
        .report
        .steps
        .iter()
        .filter(|s| s.detail.starts_with("refused as expected"))
        .count();
    assert_eq!(refused, 8, "{}", run.log);
    // 5 and 6: the notices were received.
    assert!(run.log.contains("was told (error id 5)"), "{}", run.log);
    assert!(run.log.contains("told (error id 6)"), "{}", run.log);
}

/// 1,000 members through the full flow; in debug builds on this machine
/// about 6 s (see the crate's BENCHMARKS section).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_join() {
    let run = support::run_file("bulk-join").await;
    assert!(run.log.contains("1000 joins in"), "{}", run.log);
    assert!(run.log.contains("1000 member(s) at num 1"), "{}", run.log);
}

/// The aiocoap member: skipped when the venv is missing, unless peers are
/// required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiocoap_interop() {
    if support::peer("python", Some(ace_scenario::actor::external::venv_python())).is_none() {
        return;
    }
    let run = support::run_file("aiocoap-interop").await;
    // Both directions, before and after the rekeying.
    assert_eq!(
        run.log.matches("from aiocoap, responder").count(),
        2,
        "{}",
        run.log
    );
    assert_eq!(
        run.log
            .matches("seen by responder, monitor, aiocoap")
            .count(),
        2,
        "{}",
        run.log
    );
}
