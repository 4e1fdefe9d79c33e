//! Cosign's "simple signing" payload: writing it byte-for-byte as cosign does, and parsing it
//! strictly (as containers/image does) for verification.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};

/// The constant `critical.type` of a cosign container image signature.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Writes the payload exactly as cosign (Go's `encoding/json` on sigstore's
/// `SimpleContainerImage`) does: compact, keys in struct order, `optional` `null` when there are
/// no annotations, else the annotations with keys sorted (Go sorts map keys), and Go's HTML-safe
/// string escaping (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).
pub fn payload_bytes(
    docker_reference: &str,
    manifest_digest: &str,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str("{\"critical\":{\"identity\":{\"docker-reference\":");
    go_string(&mut out, docker_reference);
    out.push_str("},\"image\":{\"docker-manifest-digest\":");
    go_string(&mut out, manifest_digest);
    out.push_str("},\"type\":");
    go_string(&mut out, SIGNATURE_TYPE);
    out.push_str("},\"optional\":");
    if annotations.is_empty() {
        out.push_str("null");
    } else {
        out.push('{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_string(&mut out, k);
            out.push(':');
            go_string(&mut out, v);
        }
        out.push('}');
    }
    out.push('}');
    out.into_bytes()
}

/// Appends `s` as a JSON string escaped like Go's `encoding/json` (with HTML escaping on).
fn go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A parsed payload: the fields verification needs, and the whole JSON value for output.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: String,
    /// `critical.type`.
    pub signature_type: String,
    /// `optional`: `None` for `null`.
    pub optional: Option<serde_json::Map<String, Value>>,
    /// The whole payload, for cosign-style JSON output.
    pub json: Value,
}

impl Payload {
    /// Parses a payload, rejecting anything containers/image would reject: the top level must
    /// have exactly `critical` and `optional`; `critical` exactly `identity`, `image`, `type`;
    /// those exactly their one string field. The type is *not* checked here (see
    /// [`Payload::check_type`]) so verification can report it separately.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |m: &str| Error::malformed("signature payload", m);
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed("signature payload", e))?;
        let top = exact_object(&json, &["critical", "optional"]).ok_or_else(|| {
            bad("the top level must be an object with exactly `critical` and `optional`")
        })?;
        let critical = exact_object(&top["critical"], &["identity", "image", "type"])
            .ok_or_else(|| bad("`critical` must have exactly `identity`, `image` and `type`"))?;
        let string_field = |v: &Value, key: &str| -> Result<String> {
            exact_object(v, &[key]).and_then(|o| o[key].as_str().map(str::to_owned)).ok_or_else(
                || Error::malformed("signature payload", format!("expected {{\"{key}\": string}}")),
            )
        };
        let docker_reference = string_field(&critical["identity"], "docker-reference")?;
        let manifest_digest = string_field(&critical["image"], "docker-manifest-digest")?;
        let signature_type = critical["type"]
            .as_str()
            .ok_or_else(|| bad("`critical.type` must be a string"))?
            .to_owned();
        let optional = match &top["optional"] {
            Value::Null => None,
            Value::Object(map) => Some(map.clone()),
            _ => return Err(bad("`optional` must be null or an object")),
        };
        Ok(Self { docker_reference, manifest_digest, signature_type, optional, json })
    }

    /// Checks `critical.type` is cosign's constant.
    pub fn check_type(&self) -> bool {
        self.signature_type == SIGNATURE_TYPE
    }

    /// The string annotation `key` in `optional`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.optional.as_ref()?.get(key)?.as_str()
    }
}

/// The object's map when `v` is an object with exactly `keys`.
fn exact_object<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a serde_json::Map<String, Value>> {
    let map = v.as_object()?;
    (map.len() == keys.len() && keys.iter().all(|k| map.contains_key(*k))).then_some(map)
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn payload_without_annotations() {
        let bytes = payload_bytes("127.0.0.1:5000/test/img", DIGEST, &BTreeMap::new());
        expect![[r#"{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/test/img"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature"},"optional":null}"#]]
        .assert_eq(std::str::from_utf8(&bytes).unwrap());
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.docker_reference, "127.0.0.1:5000/test/img");
        assert_eq!(p.manifest_digest, DIGEST);
        assert!(p.check_type());
        assert_eq!(p.optional, None);
    }

    #[test]
    fn payload_with_annotations_escapes_like_go() {
        let ann = BTreeMap::from([
            ("z".to_owned(), "last".to_owned()),
            ("env".to_owned(), "prod <&> \"q\"\n\u{2028}".to_owned()),
        ]);
        let bytes = payload_bytes("example.com/a", DIGEST, &ann);
        expect![[r#"{"critical":{"identity":{"docker-reference":"example.com/a"},"image":{"docker-manifest-digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},"type":"cosign container image signature"},"optional":{"env":"prod \u003c\u0026\u003e \"q\"\n\u2028","z":"last"}}"#]]
        .assert_eq(std::str::from_utf8(&bytes).unwrap());
        let p = Payload::parse(&bytes).unwrap();
        assert_eq!(p.annotation("env"), Some("prod <&> \"q\"\n\u{2028}"));
        assert_eq!(p.annotation("z"), Some("last"));
    }

    #[test]
    fn strict_parsing() {
        let cases = [
            "not json",
            "[]",
            r#"{"critical":{}}"#,
            r#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"d"},"type":"t"},"optional":null,"extra":1}"#,
            r#"{"critical":{"identity":{"docker-reference":1},"image":{"docker-manifest-digest":"d"},"type":"t"},"optional":null}"#,
            r#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"d","x":1},"type":"t"},"optional":null}"#,
            r#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"d"},"type":"t"},"optional":[]}"#,
        ];
        for case in cases {
            assert!(
                matches!(Payload::parse(case.as_bytes()), Err(Error::Malformed { .. })),
                "{case}"
            );
        }
        let other_type = r#"{"critical":{"identity":{"docker-reference":"a"},"image":{"docker-manifest-digest":"d"},"type":"bogus"},"optional":{"creator":"x"}}"#;
        let p = Payload::parse(other_type.as_bytes()).unwrap();
        assert!(!p.check_type());
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Payload::parse(&bytes);
        }

        #[test]
        fn written_payloads_round_trip(
            reference in "\\PC{0,40}",
            ann in proptest::collection::btree_map("\\PC{0,10}", "\\PC{0,20}", 0..4),
        ) {
            let bytes = payload_bytes(&reference, DIGEST, &ann);
            let p = Payload::parse(&bytes).unwrap();
            proptest::prop_assert_eq!(&p.docker_reference, &reference);
            for (k, v) in &ann {
                proptest::prop_assert_eq!(p.annotation(k), Some(v.as_str()));
            }
            // serde_json agrees with our Go-style writer on the meaning.
            let reparsed: Value = serde_json::from_slice(&bytes).unwrap();
            proptest::prop_assert_eq!(reparsed, p.json);
        }
    }
}
