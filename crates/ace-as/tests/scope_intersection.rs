//! Table-driven scope intersection of the policy engine (RFC 9594 section
//! 3.2): exact, wildcard, narrowed, escalation denied, several groups,
//! pub-sub topics, textual roles, MQTT-style text scopes.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_as::policy::{Policy, PolicyRule, ScopeGrants, ScopeModel, ScopeRefusal};
use ace_proto::Codec;
use ace_proto::consts::aif::pubsub::{PUBLISH, READ};
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use ace_proto::scope::{GroupPattern, GroupScope, PolicyEntry, ScopeEntry, ScopeValue, TextScope};

fn pattern(p: &str) -> GroupPattern {
    GroupPattern::parse(p).unwrap()
}

fn rule(client: &str, audience: &str, grants: ScopeGrants) -> PolicyRule {
    PolicyRule {
        clients: vec![pattern(client)],
        audiences: vec![pattern(audience)],
        grants,
    }
}

fn policy() -> Policy {
    Policy {
        rules: vec![
            rule(
                "c1",
                "kdc",
                ScopeGrants {
                    group_oscore: vec![
                        PolicyEntry::aif("g1", REQUESTER | RESPONDER).unwrap(),
                        PolicyEntry::aif("gp1", REQUESTER | RESPONDER).unwrap(),
                        PolicyEntry::aif("sensors-*", REQUESTER).unwrap(),
                        PolicyEntry::aif("*", VERIFIER).unwrap(),
                    ],
                    ..ScopeGrants::default()
                },
            ),
            // A second rule adds Monitor on g2 for every client c*.
            rule(
                "c*",
                "kdc",
                ScopeGrants {
                    group_oscore: vec![PolicyEntry::aif("g2", MONITOR).unwrap()],
                    ..ScopeGrants::default()
                },
            ),
            rule(
                "c1",
                "ps-kdc",
                ScopeGrants {
                    pubsub: vec![PolicyEntry::aif("temp/*", PUBLISH | READ).unwrap()],
                    ..ScopeGrants::default()
                },
            ),
            rule(
                "c1",
                "legacy-kdc",
                ScopeGrants {
                    textual: vec![
                        PolicyEntry::textual("g1", &["sender", "receiver"]).unwrap(),
                        PolicyEntry::textual("implicit", &[]).unwrap(),
                    ],
                    ..ScopeGrants::default()
                },
            ),
            rule(
                "c1",
                "broker",
                ScopeGrants {
                    text: "publish_sensors/+/temp subscribe_alerts/# read"
                        .parse::<TextScope>()
                        .unwrap()
                        .tokens,
                    ..ScopeGrants::default()
                },
            ),
        ],
    }
}

fn aif(entries: &[(&str, u64)]) -> ScopeValue {
    ScopeValue::group(&GroupScope::new(
        entries
            .iter()
            .map(|(n, b)| ScopeEntry::aif(*n, *b))
            .collect(),
    ))
}

fn textual(entries: &[(&str, &[&str])]) -> ScopeValue {
    ScopeValue::group(&GroupScope::new(
        entries
            .iter()
            .map(|(n, r)| ScopeEntry::textual(*n, r))
            .collect(),
    ))
}

fn text(s: &str) -> ScopeValue {
    ScopeValue::Text(s.into())
}

enum Want {
    /// Granted as requested.
    Same,
    /// Granted, narrowed to this.
    Narrowed(ScopeValue),
    /// Refused.
    Refused(fn(&ScopeRefusal) -> bool),
}

#[test]
fn intersection_table() {
    let nothing: fn(&ScopeRefusal) -> bool = |e| *e == ScopeRefusal::NothingGranted;
    let malformed: fn(&ScopeRefusal) -> bool = |e| matches!(e, ScopeRefusal::Malformed { .. });
    let no_rule: fn(&ScopeRefusal) -> bool = |e| matches!(e, ScopeRefusal::NoRule { .. });
    use ScopeModel::*;
    let cases: Vec<(&str, &str, &str, ScopeModel, ScopeValue, Want)> = vec![
        (
            "exact",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("g1", REQUESTER | RESPONDER)]),
            Want::Same,
        ),
        (
            "subset of the allowed roles",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("g1", RESPONDER)]),
            Want::Same,
        ),
        (
            "wildcard group",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("sensors-kitchen", REQUESTER)]),
            Want::Same,
        ),
        (
            "narrowed roles",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("g1", REQUESTER | RESPONDER | VERIFIER | MONITOR)]),
            Want::Narrowed(aif(&[("g1", REQUESTER | RESPONDER | VERIFIER)])),
        ),
        (
            "escalation denied: a role the policy never grants",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("sensors-kitchen", RESPONDER)]),
            Want::Refused(nothing),
        ),
        (
            "escalation denied: the wildcard does not match",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("sensor-x", REQUESTER)]),
            Want::Refused(nothing),
        ),
        (
            "several groups, one dropped, one narrowed",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[
                ("g1", REQUESTER),
                ("h1", MONITOR),
                ("sensors-a", REQUESTER | RESPONDER),
            ]),
            Want::Narrowed(aif(&[("g1", REQUESTER), ("sensors-a", REQUESTER)])),
        ),
        (
            "union of two rules",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("g2", MONITOR | VERIFIER)]),
            Want::Same,
        ),
        (
            "another client gets only the shared rule",
            "c2",
            "kdc",
            AifGroupOscore,
            aif(&[("g1", REQUESTER), ("g2", MONITOR)]),
            Want::Narrowed(aif(&[("g2", MONITOR)])),
        ),
        (
            "no rule at this audience",
            "c2",
            "broker",
            Text,
            text("read"),
            Want::Refused(no_rule),
        ),
        (
            "admin bit is not a Group OSCORE scope",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[("g1", REQUESTER | 1)]),
            Want::Refused(malformed),
        ),
        (
            "empty scope",
            "c1",
            "kdc",
            AifGroupOscore,
            aif(&[]),
            Want::Refused(malformed),
        ),
        (
            "text scope at an AIF audience",
            "c1",
            "kdc",
            AifGroupOscore,
            text("g1"),
            Want::Refused(malformed),
        ),
        (
            "not CBOR",
            "c1",
            "kdc",
            AifGroupOscore,
            ScopeValue::Binary(vec![0xff]),
            Want::Refused(malformed),
        ),
        (
            "textual entries at an AIF audience",
            "c1",
            "kdc",
            AifGroupOscore,
            textual(&[("g1", &["requester"])]),
            Want::Refused(malformed),
        ),
        (
            "pub-sub topic",
            "c1",
            "ps-kdc",
            AifPubSub,
            aif(&[("temp/kitchen", PUBLISH | READ)]),
            Want::Same,
        ),
        (
            "pub-sub topics narrowed",
            "c1",
            "ps-kdc",
            AifPubSub,
            aif(&[("temp/kitchen", READ | 16), ("humidity", READ)]),
            Want::Narrowed(aif(&[("temp/kitchen", READ)])),
        ),
        (
            "pub-sub admin bit",
            "c1",
            "ps-kdc",
            AifPubSub,
            aif(&[("temp/kitchen", 1)]),
            Want::Refused(malformed),
        ),
        (
            "textual roles narrowed",
            "c1",
            "legacy-kdc",
            Textual,
            textual(&[("g1", &["sender", "admin"])]),
            Want::Narrowed(textual(&[("g1", &["sender"])])),
        ),
        (
            "textual implied role",
            "c1",
            "legacy-kdc",
            Textual,
            textual(&[("implicit", &[])]),
            Want::Same,
        ),
        (
            "textual implied role not allowed on g1",
            "c1",
            "legacy-kdc",
            Textual,
            textual(&[("g1", &[])]),
            Want::Refused(nothing),
        ),
        (
            "MQTT exact topic",
            "c1",
            "broker",
            Text,
            text("publish_sensors/a/temp"),
            Want::Same,
        ),
        (
            "MQTT subscription under #",
            "c1",
            "broker",
            Text,
            text("subscribe_alerts/fire/+ read"),
            Want::Same,
        ),
        (
            "MQTT filters narrowed and foreign tokens dropped",
            "c1",
            "broker",
            Text,
            text("subscribe_# publish_sensors/a/temp publish_sensors/a/humidity write"),
            Want::Narrowed(text("subscribe_alerts/# publish_sensors/a/temp")),
        ),
        (
            "MQTT wildcard publish narrowed to the policy's filter",
            "c1",
            "broker",
            Text,
            text("publish_sensors/#"),
            Want::Narrowed(text("publish_sensors/+/temp")),
        ),
        (
            "MQTT escalation denied",
            "c1",
            "broker",
            Text,
            text("publish_alerts/fire"),
            Want::Refused(nothing),
        ),
        (
            "MQTT malformed filter",
            "c1",
            "broker",
            Text,
            text("subscribe_a/#/b"),
            Want::Refused(malformed),
        ),
        (
            "binary scope at a text audience",
            "c1",
            "broker",
            Text,
            aif(&[("g1", 2)]),
            Want::Refused(malformed),
        ),
    ];
    let policy = policy();
    let mut wrong = Vec::new();
    for (what, client, audience, model, requested, want) in cases {
        let got = policy.grant(client, audience, model, &requested);
        let ok = match (&want, &got) {
            (Want::Same, Ok(g)) => g.scope == requested && !g.narrowed,
            (Want::Narrowed(scope), Ok(g)) => g.scope == *scope && g.narrowed,
            (Want::Refused(check), Err(e)) => check(e),
            _ => false,
        };
        if !ok {
            wrong.push(format!("{what}: got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn granted_aif_scope_is_the_profile_encoding() {
    // The Group OSCORE profile example: [["gp1", 6]] = 81826367703106, and
    // as the bstr scope 4781826367703106.
    let granted = policy()
        .grant("c1", "kdc", ScopeModel::AifGroupOscore, &aif(&[("gp1", 6)]))
        .unwrap();
    assert_eq!(
        hex::encode(ace_proto::cbor::to_vec(&granted.scope.to_value())),
        "4781826367703106"
    );
    assert_eq!(
        granted.scope.group_scope().unwrap().encode(),
        hex::decode("81826367703106").unwrap()
    );
}
