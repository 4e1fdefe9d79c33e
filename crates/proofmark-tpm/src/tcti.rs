//! [`Tcti`]: which TPM to talk to, from configuration or the environment.
//!
//! Accepted forms (the tpm2-tools syntax, restricted to what tss-esapi 7.x really honours):
//!
//! | form | transport |
//! | --- | --- |
//! | `device[:PATH]` | a TPM character device; `device:/dev/tpmrm0` (kernel resource manager) is the default |
//! | `swtpm[:host=H,port=P]` | swtpm over TCP (control channel on `P + 1`) |
//! | `mssim[:host=H,port=P]` | the Microsoft/IBM simulator protocol over TCP |
//! | `tabrmd[:bus_name=N,bus_type=system\|session]` | the tpm2-abrmd resource manager over D-Bus |
//!
//! `swtpm:path=…` and `mssim:path=…` (Unix sockets) are refused: tss-esapi 7.x ignores unknown
//! keys and would silently connect to localhost:2321 instead.

use std::fmt;
use std::str::FromStr;

use tss_esapi::tcti_ldr::TctiNameConf;

use crate::error::{Result, TpmError};

/// The TCTI used when neither configuration nor environment names one.
pub const DEFAULT_TCTI: &str = "device:/dev/tpmrm0";

/// The environment variables read by [`Tcti::from_env`], in order.
pub const TCTI_ENV_VARS: [&str; 2] = ["TPM2TOOLS_TCTI", "TCTI"];

/// Where a [`Tcti`] came from, so that an error about it points at the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TctiOrigin {
    /// Given by the caller ([`Tcti::parse`], or a `Some` in [`Tcti::from_config_or_env`]).
    Given,
    /// From this environment variable.
    Env(&'static str),
    /// [`DEFAULT_TCTI`], as no environment variable named one.
    Default,
}

impl fmt::Display for TctiOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given => f.write_str("as given"),
            Self::Env(var) => write!(f, "from {var}"),
            Self::Default => write!(
                f,
                "the default, as neither {} is set; set one to choose another TPM, e.g. \
                 swtpm:host=127.0.0.1,port=2321",
                TCTI_ENV_VARS.join(" nor ")
            ),
        }
    }
}

/// A validated TCTI configuration string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tcti {
    text: String,
    conf: TctiNameConf,
    origin: TctiOrigin,
}

impl Tcti {
    /// Parses and validates a TCTI string such as `swtpm:host=127.0.0.1,port=2321`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason: &str| TpmError::InvalidTcti {
            tcti: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (name, options) = text.split_once(':').unwrap_or((text, ""));
        let allowed: &[&str] = match name {
            "device" => &[],
            "swtpm" | "mssim" => &["host", "port"],
            "tabrmd" => &["bus_name", "bus_type"],
            _ => {
                return Err(invalid("unknown transport; expected device, swtpm, mssim or tabrmd"));
            }
        };
        if name != "device" && !options.is_empty() {
            for pair in options.split(',') {
                let key = pair.split_once('=').map_or(pair, |(k, _)| k);
                if key == "path" {
                    return Err(TpmError::UnixSocketTcti { tcti: text.to_owned() });
                }
                if !allowed.contains(&key) {
                    return Err(invalid(&format!(
                        "unknown option `{key}`; {name} accepts {}",
                        allowed.join(", ")
                    )));
                }
            }
        }
        let conf = TctiNameConf::from_str(text)
            .map_err(|e| invalid(&format!("tss-esapi rejects it: {e}")))?;
        Ok(Self { text: text.to_owned(), conf, origin: TctiOrigin::Given })
    }

    /// The TCTI from `TPM2TOOLS_TCTI`, else `TCTI`, else [`DEFAULT_TCTI`].
    pub fn from_env() -> Result<Self> {
        for var in TCTI_ENV_VARS {
            if let Ok(value) = std::env::var(var) {
                if !value.is_empty() {
                    return Ok(Self { origin: TctiOrigin::Env(var), ..Self::parse(&value)? });
                }
            }
        }
        Ok(Self { origin: TctiOrigin::Default, ..Self::parse(DEFAULT_TCTI)? })
    }

    /// The configured string, or the environment, or the default: `configured` wins when given.
    pub fn from_config_or_env(configured: Option<&str>) -> Result<Self> {
        match configured {
            Some(text) => Self::parse(text),
            None => Self::from_env(),
        }
    }

    /// The TCTI string as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Where it came from.
    #[must_use]
    pub fn origin(&self) -> TctiOrigin {
        self.origin
    }

    pub(crate) fn name_conf(&self) -> TctiNameConf {
        self.conf.clone()
    }
}

impl fmt::Display for Tcti {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Tcti {
    type Err = TpmError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_where_the_tcti_came_from() {
        assert_eq!(Tcti::parse("swtpm").unwrap().origin(), TctiOrigin::Given);
        let text: Vec<String> =
            [TctiOrigin::Given, TctiOrigin::Env("TPM2TOOLS_TCTI"), TctiOrigin::Default]
                .iter()
                .map(ToString::to_string)
                .collect();
        expect_test::expect![[r#"
            [
                "as given",
                "from TPM2TOOLS_TCTI",
                "the default, as neither TPM2TOOLS_TCTI nor TCTI is set; set one to choose another TPM, e.g. swtpm:host=127.0.0.1,port=2321",
            ]
        "#]]
        .assert_debug_eq(&text);
    }

    #[test]
    fn accepted_and_refused_forms() {
        for ok in [
            "device",
            "device:/dev/tpmrm0",
            "swtpm",
            "swtpm:host=127.0.0.1,port=2321",
            "mssim:port=2321",
            "tabrmd:bus_type=session",
        ] {
            assert!(Tcti::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["swtpm:path=/tmp/s.sock", "mssim:host=localhost,path=/x"] {
            let err = Tcti::parse(bad).unwrap_err();
            assert!(matches!(err, TpmError::UnixSocketTcti { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("localhost:2321"), "{err}");
        }
        for bad in ["swtpm:prot=1", "libtpms", "swtpm:port=x", ""] {
            assert!(matches!(Tcti::parse(bad), Err(TpmError::InvalidTcti { .. })), "{bad}");
        }
    }
}
