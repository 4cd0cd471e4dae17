//! Property tests of CWT claims sets, COSE_Keys, credentials, sealed tokens and
//! scopes: `decode(encode(x)) == x` (and parse/print for text scopes),
//! semantic properties of MQTT filter coverage and intersection, of group
//! patterns and of policy intersection, tampered tokens always refused, and
//! arbitrary input into every decoder never panicking.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_proto::Codec;
use ace_proto::cbor::{IntOrText, Value};
use ace_proto::credential::{CoseKey, Credential, CredentialFormat};
use ace_proto::cwt::{
    Audience, ClaimsSet, Confirmation, MacAlgorithm, NumericDate, Tagging, TokenKey, TokenVerifier,
};
use ace_proto::keys::{SignatureAlgorithm, SigningKey};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::roles::Roles;
use ace_proto::scope::{
    GroupPattern, GroupScope, PolicyEntry, ScopeEntry, ScopePolicy, ScopeValue, TextScope,
    TextScopeToken, TopicFilter, TopicPermission,
};
use proptest::prelude::*;

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..12)
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/._ -]{0,12}"
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        bytes().prop_map(Value::Bytes),
        text().prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(Value::Array)
    })
}

fn numeric_date() -> impl Strategy<Value = NumericDate> {
    prop_oneof![
        any::<i64>().prop_map(NumericDate::Integer),
        (-1e12f64..1e12).prop_map(NumericDate::Float),
    ]
}

fn scope_claim() -> impl Strategy<Value = ScopeValue> {
    prop_oneof![
        text().prop_map(ScopeValue::Text),
        bytes().prop_map(ScopeValue::Binary),
        (any::<u64>(), bytes()).prop_map(|(tag, bytes)| ScopeValue::Extended { tag, bytes }),
    ]
}

fn confirmation() -> impl Strategy<Value = Confirmation> {
    prop_oneof![
        (bytes(), bytes()).prop_map(|(x, kid)| Confirmation::CoseKey(CoseKey::okp(
            6,
            &x,
            Some(&kid),
            Some(-8)
        ))),
        bytes().prop_map(Confirmation::Kid),
        (bytes(), bytes()).prop_map(|(id, ms)| Confirmation::Osc(OscoreInputMaterial {
            id: Some(id),
            ms: Some(ms),
            ..OscoreInputMaterial::default()
        })),
    ]
}

fn claims() -> impl Strategy<Value = ClaimsSet> {
    (
        (prop::option::of(text()), prop::option::of(text())),
        prop::option::of(prop_oneof![
            text().prop_map(Audience::Single),
            prop::collection::vec(text(), 0..3).prop_map(Audience::Multiple)
        ]),
        (
            prop::option::of(numeric_date()),
            prop::option::of(numeric_date()),
            prop::option::of(numeric_date()),
        ),
        (
            prop::option::of(bytes()),
            prop::option::of(confirmation()),
            prop::option::of(scope_claim()),
        ),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(bytes()),
            prop::option::of(any::<u64>()),
        ),
        prop::collection::btree_map(1000i64..5000, value(), 0..3),
    )
        .prop_map(
            |(
                (iss, sub),
                aud,
                (exp, nbf, iat),
                (cti, cnf, scope),
                (ace_profile, cnonce, exi),
                rest,
            )| {
                ClaimsSet {
                    iss,
                    sub,
                    aud,
                    exp,
                    nbf,
                    iat,
                    cti,
                    cnf,
                    scope,
                    ace_profile,
                    cnonce,
                    exi,
                    rest: rest
                        .into_iter()
                        .map(|(k, v)| (IntOrText::Int(k), v))
                        .collect(),
                    claim_order: Vec::new(),
                }
            },
        )
}

/// Claims with `claim_order` a random permutation of the keys present.
fn claims_in_some_order() -> impl Strategy<Value = ClaimsSet> {
    claims().prop_flat_map(|c| {
        let keys: Vec<IntOrText> = match c.to_value() {
            Value::Map(entries) => entries
                .into_iter()
                .filter_map(|(k, _)| IntOrText::from_value(k, "key").ok())
                .collect(),
            _ => Vec::new(),
        };
        Just(keys).prop_shuffle().prop_map(move |order| ClaimsSet {
            claim_order: order,
            ..c.clone()
        })
    })
}

fn wire_keys(bytes: &[u8]) -> Vec<IntOrText> {
    match ace_proto::cbor::from_slice(bytes).unwrap() {
        Value::Map(entries) => entries
            .into_iter()
            .map(|(k, _)| IntOrText::from_value(k, "key").unwrap())
            .collect(),
        _ => Vec::new(),
    }
}

fn roles_text() -> impl Strategy<Value = Roles> {
    prop::collection::vec("[a-z]{1,6}", 1..4).prop_map(Roles::Text)
}

fn group_scope() -> impl Strategy<Value = GroupScope> {
    prop_oneof![
        prop::collection::vec(("[a-z0-9*]{0,6}", any::<u64>()), 0..4).prop_map(
            |e| GroupScope::new(e.into_iter().map(|(n, b)| ScopeEntry::aif(n, b)).collect())
        ),
        prop::collection::vec(("[a-z0-9]{0,6}", prop::option::of(roles_text())), 0..4).prop_map(
            |e| {
                GroupScope::new(
                    e.into_iter()
                        .map(|(name, roles)| ScopeEntry { name, roles })
                        .collect(),
                )
            }
        ),
    ]
}

/// Topic filters over a small alphabet, so that matches are frequent.
fn filter() -> impl Strategy<Value = TopicFilter> {
    let level = prop_oneof![Just("a"), Just("b"), Just(""), Just("$s"), Just("+")];
    (prop::collection::vec(level, 1..4), any::<bool>()).prop_filter_map(
        "valid filter",
        |(levels, hash)| {
            let mut s = levels.join("/");
            if hash {
                s.push_str("/#");
            }
            TopicFilter::new(&s).ok()
        },
    )
}

fn filter_or_hash() -> impl Strategy<Value = TopicFilter> {
    prop_oneof![4 => filter(), 1 => Just(TopicFilter::new("#").unwrap())]
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("a"), Just("b"), Just(""), Just("$s")],
        1..5,
    )
    .prop_map(|levels| levels.join("/"))
}

fn text_scope() -> impl Strategy<Value = TextScope> {
    prop::collection::vec(
        prop_oneof![
            (any::<bool>(), filter_or_hash()).prop_map(|(publish, filter)| TextScopeToken::Topic {
                permission: if publish {
                    TopicPermission::Publish
                } else {
                    TopicPermission::Subscribe
                },
                filter,
            }),
            "[a-z][a-z0-9_]{0,8}"
                .prop_filter("not a topic token", |t| !t.starts_with("publish_")
                    && !t.starts_with("subscribe_"))
                .prop_map(TextScopeToken::Other),
        ],
        0..4,
    )
    .prop_map(|tokens| TextScope { tokens })
}

/// A straightforward backtracking matcher for `*` globs, the reference the
/// linear matcher is checked against.
fn glob_reference(pattern: &[char], name: &[char]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some(('*', rest)) => {
            glob_reference(rest, name) || (!name.is_empty() && glob_reference(pattern, &name[1..]))
        }
        Some((c, rest)) => name.first() == Some(c) && glob_reference(rest, &name[1..]),
    }
}

fn round_trip<T: Codec + PartialEq + std::fmt::Debug>(x: &T) -> Result<(), TestCaseError> {
    let bytes = x.encode();
    let back = T::decode(&bytes).map_err(|e| TestCaseError::fail(format!("{e}: {x:?}")))?;
    prop_assert_eq!(&back, x);
    prop_assert_eq!(back.encode(), bytes);
    Ok(())
}

fn any_verifier() -> TokenVerifier {
    TokenVerifier::new("kdc")
        .with_key(TokenKey::verifying(
            SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[1; 32])
                .unwrap()
                .verifying_key(),
        ))
        .with_key(TokenKey::verifying(
            SigningKey::from_bytes(SignatureAlgorithm::Es256, &[2; 32])
                .unwrap()
                .verifying_key(),
        ))
        .with_key(TokenKey::mac(&[3; 32]))
        .with_key(TokenKey::aes_ccm_16_64_128(&[4; 16]))
}

proptest! {
    #[test]
    fn claims_set_round_trips(c in claims()) {
        round_trip(&c)?;
    }

    #[test]
    fn claims_set_keeps_any_claim_order(c in claims_in_some_order()) {
        let bytes = c.encode();
        prop_assert_eq!(wire_keys(&bytes), c.claim_order.clone());
        let back = ClaimsSet::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.encode(), bytes);
    }

    #[test]
    fn cose_key_round_trips(entries in prop::collection::btree_map(-20i64..20, value(), 0..5), kty in 1i64..5) {
        let mut all = vec![(IntOrText::Int(1), Value::from(kty))];
        all.extend(
            entries
                .into_iter()
                .filter(|(k, _)| ![1, 2, 3, 4, 5].contains(k))
                .map(|(k, v)| (IntOrText::Int(k), v)),
        );
        let key = CoseKey::from_entries(all).unwrap();
        round_trip(&key)?;
    }

    #[test]
    fn built_credentials_parse_to_themselves(seed in prop::array::uniform32(1u8..), es256 in any::<bool>(), sub in text(), kid in prop::option::of(bytes())) {
        let alg = if es256 { SignatureAlgorithm::Es256 } else { SignatureAlgorithm::EdDsa };
        let key = SigningKey::from_bytes(alg, &seed).unwrap();
        let ccs = Credential::ccs_for_signing_key(&key, &sub, kid.as_deref());
        let parsed = Credential::parse(CredentialFormat::Ccs, ccs.bytes()).unwrap();
        prop_assert_eq!(&parsed, &ccs);
        prop_assert_eq!(parsed.verifying_key().unwrap(), key.verifying_key());
        let bare = Credential::cose_key_for_signing_key(&key, kid.as_deref());
        prop_assert_eq!(Credential::parse_cose_key(bare.bytes()).unwrap(), bare);
    }

    #[test]
    fn sealed_tokens_open_and_any_tampering_is_refused(
        c in claims(),
        kind in 0u8..4,
        tagging in prop_oneof![Just(Tagging::Untagged), Just(Tagging::Cose), Just(Tagging::Cwt)],
        at in any::<prop::sample::Index>(),
        mask in 1u8..,
    ) {
        let c = ClaimsSet { aud: Some(Audience::Single("kdc".into())), exp: None, nbf: None, ..c };
        let token = match kind {
            0 => c.seal_sign1(&SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &[1; 32]).unwrap(), None, tagging),
            1 => c.seal_sign1(&SigningKey::from_bytes(SignatureAlgorithm::Es256, &[2; 32]).unwrap(), None, tagging),
            2 => c.seal_mac0(&[3; 32], MacAlgorithm::Hmac256_64, None, tagging),
            _ => c.seal_encrypt0(&[4; 16], None, tagging),
        }
        .unwrap();
        let verifier = any_verifier();
        let opened = verifier.open(&token, 0).unwrap();
        prop_assert_eq!(opened.claims(), &c);
        let mut bad = token.clone();
        bad[at.index(token.len())] ^= mask;
        prop_assert!(verifier.open(&bad, 0).is_err());
    }

    #[test]
    fn group_scope_round_trips(s in group_scope()) {
        round_trip(&s)?;
        let value = ScopeValue::group(&s);
        prop_assert_eq!(value.group_scope().unwrap(), s);
    }

    #[test]
    fn text_scope_prints_and_parses_back(s in text_scope()) {
        let printed = s.to_string();
        prop_assert_eq!(printed.parse::<TextScope>().unwrap(), s);
    }

    #[test]
    fn filter_coverage_is_sound(granted in filter_or_hash(), requested in filter_or_hash(), topic in topic()) {
        if granted.covers(&requested) && requested.matches(&topic) {
            prop_assert!(granted.matches(&topic), "{granted} covers {requested} but not {topic}");
        }
    }

    #[test]
    fn filter_intersection_matches_exactly_the_common_topics(a in filter_or_hash(), b in filter_or_hash(), topic in topic()) {
        let both = a.matches(&topic) && b.matches(&topic);
        match a.intersection(&b) {
            Some(c) => {
                prop_assert_eq!(c.matches(&topic), both, "{} & {} = {} on {}", a, b, c, topic);
                prop_assert!(a.covers(&c) && b.covers(&c), "{} & {} = {}", a, b, c);
            }
            None => prop_assert!(!both, "{} & {} empty, but both match {}", a, b, topic),
        }
    }

    #[test]
    fn text_scope_intersection_never_exceeds_request_or_policy(request in text_scope(), policy in text_scope()) {
        if let Some(granted) = request.intersect(&policy) {
            for token in &granted.tokens {
                prop_assert!(request.covers(token));
                prop_assert!(policy.covers(token));
            }
        }
    }

    #[test]
    fn glob_matches_like_the_reference(pattern in "[ab*]{0,6}", name in "[ab]{0,8}") {
        let p: Vec<char> = pattern.chars().collect();
        let n: Vec<char> = name.chars().collect();
        prop_assert_eq!(GroupPattern::parse(&pattern).unwrap().matches(&name), glob_reference(&p, &n));
    }

    #[test]
    fn policy_intersection_never_exceeds_request_or_policy(
        rules in prop::collection::vec(("[ab*]{0,3}", 0u64..32), 0..4),
        request in prop::collection::vec(("[ab]{0,3}", 0u64..32), 0..4),
    ) {
        let policy = ScopePolicy::new(rules.iter().map(|(p, b)| PolicyEntry::aif(p, *b).unwrap()).collect());
        let request = GroupScope::new(request.iter().map(|(n, b)| ScopeEntry::aif(n.as_str(), *b)).collect());
        if let Some(granted) = policy.intersect(&request) {
            prop_assert!(!granted.entries.is_empty());
            for entry in &granted.entries {
                let bits = entry.aif_bits().unwrap();
                prop_assert!(bits != 0);
                prop_assert!(request.covers(entry));
                let allowed = rules
                    .iter()
                    .filter(|(p, _)| GroupPattern::parse(p).unwrap().matches(&entry.name))
                    .fold(0, |acc, (_, b)| acc | b);
                prop_assert_eq!(bits & !allowed, 0);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ClaimsSet::decode(&bytes);
        let _ = CoseKey::decode(&bytes).map(|k| k.public_key());
        let _ = GroupScope::decode(&bytes);
        let _ = ScopeEntry::decode(&bytes);
        let _ = Credential::parse_ccs(&bytes);
        let _ = Credential::parse_cose_key(&bytes);
        let verifier = any_verifier();
        let _ = verifier.open(&bytes, 0);
        let _ = verifier.verify_payload(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = s.parse::<TextScope>();
            let _ = GroupPattern::parse(s).map(|p| p.matches(s));
            let _ = TopicFilter::new(s).map(|f| f.matches(s));
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,40}") {
        let _ = s.parse::<TextScope>();
        let _ = GroupPattern::parse(&s).map(|p| p.matches(&s));
        if let Ok(f) = TopicFilter::new(&s) {
            let _ = f.matches(&s);
            let _ = f.covers(&f);
            let _ = f.intersection(&f);
        }
    }
}
