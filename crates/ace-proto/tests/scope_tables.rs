//! Table-driven tests of scope coverage and of request/policy intersection:
//! exact grants, wildcard group patterns, narrowed roles, role escalation
//! attempts, several groups, pub-sub topic permissions, the Group OSCORE
//! join role rules, and MQTT text scopes.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::consts::aif::pubsub::{APP_GROUP, DELETE, PUBLISH, READ};
use ace_proto::roles::Roles;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER, VERIFIER};
use ace_proto::scope::{
    GroupPattern, GroupScope, PolicyEntry, ScopeEntry, ScopePolicy, ScopeValue, TextScope,
    group_oscore_join_entry,
};

const RR: u64 = REQUESTER | RESPONDER;

fn aif(entries: &[(&str, u64)]) -> GroupScope {
    GroupScope::new(
        entries
            .iter()
            .map(|(n, b)| ScopeEntry::aif(*n, *b))
            .collect(),
    )
}

fn policy(rules: &[(&str, u64)]) -> ScopePolicy {
    ScopePolicy::new(
        rules
            .iter()
            .map(|(p, b)| PolicyEntry::aif(p, *b).unwrap())
            .collect(),
    )
}

#[test]
fn aif_coverage() {
    struct Row {
        what: &'static str,
        granted: &'static [(&'static str, u64)],
        requested: (&'static str, u64),
        covered: bool,
    }
    let rows = [
        Row {
            what: "exact",
            granted: &[("g1", RR)],
            requested: ("g1", RR),
            covered: true,
        },
        Row {
            what: "subset of roles",
            granted: &[("g1", RR)],
            requested: ("g1", REQUESTER),
            covered: true,
        },
        Row {
            what: "escalation to responder",
            granted: &[("g1", REQUESTER)],
            requested: ("g1", RR),
            covered: false,
        },
        Row {
            what: "escalation to monitor",
            granted: &[("g1", RR)],
            requested: ("g1", MONITOR),
            covered: false,
        },
        Row {
            what: "escalation to verifier",
            granted: &[("g1", MONITOR)],
            requested: ("g1", VERIFIER),
            covered: false,
        },
        Row {
            what: "other group",
            granted: &[("g1", RR)],
            requested: ("g2", REQUESTER),
            covered: false,
        },
        Row {
            what: "group names are exact",
            granted: &[("g1", RR)],
            requested: ("G1", REQUESTER),
            covered: false,
        },
        Row {
            what: "entries of one group merge",
            granted: &[("g1", REQUESTER), ("g1", RESPONDER)],
            requested: ("g1", RR),
            covered: true,
        },
        Row {
            what: "several groups, second",
            granted: &[("g1", REQUESTER), ("g2", RESPONDER)],
            requested: ("g2", RESPONDER),
            covered: true,
        },
        Row {
            what: "several groups, no mixing",
            granted: &[("g1", REQUESTER), ("g2", RESPONDER)],
            requested: ("g2", REQUESTER),
            covered: false,
        },
        Row {
            what: "requesting nothing",
            granted: &[("g1", RR)],
            requested: ("g1", 0),
            covered: false,
        },
        Row {
            what: "pub-sub read on topic",
            granted: &[("topic1", APP_GROUP | PUBLISH | READ)],
            requested: ("topic1", APP_GROUP | READ),
            covered: true,
        },
        Row {
            what: "pub-sub delete not granted",
            granted: &[("topic1", APP_GROUP | PUBLISH | READ)],
            requested: ("topic1", DELETE),
            covered: false,
        },
    ];
    for row in rows {
        let granted = aif(row.granted);
        let requested = ScopeEntry::aif(row.requested.0, row.requested.1);
        assert_eq!(granted.covers(&requested), row.covered, "{}", row.what);
    }
}

#[test]
fn textual_coverage() {
    let granted = GroupScope::new(vec![
        ScopeEntry::textual("group1", &["sender", "receiver"]),
        ScopeEntry::textual("group2", &[]),
    ]);
    let rows: [(&str, ScopeEntry, bool); 7] = [
        (
            "one role of two",
            ScopeEntry::textual("group1", &["sender"]),
            true,
        ),
        (
            "both roles",
            ScopeEntry::textual("group1", &["receiver", "sender"]),
            true,
        ),
        (
            "escalation",
            ScopeEntry::textual("group1", &["sender", "admin"]),
            false,
        ),
        ("implied role", ScopeEntry::textual("group2", &[]), true),
        (
            "explicit role on implied-role grant",
            ScopeEntry::textual("group2", &["sender"]),
            false,
        ),
        (
            "implied role on explicit grant",
            ScopeEntry::textual("group1", &[]),
            false,
        ),
        (
            "AIF request on textual grant",
            ScopeEntry::aif("group1", REQUESTER),
            false,
        ),
    ];
    for (what, requested, covered) in rows {
        assert_eq!(granted.covers(&requested), covered, "{what}");
    }
}

#[test]
fn aif_intersection_with_policies() {
    struct Row {
        what: &'static str,
        policy: &'static [(&'static str, u64)],
        request: &'static [(&'static str, u64)],
        granted: Option<&'static [(&'static str, u64)]>,
    }
    let rows = [
        Row {
            what: "exact",
            policy: &[("g1", RR)],
            request: &[("g1", RR)],
            granted: Some(&[("g1", RR)]),
        },
        Row {
            what: "wildcard suffix",
            policy: &[("sensors-*", REQUESTER)],
            request: &[("sensors-kitchen", REQUESTER)],
            granted: Some(&[("sensors-kitchen", REQUESTER)]),
        },
        Row {
            what: "wildcard does not match",
            policy: &[("sensors-*", REQUESTER)],
            request: &[("actuators-1", REQUESTER)],
            granted: None,
        },
        Row {
            what: "narrowed",
            policy: &[("g*", REQUESTER)],
            request: &[("g1", RR)],
            granted: Some(&[("g1", REQUESTER)]),
        },
        Row {
            what: "escalation clipped",
            policy: &[("g1", RR)],
            request: &[("g1", RR | MONITOR | VERIFIER)],
            granted: Some(&[("g1", RR)]),
        },
        Row {
            what: "escalation denied",
            policy: &[("g1", RR)],
            request: &[("g1", MONITOR)],
            granted: None,
        },
        Row {
            what: "never more than requested",
            policy: &[("*", RR | MONITOR)],
            request: &[("g1", REQUESTER)],
            granted: Some(&[("g1", REQUESTER)]),
        },
        Row {
            what: "rules matching one group merge",
            policy: &[("g*", REQUESTER), ("g1", RESPONDER)],
            request: &[("g1", RR)],
            granted: Some(&[("g1", RR)]),
        },
        Row {
            what: "several groups, empty entries dropped",
            policy: &[("a*", RR), ("b", MONITOR)],
            request: &[("a1", RR), ("b", RR), ("c", REQUESTER), ("a2", RESPONDER)],
            granted: Some(&[("a1", RR), ("a2", RESPONDER)]),
        },
        Row {
            what: "star in the middle",
            policy: &[("site*/floor*", MONITOR)],
            request: &[("site1/floor2", MONITOR)],
            granted: Some(&[("site1/floor2", MONITOR)]),
        },
        Row {
            what: "escaped star is literal",
            policy: &[(r"g\*", REQUESTER)],
            request: &[("g*", REQUESTER), ("gx", REQUESTER)],
            granted: Some(&[("g*", REQUESTER)]),
        },
        Row {
            what: "empty policy",
            policy: &[],
            request: &[("g1", REQUESTER)],
            granted: None,
        },
        Row {
            what: "empty request",
            policy: &[("*", RR)],
            request: &[],
            granted: None,
        },
        Row {
            what: "pub-sub permissions",
            policy: &[("topic*", APP_GROUP | PUBLISH | READ)],
            request: &[("topic1", APP_GROUP | PUBLISH | DELETE)],
            granted: Some(&[("topic1", APP_GROUP | PUBLISH)]),
        },
    ];
    for row in rows {
        let request = aif(row.request);
        let got = policy(row.policy).intersect(&request);
        assert_eq!(got, row.granted.map(aif), "{}", row.what);
        if let Some(granted) = got {
            assert!(
                request.covers_all(&granted),
                "{}: more than requested",
                row.what
            );
        }
    }
}

#[test]
fn textual_intersection_with_policies() {
    let policy = ScopePolicy::new(vec![
        PolicyEntry::textual("group*", &["sender", "receiver"]).unwrap(),
        PolicyEntry::textual("implied", &[]).unwrap(),
    ]);
    let request = GroupScope::new(vec![
        ScopeEntry::textual("group1", &["receiver", "admin"]),
        ScopeEntry::textual("group2", &["admin"]),
        ScopeEntry::textual("implied", &[]),
        ScopeEntry::textual("group3", &[]),
    ]);
    let granted = policy.intersect(&request).unwrap();
    assert_eq!(
        granted,
        GroupScope::new(vec![
            ScopeEntry::textual("group1", &["receiver"]),
            ScopeEntry::textual("implied", &[]),
        ])
    );
    // A single remaining role is encoded as a text string, not an array.
    assert_eq!(
        hex::encode(granted.entries[0].encode()),
        "826667726f7570316872656365697665 72".replace(' ', "")
    );
}

#[test]
fn granted_scope_round_trips_as_a_binary_scope() {
    let granted = policy(&[("g*", RR)])
        .intersect(&aif(&[("g1", RR)]))
        .unwrap();
    let value = ScopeValue::group(&granted);
    assert_eq!(value.group_scope().unwrap(), granted);
    assert!(value.text_scope().is_err());
}

#[test]
fn group_oscore_join_role_sets() {
    let rows: [(u64, bool); 10] = [
        (REQUESTER, true),
        (RESPONDER, true),
        (RR, true),
        (MONITOR, true),
        (REQUESTER | MONITOR, false),
        (RESPONDER | MONITOR, false),
        (RR | MONITOR, false),
        (VERIFIER, false),
        (0, false),
        (REQUESTER | 1, false),
    ];
    for (bits, ok) in rows {
        let scope = aif(&[("g1", bits)]);
        assert_eq!(group_oscore_join_entry(&scope).is_ok(), ok, "roles {bits}");
    }
    assert!(group_oscore_join_entry(&aif(&[("g1", REQUESTER), ("g2", REQUESTER)])).is_err());
    assert!(group_oscore_join_entry(&aif(&[])).is_err());
    let textual = GroupScope::new(vec![ScopeEntry::textual("g1", &["requester"])]);
    assert!(group_oscore_join_entry(&textual).is_err());
    assert_eq!(
        group_oscore_join_entry(&aif(&[("g1", RR)])).unwrap(),
        ("g1", RR)
    );
    let refused = group_oscore_join_entry(&aif(&[("g1", REQUESTER | MONITOR)])).unwrap_err();
    assert_eq!(refused.code().to_string(), "4.00");
}

#[test]
fn data_model_checks() {
    assert!(
        aif(&[("g1", RR | MONITOR | VERIFIER)])
            .check_group_oscore()
            .is_ok()
    );
    assert!(
        aif(&[("g1", 1 | REQUESTER)]).check_group_oscore().is_err(),
        "admin bit"
    );
    assert!(
        aif(&[("g1", 32)]).check_group_oscore().is_err(),
        "undefined bit"
    );
    assert!(aif(&[("g1", 0)]).check_group_oscore().is_err(), "no role");
    assert!(
        aif(&[("t", APP_GROUP | PUBLISH | READ | DELETE)])
            .check_pubsub()
            .is_ok()
    );
    assert!(aif(&[("t", 1 | READ)]).check_pubsub().is_err(), "admin bit");
    let textual = GroupScope::new(vec![ScopeEntry::textual("g1", &["x"])]);
    assert!(textual.check_group_oscore().is_err());
    assert_eq!(
        aif(&[("g1", REQUESTER), ("g1", RESPONDER)]).roles_for("g1"),
        Some(Some(Roles::Aif(RR)))
    );
}

#[test]
fn group_patterns() {
    let rows: [(&str, &str, bool); 12] = [
        ("g1", "g1", true),
        ("g1", "g10", false),
        ("g*", "g", true),
        ("g*", "g10", true),
        ("*1", "g1", true),
        ("*1", "g2", false),
        ("a*b*c", "a-b-c", true),
        ("a*b*c", "a-c-b", false),
        ("*", "", true),
        ("**", "x", true),
        (r"a\\b", r"a\b", true),
        (r"a\*", "ab", false),
    ];
    for (pattern, name, matches) in rows {
        assert_eq!(
            GroupPattern::parse(pattern).unwrap().matches(name),
            matches,
            "{pattern} ~ {name}"
        );
    }
    assert!(GroupPattern::parse(r"a\b").is_err());
}

fn text(s: &str) -> TextScope {
    s.parse().unwrap()
}

#[test]
fn mqtt_text_scope_publish_and_subscribe() {
    struct Row {
        scope: &'static str,
        publish: &'static [(&'static str, bool)],
        subscribe: &'static [(&'static str, bool)],
    }
    let rows = [
        Row {
            scope: "publish_topic1 subscribe_topic1/#",
            publish: &[
                ("topic1", true),
                ("topic1/a", false),
                ("topic2", false),
                ("topic1/+", false),
            ],
            subscribe: &[
                ("topic1/#", true),
                ("topic1", true),
                ("topic1/a/b", true),
                ("topic1/+", true),
                ("topic2", false),
                ("+/x", false),
                ("#", false),
            ],
        },
        Row {
            scope: "publish_+/topic3",
            publish: &[
                ("a/topic3", true),
                ("/topic3", true),
                ("a/b/topic3", false),
                ("$SYS/topic3", false),
            ],
            subscribe: &[("a/topic3", false)],
        },
        Row {
            scope: "subscribe_#",
            publish: &[("a", false)],
            subscribe: &[
                ("a/+/b", true),
                ("#", true),
                ("$SYS/x", false),
                ("$SYS/#", false),
            ],
        },
        Row {
            scope: "subscribe_a/+",
            publish: &[],
            subscribe: &[
                ("a/b", true),
                ("a/+", true),
                ("a/#", false),
                ("a", false),
                ("a/b/c", false),
                ("+/b", false),
            ],
        },
        Row {
            scope: "subscribe_$SYS/#",
            publish: &[],
            subscribe: &[("$SYS/broker/load", true), ("$SYS", true), ("#", false)],
        },
    ];
    for row in rows {
        let scope = text(row.scope);
        assert_eq!(scope.to_string(), row.scope);
        for (topic, ok) in row.publish {
            assert_eq!(
                scope.allows_publish(topic),
                *ok,
                "{}: publish {topic}",
                row.scope
            );
        }
        for (filter, ok) in row.subscribe {
            assert_eq!(
                scope.allows_subscribe(filter),
                *ok,
                "{}: subscribe {filter}",
                row.scope
            );
        }
    }
}

#[test]
fn invalid_text_scopes() {
    for bad in [
        "publish_a/#/b",
        "subscribe_a#",
        "publish_a+",
        "publish_",
        "a  b",
        " a",
        "a ",
        "a\"b",
        "a\\b",
        "caf\u{e9}",
    ] {
        assert!(bad.parse::<TextScope>().is_err(), "{bad:?}");
    }
    assert_eq!(text("").tokens.len(), 0);
    assert_eq!(text("read write").to_string(), "read write");
}

#[test]
fn mqtt_text_scope_intersection() {
    let rows: [(&str, &str, Option<&str>); 7] = [
        (
            "subscribe_a/# publish_x read",
            "subscribe_a/b/+ subscribe_a/c publish_x/y read",
            Some("subscribe_a/b/+ subscribe_a/c read"),
        ),
        (
            "subscribe_+/temp",
            "subscribe_kitchen/#",
            Some("subscribe_kitchen/temp"),
        ),
        ("subscribe_#", "subscribe_$SYS/#", None),
        (
            "subscribe_a/#",
            "subscribe_a/b subscribe_a/#",
            Some("subscribe_a/#"),
        ),
        ("publish_a/b", "subscribe_a/#", None),
        ("publish_a/b write", "publish_a/+ read", Some("publish_a/b")),
        ("subscribe_a", "subscribe_a/#", Some("subscribe_a")),
    ];
    for (request, policy, expected) in rows {
        let got = text(request).intersect(&text(policy));
        assert_eq!(
            got.map(|s| s.to_string()),
            expected.map(String::from),
            "{request} & {policy}"
        );
        if let Some(granted) = text(request).intersect(&text(policy)) {
            for token in &granted.tokens {
                assert!(
                    text(request).covers(token),
                    "{request}: {token} exceeds the request"
                );
                assert!(
                    text(policy).covers(token),
                    "{policy}: {token} exceeds the policy"
                );
            }
        }
    }
}
