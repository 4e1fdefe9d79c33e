//! [`AuthValue`]: a key's auth value, zeroised on drop and never printed.

use std::fmt;

use zeroize::Zeroizing;

use crate::error::{Result, TpmError};

/// The largest auth value we accept: the size of a SHA-256 digest, the key's name algorithm
/// (TPM 2.0 Part 1 §19.6.4.3 limits auth values to the name algorithm's digest size).
pub const MAX_AUTH_LEN: usize = 32;

/// A key's auth value (password). Zeroised on drop; `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthValue(Zeroizing<Vec<u8>>);

impl AuthValue {
    /// Wraps `bytes`; at most [`MAX_AUTH_LEN`] bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = Zeroizing::new(bytes.into());
        if bytes.len() > MAX_AUTH_LEN {
            return Err(TpmError::Unsupported(format!(
                "auth values are at most {MAX_AUTH_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Self(bytes))
    }

    /// A fresh random 32-byte value from the operating system's generator.
    pub fn random() -> Result<Self> {
        use rand_core::RngCore as _;
        let mut bytes = Zeroizing::new(vec![0u8; MAX_AUTH_LEN]);
        rand_core::OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
            TpmError::Unsupported(format!("no operating-system random generator: {e}"))
        })?;
        Ok(Self(bytes))
    }

    /// The secret bytes.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn to_tss(&self) -> Result<tss_esapi::structures::Auth> {
        tss_esapi::structures::Auth::try_from(self.0.as_slice()).map_err(|source| TpmError::Tpm {
            operation: "auth value",
            code: 0,
            source,
        })
    }
}

impl fmt::Debug for AuthValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthValue(<{} bytes redacted>)", self.0.len())
    }
}

/// How a new key is authorised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KeyAuth {
    /// No auth value (anyone who can load the key file may use it). The key is `noDA`.
    None,
    /// A random 32-byte auth value, stored in the key file (mode 0600). The key is `noDA`: a
    /// wrong value cannot be guessed, so failures must not lock the TPM out.
    #[default]
    Random,
    /// A value the user chooses and supplies at every load; not stored. The key keeps
    /// dictionary-attack protection.
    User(AuthValue),
}

impl KeyAuth {
    /// Whether keys created with this choice carry the `noDA` attribute.
    #[must_use]
    pub fn no_da(&self) -> bool {
        !matches!(self, Self::User(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_secret() {
        let auth = AuthValue::new(b"hunter2".to_vec()).unwrap();
        assert_eq!(format!("{auth:?}"), "AuthValue(<7 bytes redacted>)");
        let key = KeyAuth::User(auth);
        assert!(!format!("{key:?}").contains("hunter2"));
        assert!(AuthValue::new(vec![0; 33]).is_err());
        assert_eq!(AuthValue::random().unwrap().expose().len(), 32);
    }
}
