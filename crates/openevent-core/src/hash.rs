//! Content hashes: SHA-256 (hex) over RFC 8785 canonical JSON (sorted keys, no insignificant
//! whitespace, UTF-8). Hashed payloads carry no floats whose arithmetic could drift: money is in
//! integer rappen, confidences are whole per-mille values rendered once.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Canonical JSON text of a value.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> String {
    // Serialising our own typed values cannot fail: no maps with non-string keys, no foreign
    // Serialize impls that error.
    serde_jcs::to_string(value).expect("canonical JSON of an in-memory value")
}

/// SHA-256 hex of the canonical JSON of a value.
pub fn canonical_hash<T: Serialize + ?Sized>(value: &T) -> String {
    sha256_hex(canonical_json(value).as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_order_and_whitespace_do_not_matter() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b": 1, "a": [1, 2]}"#).unwrap();
        let b = json!({"a": [1,2], "b": 1});
        assert_eq!(canonical_json(&a), r#"{"a":[1,2],"b":1}"#);
        assert_eq!(canonical_hash(&a), canonical_hash(&b));
    }

    #[test]
    fn known_digest() {
        // sha256("{}") — a fixed vector so an accidental change of the scheme shows up.
        assert_eq!(
            canonical_hash(&json!({})),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
