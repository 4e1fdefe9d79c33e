//! Large synthetic git histories for the release benchmarks, written with `git fast-import`.
//!
//! [`Synthetic`] describes a Cargo workspace of `crates` crates (`crates/c00` …) and a history
//! of `commits` commits on `main`: Conventional Commits (features, fixes, breaking changes,
//! chores, docs), some non-conventional ones, a merge of a two-commit side branch every
//! `merge_every` commits, commits that touch only root files, and `releases` release commits
//! per crate, each bumping the crate's version and tagged `cNN-v0.J.0`. The last release of
//! every crate is `unreleased_tail` commits (plus the crate's index) before `HEAD`. Everything
//! is derived from a fixed seed, so the same description always gives the same repository
//! (same commit ids). The result is repacked (`git repack -a -d -f`), as after `git gc`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// A synthetic history to build.
#[derive(Clone, Copy, Debug)]
pub struct Synthetic {
    /// Commits on the main line, release and merge commits included.
    pub commits: usize,
    /// Crates in the workspace.
    pub crates: usize,
    /// Releases per crate.
    pub releases: usize,
    /// Commits between the last release of crate 0 and `HEAD`.
    pub unreleased_tail: usize,
    /// A merge commit every this many commits (0: none).
    pub merge_every: usize,
}

impl Synthetic {
    /// The benchmark: 50,000 commits over 20 crates, last releases 2,000 commits back.
    pub const BENCH: Self = Self {
        commits: 50_000,
        crates: 20,
        releases: 10,
        unreleased_tail: 2_000,
        merge_every: 250,
    };

    /// The folder of crate `k`.
    pub fn crate_dir(k: usize) -> String {
        format!("crates/{}", Self::crate_name(k))
    }

    /// The name of crate `k`.
    pub fn crate_name(k: usize) -> String {
        format!("c{k:02}")
    }

    /// The tag prefix of crate `k` (its tags are `PREFIX0.J.0`).
    pub fn tag_prefix(k: usize) -> String {
        format!("{}-v", Self::crate_name(k))
    }

    /// The main-line index (1-based) of release `j` (1-based) of crate `k`.
    fn release_at(&self, j: usize, k: usize) -> usize {
        let last = self.commits - self.unreleased_tail;
        last - (self.releases - j) * (last / self.releases.max(1)) - k
    }

    /// Builds the repository in `dir` (which must not exist or be empty) with the `git` at
    /// `git`; returns an error text naming what failed.
    pub fn build(&self, git: &Path, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        run(git, dir, &["-c", "init.defaultBranch=main", "init", "-q"])?;
        let stream = self.stream();
        let mut child = Command::new(git)
            .current_dir(dir)
            .args(["fast-import", "--quiet", "--done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run git fast-import: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&stream).map_err(|e| format!("feed git fast-import: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("git fast-import: {e}"))?;
        if !out.status.success() {
            return Err(format!("git fast-import: {}", String::from_utf8_lossy(&out.stderr)));
        }
        run(git, dir, &["checkout", "-q", "-f", "main"])?;
        if self.merge_every > 0 && self.merge_every < self.commits {
            run(git, dir, &["branch", "-q", "-D", "side"])?;
        }
        // fast-import's pack deltifies each object against the previous version of its path,
        // in chains up to 50 deep, which no real repository has: git's fast-import manual
        // says to repack after an import, and `git gc` or a clone give the same layout.
        run(git, dir, &["repack", "-a", "-d", "-f", "-q"])?;
        Ok(())
    }

    /// The fast-import stream.
    pub fn stream(&self) -> Vec<u8> {
        let mut out = String::with_capacity(self.commits * 300);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut mark = 0usize;
        let mut time = 1_600_000_000u64;
        let mut versions = vec![0usize; self.crates];
        let mut releases: Vec<(usize, usize)> = Vec::new();
        for k in 0..self.crates {
            for j in 1..=self.releases {
                releases.push((self.release_at(j, k), k));
            }
        }
        releases.sort_unstable();
        let mut next_release = 0;
        let mut head = 0usize;
        for i in 1..=self.commits {
            time += 60;
            if i == 1 {
                mark += 1;
                header(&mut out, mark, "Ada", time);
                let mut members = String::from("[workspace]\nresolver = \"2\"\nmembers = [");
                for k in 0..self.crates {
                    let _ = write!(members, "\"{}\", ", Self::crate_dir(k));
                }
                members.push_str("]\n");
                data(&mut out, "chore: start the workspace\n");
                file(&mut out, "Cargo.toml", &members);
                file(&mut out, "README.md", "# synthetic\n");
                for k in 0..self.crates {
                    file(&mut out, &format!("{}/Cargo.toml", Self::crate_dir(k)), &manifest(k, 0));
                    file(&mut out, &format!("{}/src/lib.rs", Self::crate_dir(k)), "//! c\n");
                }
                head = mark;
                continue;
            }
            if releases.get(next_release).is_some_and(|(at, _)| *at == i) {
                let k = releases[next_release].1;
                next_release += 1;
                versions[k] += 1;
                let name = Self::crate_name(k);
                mark += 1;
                header(&mut out, mark, "Ada", time);
                data(&mut out, &format!("chore(release): {name} 0.{}.0\n", versions[k]));
                let _ = writeln!(out, "from :{head}");
                file(
                    &mut out,
                    &format!("{}/Cargo.toml", Self::crate_dir(k)),
                    &manifest(k, versions[k]),
                );
                let _ = writeln!(
                    out,
                    "reset refs/tags/{}0.{}.0\nfrom :{mark}\n",
                    Self::tag_prefix(k),
                    versions[k]
                );
                head = mark;
                continue;
            }
            if self.merge_every > 0 && i % self.merge_every == 0 {
                // A side branch of two commits off `head`, then the merge on the main line.
                let mut side = head;
                let mut side_files = Vec::new();
                for s in 0..2 {
                    let k = rng.below(self.crates);
                    mark += 1;
                    let _ = writeln!(out, "commit refs/heads/side\nmark :{mark}");
                    let _ = writeln!(out, "author Bob <bob@example.org> {time} +0000");
                    let _ = writeln!(out, "committer Bob <bob@example.org> {time} +0000");
                    data(&mut out, &format!("fix(c{k:02}): side work {i}.{s}\n"));
                    let _ = writeln!(out, "from :{side}");
                    let path = format!("{}/src/side.rs", Self::crate_dir(k));
                    let text = format!("// {i}.{s}\n");
                    file(&mut out, &path, &text);
                    side_files.push((path, text));
                    side = mark;
                    time += 1;
                }
                mark += 1;
                header(&mut out, mark, "Ada", time);
                data(&mut out, &format!("Merge branch 'side-{i}'\n"));
                let _ = writeln!(out, "from :{head}\nmerge :{side}");
                // The merge result carries the side branch's changes (no conflicts: the main
                // line did not touch these files since the fork).
                for (path, text) in &side_files {
                    file(&mut out, path, text);
                }
                out.push('\n');
                head = mark;
                continue;
            }
            let k = rng.below(self.crates);
            let roll = rng.below(100);
            let message = match roll {
                0..=34 => format!("fix(c{k:02}): handle case {i}\n"),
                35..=59 => format!("feat(c{k:02}): add option {i}\n\nIt is off by default.\n"),
                60..=62 => format!(
                    "feat(c{k:02})!: rework the API for {i}\n\nBREAKING CHANGE: call sites change\n"
                ),
                63..=72 => format!("chore: tidy {i}\n"),
                73..=80 => format!("docs(c{k:02}): explain {i}\n"),
                81..=88 => format!("Update the code for #{i}\n"),
                _ => format!("refactor: shared helper {i}\n\nCrate: c{k:02}\n"),
            };
            mark += 1;
            header(&mut out, mark, "Ada", time);
            data(&mut out, &message);
            let _ = writeln!(out, "from :{head}");
            if (63..=72).contains(&roll) {
                file(&mut out, "README.md", &format!("# synthetic\n\n{i}\n"));
            } else {
                file(
                    &mut out,
                    &format!("{}/src/lib.rs", Self::crate_dir(k)),
                    &format!("//! c\n// change {i}\n"),
                );
            }
            head = mark;
        }
        out.push_str("done\n");
        out.into_bytes()
    }
}

fn manifest(k: usize, minor: usize) -> String {
    format!(
        "[package]\nname = \"{}\"\nversion = \"0.{minor}.0\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"synthetic\"\n",
        Synthetic::crate_name(k)
    )
}

fn header(out: &mut String, mark: usize, who: &str, time: u64) {
    let email = who.to_lowercase();
    let _ = writeln!(out, "commit refs/heads/main\nmark :{mark}");
    let _ = writeln!(out, "author {who} <{email}@example.org> {time} +0000");
    let _ = writeln!(out, "committer {who} <{email}@example.org> {time} +0000");
}

fn data(out: &mut String, text: &str) {
    let _ = write!(out, "data {}\n{text}", text.len());
}

fn file(out: &mut String, path: &str, text: &str) {
    let _ = write!(out, "M 100644 inline {path}\ndata {}\n{text}\n", text.len());
}

fn run(git: &Path, dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(git)
        .current_dir(dir)
        .args(args)
        .output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// xorshift64*: deterministic and good enough to pick crates and message kinds.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % n.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn git_out(git: &Path, dir: &Path, args: &[&str]) -> String {
        let out = Command::new(git).current_dir(dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn the_history_git_reads_back_is_the_one_described() {
        let Some(git) = crate::require_tool("git", "git") else { return };
        let temp = crate::temp_dir("synthetic");
        let spec = Synthetic {
            commits: 600,
            crates: 4,
            releases: 3,
            unreleased_tail: 100,
            merge_every: 50,
        };
        spec.build(&git, temp.path()).unwrap();
        let dir = temp.path();
        git_out(&git, dir, &["fsck", "--strict", "--no-progress"]);
        // Every 50th main-line commit is a merge bringing two side commits (unless a release
        // falls on it).
        let merges: usize = git_out(&git, dir, &["rev-list", "--count", "--merges", "HEAD"])
            .trim()
            .parse()
            .unwrap();
        assert!((10..=12).contains(&merges), "{merges} merges");
        let total = git_out(&git, dir, &["rev-list", "--count", "HEAD"]);
        assert_eq!(total.trim(), (600 + 2 * merges).to_string());
        let tags = git_out(&git, dir, &["tag", "--list"]);
        assert_eq!(tags.lines().count(), 4 * 3, "{tags}");
        // The last release of crate 0 is 100 main-line commits before HEAD.
        let behind =
            git_out(&git, dir, &["rev-list", "--count", "--first-parent", "c00-v0.3.0..HEAD"]);
        assert_eq!(behind.trim(), "100");
        // The tagged commit bumps the crate's version.
        let manifest = git_out(&git, dir, &["show", "c02-v0.2.0:crates/c02/Cargo.toml"]);
        assert!(manifest.contains("version = \"0.2.0\""), "{manifest}");
        // Same description, same repository.
        let again = crate::temp_dir("synthetic-again");
        spec.build(&git, again.path()).unwrap();
        assert_eq!(
            git_out(&git, dir, &["rev-parse", "HEAD"]),
            git_out(&git, again.path(), &["rev-parse", "HEAD"])
        );
    }
}
