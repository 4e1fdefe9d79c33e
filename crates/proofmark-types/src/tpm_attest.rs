//! TPM 2.0 key attestation checked without a TPM: parsers for `TPMS_ATTEST` and `TPMT_PUBLIC`,
//! TPM object names, the verifier's side of credential activation (`TPM2_MakeCredential` for an
//! RSA endorsement key), and the endorsement-key certificate chain.
//!
//! Structures follow *TPM 2.0 Library, Part 2: Structures* (big-endian, `TPM2B_*` with a `u16`
//! size prefix). Every parser here takes untrusted bytes: it returns an error, never panics, and
//! rejects trailing bytes.
//!
//! ```
//! use proofmark_types::tpm_attest::{Attest, Attested, ClockInfo, TPM_GENERATED_VALUE, ST_ATTEST_CERTIFY};
//!
//! let attest = Attest {
//!     magic: TPM_GENERATED_VALUE,
//!     attest_type: ST_ATTEST_CERTIFY,
//!     qualified_signer: vec![0, 0x0b, 1, 2],
//!     extra_data: b"nonce".to_vec(),
//!     clock_info: ClockInfo { clock: 1, reset_count: 0, restart_count: 0, safe: true },
//!     firmware_version: 7,
//!     attested: Attested::Certify { name: vec![0, 0x0b, 3], qualified_name: vec![0, 0x0b, 4] },
//! };
//! let bytes = attest.to_bytes();
//! assert_eq!(Attest::parse(&bytes)?, attest);
//! # Ok::<(), proofmark_types::tpm_attest::ParseError>(())
//! ```

use std::fmt;

use sha2::Digest as _;

use crate::{EcCurve, PublicKey, Signature, SignatureAlgorithm};

/// `TPM_GENERATED_VALUE`: the magic of every `TPMS_ATTEST` the TPM makes itself. A restricted
/// signing key signs only digests of data that does not start with it, so a signature over a
/// structure with this magic proves the TPM produced it.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_CERTIFY`: the type of a `TPM2_Certify` result.
pub const ST_ATTEST_CERTIFY: u16 = 0x8017;

/// `TPM_ALG_RSA`.
pub const ALG_RSA: u16 = 0x0001;
/// `TPM_ALG_ECC`.
pub const ALG_ECC: u16 = 0x0023;
/// `TPM_ALG_NULL`.
pub const ALG_NULL: u16 = 0x0010;
const ALG_SHA256: u16 = 0x000b;
const ALG_SHA384: u16 = 0x000c;
const ALG_SHA512: u16 = 0x000d;
const ALG_ECDAA: u16 = 0x001a;
const ALG_RSAES: u16 = 0x0015;

/// `sizeof(TPMU_NAME)`: a hash algorithm and a SHA-512 digest.
const MAX_NAME: usize = 2 + 64;
/// `sizeof(TPMT_HA)`, the largest `TPM2B_DATA`.
const MAX_DATA: usize = 2 + 64;
/// The largest `TPM2B_DIGEST`.
const MAX_DIGEST: usize = 64;
/// The largest RSA modulus (4096 bits) and ECC coordinate (P-521) we accept.
const MAX_RSA: usize = 512;
const MAX_ECC: usize = 66;

/// Why bytes are not the TPM structure they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended inside a field.
    #[error("{structure} is truncated: {field} needs {needed} more bytes, {left} left")]
    Truncated {
        /// The structure being read.
        structure: &'static str,
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        left: usize,
    },
    /// A `TPM2B_*` field claims more bytes than its type allows.
    #[error("{structure}: {field} is {size} bytes, more than the {max} a TPM allows")]
    TooLarge {
        /// The structure being read.
        structure: &'static str,
        /// The field.
        field: &'static str,
        /// Its claimed size.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Bytes follow the structure.
    #[error("{structure} is followed by {count} unexpected bytes")]
    Trailing {
        /// The structure.
        structure: &'static str,
        /// How many bytes follow it.
        count: usize,
    },
    /// A field holds a value this parser does not know or support.
    #[error("{structure}: unsupported {field} {value:#06x}")]
    Unsupported {
        /// The structure being read.
        structure: &'static str,
        /// The field.
        field: &'static str,
        /// The value found.
        value: u32,
    },
}

/// A cursor over untrusted big-endian bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    structure: &'static str,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8], structure: &'static str) -> Self {
        Self { bytes, structure }
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ParseError> {
        if self.bytes.len() < n {
            return Err(ParseError::Truncated {
                structure: self.structure,
                field,
                needed: n,
                left: self.bytes.len(),
            });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ParseError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ParseError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, ParseError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A `TPM2B_*`: a `u16` size, then that many bytes (at most `max`).
    fn tpm2b(&mut self, field: &'static str, max: usize) -> Result<Vec<u8>, ParseError> {
        let size = usize::from(self.u16(field)?);
        if size > max {
            return Err(ParseError::TooLarge { structure: self.structure, field, size, max });
        }
        Ok(self.take(size, field)?.to_vec())
    }

    fn unsupported(&self, field: &'static str, value: u16) -> ParseError {
        ParseError::Unsupported { structure: self.structure, field, value: u32::from(value) }
    }

    fn finish(self) -> Result<(), ParseError> {
        match self.bytes.len() {
            0 => Ok(()),
            count => Err(ParseError::Trailing { structure: self.structure, count }),
        }
    }
}

/// Appends a `TPM2B_*` (the caller keeps `body` within `u16`).
fn put_tpm2b(out: &mut Vec<u8>, body: &[u8]) {
    let len = u16::try_from(body.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body[..usize::from(len)]);
}

/// Splits a `TPM2B_*` that must cover the whole input: its body.
pub fn strip_tpm2b<'a>(bytes: &'a [u8], structure: &'static str) -> Result<&'a [u8], ParseError> {
    let mut r = Reader::new(bytes, structure);
    let size = usize::from(r.u16("size")?);
    let body = r.take(size, "body")?;
    r.finish()?;
    Ok(body)
}

/// `TPMS_CLOCK_INFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since it was last cleared.
    pub clock: u64,
    /// TPM resets since it was last cleared.
    pub reset_count: u32,
    /// TPM restarts since the last reset.
    pub restart_count: u32,
    /// Whether `clock` never went backwards.
    pub safe: bool,
}

/// The `attested` union of a `TPMS_ATTEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attested {
    /// `TPMS_CERTIFY_INFO`, of a `TPM2_Certify`.
    Certify {
        /// The certified object's name (`nameAlg || H(TPMT_PUBLIC)`).
        name: Vec<u8>,
        /// Its qualified name (folding in its parents' names).
        qualified_name: Vec<u8>,
    },
    /// Any other attestation type, kept as raw bytes.
    Other(Vec<u8>),
}

/// A `TPMS_ATTEST`: what a TPM signs when it attests something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest {
    /// [`TPM_GENERATED_VALUE`] when the TPM made it.
    pub magic: u32,
    /// The `TPM_ST_ATTEST_*` type, e.g. [`ST_ATTEST_CERTIFY`].
    pub attest_type: u16,
    /// The qualified name of the signing key.
    pub qualified_signer: Vec<u8>,
    /// The caller's qualifying data: the verifier's nonce.
    pub extra_data: Vec<u8>,
    /// The TPM's clock.
    pub clock_info: ClockInfo,
    /// The TPM's firmware version (vendor-defined).
    pub firmware_version: u64,
    /// The type-specific part.
    pub attested: Attested,
}

impl Attest {
    /// Parses a marshalled `TPMS_ATTEST` (what `tpm2_certify -o` writes and
    /// `tpm2_print -t TPMS_ATTEST` reads).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TPMS_ATTEST");
        let magic = r.u32("magic")?;
        let attest_type = r.u16("type")?;
        let qualified_signer = r.tpm2b("qualifiedSigner", MAX_NAME)?;
        let extra_data = r.tpm2b("extraData", MAX_DATA)?;
        let clock_info = ClockInfo {
            clock: r.u64("clockInfo.clock")?,
            reset_count: r.u32("clockInfo.resetCount")?,
            restart_count: r.u32("clockInfo.restartCount")?,
            safe: match r.u8("clockInfo.safe")? {
                0 => false,
                1 => true,
                other => return Err(r.unsupported("clockInfo.safe", u16::from(other))),
            },
        };
        let firmware_version = r.u64("firmwareVersion")?;
        let attested = if attest_type == ST_ATTEST_CERTIFY {
            let name = r.tpm2b("attested.certify.name", MAX_NAME)?;
            let qualified_name = r.tpm2b("attested.certify.qualifiedName", MAX_NAME)?;
            Attested::Certify { name, qualified_name }
        } else {
            let rest = r.bytes.len();
            Attested::Other(r.take(rest, "attested")?.to_vec())
        };
        r.finish()?;
        Ok(Self {
            magic,
            attest_type,
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
        })
    }

    /// Marshals the structure; [`Attest::parse`] reads it back. Oversized `TPM2B` fields are
    /// cut to 65535 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&self.magic.to_be_bytes());
        out.extend_from_slice(&self.attest_type.to_be_bytes());
        put_tpm2b(&mut out, &self.qualified_signer);
        put_tpm2b(&mut out, &self.extra_data);
        out.extend_from_slice(&self.clock_info.clock.to_be_bytes());
        out.extend_from_slice(&self.clock_info.reset_count.to_be_bytes());
        out.extend_from_slice(&self.clock_info.restart_count.to_be_bytes());
        out.push(u8::from(self.clock_info.safe));
        out.extend_from_slice(&self.firmware_version.to_be_bytes());
        match &self.attested {
            Attested::Certify { name, qualified_name } => {
                put_tpm2b(&mut out, name);
                put_tpm2b(&mut out, qualified_name);
            }
            Attested::Other(raw) => out.extend_from_slice(raw),
        }
        out
    }
}

/// `TPMA_OBJECT`: an object's attribute bits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ObjectAttributes(pub u32);

impl ObjectAttributes {
    /// `fixedTPM`: the object cannot be duplicated to another TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// `fixedParent`: the object cannot be duplicated to another parent.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// `sensitiveDataOrigin`: the TPM generated the private key (it was not imported).
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// `userWithAuth`.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// `restricted`: signs only TPM-made structures, or decrypts only TPM-made blobs.
    pub const RESTRICTED: u32 = 1 << 16;
    /// `decrypt`.
    pub const DECRYPT: u32 = 1 << 17;
    /// `sign`.
    pub const SIGN: u32 = 1 << 18;

    const NAMES: [(u32, &'static str); 13] = [
        (1 << 1, "fixedtpm"),
        (1 << 2, "stclear"),
        (1 << 4, "fixedparent"),
        (1 << 5, "sensitivedataorigin"),
        (1 << 6, "userwithauth"),
        (1 << 7, "adminwithpolicy"),
        (1 << 10, "noda"),
        (1 << 11, "encryptedduplication"),
        (1 << 16, "restricted"),
        (1 << 17, "decrypt"),
        (1 << 18, "sign"),
        (1 << 19, "x509sign"),
        (1 << 20, "firmwarelimited"),
    ];

    /// Whether every bit of `mask` is set.
    #[must_use]
    pub const fn has(self, mask: u32) -> bool {
        self.0 & mask == mask
    }
}

impl fmt::Display for ObjectAttributes {
    /// tpm2-tools' spelling: `fixedtpm|fixedparent|…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> =
            Self::NAMES.iter().filter(|(bit, _)| self.0 & bit != 0).map(|(_, n)| *n).collect();
        f.write_str(&names.join("|"))
    }
}

impl fmt::Debug for ObjectAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectAttributes({:#010x}: {self})", self.0)
    }
}

/// The key of a [`TpmPublic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmKey {
    /// An RSA key.
    Rsa {
        /// Modulus size in bits.
        bits: u16,
        /// The public exponent (0 means 65537).
        exponent: u32,
        /// The modulus, big-endian.
        modulus: Vec<u8>,
    },
    /// An ECC key.
    Ecc {
        /// `TPM_ECC_CURVE` (3: P-256, 4: P-384).
        curve: u16,
        /// The point's x coordinate.
        x: Vec<u8>,
        /// The point's y coordinate.
        y: Vec<u8>,
    },
}

/// A `TPMT_PUBLIC`: an object's public area, and the bytes it was parsed from (its name is their
/// hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmPublic {
    /// The name algorithm (`TPM_ALG_SHA256`, …).
    pub name_alg: u16,
    /// The attributes.
    pub attributes: ObjectAttributes,
    /// The authorization policy digest.
    pub auth_policy: Vec<u8>,
    /// The key's symmetric algorithm (`TPM_ALG_NULL` for a signing key).
    pub symmetric: u16,
    /// The signing or encryption scheme (`TPM_ALG_NULL` if any).
    pub scheme: u16,
    /// The scheme's hash (`TPM_ALG_NULL` if none).
    pub scheme_hash: u16,
    /// The public key.
    pub key: TpmKey,
    raw: Vec<u8>,
}

fn digest(alg: u16, data: &[u8]) -> Option<Vec<u8>> {
    match alg {
        ALG_SHA256 => Some(sha2::Sha256::digest(data).to_vec()),
        ALG_SHA384 => Some(sha2::Sha384::digest(data).to_vec()),
        ALG_SHA512 => Some(sha2::Sha512::digest(data).to_vec()),
        _ => None,
    }
}

impl TpmPublic {
    /// Parses a marshalled `TPMT_PUBLIC` of an RSA or ECC object.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes, "TPMT_PUBLIC");
        let kind = r.u16("type")?;
        if kind != ALG_RSA && kind != ALG_ECC {
            return Err(r.unsupported("type", kind));
        }
        let name_alg = r.u16("nameAlg")?;
        if name_alg != ALG_SHA256 && name_alg != ALG_SHA384 && name_alg != ALG_SHA512 {
            return Err(r.unsupported("nameAlg", name_alg));
        }
        let attributes = ObjectAttributes(r.u32("objectAttributes")?);
        let auth_policy = r.tpm2b("authPolicy", MAX_DIGEST)?;
        let symmetric = r.u16("parameters.symmetric.algorithm")?;
        if symmetric != ALG_NULL {
            r.u16("parameters.symmetric.keyBits")?;
            r.u16("parameters.symmetric.mode")?;
        }
        let scheme = r.u16("parameters.scheme")?;
        // Every scheme of a signing or decryption key names a hash, except RSAES.
        let scheme_hash = if scheme == ALG_NULL || scheme == ALG_RSAES {
            ALG_NULL
        } else {
            r.u16("parameters.scheme.hashAlg")?
        };
        if scheme == ALG_ECDAA {
            r.u16("parameters.scheme.count")?;
        }
        let key = if kind == ALG_RSA {
            let bits = r.u16("parameters.keyBits")?;
            let exponent = r.u32("parameters.exponent")?;
            let modulus = r.tpm2b("unique.rsa", MAX_RSA)?;
            TpmKey::Rsa { bits, exponent, modulus }
        } else {
            let curve = r.u16("parameters.curveID")?;
            let kdf = r.u16("parameters.kdf.scheme")?;
            if kdf != ALG_NULL {
                r.u16("parameters.kdf.hashAlg")?;
            }
            let x = r.tpm2b("unique.ecc.x", MAX_ECC)?;
            let y = r.tpm2b("unique.ecc.y", MAX_ECC)?;
            TpmKey::Ecc { curve, x, y }
        };
        r.finish()?;
        Ok(Self {
            name_alg,
            attributes,
            auth_policy,
            symmetric,
            scheme,
            scheme_hash,
            key,
            raw: bytes.to_vec(),
        })
    }

    /// Parses a `TPM2B_PUBLIC` (what `tpm2_create -u` and `tpm2_readpublic -o` write).
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Self, ParseError> {
        Self::parse(strip_tpm2b(bytes, "TPM2B_PUBLIC")?)
    }

    /// The marshalled `TPMT_PUBLIC`.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The object's TPM name: `nameAlg || H_nameAlg(TPMT_PUBLIC)`.
    #[must_use]
    pub fn name(&self) -> Vec<u8> {
        let mut name = self.name_alg.to_be_bytes().to_vec();
        // `parse` admits only hashes `digest` knows.
        name.extend(digest(self.name_alg, &self.raw).unwrap_or_default());
        name
    }

    /// The public key as a [`PublicKey`].
    pub fn public_key(&self) -> Result<PublicKey, crate::PublicKeyError> {
        match &self.key {
            TpmKey::Rsa { exponent, modulus, .. } => {
                let e = if *exponent == 0 { 65537 } else { *exponent };
                let e = e.to_be_bytes();
                let start = e.iter().position(|b| *b != 0).unwrap_or(3);
                PublicKey::from_rsa_components(modulus, &e[start..])
            }
            TpmKey::Ecc { curve, x, y } => {
                let (curve, size): (EcCurve, usize) = match curve {
                    3 => (EcCurve::P256, 32),
                    _ => (EcCurve::P384, 48),
                };
                let mut point = vec![4u8];
                for coordinate in [x, y] {
                    // TPMs may drop leading zeros of a coordinate.
                    let pad = size.saturating_sub(coordinate.len());
                    point.extend(std::iter::repeat_n(0u8, pad));
                    point.extend_from_slice(coordinate);
                }
                PublicKey::from_ec_point(curve, &point)
            }
        }
    }
}

/// What a verified key attestation establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKeyAttestation {
    /// The certified key's TPM name.
    pub key_name: Vec<u8>,
    /// Its attributes.
    pub key_attributes: ObjectAttributes,
    /// The attestation key's name, when its public area was checked.
    pub ak_name: Option<Vec<u8>>,
    /// The TPM's clock when it certified the key.
    pub clock_info: ClockInfo,
    /// The TPM's firmware version.
    pub firmware_version: u64,
}

/// Why a key attestation does not hold. Each names what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// `attest.bin` is not a `TPMS_ATTEST`.
    #[error("the attestation (attest.bin) is not a TPMS_ATTEST: {0}")]
    MalformedAttest(ParseError),
    /// A public area is not a `TPM2B_PUBLIC` this verifier reads.
    #[error("the {what} public area is not a TPM2B_PUBLIC: {source}")]
    MalformedPublic {
        /// Which one (`key`, `attestation key`).
        what: &'static str,
        /// Why.
        source: ParseError,
    },
    /// A public area holds a key we cannot use.
    #[error("the {what} public area holds an unusable key: {source}")]
    UnusableKey {
        /// Which one.
        what: &'static str,
        /// Why.
        source: crate::PublicKeyError,
    },
    /// The signature file is not a signature of the attestation key's algorithm.
    #[error(
        "the signature (attest.sig) is not a {algorithm} signature (DER for ECDSA, raw for RSA): {reason}"
    )]
    MalformedSignature {
        /// The algorithm the attestation key signs with.
        algorithm: SignatureAlgorithm,
        /// Why.
        reason: String,
    },
    /// The attestation key is neither ECDSA P-256/P-384 nor RSA 2048/3072.
    #[error("the attestation key is neither ECDSA P-256/P-384 nor RSA-2048/3072 with SHA-256")]
    UnsupportedAk,
    /// The signature does not verify with the attestation key: another AK signed it, or it
    /// signs other bytes.
    #[error(
        "the signature over attest.bin does not verify with the attestation key {ak}: another \
         AK signed it, or it signs other bytes"
    )]
    BadSignature {
        /// The attestation key's fingerprint.
        ak: String,
    },
    /// The attestation does not carry the TPM-generated magic.
    #[error(
        "the attestation does not start with TPM_GENERATED_VALUE (found {found:#010x}): the TPM did not make it"
    )]
    NotTpmGenerated {
        /// The magic found.
        found: u32,
    },
    /// The attestation is not of a `TPM2_Certify`.
    #[error("the attestation is of type {found:#06x}, not TPM_ST_ATTEST_CERTIFY (0x8017)")]
    NotCertify {
        /// The type found.
        found: u16,
    },
    /// The nonce in `extraData` is not the verifier's.
    #[error(
        "the attestation's nonce (extraData) is {found}, not the expected {expected}: a replay or another session"
    )]
    WrongNonce {
        /// The verifier's nonce, hex.
        expected: String,
        /// The nonce in the attestation, hex.
        found: String,
    },
    /// The public area does not hold the key the verifier named.
    #[error("the {what} public area holds key {found}, not the given {expected}")]
    KeyMismatch {
        /// Which one.
        what: &'static str,
        /// The fingerprint of the given key.
        expected: String,
        /// The fingerprint of the key in the public area.
        found: String,
    },
    /// The certified object is another key.
    #[error(
        "the TPM certified the object named {certified}, but the key's name is {computed}: it certified another key"
    )]
    NameMismatch {
        /// The certified name, hex.
        certified: String,
        /// The name computed from the key's public area, hex.
        computed: String,
    },
    /// The key's attributes do not make it a TPM-born, non-exportable signing key.
    #[error("the {what} is not {required}: its attributes are {attributes}{}", if *imported { " (not sensitiveDataOrigin: it was imported, so its private key existed outside the TPM)" } else { "" })]
    WeakAttributes {
        /// Which key.
        what: &'static str,
        /// The attributes required, tpm2-tools' spelling.
        required: &'static str,
        /// Its attributes.
        attributes: ObjectAttributes,
        /// Whether `sensitiveDataOrigin` is missing.
        imported: bool,
    },
}

/// What [`verify_key_attestation`] checks.
#[derive(Debug, Clone, Copy)]
pub struct KeyAttestationInput<'a> {
    /// The marshalled `TPMS_ATTEST` (`attest.bin`).
    pub attest: &'a [u8],
    /// The DER signature over it (`attest.sig`).
    pub signature: &'a [u8],
    /// The attestation key the verifier trusts.
    pub ak: &'a PublicKey,
    /// The attestation key's `TPM2B_PUBLIC` (`ak.pub`), to check it is a restricted TPM key.
    pub ak_public: Option<&'a [u8]>,
    /// The certified key's `TPM2B_PUBLIC` (`key.pub`).
    pub key_public: &'a [u8],
    /// The signing key the verifier asks about.
    pub key: &'a PublicKey,
    /// The verifier's nonce.
    pub nonce: &'a [u8],
}

/// The algorithm an attestation key signs with (its TPM scheme is ECDSA or RSASSA with the
/// curve's or SHA-256 hash, as `tpm2_createak` makes them).
fn ak_algorithm(ak: &PublicKey) -> Option<SignatureAlgorithm> {
    [
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::EcdsaP384Sha384,
        SignatureAlgorithm::RsaPkcs1v15_2048Sha256,
        SignatureAlgorithm::RsaPkcs1v15_3072Sha256,
    ]
    .into_iter()
    .find(|a| ak.supports(*a))
}

/// The attributes that make a signing key non-exportable and TPM-born.
const KEY_REQUIRED: u32 = ObjectAttributes::FIXED_TPM
    | ObjectAttributes::FIXED_PARENT
    | ObjectAttributes::SENSITIVE_DATA_ORIGIN
    | ObjectAttributes::SIGN;
/// And those of an attestation key (`tpm2_createak`'s).
const AK_REQUIRED: u32 = KEY_REQUIRED | ObjectAttributes::RESTRICTED;

fn check_attributes(
    what: &'static str,
    attributes: ObjectAttributes,
    mask: u32,
    required: &'static str,
) -> Result<(), AttestationError> {
    if attributes.has(mask) && !attributes.has(ObjectAttributes::DECRYPT) {
        return Ok(());
    }
    Err(AttestationError::WeakAttributes {
        what,
        required,
        attributes,
        imported: !attributes.has(ObjectAttributes::SENSITIVE_DATA_ORIGIN),
    })
}

fn parse_public(
    what: &'static str,
    bytes: &[u8],
    expected: &PublicKey,
) -> Result<TpmPublic, AttestationError> {
    let public = TpmPublic::parse_tpm2b(bytes)
        .map_err(|source| AttestationError::MalformedPublic { what, source })?;
    let found =
        public.public_key().map_err(|source| AttestationError::UnusableKey { what, source })?;
    if &found != expected {
        return Err(AttestationError::KeyMismatch {
            what,
            expected: expected.fingerprint_sha256().to_string(),
            found: found.fingerprint_sha256().to_string(),
        });
    }
    Ok(public)
}

/// Checks a `TPM2_Certify` key attestation: the signature by the attestation key, the TPM
/// magic, the nonce, that the certified name is the key's, and that the key is a TPM-born
/// (`sensitiveDataOrigin`), non-exportable (`fixedTPM|fixedParent`) signing key that does not
/// decrypt. With `ak_public`, also that the attestation key is a restricted signing key of the
/// same kind (so only the TPM could have made what it signs).
///
/// Whether the attestation key itself belongs to a genuine TPM is a separate question: see
/// [`make_credential`] and [`verify_ek_certificate`].
pub fn verify_key_attestation(
    input: &KeyAttestationInput<'_>,
) -> Result<VerifiedKeyAttestation, AttestationError> {
    let algorithm = ak_algorithm(input.ak).ok_or(AttestationError::UnsupportedAk)?;
    let signature = if algorithm.is_ecdsa() {
        Signature::from_der(algorithm, input.signature)
    } else {
        Signature::from_rsa(algorithm, input.signature)
    };
    let signature = signature
        .map_err(|e| AttestationError::MalformedSignature { algorithm, reason: e.to_string() })?;
    crate::verify_message(input.ak, algorithm, input.attest, &signature).map_err(|_| {
        AttestationError::BadSignature { ak: input.ak.fingerprint_sha256().to_string() }
    })?;
    let attest = Attest::parse(input.attest).map_err(AttestationError::MalformedAttest)?;
    if attest.magic != TPM_GENERATED_VALUE {
        return Err(AttestationError::NotTpmGenerated { found: attest.magic });
    }
    let Attested::Certify { name: certified, .. } = &attest.attested else {
        return Err(AttestationError::NotCertify { found: attest.attest_type });
    };
    if attest.extra_data != input.nonce {
        return Err(AttestationError::WrongNonce {
            expected: hex::encode(input.nonce),
            found: hex::encode(&attest.extra_data),
        });
    }
    let ak_name = match input.ak_public {
        Some(bytes) => {
            let ak = parse_public("attestation key", bytes, input.ak)?;
            check_attributes(
                "attestation key",
                ak.attributes,
                AK_REQUIRED,
                "a restricted TPM signing key (fixedtpm|fixedparent|sensitivedataorigin|restricted|sign, not decrypt)",
            )?;
            Some(ak.name())
        }
        None => None,
    };
    let key = parse_public("key", input.key_public, input.key)?;
    let computed = key.name();
    if &computed != certified {
        return Err(AttestationError::NameMismatch {
            certified: hex::encode(certified),
            computed: hex::encode(&computed),
        });
    }
    check_attributes(
        "key",
        key.attributes,
        KEY_REQUIRED,
        "a TPM-born, non-exportable signing key (fixedtpm|fixedparent|sensitivedataorigin|sign, not decrypt)",
    )?;
    Ok(VerifiedKeyAttestation {
        key_name: computed,
        key_attributes: key.attributes,
        ak_name,
        clock_info: attest.clock_info,
        firmware_version: attest.firmware_version,
    })
}

pub use credential::{Credential, CredentialError, make_credential};
pub use ekcert::{EkCertError, verify_ek_certificate};

mod credential {
    //! `TPM2_MakeCredential` in software, for an RSA endorsement key made from the TCG default
    //! template (SHA-256 name algorithm, AES-128-CFB): TPM 2.0 Part 1, "Credential Protection".

    use aes::cipher::{BlockCipherEncrypt as _, KeyInit as _};
    use hmac::{Hmac, Mac as _};
    use rsa::pkcs8::DecodePublicKey as _;
    use sha2::Sha256;

    use crate::PublicKey;

    /// The magic and version of the credential files of `tpm2_makecredential -o` (read by
    /// `tpm2_activatecredential -i`).
    const TPM2_TOOLS_MAGIC: u32 = 0xbadc_c0de;
    const TPM2_TOOLS_VERSION: u32 = 1;

    /// Why a credential could not be made or read.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum CredentialError {
        /// The endorsement key is not RSA.
        #[error(
            "the endorsement key is not an RSA key: only RSA EKs (the TCG default RSA-2048 template) are supported"
        )]
        NotRsa,
        /// RSA-OAEP failed.
        #[error("cannot encrypt the seed to the endorsement key: {0}")]
        Encrypt(String),
        /// The secret is empty or longer than a SHA-256 digest.
        #[error("a credential secret is 1 to 32 bytes, not {0}")]
        SecretSize(usize),
        /// A credential file is not in tpm2-tools' format.
        #[error("not a tpm2-tools credential file: {0}")]
        Malformed(String),
    }

    /// A credential: the `TPM2B_ID_OBJECT` and `TPM2B_ENCRYPTED_SECRET` bodies that
    /// `TPM2_ActivateCredential` takes.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Credential {
        /// `TPM2B_ID_OBJECT`'s body: `TPM2B_DIGEST(integrityHMAC) || encIdentity`.
        pub id_object: Vec<u8>,
        /// `TPM2B_ENCRYPTED_SECRET`'s body: the seed, RSA-OAEP encrypted to the EK.
        pub encrypted_secret: Vec<u8>,
    }

    impl Credential {
        /// The file `tpm2_makecredential -o` writes.
        #[must_use]
        pub fn to_tpm2_tools(&self) -> Vec<u8> {
            let mut out = TPM2_TOOLS_MAGIC.to_be_bytes().to_vec();
            out.extend_from_slice(&TPM2_TOOLS_VERSION.to_be_bytes());
            super::put_tpm2b(&mut out, &self.id_object);
            super::put_tpm2b(&mut out, &self.encrypted_secret);
            out
        }

        /// Reads a file written by `tpm2_makecredential -o` or [`Credential::to_tpm2_tools`].
        pub fn from_tpm2_tools(bytes: &[u8]) -> Result<Self, CredentialError> {
            let malformed = |e: super::ParseError| CredentialError::Malformed(e.to_string());
            let mut r = super::Reader::new(bytes, "credential file");
            let magic = r.u32("magic").map_err(malformed)?;
            let version = r.u32("version").map_err(malformed)?;
            if magic != TPM2_TOOLS_MAGIC || version != TPM2_TOOLS_VERSION {
                return Err(CredentialError::Malformed(format!(
                    "header {magic:#010x} version {version}, expected {TPM2_TOOLS_MAGIC:#010x} version {TPM2_TOOLS_VERSION}"
                )));
            }
            let id_object = r.tpm2b("credentialBlob", 1024).map_err(malformed)?;
            let encrypted_secret = r.tpm2b("secret", 1024).map_err(malformed)?;
            r.finish().map_err(malformed)?;
            Ok(Self { id_object, encrypted_secret })
        }
    }

    type HmacSha256 = Hmac<Sha256>;

    /// `KDFa` (SP 800-108 counter mode with HMAC-SHA-256), the label with its NUL.
    fn kdfa(key: &[u8], label: &str, context_u: &[u8], context_v: &[u8], bits: u32) -> Vec<u8> {
        let bytes = usize::try_from(bits.div_ceil(8)).unwrap_or(0);
        let mut out = Vec::with_capacity(bytes + 32);
        let mut counter: u32 = 1;
        while out.len() < bytes {
            // HMAC takes keys of any length.
            let Ok(mut mac) = HmacSha256::new_from_slice(key) else { return Vec::new() };
            mac.update(&counter.to_be_bytes());
            mac.update(label.as_bytes());
            mac.update(&[0]);
            mac.update(context_u);
            mac.update(context_v);
            mac.update(&bits.to_be_bytes());
            out.extend_from_slice(&mac.finalize().into_bytes());
            counter += 1;
        }
        out.truncate(bytes);
        out
    }

    /// AES-128 in CFB mode with a zero IV, as the TPM protects credentials.
    fn aes128_cfb_encrypt(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        let cipher = aes::Aes128::new_from_slice(key).ok()?;
        let mut iv = [0u8; 16];
        let mut out = Vec::with_capacity(data.len());
        for chunk in data.chunks(16) {
            let mut block = aes::Block::from(iv);
            cipher.encrypt_block(&mut block);
            let keystream: [u8; 16] = block.into();
            let encrypted: Vec<u8> = chunk.iter().zip(keystream).map(|(p, k)| p ^ k).collect();
            iv[..encrypted.len()].copy_from_slice(&encrypted);
            out.extend_from_slice(&encrypted);
        }
        Some(out)
    }

    /// `TPM2_MakeCredential`: protects `secret` (1 to 32 bytes) so that only the TPM holding
    /// `ek`'s private key, with an object named `ak_name` loaded, can recover it with
    /// `TPM2_ActivateCredential`. `ek` must be an RSA key of the TCG default EK template.
    pub fn make_credential(
        ek: &PublicKey,
        ak_name: &[u8],
        secret: &[u8],
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Credential, CredentialError> {
        if secret.is_empty() || secret.len() > 32 {
            return Err(CredentialError::SecretSize(secret.len()));
        }
        let rsa_key = rsa::RsaPublicKey::from_public_key_der(ek.as_der())
            .map_err(|_| CredentialError::NotRsa)?;
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        let padding = rsa::Oaep::new_with_label::<Sha256, _>("IDENTITY\0");
        let encrypted_secret = rsa_key
            .encrypt(rng, padding, seed.as_ref())
            .map_err(|e| CredentialError::Encrypt(e.to_string()))?;
        let sym_key = zeroize::Zeroizing::new(kdfa(seed.as_ref(), "STORAGE", ak_name, &[], 128));
        let mut identity = u16::try_from(secret.len()).unwrap_or(0).to_be_bytes().to_vec();
        identity.extend_from_slice(secret);
        let enc_identity = aes128_cfb_encrypt(&sym_key, &identity)
            .ok_or_else(|| CredentialError::Encrypt("AES key".to_owned()))?;
        let hmac_key = zeroize::Zeroizing::new(kdfa(seed.as_ref(), "INTEGRITY", &[], &[], 256));
        let mut mac = HmacSha256::new_from_slice(&hmac_key)
            .map_err(|e| CredentialError::Encrypt(e.to_string()))?;
        mac.update(&enc_identity);
        mac.update(ak_name);
        let integrity = mac.finalize().into_bytes();
        let mut id_object = Vec::with_capacity(2 + 32 + enc_identity.len());
        super::put_tpm2b(&mut id_object, &integrity);
        id_object.extend_from_slice(&enc_identity);
        Ok(Credential { id_object, encrypted_secret })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn cfb_matches_a_known_answer() {
            // NIST SP 800-38A F.3.13 (CFB128-AES128.Encrypt), first block.
            let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap_or_default();
            let iv_zero_check = aes128_cfb_encrypt(&key, &[0u8; 16]).unwrap_or_default();
            // With a zero IV, the first keystream block is AES_K(0).
            let cipher = aes::Aes128::new_from_slice(&key).ok();
            let mut block = aes::Block::from([0u8; 16]);
            if let Some(c) = cipher {
                c.encrypt_block(&mut block);
            }
            let expected: [u8; 16] = block.into();
            assert_eq!(iv_zero_check, expected.to_vec());
        }

        #[test]
        fn credential_files_round_trip() {
            let c = Credential { id_object: vec![1, 2, 3], encrypted_secret: vec![4; 256] };
            assert_eq!(Credential::from_tpm2_tools(&c.to_tpm2_tools()), Ok(c));
            assert!(Credential::from_tpm2_tools(b"\xba\xdc\xc0\xde").is_err());
        }
    }
}

mod ekcert {
    //! The endorsement-key certificate chain, checked against the CA certificates a verifier
    //! trusts (RSA PKCS#1 v1.5 and ECDSA signatures with SHA-256/384).

    use x509_cert::Certificate;
    use x509_cert::der::{Decode as _, Encode as _};
    use x509_cert::ext::pkix::BasicConstraints;

    use crate::{PublicKey, SignatureAlgorithm};

    /// The longest chain we follow.
    const MAX_DEPTH: usize = 8;

    /// Why an EK certificate is not trusted.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[non_exhaustive]
    pub enum EkCertError {
        /// The EK certificate is not DER X.509.
        #[error("the EK certificate is not a DER X.509 certificate: {0}")]
        Malformed(String),
        /// The CA file holds no PEM certificate.
        #[error("the CA file holds no PEM certificate: {0}")]
        NoCa(String),
        /// No certificate of the CA file issued a certificate of the chain.
        #[error(
            "the EK certificate does not chain to the given CA: no CA certificate named {issuer} signed {subject}"
        )]
        UntrustedIssuer {
            /// The issuer named by the last certificate of the chain.
            issuer: String,
            /// That certificate's subject (empty for EK certificates, which name the TPM in a
            /// subject alternative name).
            subject: String,
        },
        /// A certificate is outside its validity period.
        #[error(
            "the certificate {subject} is not valid now (valid from {not_before} to {not_after})"
        )]
        Expired {
            /// Its subject.
            subject: String,
            /// Start of validity.
            not_before: String,
            /// End of validity.
            not_after: String,
        },
        /// The chain is longer than we follow.
        #[error("the certificate chain is longer than {MAX_DEPTH}")]
        TooLong,
        /// The EK certificate's key is unusable.
        #[error("the EK certificate's public key is unusable: {0}")]
        Key(String),
    }

    fn name_of(cert: &Certificate) -> String {
        cert.tbs_certificate().subject().to_string()
    }

    /// Whether `issuer` signed `cert`.
    fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
        let Ok(tbs) = cert.tbs_certificate().to_der() else { return false };
        let Ok(spki) = issuer.tbs_certificate().subject_public_key_info().to_der() else {
            return false;
        };
        let Ok(key) = PublicKey::from_der(&spki) else { return false };
        let Some(sig) = cert.signature().as_bytes() else { return false };
        let algorithm = match cert.signature_algorithm().oid.to_string().as_str() {
            "1.2.840.10045.4.3.2" => SignatureAlgorithm::EcdsaP256Sha256,
            "1.2.840.10045.4.3.3" => SignatureAlgorithm::EcdsaP384Sha384,
            // sha256WithRSAEncryption: PKCS#1 v1.5 with SHA-256, any supported key size.
            "1.2.840.113549.1.1.11" => {
                match [
                    SignatureAlgorithm::RsaPkcs1v15_2048Sha256,
                    SignatureAlgorithm::RsaPkcs1v15_3072Sha256,
                ]
                .into_iter()
                .find(|a| key.supports(*a))
                {
                    Some(a) => a,
                    None => return rsa_pkcs1_sha256(&spki, &tbs, sig),
                }
            }
            _ => return false,
        };
        if !key.supports(algorithm) {
            return false;
        }
        let signature = if algorithm.is_ecdsa() {
            crate::Signature::from_der(algorithm, sig)
        } else {
            crate::Signature::from_rsa(algorithm, sig)
        };
        signature.is_ok_and(|s| crate::verify_message(&key, algorithm, &tbs, &s).is_ok())
    }

    /// RSA PKCS#1 v1.5 with SHA-256 for key sizes the algorithm registry has no name for
    /// (e.g. 4096-bit CAs).
    fn rsa_pkcs1_sha256(spki: &[u8], tbs: &[u8], sig: &[u8]) -> bool {
        use rsa::pkcs8::DecodePublicKey as _;
        use rsa::signature::Verifier as _;
        let Ok(key) = rsa::RsaPublicKey::from_public_key_der(spki) else { return false };
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else { return false };
        rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(tbs, &sig).is_ok()
    }

    fn check_validity(cert: &Certificate, now_unix: u64) -> Result<(), EkCertError> {
        let validity = cert.tbs_certificate().validity();
        let from = validity.not_before.to_unix_duration().as_secs();
        let to = validity.not_after.to_unix_duration().as_secs();
        if now_unix < from || now_unix > to {
            return Err(EkCertError::Expired {
                subject: name_of(cert),
                not_before: validity.not_before.to_string(),
                not_after: validity.not_after.to_string(),
            });
        }
        Ok(())
    }

    fn is_ca(cert: &Certificate) -> bool {
        matches!(
            cert.tbs_certificate().get_extension::<BasicConstraints>(),
            Ok(Some((_, BasicConstraints { ca: true, .. })))
        )
    }

    /// Checks that the DER certificate `ek_cert` chains, through CA certificates of the PEM
    /// bundle `ca_pem`, to a self-signed certificate of that bundle, every certificate being
    /// valid at `now_unix` (seconds since the epoch). Returns the EK's public key.
    pub fn verify_ek_certificate(
        ek_cert: &[u8],
        ca_pem: &[u8],
        now_unix: u64,
    ) -> Result<PublicKey, EkCertError> {
        let ek =
            Certificate::from_der(ek_cert).map_err(|e| EkCertError::Malformed(e.to_string()))?;
        let bundle =
            Certificate::load_pem_chain(ca_pem).map_err(|e| EkCertError::NoCa(e.to_string()))?;
        if bundle.is_empty() {
            return Err(EkCertError::NoCa("empty".to_owned()));
        }
        check_validity(&ek, now_unix)?;
        let mut current = &ek;
        for _ in 0..MAX_DEPTH {
            let issuer_name = current.tbs_certificate().issuer();
            let issuer = bundle.iter().find(|c| {
                c.tbs_certificate().subject() == issuer_name && is_ca(c) && signed_by(current, c)
            });
            let Some(issuer) = issuer else {
                return Err(EkCertError::UntrustedIssuer {
                    issuer: issuer_name.to_string(),
                    subject: name_of(current),
                });
            };
            check_validity(issuer, now_unix)?;
            if issuer.tbs_certificate().subject() == issuer.tbs_certificate().issuer()
                && signed_by(issuer, issuer)
            {
                let spki = ek
                    .tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .map_err(|e| EkCertError::Key(e.to_string()))?;
                return PublicKey::from_der(&spki).map_err(|e| EkCertError::Key(e.to_string()));
            }
            current = issuer;
        }
        Err(EkCertError::TooLong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_print_like_tpm2_tools() {
        let a = ObjectAttributes(0x0005_0072);
        assert_eq!(
            a.to_string(),
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign"
        );
    }

    #[test]
    fn truncated_attest_names_the_field() {
        let err = Attest::parse(&[0xff, 0x54, 0x43, 0x47, 0x80]).err();
        assert_eq!(
            err.map(|e| e.to_string()).unwrap_or_default(),
            "TPMS_ATTEST is truncated: type needs 2 more bytes, 1 left"
        );
    }
}
