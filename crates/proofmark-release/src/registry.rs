//! Reading a Cargo registry index: is version X of crate Y visible, with which checksum.
//!
//! Two index kinds are read: a git or plain index on the local file system (`file://…` or a
//! path; read from the git repository's `HEAD`, which is what cargo reads, when it is one) and
//! a sparse HTTP index (`sparse+http(s)://…`, fetched with `curl`, so no TLS stack is linked
//! into the crate). Remote git indexes are not read: use the registry's sparse URL.
//!
//! [`refuse_published`] checks a plan against the index: a planned version that is already
//! published can never be published again (`release check`, `--execute` and `--online`).
//!
//! crates.io rate limits publishing (numbers from its documentation, late 2026): a burst of
//! 5 **new crates** then one per 10 minutes, and a burst of 30 **new versions** of existing
//! crates then one per minute. [`crates_io_estimate`] turns them into a wait for a family.

use std::path::{Path, PathBuf};
use std::time::Duration;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process;

/// One published version, as a line of the index says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IndexEntry {
    /// The version.
    pub version: Version,
    /// SHA-256 of the `.crate`, lower-case hex.
    pub cksum: String,
    /// Whether it is yanked.
    pub yanked: bool,
}

#[derive(Deserialize)]
struct Line {
    vers: String,
    cksum: String,
    #[serde(default)]
    yanked: bool,
}

/// A registry index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    url: String,
}

/// Fails with [`Error::AlreadyPublished`] when `index` already has the version a release of
/// `plan` would publish.
pub fn refuse_published(plan: &crate::ReleasePlan, index: &Index) -> Result<()> {
    let mut versions = Vec::new();
    for release in &plan.releases {
        if index.entry(&release.name, &release.next_version)?.is_some() {
            versions.push(format!("{} {}", release.name, release.next_version));
        }
    }
    if versions.is_empty() {
        return Ok(());
    }
    Err(Error::AlreadyPublished { index: index.url().to_owned(), versions })
}

/// The path of a crate's file inside an index (`1/a`, `2/ab`, `3/a/abc`, `se/rd/serde`).
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

impl Index {
    /// The crates.io sparse index.
    pub const CRATES_IO: &'static str = "sparse+https://index.crates.io/";

    /// An index at `url` (`file://`, a path, or `sparse+http(s)://`).
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }

    /// The index URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The index of registry `name` (`None`: crates.io) as cargo would find it:
    /// `CARGO_REGISTRIES_<NAME>_INDEX`, then `[registries.<name>] index` in
    /// `<workspace>/.cargo/config.toml` and `$CARGO_HOME/config.toml`.
    pub fn for_registry(
        name: Option<&str>,
        workspace_root: &Path,
        cargo_home: Option<&Path>,
    ) -> Result<Self> {
        let Some(name) = name.filter(|n| *n != "crates-io") else {
            return Ok(Self::new(Self::CRATES_IO));
        };
        let var = format!("CARGO_REGISTRIES_{}_INDEX", name.to_ascii_uppercase().replace('-', "_"));
        if let Ok(url) = std::env::var(&var) {
            return Ok(Self::new(url));
        }
        let cargo_home = cargo_home
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("CARGO_HOME").map(PathBuf::from))
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
        let mut candidates = vec![workspace_root.join(".cargo/config.toml")];
        candidates.extend(cargo_home.map(|h| h.join("config.toml")));
        for path in candidates {
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let Ok(value) = text.parse::<toml::Value>() else { continue };
            let url = value
                .get("registries")
                .and_then(|r| r.get(name))
                .and_then(|r| r.get("index"))
                .and_then(toml::Value::as_str);
            if let Some(url) = url {
                return Ok(Self::new(url));
            }
        }
        Err(Error::Index {
            index: name.to_owned(),
            reason: format!(
                "registry `{name}` is not configured (no {var}, no [registries.{name}])"
            ),
        })
    }

    /// Every version of `name` in the index (empty when the crate is unknown).
    pub fn versions(&self, name: &str) -> Result<Vec<IndexEntry>> {
        let text = self.fetch(&index_path(name))?;
        let mut entries = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let parsed: Line = serde_json::from_str(line).map_err(|e| self.error(e.to_string()))?;
            let version = Version::parse(&parsed.vers)
                .map_err(|source| Error::Version { text: parsed.vers.clone(), source })?;
            entries.push(IndexEntry { version, cksum: parsed.cksum, yanked: parsed.yanked });
        }
        Ok(entries)
    }

    /// The entry of `name` at `version`, if published.
    pub fn entry(&self, name: &str, version: &Version) -> Result<Option<IndexEntry>> {
        Ok(self.versions(name)?.into_iter().find(|e| &e.version == version))
    }

    /// Polls until `name@version` is in the index, waiting 0.25 s, 0.5 s, 1 s … (capped at
    /// 16 s) between attempts, for at most `timeout`.
    pub fn wait_for(
        &self,
        name: &str,
        version: &Version,
        timeout: Duration,
    ) -> Result<Option<IndexEntry>> {
        let start = std::time::Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            if let Some(entry) = self.entry(name, version)? {
                return Ok(Some(entry));
            }
            if start.elapsed() >= timeout {
                return Ok(None);
            }
            std::thread::sleep(delay.min(timeout.saturating_sub(start.elapsed())));
            delay = (delay * 2).min(Duration::from_secs(16));
        }
    }

    fn error(&self, reason: String) -> Error {
        Error::Index { index: self.url.clone(), reason }
    }

    fn fetch(&self, relative: &str) -> Result<String> {
        if let Some(base) = self.url.strip_prefix("sparse+") {
            return self.fetch_http(&format!("{}/{relative}", base.trim_end_matches('/')));
        }
        let dir = PathBuf::from(self.url.strip_prefix("file://").unwrap_or(&self.url));
        if dir.join(".git").exists() || dir.join("HEAD").is_file() {
            // A git index: cargo reads the committed tree, not the work tree.
            let (_, out) = process::output("git", &dir, ["show", &format!("HEAD:{relative}")])?;
            return Ok(if out.status.success() {
                String::from_utf8_lossy(&out.stdout).into_owned()
            } else {
                String::new()
            });
        }
        match std::fs::read_to_string(dir.join(relative)) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(Error::Read { path: dir.join(relative), source }),
        }
    }

    /// GET with curl; 404/410/451 mean "no such crate"; 429 and 503 are retried after the
    /// server's `Retry-After` (seconds, capped at 10 minutes), at most 5 times.
    fn fetch_http(&self, url: &str) -> Result<String> {
        for _ in 0..5 {
            let (_, out) = process::output(
                "curl",
                Path::new("."),
                ["-sS", "--max-time", "30", "-D", "-", "-H", "Cache-Control: no-cache", url],
            )?;
            if !out.status.success() {
                return Err(self.error(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
            }
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let status = head
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(0);
            match status {
                200 => return Ok(body.to_owned()),
                404 | 410 | 451 => return Ok(String::new()),
                429 | 503 => {
                    let wait = retry_after(head).unwrap_or(Duration::from_secs(5));
                    std::thread::sleep(wait.min(Duration::from_secs(600)));
                }
                other => return Err(self.error(format!("HTTP {other} for {url}"))),
            }
        }
        Err(self.error(format!("still rate limited after 5 attempts: {url}")))
    }
}

/// The `Retry-After` header of an HTTP response head, when it is a number of seconds.
pub fn retry_after(head: &str) -> Option<Duration> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("retry-after") {
            return None;
        }
        value.trim().parse::<u64>().ok().map(Duration::from_secs)
    })
}

/// The Unix time of an HTTP date (`Sat, 28 Nov 2026 15:10:00 GMT`, RFC 9110 IMF-fixdate), the
/// form of crates.io's "Please try again after …" and of a date-valued `Retry-After`.
pub fn parse_http_date(text: &str) -> Option<u64> {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let rest = text.trim().split_once(", ").map_or(text.trim(), |(_, rest)| rest);
    let mut parts = rest.split_whitespace();
    let day: u8 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let year: u16 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next() != Some("GMT") || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let date = crate::Date::new(year, u8::try_from(month + 1).ok()?, day)?;
    let days = u64::try_from(date.days_from_epoch()).ok()?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// How long crates.io's publish rate limits make a release of `new_crates` never-published
/// crates and `new_versions` new versions of existing crates wait, at least: the two buckets
/// refill in parallel, so the longer wait dominates.
pub fn crates_io_estimate(new_crates: usize, new_versions: usize) -> Duration {
    let new = u64::try_from(new_crates.saturating_sub(5)).unwrap_or(u64::MAX) * 600;
    let versions = u64::try_from(new_versions.saturating_sub(30)).unwrap_or(u64::MAX) * 60;
    Duration::from_secs(new.max(versions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_cargo() {
        let cases = [("a", "1/a"), ("ab", "2/ab"), ("abc", "3/a/abc"), ("Serde", "se/rd/serde")];
        for (name, path) in cases {
            assert_eq!(index_path(name), path);
        }
    }

    #[test]
    fn rate_limit_estimates() {
        let minutes = |n, v| crates_io_estimate(n, v).as_secs() / 60;
        assert_eq!(minutes(3, 0), 0);
        assert_eq!(minutes(8, 0), 30);
        assert_eq!(minutes(0, 30), 0);
        assert_eq!(minutes(0, 45), 15);
        assert_eq!(minutes(7, 40), 20);
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:10 GMT"), Some(10));
        assert_eq!(parse_http_date("Sat, 28 Nov 2026 15:10:00 GMT"), Some(1_795_878_600));
        assert_eq!(parse_http_date("Sat, 28 Nov 2026 15:10:00 CET"), None);
        assert_eq!(parse_http_date("tomorrow"), None);
    }

    #[test]
    fn retry_after_seconds() {
        let head = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 42\r\n";
        assert_eq!(retry_after(head), Some(Duration::from_secs(42)));
        assert_eq!(retry_after("HTTP/1.1 200 OK\r\n"), None);
    }

    #[test]
    fn reads_a_plain_index_folder() {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(temp.path().join("3/a")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            temp.path().join("3/a/abc"),
            "{\"name\":\"abc\",\"vers\":\"0.1.0\",\"cksum\":\"00\",\"deps\":[]}\n\
             {\"name\":\"abc\",\"vers\":\"0.2.0\",\"cksum\":\"11\",\"yanked\":true}\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let index = Index::new(format!("file://{}", temp.path().display()));
        let versions = index.versions("abc").unwrap_or_else(|e| panic!("{e}"));
        let text: Vec<String> =
            versions.iter().map(|e| format!("{} {} {}", e.version, e.cksum, e.yanked)).collect();
        assert_eq!(text, ["0.1.0 00 false", "0.2.0 11 true"]);
        assert_eq!(index.versions("zz").map(|v| v.len()).ok(), Some(0));
    }
}
