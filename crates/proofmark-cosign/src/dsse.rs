//! DSSE (Dead Simple Signing Envelope): the pre-authentication encoding that is signed, and the
//! envelope as the Sigstore bundle carries it (`payload` and `sig` base64, `keyid` optional).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The payload type of an in-toto Statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding, the bytes a DSSE signature covers:
/// `DSSEv1 <len(type)> <type> <len(payload)> <payload>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out =
        format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Base64 of the signature (DER for ECDSA).
    pub sig: String,
    /// The key hint, when the signer gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyid: Option<String>,
}

/// A DSSE envelope in the protobuf-JSON form of the Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Base64 of the payload.
    pub payload: String,
    /// What the payload is ([`INTOTO_PAYLOAD_TYPE`]).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures (cosign writes one).
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// An envelope with one signature.
    pub fn new(payload_type: &str, payload: &[u8], signature: &[u8]) -> Self {
        Self {
            payload: STANDARD.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: vec![EnvelopeSignature { sig: STANDARD.encode(signature), keyid: None }],
        }
    }

    /// The decoded payload.
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        STANDARD
            .decode(self.payload.trim())
            .map_err(|e| Error::malformed("DSSE envelope payload", format!("not base64: {e}")))
    }

    /// The decoded signatures (an entry that is not base64 is an error).
    pub fn signature_bytes(&self) -> Result<Vec<Vec<u8>>> {
        self.signatures
            .iter()
            .map(|s| {
                STANDARD.decode(s.sig.trim()).map_err(|e| {
                    Error::malformed("DSSE envelope signature", format!("not base64: {e}"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        // The example of the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }
}
