//! `sigstore-kms-tpm`: the sigstore KMS plugin that lets cosign sign with TPM keys.
//!
//! cosign splits `--key tpm://REST` at the first `://` and runs `sigstore-kms-tpm` (found on
//! `PATH`) with `REST` as the key resource ID, which names the key:
//!
//! | key reference | key resource ID | key |
//! | --- | --- | --- |
//! | `tpm:///abs/key.json` | `/abs/key.json` | a proofmark TPM key file |
//! | `tpm://key.json` | `key.json` | a key file relative to cosign's working directory |
//! | `tpm://0x81000010` | `0x81000010` | a key persisted at that handle (exactly 8 hex digits) |
//!
//! The TPM is the TCTI in `TPM2TOOLS_TCTI`, else `TCTI`, else `device:/dev/tpmrm0` (e.g.
//! `TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2321`).
//!
//! `createKey` (`cosign generate-key-pair --kms tpm://…`) makes a non-exportable key under the
//! ECC P-256 storage primary. For a path it writes a key file there (refusing to overwrite one)
//! holding a random auth value, and nothing else; for a handle
//! it persists the key there with an empty auth value, since nothing would keep a random one.
//! The protocol itself is `proofmark_parsec::kms`.

use proofmark_parsec::kms::KmsBackend;
use proofmark_tpm::{KeyAuth, ParentTemplate, Tcti, Tpm, TpmSigner};
use proofmark_types::{KeyRef, PublicKey, SignatureAlgorithm, Signer};

/// The TPM backend: key resource IDs are key-file paths or persistent handles.
#[derive(Debug)]
struct TpmKms;

impl TpmKms {
    fn key_ref(key_resource_id: &str) -> Result<KeyRef, String> {
        format!("tpm:{key_resource_id}").parse().map_err(|e| {
            format!(
                "key `tpm://{key_resource_id}`: {e}; expected tpm://PATH (a key file) or \
                 tpm://0x81xxxxxx (a persistent handle)"
            )
        })
    }

    fn tcti() -> Result<Tcti, Box<dyn std::error::Error>> {
        Ok(Tcti::from_env()?)
    }
}

impl KmsBackend for TpmKms {
    fn create_key(
        &self,
        key_resource_id: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<PublicKey, Box<dyn std::error::Error>> {
        let key_ref = Self::key_ref(key_resource_id)?;
        let tcti = Self::tcti()?;
        match key_ref {
            KeyRef::TpmKeyFile(path) => {
                // A key file is the only copy of its key: never replace one.
                if path.exists() {
                    return Err(
                        format!("{} already exists; not overwriting it", path.display()).into()
                    );
                }
                let mut tpm = Tpm::connect(&tcti)?;
                let key = tpm.create_key(algorithm, ParentTemplate::EccP256, &KeyAuth::Random)?;
                key.create(&path)?;
                Ok(key.public_key()?)
            }
            KeyRef::TpmPersistent(handle) => {
                let mut tpm = Tpm::connect(&tcti)?;
                let key = tpm.create_key(algorithm, ParentTemplate::EccP256, &KeyAuth::None)?;
                tpm.persist(&key, handle)?;
                Ok(key.public_key()?)
            }
            other => Err(format!("`{other}` is not a TPM key").into()),
        }
    }

    fn signer(&self, key_resource_id: &str) -> Result<Box<dyn Signer>, Box<dyn std::error::Error>> {
        let key_ref = Self::key_ref(key_resource_id)?;
        let tcti = Self::tcti()?;
        Ok(Box::new(TpmSigner::open_key_ref(&tcti, &key_ref, None)?))
    }
}

fn main() -> std::process::ExitCode {
    proofmark_parsec::kms::run_plugin(&TpmKms)
}
