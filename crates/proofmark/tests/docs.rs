//! Docs that cannot rot: every ```` ```console ```` example in README.md and docs/*.md runs here.
//!
//! One test per page, so a failure names the page. A page's examples run top to bottom, each `$ `
//! line by bash in a scratch folder the whole page shares, with `proofmark` on `PATH`, a fresh
//! swtpm in `TPM2TOOLS_TCTI`, a fresh registry in `$REGISTRY` and a temporary `HOME`. Output is
//! matched with snapbox (`[..]` within a line, `...` for any lines), as trycmd does. The format is
//! documented in docs/testing.md; the parser and the matcher have their own tests at the bottom.
//!
//! `PROOFMARK_DOCS_UPDATE=1` rewrites the expected output of every example that differs (keeping
//! the wildcards that still match) instead of failing.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "a test harness: a panic is the failure report"
)]

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proofmark_test_support::registry::Registry;
use proofmark_test_support::swtpm::Swtpm;
use proofmark_test_support::{require_tool, temp_dir};

/// The pages whose examples run, one test each; `every_page_has_a_test` keeps the list complete.
macro_rules! pages {
    ($($test:ident => $page:literal,)*) => {
        const PAGES: &[&str] = &[$($page),*];
        $(
            #[test]
            fn $test() {
                run_page($page);
            }
        )*
    };
}

pages! {
    readme => "README.md",
    docs_architecture => "docs/architecture.md",
    docs_check_deps => "docs/check-deps.md",
    docs_cosign => "docs/cosign.md",
    docs_release => "docs/release.md",
    docs_style => "docs/style.md",
    docs_testing => "docs/testing.md",
    docs_tpm => "docs/tpm.md",
    docs_yank_policy => "docs/yank-policy.md",
}

/// The variable that turns mismatches into rewrites of the page.
const UPDATE_VAR: &str = "PROOFMARK_DOCS_UPDATE";

/// The proxy of cargo and git in the sandbox: a closed loopback port, so they cannot reach the
/// network.
const NO_NETWORK: &str = "http://127.0.0.1:9";

/// How long one command may run before it counts as hung.
const COMMAND_TIMEOUT_SECS: u32 = 600;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

#[test]
fn every_page_has_a_test() {
    let root = workspace_root();
    let mut found: Vec<String> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .chain(["README.md".to_owned()])
        .collect();
    found.sort();
    let mut listed = PAGES.to_vec();
    listed.sort_unstable();
    assert_eq!(listed, found, "every page needs a line in `pages!` of {}", file!());
}

/// Runs every example of `page` (relative to the workspace root) in one fresh sandbox.
fn run_page(page: &str) {
    let path = workspace_root().join(page);
    let text = std::fs::read_to_string(&path).unwrap();
    let examples = parse(&text).unwrap_or_else(|error| panic!("{page}:{error}"));
    if examples.is_empty() {
        return;
    }
    if require_tool("bash", "bash").is_none() {
        return;
    }
    let Some(tpm) = Swtpm::start() else { return };
    let Some(registry) = Registry::start() else { return };
    let sandbox = Sandbox::new(&[
        ("TPM2TOOLS_TCTI", tpm.tcti().into()),
        ("REGISTRY", registry.addr().into()),
    ]);
    let update = std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut rewrites = Vec::new();
    for example in &examples {
        let outcome = sandbox.run(&example.command);
        let Err(report) = check(example, &outcome) else { continue };
        failures.push(format!("{page}:{}: {report}", example.line));
        if !update {
            // Later examples build on this one: their failures would only repeat it.
            break;
        }
        rewrites.push((example.output.clone(), expected_lines(example, &outcome)));
    }
    if update && !rewrites.is_empty() {
        write_atomically(&path, &rewrite(&text, rewrites));
        eprintln!("{UPDATE_VAR}=1: rewrote {} example(s) of {page}", failures.len());
        return;
    }
    assert!(
        failures.is_empty(),
        "{}\n\n(the format: docs/testing.md; {UPDATE_VAR}=1 rewrites the expected output)",
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The format.

/// One `$ ` command of a page and what it must print.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Example {
    /// The 1-based page line of the `$ ` line.
    line: usize,
    /// The command as bash gets it: continuation and here-document lines included.
    command: String,
    /// The expected output, wildcards included; `None` when the example shows none, and then
    /// only the exit status is checked.
    expected: Option<String>,
    /// The expected exit status: 0 unless a last output line says `? N`.
    status: i32,
    /// The 0-based page lines that hold the expected output and the `? N` line, for rewrites.
    output: Range<usize>,
    /// The indentation of the block, which its lines carry in the page (a block in a list).
    indent: String,
}

/// A fence that opens a code block: its character, length, indentation and language.
struct Fence<'a> {
    char: char,
    len: usize,
    indent: &'a str,
    language: &'a str,
}

impl<'a> Fence<'a> {
    fn open(line: &'a str) -> Option<Fence<'a>> {
        let rest = line.trim_start_matches(' ');
        let indent = &line[..line.len() - rest.len()];
        let char = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = rest.chars().take_while(|c| *c == char).count();
        let info = &rest[len..];
        // Three backticks followed by another backtick on the line are inline code.
        if len < 3 || (char == '`' && info.contains('`')) {
            return None;
        }
        let language = info.trim().split([' ', ',', '{']).next().unwrap_or("");
        Some(Fence { char, len, indent, language })
    }

    fn closes(&self, line: &str) -> bool {
        let rest = line.trim_start();
        let len = rest.chars().take_while(|c| *c == self.char).count();
        len >= self.len && rest[len..].trim().is_empty()
    }
}

/// The examples of a page, in order: the `$ ` lines of its ```` ```console ```` blocks.
///
/// Other blocks (```` ```sh ````, and anything inside a longer fence, like a format example in a
/// ```` ````markdown ```` block) are not examples.
fn parse(page: &str) -> Result<Vec<Example>, String> {
    let lines: Vec<&str> = page.lines().collect();
    let mut examples = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let Some(fence) = Fence::open(lines[at]) else {
            at += 1;
            continue;
        };
        let body = at + 1;
        let end = (body..lines.len()).find(|&i| fence.closes(lines[i])).unwrap_or(lines.len());
        if fence.language == "console" {
            if end == lines.len() {
                return Err(format!("{}: the console block is not closed", at + 1));
            }
            parse_block(&lines, body..end, fence.indent, &mut examples)?;
        }
        at = end + 1;
    }
    Ok(examples)
}

fn parse_block(
    lines: &[&str],
    block: Range<usize>,
    indent: &str,
    examples: &mut Vec<Example>,
) -> Result<(), String> {
    let unindent = |line: &'_ str| -> String {
        let rest = line.strip_prefix(indent).unwrap_or_else(|| line.trim_start());
        rest.to_owned()
    };
    let mut at = block.start;
    let mut current: Option<(Example, Vec<String>)> = None;
    while at < block.end {
        let text = unindent(lines[at]);
        let Some(first) = text.strip_prefix("$ ").or((text == "$").then_some("")) else {
            let Some((_, output)) = current.as_mut() else {
                return Err(format!(
                    "{}: a console block starts with a `$ ` command line, not `{text}`",
                    at + 1
                ));
            };
            output.push(text);
            at += 1;
            continue;
        };
        if let Some((example, output)) = current.take() {
            examples.push(finish(example, output, at)?);
        }
        let line = at + 1;
        let mut command = first.to_owned();
        at += 1;
        while command.ends_with('\\') && at < block.end {
            command.push('\n');
            command.push_str(&unindent(lines[at]));
            at += 1;
        }
        for delimiter in here_document_delimiters(&command) {
            loop {
                if at >= block.end {
                    return Err(format!(
                        "{line}: the here-document `{delimiter}` does not end in its block"
                    ));
                }
                let body = unindent(lines[at]);
                at += 1;
                command.push('\n');
                command.push_str(&body);
                if body.trim_start_matches('\t') == delimiter {
                    break;
                }
            }
        }
        let example = Example {
            line,
            command,
            expected: None,
            status: 0,
            output: at..at,
            indent: indent.to_owned(),
        };
        current = Some((example, Vec::new()));
    }
    if let Some((example, output)) = current {
        examples.push(finish(example, output, block.end)?);
    }
    Ok(())
}

/// Completes an example from its output lines, which end before page line `end`.
fn finish(mut example: Example, mut output: Vec<String>, end: usize) -> Result<Example, String> {
    let mut end = end;
    while output.last().is_some_and(|line| line.trim().is_empty()) {
        output.pop();
        end -= 1;
    }
    if let Some(status) = output.last().and_then(|line| status_line(line)) {
        example.status = status?;
        output.pop();
    }
    if let Some(misplaced) = output.iter().position(|line| status_line(line).is_some()) {
        return Err(format!(
            "{}: `{}` must be the last line of the example's output",
            example.output.start + misplaced + 1,
            output[misplaced]
        ));
    }
    example.output.end = end;
    example.expected = (!output.is_empty()).then(|| output.join("\n"));
    Ok(example)
}

/// `Some` for a `? N` line: the status, or why it is not one.
fn status_line(line: &str) -> Option<Result<i32, String>> {
    let status = line.strip_prefix("? ")?;
    Some(status.trim().parse().map_err(|_| format!("`{line}` needs an exit status: `? 1`")))
}

/// The delimiters of the here-documents a command opens (`<<EOF`, `<<-'EOF'`), in order.
fn here_document_delimiters(command: &str) -> Vec<String> {
    let mut delimiters = Vec::new();
    let mut rest = command;
    while let Some(at) = rest.find("<<") {
        rest = &rest[at + 2..];
        if let Some(here_string) = rest.strip_prefix('<') {
            rest = here_string;
            continue;
        }
        let word = rest.strip_prefix('-').unwrap_or(rest).trim_start();
        let delimiter: String = match word.chars().next() {
            Some(quote @ ('\'' | '"')) => word[1..].chars().take_while(|c| *c != quote).collect(),
            _ => word
                .chars()
                .take_while(|c| !c.is_whitespace() && !";|&<>()`".contains(*c))
                .filter(|c| *c != '\\')
                .collect(),
        };
        if !delimiter.is_empty() {
            delimiters.push(delimiter);
        }
    }
    delimiters
}

// ---------------------------------------------------------------------------------------------
// Running and matching.

/// What a command printed (standard output and error, interleaved) and how it exited.
#[derive(Debug)]
struct Outcome {
    output: String,
    status: i32,
}

/// The scratch folder, `HOME` and environment one page's examples share.
struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, OsString)>,
    /// Process groups of commands that left something running (a server started with `&`),
    /// stopped when the page is done.
    leftovers: std::sync::Mutex<Vec<u32>>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let groups = self.leftovers.lock().map(|g| g.clone()).unwrap_or_default();
        for group in groups {
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{group}")]).status();
        }
    }
}

/// Whether a process of group `group` is still running.
fn group_alive(group: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The prologue of every command: output interleaved, `pipefail`, and the exported variables and
/// working folder of the previous commands restored (and saved again on exit, however it exits).
const PROLOGUE: &str = r#"__docs_state=$1; shift
exec 2>&1
set -o pipefail
if [ -f "$__docs_state" ]; then . "$__docs_state"; fi
trap '__docs_status=$?; { export -p; printf "cd %q\n" "$PWD"; } > "$__docs_state"; exit $__docs_status' EXIT
"#;

impl Sandbox {
    /// A fresh sandbox; `vars` come on top of the fixed environment.
    fn new(vars: &[(&'static str, OsString)]) -> Sandbox {
        let dir = temp_dir("docs");
        let home = dir.path().join("home");
        for folder in ["home", "scratch", "tmp"] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
        }
        // Commits in examples need an identity; nothing of the user's own configuration leaks in.
        // git's HTTP goes to a closed port, as cargo's does below: no network but loopback.
        std::fs::write(
            home.join(".gitconfig"),
            format!(
                "[user]\n\tname = Docs Example\n\temail = docs@example.invalid\n\
                 [init]\n\tdefaultBranch = main\n[http]\n\tproxy = {NO_NETWORK}\n"
            ),
        )
        .unwrap();
        let proofmark = Path::new(env!("CARGO_BIN_EXE_proofmark"));
        let mut path = vec![proofmark.parent().unwrap().to_owned()];
        path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        // rustup's `cargo` finds its toolchains through RUSTUP_HOME, which defaults to ~/.rustup.
        let rustup_home = std::env::var_os("RUSTUP_HOME").or_else(|| {
            std::env::var_os("HOME").map(|home| Path::new(&home).join(".rustup").into_os_string())
        });
        let mut env: Vec<(&'static str, OsString)> = vec![
            ("PATH", std::env::join_paths(path).unwrap()),
            ("HOME", home.clone().into_os_string()),
            ("CARGO_HOME", home.join(".cargo").into_os_string()),
            ("TMPDIR", dir.path().join("tmp").into_os_string()),
            ("LANG", "C.UTF-8".into()),
            ("TZ", "UTC".into()),
            ("TERM", "dumb".into()),
            ("NO_COLOR", "1".into()),
            ("CARGO_TERM_COLOR", "never".into()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("TSS2_LOG", "all+NONE".into()),
            // cargo (and git, above) reach nothing but loopback: their proxy is a closed port
            // that `no_proxy` bypasses for loopback registries. Not the general proxy
            // variables: proofmark's HTTP client (ureq 2) reads those but not `NO_PROXY`, and
            // would send even the sandbox's own registry to the closed port.
            ("CARGO_HTTP_PROXY", NO_NETWORK.into()),
            ("CARGO_NET_RETRY", "0".into()),
            ("no_proxy", "127.0.0.1,localhost".into()),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
        ];
        env.extend(rustup_home.map(|home| ("RUSTUP_HOME", home)));
        env.extend(std::env::var_os("RUSTUP_TOOLCHAIN").map(|t| ("RUSTUP_TOOLCHAIN", t)));
        env.extend(vars.iter().cloned());
        Sandbox { dir, env, leftovers: std::sync::Mutex::new(Vec::new()) }
    }

    fn scratch(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    /// Runs one example's command with bash in the scratch folder.
    ///
    /// `timeout` makes a process group of its own, so what a command leaves running in the
    /// background can be found and stopped with the page.
    fn run(&self, command: &str) -> Outcome {
        let script = format!("{PROLOGUE}{command}\n");
        let child = Command::new("timeout")
            .args(["--kill-after=10", &COMMAND_TIMEOUT_SECS.to_string(), "bash", "-c", &script])
            .arg("docs-example")
            .arg(self.dir.path().join("state.sh"))
            .current_dir(self.scratch())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let group = child.id();
        let out = child.wait_with_output().unwrap();
        if group_alive(group) {
            self.leftovers.lock().unwrap().push(group);
        }
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        // Only `timeout` itself writes here: bash sent everything else to standard output.
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        let status = out.status.code().unwrap_or(-1);
        if status == 124 || status == 137 {
            output.push_str(&format!("\n[timed out after {COMMAND_TIMEOUT_SECS} s]\n"));
        }
        Outcome { output, status }
    }
}

/// Output as compared: no trailing spaces (editors strip them from the page), no trailing blank
/// lines, one final newline.
fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let end = lines.iter().rposition(|line| !line.is_empty()).map_or(0, |last| last + 1);
    lines[..end].iter().map(|line| format!("{line}\n")).collect()
}

fn assert() -> snapbox::Assert {
    snapbox::Assert::new().palette(snapbox::report::Palette::plain()).normalize_paths(false)
}

/// `Ok` when `actual` matches `expected` with its wildcards; otherwise the diff.
fn compare(expected: &str, actual: &str) -> Result<(), String> {
    let expected = snapbox::Data::text(tidy(expected));
    let actual = snapbox::Data::text(tidy(actual));
    assert().try_eq(Some(&"actual output"), actual, expected).map_err(|error| error.to_string())
}

/// `Ok` when the outcome is what the example says; otherwise a report of the difference.
fn check(example: &Example, outcome: &Outcome) -> Result<(), String> {
    let mut problems = Vec::new();
    if outcome.status != example.status {
        problems.push(format!("exit status {}, expected {}", outcome.status, example.status));
    }
    let diff = example.expected.as_deref().map(|expected| compare(expected, &outcome.output));
    match diff {
        Some(Err(diff)) => problems.push(diff),
        // A wrong status alone needs the output to explain it.
        Some(Ok(())) | None if !problems.is_empty() => {
            problems.push(format!("output:\n{}", tidy(&outcome.output)));
        }
        _ => {}
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!("$ {}\n{}", example.command, problems.join("\n")))
}

/// The page lines that make `example` expect `outcome`: its output with the wildcards that still
/// match kept (none when the example showed none), and `? N` unless the status is 0.
fn expected_lines(example: &Example, outcome: &Outcome) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(expected) = &example.expected {
        let (actual, _) = assert().normalize(
            snapbox::Data::text(tidy(&outcome.output)),
            snapbox::Data::text(tidy(expected)),
        );
        lines.extend(actual.render().unwrap_or_default().lines().map(str::to_owned));
    }
    if outcome.status != 0 {
        lines.push(format!("? {}", outcome.status));
    }
    lines
        .into_iter()
        .map(|line| if line.is_empty() { line } else { format!("{}{line}", example.indent) })
        .collect()
}

/// `page` with each range of lines replaced.
fn rewrite(page: &str, mut rewrites: Vec<(Range<usize>, Vec<String>)>) -> String {
    let mut lines: Vec<String> = page.lines().map(str::to_owned).collect();
    rewrites.sort_by_key(|(range, _)| std::cmp::Reverse(range.start));
    for (range, replacement) in rewrites {
        lines.splice(range, replacement);
    }
    let mut text = lines.join("\n");
    if page.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn write_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("md.docs-update");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The harness's own tests: a block that should fail must fail.

mod harness {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_parse(page: &str, expect: Expect) {
        let shown = match parse(page) {
            Ok(examples) => examples
                .iter()
                .map(|e| {
                    format!(
                        "{}: {:?} -> {:?} ? {} (lines {:?}, indent {:?})\n",
                        e.line, e.command, e.expected, e.status, e.output, e.indent
                    )
                })
                .collect(),
            Err(error) => format!("error: {error}\n"),
        };
        expect.assert_eq(&shown);
    }

    #[test]
    fn parses_commands_output_and_status() {
        check_parse(
            "# Page\n\n```console\n$ echo hi\nhi\n$ false\n? 1\n$ true\n\n```\n",
            expect![[r#"
                4: "echo hi" -> Some("hi") ? 0 (lines 4..5, indent "")
                6: "false" -> None ? 1 (lines 6..7, indent "")
                8: "true" -> None ? 0 (lines 8..8, indent "")
            "#]],
        );
    }

    #[test]
    fn other_blocks_are_not_examples() {
        check_parse(
            "```sh\n$ rm -rf /\n```\n````markdown\n```console\n$ not run\n```\n````\n\
             ``` `inline` ```\n```rust\nlet x = 1;\n```\n",
            expect![""],
        );
    }

    #[test]
    fn blocks_in_lists_continuations_and_here_documents() {
        check_parse(
            "1. Step:\n   ```console\n   $ cat > a.toml <<'EOF'\n   [x]\n   y = 1\n   EOF\n   \
             $ cat a.toml \\\n     | wc -l\n   2\n   ```\n",
            expect![[r#"
                3: "cat > a.toml <<'EOF'\n[x]\ny = 1\nEOF" -> None ? 0 (lines 6..6, indent "   ")
                7: "cat a.toml \\\n  | wc -l" -> Some("2") ? 0 (lines 8..9, indent "   ")
            "#]],
        );
    }

    #[test]
    fn malformed_blocks_are_errors() {
        check_parse(
            "```console\nhi\n$ echo hi\n```\n",
            expect![[r#"
                error: 2: a console block starts with a `$ ` command line, not `hi`
            "#]],
        );
        check_parse(
            "```console\n$ false\n? 1\nmore\n```\n",
            expect![[r#"
                error: 3: `? 1` must be the last line of the example's output
            "#]],
        );
        check_parse(
            "```console\n$ false\n? one\n```\n",
            expect![[r#"
                error: `? one` needs an exit status: `? 1`
            "#]],
        );
        check_parse(
            "```console\n$ cat <<EOF\nnever ends\n```\n",
            expect![[r#"
                error: 2: the here-document `EOF` does not end in its block
            "#]],
        );
        check_parse(
            "```console\n$ echo\n",
            expect![[r#"
                error: 1: the console block is not closed
            "#]],
        );
    }

    #[test]
    fn here_document_delimiters_are_found() {
        assert_eq!(here_document_delimiters("cat <<EOF > x"), ["EOF"]);
        assert_eq!(here_document_delimiters("cat <<-\"END\" | a <<\\B"), ["END", "B"]);
        assert_eq!(here_document_delimiters("grep x <<< \"$y\""), Vec::<String>::new());
    }

    #[test]
    fn wildcards_match_and_mismatches_fail() {
        let matches = |expected: &str, actual: &str| compare(expected, actual).is_ok();
        assert!(matches("wrote tpm:app.json [..]", "wrote tpm:app.json (ecc-p256)\n"));
        assert!(matches("first\n...\nlast", "first\na\nb\nlast\n"));
        assert!(matches("first\n...\nlast", "first\nlast\n"));
        assert!(matches("table   \n", "table\n\n"), "trailing spaces and blank lines");
        assert!(!matches("wrote [..]", "wrote\nmore\n"), "[..] stays within its line");
        assert!(!matches("first\nlast", "first\nmiddle\nlast\n"));
        assert!(!matches("ok", "ok\nextra\n"), "extra output fails");
        assert!(!matches("exact", "Exact\n"));
    }

    /// Runs a page's text in a bare sandbox (no TPM, no registry): `Err` is the failure report.
    fn run_text(page: &str) -> Result<(), String> {
        let sandbox = Sandbox::new(&[]);
        for example in parse(page)? {
            check(&example, &sandbox.run(&example.command))?;
        }
        Ok(())
    }

    #[test]
    fn examples_that_hold_pass() {
        let page = "```console\n$ echo one; echo two >&2\none\ntwo\n$ export GREETING=hi; cd sub 2>/dev/null || { mkdir sub && cd sub; }\n\
                    ```\n\ntext\n\n```console\n$ echo \"$GREETING from $(basename \"$PWD\")\"\nhi from sub\n\
                    $ exit 3\n? 3\n$ false | true\n? 1\n$ proofmark --version\nproofmark [..]\n```\n";
        run_text(page).unwrap();
    }

    #[test]
    fn the_sandbox_is_what_docs_testing_md_promises() {
        let sandbox = Sandbox::new(&[("REGISTRY", "127.0.0.1:5000".into())]);
        let page = "```console\n$ echo \"$REGISTRY $NO_COLOR $TZ\" && git config user.email\n\
                    127.0.0.1:5000 1 UTC\ndocs@example.invalid\n\
                    $ case \"$HOME\" in */proofmark-docs-*/home) echo temporary;; esac\ntemporary\n\
                    $ echo \"${CARGO_MANIFEST_DIR-not passed on}\"\nnot passed on\n\
                    $ command -v proofmark\n[..]/proofmark\n\
                    $ git ls-remote https://github.com/rust-lang/cargo\n...\n? 128\n\
                    $ cargo search --limit 1 serde\n...\n? 101\n```\n";
        for example in parse(page).unwrap() {
            let outcome = sandbox.run(&example.command);
            check(&example, &outcome).unwrap_or_else(|report| panic!("{report}"));
        }
    }

    /// The sandbox keeps cargo and git off the network without cutting proofmark off from the
    /// sandbox's own registry (its HTTP client ignores `NO_PROXY`: no general proxy variables).
    #[test]
    fn proofmark_and_curl_reach_the_sandboxs_registry() {
        let Some(registry) = Registry::start() else { return };
        let sandbox = Sandbox::new(&[("REGISTRY", registry.addr().into())]);
        let page = "```console\n$ curl -fsS \"http://$REGISTRY/v2/\"\n{}\n\
                    $ proofmark key generate file:k.key > /dev/null\n\
                    $ proofmark key public file:k.key > k.pub\n\
                    $ proofmark verify --key k.pub --allow-insecure \"$REGISTRY\" \"$REGISTRY/demo/app:1\" > out.txt 2>&1\n\
                    ? 1\n$ grep -c 'not found' out.txt\n1\n```\n";
        for example in parse(page).unwrap() {
            let outcome = sandbox.run(&example.command);
            check(&example, &outcome).unwrap_or_else(|report| panic!("{report}"));
        }
    }

    #[test]
    fn background_processes_outlive_their_command_but_not_the_page() {
        let sandbox = Sandbox::new(&[]);
        let page = "```console\n$ sleep 300 > /dev/null 2>&1 & echo $! > sleeper.pid\n\
                    $ kill -0 \"$(cat sleeper.pid)\" && echo running\nrunning\n```\n";
        for example in parse(page).unwrap() {
            check(&example, &sandbox.run(&example.command)).unwrap_or_else(|r| panic!("{r}"));
        }
        let pid = std::fs::read_to_string(sandbox.scratch().join("sleeper.pid")).unwrap();
        drop(sandbox);
        let alive = || Path::new(&format!("/proc/{}", pid.trim())).exists();
        for _ in 0..50 {
            if !alive() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the page's background process {} outlived it", pid.trim());
    }

    #[test]
    fn examples_that_do_not_hold_fail() {
        let fails = |page: &str| run_text(page).expect_err(page);
        let report = fails("```console\n$ echo actual\nexpected\n```\n");
        assert!(report.contains("expected") && report.contains("actual"), "{report}");
        let report = fails("```console\n$ echo fine; exit 2\nfine\n```\n");
        assert!(report.contains("exit status 2, expected 0"), "{report}");
        fails("```console\n$ true\n? 1\n```\n");
        fails("```console\n$ false\n```\n");
        fails("```console\n$ echo a; echo b\na\n```\n");
    }

    #[test]
    fn updates_rewrite_only_what_differs() {
        let page = "Intro\n\n  ```console\n  $ echo \"a $RANDOM\"; echo b; exit 1\n  a [..]\n  old\n  \
                    $ echo same\n  same\n  ```\n";
        let examples = parse(page).unwrap();
        let outcome = Outcome { output: "a 17\nb\n".to_owned(), status: 1 };
        let rewrites = vec![(examples[0].output.clone(), expected_lines(&examples[0], &outcome))];
        expect![[r#"
            Intro

              ```console
              $ echo "a $RANDOM"; echo b; exit 1
              a [..]
              b
              ? 1
              $ echo same
              same
              ```
        "#]]
        .assert_eq(&rewrite(page, rewrites));
    }
}
