//! Registry credentials from a docker `config.json`: inline `auths` entries and credential
//! helpers (`credsStore`, `credHelpers`), as the docker CLI finds them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The user name a credential helper returns for an identity (refresh) token.
const TOKEN_USERNAME: &str = "<token>";

/// What to send a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (basic auth, or the token endpoint's basic auth).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: Zeroizing<String>,
    },
    /// An OAuth2 refresh token (`identitytoken` in `config.json`, or a helper answering
    /// with user name `<token>`), exchanged at the bearer token endpoint.
    IdentityToken(Zeroizing<String>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Self::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
            Self::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Registry credentials parsed from a docker `config.json`.
///
/// Lookup order for a host, as the docker CLI does it: a `credHelpers` entry for the host, else
/// an inline `auths` entry (`auth`, `username`/`password`, or `identitytoken`), else the
/// `credsStore` helper. A helper is the program `docker-credential-<name>` on `PATH`, run as
/// `docker-credential-<name> get` with the server address on standard input.
#[derive(Clone, Default)]
pub struct DockerConfig {
    auths: HashMap<String, Credential>,
    creds_store: Option<String>,
    cred_helpers: HashMap<String, String>,
    helper_env: Vec<(OsString, OsString)>,
    /// Where the configuration came from (a path), for messages.
    origin: Option<String>,
    /// Helper answers, so each helper runs at most once per host.
    cache: Arc<Mutex<HashMap<String, Option<Credential>>>>,
}

impl std::fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerConfig")
            .field("hosts", &self.auths.keys().collect::<Vec<_>>())
            .field("creds_store", &self.creds_store)
            .field("cred_helpers", &self.cred_helpers)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `host:port/` → `host:port`.
pub(crate) fn normalize_host(key: &str) -> String {
    let k = key.trim_start_matches("https://").trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".to_owned(),
        h => h.to_owned(),
    }
}

fn helper_name_ok(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

impl DockerConfig {
    /// Parses the content of a docker `config.json` (the caller finds it: `$DOCKER_CONFIG`
    /// or `~/.docker/config.json`).
    pub fn parse(json: &[u8]) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| Error::DockerConfig(e.to_string()))?;
        let mut config = Self::default();
        if let Some(store) = v.get("credsStore").and_then(|s| s.as_str()).filter(|s| !s.is_empty())
        {
            if !helper_name_ok(store) {
                return Err(Error::DockerConfig(format!("credsStore {store:?} is not a name")));
            }
            config.creds_store = Some(store.to_owned());
        }
        if let Some(helpers) = v.get("credHelpers").and_then(|h| h.as_object()) {
            for (host, name) in helpers {
                let Some(name) = name.as_str().filter(|n| helper_name_ok(n)) else {
                    return Err(Error::DockerConfig(format!(
                        "credHelpers.{host} is not a helper name"
                    )));
                };
                config.cred_helpers.insert(normalize_host(host), name.to_owned());
            }
        }
        let Some(entries) = v.get("auths").and_then(|a| a.as_object()) else {
            return Ok(config);
        };
        for (key, entry) in entries {
            let text = |field: &str| entry.get(field).and_then(|a| a.as_str()).unwrap_or("");
            let credential = if !text("identitytoken").is_empty() {
                Credential::IdentityToken(Zeroizing::new(text("identitytoken").to_owned()))
            } else if !text("auth").is_empty() {
                let decoded = Zeroizing::new(
                    STANDARD
                        .decode(text("auth"))
                        .map_err(|e| Error::DockerConfig(format!("auths.{key}.auth: {e}")))?,
                );
                let text = std::str::from_utf8(&decoded)
                    .map_err(|_| Error::DockerConfig(format!("auths.{key}.auth is not UTF-8")))?;
                let Some((user, pass)) = text.split_once(':') else {
                    return Err(Error::DockerConfig(format!(
                        "auths.{key}.auth is not user:password"
                    )));
                };
                Credential::Basic {
                    username: user.to_owned(),
                    password: Zeroizing::new(pass.to_owned()),
                }
            } else if !text("username").is_empty() && entry.get("password").is_some() {
                Credential::Basic {
                    username: text("username").to_owned(),
                    password: Zeroizing::new(text("password").to_owned()),
                }
            } else {
                // With a credsStore, `docker login` leaves empty entries here.
                continue;
            };
            config.auths.insert(normalize_host(key), credential);
        }
        Ok(config)
    }

    /// Names where this configuration came from (the `config.json` path, or a note that it does
    /// not exist), so that authentication errors can say where credentials were looked for.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Where credentials for `host` come from, in words (no secrets): the `credHelpers` helper,
    /// the `auths` entry, the `credsStore` helper, or only the file (which has nothing for it).
    pub fn source(&self, host: &str) -> String {
        let host = normalize_host(host);
        let origin = self.origin.as_deref().unwrap_or("the docker config.json");
        if let Some(name) = self.cred_helpers.get(&host) {
            return format!(
                "the credential helper docker-credential-{name} (credHelpers in {origin})"
            );
        }
        if self.auths.contains_key(&host) {
            return format!("the auths entry for {host} in {origin}");
        }
        match &self.creds_store {
            Some(name) => {
                format!("the credential helper docker-credential-{name} (credsStore in {origin})")
            }
            None => origin.to_owned(),
        }
    }

    /// Extra environment variables for credential helper processes (for example
    /// `PASSWORD_STORE_DIR`, or a `PATH` to find them on).
    #[must_use]
    pub fn with_helper_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.helper_env.push((key.into(), value.into()));
        self
    }

    /// Credentials for a registry host, if configured; runs the host's credential helper when
    /// one applies. A helper that knows nothing about the host means no credentials.
    pub fn credentials(&self, host: &str) -> Result<Option<Credential>> {
        let host = normalize_host(host);
        let helper = match self.cred_helpers.get(&host) {
            Some(name) => name,
            None => match (self.auths.get(&host), &self.creds_store) {
                (Some(c), _) => return Ok(Some(c.clone())),
                (None, Some(store)) => store,
                (None, None) => return Ok(None),
            },
        };
        let key = format!("{helper}\n{host}");
        if let Some(cached) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(cached);
        }
        // `docker login` stores Docker Hub under its v1 URL and other registries by host name;
        // some tools store `https://host`, so try that form too.
        let server_urls: Vec<String> = if host == "index.docker.io" {
            vec!["https://index.docker.io/v1/".to_owned()]
        } else {
            vec![host.clone(), format!("https://{host}")]
        };
        let mut found = None;
        for url in &server_urls {
            found = self.run_helper(helper, url)?;
            if found.is_some() {
                break;
            }
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, found.clone());
        }
        Ok(found)
    }

    /// `docker-credential-<name> get`, server URL on stdin; `None` when it has no entry.
    fn run_helper(&self, name: &str, server_url: &str) -> Result<Option<Credential>> {
        let program = format!("docker-credential-{name}");
        let err = |reason: String| Error::CredentialHelper { helper: program.clone(), reason };
        let mut child = Command::new(&program)
            .arg("get")
            .envs(self.helper_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => err(format!(
                    "not found on PATH (config.json names the credential helper {name:?}; \
                     install it or remove it from config.json)"
                )),
                _ => err(format!("cannot run it: {e}")),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading fails below with its own message.
            let _ = stdin.write_all(server_url.as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| err(format!("waiting for it: {e}")))?;
        let stdout = Zeroizing::new(out.stdout);
        if !out.status.success() {
            let message = String::from_utf8_lossy(&stdout).trim().to_owned();
            // The helpers' shared "not found" message (docker-credential-helpers' ErrCredentialsNotFound).
            if message.contains("credentials not found") {
                return Ok(None);
            }
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            let detail =
                [message, stderr].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
            return Err(err(format!(
                "`{program} get` for {server_url} failed ({}): {}",
                out.status,
                detail.join("; ")
            )));
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            username: String,
            secret: String,
        }
        let answer: Answer = serde_json::from_slice(&stdout).map_err(|e| {
            err(format!("its answer for {server_url} is not the expected JSON: {e}"))
        })?;
        // Moved, not copied, into the zeroizing wrapper.
        let secret = Zeroizing::new(answer.secret);
        if secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(if answer.username == TOKEN_USERNAME {
            Credential::IdentityToken(secret)
        } else {
            Credential::Basic { username: answer.username, password: secret }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic { username: u.into(), password: Zeroizing::new(p.into()) })
    }

    #[test]
    fn inline_entries() {
        let json = br#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNzOndvcmQ="},"127.0.0.1:5000":{"username":"u","password":"p"},"tok.example":{"identitytoken":"refresh"},"empty":{"auth":""}}}"#;
        let cfg = DockerConfig::parse(json).unwrap();
        assert_eq!(cfg.credentials("index.docker.io").unwrap(), basic("user", "pass:word"));
        assert_eq!(cfg.credentials("docker.io").unwrap(), basic("user", "pass:word"));
        assert_eq!(cfg.credentials("127.0.0.1:5000").unwrap(), basic("u", "p"));
        assert_eq!(
            cfg.credentials("tok.example").unwrap(),
            Some(Credential::IdentityToken(Zeroizing::new("refresh".into())))
        );
        assert_eq!(cfg.credentials("empty").unwrap(), None);
        assert_eq!(cfg.credentials("ghcr.io").unwrap(), None);
        let shown = format!("{cfg:?} {:?}", cfg.credentials("127.0.0.1:5000").unwrap());
        assert!(!shown.contains("pass") && !shown.contains("\"p\""), "{shown}");
        for bad in [
            &b"{"[..],
            br#"{"auths":{"h":{"auth":"!!"}}}"#,
            br#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#,
            br#"{"credsStore":"../evil"}"#,
            br#"{"credHelpers":{"h":7}}"#,
        ] {
            assert!(matches!(DockerConfig::parse(bad), Err(Error::DockerConfig(_))));
        }
    }

    #[test]
    fn helper_lookup_order_and_missing_helper() {
        let json = br#"{"auths":{"inline.example":{"auth":"dTpw"}},"credsStore":"proofmark-test-absent","credHelpers":{"helped.example":"proofmark-test-absent2"}}"#;
        let cfg = DockerConfig::parse(json).unwrap();
        // An inline entry wins over credsStore.
        assert_eq!(cfg.credentials("inline.example").unwrap(), basic("u", "p"));
        for (host, helper) in [
            ("helped.example", "docker-credential-proofmark-test-absent2"),
            ("other.example", "docker-credential-proofmark-test-absent"),
        ] {
            let err = cfg.credentials(host).unwrap_err();
            let Error::CredentialHelper { helper: named, reason } = &err else {
                panic!("{err}");
            };
            assert_eq!(named, helper);
            assert!(reason.contains("not found on PATH"), "{reason}");
            assert!(err.to_string().contains(helper), "{err}");
        }
    }
}
