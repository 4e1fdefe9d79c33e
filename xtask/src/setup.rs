//! `cargo xtask setup`: find the external components the tests use and install the missing ones.
//!
//! Debian packages come through apt-get when we are root; otherwise we print the one command to
//! run and fail, because the tests that need them would fail under `CI=true` anyway.

use std::process::Command;

use anyhow::bail;

use crate::cmd;

/// How we tell whether a component is present.
#[derive(Debug, Clone, Copy)]
enum Probe {
    /// An executable on `PATH`.
    Tool(&'static str),
    /// A library that `pkg-config` knows.
    PkgConfig(&'static str),
    /// OpenSSL's `tpm2` provider module.
    OpensslTpm2Provider,
}

#[derive(Debug)]
struct Component {
    package: &'static str,
    probe: Probe,
    why: &'static str,
}

/// Everything the test command needs beyond Rust, with the Debian package that provides it.
const COMPONENTS: &[Component] = &[
    Component {
        package: "pkg-config",
        probe: Probe::Tool("pkg-config"),
        why: "finds libtss2 for tss-esapi",
    },
    Component {
        package: "libtss2-dev",
        probe: Probe::PkgConfig("tss2-esys"),
        why: "TPM software stack that proofmark-tpm links",
    },
    Component { package: "swtpm", probe: Probe::Tool("swtpm"), why: "software TPM, one per test" },
    Component {
        package: "swtpm-tools",
        probe: Probe::Tool("swtpm_ioctl"),
        why: "swtpm control and set-up tools",
    },
    Component {
        package: "tpm2-tools",
        probe: Probe::Tool("tpm2_getrandom"),
        why: "independent TPM client that judges our keys",
    },
    Component {
        package: "tpm2-openssl",
        probe: Probe::OpensslTpm2Provider,
        why: "OpenSSL's TPM provider, the judge of TSS2 key files",
    },
    Component {
        package: "docker-registry",
        probe: Probe::Tool("docker-registry"),
        why: "OCI registry on loopback",
    },
    Component {
        package: "openssl",
        probe: Probe::Tool("openssl"),
        why: "independent judge of signatures",
    },
    Component {
        package: "libssl-dev",
        probe: Probe::PkgConfig("openssl"),
        why: "OpenSSL for sigstore-rs, the cosign tests' independent verifier",
    },
    Component {
        package: "golang-docker-credential-helpers",
        probe: Probe::Tool("docker-credential-pass"),
        why: "a real docker credential helper for registry logins",
    },
    Component {
        package: "apache2-utils",
        probe: Probe::Tool("htpasswd"),
        why: "htpasswd -B makes the registry's bcrypt basic-auth file",
    },
    Component { package: "pass", probe: Probe::Tool("pass"), why: "the credential helper's store" },
    Component { package: "gnupg", probe: Probe::Tool("gpg"), why: "encrypts the pass store" },
    Component { package: "git", probe: Probe::Tool("git"), why: "release history tests" },
    Component {
        package: "curl",
        probe: Probe::Tool("curl"),
        why: "docs/cosign.md pushes its example image with curl",
    },
    Component { package: "clang", probe: Probe::Tool("clang"), why: "building the Parsec service" },
    Component { package: "cmake", probe: Probe::Tool("cmake"), why: "building the Parsec service" },
    Component {
        package: "python3-yaml",
        probe: Probe::Tool("python3"),
        why: "PyYAML reads .github/workflows/check-deps.yml for its test",
    },
];

#[derive(clap::Args, Debug, Default)]
pub(crate) struct SetupArgs {
    /// Only report what is missing; install nothing.
    #[arg(long)]
    check: bool,
}

pub(crate) fn run(args: &SetupArgs) -> anyhow::Result<()> {
    debian_packages(args)?;
    cargo_tools(args)?;
    sigstore_js(args)
}

/// The sigstore-js judge of Sigstore bundles (npm packages pinned by a lockfile).
fn sigstore_js(args: &SetupArgs) -> anyhow::Result<()> {
    use proofmark_test_support::tools::sigstore_js::{VERSION, install, root};
    let present = root().join("node_modules/@sigstore/verify/package.json").exists();
    let state = if present { "ok" } else { "missing" };
    println!(
        "  {state:<8} {:<16} {VERSION} (npm ci, cached in {})",
        "sigstore-js",
        root().display()
    );
    if present || args.check {
        return if present || !args.check {
            Ok(())
        } else {
            bail!("sigstore-js missing; run `cargo xtask setup`")
        };
    }
    let path = install().map_err(anyhow::Error::msg)?;
    println!("setup: installed {}", path.display());
    Ok(())
}

/// Tools from crates.io, built once into the cache that later runs reuse.
fn cargo_tools(args: &SetupArgs) -> anyhow::Result<()> {
    use proofmark_test_support::tools::{TOOLS, cache_root};
    for tool in TOOLS {
        let present = tool.path().exists();
        let state = if present { "ok" } else { "missing" };
        println!(
            "  {state:<8} {:<16} {} (crates.io, cached in {})",
            tool.bin,
            tool.version,
            cache_root().display()
        );
        if present || args.check {
            continue;
        }
        let path = tool.install().map_err(anyhow::Error::msg)?;
        println!("setup: installed {}", path.display());
    }
    if args.check && TOOLS.iter().any(|t| !t.path().exists()) {
        bail!("crates.io tools missing; run `cargo xtask setup` to build them");
    }
    Ok(())
}

fn debian_packages(args: &SetupArgs) -> anyhow::Result<()> {
    let missing = missing_packages();
    for c in COMPONENTS {
        let state = if missing.contains(&c.package) { "missing" } else { "ok" };
        println!("  {state:<8} {:<16} {}", c.package, c.why);
    }
    if missing.is_empty() {
        println!("setup: all {} components present", COMPONENTS.len());
        return Ok(());
    }
    let list = missing.join(" ");
    if args.check {
        bail!("missing: {list}; run `cargo xtask setup` as root to install them");
    }
    if !is_root() || which("apt-get").is_none() {
        bail!(
            "missing: {list}. Install them with:\n    sudo apt-get update && sudo apt-get install -y \
             --no-install-recommends {list}\n(or run `cargo xtask setup` as root on Debian/Ubuntu)"
        );
    }
    println!("setup: installing {list}");
    cmd::run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still = missing_packages();
    if !still.is_empty() {
        bail!("still missing after apt-get install: {}", still.join(" "));
    }
    println!("setup: installed {list}");
    Ok(())
}

fn missing_packages() -> Vec<&'static str> {
    COMPONENTS.iter().filter(|c| !present(c.probe)).map(|c| c.package).collect()
}

fn present(probe: Probe) -> bool {
    match probe {
        Probe::Tool(tool) => which(tool).is_some(),
        Probe::PkgConfig(lib) => {
            Command::new("pkg-config").args(["--exists", lib]).status().is_ok_and(|s| s.success())
        }
        Probe::OpensslTpm2Provider => proofmark_test_support::openssl_tpm2_provider().is_some(),
    }
}

pub(crate) fn which(tool: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Root, read from the kernel's view of this process (no libc needed).
fn is_root() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else { return false };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|effective| effective == "0")
}
