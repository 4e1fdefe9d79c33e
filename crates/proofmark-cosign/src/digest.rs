//! `sha256:<hex>` content digests as strings, the way OCI spells them.

use sha2::Digest as _;

use crate::error::{Error, Result};

/// The OCI digest (`sha256:<hex>`) of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Checks that `digest` is `sha256:` followed by 64 lowercase hex digits and returns the hex.
pub fn digest_hex(digest: &str) -> Result<&str> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| Error::InvalidDigest(digest.into()))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Error::InvalidDigest(digest.into()));
    }
    Ok(hex)
}

/// Checks that `bytes` hash to `expected`.
pub(crate) fn check_digest(what: &str, expected: &str, bytes: &[u8]) -> Result<()> {
    let actual = sha256_digest(bytes);
    if actual != expected {
        return Err(Error::DigestMismatch { what: what.into(), expected: expected.into(), actual });
    }
    Ok(())
}

/// The tag cosign stores an image's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(image_digest: &str) -> Result<String> {
    Ok(format!("sha256-{}.sig", digest_hex(image_digest)?))
}

/// Whether `tag` names something cosign attaches to an image (`sha256-<hex>.sig`, `.att`,
/// `.sbom`, …, or the referrers tag schema index `sha256-<hex>`) rather than an image.
pub fn is_attachment_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("sha256-") else { return false };
    match rest.split_once('.') {
        Some((hex, suffix)) => digest_hex(&format!("sha256:{hex}")).is_ok() && !suffix.is_empty(),
        None => digest_hex(&format!("sha256:{rest}")).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_validation() {
        let d = sha256_digest(b"");
        assert_eq!(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            signature_tag(&d).unwrap(),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
        for bad in ["sha256:abc", "sha512:00", "e3b0", &d.to_uppercase()] {
            assert!(matches!(digest_hex(bad), Err(Error::InvalidDigest(_))), "{bad}");
        }
        assert!(matches!(check_digest("x", &d, b"a"), Err(Error::DigestMismatch { .. })));
        let hex = digest_hex(&d).unwrap();
        for tag in
            [format!("sha256-{hex}.sig"), format!("sha256-{hex}.att"), format!("sha256-{hex}")]
        {
            assert!(is_attachment_tag(&tag), "{tag}");
        }
        for tag in ["v1", "sha256-abc.sig", "sha256-abc", &format!("sha256-{hex}.")] {
            assert!(!is_attachment_tag(tag), "{tag}");
        }
    }
}
