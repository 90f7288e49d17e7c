//! Unified diffs of whole files, `git diff` style, for PR bodies, JSON output and the terminal.

use similar::TextDiff;

/// A unified diff of one file with three lines of context, headed `a/<path>` / `b/<path>`.
pub fn unified(path: &str, before: &str, after: &str) -> String {
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// Colour a unified diff for a terminal (red removals, green additions, cyan hunk headers).
pub fn colourise(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len() + 64);
    for line in diff.split_inclusive('\n') {
        let colour = if line.starts_with("+++") || line.starts_with("---") {
            "\x1b[1m"
        } else if line.starts_with('+') {
            "\x1b[32m"
        } else if line.starts_with('-') {
            "\x1b[31m"
        } else if line.starts_with("@@") {
            "\x1b[36m"
        } else {
            ""
        };
        if colour.is_empty() {
            out.push_str(line);
        } else {
            let (body, nl) = line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n"));
            out.push_str(colour);
            out.push_str(body);
            out.push_str("\x1b[0m");
            out.push_str(nl);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn diff_has_git_headers_and_only_changed_lines() {
        let d = super::unified("main.tf", "a\nb\nc\n", "a\nB\nc\n");
        assert!(d.starts_with("--- a/main.tf\n+++ b/main.tf\n@@ -1,3 +1,3 @@\n"), "{d}");
        assert!(d.contains("-b\n+B\n"));
    }
}
