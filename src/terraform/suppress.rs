//! Inline suppression: `# driftfix:ignore RULE reason` (or `//`) in the comment lines directly above a
//! resource block or inside it. A reason is mandatory, as in review bots users trust: an ignore
//! without one is reported and not honoured.
//!
//! A resource can also be exempt by tag (the policy's `exemption_tags`): [`literal_tags`] reads the
//! block's own `tags` when they are written as a literal object, so a tag set in the code exempts
//! the resource before it is ever applied.

use super::edit::{attached_comments_start, line_end};
use super::index::{Index, ResourceId};
use super::workspace::Workspace;
use hcl_edit::Span;

const MARKER: &str = "driftfix:ignore";

/// An ignore comment that applies to a rule on a block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Suppression {
    pub reason: String,
    pub line: usize,
}

/// The verdict for one block and one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignore {
    None,
    Suppressed(Suppression),
    /// An ignore comment names the rule but gives no reason (line of the comment).
    MissingReason(usize),
}

/// Look for an ignore comment naming `identifier` or `name` (or `*`) on the block.
pub fn find(ws: &Workspace, index: &Index, id: ResourceId, identifier: &str, name: &str) -> Ignore {
    let r = index.resource(id);
    let file = ws.file(r.file);
    let text = &file.text;
    let Some(span) = index.block(ws, id).span() else { return Ignore::None };
    let start = attached_comments_start(text, span.start);
    let end = line_end(text, span.end.saturating_sub(1));
    let mut offset = start;
    for line in text[start..end].split_inclusive('\n') {
        if let Some(pos) = line.find(MARKER) {
            let before = line[..pos].trim_end();
            let is_comment = before.ends_with('#') || before.ends_with("//") || before.ends_with("/*");
            if is_comment {
                let rest = line[pos + MARKER.len()..].trim().trim_end_matches("*/").trim();
                let mut words = rest.splitn(2, char::is_whitespace);
                let target = words.next().unwrap_or_default();
                let reason = words.next().unwrap_or_default().trim();
                let names_rule =
                    target == "*" || target.eq_ignore_ascii_case(identifier) || target.eq_ignore_ascii_case(name);
                if names_rule {
                    let line_no = file.line_of(offset);
                    return if reason.is_empty() {
                        Ignore::MissingReason(line_no)
                    } else {
                        Ignore::Suppressed(Suppression { reason: reason.to_owned(), line: line_no })
                    };
                }
            }
        }
        offset += line.len();
    }
    Ignore::None
}

/// The block's `tags` when they are a literal object of strings (empty otherwise: a `merge()` or a
/// variable is not evaluated, so a tag set only there does not exempt).
pub fn literal_tags(ws: &Workspace, index: &Index, id: ResourceId) -> Vec<(String, String)> {
    let block = index.block(ws, id);
    match super::literal::attr(&block.body, "tags") {
        Some(Ok(serde_json::Value::Object(map))) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Bool(b) => Some((k, b.to_string())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(src: &str) -> Ignore {
        let ws = Workspace::from_sources([("main.tf".to_owned(), src.to_owned())]);
        let index = Index::build(&ws);
        let (id, _) = index.resources().next().unwrap();
        find(&ws, &index, id, "INCOMING_SSH_DISABLED", "restricted-ssh")
    }

    #[test]
    fn comment_above_or_inside_with_a_reason_suppresses() {
        let above = "# driftfix:ignore restricted-ssh bastion host, reviewed by secops\nresource \"aws_security_group\" \"b\" {\n}\n";
        assert_eq!(
            verdict(above),
            Ignore::Suppressed(Suppression { reason: "bastion host, reviewed by secops".into(), line: 1 })
        );
        let inside =
            "resource \"aws_security_group\" \"b\" {\n  // driftfix:ignore INCOMING_SSH_DISABLED vendor VPN\n}\n";
        assert!(matches!(verdict(inside), Ignore::Suppressed(s) if s.line == 2));
    }

    #[test]
    fn literal_tags_are_read_and_expressions_are_not() {
        let tags = |src: &str| {
            let ws = Workspace::from_sources([("main.tf".to_owned(), src.to_owned())]);
            let index = Index::build(&ws);
            let (id, _) = index.resources().next().unwrap();
            literal_tags(&ws, &index, id)
        };
        assert_eq!(
            tags("resource \"a\" \"b\" {\n  tags = { SecurityExemption = \"True\", \"team\" = \"x\" }\n}\n"),
            vec![("SecurityExemption".to_owned(), "True".to_owned()), ("team".to_owned(), "x".to_owned())]
        );
        assert!(tags("resource \"a\" \"b\" {\n  tags = merge(local.tags, { x = \"y\" })\n}\n").is_empty());
        assert!(tags("resource \"a\" \"b\" {\n}\n").is_empty());
    }

    #[test]
    fn no_reason_or_other_rule_does_not_suppress() {
        assert_eq!(verdict("# driftfix:ignore restricted-ssh\nresource \"a\" \"b\" {\n}\n"), Ignore::MissingReason(1));
        assert_eq!(
            verdict("# driftfix:ignore s3-bucket-versioning-enabled x\nresource \"a\" \"b\" {\n}\n"),
            Ignore::None
        );
        assert_eq!(
            verdict(
                "# unrelated\n\n# driftfix:ignore restricted-ssh detached by a blank line\n\nresource \"a\" \"b\" {\n}\n"
            ),
            Ignore::None
        );
    }
}
