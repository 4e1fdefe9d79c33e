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
use std::path::{Path, PathBuf};
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

/// Shapes of real families added to a [`Synthetic`] history (issue 11).
#[derive(Clone, Copy, Debug, Default)]
pub struct Shapes {
    /// Every this many releases (in history order; 0: none), the release commit is made on a
    /// `release` branch, tagged there, and merged back into `main` by a merge commit titled
    /// `Merge pull request #N from family/release-…`.
    pub release_branch_every: usize,
    /// This many crates (`c01`, `c05`, `c09`, …) get a pre-release tag `cNN-v0.R+1.0-alpha.1`
    /// halfway through the unreleased tail, the manifest bumped to it.
    pub prereleases: usize,
    /// This many fixes of `c00` in the unreleased tail (each adding a file) are cherry-picked
    /// to a `maint` branch forked at `c00`'s last release and released there as `c00-v0.R.1`.
    pub cherry_picks: usize,
}

impl Shapes {
    /// The shapes of the benchmark: every fifth release on a branch merged back, three crates
    /// with a pre-release tag, ten cherry-picks.
    pub const BENCH: Self = Self { release_branch_every: 5, prereleases: 3, cherry_picks: 10 };
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
        self.build_with(&Shapes::default(), git, dir)
    }

    /// [`Synthetic::build`] with the `shapes` of real families.
    pub fn build_with(&self, shapes: &Shapes, git: &Path, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        run(git, dir, &["-c", "init.defaultBranch=main", "init", "-q"])?;
        let stream = self.stream_with(shapes);
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
        for branch in ["side", "release"] {
            let exists = Command::new(git)
                .current_dir(dir)
                .args(["rev-parse", "--verify", "-q", &format!("refs/heads/{branch}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if exists {
                run(git, dir, &["branch", "-q", "-D", branch])?;
            }
        }
        // fast-import's pack deltifies each object against the previous version of its path,
        // in chains up to 50 deep, which no real repository has: git's fast-import manual
        // says to repack after an import, and `git gc` or a clone give the same layout.
        run(git, dir, &["repack", "-a", "-d", "-f", "-q"])?;
        Ok(())
    }

    /// The fast-import stream.
    pub fn stream(&self) -> Vec<u8> {
        self.stream_with(&Shapes::default())
    }

    /// Whether crate `k` gets a pre-release tag under `shapes`.
    pub fn has_prerelease(shapes: &Shapes, k: usize) -> bool {
        k % 4 == 1 && k / 4 < shapes.prereleases
    }

    /// The fast-import stream with `shapes`.
    pub fn stream_with(&self, shapes: &Shapes) -> Vec<u8> {
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
        let tail_start = self.commits - self.unreleased_tail;
        // Main-line indexes of the fixes of c00 that the maintenance branch cherry-picks.
        let picks: Vec<usize> = (1..=shapes.cherry_picks)
            .map(|t| tail_start + t * (self.unreleased_tail / (shapes.cherry_picks + 2)).max(1))
            .collect();
        let mut picked: Vec<(String, String, String)> = Vec::new();
        let mut last_release_mark = vec![0usize; self.crates];
        let mut release_count = 0usize;
        for i in 1..=self.commits {
            time += 60;
            if let Some(k) = (0..self.crates).find(|k| {
                Self::has_prerelease(shapes, *k) && i == tail_start + self.unreleased_tail / 2 + k
            }) {
                let name = Self::crate_name(k);
                let version = format!("0.{}.0-alpha.1", versions[k] + 1);
                mark += 1;
                header(&mut out, mark, "Ada", time);
                data(&mut out, &format!("chore(release): {name} {version}\n"));
                let _ = writeln!(out, "from :{head}");
                file(
                    &mut out,
                    &format!("{}/Cargo.toml", Self::crate_dir(k)),
                    &manifest_at(k, &version),
                );
                let _ = writeln!(
                    out,
                    "reset refs/tags/{}{version}\nfrom :{mark}\n",
                    Self::tag_prefix(k)
                );
                head = mark;
                continue;
            }
            if picks.contains(&i) {
                let message = format!("fix(c00): fix {i}\n");
                let path = format!("{}/src/fix{i}.rs", Self::crate_dir(0));
                let text = format!("// fix {i}\n");
                mark += 1;
                header(&mut out, mark, "Ada", time);
                data(&mut out, &message);
                let _ = writeln!(out, "from :{head}");
                file(&mut out, &path, &text);
                picked.push((message, path, text));
                head = mark;
                continue;
            }
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
                release_count += 1;
                let on_branch = shapes.release_branch_every > 0
                    && release_count % shapes.release_branch_every == 0;
                let changelog = format!("# Changelog\n\n## [0.{}.0]\n", versions[k]);
                let manifest_path = format!("{}/Cargo.toml", Self::crate_dir(k));
                let changelog_path = format!("{}/CHANGELOG.md", Self::crate_dir(k));
                mark += 1;
                if on_branch {
                    let _ = writeln!(out, "commit refs/heads/release\nmark :{mark}");
                    let _ = writeln!(out, "author Ada <ada@example.org> {time} +0000");
                    let _ = writeln!(out, "committer Ada <ada@example.org> {time} +0000");
                } else {
                    header(&mut out, mark, "Ada", time);
                }
                data(&mut out, &format!("chore(release): {name} 0.{}.0\n", versions[k]));
                let _ = writeln!(out, "from :{head}");
                file(&mut out, &manifest_path, &manifest(k, versions[k]));
                // Without shapes the stream stays what it always was (same commit ids).
                if shapes.release_branch_every > 0 {
                    file(&mut out, &changelog_path, &changelog);
                }
                let _ = writeln!(
                    out,
                    "reset refs/tags/{}0.{}.0\nfrom :{mark}\n",
                    Self::tag_prefix(k),
                    versions[k]
                );
                last_release_mark[k] = mark;
                if on_branch {
                    // The release branch merged back: main did not move, so the merge's tree
                    // is the release commit's.
                    let release = mark;
                    time += 1;
                    mark += 1;
                    header(&mut out, mark, "Ada", time);
                    data(
                        &mut out,
                        &format!(
                            "Merge pull request #{i} from family/release-{name}-0.{}.0\n\n\
                             Release {name} 0.{}.0\n",
                            versions[k], versions[k]
                        ),
                    );
                    let _ = writeln!(out, "from :{head}\nmerge :{release}");
                    file(&mut out, &manifest_path, &manifest(k, versions[k]));
                    file(&mut out, &changelog_path, &changelog);
                    out.push('\n');
                }
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
        if !picked.is_empty() && last_release_mark[0] > 0 {
            // The maintenance branch: the picked fixes again (same patches, later times) on
            // c00's last release, then a patch release of c00 there.
            let mut from = last_release_mark[0];
            for (message, path, text) in &picked {
                time += 60;
                mark += 1;
                let _ = writeln!(out, "commit refs/heads/maint\nmark :{mark}");
                let _ = writeln!(out, "author Ada <ada@example.org> {time} +0000");
                let _ = writeln!(out, "committer Bob <bob@example.org> {time} +0000");
                data(&mut out, message);
                let _ = writeln!(out, "from :{from}");
                file(&mut out, path, text);
                from = mark;
            }
            time += 60;
            mark += 1;
            let version = format!("0.{}.1", versions[0]);
            let _ = writeln!(out, "commit refs/heads/maint\nmark :{mark}");
            let _ = writeln!(out, "author Ada <ada@example.org> {time} +0000");
            let _ = writeln!(out, "committer Ada <ada@example.org> {time} +0000");
            data(&mut out, &format!("chore(release): c00 {version}\n"));
            let _ = writeln!(out, "from :{from}");
            file(
                &mut out,
                &format!("{}/Cargo.toml", Self::crate_dir(0)),
                &manifest_at(0, &version),
            );
            let _ =
                writeln!(out, "reset refs/tags/{}{version}\nfrom :{mark}\n", Self::tag_prefix(0));
        }
        out.push_str("done\n");
        out.into_bytes()
    }
}

fn manifest(k: usize, minor: usize) -> String {
    manifest_at(k, &format!("0.{minor}.0"))
}

fn manifest_at(k: usize, version: &str) -> String {
    format!(
        "[package]\nname = \"{}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
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

/// A git work tree driven through the `git` CLI with fixed dates and identities and no global
/// or system configuration, so the same script always gives the same commit ids.
#[derive(Debug)]
pub struct Scripted {
    git: PathBuf,
    dir: PathBuf,
    tick: u32,
}

impl Scripted {
    /// `git init` in `dir`, on branch `main`.
    pub fn init(git: &Path, dir: &Path) -> Self {
        let repo = Self { git: git.to_owned(), dir: dir.to_owned(), tick: 0 };
        repo.run(&["-c", "init.defaultBranch=main", "init", "-q"]);
        repo
    }

    /// A repository that already exists in `dir` (commands run at tick 0).
    pub fn open(git: &Path, dir: &Path) -> Self {
        Self { git: git.to_owned(), dir: dir.to_owned(), tick: 0 }
    }

    /// The work tree.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git args…` at the current tick; panics if git fails. Returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let date = format!("2026-01-01T{:02}:{:02}:00Z", self.tick / 60, self.tick % 60);
        let out = Command::new(&self.git)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.org")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.org")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `git args…` one minute after the previous step (commits, merges, cherry-picks).
    pub fn step(&mut self, args: &[&str]) -> String {
        self.tick += 1;
        self.run(args)
    }

    /// Writes a file of the work tree.
    pub fn write(&self, path: &str, text: &str) {
        let path = self.dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Commits everything with `message`; returns the new commit's id.
    pub fn commit(&mut self, message: &str) -> String {
        self.run(&["add", "-A"]);
        self.step(&["commit", "-q", "--allow-empty", "-m", message]);
        self.rev_parse("HEAD")
    }

    /// `git rev-parse REV`.
    pub fn rev_parse(&self, rev: &str) -> String {
        self.run(&["rev-parse", rev]).trim().to_owned()
    }
}

/// A crate manifest with the fields `cargo package` wants, plus `extra` lines.
pub fn crate_manifest(name: &str, version: &str, extra: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\
         license = \"MIT\"\ndescription = \"{name}\"\n{extra}"
    )
}

/// Scripted histories of the repository classes release plans must get right (issue 11),
/// each built in a fresh folder with the `git` CLI.
pub mod classes {
    use super::{Scripted, crate_manifest as manifest};
    use std::path::Path;

    /// A family that releases on a branch and merges the release back through a pull request.
    ///
    /// Crates `a`, `b`, `c` (tags `NAME-X.Y.Z`; `b` excludes `tests/` from its package).
    /// After the 1.0.0 tags, `main` fixes `a` and adds a feature to `b`; a `release-1` branch
    /// bumps `a` to 1.0.1 and `b` to 1.1.0 (manifests and changelogs), tagged there. `main`
    /// meanwhile gets a README change, a fix of `b`, a test of `b` (excluded from its
    /// package) and a typo fix in `c`'s changelog, then merges the release branch back.
    /// Right plan: `a` and `c` unchanged, `b` 1.1.1 with the one fix, and the merge, the test
    /// and the changelog edit make no entry.
    pub fn release_branch_merged_back(git: &Path, dir: &Path) -> Scripted {
        let mut repo = Scripted::init(git, dir);
        repo.write("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n");
        repo.write("README.md", "# family\n");
        for name in ["a", "b", "c"] {
            let extra = if name == "b" { "exclude = [\"tests/\"]\n" } else { "" };
            repo.write(&format!("crates/{name}/Cargo.toml"), &manifest(name, "1.0.0", extra));
            repo.write(&format!("crates/{name}/src/lib.rs"), &format!("//! {name}\n"));
            repo.write(&format!("crates/{name}/CHANGELOG.md"), "# Changelog\n\n## [1.0.0]\n");
        }
        repo.commit("Initial family");
        for name in ["a", "b", "c"] {
            repo.run(&["tag", &format!("{name}-1.0.0")]);
        }
        repo.write("crates/a/src/lib.rs", "//! a\npub fn empty() {}\n");
        repo.commit("fix(a): handle empty input");
        repo.write("crates/b/src/lib.rs", "//! b\npub struct Widget;\n");
        repo.commit("feat(b): add a widget");
        repo.run(&["checkout", "-q", "-b", "release-1"]);
        repo.write("crates/a/Cargo.toml", &manifest("a", "1.0.1", ""));
        repo.write("crates/a/CHANGELOG.md", "# Changelog\n\n## [1.0.1]\n\n## [1.0.0]\n");
        repo.write("crates/b/Cargo.toml", &manifest("b", "1.1.0", "exclude = [\"tests/\"]\n"));
        repo.write("crates/b/CHANGELOG.md", "# Changelog\n\n## [1.1.0]\n\n## [1.0.0]\n");
        repo.commit("chore(release): a 1.0.1, b 1.1.0");
        repo.run(&["tag", "a-1.0.1"]);
        repo.run(&["tag", "b-1.1.0"]);
        repo.run(&["checkout", "-q", "main"]);
        repo.write("README.md", "# family\n\nThree crates.\n");
        repo.commit("docs: describe the family");
        repo.write("crates/b/src/lib.rs", "//! b\npub struct Widget;\npub fn spin() {}\n");
        repo.commit("fix(b): the widget spins");
        repo.write("crates/b/tests/widget.rs", "#[test]\nfn spins() {}\n");
        repo.commit("test(b): widget tests");
        repo.write("crates/c/CHANGELOG.md", "# Changelog\n\n## [1.0.0] - first\n");
        repo.commit("docs(c): fix a typo in the changelog");
        repo.step(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #7 from family/release-1\n\nRelease a 1.0.1 and b 1.1.0",
            "release-1",
        ]);
        repo
    }

    /// A root crate that moved from `top-vX.Y.Z` tags to `vX.Y.Z` tags, with a member `sub`
    /// (tags `0.4.0`, then `sub-v0.5.0`) and a member `util` never released.
    ///
    /// The unprefixed `0.4.0` belongs to `sub`, whose manifest had 0.4.0 at that commit, not
    /// to `util` (0.3.0 there, 0.4.0 now). Right plan: `top`'s last release is `v1.2.0`, its
    /// next tag `v1.2.1`; `sub` is unchanged since 0.5.0; `util`'s first release is 0.4.0.
    pub fn root_crate_tag_scheme_changed(git: &Path, dir: &Path) -> Scripted {
        let mut repo = Scripted::init(git, dir);
        let root = |version: &str| {
            manifest("top", version, "\n[workspace]\nmembers = [\"crates/sub\", \"crates/util\"]\n")
        };
        repo.write("Cargo.toml", &root("1.0.0"));
        repo.write("src/lib.rs", "//! top\n");
        repo.write("crates/sub/Cargo.toml", &manifest("sub", "0.4.0", ""));
        repo.write("crates/sub/src/lib.rs", "//! sub\n");
        repo.write("crates/util/Cargo.toml", &manifest("util", "0.3.0", ""));
        repo.write("crates/util/src/lib.rs", "//! util\n");
        repo.commit("Initial top, sub and util");
        repo.run(&["tag", "top-v1.0.0"]);
        repo.run(&["tag", "0.4.0"]);
        repo.write("src/lib.rs", "//! top\npub fn run() {}\n");
        repo.commit("feat: run");
        repo.write("Cargo.toml", &root("1.1.0"));
        repo.commit("chore(release): top 1.1.0");
        repo.run(&["tag", "top-v1.1.0"]);
        repo.write("crates/sub/src/lib.rs", "//! sub, fixed\n");
        repo.write("crates/util/Cargo.toml", &manifest("util", "0.4.0", ""));
        repo.commit("fix(sub): a fix; util 0.4.0");
        repo.write("crates/sub/Cargo.toml", &manifest("sub", "0.5.0", ""));
        repo.commit("chore(release): sub 0.5.0");
        repo.run(&["tag", "sub-v0.5.0"]);
        repo.write("src/lib.rs", "//! top\npub fn run() {}\npub fn stop() {}\n");
        repo.commit("feat: stop");
        repo.write("Cargo.toml", &root("1.2.0"));
        repo.commit("chore(release): 1.2.0");
        repo.run(&["tag", "v1.2.0"]);
        repo.write("src/lib.rs", "//! top\npub fn run() {}\npub fn stop() -> bool { true }\n");
        repo.commit("fix: stop says whether it stopped");
        repo
    }

    /// A single crate that tags pre-releases on `main`: `v0.9.0`, then `v1.0.0-alpha.1` and
    /// `v1.0.0-alpha.2` with the manifest already at 1.0.0-alpha.2, then a feature.
    ///
    /// Right plan: never 1.0.0-alpha.2 again; 1.0.0 (folding the alphas) without `--pre`,
    /// 1.0.0-alpha.3 with `--pre alpha`.
    pub fn prerelease_tags_on_main(git: &Path, dir: &Path) -> Scripted {
        let mut repo = Scripted::init(git, dir);
        repo.write("Cargo.toml", &manifest("solo", "0.9.0", ""));
        repo.write("src/lib.rs", "//! solo\n");
        repo.commit("feat: first");
        repo.run(&["tag", "v0.9.0"]);
        repo.write("src/lib.rs", "//! solo 1\n");
        repo.commit("feat!: the 1.0 API");
        repo.write("Cargo.toml", &manifest("solo", "1.0.0-alpha.1", ""));
        repo.commit("chore(release): 1.0.0-alpha.1");
        repo.run(&["tag", "v1.0.0-alpha.1"]);
        repo.write("src/lib.rs", "//! solo 1, fixed\n");
        repo.commit("fix: a fix of the alpha");
        repo.write("Cargo.toml", &manifest("solo", "1.0.0-alpha.2", ""));
        repo.commit("chore(release): 1.0.0-alpha.2");
        repo.run(&["tag", "v1.0.0-alpha.2"]);
        repo.write("src/lib.rs", "//! solo 1, fixed, extended\n");
        repo.commit("feat: an extension");
        repo
    }

    /// A family with a `7.x` maintenance branch: crates `core` and `cli` (tags
    /// `NAME-vX.Y.Z`), two fixes of `core` on `main` cherry-picked to `7.x` and released there
    /// as `core-v7.0.1`, while `main` goes on to a breaking change and another fix.
    ///
    /// Right plan: `core` 8.0.0 with the breaking change and the last fix; the two
    /// cherry-picked fixes are "already released in 7.0.1".
    pub fn maintenance_branch_cherry_picks(git: &Path, dir: &Path) -> Scripted {
        let mut repo = Scripted::init(git, dir);
        repo.write("Cargo.toml", "[workspace]\nresolver = \"2\"\nmembers = [\"crates/*\"]\n");
        for name in ["core", "cli"] {
            repo.write(&format!("crates/{name}/Cargo.toml"), &manifest(name, "7.0.0", ""));
            repo.write(&format!("crates/{name}/src/lib.rs"), &format!("//! {name}\n"));
        }
        repo.commit("Initial family");
        repo.run(&["tag", "core-v7.0.0"]);
        repo.run(&["tag", "cli-v7.0.0"]);
        repo.write("crates/core/src/add.rs", "// checked add\n");
        let overflow = repo.commit("fix(core): no overflow on add");
        repo.write("crates/core/src/pool.rs", "// freed\n");
        let leak = repo.commit("fix(core): free the pool");
        repo.write("crates/cli/src/lib.rs", "//! cli in colour\n");
        repo.commit("feat(cli): colours");
        repo.write("crates/core/src/lib.rs", "//! core 8\n");
        repo.commit("feat(core)!: a new API\n\nBREAKING CHANGE: everything moved");
        repo.run(&["checkout", "-q", "-b", "7.x", "core-v7.0.0"]);
        repo.step(&["cherry-pick", "-x", &overflow]);
        repo.step(&["cherry-pick", "-x", &leak]);
        repo.write("crates/core/Cargo.toml", &manifest("core", "7.0.1", ""));
        repo.commit("chore(release): core 7.0.1");
        repo.run(&["tag", "core-v7.0.1"]);
        repo.run(&["checkout", "-q", "main"]);
        repo.write("crates/core/src/sync.rs", "// no race\n");
        repo.commit("fix(core): a race");
        repo
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
        // The shapes of real families, judged by git.
        let shaped = crate::temp_dir("synthetic-shapes");
        let shapes = Shapes { release_branch_every: 2, prereleases: 1, cherry_picks: 3 };
        spec.build_with(&shapes, &git, shaped.path()).unwrap();
        let sdir = shaped.path();
        git_out(&git, sdir, &["fsck", "--strict", "--no-progress"]);
        // Every second release (12 in all) is merged back from its branch, with the tree of
        // the tagged release commit.
        let merges =
            git_out(&git, sdir, &["log", "--merges", "--format=%H", "--grep=Merge pull request"]);
        assert_eq!(merges.lines().count(), 6, "{merges}");
        for merge in merges.lines() {
            assert_eq!(
                git_out(&git, sdir, &["rev-parse", &format!("{merge}^{{tree}}")]),
                git_out(&git, sdir, &["rev-parse", &format!("{merge}^2^{{tree}}")])
            );
        }
        // c01 has a pre-release tag on main, with the manifest at that version.
        let manifest = git_out(&git, sdir, &["show", "c01-v0.4.0-alpha.1:crates/c01/Cargo.toml"]);
        assert!(manifest.contains("version = \"0.4.0-alpha.1\""), "{manifest}");
        git_out(&git, sdir, &["merge-base", "--is-ancestor", "c01-v0.4.0-alpha.1", "HEAD"]);
        // The maintenance release holds three commits whose patches are on main: `git cherry`
        // marks them `-`.
        let cherry = git_out(&git, sdir, &["cherry", "HEAD", "c00-v0.3.1"]);
        let equivalent = cherry.lines().filter(|l| l.starts_with("- ")).count();
        assert_eq!(equivalent, 3, "{cherry}");

        // Same description, same repository.
        let again = crate::temp_dir("synthetic-again");
        spec.build(&git, again.path()).unwrap();
        assert_eq!(
            git_out(&git, dir, &["rev-parse", "HEAD"]),
            git_out(&git, again.path(), &["rev-parse", "HEAD"])
        );
    }
}
