//! Fixture registries for the integration tests: `.crate` files and index lines written by hand
//! (gzipped tar with a normalized Cargo.toml, `cksum` = sha256 of the file), laid out as a
//! local-registry folder, a git index on `file://`, or a sparse index served over loopback
//! HTTP by a tiny std-only file server.

#![allow(dead_code, reason = "each test binary uses part of the support module")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

/// One published version of a fixture crate.
#[derive(Debug, Clone)]
pub(crate) struct Pkg {
    pub(crate) name: &'static str,
    pub(crate) vers: &'static str,
    /// (name, req)
    pub(crate) deps: Vec<(&'static str, &'static str)>,
    pub(crate) lib: String,
    pub(crate) build_rs: Option<String>,
    pub(crate) proc_macro: bool,
    pub(crate) yanked: bool,
    pub(crate) pubtime: &'static str,
    pub(crate) rust_version: Option<&'static str>,
    /// Optional dependencies (name, req).
    pub(crate) optional: Vec<(&'static str, &'static str)>,
    /// `[features]` (name, values).
    pub(crate) features: Vec<(&'static str, Vec<&'static str>)>,
    /// `[package.metadata.docs.rs] features`.
    pub(crate) docsrs: Option<Vec<&'static str>>,
}

impl Pkg {
    pub(crate) fn new(
        name: &'static str,
        vers: &'static str,
        pubtime: &'static str,
        lib: &str,
    ) -> Pkg {
        Pkg {
            name,
            vers,
            deps: Vec::new(),
            lib: lib.to_owned(),
            build_rs: None,
            proc_macro: false,
            yanked: false,
            pubtime,
            rust_version: None,
            optional: Vec::new(),
            features: Vec::new(),
            docsrs: None,
        }
    }

    pub(crate) fn optional_dep(mut self, name: &'static str, req: &'static str) -> Pkg {
        self.optional.push((name, req));
        self
    }

    pub(crate) fn feature(mut self, name: &'static str, values: &[&'static str]) -> Pkg {
        self.features.push((name, values.to_vec()));
        self
    }

    pub(crate) fn docsrs_features(mut self, features: &[&'static str]) -> Pkg {
        self.docsrs = Some(features.to_vec());
        self
    }

    pub(crate) fn dep(mut self, name: &'static str, req: &'static str) -> Pkg {
        self.deps.push((name, req));
        self
    }

    pub(crate) fn yanked(mut self) -> Pkg {
        self.yanked = true;
        self
    }

    pub(crate) fn build_rs(mut self, code: &str) -> Pkg {
        self.build_rs = Some(code.to_owned());
        self
    }

    pub(crate) fn rust_version(mut self, v: &'static str) -> Pkg {
        self.rust_version = Some(v);
        self
    }

    pub(crate) fn proc_macro(mut self) -> Pkg {
        self.proc_macro = true;
        self
    }

    fn manifest(&self) -> String {
        let mut m = format!(
            "[package]\nedition = \"2021\"\nname = \"{}\"\nversion = \"{}\"\n",
            self.name, self.vers
        );
        if let Some(v) = self.rust_version {
            m.push_str(&format!("rust-version = \"{v}\"\n"));
        }
        if self.build_rs.is_some() {
            m.push_str("build = \"build.rs\"\n");
        }
        m.push_str("\n[lib]\npath = \"src/lib.rs\"\n");
        if self.proc_macro {
            m.push_str("proc-macro = true\n");
        }
        for (name, req) in &self.deps {
            m.push_str(&format!("\n[dependencies.{name}]\nversion = \"{req}\"\n"));
        }
        for (name, req) in &self.optional {
            m.push_str(&format!("\n[dependencies.{name}]\nversion = \"{req}\"\noptional = true\n"));
        }
        if !self.features.is_empty() {
            m.push_str("\n[features]\n");
            for (name, values) in &self.features {
                m.push_str(&format!("{name} = {values:?}\n"));
            }
        }
        if let Some(features) = &self.docsrs {
            m.push_str(&format!("\n[package.metadata.docs.rs]\nfeatures = {features:?}\n"));
        }
        m
    }

    /// The `.crate` bytes: deterministic (mtime 0, fixed modes).
    pub(crate) fn crate_file(&self) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut files = vec![("Cargo.toml", self.manifest()), ("src/lib.rs", self.lib.clone())];
        if let Some(b) = &self.build_rs {
            files.push(("build.rs", b.clone()));
        }
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(
                &mut header,
                format!("{}-{}/{path}", self.name, self.vers),
                text.as_bytes(),
            )
            .unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    pub(crate) fn index_line(&self) -> String {
        let dep = |(name, req): &(&str, &str), optional: bool| {
            serde_json::json!({"name": name, "req": req, "features": [], "optional": optional,
                "default_features": true, "target": null, "kind": "normal"})
        };
        let mut deps: Vec<_> = self.deps.iter().map(|d| dep(d, false)).collect();
        deps.extend(self.optional.iter().map(|d| dep(d, true)));
        let cksum = hex::encode(sha2::Sha256::digest(self.crate_file()));
        // As crates.io writes them: features using `dep:` or `?/` go to `features2` (v 2).
        let (mut features, mut features2) = (serde_json::Map::new(), serde_json::Map::new());
        for (name, values) in &self.features {
            let new_syntax = values.iter().any(|v| v.starts_with("dep:") || v.contains("?/"));
            let table = if new_syntax { &mut features2 } else { &mut features };
            table.insert((*name).to_owned(), serde_json::json!(values));
        }
        let mut line = serde_json::json!({"name": self.name, "vers": self.vers, "deps": deps,
            "cksum": cksum, "features": features, "yanked": self.yanked, "links": null,
            "pubtime": self.pubtime, "rust_version": self.rust_version});
        if !features2.is_empty() {
            line["features2"] = serde_json::Value::Object(features2);
            line["v"] = serde_json::json!(2);
        }
        line.to_string()
    }
}

/// Writes `index/<path>` files (under `index_dir`) and `.crate` files (under `crate_dir`, named
/// `NAME-VERSION.crate`).
pub(crate) fn write_registry(pkgs: &[Pkg], index_dir: &Path, crate_dir: &Path) {
    let mut files: std::collections::BTreeMap<PathBuf, String> = Default::default();
    for p in pkgs {
        let path = index_dir.join(proofmark_deps::index::index_path(p.name));
        let text = files.entry(path).or_default();
        text.push_str(&p.index_line());
        text.push('\n');
        std::fs::create_dir_all(crate_dir).unwrap();
        std::fs::write(crate_dir.join(format!("{}-{}.crate", p.name, p.vers)), p.crate_file())
            .unwrap();
    }
    for (path, text) in files {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A local-registry folder (`DIR/index/…` + `DIR/NAME-VERSION.crate`).
pub(crate) fn local_registry(pkgs: &[Pkg], dir: &Path) {
    write_registry(pkgs, &dir.join("index"), dir);
}

/// A git index repository at `dir/index` (committed), crates under `dir/dl`.
pub(crate) fn git_registry(pkgs: &[Pkg], dir: &Path, git: &Path) -> PathBuf {
    let repo = dir.join("index");
    write_registry(pkgs, &repo, &dir.join("dl"));
    let config = format!("{{\"dl\": \"file://{}/dl/{{crate}}-{{version}}.crate\"}}", dir.display());
    std::fs::write(repo.join("config.json"), config).unwrap();
    for args in [&["init", "-q"][..], &["add", "-A"], &["commit", "-q", "-m", "index"]] {
        let status = Command::new(git)
            .current_dir(&repo)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
    repo
}

/// A sparse index served at `http://127.0.0.1:PORT/` from `dir`; returns the base URL.
pub(crate) fn sparse_registry(pkgs: &[Pkg], dir: &Path) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    write_registry(pkgs, dir, &dir.join("dl"));
    let config = format!("{{\"dl\": \"{base}dl/{{crate}}-{{version}}.crate\"}}");
    std::fs::write(dir.join("config.json"), config).unwrap();
    let root = dir.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || serve(stream, &root));
        }
    });
    base
}

/// Answers GET requests on one connection with files under `root` (keep-alive supported).
fn serve(stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; content_length];
        let _ = reader.read_exact(&mut body);
        let path =
            request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_owned();
        let file = root.join(path.split('?').next().unwrap_or(""));
        let reply = match (path.contains(".."), std::fs::read(&file)) {
            (false, Ok(bytes)) if file.is_file() => {
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len())
                    .into_bytes();
                r.extend(bytes);
                r
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if out.write_all(&reply).is_err() {
            return;
        }
    }
}

/// A `CARGO_HOME` whose `config.toml` replaces crates.io with `source_line`
/// (`local-registry = "…"` or `registry = "…"`).
pub(crate) fn cargo_home(dir: &Path, source_line: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"fixture\"\n\n[source.fixture]\n{source_line}\n"
        ),
    )
    .unwrap();
    dir.to_owned()
}

/// A RustSec-format advisory file.
pub(crate) fn advisory(db: &Path, id: &str, package: &str, patched: &str) {
    let dir = db.join("crates").join(package);
    std::fs::create_dir_all(&dir).unwrap();
    let text = format!(
        "```toml\n[advisory]\nid = \"{id}\"\npackage = \"{package}\"\ndate = \"2026-01-01\"\n\n\
         [versions]\npatched = [\"{patched}\"]\n```\n\n# Memory corruption in {package}\n\nFixture.\n"
    );
    std::fs::write(dir.join(format!("{id}.md")), text).unwrap();
}
