//! in-toto Statement v1, the DSSE payload cosign 3 signs: one subject (the image manifest
//! digest, with `-a` annotations), a predicate type and a predicate.
//!
//! Written in the field order of Go's `protojson` (`_type`, `subject`, `predicateType`,
//! `predicate`), as cosign writes it; read with serde, tolerating anything else in-toto allows.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::digest::digest_hex;
use crate::error::{Error, Result};

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of `cosign sign` (cosign 3, bundle format).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Upper bound on subjects read: cosign writes one.
pub const MAX_SUBJECTS: usize = 1024;

/// One subject (in-toto `ResourceDescriptor`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Subject {
    /// Optional name.
    #[serde(default)]
    pub name: Option<String>,
    /// Algorithm → lowercase hex.
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    /// Annotations (cosign: the `-a` annotations).
    #[serde(default)]
    pub annotations: Option<serde_json::Map<String, Value>>,
}

/// A parsed in-toto Statement v1.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The subjects.
    pub subjects: Vec<Subject>,
    /// The predicate type URI.
    pub predicate_type: String,
    /// The predicate (`{}` for `cosign sign`).
    pub predicate: Value,
    /// The whole Statement as JSON.
    pub json: Value,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "_type")]
    kind: String,
    subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: Option<Value>,
}

impl Statement {
    /// Parses a Statement: `_type` must be v1, at least one subject, a predicate type.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| Error::malformed("in-toto Statement", e))?;
        let raw: Raw = serde_json::from_value(json.clone())
            .map_err(|e| Error::malformed("in-toto Statement", e))?;
        if raw.kind != STATEMENT_V1 {
            return Err(Error::malformed(
                "in-toto Statement",
                format!("_type is {:?}, not {STATEMENT_V1:?}", raw.kind),
            ));
        }
        if raw.subject.is_empty() || raw.subject.len() > MAX_SUBJECTS {
            return Err(Error::malformed(
                "in-toto Statement",
                format!("{} subjects; expected 1 to {MAX_SUBJECTS}", raw.subject.len()),
            ));
        }
        if raw.predicate_type.is_empty() {
            return Err(Error::malformed("in-toto Statement", "empty predicateType"));
        }
        Ok(Self {
            subjects: raw.subject,
            predicate_type: raw.predicate_type,
            predicate: raw.predicate.unwrap_or(Value::Null),
            json,
        })
    }

    /// The subject whose digests include `digest` (`sha256:<hex>`).
    pub fn subject_for(&self, digest: &str) -> Option<&Subject> {
        let hex = digest_hex(digest).ok()?;
        self.subjects.iter().find(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    }

    /// The subjects' `sha256:` digests, for messages.
    pub fn subject_digests(&self) -> Vec<String> {
        self.subjects
            .iter()
            .filter_map(|s| s.digest.get("sha256").map(|h| format!("sha256:{h}")))
            .collect()
    }
}

/// The Statement `cosign sign` (cosign 3) writes for `digest`, byte for byte: subject digest
/// and annotations (`{}` without `-a`), the predicate type, and `predicate`.
pub fn statement_bytes(
    digest: &str,
    predicate_type: &str,
    predicate: &Value,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let hex = digest_hex(digest)?;
    let mut s = String::from("{\"_type\":");
    s.push_str(&json_text(STATEMENT_V1));
    s.push_str(",\"subject\":[{\"digest\":{\"sha256\":\"");
    s.push_str(hex);
    s.push_str("\"},\"annotations\":");
    s.push_str(&json_text(annotations));
    s.push_str("}],\"predicateType\":");
    s.push_str(&json_text(predicate_type));
    s.push_str(",\"predicate\":");
    s.push_str(&json_text(predicate));
    s.push('}');
    Ok(s.into_bytes())
}

/// serde_json text of a value that cannot fail to serialise (strings, string maps, JSON).
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn cosign_sign_statement() {
        let bytes =
            statement_bytes(D, COSIGN_SIGN_PREDICATE, &serde_json::json!({}), &BTreeMap::new())
                .unwrap();
        expect![[r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#]]
        .assert_eq(std::str::from_utf8(&bytes).unwrap());
        let parsed = Statement::parse(&bytes).unwrap();
        assert_eq!(parsed.predicate_type, COSIGN_SIGN_PREDICATE);
        assert!(parsed.subject_for(D).is_some());
        assert!(parsed.subject_for(&D.replace("441", "442")).is_none());
        assert_eq!(parsed.subject_digests(), vec![D.to_owned()]);
    }

    #[test]
    fn bad_statements() {
        for (bad, why) in [
            (&b"{"[..], "EOF"),
            (br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"digest":{}}],"predicateType":"x"}"#, "_type"),
            (br#"{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x"}"#, "0 subjects"),
            (br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":""}"#, "empty predicateType"),
            (br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":1}}],"predicateType":"x"}"#, "invalid type"),
        ] {
            let err = Statement::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("malformed in-toto Statement") && err.contains(why), "{err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Statement::parse(&bytes);
        }

        #[test]
        fn written_statements_parse_back(
            hex in "[0-9a-f]{64}",
            predicate_type in "[ -~]{1,40}",
            annotations in proptest::collection::btree_map("[ -~]{0,10}", "[ -~\u{e9}\u{1f600}]{0,10}", 0..4),
        ) {
            let digest = format!("sha256:{hex}");
            let bytes = statement_bytes(&digest, &predicate_type, &serde_json::json!({"a": [1]}), &annotations).unwrap();
            let parsed = Statement::parse(&bytes).unwrap();
            proptest::prop_assert_eq!(&parsed.predicate_type, &predicate_type);
            let subject = parsed.subject_for(&digest).unwrap();
            let got: BTreeMap<String, String> = subject.annotations.clone().unwrap_or_default()
                .into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())).collect();
            proptest::prop_assert_eq!(got, annotations);
        }
    }
}
