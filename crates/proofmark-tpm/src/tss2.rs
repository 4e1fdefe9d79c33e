//! TSS2 PRIVATE KEY files: the `TPMKey` ASN.1 structure that tpm2-openssl, tpm2-tss-engine,
//! `tpm2_encodeobject` and openssl_tpm2_engine exchange TPM keys in.
//!
//! ```text
//! TPMKey ::= SEQUENCE {
//!     type        OBJECT IDENTIFIER,              -- 2.23.133.10.1.3: a loadable key
//!     emptyAuth   [0] EXPLICIT BOOLEAN OPTIONAL,  -- TRUE: no auth value; absent or FALSE: ask
//!     policy      [1] EXPLICIT SEQUENCE OF TPMPolicy OPTIONAL,
//!     secret      [2] EXPLICIT OCTET STRING OPTIONAL,
//!     authPolicy  [3] EXPLICIT SEQUENCE OF TPMAuthPolicy OPTIONAL,
//!     description [4] EXPLICIT UTF8String OPTIONAL,
//!     rsaParent   [5] EXPLICIT BOOLEAN OPTIONAL,  -- TRUE: the owner parent is the RSA primary
//!     parent      INTEGER,                        -- 0x40000001 (owner) or a persistent 0x81xxxxxx
//!     pubkey      OCTET STRING,                   -- TPM2B_PUBLIC, marshalled with its size
//!     privkey     OCTET STRING }                  -- TPM2B_PRIVATE, marshalled with its size
//! ```
//!
//! (draft-bottomley-tpm2-keys; tpm2-openssl's `tpm2-provider-pkey.c` writes the subset `type`,
//! `emptyAuth`, `parent`, `pubkey`, `privkey`.) A parent of `0x40000001` means the key is a child
//! of the primary key that tpm2-openssl derives from the owner hierarchy:
//! [`ParentTemplate::Tss2EccP256`](crate::ParentTemplate::Tss2EccP256) (the TCG storage template
//! with an *empty* `unique`), or with `rsaParent` the RSA-2048 one. `0` is read as the owner, as
//! tpm2-openssl does.
//!
//! Keys with a policy (`[1]`, `[3]`) or an imported secret (`[2]`) are refused: proofmark signs
//! with password authorisation only. Readers here are lenient where OpenSSL is (tpm2-openssl
//! writes `TRUE` as `0x01`, which DER forbids) and strict elsewhere (trailing bytes, a TPM2B
//! whose size prefix disagrees, a negative or oversized parent).

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode as _, Encode as _, Reader as _, SliceReader, Tag, TagNumber, Tagged as _};

/// The PEM label of TSS2 key files.
pub(crate) const PEM_LABEL: &str = "TSS2 PRIVATE KEY";

/// `id-loadablekey`: a key wrapped by its parent, loaded with `TPM2_Load`.
pub(crate) const LOADABLE_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.10.1.3");
/// `id-importablekey`: a key wrapped for import (`TPM2_Import`), which we do not do.
const IMPORTABLE_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.10.1.4");
/// `id-sealedkey`: sealed data, not a key.
const SEALED_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.133.10.1.5");

/// `TPM_RH_OWNER`: the key's parent is the owner hierarchy's primary.
pub const OWNER: u32 = 0x4000_0001;

/// One parsed `TPMKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tss2Key {
    /// The key has an empty auth value (`emptyAuth TRUE`); otherwise the user supplies one.
    pub empty_auth: bool,
    /// `rsaParent TRUE`: an owner-hierarchy parent is the RSA-2048 primary, not ECC P-256.
    pub rsa_parent: bool,
    /// The parent handle: [`OWNER`] or a persistent handle.
    pub parent: u32,
    /// The `description` field, if any.
    pub description: Option<String>,
    /// The `TPM2B_PUBLIC` bytes (with their size prefix).
    pub public: Vec<u8>,
    /// The `TPM2B_PRIVATE` bytes (with their size prefix).
    pub private: Vec<u8>,
}

/// What is wrong with a would-be TSS2 key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tss2Error {
    /// Not PEM with the `TSS2 PRIVATE KEY` label.
    #[error("not a TSS2 PRIVATE KEY PEM file ({0})")]
    Pem(String),
    /// PEM, but with another label.
    #[error("a `{0}` PEM file, not a TSS2 PRIVATE KEY")]
    Label(String),
    /// The ASN.1 does not parse as a `TPMKey`.
    #[error("malformed TPMKey ASN.1: {0}")]
    Asn1(String),
    /// A `TPMKey` of another kind (importable key, sealed data, …).
    #[error("a TSS2 key of type {0}, not a loadable key (2.23.133.10.1.3)")]
    Type(String),
    /// A `TPMKey` feature we do not support.
    #[error("unsupported TSS2 key: {0}")]
    Unsupported(&'static str),
    /// The parent is not one we can load under.
    #[error(
        "parent handle {0:#010x} is neither the owner hierarchy (0x40000001) nor a persistent \
         key (0x81xxxxxx)"
    )]
    Parent(u64),
}

fn asn1(e: der::Error) -> Tss2Error {
    Tss2Error::Asn1(e.to_string())
}

/// Whether `bytes` look like a DER `TPMKey`: a SEQUENCE whose first element is one of the TSS2
/// key-type OIDs.
#[must_use]
pub(crate) fn is_der(bytes: &[u8]) -> bool {
    let Ok(outer) = AnyRef::from_der(bytes) else { return false };
    outer.tag() == Tag::Sequence
        && SliceReader::new(outer.value())
            .and_then(|mut seq| ObjectIdentifier::decode(&mut seq))
            .is_ok_and(|oid| is_tss2_oid(&oid))
}

fn is_tss2_oid(oid: &ObjectIdentifier) -> bool {
    [LOADABLE_KEY, IMPORTABLE_KEY, SEALED_KEY].contains(oid)
}

/// Reads an explicitly tagged BOOLEAN leniently: OpenSSL-based writers emit `0x01` for TRUE.
fn lenient_bool(inner: &[u8]) -> Result<bool, Tss2Error> {
    let any = AnyRef::from_der(inner).map_err(asn1)?;
    if any.tag() != Tag::Boolean {
        return Err(Tss2Error::Asn1(format!("expected a BOOLEAN, found {}", any.tag())));
    }
    match any.value() {
        [b] => Ok(*b != 0),
        other => Err(Tss2Error::Asn1(format!("a {}-byte BOOLEAN", other.len()))),
    }
}

impl Tss2Key {
    /// Parses the DER `TPMKey`.
    pub fn from_der(bytes: &[u8]) -> Result<Self, Tss2Error> {
        let outer = AnyRef::from_der(bytes).map_err(asn1)?;
        if outer.tag() != Tag::Sequence {
            return Err(Tss2Error::Asn1(format!("expected a SEQUENCE, found {}", outer.tag())));
        }
        let mut seq = SliceReader::new(outer.value()).map_err(asn1)?;
        let key = Self::decode_fields(&mut seq)?;
        seq.finish(key).map_err(asn1)
    }

    fn decode_fields(seq: &mut SliceReader<'_>) -> Result<Self, Tss2Error> {
        let oid = ObjectIdentifier::decode(seq).map_err(asn1)?;
        if oid != LOADABLE_KEY {
            return Err(Tss2Error::Type(oid.to_string()));
        }
        let (mut empty_auth, mut rsa_parent, mut description) = (false, false, None);
        let mut last = None;
        while seq.peek_tag().map_err(asn1)?.is_context_specific() {
            let field = AnyRef::decode(seq).map_err(asn1)?;
            let number = field.tag().number();
            // DER orders the optional fields by tag and never repeats one.
            if last.is_some_and(|l| number <= l) {
                return Err(Tss2Error::Asn1(format!("field [{number}] out of order")));
            }
            last = Some(number);
            if !field.tag().is_constructed() {
                return Err(Tss2Error::Asn1(format!("field [{number}] is not EXPLICIT")));
            }
            match number.value() {
                0 => empty_auth = lenient_bool(field.value())?,
                1 | 3 => return Err(Tss2Error::Unsupported("keys with a TPM policy")),
                2 => return Err(Tss2Error::Unsupported("keys with an import secret")),
                4 => {
                    let text = der::asn1::Utf8StringRef::from_der(field.value()).map_err(asn1)?;
                    description = Some(text.as_str().to_owned());
                }
                5 => rsa_parent = lenient_bool(field.value())?,
                _ => {
                    return Err(Tss2Error::Asn1(format!("unknown field [{number}]")));
                }
            }
        }
        let parent = UintRef::decode(seq).map_err(asn1)?;
        let parent = match parent.as_bytes() {
            bytes if bytes.len() <= 4 => {
                bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
            }
            bytes => {
                let wide = bytes.iter().take(8).fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                return Err(Tss2Error::Parent(wide));
            }
        };
        let parent = match parent {
            0 => OWNER,
            p if p == OWNER || p >> 24 == 0x81 => p,
            p => return Err(Tss2Error::Parent(u64::from(p))),
        };
        let public = OctetStringRef::decode(seq).map_err(asn1)?.as_bytes().to_vec();
        let private = OctetStringRef::decode(seq).map_err(asn1)?.as_bytes().to_vec();
        Ok(Self { empty_auth, rsa_parent, parent, description, public, private })
    }

    /// Parses a `-----BEGIN TSS2 PRIVATE KEY-----` PEM file.
    pub fn from_pem(text: &[u8]) -> Result<Self, Tss2Error> {
        let text = std::str::from_utf8(text).map_err(|e| Tss2Error::Pem(e.to_string()))?;
        let (label, der) = der::pem::decode_vec(text.trim().as_bytes())
            .map_err(|e| Tss2Error::Pem(e.to_string()))?;
        if label != PEM_LABEL {
            return Err(Tss2Error::Label(label.to_owned()));
        }
        Self::from_der(&der)
    }

    /// The DER `TPMKey`.
    pub fn to_der(&self) -> Result<Vec<u8>, Tss2Error> {
        let mut body = LOADABLE_KEY.to_der().map_err(asn1)?;
        let explicit = |number: u8, inner: Vec<u8>| -> Result<Vec<u8>, Tss2Error> {
            let tag = Tag::ContextSpecific { constructed: true, number: TagNumber::new(number) };
            AnyRef::new(tag, &inner).and_then(|a| a.to_der()).map_err(asn1)
        };
        // Always written, FALSE too, as tpm2-openssl does: tpm2-openssl 1.1.1 does not ask for
        // the auth value of a key whose `emptyAuth` is absent.
        body.extend(explicit(0, self.empty_auth.to_der().map_err(asn1)?)?);
        if let Some(text) = &self.description {
            let utf8 = der::asn1::Utf8StringRef::new(text).map_err(asn1)?;
            body.extend(explicit(4, utf8.to_der().map_err(asn1)?)?);
        }
        if self.rsa_parent {
            body.extend(explicit(5, true.to_der().map_err(asn1)?)?);
        }
        let parent = self.parent.to_be_bytes();
        body.extend(UintRef::new(&parent).and_then(|u| u.to_der()).map_err(asn1)?);
        for octets in [&self.public, &self.private] {
            body.extend(OctetStringRef::new(octets).and_then(|o| o.to_der()).map_err(asn1)?);
        }
        AnyRef::new(Tag::Sequence, &body).and_then(|a| a.to_der()).map_err(asn1)
    }

    /// The PEM text, with `\n` line endings.
    pub fn to_pem(&self) -> Result<String, Tss2Error> {
        der::pem::encode_string(PEM_LABEL, der::pem::LineEnding::LF, &self.to_der()?)
            .map_err(|e| Tss2Error::Pem(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A key tpm2-openssl 1.1.1 wrote (`openssl genpkey -provider tpm2 -algorithm EC
    /// -pkeyopt group:P-256`), on a throwaway swtpm.
    const OPENSSL_EC: &str = "-----BEGIN TSS2 PRIVATE KEY-----
MIHwBgZngQUKAQOgAwEBAQIEQAAAAQRYAFYAIwALAAYAcgAAABAAEAADABAAIPs9
4HNZu45vzaGPW+UJMPeIcJl/YfuIjFob9f+4fhkjACDCauUi+FNIZChS71BZgB2S
zfEgrRvdJtpbBtvDq0ME9gSBgAB+ACBP/UtRAh2NkDRfdYCo4lMcEWP2QmOHMcJl
HU5D5YV1QwAQTyNrYW7Lm4iR+a1hgnlojEoJJZwtZ/MyG849O30bLHmf+Cez3xam
4D1LPT+9fC15r7YNPHvhgM/AEt/FfNdHLu6bNScP5SxbRkFkkFkn6ZO99WeArhEB
8meT
-----END TSS2 PRIVATE KEY-----
";

    #[test]
    fn reads_what_tpm2_openssl_writes() {
        let key = Tss2Key::from_pem(OPENSSL_EC.as_bytes()).unwrap();
        assert!(key.empty_auth && !key.rsa_parent);
        assert_eq!(key.parent, OWNER);
        assert_eq!((key.public.len(), key.private.len()), (88, 128));
        // The public part is a TPM2B_PUBLIC of an ECC (0x0023) key.
        assert_eq!(&key.public[..4], &[0x00, 0x56, 0x00, 0x23]);
        let der = der::pem::decode_vec(OPENSSL_EC.as_bytes()).unwrap().1;
        assert!(is_der(&der));
        // We write TRUE the DER way (0xff) where tpm2-openssl wrote 0x01; the rest is identical.
        let ours = key.to_der().unwrap();
        assert_eq!(ours.len(), der.len());
        let differ: Vec<usize> = (0..der.len()).filter(|&i| ours[i] != der[i]).collect();
        assert_eq!(differ, vec![15]);
        assert_eq!((der[15], ours[15]), (0x01, 0xff));
    }

    #[test]
    fn foreign_and_unsupported_input_is_named() {
        let err = |bytes: &[u8]| Tss2Key::from_pem(bytes).unwrap_err().to_string();
        let public_pem = "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n";
        assert_eq!(err(public_pem.as_bytes()), "a `PUBLIC KEY` PEM file, not a TSS2 PRIVATE KEY");
        assert!(err(b"{\"format\":1}").starts_with("not a TSS2 PRIVATE KEY PEM file"));
        let truncated = &OPENSSL_EC[..OPENSSL_EC.len() / 2];
        assert!(err(truncated.as_bytes()).starts_with("not a TSS2 PRIVATE KEY PEM file"));
        let mut key = Tss2Key::from_pem(OPENSSL_EC.as_bytes()).unwrap();
        key.parent = 0x4000_000b;
        let der = key.to_der().unwrap();
        assert_eq!(
            Tss2Key::from_der(&der).unwrap_err().to_string(),
            "parent handle 0x4000000b is neither the owner hierarchy (0x40000001) nor a \
             persistent key (0x81xxxxxx)"
        );
        // An importable key: same shape, another type.
        let der = Tss2Key::from_pem(OPENSSL_EC.as_bytes()).unwrap().to_der().unwrap();
        let mut importable = der.clone();
        let at = der.windows(3).position(|w| w == [0x0a, 0x01, 0x03]).unwrap();
        importable[at + 2] = 0x04;
        assert_eq!(
            Tss2Key::from_der(&importable).unwrap_err().to_string(),
            "a TSS2 key of type 2.23.133.10.1.4, not a loadable key (2.23.133.10.1.3)"
        );
        let mut longer = der;
        longer.push(0);
        assert!(matches!(Tss2Key::from_der(&longer), Err(Tss2Error::Asn1(_))));
    }

    fn arb_key() -> impl Strategy<Value = Tss2Key> {
        (
            any::<bool>(),
            any::<bool>(),
            prop_oneof![Just(OWNER), (0x8100_0000u32..=0x81ff_ffff)],
            proptest::option::of("[ -~]{0,40}"),
            proptest::collection::vec(any::<u8>(), 0..400),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(empty_auth, rsa_parent, parent, description, public, private)| {
                Tss2Key { empty_auth, rsa_parent, parent, description, public, private }
            })
    }

    proptest! {
        #[test]
        fn der_and_pem_round_trip(key in arb_key()) {
            let der = key.to_der().unwrap();
            prop_assert!(is_der(&der));
            prop_assert_eq!(Tss2Key::from_der(&der).unwrap(), key.clone());
            let pem = key.to_pem().unwrap();
            prop_assert!(pem.starts_with("-----BEGIN TSS2 PRIVATE KEY-----\n"));
            prop_assert_eq!(Tss2Key::from_pem(pem.as_bytes()).unwrap(), key);
        }

        #[test]
        fn truncations_are_errors_never_panics(key in arb_key(), cut in any::<prop::sample::Index>()) {
            let der = key.to_der().unwrap();
            let short = &der[..cut.index(der.len())];
            prop_assert!(Tss2Key::from_der(short).is_err());
            let pem = key.to_pem().unwrap();
            // Cutting only the final newline leaves a complete file.
            let short = &pem.as_bytes()[..cut.index(pem.trim_end().len())];
            prop_assert!(Tss2Key::from_pem(short).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Tss2Key::from_der(&bytes);
            let _ = Tss2Key::from_pem(&bytes);
            let _ = is_der(&bytes);
        }

        #[test]
        fn flipped_bytes_never_panic(key in arb_key(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut der = key.to_der().unwrap();
            let i = at.index(der.len());
            der[i] ^= 1 << bit;
            let _ = Tss2Key::from_der(&der);
        }
    }
}
