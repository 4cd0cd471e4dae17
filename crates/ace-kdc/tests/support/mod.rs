//! Shared test support: a stand-in for the AS that mints tokens exactly as
//! `ace-as` does for the OSCORE profile (nested COSE_Sign1 in
//! COSE_Encrypt0, RFC 8392 A.6), client keys and credentials, Join
//! Requests with their PoP, and a KDC configuration.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

pub mod binary;
pub mod core_client;
pub mod net;
pub mod service;

use ace_kdc::KdcConfig;
use ace_kdc::config::RawConfig;
use ace_proto::Codec;
use ace_proto::credential::{Credential, PublicKey};
use ace_proto::cwt::{self, Audience, ClaimsSet, Confirmation, NumericDate, Tagging};
use ace_proto::groupcomm::{GetCreds, GroupKeyingMaterial, JoinRequest};
use ace_proto::keys::{SignatureAlgorithm, SigningKey, random_bytes};
use ace_proto::oscore_input::OscoreInputMaterial;
use ace_proto::pop::{self, DhCurve, DhPrivateKey, DhPublicKey, PopProver};
use ace_proto::scope::{GroupScope, ScopeEntry, ScopeValue};
use std::path::Path;

/// The audience of the test KDC.
pub const AUDIENCE: &str = "coap://kdc.test";
/// The AS's Ed25519 seed (RFC 8032 section 7.1, test 2).
pub const AS_SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
/// Its public key.
pub const AS_PUBLIC: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
/// The AES-CCM-16-64-128 key the AS shares with the KDC.
pub const SHARED_KEY: [u8; 16] = [0x5a; 16];
/// The KDC's Ed25519 seed (RFC 8032 section 7.1, test 1).
pub const KDC_ED25519: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
/// The KDC's P-256 scalar (RFC 6979 A.2.5).
pub const KDC_ES256: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

/// A KDC configuration with the test keys, database `db`, and the
/// `[[groups]]` TOML `groups`.
pub fn config_toml(db: &Path, groups: &str) -> String {
    config_toml_with(db, groups, "")
}

/// [`config_toml`] with extra `[kdc]` settings.
pub fn config_toml_with(db: &Path, groups: &str, kdc_extra: &str) -> String {
    format!(
        r#"
[kdc]
audience = "{AUDIENCE}"
listen = "127.0.0.1:0"
database = "{db}"
rekey_margin = 0
tick_ms = 50
{kdc_extra}

[[kdc.keys]]
alg = "EdDSA"
private_key = "{KDC_ED25519}"

[[kdc.keys]]
alg = "ES256"
private_key = "{KDC_ES256}"

[as]
uri = "coap://as.test/token"

[[as.keys]]
type = "ed25519"
key = "{AS_PUBLIC}"

[[as.keys]]
type = "aes-ccm-16-64-128"
key = "{shared}"

{groups}
"#,
        db = db.display(),
        shared = hex::encode(SHARED_KEY),
    )
}

/// The validated configuration of [`config_toml`].
pub fn config(db: &Path, groups: &str) -> KdcConfig {
    KdcConfig::from_raw(RawConfig::parse(&config_toml(db, groups)).unwrap()).unwrap()
}

/// The default test groups: `g1` (both modes, EdDSA), `gb` (backward
/// security), `ges` (group mode, ES256), `gp` (pairwise-only X25519), `g8`
/// (one-byte Sender IDs).
pub const GROUPS: &str = r#"
[[groups]]
name = "g1"

[[groups]]
name = "gb"
backward_security = true

[[groups]]
name = "ges"
mode = "group"
signature = "ES256"

[[groups]]
name = "gp"
mode = "pairwise"
dh_curve = "X25519"

[[groups]]
name = "g8"
max_sender_id_len = 1
"#;

/// The AS stand-in.
pub struct TestAs {
    key: SigningKey,
    pub shared: [u8; 16],
}

impl Default for TestAs {
    fn default() -> Self {
        Self::new()
    }
}

impl TestAs {
    pub fn new() -> Self {
        Self {
            key: SigningKey::from_bytes(SignatureAlgorithm::EdDsa, &hex::decode(AS_SEED).unwrap())
                .unwrap(),
            shared: SHARED_KEY,
        }
    }

    /// A token as `ace-as` mints it for the OSCORE profile: claims `aud`,
    /// `exp`, `iat`, `cti`, `cnf` (osc), `scope` (AIF), `ace_profile` 2,
    /// optional `cnonce`; COSE_Sign1 (EdDSA) inside COSE_Encrypt0.
    pub fn mint(&self, spec: &TokenSpec) -> Vec<u8> {
        let claims = ClaimsSet {
            aud: Some(Audience::Single(spec.audience.clone())),
            exp: Some(NumericDate::Integer(spec.exp as i64)),
            iat: Some(NumericDate::Integer(spec.exp.saturating_sub(3600) as i64)),
            cti: Some(random_bytes(8)),
            cnf: Some(spec.cnf.clone()),
            scope: Some(spec.scope.clone().unwrap_or_else(|| {
                ScopeValue::group(&GroupScope::new(
                    spec.grant
                        .iter()
                        .map(|(g, r)| ScopeEntry::aif(g.to_string(), *r))
                        .collect(),
                ))
            })),
            ace_profile: Some(2),
            cnonce: spec.cnonce.clone(),
            ..ClaimsSet::default()
        };
        let inner = claims.seal_sign1(&self.key, None, Tagging::Cose).unwrap();
        let mut iv = [0u8; cwt::AES_CCM_NONCE_LEN];
        iv.copy_from_slice(&random_bytes(cwt::AES_CCM_NONCE_LEN));
        cwt::encrypt0(
            &inner,
            &self.shared,
            &iv,
            coset::Header::default(),
            Tagging::Cose,
        )
        .unwrap()
    }
}

/// What a token says.
#[derive(Clone)]
pub struct TokenSpec {
    pub grant: Vec<(String, u64)>,
    pub cnf: Confirmation,
    pub exp: u64,
    pub audience: String,
    pub cnonce: Option<Vec<u8>>,
    /// Replaces the AIF scope built from `grant`.
    pub scope: Option<ScopeValue>,
}

/// A client: its OSCORE_Input_Material (from the AS), and its signature
/// key and credential.
#[derive(Clone)]
pub struct ClientKeys {
    pub material: OscoreInputMaterial,
    pub signing: SigningKey,
    pub credential: Vec<u8>,
    /// For pairwise-only groups: an X25519 key and its credential.
    pub dh: DhPrivateKey,
    pub dh_credential: Vec<u8>,
}

impl ClientKeys {
    pub fn new(alg: SignatureAlgorithm) -> Self {
        let signing = SigningKey::generate(alg);
        let credential = Credential::ccs_for_signing_key(&signing, "", None).into_bytes();
        let dh = DhPrivateKey::generate(DhCurve::X25519);
        let DhPublicKey::X25519(p) = dh.public_key() else {
            unreachable!()
        };
        let dh_credential = Credential::ccs(&PublicKey::X25519(*p.as_bytes()), -27, "", None)
            .unwrap()
            .into_bytes();
        Self {
            material: OscoreInputMaterial {
                id: Some(random_bytes(8)),
                ms: Some(random_bytes(16)),
                salt: Some(random_bytes(8)),
                ..OscoreInputMaterial::default()
            },
            signing,
            credential,
            dh,
            dh_credential,
        }
    }

    pub fn ed25519() -> Self {
        Self::new(SignatureAlgorithm::EdDsa)
    }

    /// A token spec granting `grant`, valid until `exp`.
    pub fn token(&self, grant: &[(&str, u64)], exp: u64) -> TokenSpec {
        TokenSpec {
            grant: grant.iter().map(|(g, r)| (g.to_string(), *r)).collect(),
            cnf: Confirmation::Osc(self.material.clone()),
            exp,
            audience: AUDIENCE.into(),
            cnonce: None,
            scope: None,
        }
    }
}

/// The Group OSCORE Sender ID (`group_SenderId`) a keying material
/// assigns, if any; the material must be Group OSCORE's.
pub fn sender_id(material: &GroupKeyingMaterial) -> Option<Vec<u8>> {
    material.key.group_oscore().unwrap().group_sender_id.clone()
}

/// The `scope` of a Join Request: an AIF scope with one entry.
pub fn join_scope(group: &str, roles: u64) -> Vec<u8> {
    GroupScope::new(vec![ScopeEntry::aif(group, roles)]).encode()
}

/// How a Join Request proves possession.
pub enum Proof<'a> {
    /// No credential at all.
    None,
    /// A signature with the client's key over scope | N_S | N_C.
    Signature(&'a ClientKeys),
    /// The pairwise-only MAC with the KDC's DH credential.
    Mac(&'a ClientKeys, &'a DhPublicKey),
    /// A given credential and evidence (forgeries).
    Raw {
        cred: Vec<u8>,
        evidence: Option<Vec<u8>>,
    },
}

/// A Join Request for `group` with `roles`, signed over `n_s`.
pub fn join_request(
    group: &str,
    roles: u64,
    n_s: &[u8],
    proof: Proof<'_>,
    get_creds: Option<GetCreds>,
    control_uri: Option<String>,
) -> JoinRequest {
    let scope = join_scope(group, roles);
    let cnonce = random_bytes(8);
    let input = pop::client_pop_input(&scope, n_s, &cnonce);
    let (client_cred, client_cred_verify) = match proof {
        Proof::None => (None, None),
        Proof::Signature(k) => (
            Some(k.credential.clone()),
            Some(PopProver::Signature(&k.signing).prove(&input).unwrap()),
        ),
        Proof::Mac(k, kdc) => (
            Some(k.dh_credential.clone()),
            Some(
                PopProver::Mac {
                    own: &k.dh,
                    peer: kdc,
                }
                .prove(&input)
                .unwrap(),
            ),
        ),
        Proof::Raw { cred, evidence } => (Some(cred), evidence),
    };
    JoinRequest {
        scope: Some(scope),
        get_creds,
        client_cred,
        cnonce,
        client_cred_verify,
        creds_repo: None,
        control_uri,
    }
}

/// The DH public key in a KDC DH credential (pairwise-only groups).
pub fn kdc_dh_key(cred: &[u8]) -> DhPublicKey {
    match Credential::parse_ccs(cred).unwrap().public_key() {
        PublicKey::X25519(x) => DhPublicKey::x25519(x).unwrap(),
        PublicKey::P256 { x, y } => DhPublicKey::p256(x, y).unwrap(),
        PublicKey::Ed25519(_) => panic!("not a DH credential"),
    }
}

/// A Group OSCORE context for a member, from the `key` the KDC gave it
/// (Join Response, Key Distribution Response or rekeying message on top
/// of the algorithms of a Join Response) and the KDC's credential.
pub fn member_context(
    full_key: &ace_proto::groupcomm::GroupOscoreInputMaterial,
    current: &ace_proto::groupcomm::GroupOscoreInputMaterial,
    own: Option<(&[u8], &SigningKey, &[u8])>,
    kdc_cred: &[u8],
    members: Vec<group_oscore::group::Member>,
) -> group_oscore::group::GroupSecurity {
    use group_oscore::group::{GroupParams, GroupSecurity, OwnIdentity};
    let sig = match full_key.sign_alg {
        Some(ace_proto::cbor::IntOrText::Int(-7)) => SignatureAlgorithm::Es256,
        _ => SignatureAlgorithm::EdDsa,
    };
    let mut params = GroupParams::new(
        current.gid().unwrap(),
        current.oscore.ms.as_deref().unwrap(),
        sig,
        kdc_cred,
    )
    .master_salt(current.oscore.salt.as_deref().unwrap_or_default());
    if !full_key.has_pairwise_mode() {
        params = params.signature_only();
    }
    if !full_key.has_group_mode() {
        params = params.pairwise_only();
    }
    let own = match own {
        Some((sid, key, cred)) => OwnIdentity::new(sid, key.clone(), cred),
        None => OwnIdentity::monitor(),
    };
    GroupSecurity::new(params, own, members).unwrap()
}

/// A member as another member's context knows it.
pub fn peer(sid: &[u8], cred: &[u8]) -> group_oscore::group::Member {
    let vk = Credential::parse_ccs(cred)
        .unwrap()
        .verifying_key()
        .unwrap();
    group_oscore::group::Member::new(sid, group_oscore::group::Credential::new(cred, vk).unwrap())
}

/// A CoAP request to protect in tests.
pub fn test_request() -> coap_lite::Packet {
    let mut p = coap_lite::Packet::new();
    p.header.code = coap_lite::MessageClass::Request(coap_lite::RequestType::Get);
    p.header.message_id = 7;
    p.set_token(vec![1, 2]);
    p.add_option(coap_lite::CoapOption::UriPath, b"temp".to_vec());
    p.payload = b"forward secrecy".to_vec();
    p
}
