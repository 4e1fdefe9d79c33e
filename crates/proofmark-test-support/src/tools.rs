//! Tools from crates.io that the tests use as real components (a cargo registry server, the
//! Parsec service and its command-line client), built once with `cargo install` into a cache folder that survives
//! between runs, keyed by crate, version and features.
//!
//! The cache is `$PROOFMARK_TOOL_CACHE`, else `$HOME/.cache/proofmark/tools`. `cargo xtask
//! setup` installs every tool in [`TOOLS`] up front, so the tests only find them there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A binary the tests need, from a crate on crates.io.
#[derive(Debug, Clone, Copy)]
pub struct CargoTool {
    /// The crate to install.
    pub krate: &'static str,
    /// The exact version.
    pub version: &'static str,
    /// Features to enable (default features stay on).
    pub features: &'static [&'static str],
    /// The binary the tests run.
    pub bin: &'static str,
}

/// Every crates.io tool the test suite uses.
///
/// None needs `--no-default-features`: parsec-service's only default feature is the
/// Unix-peer-credentials authenticator, which [`crate::parsec`] configures.
pub const TOOLS: &[CargoTool] = &[
    CargoTool {
        krate: "cargo-http-registry",
        version: "0.1.8",
        features: &[],
        bin: "cargo-http-registry",
    },
    // The Parsec service. Building it needs libtss2-dev and pkg-config (tss-esapi 7.7) and
    // cmake, clang and libclang-dev (psa-crypto's vendored Mbed TLS and its bindgen).
    CargoTool {
        krate: "parsec-service",
        version: "1.5.0",
        features: &["tpm-provider", "mbed-crypto-provider"],
        bin: "parsec",
    },
    // Parsec's own command-line client, the independent judge for proofmark-parsec; 0.7.0 is
    // the newest 0.7 release.
    CargoTool { krate: "parsec-tool", version: "0.7.0", features: &[], bin: "parsec-tool" },
    // The API judge of the release gate: does the declared bump match the API change?
    CargoTool {
        krate: "cargo-semver-checks",
        version: "0.51.0",
        features: &[],
        bin: "cargo-semver-checks",
    },
];

/// Tools only the benchmarks use; `cargo xtask bench` installs them on first use, CI never
/// needs them.
pub const BENCH_TOOLS: &[CargoTool] = &[
    // The changelog generator the release benchmark compares with. 2.12.0 is its fastest
    // release: 2.13 and later compute per-commit statistics (git-cliff issue #1519).
    CargoTool { krate: "git-cliff", version: "2.12.0", features: &[], bin: "git-cliff" },
];

/// How long another process may hold the install lock before we call it stale.
const STALE_LOCK: Duration = Duration::from_secs(60 * 60);

/// Where tools are cached.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("PROOFMARK_TOOL_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/proofmark/tools")
}

impl CargoTool {
    /// The folder this version and feature set installs into.
    pub fn root(&self) -> PathBuf {
        let mut name = format!("{}-{}", self.krate, self.version);
        for f in self.features {
            name.push('+');
            name.push_str(f);
        }
        cache_root().join(name)
    }

    /// The installed binary's path (it may not exist yet).
    pub fn path(&self) -> PathBuf {
        self.root().join("bin").join(self.bin)
    }

    /// Installs the tool unless it is cached; returns the binary's path.
    ///
    /// Safe to call from parallel tests and processes: one installs, the others wait for it.
    pub fn install(&self) -> Result<PathBuf, String> {
        let bin = self.path();
        if bin.exists() {
            return Ok(bin);
        }
        let root = self.root();
        let parent = root.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let lock = root.with_extension("lock");
        let _guard = LockDir::acquire(&lock)?;
        if bin.exists() {
            return Ok(bin); // someone else installed it while we waited
        }
        let staging = root.with_extension("partial");
        let _ = std::fs::remove_dir_all(&staging);
        eprintln!(
            "installing {} {} from crates.io into {} (once; cached for later runs)",
            self.krate,
            self.version,
            root.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["install", "--locked", "--quiet", "--root"]).arg(&staging).args([
            "--version",
            &format!("={}", self.version),
            self.krate,
        ]);
        if !self.features.is_empty() {
            cmd.args(["--features", &self.features.join(",")]);
        }
        // Our own build's target folder must not be used, or we would fight over its lock.
        cmd.env_remove("CARGO_TARGET_DIR").stdin(Stdio::null());
        let status = cmd.status().map_err(|e| format!("cannot run cargo install: {e}"))?;
        if !status.success() {
            return Err(format!(
                "`cargo install {} --version ={}` failed: {status}",
                self.krate, self.version
            ));
        }
        std::fs::rename(&staging, &root).map_err(|e| format!("{}: {e}", root.display()))?;
        Ok(bin)
    }
}

/// The cached tool `bin`, installing it if needed; `None` (after saying why) when it cannot be
/// had and external components are not required. Panics when they are.
pub fn cargo_tool(bin: &str) -> Option<PathBuf> {
    let Some(tool) = TOOLS.iter().chain(BENCH_TOOLS).find(|t| t.bin == bin) else {
        panic!("{bin} is not in proofmark_test_support::tools::TOOLS or BENCH_TOOLS; add it");
    };
    match tool.install() {
        Ok(path) => Some(path),
        Err(why) => {
            crate::missing(&format!("{bin} ({why})"), &format!("crates.io: {}", tool.krate))
        }
    }
}

/// A lock held by creating a folder (atomic on every filesystem) and removed on drop.
struct LockDir(PathBuf);

impl LockDir {
    fn acquire(path: &Path) -> Result<LockDir, String> {
        let started = Instant::now();
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Ok(LockDir(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = path
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > STALE_LOCK) {
                        let _ = std::fs::remove_dir(path);
                        continue;
                    }
                    if started.elapsed() > STALE_LOCK {
                        return Err(format!("gave up waiting for the lock {}", path.display()));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(format!("cannot create the lock {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for LockDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// The sigstore-js judge: `@sigstore/bundle`, `@sigstore/verify` and `@sigstore/sign` at the
/// versions pinned in `js/package-lock.json`, installed with `npm ci` into
/// `<cache>/sigstore-js-<version>` once, beside `js/judge.js` (the node script the tests run).
pub mod sigstore_js {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    /// `@sigstore/verify`'s pinned version, which names the cache folder.
    pub const VERSION: &str = "3.1.1";
    const PACKAGE_JSON: &str = include_str!("../js/package.json");
    const LOCKFILE: &str = include_str!("../js/package-lock.json");
    const JUDGE: &str = include_str!("../js/judge.js");

    /// The folder holding `node_modules` and `judge.js`.
    pub fn root() -> PathBuf {
        super::cache_root().join(format!("sigstore-js-{VERSION}"))
    }

    /// Installs the packages unless cached (the script is rewritten every time, so an edit
    /// of `judge.js` takes effect); returns the folder.
    pub fn install() -> Result<PathBuf, String> {
        let root = root();
        let write = |dir: &std::path::Path| -> Result<(), String> {
            std::fs::write(dir.join("judge.js"), JUDGE)
                .map_err(|e| format!("{}: {e}", dir.display()))
        };
        if root.join("node_modules/@sigstore/verify/package.json").exists() {
            write(&root)?;
            return Ok(root);
        }
        let parent = super::cache_root();
        std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let _guard = super::LockDir::acquire(&root.with_extension("lock"))?;
        if root.join("node_modules/@sigstore/verify/package.json").exists() {
            write(&root)?;
            return Ok(root);
        }
        let staging = root.with_extension("partial");
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        for (name, text) in [("package.json", PACKAGE_JSON), ("package-lock.json", LOCKFILE)] {
            std::fs::write(staging.join(name), text)
                .map_err(|e| format!("{}: {e}", staging.display()))?;
        }
        eprintln!("installing sigstore-js {VERSION} with npm ci into {} (once)", root.display());
        let npm = crate::which("npm").ok_or("npm is not installed")?;
        let status = Command::new(npm)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&staging)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run npm ci: {e}"))?;
        if !status.success() {
            return Err(format!("`npm ci` for sigstore-js failed: {status}"));
        }
        write(&staging)?;
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&staging, &root).map_err(|e| format!("{}: {e}", root.display()))?;
        Ok(root)
    }

    /// `node judge.js` ready to take arguments; `None` (after saying why) when node or the
    /// packages cannot be had and external components are not required. Panics when they are.
    pub fn judge() -> Option<Command> {
        let node = crate::require_tool("node", "nodejs")?;
        match install() {
            Ok(root) => {
                let mut cmd = Command::new(node);
                cmd.arg(root.join("judge.js")).current_dir(&root);
                Some(cmd)
            }
            Err(why) => crate::missing(&format!("sigstore-js ({why})"), "npm: @sigstore/verify"),
        }
    }
}
