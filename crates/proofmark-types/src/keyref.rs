//! [`KeyRef`]: where a signing key lives, parsed from a string such as `tpm:0x81000001`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The lowest TPM persistent handle, `0x81000000`.
pub const PERSISTENT_HANDLE_MIN: u32 = 0x8100_0000;
/// The highest TPM persistent handle, `0x81FFFFFF`.
pub const PERSISTENT_HANDLE_MAX: u32 = 0x81FF_FFFF;

/// A TPM 2.0 persistent object handle, always within
/// [`PERSISTENT_HANDLE_MIN`]`..=`[`PERSISTENT_HANDLE_MAX`].
///
/// Displays and parses as `0x` followed by exactly 8 hex digits (`0x81000001`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersistentHandle(u32);

/// Why a string or number is not a TPM persistent handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersistentHandleError {
    /// No `0x` prefix.
    #[error("a persistent handle starts with 0x")]
    MissingPrefix,
    /// The digits after `0x` are not hexadecimal.
    #[error("`{0}` is not hexadecimal")]
    NotHex(String),
    /// Not exactly 8 hex digits after `0x`.
    #[error("expected exactly 8 hex digits after 0x, got {0}")]
    WrongDigitCount(usize),
    /// A valid handle, but not in the persistent range.
    #[error("0x{0:08x} is not a persistent handle; persistent handles are 0x81000000..=0x81ffffff")]
    OutOfRange(u32),
}

impl PersistentHandle {
    /// Checks that `value` is in the persistent range.
    pub const fn new(value: u32) -> Result<Self, PersistentHandleError> {
        if value >= PERSISTENT_HANDLE_MIN && value <= PERSISTENT_HANDLE_MAX {
            Ok(Self(value))
        } else {
            Err(PersistentHandleError::OutOfRange(value))
        }
    }

    /// The raw handle value.
    #[must_use]
    pub const fn value(self) -> u32 {
        self.0
    }

    /// The TCG range this handle lies in when that range is not the owner's to use, per the TCG
    /// *Registry of Reserved TPM 2.0 Handles and Localities*: endorsement primary keys
    /// (`0x81010000..=0x8101FFFF`, e.g. the EK at `0x81010001`) or the platform
    /// (`0x81800000..=0x81FFFFFF`). Evicting such a key can break attestation or the platform;
    /// putting a key there confuses the tools that look for EKs.
    #[must_use]
    pub const fn reserved_range(self) -> Option<ReservedRange> {
        match self.0 {
            0x8101_0000..=0x8101_FFFF => Some(ReservedRange::Endorsement),
            0x8180_0000..=0x81FF_FFFF => Some(ReservedRange::Platform),
            _ => None,
        }
    }
}

/// A range of persistent handles the TCG reserves for keys other than the owner's; see
/// [`PersistentHandle::reserved_range`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReservedRange {
    /// `0x81010000..=0x8101FFFF`: endorsement primary keys (EKs).
    Endorsement,
    /// `0x81800000..=0x81FFFFFF`: keys of the platform (firmware).
    Platform,
}

impl fmt::Display for ReservedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Endorsement => {
                "0x81010000..=0x8101ffff, which the TCG reserves for endorsement keys"
            }
            Self::Platform => "0x81800000..=0x81ffffff, which the TCG reserves for the platform",
        })
    }
}

impl From<PersistentHandle> for u32 {
    fn from(h: PersistentHandle) -> u32 {
        h.0
    }
}

impl TryFrom<u32> for PersistentHandle {
    type Error = PersistentHandleError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl fmt::Display for PersistentHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0)
    }
}

impl FromStr for PersistentHandle {
    type Err = PersistentHandleError;

    /// Parses `0x` (or `0X`) and exactly 8 hex digits of either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or(PersistentHandleError::MissingPrefix)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PersistentHandleError::NotHex(digits.to_owned()));
        }
        if digits.len() != 8 {
            return Err(PersistentHandleError::WrongDigitCount(digits.len()));
        }
        let value = u32::from_str_radix(digits, 16)
            .map_err(|_| PersistentHandleError::NotHex(digits.to_owned()))?;
        Self::new(value)
    }
}

/// A provider of the Parsec service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ParsecProvider {
    /// The TPM provider (`tpm`).
    Tpm,
    /// The Mbed Crypto software provider (`mbed-crypto`).
    MbedCrypto,
    /// The PKCS#11 provider (`pkcs11`).
    Pkcs11,
}

impl ParsecProvider {
    /// Every provider.
    pub const ALL: [ParsecProvider; 3] = [Self::Tpm, Self::MbedCrypto, Self::Pkcs11];

    /// The name used in `?provider=`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tpm => "tpm",
            Self::MbedCrypto => "mbed-crypto",
            Self::Pkcs11 => "pkcs11",
        }
    }
}

impl fmt::Display for ParsecProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown Parsec provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Parsec provider `{0}`; valid providers are tpm, mbed-crypto, pkcs11")]
pub struct UnknownParsecProvider(pub String);

impl FromStr for ParsecProvider {
    type Err = UnknownParsecProvider;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownParsecProvider(s.to_owned()))
    }
}

/// A reference to a signing key.
///
/// # Grammar
///
/// | form | meaning |
/// | --- | --- |
/// | `PATH` | a key file, as cosign reads `--key PATH` ([`KeyRef::File`]) |
/// | `file:PATH` | the same, explicitly ([`KeyRef::File`]) |
/// | `tpm:PATH` or `tpm://PATH` | a TPM key blob file, loaded under the storage primary key ([`KeyRef::TpmKeyFile`]) |
/// | `tpm:0xHHHHHHHH` or `tpm://0xHHHHHHHH` | a TPM persistent handle, `0x81000000..=0x81FFFFFF`, exactly 8 hex digits ([`KeyRef::TpmPersistent`]) |
/// | `parsec://NAME[?provider=P]` | a key held by the Parsec service; `P` is `tpm`, `mbed-crypto` or `pkcs11` ([`KeyRef::Parsec`]) |
///
/// Every proofmark command reads its `--key` with this one grammar: what the key file holds
/// (a private key, a public key, a cosign key) is the command's business, not the reference's.
///
/// Details and decisions:
///
/// * Schemes are case-sensitive and must be written in lowercase.
/// * A string with no scheme is a path. Something that looks like a scheme (`gpg:…`, `FILE:…`,
///   `awskms://…`: letters, digits, `+`, `-`, `.` before a `:`) is refused as an unknown scheme
///   rather than read as a file, so a typo is not mistaken for a missing file; a file whose
///   name holds a `:` is written `file:NAME` or `./NAME`.
/// * `tpm://REST` means `tpm:REST`, as cosign's KMS plugin convention writes it
///   (`tpm:///abs/key.json`, `tpm://key.json`, `tpm://0x81000010`).
/// * `PATH` is taken verbatim (a plain path, not a URL: no percent-decoding). It must not be empty;
///   after `file:` it must not start with `//`, which is almost always a mistaken `file://` URL;
///   write `file:/abs/path` or `file:relative/path`.
/// * After `tpm:`, anything starting with `0x` or `0X` is a handle, never a path: a key file whose
///   name starts with `0x` is written `tpm:./0x…`. Hex digits may be either case; the canonical
///   ([`Display`](fmt::Display)) form is lowercase.
/// * A Parsec key `NAME` is percent-encoded (RFC 3986): `%XX` sequences are decoded to bytes
///   which must form UTF-8, so a name may hold any character (`/`, `?`, `#`, `%`, spaces, …).
///   Raw `?` ends the name, and raw `#` is rejected (it would be a URL fragment). On output every
///   byte other than the unreserved characters `A–Z a–z 0–9 - . _ ~` is written as `%XX` with
///   uppercase hex.
/// * The only query parameter is `provider`, given at most once.
///
/// # Round trips
///
/// `s.parse::<KeyRef>()?.to_string().parse()` always gives back the same [`KeyRef`], and
/// `k.to_string().parse() == Ok(k)` for every `KeyRef` whose paths are UTF-8 (paths are
/// displayed lossily otherwise). A string that is already canonical (lowercase handle digits,
/// the percent-encoding above) is displayed exactly as it was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyRef {
    /// `PATH` or `file:PATH`: a key file on disk (a PKCS#8 or cosign private key, or, where
    /// only the public key is needed, a public key).
    File(PathBuf),
    /// `tpm:PATH`: a TPM key blob on disk, loaded into the TPM before use.
    TpmKeyFile(PathBuf),
    /// `tpm:0x81xxxxxx`: a key persisted in the TPM.
    TpmPersistent(PersistentHandle),
    /// `parsec://NAME[?provider=P]`: a key held by the Parsec service.
    Parsec {
        /// The key name (decoded; may contain any character).
        name: String,
        /// The provider; `None` means Parsec's default provider.
        provider: Option<ParsecProvider>,
    },
}

/// Why a string is not a valid [`KeyRef`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRefError {
    /// The string is empty.
    #[error(
        "empty key reference; expected PATH, file:PATH, tpm:PATH, tpm:0x81xxxxxx or parsec://NAME"
    )]
    Empty,
    /// A scheme we do not know.
    #[error(
        "unknown key reference scheme `{0}:`; known schemes are file:, tpm:, parsec:// (a key \
         file whose name holds `:` is written file:NAME or ./NAME)"
    )]
    UnknownScheme(String),
    /// `file:` or `tpm:` with nothing after it.
    #[error("empty path after `{0}:`")]
    EmptyPath(&'static str),
    /// A path starting with `//`, i.e. a `file://` URL.
    #[error(
        "`{scheme}:{path}` looks like a URL; `{scheme}:` takes a plain path such as {scheme}:/abs/key or {scheme}:relative/key"
    )]
    UrlStylePath {
        /// `file` or `tpm`.
        scheme: &'static str,
        /// The path as written.
        path: String,
    },
    /// `tpm:0x…` that is not a valid persistent handle.
    #[error("bad TPM persistent handle `{handle}`: {reason}")]
    BadHandle {
        /// The handle as written.
        handle: String,
        /// What is wrong with it (already part of the message, so not a `source`).
        reason: PersistentHandleError,
    },
    /// `parsec:` not followed by `//`.
    #[error("a Parsec key reference is written parsec://NAME, got `{0}`")]
    ParsecMissingSlashes(String),
    /// `parsec://` with an empty key name.
    #[error("empty Parsec key name in `{0}`")]
    EmptyParsecName(String),
    /// A `%` not followed by two hex digits.
    #[error(
        "bad percent-encoding in Parsec key name `{name}` at byte {offset}: `%` must be followed by two hex digits"
    )]
    BadPercentEncoding {
        /// The name as written.
        name: String,
        /// Byte offset of the `%` in the name.
        offset: usize,
    },
    /// Percent-decoding gave bytes that are not UTF-8.
    #[error("Parsec key name `{0}` does not decode to UTF-8")]
    NonUtf8ParsecName(String),
    /// A raw `#` in a Parsec reference.
    #[error("`#` is not allowed in a Parsec key reference (`{0}`); percent-encode it as %23")]
    Fragment(String),
    /// `?` with nothing after it.
    #[error("empty query after `?` in `{0}`; expected ?provider=tpm|mbed-crypto|pkcs11")]
    EmptyQuery(String),
    /// A query parameter that is not `key=value`.
    #[error("malformed query parameter `{0}`; expected provider=tpm|mbed-crypto|pkcs11")]
    MalformedQuery(String),
    /// A query key other than `provider`.
    #[error("unknown query parameter `{0}`; the only known parameter is provider")]
    UnknownQueryKey(String),
    /// An unknown provider value.
    #[error(transparent)]
    UnknownProvider(#[from] UnknownParsecProvider),
    /// `provider` given more than once.
    #[error("the provider parameter is given more than once")]
    DuplicateProvider,
}

impl KeyRef {
    /// The schemes this type understands, as written in key references.
    pub const KNOWN_SCHEMES: [&'static str; 3] = ["file:", "tpm:", "parsec://"];

    /// The scheme name: `file`, `tpm` or `parsec`.
    #[must_use]
    pub const fn scheme(&self) -> &'static str {
        match self {
            Self::File(_) => "file",
            Self::TpmKeyFile(_) | Self::TpmPersistent(_) => "tpm",
            Self::Parsec { .. } => "parsec",
        }
    }
}

fn parse_path(scheme: &'static str, rest: &str) -> Result<PathBuf, KeyRefError> {
    if rest.is_empty() {
        return Err(KeyRefError::EmptyPath(scheme));
    }
    if rest.starts_with("//") {
        return Err(KeyRefError::UrlStylePath { scheme, path: rest.to_owned() });
    }
    Ok(PathBuf::from(rest))
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(name: &str) -> Result<String, KeyRefError> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_val);
            let lo = bytes.get(i + 2).copied().and_then(hex_val);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => {
                    return Err(KeyRefError::BadPercentEncoding {
                        name: name.to_owned(),
                        offset: i,
                    });
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| KeyRefError::NonUtf8ParsecName(name.to_owned()))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode(name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for &b in name.as_bytes() {
        if is_unreserved(b) {
            fmt::Write::write_char(f, char::from(b))?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

fn parse_parsec(input: &str, rest: &str) -> Result<KeyRef, KeyRefError> {
    if rest.contains('#') {
        return Err(KeyRefError::Fragment(input.to_owned()));
    }
    let (raw_name, query) = match rest.split_once('?') {
        Some((name, query)) => (name, Some(query)),
        None => (rest, None),
    };
    let name = percent_decode(raw_name)?;
    if name.is_empty() {
        return Err(KeyRefError::EmptyParsecName(input.to_owned()));
    }
    let mut provider = None;
    if let Some(query) = query {
        if query.is_empty() {
            return Err(KeyRefError::EmptyQuery(input.to_owned()));
        }
        for param in query.split('&') {
            let (key, value) = param
                .split_once('=')
                .ok_or_else(|| KeyRefError::MalformedQuery(param.to_owned()))?;
            if key != "provider" {
                return Err(KeyRefError::UnknownQueryKey(key.to_owned()));
            }
            if provider.is_some() {
                return Err(KeyRefError::DuplicateProvider);
            }
            provider = Some(value.parse::<ParsecProvider>()?);
        }
    }
    Ok(KeyRef::Parsec { name, provider })
}

impl FromStr for KeyRef {
    type Err = KeyRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(KeyRefError::Empty);
        }
        if let Some(rest) = s.strip_prefix("file:") {
            return parse_path("file", rest).map(Self::File);
        }
        if let Some(rest) = s.strip_prefix("tpm:") {
            // `tpm://REST` is `tpm:REST` (cosign's plugin form); `tpm:///abs` keeps its `/`.
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.starts_with("0x") || rest.starts_with("0X") {
                return rest
                    .parse()
                    .map(Self::TpmPersistent)
                    .map_err(|reason| KeyRefError::BadHandle { handle: rest.to_owned(), reason });
            }
            return parse_path("tpm", rest).map(Self::TpmKeyFile);
        }
        if let Some(rest) = s.strip_prefix("parsec:") {
            let rest = rest
                .strip_prefix("//")
                .ok_or_else(|| KeyRefError::ParsecMissingSlashes(s.to_owned()))?;
            return parse_parsec(s, rest);
        }
        match s.split_once(':') {
            // An RFC 3986 scheme: a letter, then letters, digits, `+`, `-`, `.`.
            Some((scheme, _))
                if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                Err(KeyRefError::UnknownScheme(scheme.to_owned()))
            }
            // No scheme: a path, as cosign reads `--key`.
            _ => Ok(Self::File(PathBuf::from(s))),
        }
    }
}

fn write_path(f: &mut fmt::Formatter<'_>, scheme: &str, path: &Path) -> fmt::Result {
    let text = path.to_string_lossy();
    // A schemeless `//x` is a file path, but `file://x` would read back as a URL. Repeated
    // leading slashes name the same path (`Path` compares components), so write one.
    if text.starts_with("//") {
        return write!(f, "{scheme}:/{}", text.trim_start_matches('/'));
    }
    write!(f, "{scheme}:{text}")
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write_path(f, "file", path),
            Self::TpmKeyFile(path) => write_path(f, "tpm", path),
            Self::TpmPersistent(handle) => write!(f, "tpm:{handle}"),
            Self::Parsec { name, provider } => {
                f.write_str("parsec://")?;
                percent_encode(name, f)?;
                if let Some(provider) = provider {
                    write!(f, "?provider={provider}")?;
                }
                Ok(())
            }
        }
    }
}

crate::serde_str::impl_serde_via_str!(
    KeyRef,
    "a key reference such as file:PATH, tpm:0x81000001 or parsec://NAME"
);
crate::serde_str::impl_serde_via_str!(
    ParsecProvider,
    "a Parsec provider name: tpm, mbed-crypto or pkcs11"
);
crate::serde_str::impl_serde_via_str!(
    PersistentHandle,
    "a TPM persistent handle such as 0x81000001"
);

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> KeyRefError {
        s.parse::<KeyRef>().unwrap_err()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!("file:key.pem".parse(), Ok(KeyRef::File("key.pem".into())));
        assert_eq!("file:/a b/k.pem".parse(), Ok(KeyRef::File("/a b/k.pem".into())));
        assert_eq!("key.pem".parse(), Ok(KeyRef::File("key.pem".into())), "a bare path");
        assert_eq!("/etc/key:1".parse(), Ok(KeyRef::File("/etc/key:1".into())));
        assert_eq!("./a:b".parse(), Ok(KeyRef::File("./a:b".into())));
        assert_eq!("cosign.key".parse(), Ok(KeyRef::File("cosign.key".into())));
        assert_eq!("tpm:keys/k.ctx".parse(), Ok(KeyRef::TpmKeyFile("keys/k.ctx".into())));
        assert_eq!("tpm://keys/k.ctx".parse(), Ok(KeyRef::TpmKeyFile("keys/k.ctx".into())));
        assert_eq!("tpm:///abs/k.ctx".parse(), Ok(KeyRef::TpmKeyFile("/abs/k.ctx".into())));
        assert_eq!(
            "tpm://0x81000010".parse(),
            Ok(KeyRef::TpmPersistent(PersistentHandle::new(0x8100_0010).unwrap()))
        );
        assert_eq!("tpm:./0x81000001".parse(), Ok(KeyRef::TpmKeyFile("./0x81000001".into())));
        assert_eq!(
            "tpm:0x81000001".parse(),
            Ok(KeyRef::TpmPersistent(PersistentHandle::new(0x8100_0001).unwrap()))
        );
        assert_eq!(
            "tpm:0X81ABCDEF".parse::<KeyRef>().unwrap().to_string(),
            "tpm:0x81abcdef",
            "handles are displayed in lowercase"
        );
        assert_eq!(
            "parsec://signing-key".parse(),
            Ok(KeyRef::Parsec { name: "signing-key".into(), provider: None })
        );
        assert_eq!(
            "parsec://k?provider=mbed-crypto".parse(),
            Ok(KeyRef::Parsec { name: "k".into(), provider: Some(ParsecProvider::MbedCrypto) })
        );
        assert_eq!(
            "parsec://a%2Fb%20c%23%3F%25%C3%A9".parse(),
            Ok(KeyRef::Parsec { name: "a/b c#?%é".into(), provider: None })
        );
        assert_eq!(
            "parsec://a b/é?provider=tpm".parse::<KeyRef>().unwrap().to_string(),
            "parsec://a%20b%2F%C3%A9?provider=tpm"
        );
    }

    #[test]
    fn canonical_strings_display_unchanged() {
        for s in [
            "file:key.pem",
            "tpm:/var/lib/k.ctx",
            "tpm:0x81000000",
            "tpm:0x81ffffff",
            "parsec://k",
            "parsec://k?provider=tpm",
            "parsec://k%3Fx?provider=pkcs11",
        ] {
            assert_eq!(s.parse::<KeyRef>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn schemeless_double_slash_path_reads_back() {
        // Found by the round-trip property test: `//` once displayed as `file://`, a URL.
        for s in ["//", "//etc/k.pem", "///k"] {
            let k = s.parse::<KeyRef>().unwrap();
            assert_eq!(k.to_string().parse::<KeyRef>(), Ok(k.clone()), "{s}");
            assert!(k.to_string().starts_with("file:/") && !k.to_string().starts_with("file://"));
        }
    }

    #[test]
    fn every_malformed_form_has_its_own_error() {
        assert_eq!(err(""), KeyRefError::Empty);
        assert_eq!(err("pkcs11:token=x"), KeyRefError::UnknownScheme("pkcs11".into()));
        assert_eq!(err("FILE:x"), KeyRefError::UnknownScheme("FILE".into()));
        assert_eq!(err("file:"), KeyRefError::EmptyPath("file"));
        assert_eq!(err("tpm:"), KeyRefError::EmptyPath("tpm"));
        assert_eq!(err("tpm://"), KeyRefError::EmptyPath("tpm"));
        assert_eq!(err("gpg:abc"), KeyRefError::UnknownScheme("gpg".into()));
        assert_eq!(err("awskms://k"), KeyRefError::UnknownScheme("awskms".into()));
        assert!(matches!(err("file:///k.pem"), KeyRefError::UrlStylePath { scheme: "file", .. }));
        assert!(matches!(
            err("tpm:0x8100000"),
            KeyRefError::BadHandle { reason: PersistentHandleError::WrongDigitCount(7), .. }
        ));
        assert!(matches!(
            err("tpm:0x81zz0000"),
            KeyRefError::BadHandle { reason: PersistentHandleError::NotHex(_), .. }
        ));
        assert!(matches!(
            err("tpm:0x"),
            KeyRefError::BadHandle { reason: PersistentHandleError::NotHex(_), .. }
        ));
        assert!(matches!(
            err("tpm:0x80000001"),
            KeyRefError::BadHandle { reason: PersistentHandleError::OutOfRange(0x8000_0001), .. }
        ));
        assert!(matches!(
            err("tpm:0x82000000"),
            KeyRefError::BadHandle { reason: PersistentHandleError::OutOfRange(_), .. }
        ));
        assert!(matches!(err("parsec:k"), KeyRefError::ParsecMissingSlashes(_)));
        assert!(matches!(err("parsec://"), KeyRefError::EmptyParsecName(_)));
        assert!(matches!(err("parsec://?provider=tpm"), KeyRefError::EmptyParsecName(_)));
        assert!(matches!(err("parsec://a%2"), KeyRefError::BadPercentEncoding { offset: 1, .. }));
        assert!(matches!(err("parsec://a%zz"), KeyRefError::BadPercentEncoding { .. }));
        assert!(matches!(err("parsec://%FF"), KeyRefError::NonUtf8ParsecName(_)));
        assert!(matches!(err("parsec://k#x"), KeyRefError::Fragment(_)));
        assert!(matches!(err("parsec://k?"), KeyRefError::EmptyQuery(_)));
        assert_eq!(err("parsec://k?provider"), KeyRefError::MalformedQuery("provider".into()));
        assert_eq!(err("parsec://k?provider=tpm&"), KeyRefError::MalformedQuery(String::new()));
        assert_eq!(err("parsec://k?slot=1"), KeyRefError::UnknownQueryKey("slot".into()));
        assert_eq!(
            err("parsec://k?provider=hsm"),
            KeyRefError::UnknownProvider(UnknownParsecProvider("hsm".into()))
        );
        assert_eq!(err("parsec://k?provider=tpm&provider=tpm"), KeyRefError::DuplicateProvider);
    }

    #[test]
    fn messages_are_specific() {
        let msg = |s: &str| err(s).to_string();
        assert!(msg("ssh:x").contains("file:, tpm:, parsec://"));
        assert!(msg("parsec://k?provider=hsm").contains("tpm, mbed-crypto, pkcs11"));
        assert_eq!(
            msg("tpm:0x01000000"),
            "bad TPM persistent handle `0x01000000`: 0x01000000 is not a persistent handle; \
             persistent handles are 0x81000000..=0x81ffffff"
        );
    }

    #[test]
    fn error_messages() {
        let inputs = [
            "",
            "pkcs11:token=x",
            "file:",
            "file:///k.pem",
            "tpm:0x8100000",
            "tpm:0x81zz0000",
            "tpm:0x01000000",
            "parsec:k",
            "parsec://",
            "parsec://a%2",
            "parsec://%FF",
            "parsec://k#x",
            "parsec://k?",
            "parsec://k?provider",
            "parsec://k?slot=1",
            "parsec://k?provider=hsm",
            "parsec://k?provider=tpm&provider=pkcs11",
        ];
        let actual: String = inputs
            .iter()
            .map(|s| format!("{s:?}: {}\n", s.parse::<KeyRef>().unwrap_err()))
            .collect();
        expect_test::expect![[r#"
            "": empty key reference; expected PATH, file:PATH, tpm:PATH, tpm:0x81xxxxxx or parsec://NAME
            "pkcs11:token=x": unknown key reference scheme `pkcs11:`; known schemes are file:, tpm:, parsec:// (a key file whose name holds `:` is written file:NAME or ./NAME)
            "file:": empty path after `file:`
            "file:///k.pem": `file:///k.pem` looks like a URL; `file:` takes a plain path such as file:/abs/key or file:relative/key
            "tpm:0x8100000": bad TPM persistent handle `0x8100000`: expected exactly 8 hex digits after 0x, got 7
            "tpm:0x81zz0000": bad TPM persistent handle `0x81zz0000`: `81zz0000` is not hexadecimal
            "tpm:0x01000000": bad TPM persistent handle `0x01000000`: 0x01000000 is not a persistent handle; persistent handles are 0x81000000..=0x81ffffff
            "parsec:k": a Parsec key reference is written parsec://NAME, got `parsec:k`
            "parsec://": empty Parsec key name in `parsec://`
            "parsec://a%2": bad percent-encoding in Parsec key name `a%2` at byte 1: `%` must be followed by two hex digits
            "parsec://%FF": Parsec key name `%FF` does not decode to UTF-8
            "parsec://k#x": `#` is not allowed in a Parsec key reference (`parsec://k#x`); percent-encode it as %23
            "parsec://k?": empty query after `?` in `parsec://k?`; expected ?provider=tpm|mbed-crypto|pkcs11
            "parsec://k?provider": malformed query parameter `provider`; expected provider=tpm|mbed-crypto|pkcs11
            "parsec://k?slot=1": unknown query parameter `slot`; the only known parameter is provider
            "parsec://k?provider=hsm": unknown Parsec provider `hsm`; valid providers are tpm, mbed-crypto, pkcs11
            "parsec://k?provider=tpm&provider=pkcs11": the provider parameter is given more than once
        "#]].assert_eq(&actual);
    }

    #[test]
    fn reserved_ranges() {
        let range = |v: u32| PersistentHandle::new(v).unwrap().reserved_range();
        assert_eq!(range(0x8100_0001), None);
        assert_eq!(range(0x8100_ffff), None);
        assert_eq!(range(0x8101_0000), Some(ReservedRange::Endorsement));
        assert_eq!(range(0x8101_0001), Some(ReservedRange::Endorsement));
        assert_eq!(range(0x8101_ffff), Some(ReservedRange::Endorsement));
        assert_eq!(range(0x8102_0000), None);
        assert_eq!(range(0x817f_ffff), None);
        assert_eq!(range(0x8180_0000), Some(ReservedRange::Platform));
        assert_eq!(range(0x81ff_ffff), Some(ReservedRange::Platform));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let k: KeyRef = "parsec://k?provider=tpm".parse().unwrap();
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#""parsec://k?provider=tpm""#);
        assert_eq!(serde_json::from_str::<KeyRef>(&json).unwrap(), k);
        let e = serde_json::from_str::<KeyRef>(r#""tpm:0x1""#).unwrap_err().to_string();
        assert!(e.contains("bad TPM persistent handle"), "{e}");
    }
}
