//! Key attestation on the TPM: the TPM certifies (`TPM2_Certify`) a signing key with an
//! attestation key (AK) of the same TPM, and answers a verifier's credential challenge
//! (`TPM2_ActivateCredential`) that binds the AK to the endorsement key (EK).
//!
//! - The EK is the RSA-2048 primary of the TCG default template (`tpm2_createek -G rsa`),
//!   re-derived from the endorsement seed: the same key its manufacturer certified (the
//!   certificate is read from NV index `0x01c00002`).
//! - The AK is a fresh restricted signing key under the EK, with `tpm2_createak`'s template
//!   (`fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign`, SHA-256, ECC P-256
//!   with ECDSA or RSA-2048 with RSASSA). Its private blob is wrapped by the EK, so it can be
//!   loaded again on this TPM only, to answer the challenge.
//!
//! Checking the result needs no TPM: see [`proofmark_types::tpm_attest`].

use proofmark_types::tpm_attest::{Credential, TpmPublic};
use proofmark_types::{PersistentHandle, PublicKey, Signature, SignatureAlgorithm};
use tss_esapi::Context;
use tss_esapi::abstraction::{AsymmetricAlgorithmSelection, ak, ek};
use tss_esapi::attributes::SessionAttributesBuilder;
use tss_esapi::constants::SessionType;
use tss_esapi::handles::{KeyHandle, ObjectHandle, SessionHandle};
use tss_esapi::interface_types::algorithm::{HashingAlgorithm, SignatureSchemeAlgorithm};
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::key_bits::RsaKeyBits;
use tss_esapi::interface_types::session_handles::{AuthSession, PolicySession};
use tss_esapi::structures::{
    Data, EncryptedSecret, IdObject, Public, SignatureScheme, SymmetricDefinition,
};
use tss_esapi::traits::Marshall as _;

use crate::auth::AuthValue;
use crate::error::{Result, TpmError, classify};
use crate::keyfile::KeyFile;
use crate::tcti::Tcti;
use crate::tpm::{flush, load_key, open_context, open_persistent};

/// The signing key to attest.
#[derive(Debug, Clone, Copy)]
pub enum AttestedKey<'a> {
    /// A key file, with its auth value (the stored one or the user's).
    File {
        /// The key file.
        key: &'a KeyFile,
        /// Its auth value, if it has one.
        auth: Option<&'a AuthValue>,
    },
    /// A persistent key.
    Persistent {
        /// Its handle.
        handle: PersistentHandle,
        /// Its auth value, if it has one.
        auth: Option<&'a AuthValue>,
    },
}

/// The attestation key's algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AkAlgorithm {
    /// ECC P-256 with ECDSA-SHA256 (`tpm2_createak -G ecc -g sha256 -s ecdsa`).
    #[default]
    EccP256,
    /// RSA-2048 with RSASSA-SHA256 (`tpm2_createak -G rsa -g sha256 -s rsassa`).
    Rsa2048,
}

impl AkAlgorithm {
    fn selection(self) -> (AsymmetricAlgorithmSelection, SignatureSchemeAlgorithm) {
        match self {
            Self::EccP256 => (
                AsymmetricAlgorithmSelection::Ecc(EccCurve::NistP256),
                SignatureSchemeAlgorithm::EcDsa,
            ),
            Self::Rsa2048 => (
                AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048),
                SignatureSchemeAlgorithm::RsaSsa,
            ),
        }
    }

    fn signature_algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::EccP256 => SignatureAlgorithm::EcdsaP256Sha256,
            Self::Rsa2048 => SignatureAlgorithm::RsaPkcs1v15_2048Sha256,
        }
    }
}

/// What `TPM2_Certify` produced, and what a verifier needs to check it.
#[derive(Debug, Clone)]
pub struct KeyAttestation {
    /// The marshalled `TPMS_ATTEST`.
    pub attest: Vec<u8>,
    /// The AK's signature over it: DER for ECDSA, raw for RSA.
    pub signature: Vec<u8>,
    /// The AK's public key.
    pub ak_key: PublicKey,
    /// The AK's `TPM2B_PUBLIC`.
    pub ak_public: Vec<u8>,
    /// The AK's `TPM2B_PRIVATE`, wrapped by the EK: only this TPM can load it.
    pub ak_private: Vec<u8>,
    /// The AK's TPM name.
    pub ak_name: Vec<u8>,
    /// The certified key's `TPM2B_PUBLIC`.
    pub key_public: Vec<u8>,
    /// The EK's public key.
    pub ek_key: PublicKey,
    /// The EK certificate (DER) from NV index `0x01c00002`, if the TPM has one.
    pub ek_certificate: Option<Vec<u8>>,
}

/// NV index of the RSA-2048 EK certificate (TCG EK Credential Profile).
pub const RSA_EK_CERTIFICATE_NV_INDEX: u32 = 0x01c0_0002;

const EK: AsymmetricAlgorithmSelection = AsymmetricAlgorithmSelection::Rsa(RsaKeyBits::Rsa2048);

fn tpm2b(body: &[u8]) -> Result<Vec<u8>> {
    let len = u16::try_from(body.len())
        .map_err(|_| TpmError::Unsupported(format!("a {}-byte TPM2B buffer", body.len())))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(body);
    Ok(out)
}

fn marshal_public(public: &Public) -> Result<Vec<u8>> {
    let body = public.marshall().map_err(|source| TpmError::Tpm {
        operation: "marshalling a public area",
        code: 0,
        source,
    })?;
    tpm2b(&body)
}

/// A DER certificate read from NV may be padded: keep its outer SEQUENCE only.
fn trim_der(bytes: &[u8]) -> Vec<u8> {
    let len = match bytes {
        [0x30, 0x82, hi, lo, ..] => 4 + usize::from(u16::from_be_bytes([*hi, *lo])),
        [0x30, 0x81, n, ..] => 3 + usize::from(*n),
        [0x30, n, ..] if *n < 0x80 => 2 + usize::from(*n),
        _ => bytes.len(),
    };
    bytes[..len.min(bytes.len())].to_vec()
}

fn create_ek(ctx: &mut Context, tcti: &Tcti) -> Result<KeyHandle> {
    ek::create_ek_object_2(ctx, EK, None)
        .map_err(|e| classify("creating the endorsement key", tcti.as_str(), e))
}

/// The EK certificate, or `None` when the TPM has none at the RSA EK index.
fn read_ek_certificate(ctx: &mut Context) -> Option<Vec<u8>> {
    use tss_esapi::constants::CapabilityType;
    use tss_esapi::structures::CapabilityData;
    // Ask first: reading a missing index makes libtss2 log errors.
    let (handles, _) = ctx
        .execute_without_session(|c| {
            c.get_capability(CapabilityType::Handles, RSA_EK_CERTIFICATE_NV_INDEX, 1)
        })
        .ok()?;
    let CapabilityData::Handles(list) = handles else { return None };
    if !list.iter().any(|h| u32::from(*h) == RSA_EK_CERTIFICATE_NV_INDEX) {
        return None;
    }
    // tss-esapi reads the whole index with the NV index's own (empty) auth value.
    ek::retrieve_ek_pubcert(ctx, EK).ok().map(|raw| trim_der(&raw))
}

/// Creates an AK under the EK and certifies `key` with it, putting `nonce` (at most 64 bytes)
/// in the attestation's `extraData`.
pub fn attest_key(
    tcti: &Tcti,
    key: AttestedKey<'_>,
    nonce: &[u8],
    ak_algorithm: AkAlgorithm,
) -> Result<KeyAttestation> {
    let qualifying = Data::try_from(nonce.to_vec()).map_err(|_| {
        TpmError::Unsupported(format!("a {}-byte nonce (at most 64 bytes)", nonce.len()))
    })?;
    let mut ctx = open_context(tcti)?;
    let ctx = &mut ctx;
    let classify = |operation, e| classify(operation, tcti.as_str(), e);

    let ek = create_ek(ctx, tcti)?;
    let (ek_public, _, _) = ctx.read_public(ek).map_err(|e| {
        flush(ctx, ek.into());
        classify("reading the endorsement key", e)
    })?;
    let (selection, scheme) = ak_algorithm.selection();
    let created = ak::create_ak_2(ctx, ek, HashingAlgorithm::Sha256, selection, scheme, None, None)
        .map_err(|e| classify("creating the attestation key", e));
    let loaded = created.and_then(|c| {
        ak::load_ak(ctx, ek, None, c.out_private.clone(), c.out_public.clone())
            .map(|handle| (c, handle))
            .map_err(|e| classify("loading the attestation key", e))
    });
    flush(ctx, ek.into());
    let (created, ak_handle) = loaded?;

    let result = certify(ctx, tcti, key, ak_handle, qualifying);
    flush(ctx, ak_handle.into());
    let (attest, tss_signature, key_public) = result?;

    let ak_public = marshal_public(&created.out_public)?;
    let ak_key = crate::template::public_key(&created.out_public)?;
    let ak_name = TpmPublic::parse_tpm2b(&ak_public)
        .map_err(|e| TpmError::Unsupported(format!("the AK's public area: {e}")))?
        .name();
    let signature = convert_signature(ak_algorithm.signature_algorithm(), &tss_signature)?;
    let ek_certificate = read_ek_certificate(ctx);
    Ok(KeyAttestation {
        attest,
        signature,
        ak_key,
        ak_public,
        ak_private: tpm2b(created.out_private.value())?,
        ak_name,
        key_public,
        ek_key: crate::template::public_key(&ek_public)?,
        ek_certificate,
    })
}

/// Loads `key` and has the AK certify it: the marshalled `TPMS_ATTEST`, the TPM's signature,
/// and the key's `TPM2B_PUBLIC`.
fn certify(
    ctx: &mut Context,
    tcti: &Tcti,
    key: AttestedKey<'_>,
    ak_handle: KeyHandle,
    qualifying: Data,
) -> Result<(Vec<u8>, tss_esapi::structures::Signature, Vec<u8>)> {
    let (handle, public, persistent) = match key {
        AttestedKey::File { key, auth } => {
            (load_key(ctx, tcti, key, auth)?, key.public().clone(), false)
        }
        AttestedKey::Persistent { handle, auth } => {
            let (h, public) = open_persistent(ctx, tcti, handle, auth)?;
            (h, public, true)
        }
    };
    let certified = ctx
        .execute_with_sessions(
            (Some(AuthSession::Password), Some(AuthSession::Password), None),
            |c| c.certify(handle.into(), ak_handle, qualifying, SignatureScheme::Null),
        )
        .map_err(|e| classify("certifying the key", tcti.as_str(), e));
    let mut object: ObjectHandle = handle.into();
    if persistent {
        let _ = ctx.tr_close(&mut object);
    } else {
        flush(ctx, object);
    }
    let (attest, signature) = certified?;
    let attest = attest.marshall().map_err(|source| TpmError::Tpm {
        operation: "marshalling the attestation",
        code: 0,
        source,
    })?;
    Ok((attest, signature, marshal_public(&public)?))
}

/// The AK's signature as proofmark's: DER for ECDSA, the raw value for RSA.
fn convert_signature(
    algorithm: SignatureAlgorithm,
    signature: &tss_esapi::structures::Signature,
) -> Result<Vec<u8>> {
    use tss_esapi::structures::Signature as Tss;
    let bad = |e: proofmark_types::SignatureError| TpmError::BadSignature(e.to_string());
    let converted = match signature {
        Tss::EcDsa(ecc) => {
            Signature::from_scalars(algorithm, ecc.signature_r().value(), ecc.signature_s().value())
                .map_err(bad)?
        }
        Tss::RsaSsa(rsa) => {
            let bytes = rsa.signature().value();
            let mut padded = vec![0u8; 256usize.saturating_sub(bytes.len())];
            padded.extend_from_slice(bytes);
            Signature::from_rsa(algorithm, &padded).map_err(bad)?
        }
        other => {
            return Err(TpmError::BadSignature(format!(
                "the AK signed with {:?}, not {algorithm}",
                other.algorithm()
            )));
        }
    };
    Ok(converted.into_bytes())
}

/// Answers a verifier's challenge: loads the AK (from [`KeyAttestation::ak_public`] and
/// [`KeyAttestation::ak_private`]) under the EK and recovers the credential's secret with
/// `TPM2_ActivateCredential`. The TPM releases it only if it holds the EK the credential was
/// made for and the loaded AK has the name it was made for.
pub fn activate_credential(
    tcti: &Tcti,
    ak_public: &[u8],
    ak_private: &[u8],
    credential: &Credential,
) -> Result<Vec<u8>> {
    let bad = |what: &str, e: String| TpmError::Unsupported(format!("{what}: {e}"));
    let public = crate::keyfile::public_from_tpm2b(ak_public).map_err(|e| bad("ak.pub", e))?;
    let private = crate::keyfile::private_from_tpm2b(ak_private).map_err(|e| bad("ak.priv", e))?;
    let id_object = IdObject::try_from(credential.id_object.clone())
        .map_err(|e| bad("the credential blob", e.to_string()))?;
    let secret = EncryptedSecret::try_from(credential.encrypted_secret.clone())
        .map_err(|e| bad("the credential's encrypted seed", e.to_string()))?;

    let mut ctx = open_context(tcti)?;
    let ctx = &mut ctx;
    let ek = create_ek(ctx, tcti)?;
    let ak_handle = match ak::load_ak(ctx, ek, None, private, public) {
        Ok(h) => h,
        Err(e) => {
            flush(ctx, ek.into());
            return Err(crate::error::classify_load(tcti.as_str(), e));
        }
    };
    let result = activate(ctx, tcti, ak_handle, ek, id_object, secret);
    flush(ctx, ak_handle.into());
    flush(ctx, ek.into());
    result
}

fn activate(
    ctx: &mut Context,
    tcti: &Tcti,
    ak_handle: KeyHandle,
    ek: KeyHandle,
    id_object: IdObject,
    secret: EncryptedSecret,
) -> Result<Vec<u8>> {
    let classify = |operation, e| classify(operation, tcti.as_str(), e);
    // The EK's policy is PolicySecret(TPM_RH_ENDORSEMENT): a policy session satisfies it.
    let session = ctx
        .start_auth_session(
            None,
            None,
            None,
            SessionType::Policy,
            SymmetricDefinition::AES_128_CFB,
            HashingAlgorithm::Sha256,
        )
        .map_err(|e| classify("starting a policy session", e))?
        .ok_or_else(|| TpmError::Unsupported("the TPM returned no policy session".to_owned()))?;
    let result = (|| {
        let (attributes, mask) =
            SessionAttributesBuilder::new().with_decrypt(true).with_encrypt(true).build();
        ctx.tr_sess_set_attributes(session, attributes, mask)
            .map_err(|e| classify("configuring the policy session", e))?;
        let policy = PolicySession::try_from(session)
            .map_err(|e| classify("configuring the policy session", e))?;
        ctx.execute_with_nullauth_session(|c| {
            c.policy_secret(
                policy,
                tss_esapi::handles::AuthHandle::Endorsement,
                Default::default(),
                Default::default(),
                Default::default(),
                None,
            )
        })
        .map_err(|e| classify("satisfying the endorsement key's policy", e))?;
        ctx.execute_with_sessions((Some(AuthSession::Password), Some(session), None), |c| {
            c.activate_credential(ak_handle, ek, id_object, secret)
        })
        .map_err(|e| classify("activating the credential", e))
    })();
    let _ = ctx.flush_context(SessionHandle::from(session).into());
    Ok(result?.value().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_padding_after_a_der_certificate() {
        assert_eq!(trim_der(&[0x30, 0x02, 1, 2, 0xff, 0xff]), vec![0x30, 0x02, 1, 2]);
        assert_eq!(trim_der(&[0x30, 0x82, 0, 1, 9, 0]), vec![0x30, 0x82, 0, 1, 9]);
        assert_eq!(trim_der(&[0x30, 0x82, 0, 9]), vec![0x30, 0x82, 0, 9]);
        assert_eq!(trim_der(&[]), Vec::<u8>::new());
    }
}
