//! What the key-attestation CLI tests share: reading a command's output as a pass or as a
//! failure with its exit code.

use std::process::Output;

/// Standard output of a command that must succeed; the failure message shows both streams.
pub(crate) fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code and standard error, hex runs of 16+ digits replaced by `<hex>`.
pub(crate) fn failure(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut text = String::new();
    let mut run = String::new();
    for c in stderr.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        text.push_str(if run.len() >= 16 { "<hex>" } else { &run });
        run.clear();
        text.push(c);
    }
    format!("exit {:?}: {}", out.status.code(), text.trim_end())
}
