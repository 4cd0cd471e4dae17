//! The configuration: the commented example is valid, and every kind of bad
//! file is refused with the line of the offending value and a reason.
#![allow(clippy::unwrap_used)] // tests may unwrap

use ace_as::config::{AceProfile, AsConfig, CwtProtection, TokenFormat};
use ace_as::policy::ScopeModel;
use std::path::Path;

const EXAMPLE: &str = include_str!("../as.example.toml");

fn load(text: &str) -> Result<AsConfig, ace_as::config::ConfigError> {
    AsConfig::from_toml_str(text, Path::new("."))
}

#[test]
fn the_example_configuration_is_valid_and_means_what_it_says() {
    let config = load(EXAMPLE).expect("example config");
    assert_eq!(config.server.issuer.as_deref(), Some("coap://as.example"));
    assert_eq!(config.server.signing_kid.as_deref(), Some(&[0xa5][..]));
    assert_eq!(config.clients.len(), 2);
    assert_eq!(
        config.client("sensor-1").unwrap().profiles,
        [AceProfile::CoapOscore]
    );
    assert_eq!(
        config.client("sensor-2").unwrap().profiles,
        AceProfile::ALL.to_vec()
    );
    let kdc = config.audience("kdc.example").unwrap();
    assert_eq!(kdc.profile, AceProfile::CoapOscore);
    assert!(matches!(
        kdc.format,
        TokenFormat::Cwt {
            protection: CwtProtection::Sign1Encrypt0 { .. },
            ..
        }
    ));
    assert!(kdc.format.is_encrypted());
    assert!(kdc.default_scope.is_some());
    assert!(kdc.oscore.is_some());
    let broker = config.audience("broker.example").unwrap();
    assert_eq!(broker.format, TokenFormat::Jwt);
    assert_eq!(broker.scope_model, ScopeModel::Text);
    assert!(broker.rs_public_key.is_some());
    assert_eq!(config.policy.rules.len(), 2);
    assert!(config.policy.applies("sensor-1", "kdc.example"));
    assert!(!config.policy.applies("sensor-1", "broker.example"));
}

/// A minimal valid file to mutate.
const BASE: &str = r#"[server]
issuer = "as"
[server.signing_key]
d = "28a279800089f365d245cfe4d5a23b5b24a22c5d840f669091e27fd067bc7b3d"

[[client]]
id = "c1"
[client.oscore]
sender_id = "01"
recipient_id = "02"
master_secret = "2d223bbfe89757f52eb0a7a1d59e93a4"

[[audience]]
name = "kdc"
shared_key = "ba887aa7e241e92927b2ab9294262415"

[[policy]]
clients = ["c1"]
audiences = ["kdc"]
groups = [{ name = "g*", roles = ["requester"] }]
"#;

#[test]
fn the_base_configuration_is_valid() {
    let config = load(BASE).unwrap();
    let kdc = config.audience("kdc").unwrap();
    assert_eq!(kdc.lifetime, 3600);
    assert!(kdc.clock);
    assert_eq!(kdc.rs_id, b"kdc");
    assert_eq!(kdc.scope_model, ScopeModel::AifGroupOscore);
    assert!(
        kdc.format.is_encrypted(),
        "coap_oscore defaults to sign1+encrypt0"
    );
}

#[test]
fn socket_buffer_defaults_to_4_mib_and_0_keeps_the_system_default() {
    let buffer = |text: &str| load(text).unwrap().server.socket_buffer;
    assert_eq!(buffer(EXAMPLE), Some(4 << 20));
    assert_eq!(buffer(BASE), Some(4 << 20), "omitted");
    let with = |value: &str| {
        BASE.replacen(
            "issuer = \"as\"",
            &format!("issuer = \"as\"\nsocket_buffer = {value}"),
            1,
        )
    };
    assert_eq!(buffer(&with("65536")), Some(65536));
    assert_eq!(buffer(&with("2147483647")), Some(2147483647));
    assert_eq!(buffer(&with("0")), None, "0: the system default");
}

/// (what is wrong, the edit, the expected line, a phrase of the reason)
fn refusals() -> Vec<(&'static str, String, usize, &'static str)> {
    let replace = |from: &str, to: &str| {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    };
    vec![
        ("not TOML", replace("[[policy]]", "[[policy]"), 17, ""),
        (
            "unknown field",
            replace("issuer = \"as\"", "isuer = \"as\""),
            2,
            "unknown field",
        ),
        (
            "wrong type",
            replace("name = \"kdc\"", "name = 5"),
            14,
            "string",
        ),
        (
            "bad hex",
            replace("d = \"28a2", "d = \"zza2"),
            4,
            "not valid hex",
        ),
        (
            "short signing key",
            replace(
                "d = \"28a279800089f365d245cfe4d5a23b5b24a22c5d840f669091e27fd067bc7b3d\"",
                "d = \"28a2\"",
            ),
            4,
            "32-byte",
        ),
        (
            "equal OSCORE ids",
            replace("recipient_id = \"02\"", "recipient_id = \"01\""),
            10,
            "must differ",
        ),
        (
            "OSCORE id too long",
            replace(
                "recipient_id = \"02\"",
                "recipient_id = \"0102030405060708\"",
            ),
            10,
            "at most 7",
        ),
        (
            "unknown profile",
            replace("name = \"kdc\"", "name = \"kdc\"\nprofile = \"coap_tls\""),
            15,
            "unknown ACE profile",
        ),
        (
            "symmetric key in a signed token",
            replace(
                "shared_key = \"ba887aa7e241e92927b2ab9294262415\"",
                "protection = \"sign1\"",
            ),
            15,
            "master secret",
        ),
        (
            "symmetric key in a MAC'd token",
            replace(
                "shared_key = \"ba887aa7e241e92927b2ab9294262415\"",
                "protection = \"mac0\"\nshared_key = \"ba887aa7e241e92927b2ab9294262415ba887aa7e241e92927b2ab9294262415\"",
            ),
            15,
            "master secret",
        ),
        (
            "symmetric key in a JWT",
            replace(
                "shared_key = \"ba887aa7e241e92927b2ab9294262415\"",
                "format = \"jwt\"",
            ),
            15,
            "master secret",
        ),
        (
            "encryption without a shared key",
            replace(
                "shared_key = \"ba887aa7e241e92927b2ab9294262415\"",
                "lifetime = 60",
            ),
            14,
            "needs shared_key",
        ),
        (
            "AES key of the wrong length",
            replace(
                "shared_key = \"ba887aa7e241e92927b2ab9294262415\"",
                "shared_key = \"ba887aa7\"",
            ),
            15,
            "16-byte",
        ),
        (
            "zero lifetime",
            replace("name = \"kdc\"", "name = \"kdc\"\nlifetime = 0"),
            15,
            "lifetime",
        ),
        (
            "negative socket buffer",
            replace("issuer = \"as\"", "issuer = \"as\"\nsocket_buffer = -1"),
            3,
            "socket_buffer must be 0",
        ),
        (
            "socket buffer beyond a C int",
            replace(
                "issuer = \"as\"",
                "issuer = \"as\"\nsocket_buffer = 2147483648",
            ),
            3,
            "socket_buffer must be 0",
        ),
        (
            "unknown default audience",
            replace(
                "issuer = \"as\"",
                "issuer = \"as\"\ndefault_audience = \"rs\"",
            ),
            3,
            "not a configured audience",
        ),
        (
            "policy for an unknown client",
            replace("clients = [\"c1\"]", "clients = [\"c9\"]"),
            18,
            "matches no configured client",
        ),
        (
            "policy for an unknown audience",
            replace("audiences = [\"kdc\"]", "audiences = [\"rs\"]"),
            19,
            "matches no configured audience",
        ),
        (
            "unknown role",
            replace("roles = [\"requester\"]", "roles = [\"writer\"]"),
            20,
            "unknown Group OSCORE role",
        ),
        (
            "bad pattern escape",
            replace("name = \"g*\"", "name = \"g\\\\x\""),
            20,
            "invalid escape",
        ),
        (
            "grant of the wrong scope model",
            replace(
                "groups = [{ name = \"g*\", roles = [\"requester\"] }]",
                "text = \"read\"",
            ),
            17,
            "none of its audiences uses that scope_format",
        ),
        (
            "rule granting nothing",
            replace("groups = [{ name = \"g*\", roles = [\"requester\"] }]", ""),
            17,
            "must grant something",
        ),
        (
            "reserved admin bit",
            replace("roles = [\"requester\"]", "bits = 3"),
            20,
            "outside",
        ),
        (
            "duplicate client",
            format!("{BASE}\n[[client]]\nid = \"c1\"\n"),
            23,
            "duplicate client id",
        ),
        (
            "invalid Ed25519 key",
            format!(
                "{BASE}\n[[client]]\nid = \"c2\"\n[client.public_key]\ncrv = \"Ed25519\"\nx = \"00\"\n"
            ),
            26,
            "invalid Ed25519",
        ),
        (
            "extended scope on a text audience",
            replace(
                "name = \"kdc\"",
                "name = \"kdc\"\nscope_format = \"text\"\nextended_scope = true",
            ),
            16,
            "extended_scope",
        ),
    ]
}

#[test]
fn bad_files_are_refused_with_line_and_reason() {
    let mut wrong = Vec::new();
    for (what, text, line, phrase) in refusals() {
        match load(&text) {
            Ok(_) => wrong.push(format!("{what}: accepted")),
            Err(err) => {
                if err.line() != Some(line) || !err.reason().unwrap_or_default().contains(phrase) {
                    wrong.push(format!(
                        "{what}: expected line {line} with {phrase:?}, got {err}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("as.toml");
    std::fs::write(&path, BASE.replace("[[policy]]", "[[policy]")).unwrap();
    let err = AsConfig::load(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:17:", path.display())), "{err}");
    let missing = AsConfig::load(&dir.path().join("none.toml")).unwrap_err();
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}

#[test]
fn the_signing_key_may_live_in_a_file_relative_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("as.key"),
        "28a279800089f365d245cfe4d5a23b5b\n24a22c5d840f669091e27fd067bc7b3d\n",
    )
    .unwrap();
    let text = BASE.replace(
        "d = \"28a279800089f365d245cfe4d5a23b5b24a22c5d840f669091e27fd067bc7b3d\"",
        "file = \"as.key\"",
    );
    let path = dir.path().join("as.toml");
    std::fs::write(&path, &text).unwrap();
    let from_file = AsConfig::load(&path).unwrap();
    let inline = load(BASE).unwrap();
    assert_eq!(
        from_file.server.signing_key.verifying_key(),
        inline.server.signing_key.verifying_key()
    );
    std::fs::remove_file(dir.path().join("as.key")).unwrap();
    let err = AsConfig::load(&path).unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
}
