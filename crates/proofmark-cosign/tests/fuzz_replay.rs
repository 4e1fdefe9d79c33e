//! The cargo-fuzz targets on stable Rust, in every `cargo test`: each target's body (shared with
//! `fuzz/fuzz_targets/`) replays its seed corpus (`tests/fuzz_corpus/<target>/`, plus a local
//! libFuzzer corpus and artifacts in `fuzz/` when present) and a few thousand inputs mutated from
//! it by a fixed-seed generator, so the targets keep compiling and their findings stay fixed.
//! A failing input is printed in base64; save it under `tests/fuzz_corpus/<target>/`.

mod fuzz_bodies;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Generated inputs per target; small enough to keep the run to seconds.
const GENERATED: usize = 3000;
/// The key target's inputs: about one in 60 still passes the envelope checks and pays for a real
/// scrypt derivation (N = 32768, about 0.1 s unoptimised), so it gets fewer.
const GENERATED_KEYS: usize = 1000;

/// xorshift64*: deterministic, so a failure reproduces on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        // Truncation is fine: `n` is small and the modulus keeps the value below it.
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes and tokens that tend to reach new paths in JSON and PEM parsers.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"0",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"{}",
    b"[]",
    b"\xff",
    b"\n",
    b"=",
    b"-----",
    b"sha256:",
    b"\"layers\"",
    b"\"critical\"",
    b"\"optional\"",
    b"\"mediaType\"",
];

/// One input: 1 to 4 mutations of `seed`, splicing from `others`.
fn mutate(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next().to_le_bytes()[0];
            }
            2 => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => data.truncate(at),
            4 => {
                let other = &others[rng.below(others.len())];
                let from = rng.below(other.len());
                let to = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            5 if !data.is_empty() => {
                // Repeat a slice: deep nesting and long strings.
                let from = rng.below(data.len());
                let to = (from + rng.below(32)).min(data.len());
                let piece: Vec<u8> = data[from..to].repeat(1 + rng.below(64));
                data.splice(at..at, piece);
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

/// A PEM file's label and decoded body, to mutate the JSON inside rather than its base64.
fn pem_parts(pem: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(pem).ok()?;
    let label = text.lines().next()?.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    Some((label.to_owned(), STANDARD.decode(body).ok()?))
}

fn pem(label: &str, body: &[u8]) -> Vec<u8> {
    let encoded = STANDARD.encode(body);
    let lines: Vec<&str> =
        encoded.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n")).into_bytes()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
    found.sort();
    found
}

/// Runs `body` on `data`; on a panic, fails naming the target, where the input came from, and
/// the input itself.
fn run(target: &str, body: fuzz_bodies::Body, origin: &str, data: &[u8]) {
    if std::panic::catch_unwind(AssertUnwindSafe(|| body(data))).is_err() {
        panic!(
            "fuzz target `{target}` panicked on {origin}; save this input (base64) as \
             tests/fuzz_corpus/{target}/NAME and fix the parser:\n{}",
            STANDARD.encode(data)
        );
    }
}

fn replay(target: &str) {
    let (_, body) = *fuzz_bodies::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("every replayed target has a body");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds_dir = root.join("tests/fuzz_corpus").join(target);
    let read = |p: &PathBuf| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let seeds: Vec<Vec<u8>> = files(&seeds_dir).iter().map(read).collect();
    assert!(seeds.len() >= 2, "{}: give the target at least two seeds", seeds_dir.display());
    let local = [root.join("fuzz/corpus").join(target), root.join("fuzz/artifacts").join(target)];
    let mut replayed = files(&seeds_dir);
    replayed.extend(local.iter().flat_map(|d| files(d)));
    for path in &replayed {
        run(target, body, &path.display().to_string(), &read(path));
    }
    // Seeded by the target's name: each target gets its own fixed sequence.
    let mut rng = Rng(target
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)));
    let count = if target == "cosign_key" { GENERATED_KEYS } else { GENERATED };
    for i in 0..count {
        let seed = &seeds[rng.below(seeds.len())];
        // One in 8 of a PEM target's inputs mutates the JSON inside the armour, which byte noise
        // on the base64 rarely reaches. Not more: many of those pay for a scrypt derivation.
        let data = match pem_parts(seed) {
            Some((label, inner)) if i % 8 == 0 => pem(&label, &mutate(&mut rng, &inner, &seeds)),
            _ => mutate(&mut rng, seed, &seeds),
        };
        run(target, body, &format!("generated input {i}"), &data);
    }
}

#[test]
fn payload() {
    replay("payload");
}

#[test]
fn manifest() {
    replay("manifest");
}

#[test]
fn cosign_key() {
    replay("cosign_key");
}

/// Every cargo-fuzz target has a body here and a seed corpus (the fuzz crate is not in the
/// published package, so this only checks a checkout).
#[test]
fn every_fuzz_target_is_replayed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(manifest) = std::fs::read_to_string(root.join("fuzz/Cargo.toml")) else { return };
    let names: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.strip_prefix("name = \"")?.strip_suffix('"'))
        .filter(|n| *n != "proofmark-cosign-fuzz")
        .collect();
    assert_eq!(names.len(), fuzz_bodies::TARGETS.len(), "{names:?}");
    for name in names {
        assert!(fuzz_bodies::TARGETS.iter().any(|(t, _)| *t == name), "no body for `{name}`");
        assert!(
            !files(&root.join("tests/fuzz_corpus").join(name)).is_empty(),
            "no seeds for `{name}`"
        );
    }
}
