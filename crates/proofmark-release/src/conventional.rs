//! Commit message parsing: Conventional Commits 1.0.0 headers and git trailers.
//!
//! A message is split into a header (first line), a body and a footer block. The footer
//! block is the last paragraph when its first line is a trailer (`Token: value` or
//! `Token #value`, where a token is a word of letters, digits and `-`, or the literal
//! `BREAKING CHANGE`); lines of that paragraph that are not trailers continue the previous
//! trailer's value, as in git's trailer format.
//!
//! Trailers are parsed for every commit, conventional or not, because the `Crate: name`
//! trailer attributes a commit to a crate whatever its header looks like.
//!
//! A header is conventional when it is `type(scope)!: description` with a `type` of ASCII
//! letters, digits, `-` or `_`, an optional parenthesised scope, an optional `!`, a colon,
//! at least one space and a non-empty description. Types and scopes compare case-insensitively
//! (they are stored lower-cased); `BREAKING CHANGE` / `BREAKING-CHANGE` must be upper case as
//! the specification requires.

use serde::Serialize;

/// A parsed commit message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Message {
    /// The first line, trimmed.
    pub summary: String,
    /// The Conventional Commits header, if the first line is one.
    pub conventional: Option<Header>,
    /// The text between the header and the footer block, trimmed; empty if none.
    pub body: String,
    /// The trailers of the last paragraph, in order.
    pub footers: Vec<Footer>,
}

/// A Conventional Commits header `type(scope)!: description`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The type, lower-cased (`feat`, `fix`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The scope, lower-cased, without parentheses.
    pub scope: Option<String>,
    /// Whether a `!` marks the change as breaking.
    pub bang: bool,
    /// The description after `: `.
    pub description: String,
}

/// One trailer (`Token: value`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Footer {
    /// The token as written (`BREAKING CHANGE`, `Crate`, `Refs`, ...).
    pub token: String,
    /// The value; continuation lines are joined with `\n`.
    pub value: String,
}

impl Message {
    /// Parses a raw commit message.
    pub fn parse(raw: &str) -> Self {
        let raw = raw.replace("\r\n", "\n");
        let mut lines = raw.lines();
        let summary = lines.next().unwrap_or_default().trim().to_owned();
        let rest: Vec<&str> = lines.collect();
        let paragraphs = split_paragraphs(&rest);
        let (body_paragraphs, footers) = match paragraphs.split_last() {
            Some((last, before)) => match parse_footers(last) {
                Some(footers) => (before, footers),
                None => (paragraphs.as_slice(), Vec::new()),
            },
            None => (paragraphs.as_slice(), Vec::new()),
        };
        let body = body_paragraphs.iter().map(|p| p.join("\n")).collect::<Vec<_>>().join("\n\n");
        Self { conventional: parse_header(&summary), summary, body, footers }
    }

    /// Whether the change is breaking: a `!` in the header or a `BREAKING CHANGE` footer.
    pub fn is_breaking(&self) -> bool {
        self.conventional.as_ref().is_some_and(|h| h.bang) || self.breaking_footer().is_some()
    }

    /// The text of the `BREAKING CHANGE:` (or `BREAKING-CHANGE:`) footer, if any.
    pub fn breaking_footer(&self) -> Option<&str> {
        self.footers
            .iter()
            .find(|f| f.token == "BREAKING CHANGE" || f.token == "BREAKING-CHANGE")
            .map(|f| f.value.as_str())
    }

    /// The crate names this message names explicitly: every `Crate:` trailer (comma-separated
    /// values allowed) and every comma-separated part of the scope.
    ///
    /// Callers keep only the names that are crates of the workspace.
    pub fn named_crates(&self) -> Vec<String> {
        let mut names = Vec::new();
        for footer in &self.footers {
            if footer.token.eq_ignore_ascii_case("crate") {
                names.extend(footer.value.split(',').map(|n| n.trim().to_owned()));
            }
        }
        if let Some(scope) = self.conventional.as_ref().and_then(|h| h.scope.as_deref()) {
            names.extend(scope.split(',').map(|n| n.trim().to_owned()));
        }
        names.retain(|n| !n.is_empty());
        names.dedup();
        names
    }
}

fn split_paragraphs<'a>(lines: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            if !current.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
        } else {
            current.push(line.trim_end());
        }
    }
    if !current.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

/// Splits `Token: value` / `Token #value`; `None` if the line is not a trailer.
fn parse_trailer(line: &str) -> Option<Footer> {
    let (token, value) = if let Some(rest) = line.strip_prefix("BREAKING CHANGE") {
        ("BREAKING CHANGE", rest.strip_prefix(": ").or_else(|| rest.strip_prefix(" #"))?)
    } else {
        let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))?;
        if end == 0 {
            return None;
        }
        let rest = &line[end..];
        let value = rest.strip_prefix(": ").or_else(|| rest.strip_prefix(" #"))?;
        (&line[..end], value)
    };
    Some(Footer { token: token.to_owned(), value: value.trim().to_owned() })
}

fn parse_footers(paragraph: &[&str]) -> Option<Vec<Footer>> {
    let mut footers: Vec<Footer> = vec![parse_trailer(paragraph.first()?)?];
    for line in &paragraph[1..] {
        match parse_trailer(line) {
            Some(footer) => footers.push(footer),
            None => {
                if let Some(last) = footers.last_mut() {
                    last.value.push('\n');
                    last.value.push_str(line.trim());
                }
            }
        }
    }
    Some(footers)
}

fn parse_header(summary: &str) -> Option<Header> {
    let kind_end = summary.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
    if kind_end == 0 {
        return None;
    }
    let kind = summary[..kind_end].to_ascii_lowercase();
    let mut rest = &summary[kind_end..];
    let mut scope = None;
    if let Some(after) = rest.strip_prefix('(') {
        let close = after.find(')')?;
        let inner = after[..close].trim();
        if inner.is_empty() || inner.contains('(') {
            return None;
        }
        scope = Some(inner.to_ascii_lowercase());
        rest = &after[close + 1..];
    }
    let bang = rest.starts_with('!');
    if bang {
        rest = &rest[1..];
    }
    let rest = rest.strip_prefix(':')?;
    if !rest.starts_with(' ') {
        return None;
    }
    let description = rest.trim();
    if description.is_empty() {
        return None;
    }
    Some(Header { kind, scope, bang, description: description.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the parse compactly so a table of cases stays readable.
    fn render(message: &Message) -> String {
        let header = match &message.conventional {
            Some(h) => format!(
                "cc type={} scope={} bang={} desc={:?}",
                h.kind,
                h.scope.as_deref().unwrap_or("-"),
                h.bang,
                h.description
            ),
            None => format!("non-cc summary={:?}", message.summary),
        };
        let footers: Vec<String> =
            message.footers.iter().map(|f| format!("{}={:?}", f.token, f.value)).collect();
        format!(
            "{header} breaking={} body={:?} footers=[{}] crates={:?}",
            message.is_breaking(),
            message.body,
            footers.join(", "),
            message.named_crates()
        )
    }

    #[test]
    fn parses_table() {
        let cases: &[(&str, &str)] = &[
            (
                "feat: add x",
                r##"cc type=feat scope=- bang=false desc="add x" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                "Fix(Parser): handle y\n",
                r##"cc type=fix scope=parser bang=false desc="handle y" breaking=false body="" footers=[] crates=["parser"]"##,
            ),
            (
                "feat(api)!: drop z",
                r##"cc type=feat scope=api bang=true desc="drop z" breaking=true body="" footers=[] crates=["api"]"##,
            ),
            (
                "refactor!: rename",
                r##"cc type=refactor scope=- bang=true desc="rename" breaking=true body="" footers=[] crates=[]"##,
            ),
            (
                "feat:missing space",
                r##"non-cc summary="feat:missing space" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                "feat(): empty scope",
                r##"non-cc summary="feat(): empty scope" breaking=false body="" footers=[] crates=[]"##,
            ),
            ("feat: ", r##"non-cc summary="feat:" breaking=false body="" footers=[] crates=[]"##),
            (
                "Update README",
                r##"non-cc summary="Update README" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                "Merge branch 'topic'",
                r##"non-cc summary="Merge branch 'topic'" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                "Revert \"feat: x\"",
                r##"non-cc summary="Revert \"feat: x\"" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                ": nothing",
                r##"non-cc summary=": nothing" breaking=false body="" footers=[] crates=[]"##,
            ),
            (
                "fix: a\n\nLonger body\nover two lines.\n\nSecond paragraph.\n\nRefs: #12\nReviewed-by: Z\n",
                r##"cc type=fix scope=- bang=false desc="a" breaking=false body="Longer body\nover two lines.\n\nSecond paragraph." footers=[Refs="#12", Reviewed-by="Z"] crates=[]"##,
            ),
            (
                "feat: b\n\nBREAKING CHANGE: the config moved\n  to a new file\nRefs #7",
                r##"cc type=feat scope=- bang=false desc="b" breaking=true body="" footers=[BREAKING CHANGE="the config moved\nto a new file", Refs="7"] crates=[]"##,
            ),
            (
                "chore: c\n\nBREAKING-CHANGE: gone",
                r##"cc type=chore scope=- bang=false desc="c" breaking=true body="" footers=[BREAKING-CHANGE="gone"] crates=[]"##,
            ),
            (
                "fix: lower case footer is not breaking\n\nbreaking change: no",
                r##"cc type=fix scope=- bang=false desc="lower case footer is not breaking" breaking=false body="breaking change: no" footers=[] crates=[]"##,
            ),
            (
                "Tidy the shared helpers\n\nCrate: alpha, beta\nCrate: gamma",
                r##"non-cc summary="Tidy the shared helpers" breaking=false body="" footers=[Crate="alpha, beta", Crate="gamma"] crates=["alpha", "beta", "gamma"]"##,
            ),
            (
                "feat(alpha,beta): both",
                r##"cc type=feat scope=alpha,beta bang=false desc="both" breaking=false body="" footers=[] crates=["alpha", "beta"]"##,
            ),
            (
                "fix: windows\r\n\r\nSigned-off-by: A <a@example.org>\r\n",
                r##"cc type=fix scope=- bang=false desc="windows" breaking=false body="" footers=[Signed-off-by="A <a@example.org>"] crates=[]"##,
            ),
            (
                "docs: body only\n\nThis is: not a trailer because of spaces in the token",
                r##"cc type=docs scope=- bang=false desc="body only" breaking=false body="This is: not a trailer because of spaces in the token" footers=[] crates=[]"##,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(render(&Message::parse(raw)), *expected, "message {raw:?}");
        }
    }
}
