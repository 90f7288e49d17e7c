//! Minimal, format-preserving edits as byte splices on the original text.
//!
//! hcl-edit gives exact byte spans for blocks, attributes and expressions; an edit replaces one span
//! (or inserts at one offset) and every other byte of the file stays identical: comments, blank
//! lines, heredocs, alignment. New text follows the file's own indentation unit and `=` alignment.
//! [`apply`] refuses overlapping edits; callers re-parse the result and re-run the rule's check
//! before anything is written (see `remediate`).

use super::workspace::{FileId, Workspace};
use hcl_edit::Span;
use hcl_edit::expr::Array;
use hcl_edit::structure::{Block, Structure};
use std::collections::BTreeMap;
use std::ops::Range;

/// One splice: replace `range` of `file` with `text` (an insertion when the range is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub file: FileId,
    pub range: Range<usize>,
    pub text: String,
}

/// Edits could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("two edits overlap in {0}")]
    Overlap(String),
    #[error("the parser gave no position for {0}")]
    NoSpan(&'static str),
}

/// Apply edits; returns the new text of every changed file.
pub fn apply(ws: &Workspace, edits: &[Edit]) -> Result<BTreeMap<FileId, String>, EditError> {
    let mut by_file: BTreeMap<FileId, Vec<(usize, &Edit)>> = BTreeMap::new();
    for (seq, e) in edits.iter().enumerate() {
        by_file.entry(e.file).or_default().push((seq, e));
    }
    let mut out = BTreeMap::new();
    for (file, mut list) in by_file {
        list.sort_by_key(|(seq, e)| (e.range.start, e.range.end, *seq));
        let text = &ws.file(file).text;
        let mut new = String::with_capacity(text.len() + 256);
        let mut cursor = 0;
        for (_, e) in list {
            if e.range.start < cursor || e.range.end > text.len() {
                return Err(EditError::Overlap(ws.file(file).path.clone()));
            }
            new.push_str(&text[cursor..e.range.start]);
            new.push_str(&e.text);
            cursor = e.range.end;
        }
        new.push_str(&text[cursor..]);
        out.insert(file, new);
    }
    Ok(out)
}

/// Quote a string as an HCL string literal.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An HCL list of quoted strings: `["a", "b"]`.
pub fn quote_list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", "))
}

/// Replace the value of an existing expression (its span) with new source text.
pub fn replace_span(file: FileId, span: Option<Range<usize>>, text: impl Into<String>) -> Result<Edit, EditError> {
    let range = span.ok_or(EditError::NoSpan("an expression"))?;
    Ok(Edit { file, range, text: text.into() })
}

/// Geometry of a block in its file: where its braces are and how it is indented.
#[derive(Debug, Clone)]
struct Shape {
    open: usize,
    close: usize,
    /// Indentation of the block's own first line.
    indent: String,
    /// One level of indentation as the file uses it.
    unit: String,
    one_line: bool,
}

fn shape(ws: &Workspace, file: FileId, block: &Block) -> Result<Shape, EditError> {
    let text = &ws.file(file).text;
    let span = block.span().ok_or(EditError::NoSpan("a block"))?;
    let body_start = block
        .labels
        .last()
        .and_then(|l| match l {
            hcl_edit::structure::BlockLabel::String(s) => s.span(),
            hcl_edit::structure::BlockLabel::Ident(i) => i.span(),
        })
        .map_or(span.start, |r| r.end);
    let open = text[body_start..span.end].find('{').map(|o| body_start + o).ok_or(EditError::NoSpan("`{`"))?;
    let close = text[..span.end].rfind('}').ok_or(EditError::NoSpan("`}`"))?;
    let indent = line_indent(text, span.start);
    let unit = block
        .body
        .iter()
        .find_map(|s| {
            let start = structure_span(s)?.start;
            let ind = line_indent(text, start);
            (line_start(text, start) > open && ind.len() > indent.len() && ind.starts_with(&indent))
                .then(|| ind[indent.len()..].to_owned())
        })
        .unwrap_or_else(|| file_unit(text));
    let one_line = !text[open..close].contains('\n');
    Ok(Shape { open, close, indent, unit, one_line })
}

/// The file's indentation unit, guessed from its first indented line (two spaces by default).
fn file_unit(text: &str) -> String {
    text.lines()
        .find_map(|l| {
            let ind: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
            (!ind.is_empty() && l.trim_start().len() < l.len() && !l.trim().is_empty()).then_some(ind)
        })
        .map(|ind| if ind.starts_with('\t') { "\t".to_owned() } else { ind })
        .filter(|u| u == "\t" || (u.len() >= 2 && u.len() <= 8))
        .unwrap_or_else(|| "  ".to_owned())
}

fn structure_span(s: &Structure) -> Option<Range<usize>> {
    match s {
        Structure::Attribute(a) => a.span(),
        Structure::Block(b) => b.span(),
    }
}

/// Byte offset of the start of the line holding `offset`.
pub fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].rfind('\n').map_or(0, |p| p + 1)
}

/// Byte offset just after the newline ending the line holding `offset` (or the end of the text).
pub fn line_end(text: &str, offset: usize) -> usize {
    text[offset.min(text.len())..].find('\n').map_or(text.len(), |p| offset + p + 1)
}

fn line_indent(text: &str, offset: usize) -> String {
    let start = line_start(text, offset);
    text[start..].chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

/// Start of the comment lines directly above the line holding `offset` (no blank line between),
/// or of that line itself: a block's own comments, which move and go with it.
pub fn attached_comments_start(text: &str, offset: usize) -> usize {
    let mut start = line_start(text, offset);
    while start > 0 {
        let prev = line_start(text, start - 1);
        let l = text[prev..start].trim();
        if l.starts_with('#') || l.starts_with("//") {
            start = prev;
        } else {
            break;
        }
    }
    start
}

/// Re-indent a snippet written with two-space indentation to `base` + the file's `unit`.
pub fn reindent(snippet: &str, base: &str, unit: &str) -> String {
    let mut out = String::new();
    for line in snippet.lines() {
        if line.trim().is_empty() {
            out.push('\n');
            continue;
        }
        let spaces = line.len() - line.trim_start_matches(' ').len();
        out.push_str(base);
        for _ in 0..spaces / 2 {
            out.push_str(unit);
        }
        out.push_str(line.trim_start_matches(' '));
        out.push('\n');
    }
    out
}

/// Add `key = value` to a block's body, after its last attribute, aligned like its neighbours.
pub fn insert_attribute(
    ws: &Workspace,
    file: FileId,
    block: &Block,
    key: &str,
    value: &str,
) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let sh = shape(ws, file, block)?;
    if sh.one_line {
        return expand_one_line(ws, file, block, &sh, &format!("{key} = {value}"));
    }
    let inner = format!("{}{}", sh.indent, sh.unit);
    let last_attr = block.body.attributes().filter_map(|a| a.span().map(|s| (a, s))).last();
    let (pos, eq_col) = match last_attr {
        Some((a, span)) => {
            let key_end = a.key.span().map_or(span.start, |r| r.end);
            let ls = line_start(text, span.start);
            let eq = text[key_end..span.end].find('=').map(|o| key_end + o - ls);
            (line_end(text, span.end.saturating_sub(1)), eq)
        }
        None => (line_end(text, sh.open), None),
    };
    let natural = inner.len() + key.len() + 1;
    let pad = match eq_col {
        Some(col) if col > natural => " ".repeat(col - inner.len() - key.len()),
        _ => " ".to_owned(),
    };
    let mut line = format!("{inner}{key}{pad}= {value}\n");
    if pos == text.len() && !text.ends_with('\n') {
        line.insert(0, '\n');
    }
    Ok(Edit { file, range: pos..pos, text: line })
}

/// Add a nested block (snippet with two-space indentation) at the end of a block's body.
pub fn insert_nested_block(ws: &Workspace, file: FileId, block: &Block, snippet: &str) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let sh = shape(ws, file, block)?;
    if sh.one_line {
        return expand_one_line(ws, file, block, &sh, snippet.trim_end());
    }
    let inner = format!("{}{}", sh.indent, sh.unit);
    let close_line = line_start(text, sh.close);
    let only_ws_before_close = text[close_line..sh.close].trim().is_empty();
    let mut body = reindent(snippet, &inner, &sh.unit);
    // Separate from previous content by a blank line, as `terraform fmt` users write it.
    let before = text[..close_line].trim_end_matches(['\n', ' ', '\t']);
    if !block.body.is_empty() && !before.ends_with('{') && !text[..close_line].ends_with("\n\n") {
        body.insert(0, '\n');
    }
    if only_ws_before_close {
        Ok(Edit { file, range: close_line..close_line, text: body })
    } else {
        body.push_str(&sh.indent);
        Ok(Edit { file, range: sh.close..sh.close, text: format!("\n{body}") })
    }
}

/// Rewrite a one-line block (`x { a = 1 }`) as a multi-line block with `extra` appended: the only way
/// to add to it, since HCL allows one argument per line.
fn expand_one_line(ws: &Workspace, file: FileId, block: &Block, sh: &Shape, extra: &str) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let inner = format!("{}{}", sh.indent, sh.unit);
    let mut out = String::from("{\n");
    for s in block.body.iter() {
        let span = structure_span(s).ok_or(EditError::NoSpan("a structure"))?;
        out.push_str(&inner);
        out.push_str(text[span].trim());
        out.push('\n');
    }
    out.push_str(&reindent(extra, &inner, &sh.unit));
    out.push_str(&sh.indent);
    out.push('}');
    Ok(Edit { file, range: sh.open..sh.close + 1, text: out })
}

/// Insert a new top-level block (two-space snippet) right after `block`, separated by a blank line.
pub fn insert_after(ws: &Workspace, file: FileId, block: &Block, snippet: &str) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let sh = shape(ws, file, block)?;
    let body = reindent(snippet, &sh.indent, &sh.unit);
    let pos = line_end(text, sh.close);
    if pos == text.len() && !text.ends_with('\n') {
        Ok(Edit { file, range: pos..pos, text: format!("\n\n{}", body.trim_end_matches('\n')) })
    } else {
        Ok(Edit { file, range: pos..pos, text: format!("\n{body}") })
    }
}

/// Remove a block's lines, with the comment lines directly attached above it. Collapses the blank
/// line that would otherwise double up.
pub fn remove_block(ws: &Workspace, file: FileId, block: &Block) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let span = block.span().ok_or(EditError::NoSpan("a block"))?;
    if !text[line_start(text, span.start)..span.start].trim().is_empty() {
        return Ok(Edit { file, range: span, text: String::new() });
    }
    let mut start = attached_comments_start(text, span.start);
    let mut end = line_end(text, span.end.saturating_sub(1));
    if !text[span.end..end].trim().is_empty() {
        end = span.end;
    }
    let blank_before = start > 0 && text[..start].ends_with("\n\n");
    let closes_body = text[end..].trim_start_matches([' ', '\t']).starts_with('}');
    if blank_before && closes_body {
        // The last block of a body: take the blank line before it, not the one `}` needs.
        start -= 1;
    } else if (start == 0 || blank_before) && text[end..].starts_with('\n') {
        end += 1;
    }
    Ok(Edit { file, range: start..end, text: String::new() })
}

/// Remove element `idx` of an array together with its separating comma.
pub fn remove_array_item(file: FileId, array: &Array, idx: usize) -> Result<Edit, EditError> {
    let spans: Vec<Range<usize>> =
        array.iter().map(|e| e.span().ok_or(EditError::NoSpan("an element"))).collect::<Result<_, _>>()?;
    let item = spans.get(idx).ok_or(EditError::NoSpan("an element"))?.clone();
    if spans.len() == 1 {
        // The only element: `[\n  "x",\n]` must become `[]`, not `[\n  ,\n]`.
        return Ok(Edit { file, range: array.span().ok_or(EditError::NoSpan("an array"))?, text: "[]".to_owned() });
    }
    if let Some(next) = spans.get(idx + 1) {
        Ok(Edit { file, range: item.start..next.start, text: String::new() })
    } else if idx > 0 {
        Ok(Edit { file, range: spans[idx - 1].end..item.end, text: String::new() })
    } else {
        Ok(Edit { file, range: item, text: String::new() })
    }
}

/// Replace element `idx` of an array with one or more quoted strings.
pub fn replace_array_item(
    ws: &Workspace,
    file: FileId,
    array: &Array,
    idx: usize,
    with: &[String],
) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let item = array.get(idx).and_then(|e| e.span()).ok_or(EditError::NoSpan("an element"))?;
    let multi_line = array.span().is_some_and(|s| text[s].contains('\n'));
    let sep = if multi_line { format!(",\n{}", line_indent(text, item.start)) } else { ", ".to_owned() };
    Ok(Edit { file, range: item, text: with.iter().map(|s| quote(s)).collect::<Vec<_>>().join(&sep) })
}

/// Remove an argument's whole line (with its trailing comment); only its text when it shares the
/// line with something else.
pub fn remove_attribute(
    ws: &Workspace,
    file: FileId,
    attr: &hcl_edit::structure::Attribute,
) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let span = attr.span().ok_or(EditError::NoSpan("an argument"))?;
    let start = line_start(text, span.start);
    let end = line_end(text, span.end.saturating_sub(1));
    let after = text.get(span.end..end).unwrap_or_default().trim();
    let before = text.get(start..span.start).unwrap_or_default();
    if before.trim().is_empty() && (after.is_empty() || after.starts_with('#') || after.starts_with("//")) {
        Ok(Edit { file, range: start..end, text: String::new() })
    } else {
        Ok(Edit { file, range: span, text: String::new() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(src: &str) -> Workspace {
        Workspace::from_sources([("main.tf".to_owned(), src.to_owned())])
    }

    fn first_block(w: &Workspace) -> &Block {
        w.files()[0].body.blocks().next().unwrap()
    }

    fn applied(w: &Workspace, e: Edit) -> String {
        apply(w, &[e]).unwrap().remove(&FileId(0)).unwrap()
    }

    #[test]
    fn removing_the_last_nested_block_takes_the_blank_line_before_it() {
        let w = ws("resource \"a\" \"b\" {\n  x = 1\n\n  # old rule\n  ingress {\n    y = 2\n  }\n}\n");
        let nested = first_block(&w).body.blocks().next().unwrap();
        assert_eq!(applied(&w, remove_block(&w, FileId(0), nested).unwrap()), "resource \"a\" \"b\" {\n  x = 1\n}\n");
    }

    #[test]
    fn removing_a_middle_block_keeps_one_blank_line() {
        let src = "resource \"a\" \"b\" {\n}\n\nresource \"c\" \"d\" {\n}\n\nresource \"e\" \"f\" {\n}\n";
        let w = ws(src);
        let middle = w.files()[0].body.blocks().nth(1).unwrap();
        assert_eq!(
            applied(&w, remove_block(&w, FileId(0), middle).unwrap()),
            "resource \"a\" \"b\" {\n}\n\nresource \"e\" \"f\" {\n}\n"
        );
    }

    #[test]
    fn removing_the_only_item_of_a_multi_line_list_leaves_an_empty_list() {
        let w = ws("x = [\n  \"0.0.0.0/0\",\n]\n");
        let Some(hcl_edit::expr::Expression::Array(a)) = w.files()[0].body.get_attribute("x").map(|a| &a.value) else {
            panic!()
        };
        assert_eq!(applied(&w, remove_array_item(FileId(0), a, 0).unwrap()), "x = []\n");
    }

    #[test]
    fn attributes_go_with_their_line_and_comment() {
        let w = ws("resource \"a\" \"b\" {\n  x = 1 # one\n  y = 2\n}\n");
        let attr = first_block(&w).body.get_attribute("x").unwrap();
        assert_eq!(applied(&w, remove_attribute(&w, FileId(0), attr).unwrap()), "resource \"a\" \"b\" {\n  y = 2\n}\n");
    }

    #[test]
    fn quoting_escapes_template_sequences() {
        assert_eq!(quote("a\"b\\c${x}%{y}$z"), "\"a\\\"b\\\\c$${x}%%{y}$z\"");
    }
}
