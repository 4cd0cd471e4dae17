//! Serde helpers: byte strings as lower-case hex in the state file and in
//! exported keying material.

use serde::{Deserialize, Deserializer, Serializer};

/// Serializes bytes as hex.
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// Deserializes hex into bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    hex::decode(text.trim()).map_err(serde::de::Error::custom)
}

/// The same for optional byte strings (`null` when absent).
pub mod opt {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes optional bytes as hex or null.
    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes optional hex.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| hex::decode(t.trim()).map_err(serde::de::Error::custom))
            .transpose()
    }
}
