//! Keep a Changelog 1.1.0 sections: rendering, inserting and regenerating.
//!
//! A release's section looks like this (groups in Keep a Changelog's order, empty ones left
//! out):
//!
//! ```markdown
//! ## [0.2.0] - 2026-11-28
//!
//! ### Added
//!
//! - **BREAKING**: the parser takes a `Config` (1a2b3c4)
//!
//! ### Fixed
//!
//! - **tags**: accept `name-vX.Y.Z` (5d6e7f8)
//! ```
//!
//! # Inserting
//!
//! [`update`] puts a new section above the newest existing release section, that is below
//! the file's header and below a `## [Unreleased]` section if there is one. Every other byte
//! of the file is kept. A missing file gets a standard header and an empty `## [Unreleased]`.
//!
//! # Regenerating (hand edits are kept)
//!
//! When the file already has a section for the version, that section is *merged*, not
//! replaced: no existing line is changed or removed, and a generated entry is added only if
//! the section does not already mention its key — the commit's abbreviated id, which ends
//! every generated entry. So a person may reword an entry, move it to another group, or merge
//! several entries into one: as long as the id stays anywhere in the section, the entry is
//! not added again. To drop an entry for good, keep its id in a comment, e.g.
//! `<!-- 1a2b3c4 -->`. No markers are needed, and the file stays plain Keep a Changelog.
//! Missing groups are created at their canonical position. The heading's date is updated
//! when the heading is exactly `## [VERSION] - YYYY-MM-DD`; other headings are left alone.
//!
//! # Folding release candidates
//!
//! A final release `X.Y.Z` absorbs the sections of its pre-releases (`X.Y.Z-rc.1`,
//! `X.Y.Z-rc.2`, ...): their entry lines move, unchanged and newest candidate first, into
//! the groups of the `X.Y.Z` section, and the candidate sections are removed. The generated
//! entries are then merged as above, so a commit listed (or reworded by hand) under a
//! candidate is not listed twice, and a final release with no commit after its last candidate
//! still has every entry. The candidates' own tags and published crates keep the changelog as
//! it was when they were released.

use serde::Serialize;

use crate::date::Date;

/// A Keep a Changelog change group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Group {
    /// New features.
    Added,
    /// Changes in existing functionality.
    Changed,
    /// Soon-to-be removed features.
    Deprecated,
    /// Removed features.
    Removed,
    /// Bug fixes.
    Fixed,
    /// Vulnerabilities.
    Security,
}

impl Group {
    /// All groups in Keep a Changelog's order.
    pub const ALL: [Self; 6] =
        [Self::Added, Self::Changed, Self::Deprecated, Self::Removed, Self::Fixed, Self::Security];

    /// The group's heading text.
    pub fn title(self) -> &'static str {
        match self {
            Self::Added => "Added",
            Self::Changed => "Changed",
            Self::Deprecated => "Deprecated",
            Self::Removed => "Removed",
            Self::Fixed => "Fixed",
            Self::Security => "Security",
        }
    }
}

/// One changelog entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The group it belongs to.
    pub group: Group,
    /// The entry's Markdown without the leading `- `; continuation lines are indented by the
    /// renderer.
    pub text: String,
    /// A string whose presence in a section means the entry is already there (the commit's
    /// abbreviated id).
    pub key: String,
}

/// The section of one release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    /// The released version.
    pub version: semver::Version,
    /// The release date.
    pub date: Date,
    /// The entries, in the order they are listed within their group.
    pub entries: Vec<Entry>,
    /// Whether this is the crate's first release (changes the text of an empty section).
    pub first_release: bool,
    /// The minimum supported Rust version (`rust-version`), rendered as an `MSRV: X` line so
    /// packagers learn which compiler a release needs (Parsec meeting 2020-12-01).
    pub msrv: Option<String>,
}

/// The header written into a new `CHANGELOG.md`.
pub const NEW_FILE_HEADER: &str = "# Changelog\n\
\n\
All notable changes to this crate are documented in this file.\n\
\n\
The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),\n\
and this crate adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).\n\
\n\
## [Unreleased]\n";

impl Section {
    /// The heading line, without line break.
    pub fn heading(&self) -> String {
        format!("## [{}] - {}", self.version, self.date)
    }

    /// Renders the section: heading, then each non-empty group. Ends with one `\n`.
    pub fn render(&self) -> String {
        let mut out = self.heading();
        out.push('\n');
        if let Some(msrv) = &self.msrv {
            out.push_str(&format!("\nMSRV: {msrv}\n"));
        }
        render_groups(&mut out, &self.entries);
        if self.entries.is_empty() {
            out.push_str(if self.first_release {
                "\nFirst release.\n"
            } else {
                "\nNo changes since the previous release.\n"
            });
        }
        out
    }

    /// The rendered list items of `group` whose key is not in `existing`.
    fn group_lines(&self, group: Group, existing: &[&str]) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| e.group == group)
            .filter(|e| !existing.iter().any(|line| line.contains(e.key.as_str())))
            .map(render_entry)
            .collect()
    }
}

fn render_entry(entry: &Entry) -> String {
    let mut out = String::from("- ");
    for (index, line) in entry.text.lines().enumerate() {
        if index > 0 {
            out.push_str(if line.is_empty() { "\n" } else { "\n  " });
        }
        out.push_str(line);
    }
    out.push('\n');
    out
}

fn is_heading(line: &str, level: usize) -> bool {
    let hashes = "#".repeat(level);
    line.strip_prefix(hashes.as_str()).is_some_and(|rest| rest.starts_with(' '))
}

/// `## [Unreleased]`, `## Unreleased`, and cargo-release's `## [Unreleased] - ReleaseDate`.
fn is_unreleased_heading(line: &str) -> bool {
    if !is_heading(line, 2) {
        return false;
    }
    let rest = line[2..].trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    rest.get(..10).is_some_and(|word| word.eq_ignore_ascii_case("unreleased"))
        && rest[10..].chars().next().is_none_or(|c| matches!(c, ']' | ' ' | '\t' | '\r' | '\n'))
}

/// A whole-line HTML comment, such as `<!-- 1a2b3c4 -->` (an entry dropped for good).
fn is_comment(line: &str) -> bool {
    line.starts_with("<!--") && line.ends_with("-->")
}

/// The end (exclusive) of the section starting at `start`: the next `#`/`##` heading or link
/// definition.
fn section_end(lines: &[String], start: usize) -> usize {
    lines[start + 1..]
        .iter()
        .position(|l| is_heading(l, 1) || is_heading(l, 2) || is_link_definition(l))
        .map_or(lines.len(), |offset| start + 1 + offset)
}

/// The lines of the `## [Unreleased]` section that are more than blank lines and comments:
/// what a release must move into its own section.
pub fn unreleased_lines(changelog: &str) -> Vec<String> {
    let lines: Vec<String> = changelog.split_inclusive('\n').map(str::to_owned).collect();
    let Some(start) = lines.iter().position(|l| is_unreleased_heading(l)) else {
        return Vec::new();
    };
    let end = section_end(&lines, start);
    lines[start + 1..end]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !is_comment(l))
        .map(str::to_owned)
        .collect()
}

/// Whether a `## ` heading names `version` (`## [1.0.0] ...` or `## 1.0.0 ...`).
fn heading_names(line: &str, version: &str) -> bool {
    if !is_heading(line, 2) {
        return false;
    }
    let rest = line[2..].trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    rest.strip_prefix(version)
        .is_some_and(|after| after.is_empty() || after.starts_with([']', ' ', '\r', '\n', '\t']))
}

/// A link reference definition such as `[1.0.0]: https://...`, which Keep a Changelog puts at
/// the bottom of the file.
fn is_link_definition(line: &str) -> bool {
    line.starts_with('[') && line.contains("]:")
}

fn ensure_newline(lines: &mut [String], index: usize) {
    if let Some(line) = lines.get_mut(index) {
        if !line.ends_with('\n') {
            line.push('\n');
        }
    }
}

/// Renders the `## [Unreleased]` section listing `entries` (just the heading when empty).
pub fn render_unreleased(entries: &[Entry]) -> String {
    let mut out = String::from("## [Unreleased]\n");
    render_groups(&mut out, entries);
    out
}

/// Appends each non-empty group of `entries` in Keep a Changelog's order.
fn render_groups(out: &mut String, entries: &[Entry]) {
    for group in Group::ALL {
        let mut lines = entries.iter().filter(|e| e.group == group).map(render_entry).peekable();
        if lines.peek().is_none() {
            continue;
        }
        out.push_str(&format!("\n### {}\n\n", group.title()));
        for line in lines {
            out.push_str(&line);
        }
    }
}

/// The text of the section of `version` in a changelog, from its `## ` heading to the next
/// `#`/`##` heading or link definition, without trailing blank lines; `None` when the file has
/// no section for `version`.
pub fn section_text(changelog: &str, version: &semver::Version) -> Option<String> {
    let version = version.to_string();
    let lines: Vec<&str> = changelog.split_inclusive('\n').collect();
    let start = lines.iter().position(|l| heading_names(l, &version))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_heading(l, 1) || is_heading(l, 2) || is_link_definition(l))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let text = lines[start..end].concat();
    Some(format!("{}\n", text.trim_end()))
}

/// The `MSRV:` value written in a section, if any (`MSRV: 1.85`, `MSRV 1.85`, `**MSRV**: 1.85`).
pub fn msrv_of(section: &str) -> Option<String> {
    section.lines().find_map(|line| {
        let line = line.trim().trim_start_matches(['-', '*', ' ']);
        let rest = line.strip_prefix("MSRV").or_else(|| line.strip_prefix("msrv"))?;
        let value = rest.trim_start_matches(['*', ':', ' ']).split_whitespace().next()?;
        Some(value.trim_end_matches(['.', ',', ')']).to_owned())
    })
}

/// Inserts or regenerates `section` in the text of an existing `CHANGELOG.md`
/// (`None`: the file does not exist yet). See the module documentation for the rules.
pub fn update(existing: Option<&str>, section: &Section) -> String {
    let Some(existing) = existing else {
        return format!("{NEW_FILE_HEADER}\n{}", section.render());
    };
    let mut lines: Vec<String> = existing.split_inclusive('\n').map(str::to_owned).collect();
    let version = section.version.to_string();
    fold_into_release(&mut lines, section);
    match lines.iter().position(|l| heading_names(l, &version)) {
        Some(start) => merge(&mut lines, start, section),
        None => insert(&mut lines, section),
    }
    lines.concat()
}

fn insert(lines: &mut Vec<String>, section: &Section) {
    let first_release = lines.iter().position(|l| is_heading(l, 2) && !is_unreleased_heading(l));
    let rendered: Vec<String> = section.render().split_inclusive('\n').map(str::to_owned).collect();
    match first_release {
        Some(index) => {
            let mut block = rendered;
            block.push("\n".to_owned());
            lines.splice(index..index, block);
        }
        None => {
            // Append after the last content line; trailing blank lines and link definitions
            // stay below the new section.
            let mut end = lines.len();
            while end > 0
                && (lines[end - 1].trim().is_empty() || is_link_definition(&lines[end - 1]))
            {
                end -= 1;
            }
            if end > 0 {
                ensure_newline(lines, end - 1);
            }
            let mut block = vec!["\n".to_owned()];
            block.extend(rendered);
            if end < lines.len() && !lines[end].trim().is_empty() {
                block.push("\n".to_owned());
            }
            lines.splice(end..end, block);
        }
    }
}

fn merge(lines: &mut Vec<String>, start: usize, section: &Section) {
    if is_canonical_heading(&lines[start], &section.version.to_string()) {
        let ending = if lines[start].ends_with("\r\n") {
            "\r\n"
        } else if lines[start].ends_with('\n') {
            "\n"
        } else {
            ""
        };
        lines[start] = format!("{}{ending}", section.heading());
    }
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_heading(l, 1) || is_heading(l, 2) || is_link_definition(l))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let existing: Vec<String> = lines[start..end].to_vec();
    let existing_refs: Vec<&str> = existing.iter().map(String::as_str).collect();
    // Work from the last group backwards so earlier indexes stay valid.
    for group in Group::ALL.iter().rev() {
        let new_lines = section.group_lines(*group, &existing_refs);
        if new_lines.is_empty() {
            continue;
        }
        let end = lines[start + 1..]
            .iter()
            .position(|l| is_heading(l, 1) || is_heading(l, 2) || is_link_definition(l))
            .map_or(lines.len(), |offset| start + 1 + offset);
        let heading = format!("### {}", group.title());
        let group_start =
            (start + 1..end).find(|&i| lines[i].trim_end().eq_ignore_ascii_case(&heading));
        match group_start {
            Some(group_start) => {
                let group_end =
                    (group_start + 1..end).find(|&i| is_heading(&lines[i], 3)).unwrap_or(end);
                let last_content = last_content_line(lines, group_start, group_end);
                ensure_newline(lines, last_content);
                let at = last_content + 1;
                let block = if last_content == group_start {
                    std::iter::once("\n".to_owned()).chain(new_lines).collect::<Vec<_>>()
                } else {
                    new_lines
                };
                lines.splice(at..at, block);
            }
            None => {
                // Before the first later group, or after the section's last content line.
                let later = (start + 1..end).find(|&i| {
                    Group::ALL.iter().any(|g| {
                        g > group
                            && lines[i]
                                .trim_end()
                                .eq_ignore_ascii_case(&format!("### {}", g.title()))
                    })
                });
                let mut block = Vec::new();
                match later {
                    Some(at) => {
                        block.push(format!("{heading}\n"));
                        block.push("\n".to_owned());
                        block.extend(new_lines);
                        block.push("\n".to_owned());
                        lines.splice(at..at, block);
                    }
                    None => {
                        let last_content = last_content_line(lines, start, end);
                        ensure_newline(lines, last_content);
                        block.push("\n".to_owned());
                        block.push(format!("{heading}\n"));
                        block.push("\n".to_owned());
                        block.extend(new_lines);
                        let at = last_content + 1;
                        lines.splice(at..at, block);
                    }
                }
            }
        }
    }
}

/// The versions of the pre-release sections of `version`'s final release in a changelog.
pub fn candidate_sections(changelog: &str, version: &semver::Version) -> Vec<semver::Version> {
    changelog.lines().filter_map(heading_version).filter(|v| is_candidate_of(v, version)).collect()
}

fn is_candidate_of(candidate: &semver::Version, version: &semver::Version) -> bool {
    !candidate.pre.is_empty()
        && version.pre.is_empty()
        && (candidate.major, candidate.minor, candidate.patch)
            == (version.major, version.minor, version.patch)
}

/// The version a `## ` heading names (`## [1.0.0-rc.1] - ...` or `## 1.0.0-rc.1 ...`).
fn heading_version(line: &str) -> Option<semver::Version> {
    if !is_heading(line, 2) {
        return None;
    }
    let rest = line[2..].trim_start();
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let end = rest.find([']', ' ', '\r', '\n', '\t']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Moves what the release absorbs into `section.version`'s section (created where the first
/// absorbed section was, if missing): the body of `## [Unreleased]`, whose heading stays, empty,
/// for the next changes; and for a final release the sections of its candidates, which are
/// removed. Lines keep their group, newest first (unreleased, then the newest candidate).
fn fold_into_release(lines: &mut Vec<String>, section: &Section) {
    let mut carried: Vec<(Option<Group>, Vec<String>)> = Vec::new();
    let mut first_at = None;
    let mut carry = |body: &[String]| {
        let mut group = None;
        for line in body {
            if is_heading(line, 3) {
                let title = line[3..].trim();
                group = Group::ALL.iter().copied().find(|g| g.title().eq_ignore_ascii_case(title));
                if group.is_none() {
                    // A heading of the project's own (`### Upgrade notes`) travels as prose.
                    push_carried(&mut carried, None, line);
                }
                continue;
            }
            // The MSRV line and the blank lines around groups are written again by the
            // release's section; prose keeps its paragraphs.
            if line.trim().is_empty() {
                let prose = carried.iter().find(|(g, _)| g.is_none());
                if group.is_none()
                    && prose.is_some_and(|(_, b)| b.last().is_some_and(|l| l != "\n"))
                {
                    push_carried(&mut carried, None, line);
                }
                continue;
            }
            if group.is_none() && msrv_of(line).is_some() {
                continue;
            }
            push_carried(&mut carried, group, line);
        }
    };
    if let Some(start) = lines.iter().position(|l| is_unreleased_heading(l)) {
        let end = section_end(lines, start);
        if lines[start + 1..end].iter().any(|l| !l.trim().is_empty()) {
            carry(&lines[start + 1..end]);
            lines.drain(start + 1..end);
            ensure_newline(lines, start);
            // A fresh, empty `[Unreleased]`; the release's section goes right below it.
            lines.insert(start + 1, "\n".to_owned());
            first_at = Some(start + 2);
        }
    }
    let is_candidate =
        |l: &String| heading_version(l).is_some_and(|v| is_candidate_of(&v, &section.version));
    while let Some(start) = lines.iter().position(is_candidate) {
        let end = section_end(lines, start);
        carry(&lines[start + 1..end]);
        lines.drain(start..end);
        first_at.get_or_insert(start);
    }
    let Some(at) = first_at else { return };
    let version = section.version.to_string();
    let target = match lines.iter().position(|l| heading_names(l, &version)) {
        Some(start) => start,
        None => {
            let mut block = vec![format!("{}\n", section.heading())];
            if let Some(msrv) = &section.msrv {
                block.push("\n".to_owned());
                block.push(format!("MSRV: {msrv}\n"));
            }
            block.push("\n".to_owned());
            let at = at.min(lines.len());
            lines.splice(at..at, block);
            at
        }
    };
    // Prose outside any group stays right under the heading (after the MSRV line).
    let mut prose = Vec::new();
    for (group, block) in &carried {
        if group.is_none() {
            prose.extend(block.iter().cloned());
        }
    }
    while prose.last().is_some_and(|l| l.trim().is_empty()) {
        prose.pop();
    }
    for group in Group::ALL.iter().rev() {
        let Some((_, block)) = carried.iter().find(|(g, _)| *g == Some(*group)) else { continue };
        let end = section_end(lines, target);
        let heading = format!("### {}", group.title());
        match (target + 1..end).find(|&i| lines[i].trim_end().eq_ignore_ascii_case(&heading)) {
            Some(group_start) => {
                let group_end =
                    (group_start + 1..end).find(|&i| is_heading(&lines[i], 3)).unwrap_or(end);
                let last = last_content_line(lines, group_start, group_end);
                ensure_newline(lines, last);
                let mut insert = block.clone();
                if last == group_start {
                    insert.insert(0, "\n".to_owned());
                }
                lines.splice(last + 1..last + 1, insert);
            }
            None => {
                let later = (target + 1..end).find(|&i| {
                    Group::ALL.iter().any(|g| {
                        g > group
                            && lines[i]
                                .trim_end()
                                .eq_ignore_ascii_case(&format!("### {}", g.title()))
                    })
                });
                let mut insert = vec![format!("{heading}\n"), "\n".to_owned()];
                insert.extend(block.iter().cloned());
                let at = match later {
                    Some(at) => {
                        insert.push("\n".to_owned());
                        at
                    }
                    None => {
                        let last = last_content_line(lines, target, end);
                        ensure_newline(lines, last);
                        insert.insert(0, "\n".to_owned());
                        last + 1
                    }
                };
                lines.splice(at..at, insert);
            }
        }
    }
    if !prose.is_empty() {
        let mut at = target + 1;
        while at < lines.len() && (lines[at].trim().is_empty() || msrv_of(&lines[at]).is_some()) {
            at += 1;
        }
        prose.push("\n".to_owned());
        lines.splice(at..at, prose);
    }
    // One blank line before whatever follows the section, none at the end of the file.
    let end = section_end(lines, target);
    let last = last_content_line(lines, target, end);
    lines.drain(last + 1..end);
    if last + 1 < lines.len() {
        lines.insert(last + 1, "\n".to_owned());
    }
}

fn push_carried(carried: &mut Vec<(Option<Group>, Vec<String>)>, group: Option<Group>, line: &str) {
    let mut text = line.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match carried.iter_mut().find(|(g, _)| *g == group) {
        Some((_, block)) => block.push(text),
        None => carried.push((group, vec![text])),
    }
}

/// The index of the last non-blank line in `from..to`, or `from` if all are blank.
fn last_content_line(lines: &[String], from: usize, to: usize) -> usize {
    (from..to).rev().find(|&i| !lines[i].trim().is_empty()).unwrap_or(from)
}

fn is_canonical_heading(line: &str, version: &str) -> bool {
    let Some(rest) = line.trim_end().strip_prefix(&format!("## [{version}] - ")) else {
        return false;
    };
    rest.parse::<Date>().is_ok()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn date() -> Date {
        Date::new(2026, 11, 28).unwrap_or_else(|| panic!("valid date"))
    }

    fn entry(group: Group, text: &str, key: &str) -> Entry {
        Entry { group, text: format!("{text} ({key})"), key: key.to_owned() }
    }

    fn section(version: &str, entries: Vec<Entry>) -> Section {
        Section {
            version: semver::Version::parse(version).unwrap_or_else(|e| panic!("{e}")),
            date: date(),
            entries,
            first_release: false,
            msrv: None,
        }
    }

    #[test]
    fn new_file() {
        let section = section(
            "0.2.0",
            vec![
                entry(Group::Fixed, "fix the parser", "aaaaaaa"),
                entry(Group::Added, "**BREAKING**: new API\nthe old one is gone", "bbbbbbb"),
                entry(Group::Added, "another feature", "ccccccc"),
            ],
        );
        expect![[r#"
            # Changelog

            All notable changes to this crate are documented in this file.

            The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
            and this crate adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

            ## [Unreleased]

            ## [0.2.0] - 2026-11-28

            ### Added

            - **BREAKING**: new API
              the old one is gone (bbbbbbb)
            - another feature (ccccccc)

            ### Fixed

            - fix the parser (aaaaaaa)
        "#]]
        .assert_eq(&update(None, &section));
    }

    const EXISTING: &str = "# Changelog\n\
\n\
Hand-written intro, kept as is.\n\
\n\
## [Unreleased]\n\
\n\
- something a person noted\n\
\n\
## [0.1.0] - 2026-01-01\n\
\n\
### Added\n\
\n\
- first release\n\
\n\
[0.1.0]: https://example.org/compare/0.1.0\n";

    #[test]
    fn inserts_below_unreleased_and_keeps_everything_else() {
        let section = section("0.2.0", vec![entry(Group::Fixed, "fix", "aaaaaaa")]);
        let updated = update(Some(EXISTING), &section);
        expect![[r#"
            # Changelog

            Hand-written intro, kept as is.

            ## [Unreleased]

            ## [0.2.0] - 2026-11-28

            - something a person noted

            ### Fixed

            - fix (aaaaaaa)

            ## [0.1.0] - 2026-01-01

            ### Added

            - first release

            [0.1.0]: https://example.org/compare/0.1.0
        "#]]
        .assert_eq(&updated);
        // With an empty `[Unreleased]`, removing the inserted block gives back the original
        // bytes.
        let empty = EXISTING.replace("- something a person noted\n\n", "");
        let inserted = "## [0.2.0] - 2026-11-28\n\n### Fixed\n\n- fix (aaaaaaa)\n\n";
        assert_eq!(update(Some(&empty), &section).replacen(inserted, "", 1), empty);
    }

    #[test]
    fn unreleased_becomes_the_release_with_hand_edits_and_no_entry_twice() {
        // What `release changelog --write` leaves, then edited by hand: an entry reworded
        // (its id kept), one dropped (its id in a comment), a note and a heading of our own.
        let existing = "# Changelog\n\n<!-- next-header -->\n## [Unreleased] - ReleaseDate\n\n\
            Upgrade with care.\n\n### Added\n\n- Widgets, reworded by hand (aaaaaaa)\n\
            - A hand-written entry without commit\n\n### Fixed\n\n<!-- ccccccc -->\n\n\
            ### Upgrade notes\n\nNothing to do.\n\n\
            ## [0.1.0] - 2026-01-01\n\n### Added\n\n- first release (0000000)\n";
        let mut release = section(
            "0.2.0",
            vec![
                entry(Group::Added, "add widgets", "aaaaaaa"),
                entry(Group::Fixed, "fix one", "bbbbbbb"),
                entry(Group::Fixed, "fix two", "ccccccc"),
            ],
        );
        release.msrv = Some("1.85".to_owned());
        let released = update(Some(existing), &release);
        expect![[r#"
            # Changelog

            <!-- next-header -->
            ## [Unreleased] - ReleaseDate

            ## [0.2.0] - 2026-11-28

            MSRV: 1.85

            Upgrade with care.

            ### Upgrade notes

            Nothing to do.

            ### Added

            - Widgets, reworded by hand (aaaaaaa)
            - A hand-written entry without commit

            ### Fixed

            <!-- ccccccc -->
            - fix one (bbbbbbb)

            ## [0.1.0] - 2026-01-01

            ### Added

            - first release (0000000)
        "#]]
        .assert_eq(&released);
        assert_eq!(unreleased_lines(&released), Vec::<String>::new());
        // Writing the section again changes nothing.
        assert_eq!(update(Some(&released), &release), released);
        // A candidate takes `[Unreleased]` too, and its final release folds the candidate.
        let rc = section("0.2.0-rc.1", release.entries.clone());
        let candidate = update(Some(existing), &rc);
        assert!(candidate.contains("## [Unreleased] - ReleaseDate\n\n## [0.2.0-rc.1]"));
        assert_eq!(unreleased_lines(&candidate), Vec::<String>::new());
        let folded = update(Some(&candidate), &release);
        assert!(!folded.contains("rc.1"), "{folded}");
        assert_eq!(folded.matches("(aaaaaaa)").count(), 1, "{folded}");
        assert_eq!(folded.matches("(bbbbbbb)").count(), 1, "{folded}");
    }

    #[test]
    fn inserts_into_a_file_without_releases() {
        let text = "# Changelog\n\n## [Unreleased]\n\n[Unreleased]: https://example.org\n";
        let section = section("1.0.0", vec![entry(Group::Added, "all", "aaaaaaa")]);
        expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [1.0.0] - 2026-11-28

            ### Added

            - all (aaaaaaa)

            [Unreleased]: https://example.org
        "#]]
        .assert_eq(&update(Some(text), &section));
        let no_newline = "# Changelog";
        expect![[r#"
            # Changelog

            ## [1.0.0] - 2026-11-28

            ### Added

            - all (aaaaaaa)
        "#]]
        .assert_eq(&update(Some(no_newline), &section));
    }

    #[test]
    fn regenerating_keeps_hand_edits() {
        let first = section(
            "0.2.0",
            vec![
                entry(Group::Added, "feature one", "aaaaaaa"),
                entry(Group::Fixed, "fix one", "bbbbbbb"),
                entry(Group::Fixed, "fix two", "ccccccc"),
            ],
        );
        let generated = update(Some(EXISTING), &first);
        // A person rewords one entry, drops another (keeping its id in a comment) and adds a
        // note; then new commits land and the section is regenerated on another day.
        let edited = generated
            .replace("- feature one (aaaaaaa)", "- Feature one, now documented (aaaaaaa)")
            .replace("- fix two (ccccccc)\n", "<!-- ccccccc -->\n")
            .replace("### Fixed\n", "Upgrade notes: none.\n\n### Fixed\n");
        let mut second = first.clone();
        second.date = Date::new(2026, 12, 1).unwrap_or_else(|| panic!("valid date"));
        second.entries.push(entry(Group::Fixed, "fix three", "ddddddd"));
        second.entries.push(entry(Group::Security, "patch CVE-2026-1", "eeeeeee"));
        second.entries.push(entry(Group::Changed, "refactor", "fffffff"));
        let regenerated = update(Some(&edited), &second);
        expect![[r#"
            # Changelog

            Hand-written intro, kept as is.

            ## [Unreleased]

            ## [0.2.0] - 2026-12-01

            - something a person noted

            ### Added

            - Feature one, now documented (aaaaaaa)

            Upgrade notes: none.

            ### Changed

            - refactor (fffffff)

            ### Fixed

            - fix one (bbbbbbb)
            <!-- ccccccc -->
            - fix three (ddddddd)

            ### Security

            - patch CVE-2026-1 (eeeeeee)

            ## [0.1.0] - 2026-01-01

            ### Added

            - first release

            [0.1.0]: https://example.org/compare/0.1.0
        "#]]
        .assert_eq(&regenerated);
        // Regenerating again changes nothing.
        assert_eq!(update(Some(&regenerated), &second), regenerated);
    }

    #[test]
    fn empty_section_says_so() {
        expect![[r#"
            ## [0.1.1] - 2026-11-28

            No changes since the previous release.
        "#]]
        .assert_eq(&section("0.1.1", Vec::new()).render());
    }

    #[test]
    fn final_release_folds_its_candidates() {
        let existing = "# Changelog\n\n## [Unreleased]\n\n\
            ## [1.3.0-rc.2] - 2026-11-20\n\nMSRV: 1.85\n\n### Fixed\n\n- spin right (ccccccc)\n\n\
            ## [1.3.0-rc.1] - 2026-11-10\n\nMSRV: 1.85\n\nA preview of the widget work.\n\n\
            ### Added\n\n- Thanks to Grace.\n- The `Widget` type,\n  reworded by hand (aaaaaaa)\n\n\
            ## [1.2.0] - 2026-10-01\n\n### Added\n\n- the start (0000000)\n\n\
            [1.2.0]: https://example.org/1.2.0\n";
        let mut final_section = section(
            "1.3.0",
            vec![
                entry(Group::Added, "add a widget", "aaaaaaa"),
                entry(Group::Fixed, "spin right", "ccccccc"),
                entry(Group::Security, "check bounds", "ddddddd"),
            ],
        );
        final_section.msrv = Some("1.85".to_owned());
        assert_eq!(
            candidate_sections(existing, &final_section.version),
            [semver::Version::new(1, 3, 0), semver::Version::new(1, 3, 0)]
                .iter()
                .zip(["rc.2", "rc.1"])
                .map(|(v, pre)| semver::Version {
                    pre: semver::Prerelease::new(pre).unwrap_or_else(|e| panic!("{e}")),
                    ..v.clone()
                })
                .collect::<Vec<_>>()
        );
        let folded = update(Some(existing), &final_section);
        expect![[r#"
            # Changelog

            ## [Unreleased]

            ## [1.3.0] - 2026-11-28

            MSRV: 1.85

            A preview of the widget work.

            ### Added

            - Thanks to Grace.
            - The `Widget` type,
              reworded by hand (aaaaaaa)

            ### Fixed

            - spin right (ccccccc)

            ### Security

            - check bounds (ddddddd)

            ## [1.2.0] - 2026-10-01

            ### Added

            - the start (0000000)

            [1.2.0]: https://example.org/1.2.0
        "#]]
        .assert_eq(&folded);
        // Folding is done once: regenerating the final section changes nothing.
        assert_eq!(update(Some(&folded), &final_section), folded);
        // A candidate's own section is never folded.
        let rc3 = section("1.3.0-rc.3", Vec::new());
        assert!(update(Some(existing), &rc3).contains("## [1.3.0-rc.1] - 2026-11-10"));
    }
}
