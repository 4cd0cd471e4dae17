//! The client's configuration file (TOML), as the `ace-client` command
//! reads it and as a scenario runner writes it for client processes.
//!
//! ```toml
//! name = "sensor-1"
//! kdc = "127.0.0.1:5683"              # the KDC's address
//! # kdc_audience = "coap://kdc.example"   # else taken from the creation hints
//! bind = "127.0.0.1:0"                # fix the port to keep control_uri reachable
//! roles = ["requester", "responder"]  # default roles of `join`
//! observe = true                      # observe /ace-group/GROUPNAME
//! control_uri = true                  # give the KDC a control_uri
//! utc_synchronized = true             # use exp (else exi) for expiry
//!
//! [identity]
//! alg = "EdDSA"                       # or "ES256"
//! # private_key = "…32 bytes hex…"    # generated when absent
//!
//! [[authorization_server]]            # pre-established OSCORE context with an AS
//! uri = "coap://127.0.0.1:5684/token"
//! sender_id = "c1"                    # the client's Sender ID (hex)
//! recipient_id = "01"                 # the client's Recipient ID (hex)
//! master_secret = "…16 bytes hex…"
//! master_salt = "9e7ca92223786340"    # optional
//! # id_context = "…"                  # optional
//! ```

use crate::config::{AsContext, ClientConfig, Identity};
use crate::error::ClientError;
use crate::state::{alg_name, parse_alg};
use ace_proto::keys::SigningKey;
use ace_proto::roles::group_oscore::{MONITOR, REQUESTER, RESPONDER};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `[identity]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityFile {
    /// `EdDSA` (default) or `ES256`.
    #[serde(default = "default_alg")]
    pub alg: String,
    /// The private key in hex; generated when absent.
    #[serde(default)]
    pub private_key: Option<String>,
}

fn default_alg() -> String {
    "EdDSA".into()
}

fn yes() -> bool {
    true
}

/// `[[authorization_server]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsFile {
    /// The token endpoint URI.
    pub uri: String,
    /// The client's Sender ID, hex.
    pub sender_id: String,
    /// The client's Recipient ID, hex.
    pub recipient_id: String,
    /// The Master Secret, hex.
    pub master_secret: String,
    /// The Master Salt, hex.
    #[serde(default)]
    pub master_salt: Option<String>,
    /// The ID Context, hex.
    #[serde(default)]
    pub id_context: Option<String>,
}

/// The configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    /// The client's name.
    pub name: String,
    /// The KDC's address.
    pub kdc: SocketAddr,
    /// The KDC's audience, if known.
    #[serde(default)]
    pub kdc_audience: Option<String>,
    /// The address to bind.
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// Default roles of `join` (names).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Observe `/ace-group/GROUPNAME`.
    #[serde(default = "yes")]
    pub observe: bool,
    /// Give the KDC a `control_uri`.
    #[serde(default = "yes")]
    pub control_uri: bool,
    /// Whether the clock is synchronized with UTC.
    #[serde(default = "yes")]
    pub utc_synchronized: bool,
    /// `[identity]`.
    pub identity: IdentityFile,
    /// `[[authorization_server]]`.
    #[serde(rename = "authorization_server")]
    pub authorization_servers: Vec<AsFile>,
}

/// Parses role names (`requester`, `responder`, `monitor`, or a number of
/// AIF bits) into AIF bits.
pub fn parse_roles(names: &[String]) -> Result<u64, ClientError> {
    let mut bits = 0;
    for name in names.iter().flat_map(|n| n.split([',', '+'])) {
        bits |= match name.trim().to_ascii_lowercase().as_str() {
            "requester" => REQUESTER,
            "responder" => RESPONDER,
            "monitor" => MONITOR,
            "" => 0,
            other => other.parse::<u64>().map_err(|_| {
                ClientError::Config(format!(
                    "unknown role {other:?} (requester, responder, monitor, or AIF bits)"
                ))
            })?,
        };
    }
    Ok(bits)
}

fn hex_field(what: &str, text: &str) -> Result<Vec<u8>, ClientError> {
    hex::decode(text.trim()).map_err(|e| ClientError::Config(format!("{what}: {e}")))
}

impl ClientFile {
    /// Parses TOML; errors carry line and column.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        toml::from_str(text).map_err(|e| ClientError::Config(e.to_string()))
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The configuration (an identity is generated when the file has no
    /// private key).
    pub fn config(&self) -> Result<ClientConfig, ClientError> {
        let alg = parse_alg(&self.identity.alg)?;
        let identity = match &self.identity.private_key {
            Some(hex_key) => Identity::from_key(
                SigningKey::from_bytes(alg, &hex_field("identity.private_key", hex_key)?)
                    .map_err(|e| ClientError::Config(format!("identity.private_key: {e}")))?,
                &self.name,
            ),
            None => Identity::generate(alg, &self.name),
        };
        let mut servers = Vec::new();
        for (i, a) in self.authorization_servers.iter().enumerate() {
            let field = |f: &str| format!("authorization_server[{i}].{f}");
            servers.push(AsContext {
                uri: a.uri.clone(),
                sender_id: hex_field(&field("sender_id"), &a.sender_id)?,
                recipient_id: hex_field(&field("recipient_id"), &a.recipient_id)?,
                master_secret: hex_field(&field("master_secret"), &a.master_secret)?.into(),
                master_salt: a
                    .master_salt
                    .as_deref()
                    .map(|s| hex_field(&field("master_salt"), s))
                    .transpose()?
                    .unwrap_or_default(),
                id_context: a
                    .id_context
                    .as_deref()
                    .map(|s| hex_field(&field("id_context"), s))
                    .transpose()?,
            });
        }
        let mut servers = servers.into_iter();
        let first = servers.next().ok_or_else(|| {
            ClientError::Config("at least one [[authorization_server]] is needed".into())
        })?;
        let mut config = ClientConfig::new(&self.name, identity, first, self.kdc);
        config.authorization_servers.extend(servers);
        config.kdc_audience = self.kdc_audience.clone();
        if let Some(bind) = self.bind {
            config.bind = bind;
        }
        let roles = parse_roles(&self.roles)?;
        config.roles = (roles != 0).then_some(roles);
        config.observe = self.observe;
        config.control_uri = self.control_uri;
        config.utc_synchronized = self.utc_synchronized;
        Ok(config)
    }

    /// The file describing `config` (with its private key).
    pub fn of(config: &ClientConfig) -> Self {
        Self {
            name: config.name.clone(),
            kdc: config.kdc,
            kdc_audience: config.kdc_audience.clone(),
            bind: Some(config.bind),
            roles: config
                .roles
                .map(|r| {
                    ace_proto::roles::group_oscore::names(r)
                        .split('+')
                        .map(str::to_ascii_lowercase)
                        .collect()
                })
                .unwrap_or_default(),
            observe: config.observe,
            control_uri: config.control_uri,
            utc_synchronized: config.utc_synchronized,
            identity: IdentityFile {
                alg: alg_name(config.identity.algorithm()).to_string(),
                private_key: Some(hex::encode(config.identity.key().to_bytes())),
            },
            authorization_servers: config
                .authorization_servers
                .iter()
                .map(|a| AsFile {
                    uri: a.uri.clone(),
                    sender_id: hex::encode(&a.sender_id),
                    recipient_id: hex::encode(&a.recipient_id),
                    master_secret: hex::encode(&*a.master_secret),
                    master_salt: Some(hex::encode(&a.master_salt)),
                    id_context: a.id_context.as_ref().map(hex::encode),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name = "sensor-1"
kdc = "127.0.0.1:5683"
roles = ["requester", "responder"]

[identity]
alg = "EdDSA"

[[authorization_server]]
uri = "coap://127.0.0.1:5684/token"
sender_id = "c1"
recipient_id = "01"
master_secret = "00112233445566778899aabbccddeeff"
"#;

    #[test]
    fn example_parses_and_round_trips() {
        let file = ClientFile::parse(EXAMPLE).unwrap();
        let config = file.config().unwrap();
        assert_eq!(config.roles, Some(REQUESTER | RESPONDER));
        assert_eq!(config.authorization_servers[0].sender_id, vec![0xc1]);
        assert!(config.observe && config.control_uri);
        let again = ClientFile::parse(&ClientFile::of(&config).to_toml()).unwrap();
        let config2 = again.config().unwrap();
        assert_eq!(
            config2.identity.credential(),
            config.identity.credential(),
            "the private key is kept"
        );
        assert_eq!(config2.roles, config.roles);
    }

    #[test]
    fn errors_name_the_line_or_field() {
        let e = ClientFile::parse("name = 1\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let bad = EXAMPLE.replace("\"c1\"", "\"zz\"");
        let e = ClientFile::parse(&bad)
            .unwrap()
            .config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("authorization_server[0].sender_id"), "{e}");
        assert!(parse_roles(&["boss".into()]).is_err());
        assert_eq!(parse_roles(&["requester+monitor".into()]).unwrap(), 10);
    }
}
