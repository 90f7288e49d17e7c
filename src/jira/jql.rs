//! JQL text built from values: every value is a quoted string literal, so a label or key can never
//! change the query's structure.

/// `s` as a JQL string literal: double quotes, with `\` and `"` escaped and control characters
/// written as escapes (JQL accepts `\n`, `\r`, `\t`; others are dropped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every issue carrying `label`, oldest first.
pub fn by_label(label: &str) -> String {
    format!("labels = {} ORDER BY created ASC", quote(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_escape_their_quotes() {
        assert_eq!(quote("driftfix-0123456789ab"), r#""driftfix-0123456789ab""#);
        assert_eq!(quote(r#"a" OR project = X \"#), r#""a\" OR project = X \\""#);
        assert_eq!(quote("line\nbreak\u{7}"), r#""line\nbreak""#);
        assert_eq!(by_label("x"), r#"labels = "x" ORDER BY created ASC"#);
    }
}
