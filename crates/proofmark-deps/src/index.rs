//! Reading a cargo registry index: the JSON-lines format, and the three places it can live.
//!
//! The format is one JSON object per published version (`name`, `vers`, `deps`, `cksum`,
//! `features`, `yanked`, `links`, `rust_version`, `pubtime`), in a file whose path is derived
//! from the crate name (`1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`). We read it ourselves rather
//! than through `tame-index`: that crate dropped git indexes in 0.26 and pulls reqwest+tokio
//! for sparse fetching, while the format needs a dozen lines. Sources:
//!
//! * sparse (`sparse+http(s)://…/`): one HTTP GET per crate, 404/410/451 meaning "no such crate";
//! * local registry (`local-registry = "DIR"`): `DIR/index/<path>`;
//! * git index on `file://` (`registry = "file:///…"`): `git show HEAD:<path>` in that repository.
//!
//! Which one is used comes from cargo's own configuration ([`RegistrySource::from_cargo_config`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, io};

/// The lockfile `source` of crates.io: what cargo records even under source replacement.
pub const CRATES_IO_LOCK_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Cargo's built-in location for crates.io when nothing replaces it (its default since 1.70).
const CRATES_IO_SPARSE: &str = "sparse+https://index.crates.io/";

/// One published version, as the index records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Crate name.
    pub name: String,
    /// The version.
    pub vers: semver::Version,
    /// Every dependency (normal, build and dev).
    #[serde(default)]
    pub deps: Vec<IndexDep>,
    /// SHA-256 of the `.crate` file, hex.
    pub cksum: String,
    /// `[features]`.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// The features that use `dep:` or weak (`?/`) syntax, which registries keep apart from
    /// `features` for old cargos (index schema `v` 2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features2: BTreeMap<String, Vec<String>>,
    /// Whether the version is yanked.
    #[serde(default)]
    pub yanked: bool,
    /// The `links` key.
    #[serde(default)]
    pub links: Option<String>,
    /// `package.rust-version`, when the publisher declared one.
    #[serde(default)]
    pub rust_version: Option<String>,
    /// Publish time (RFC 3339, UTC), on entries written by registries that record it.
    #[serde(default)]
    pub pubtime: Option<String>,
}

/// One dependency of an [`IndexEntry`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDep {
    /// The name the dependent uses (a rename when `package` is set).
    pub name: String,
    /// The version requirement.
    pub req: String,
    /// Features enabled on it.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether it is optional.
    #[serde(default)]
    pub optional: bool,
    /// Whether its default features are enabled.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// A `cfg(…)` or target triple restricting it.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `build` or `dev`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Another registry's index URL, when it comes from elsewhere.
    #[serde(default)]
    pub registry: Option<String>,
    /// The real crate name when renamed.
    #[serde(default)]
    pub package: Option<String>,
}

fn yes() -> bool {
    true
}

impl IndexDep {
    /// The crate name in the index (the real one, not the rename).
    pub fn crate_name(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }

    /// Whether a fresh consumer with default features always needs it on every target: a
    /// non-optional normal or build dependency without a `target` restriction.
    pub fn always_needed(&self) -> bool {
        !self.optional && self.target.is_none() && self.kind.as_deref() != Some("dev")
    }
}

/// Where the index is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrySource {
    /// A sparse index: the base URL, ending in `/`, without the `sparse+` prefix.
    Sparse(String),
    /// A `local-registry` folder (with `index/` and the `.crate` files).
    Local(PathBuf),
    /// A git index in a local repository (`file://`).
    GitFile(PathBuf),
}

impl std::fmt::Display for RegistrySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistrySource::Sparse(url) => write!(f, "sparse+{url}"),
            RegistrySource::Local(dir) => write!(f, "local-registry {}", dir.display()),
            RegistrySource::GitFile(dir) => write!(f, "git index file://{}", dir.display()),
        }
    }
}

impl RegistrySource {
    /// Reads cargo's configuration the way cargo does for a command run in `cwd`: the
    /// `.cargo/config.toml` files from `cwd` up, then `$CARGO_HOME/config.toml`, nearest first.
    /// `registry` is `None` for crates.io (following `[source.crates-io] replace-with`) or the
    /// name of an alternate registry (`[registries.NAME] index`).
    pub fn from_cargo_config(
        cargo_home: &Path,
        cwd: &Path,
        registry: Option<&str>,
    ) -> Result<RegistrySource> {
        let config = CargoConfig::load(cargo_home, cwd)?;
        if let Some(name) = registry {
            let url = config.get(&["registries", name, "index"]).ok_or_else(|| {
                Error::UnsupportedSource(format!("registry `{name}` has no index"))
            })?;
            return RegistrySource::from_url(&url);
        }
        // Follow the replacement chain the way cargo does; a loop is cargo's error too.
        let mut source = "crates-io".to_owned();
        for _ in 0..16 {
            let Some(next) = config.get(&["source", &source, "replace-with"]) else { break };
            source = next;
        }
        if source == "crates-io" {
            let protocol = std::env::var("CARGO_REGISTRIES_CRATES_IO_PROTOCOL")
                .ok()
                .or_else(|| config.get(&["registries", "crates-io", "protocol"]));
            if protocol.as_deref() == Some("git") {
                return Err(Error::UnsupportedSource(
                    "crates.io over the git protocol; use the sparse protocol".to_owned(),
                ));
            }
            return RegistrySource::from_url(CRATES_IO_SPARSE);
        }
        if let Some(dir) = config.get(&["source", &source, "local-registry"]) {
            return Ok(RegistrySource::Local(config.resolve_path(&source, &dir)));
        }
        if let Some(url) = config.get(&["source", &source, "registry"]) {
            return RegistrySource::from_url(&url);
        }
        if let Some(url) = config.get(&["registries", &source, "index"]) {
            return RegistrySource::from_url(&url);
        }
        Err(Error::UnsupportedSource(format!(
            "source `{source}` (only sparse, local-registry and file:// git indexes)"
        )))
    }

    /// Parses an index URL as cargo writes it.
    pub fn from_url(url: &str) -> Result<RegistrySource> {
        if let Some(rest) = url.strip_prefix("sparse+") {
            let base = if rest.ends_with('/') { rest.to_owned() } else { format!("{rest}/") };
            return Ok(RegistrySource::Sparse(base));
        }
        let plain = url.strip_prefix("registry+").unwrap_or(url);
        if let Some(path) = plain.strip_prefix("file://") {
            return Ok(RegistrySource::GitFile(PathBuf::from(path)));
        }
        Err(Error::UnsupportedSource(format!(
            "{url} (remote git indexes are not read; use sparse)"
        )))
    }

    /// Reads the raw index file of `name`; `None` when the registry has no such crate.
    pub fn fetch(&self, name: &str) -> Result<Option<String>> {
        let rel = index_path(name);
        match self {
            RegistrySource::Sparse(base) => fetch_http(&format!("{base}{rel}")),
            RegistrySource::Local(dir) => {
                let path = dir.join("index").join(&rel);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(Some(text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io("read index file", path)(e)),
                }
            }
            RegistrySource::GitFile(repo) => {
                let out = Command::new("git")
                    .arg("-C")
                    .arg(repo)
                    .args(["show", &format!("HEAD:{rel}")])
                    .output()
                    .map_err(|source| Error::Spawn { program: "git".to_owned(), source })?;
                if out.status.success() {
                    return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
                }
                let stderr = String::from_utf8_lossy(&out.stderr);
                if stderr.contains("does not exist")
                    || stderr.contains("exists on disk, but not in")
                {
                    return Ok(None);
                }
                Err(Error::Command {
                    command: format!("git show HEAD:{rel}"),
                    detail: stderr.trim().to_owned(),
                })
            }
        }
    }
}

/// One agent for the whole process: its connection pool keeps the TLS connection to the index
/// alive between requests (a lockfile check makes hundreds of them).
fn agent() -> &'static ureq::Agent {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(30)).build()
    })
}

fn fetch_http(url: &str) -> Result<Option<String>> {
    // ureq's `into_string` stops at 10 MB; some index files are larger (crates.io's `swc`,
    // with thousands of versions, is). Cargo reads them whole, so do we, within a bound.
    const LIMIT: u64 = 256 * 1024 * 1024;
    match agent().get(url).call() {
        Ok(response) => {
            let mut text = String::new();
            let reader = std::io::Read::take(response.into_reader(), LIMIT);
            std::io::Read::read_to_string(&mut { reader }, &mut text)
                .map_err(|e| Error::Http { url: url.to_owned(), detail: e.to_string() })?;
            Ok(Some(text))
        }
        // Cargo reads these three as "no such crate".
        Err(ureq::Error::Status(404 | 410 | 451, _)) => Ok(None),
        Err(e) => Err(Error::Http { url: url.to_owned(), detail: e.to_string() }),
    }
}

/// The path of a crate's file inside an index: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd`.
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    match name.len() {
        0 => String::new(),
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", &name[..1]),
        _ => format!("{}/{}/{name}", &name[..2], &name[2..4]),
    }
}

/// The spellings of `name` that are the same crate for the registry, `name` itself first: every
/// choice of `-` or `_` at each separator (with up to 6 separators, as cargo tries them; beyond
/// that, all `-` and all `_`). Case needs no variants: index paths are lowercase.
pub fn registry_spellings(name: &str) -> Vec<String> {
    let separators: Vec<usize> =
        name.char_indices().filter(|(_, c)| *c == '-' || *c == '_').map(|(i, _)| i).collect();
    let mut spellings = vec![name.to_owned(), name.replace('_', "-"), name.replace('-', "_")];
    if separators.len() <= 6 {
        for choice in 0u32..(1 << separators.len()) {
            let mut bytes = name.as_bytes().to_vec();
            for (bit, at) in separators.iter().enumerate() {
                bytes[*at] = if choice & (1 << bit) == 0 { b'-' } else { b'_' };
            }
            spellings.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let mut seen = std::collections::HashSet::new();
    spellings.retain(|s| seen.insert(s.clone()));
    spellings
}

/// Parses the text of an index file (one JSON object per line, blank lines ignored).
pub fn parse_index_file(krate: &str, text: &str) -> Result<Vec<IndexEntry>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| Error::IndexLine {
                krate: krate.to_owned(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// A registry index with a per-run memory cache (one fetch per crate, like cargo-audit).
#[derive(Debug)]
pub struct Index {
    source: RegistrySource,
    cache: Mutex<HashMap<String, Arc<Vec<IndexEntry>>>>,
}

impl Index {
    /// An index read from `source`.
    pub fn new(source: RegistrySource) -> Index {
        Index { source, cache: Mutex::new(HashMap::new()) }
    }

    /// Where it is read from.
    pub fn source(&self) -> &RegistrySource {
        &self.source
    }

    /// Every version of `name` (yanked ones included), in index order; empty when the registry
    /// has no such crate.
    pub fn versions(&self, name: &str) -> Result<Arc<Vec<IndexEntry>>> {
        let key = name.to_ascii_lowercase();
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        let entries = match self.source.fetch(name)? {
            Some(text) => parse_index_file(name, &text)?,
            None => Vec::new(),
        };
        let entries = Arc::new(entries);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(key, Arc::clone(&entries));
        }
        Ok(entries)
    }

    /// Reads the index files of `names` that are not in memory yet, several at once (a sparse
    /// index answers one crate per request: a candidate closure of a few hundred crates read
    /// one after the other takes minutes over the internet). Errors are left for
    /// [`Index::versions`] to report when the caller asks for that crate.
    pub fn prefetch(&self, names: &[String]) {
        /// Requests in flight at once: what cargo itself opens towards a sparse index is of
        /// this order, and a local folder gains nothing from more.
        const AT_ONCE: usize = 16;
        let mut missing: Vec<&String> = match self.cache.lock() {
            Ok(cache) => {
                names.iter().filter(|n| !cache.contains_key(&n.to_ascii_lowercase())).collect()
            }
            Err(_) => return,
        };
        missing.sort();
        missing.dedup();
        if missing.len() < 2 {
            return;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..AT_ONCE.min(missing.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(name) = missing.get(i) else { break };
                        let _ = self.versions(name);
                    }
                });
            }
        });
    }

    /// Every version of the crate the registry knows as `name`, looked up as crates.io and
    /// cargo do: case and `-` versus `_` do not tell crates apart, so `Serde_JSON` finds
    /// `serde_json` and `my_crate` finds `my-crate`. The entries carry the published spelling.
    pub fn versions_by_registry_name(&self, name: &str) -> Result<Arc<Vec<IndexEntry>>> {
        for spelling in registry_spellings(name) {
            let versions = self.versions(&spelling)?;
            if !versions.is_empty() {
                return Ok(versions);
            }
        }
        Ok(Arc::new(Vec::new()))
    }

    /// One version of `name`.
    pub fn entry(&self, name: &str, version: &semver::Version) -> Result<Option<IndexEntry>> {
        Ok(self.versions(name)?.iter().find(|e| &e.vers == version).cloned())
    }
}

/// Cargo configuration files, nearest first, each with the folder its relative paths start from.
#[derive(Debug)]
struct CargoConfig {
    layers: Vec<(PathBuf, toml::Table)>,
}

impl CargoConfig {
    fn load(cargo_home: &Path, cwd: &Path) -> Result<CargoConfig> {
        let mut candidates = Vec::new();
        for dir in cwd.ancestors() {
            candidates.push(dir.join(".cargo"));
        }
        candidates.push(cargo_home.to_owned());
        let mut layers = Vec::new();
        for dir in candidates {
            for file in ["config.toml", "config"] {
                let path = dir.join(file);
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
                    Error::Toml { path: path.clone(), detail: e.to_string() }
                })?;
                // Relative paths in a config file are relative to the folder holding `.cargo/`.
                let base = dir.parent().map_or_else(|| dir.clone(), Path::to_owned);
                layers.push((base, table));
                break;
            }
        }
        Ok(CargoConfig { layers })
    }

    fn get(&self, keys: &[&str]) -> Option<String> {
        self.layers.iter().find_map(|(_, table)| lookup(table, keys))
    }

    fn resolve_path(&self, source: &str, value: &str) -> PathBuf {
        let path = PathBuf::from(value);
        if path.is_absolute() {
            return path;
        }
        let base = self
            .layers
            .iter()
            .find(|(_, t)| lookup(t, &["source", source, "local-registry"]).is_some())
            .map(|(b, _)| b.clone())
            .unwrap_or_default();
        base.join(path)
    }
}

fn lookup(table: &toml::Table, keys: &[&str]) -> Option<String> {
    let (last, path) = keys.split_last()?;
    let mut t = table;
    for key in path {
        t = t.get(*key)?.as_table()?;
    }
    t.get(*last)?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargos_tiers() {
        let got: Vec<_> =
            ["a", "ab", "abc", "abcd", "Serde"].iter().map(|n| index_path(n)).collect();
        assert_eq!(got, ["1/a", "2/ab", "3/a/abc", "ab/cd/abcd", "se/rd/serde"]);
    }

    #[test]
    fn spellings_are_the_ones_the_registry_treats_alike() {
        assert_eq!(registry_spellings("serde"), ["serde"]);
        assert_eq!(registry_spellings("my_crate"), ["my_crate", "my-crate"]);
        assert_eq!(registry_spellings("a-b_c"), ["a-b_c", "a-b-c", "a_b_c", "a_b-c"]);
        // Seven separators: only the name itself and the two uniform spellings.
        assert_eq!(registry_spellings("a-b-c-d-e-f-g_h").len(), 3);
    }

    #[test]
    fn urls_map_to_sources() {
        assert_eq!(
            RegistrySource::from_url("sparse+http://127.0.0.1:1/x").ok(),
            Some(RegistrySource::Sparse("http://127.0.0.1:1/x/".to_owned()))
        );
        assert_eq!(
            RegistrySource::from_url("file:///srv/index").ok(),
            Some(RegistrySource::GitFile(PathBuf::from("/srv/index")))
        );
        assert!(matches!(
            RegistrySource::from_url("https://github.com/rust-lang/crates.io-index"),
            Err(Error::UnsupportedSource(_))
        ));
    }

    #[test]
    fn replacement_chain_is_followed() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            "[source.crates-io]\nreplace-with = \"mid\"\n[source.mid]\nreplace-with = \"fx\"\n\
             [source.fx]\nlocal-registry = \"/srv/reg\"\n",
        )
        .unwrap();
        let got = RegistrySource::from_cargo_config(home.path(), Path::new("/"), None).unwrap();
        assert_eq!(got, RegistrySource::Local(PathBuf::from("/srv/reg")));
        let empty = tempfile::tempdir().unwrap();
        let got = RegistrySource::from_cargo_config(empty.path(), Path::new("/"), None).unwrap();
        assert_eq!(got, RegistrySource::Sparse("https://index.crates.io/".to_owned()));
    }

    #[test]
    fn named_registries_and_project_config() {
        let home = tempfile::tempdir().unwrap();
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(project.path().join(".cargo")).unwrap();
        // The project's config wins over CARGO_HOME's, and relative paths start at the project.
        std::fs::write(
            project.path().join(".cargo/config.toml"),
            "[registries.corp]\nindex = \"sparse+https://corp.invalid/index/\"\n\
             [source.crates-io]\nreplace-with = \"vendored\"\n[source.vendored]\nlocal-registry = \"reg\"\n",
        )
        .unwrap();
        std::fs::write(
            home.path().join("config.toml"),
            "[registries.corp]\nindex = \"file:///elsewhere\"\n",
        )
        .unwrap();
        let corp =
            RegistrySource::from_cargo_config(home.path(), project.path(), Some("corp")).unwrap();
        assert_eq!(corp, RegistrySource::Sparse("https://corp.invalid/index/".to_owned()));
        let io = RegistrySource::from_cargo_config(home.path(), project.path(), None).unwrap();
        assert_eq!(io, RegistrySource::Local(project.path().join("reg")));
        let missing = RegistrySource::from_cargo_config(home.path(), project.path(), Some("nope"));
        assert!(matches!(missing, Err(Error::UnsupportedSource(_))));
    }

    #[test]
    fn index_lines_parse_with_optional_fields() {
        let text = r#"{"name":"a","vers":"1.0.0","deps":[{"name":"b","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}],"cksum":"00","features":{},"yanked":false}

{"name":"a","vers":"1.0.1","deps":[],"cksum":"11","features":{},"yanked":true,"rust_version":"1.85","pubtime":"2026-01-01T00:00:00Z","v":2}"#;
        let entries = parse_index_file("a", text).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].deps[0].always_needed());
        assert_eq!(entries[1].pubtime.as_deref(), Some("2026-01-01T00:00:00Z"));
        let bad = parse_index_file("a", "{}").unwrap_err();
        assert!(matches!(bad, Error::IndexLine { line: 1, .. }), "{bad}");
    }
}
