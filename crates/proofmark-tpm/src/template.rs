//! TPM object templates (the parent storage key and the signing keys), and conversions between
//! TPM structures and proofmark's algorithms, public keys and signatures.

use std::fmt;
use std::str::FromStr;

use proofmark_types::{EcCurve, KeyKind, PublicKey, RsaPadding, SignatureAlgorithm};
use tss_esapi::attributes::ObjectAttributesBuilder;
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, PublicAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::structures::{
    EccParameter, EccPoint, EccScheme, HashScheme, KeyDerivationFunctionScheme, Public,
    PublicBuilder, PublicEccParametersBuilder, PublicKeyRsa, PublicRsaParametersBuilder,
    RsaExponent, RsaScheme, SignatureScheme, SymmetricDefinitionObject,
};

use crate::error::{Result, TpmError};

fn build_err(source: tss_esapi::Error) -> TpmError {
    TpmError::Tpm { operation: "building a key template", code: 0, source }
}

/// The storage primary key that parents our keys, re-derived from the owner hierarchy's seed on
/// demand (same template, same TPM, same key; so nothing needs to be stored in the TPM).
///
/// Both are the TCG reference storage root key (SRK) templates of the *TCG TPM v2.0
/// Provisioning Guidance*: attributes
/// `fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt`, SHA-256
/// name algorithm, AES-128-CFB, and an all-zero `unique` (64 bytes for ECC, 256 for RSA). So
/// they give the same key as a TCG-provisioned SRK (conventionally persisted at `0x81000001`)
/// and as
///
/// ```sh
/// head -c 64 /dev/zero | tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb \
///   -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt" \
///   -u - -c primary.ctx
/// ```
///
/// (`-G rsa2048:aes128cfb` and 256 zero bytes for RSA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ParentTemplate {
    /// ECC P-256 with AES-128-CFB (`-G ecc256:aes128cfb`).
    #[default]
    EccP256,
    /// RSA-2048 with AES-128-CFB (`-G rsa2048:aes128cfb`).
    Rsa2048,
    /// The primary that tpm2-openssl (and the TSS2 key-file convention) derives for keys whose
    /// parent is the owner hierarchy (`0x40000001`): [`EccP256`](Self::EccP256)'s template with
    /// an *empty* `unique`, which gives a different key. What `tpm2_createprimary -C o -g
    /// sha256 -G ecc256:aes128cfb -a "…|noda|…"` makes without `-u`.
    Tss2EccP256,
    /// tpm2-openssl's fallback on TPMs without ECC, and the `rsaParent` primary of TSS2 key
    /// files: [`Rsa2048`](Self::Rsa2048)'s template with an empty `unique`.
    Tss2Rsa2048,
}

impl ParentTemplate {
    /// Every template of proofmark's own key files.
    pub const ALL: [ParentTemplate; 2] = [Self::EccP256, Self::Rsa2048];
    /// The owner-hierarchy primaries of TSS2 key files (tpm2-openssl's).
    pub const TSS2: [ParentTemplate; 2] = [Self::Tss2EccP256, Self::Tss2Rsa2048];

    /// The name stored in key files: `ecc-p256` or `rsa-2048`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EccP256 => "ecc-p256",
            Self::Rsa2048 => "rsa-2048",
            Self::Tss2EccP256 => "tss2-ecc-p256",
            Self::Tss2Rsa2048 => "tss2-rsa-2048",
        }
    }

    /// Whether this is one of tpm2-openssl's primaries (empty `unique`).
    #[must_use]
    pub const fn is_tss2(self) -> bool {
        matches!(self, Self::Tss2EccP256 | Self::Tss2Rsa2048)
    }

    /// The `tpm2_createprimary -G` argument that builds the same primary.
    #[must_use]
    pub const fn tpm2_tools_alg(self) -> &'static str {
        match self {
            Self::EccP256 | Self::Tss2EccP256 => "ecc256:aes128cfb",
            Self::Rsa2048 | Self::Tss2Rsa2048 => "rsa2048:aes128cfb",
        }
    }

    /// The TPM template.
    pub fn public(self) -> Result<Public> {
        let attributes = ObjectAttributesBuilder::new()
            .with_fixed_tpm(true)
            .with_fixed_parent(true)
            .with_sensitive_data_origin(true)
            .with_user_with_auth(true)
            .with_restricted(true)
            .with_decrypt(true)
            // The auth value is empty and well known: dictionary-attack protection would only
            // let a lockout (provoked through some other key) block every key below this one.
            .with_no_da(true)
            .build()
            .map_err(build_err)?;
        let builder = PublicBuilder::new()
            .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
            .with_object_attributes(attributes);
        // tpm2-openssl's templates leave `unique` empty (tpm2-provider-pkey.c).
        let unique_len = if self.is_tss2() { 0 } else { 1 };
        match self {
            Self::EccP256 | Self::Tss2EccP256 => builder
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new_restricted_decryption_key(
                        SymmetricDefinitionObject::AES_128_CFB,
                        EccCurve::NistP256,
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .with_ecc_unique_identifier(EccPoint::new(
                    EccParameter::try_from(vec![0u8; 32 * unique_len]).map_err(build_err)?,
                    EccParameter::try_from(vec![0u8; 32 * unique_len]).map_err(build_err)?,
                ))
                .build(),
            Self::Rsa2048 | Self::Tss2Rsa2048 => builder
                .with_public_algorithm(PublicAlgorithm::Rsa)
                .with_rsa_parameters(
                    PublicRsaParametersBuilder::new_restricted_decryption_key(
                        SymmetricDefinitionObject::AES_128_CFB,
                        RsaKeyBits::Rsa2048,
                        RsaExponent::ZERO_EXPONENT,
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .with_rsa_unique_identifier(
                    PublicKeyRsa::try_from(vec![0u8; 256 * unique_len]).map_err(build_err)?,
                )
                .build(),
        }
        .map_err(build_err)
    }
}

impl fmt::Display for ParentTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ParentTemplate {
    type Err = TpmError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().chain(Self::TSS2).find(|t| t.name() == s).ok_or_else(|| {
            TpmError::Unsupported(format!(
                "parent template `{s}`; expected ecc-p256, rsa-2048, tss2-ecc-p256 or \
                 tss2-rsa-2048"
            ))
        })
    }
}

fn tss_hash(hash: proofmark_types::HashAlgorithm) -> Result<HashingAlgorithm> {
    match hash {
        proofmark_types::HashAlgorithm::Sha256 => Ok(HashingAlgorithm::Sha256),
        proofmark_types::HashAlgorithm::Sha384 => Ok(HashingAlgorithm::Sha384),
        proofmark_types::HashAlgorithm::Sha512 => Ok(HashingAlgorithm::Sha512),
        other => Err(TpmError::Unsupported(format!("hash {other}"))),
    }
}

/// The template of a non-exportable signing key: `fixedtpm|fixedparent|sensitivedataorigin|
/// userwithauth|sign` (plus `noda` when `no_da`), never `decrypt` or `restricted`, with the
/// algorithm's scheme fixed in the key so that tpm2-tools and other users sign with it too.
pub fn signing_key_public(algorithm: SignatureAlgorithm, no_da: bool) -> Result<Public> {
    let attributes = ObjectAttributesBuilder::new()
        .with_fixed_tpm(true)
        .with_fixed_parent(true)
        .with_sensitive_data_origin(true)
        .with_user_with_auth(true)
        .with_sign_encrypt(true)
        .with_decrypt(false)
        .with_restricted(false)
        .with_no_da(no_da)
        .build()
        .map_err(build_err)?;
    let hash = HashScheme::new(tss_hash(algorithm.hash())?);
    let builder = PublicBuilder::new()
        .with_name_hashing_algorithm(HashingAlgorithm::Sha256)
        .with_object_attributes(attributes);
    match algorithm.key_kind() {
        KeyKind::Ec(curve) => {
            let curve = match curve {
                EcCurve::P256 => EccCurve::NistP256,
                EcCurve::P384 => EccCurve::NistP384,
                other => return Err(TpmError::Unsupported(format!("curve {other}"))),
            };
            builder
                .with_public_algorithm(PublicAlgorithm::Ecc)
                .with_ecc_parameters(
                    PublicEccParametersBuilder::new_unrestricted_signing_key(
                        EccScheme::EcDsa(hash),
                        curve,
                    )
                    .with_key_derivation_function_scheme(KeyDerivationFunctionScheme::Null)
                    .build()
                    .map_err(build_err)?,
                )
                .with_ecc_unique_identifier(EccPoint::default())
                .build()
        }
        KeyKind::Rsa { bits } => {
            let bits = match bits {
                2048 => RsaKeyBits::Rsa2048,
                3072 => RsaKeyBits::Rsa3072,
                other => return Err(TpmError::Unsupported(format!("RSA-{other} keys"))),
            };
            let scheme = match algorithm.rsa_padding() {
                Some(RsaPadding::Pss) => RsaScheme::RsaPss(hash),
                _ => RsaScheme::RsaSsa(hash),
            };
            builder
                .with_public_algorithm(PublicAlgorithm::Rsa)
                .with_rsa_parameters(
                    PublicRsaParametersBuilder::new_unrestricted_signing_key(
                        scheme,
                        bits,
                        RsaExponent::ZERO_EXPONENT,
                    )
                    .build()
                    .map_err(build_err)?,
                )
                .with_rsa_unique_identifier(PublicKeyRsa::default())
                .build()
        }
        other => return Err(TpmError::Unsupported(format!("key kind {other}"))),
    }
    .map_err(build_err)
}

/// The scheme passed to `TPM2_Sign` for `algorithm`.
pub(crate) fn signature_scheme(algorithm: SignatureAlgorithm) -> Result<SignatureScheme> {
    let hash_scheme = HashScheme::new(tss_hash(algorithm.hash())?);
    Ok(match (algorithm.is_ecdsa(), algorithm.rsa_padding()) {
        (true, _) => SignatureScheme::EcDsa { hash_scheme },
        (false, Some(RsaPadding::Pss)) => SignatureScheme::RsaPss { hash_scheme },
        _ => SignatureScheme::RsaSsa { hash_scheme },
    })
}

/// The signature algorithm of an existing key, from its public area.
///
/// The key must be an unrestricted signing key (`sign` set, `restricted` clear). `decrypt` may
/// be set too: tpm2-openssl makes its keys `sign|decrypt`.
/// A key whose scheme is NULL (e.g. `tpm2_create -G ecc256`) gets its curve's ECDSA algorithm, or
/// RSASSA-PKCS1-v1_5 with SHA-256.
pub fn algorithm_of(public: &Public) -> Result<SignatureAlgorithm> {
    let attributes = public.object_attributes();
    if !attributes.sign_encrypt() || attributes.restricted() {
        return Err(TpmError::Unsupported(
            "the key is not an unrestricted signing key (it needs `sign` and not `restricted`)"
                .to_owned(),
        ));
    }
    let unsupported = |what: String| Err(TpmError::Unsupported(what));
    match public {
        Public::Ecc { parameters, .. } => {
            let algorithm = match parameters.ecc_curve() {
                EccCurve::NistP256 => SignatureAlgorithm::EcdsaP256Sha256,
                EccCurve::NistP384 => SignatureAlgorithm::EcdsaP384Sha384,
                other => return unsupported(format!("ECC curve {other:?}")),
            };
            match parameters.ecc_scheme() {
                EccScheme::Null => Ok(algorithm),
                EccScheme::EcDsa(h) if h.hashing_algorithm() == tss_hash(algorithm.hash())? => {
                    Ok(algorithm)
                }
                other => unsupported(format!("ECC scheme {other:?} on this curve")),
            }
        }
        Public::Rsa { parameters, .. } => {
            let bits = match parameters.key_bits() {
                RsaKeyBits::Rsa2048 => 2048,
                RsaKeyBits::Rsa3072 => 3072,
                other => return unsupported(format!("RSA key size {other:?}")),
            };
            if parameters.exponent().value() != 0 && parameters.exponent().value() != 65_537 {
                return unsupported(format!("RSA exponent {}", parameters.exponent().value()));
            }
            let (padding, hash) = match parameters.rsa_scheme() {
                RsaScheme::Null => (RsaPadding::Pkcs1v15, HashingAlgorithm::Sha256),
                RsaScheme::RsaSsa(h) => (RsaPadding::Pkcs1v15, h.hashing_algorithm()),
                RsaScheme::RsaPss(h) => (RsaPadding::Pss, h.hashing_algorithm()),
                other => return unsupported(format!("RSA scheme {other:?}")),
            };
            if hash != HashingAlgorithm::Sha256 {
                return unsupported(format!("RSA with hash {hash:?}"));
            }
            SignatureAlgorithm::rsa(padding, bits)
                .map_or_else(|| unsupported(format!("RSA-{bits} {padding:?}")), Ok)
        }
        _ => unsupported("a key that is neither ECC nor RSA".to_owned()),
    }
}

/// The public key of a key's public area, as a `SubjectPublicKeyInfo` the way OpenSSL writes it
/// (named curve and uncompressed point for ECC; `rsaEncryption` for RSA, whatever the padding).
pub fn public_key(public: &Public) -> Result<PublicKey> {
    let bad = |what: String| TpmError::Unsupported(format!("public key: {what}"));
    match public {
        Public::Ecc { parameters, unique, .. } => {
            let (curve, size) = match parameters.ecc_curve() {
                EccCurve::NistP256 => (EcCurve::P256, 32),
                EccCurve::NistP384 => (EcCurve::P384, 48),
                other => return Err(bad(format!("curve {other:?}"))),
            };
            let (x, y) = (unique.x().value(), unique.y().value());
            if x.len() > size || y.len() > size {
                return Err(bad("coordinates longer than the field".to_owned()));
            }
            // Some TPMs strip leading zero bytes; SEC1 wants fixed-width coordinates.
            let mut sec1 = vec![0x04];
            for coordinate in [x, y] {
                sec1.extend(std::iter::repeat_n(0, size - coordinate.len()));
                sec1.extend_from_slice(coordinate);
            }
            PublicKey::from_ec_point(curve, &sec1).map_err(|e| bad(e.to_string()))
        }
        Public::Rsa { parameters, unique, .. } => {
            // An exponent of 0 in a TPM public area means the default, 65537.
            let exponent = match parameters.exponent().value() {
                0 => 65_537u32,
                e => e,
            };
            let exponent = exponent.to_be_bytes();
            PublicKey::from_rsa_components(unique.value(), strip_zeros(&exponent))
                .map_err(|e| bad(e.to_string()))
        }
        _ => Err(bad("neither ECC nor RSA".to_owned())),
    }
}

fn strip_zeros(mut bytes: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_through_its_template() {
        for alg in SignatureAlgorithm::ALL {
            for no_da in [false, true] {
                let public = signing_key_public(alg, no_da).unwrap();
                assert_eq!(algorithm_of(&public).unwrap(), alg);
                assert_eq!(public.object_attributes().no_da(), no_da);
                assert!(public.object_attributes().fixed_tpm());
            }
        }
    }

    #[test]
    fn parent_templates_are_storage_keys() {
        for t in ParentTemplate::ALL.into_iter().chain(ParentTemplate::TSS2) {
            let public = t.public().unwrap();
            assert!(
                public.object_attributes().restricted() && public.object_attributes().decrypt()
            );
            assert!(matches!(algorithm_of(&public), Err(TpmError::Unsupported(_))));
            assert_eq!(t.name().parse::<ParentTemplate>().unwrap(), t);
        }
    }
}
