//! A real cargo registry server on loopback: `cargo-http-registry` (from crates.io, through
//! the tool cache) serving a git index folder, and a scratch `CARGO_HOME` whose `config.toml`
//! names it `local` with a token, so `cargo publish --registry local` works for real.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// `cargo-http-registry` on a free loopback port. Killed on drop.
#[derive(Debug)]
pub struct CargoRegistry {
    child: Child,
    dir: tempfile::TempDir,
}

impl CargoRegistry {
    /// Starts a registry with an empty index; `None` (after saying why) when the server cannot
    /// be installed and external components are not required.
    pub fn start() -> Option<Self> {
        let program = crate::tools::cargo_tool("cargo-http-registry")?;
        let dir = crate::temp_dir("cargo-registry");
        for _ in 0..10 {
            let port = crate::net::free_port();
            let Ok(mut child) = crate::isolate(&mut Command::new(&program))
                .arg("--addr")
                .arg(format!("127.0.0.1:{port}"))
                .arg(dir.path().join("index"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                panic!("cannot run {}", program.display());
            };
            let up = crate::net::wait_for_port(port, Duration::from_secs(20), || {
                matches!(child.try_wait(), Ok(None))
            });
            if up {
                let home = dir.path().join("cargo-home");
                let config = format!(
                    "[registries.local]\nindex = \"file://{}\"\ntoken = \"test-token\"\n",
                    dir.path().join("index").display()
                );
                if let Err(e) = std::fs::create_dir_all(&home)
                    .and_then(|()| std::fs::write(home.join("config.toml"), config))
                {
                    panic!("cannot write {}: {e}", home.display());
                }
                return Some(Self { child, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("cargo-http-registry did not start after 10 attempts");
    }

    /// The `CARGO_HOME` that names the registry `local`.
    pub fn cargo_home(&self) -> PathBuf {
        self.dir.path().join("cargo-home")
    }

    /// The git index folder (`file://` + this is the index URL).
    pub fn index_dir(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// The index URL, `file:///…`.
    pub fn index_url(&self) -> String {
        format!("file://{}", self.index_dir().display())
    }

    /// The stored `.crate` of `name@version`.
    pub fn archive(&self, name: &str, version: &str) -> Vec<u8> {
        let path = self.index_dir().join(format!("{name}-{version}.crate"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The versions of `name` in the index, in publish order (empty if never published).
    pub fn versions(&self, name: &str) -> Vec<String> {
        let path = self.index_dir().join(index_path(name));
        let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
        text.lines()
            .filter_map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).ok()?;
                Some(value.get("vers")?.as_str()?.to_owned())
            })
            .collect()
    }
}

/// Where cargo's index keeps `name` (lower-cased, by length).
fn index_path(name: &str) -> PathBuf {
    let name = name.to_lowercase();
    match name.len() {
        1 => Path::new("1").join(&name),
        2 => Path::new("2").join(&name),
        3 => Path::new("3").join(&name[..1]).join(&name),
        _ => Path::new(&name[..2]).join(&name[2..4]).join(&name),
    }
}

impl Drop for CargoRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes and commits the release tests' crate family `a ← b ← c` (each `0.1.0`, never
/// released, `publish = ["local"]`, path + version dependencies) into `dir`, a new git
/// repository whose own config carries the identity: a `feat` commit with everything, then a
/// `fix(a)` commit. `a_extra` is appended to `a`'s `[package]` table.
pub fn write_family(dir: &Path, a_extra: &str, registry: &CargoRegistry) {
    git(dir, &["-c", "init.defaultBranch=main", "init", "-q"]);
    for (key, value) in [
        ("user.name", "Ada"),
        ("user.email", "ada@example.org"),
        ("commit.gpgsign", "false"),
        ("tag.gpgsign", "false"),
    ] {
        git(dir, &["config", key, value]);
    }
    write(dir, "Cargo.toml", "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\nresolver = \"2\"\n");
    write(dir, ".gitignore", "target/\n.cargo/\n");
    // The manifests name the registry, so even `cargo metadata` needs its index URL.
    write(
        dir,
        ".cargo/config.toml",
        &format!("[registries.local]\nindex = \"{}\"\n", registry.index_url()),
    );
    write(dir, "a/Cargo.toml", &family_manifest("a", None, a_extra));
    write(dir, "a/src/lib.rs", "//! a\npub fn a() -> u32 { 1 }\n");
    // The release gate wants a licence text in every package.
    for name in ["a", "b", "c"] {
        write(dir, &format!("{name}/LICENSE"), "MIT License\n");
    }
    write(dir, "b/Cargo.toml", &family_manifest("b", Some("a"), ""));
    write(dir, "b/src/lib.rs", "//! b\npub fn b() -> u32 { a::a() + 1 }\n");
    write(dir, "c/Cargo.toml", &family_manifest("c", Some("b"), ""));
    write(dir, "c/src/lib.rs", "//! c\npub fn c() -> u32 { b::b() + 1 }\n");
    // A committed lockfile, as applications and this workspace have: the release commit must
    // update the members' versions in it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["generate-lockfile", "--offline"])
        .current_dir(dir)
        .env("CARGO_HOME", registry.cargo_home())
        .status()
        .unwrap_or_else(|e| panic!("cargo generate-lockfile: {e}"));
    assert!(status.success(), "cargo generate-lockfile");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "feat: the family"]);
    write(dir, "a/src/lib.rs", "//! a\npub fn a() -> u32 { 2 }\n");
    git(dir, &["commit", "-q", "-am", "fix(a): return two"]);
}

fn family_manifest(name: &str, dependency: Option<&str>, extra: &str) -> String {
    let mut text = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\
         rust-version = \"1.85\"\nlicense = \"MIT\"\ndescription = \"crate {name}\"\n\
         publish = [\"local\"]\n{extra}"
    );
    if let Some(dep) = dependency {
        text.push_str(&format!(
            "\n[dependencies]\n{dep} = {{ path = \"../{dep}\", version = \"0.1.0\", registry = \"local\" }}\n"
        ));
    }
    text
}

/// Runs git in `dir` without global or system configuration, at a fixed date; returns its
/// trimmed output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap_or(dir)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
