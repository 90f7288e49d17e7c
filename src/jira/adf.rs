//! Markdown → Atlassian Document Format, the JSON tree Jira Cloud (REST v3) takes for descriptions
//! and comments.
//!
//! ADF is stricter than Markdown, and Jira answers 400 to a document that breaks its rules, so the
//! builder enforces them instead of hoping the input is simple:
//! - text nodes are never empty, and neighbours with the same marks are merged;
//! - inline content always sits in a paragraph (tight list items have none in Markdown);
//! - `code` combines only with `link`, so `**`x`**` keeps its code mark and drops `strong`;
//! - list items and quotes take only paragraphs, lists and code blocks: a heading there becomes a
//!   paragraph, a nested quote gives up its children, a rule is dropped.

use super::markdown::events;
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Tag, TagEnd};
use serde_json::{Value, json};

/// The ADF document (`{"type":"doc","version":1,"content":[…]}`) for `markdown`.
pub fn to_adf(markdown: &str) -> Value {
    let mut b = Builder { stack: vec![Node::new("doc", None)], marks: Vec::new() };
    for event in events(markdown) {
        b.event(event);
    }
    while b.stack.len() > 1 {
        b.close();
    }
    let doc = b.stack.pop().map(|n| n.content).unwrap_or_default();
    json!({ "type": "doc", "version": 1, "content": doc })
}

/// A block being built: its type, attributes and finished children.
struct Node {
    kind: &'static str,
    attrs: Option<Value>,
    content: Vec<Value>,
    /// A paragraph the builder opened itself, around inline content of a tight list item.
    implicit: bool,
    /// Raw text of a code block.
    code: String,
}

impl Node {
    fn new(kind: &'static str, attrs: Option<Value>) -> Node {
        Node { kind, attrs, content: Vec::new(), implicit: false, code: String::new() }
    }

    fn into_value(mut self) -> Option<Value> {
        match self.kind {
            "paragraph" | "heading" => trim_inline(&mut self.content),
            "codeBlock" => {
                let text = self.code.strip_suffix('\n').unwrap_or(&self.code);
                if !text.is_empty() {
                    self.content.push(json!({ "type": "text", "text": text }));
                }
            }
            "listItem" if self.content.is_empty() => self.content.push(json!({ "type": "paragraph", "content": [] })),
            _ => {}
        }
        if self.kind == "paragraph" && self.content.is_empty() {
            return None;
        }
        let mut node = json!({ "type": self.kind, "content": self.content });
        if let Some(attrs) = self.attrs {
            node["attrs"] = attrs;
        }
        Some(node)
    }
}

struct Builder {
    stack: Vec<Node>,
    /// The marks (`strong`, `em`, `strike`, `link`) open at this point of the inline content.
    marks: Vec<Value>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) if self.top_kind() == "codeBlock" => {
                if let Some(top) = self.stack.last_mut() {
                    top.code.push_str(&text);
                }
            }
            Event::Text(text) => self.text(&text, None),
            Event::Code(code) => self.text(&code, Some(json!({ "type": "code" }))),
            Event::SoftBreak => self.text(" ", None),
            Event::HardBreak => self.inline(json!({ "type": "hardBreak" })),
            Event::Rule => {
                self.close_implicit();
                self.attach(json!({ "type": "rule" }));
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }, None),
            // Options that would produce these are not enabled; HTML is already text (markdown.rs).
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let block = match tag {
            Tag::Paragraph => Node::new("paragraph", None),
            Tag::Heading { level, .. } => Node::new("heading", Some(json!({ "level": heading_level(level) }))),
            Tag::BlockQuote(_) => Node::new("blockquote", None),
            Tag::CodeBlock(kind) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_owned),
                    CodeBlockKind::Indented => None,
                };
                Node::new("codeBlock", language.map(|l| json!({ "language": l })))
            }
            Tag::List(Some(start)) if start != 1 => Node::new("orderedList", Some(json!({ "order": start }))),
            Tag::List(Some(_)) => Node::new("orderedList", None),
            Tag::List(None) => Node::new("bulletList", None),
            Tag::Item => Node::new("listItem", None),
            Tag::Emphasis => return self.marks.push(json!({ "type": "em" })),
            Tag::Strong => return self.marks.push(json!({ "type": "strong" })),
            Tag::Strikethrough => return self.marks.push(json!({ "type": "strike" })),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                return self.marks.push(json!({ "type": "link", "attrs": { "href": dest_url.as_ref() } }));
            }
            // Tables, footnotes and the like are not enabled; their text still flows into the parent.
            _ => return,
        };
        self.close_implicit();
        self.stack.push(block);
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link | TagEnd::Image => {
                self.marks.pop();
            }
            TagEnd::Paragraph
            | TagEnd::Heading(_)
            | TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::List(_)
            | TagEnd::Item => {
                self.close_implicit();
                self.close();
            }
            _ => {}
        }
    }

    fn top_kind(&self) -> &'static str {
        self.stack.last().map_or("doc", |n| n.kind)
    }

    /// Pop the innermost block and attach it to its parent (the document itself is never popped).
    fn close(&mut self) {
        if self.stack.len() > 1
            && let Some(node) = self.stack.pop()
            && let Some(value) = node.into_value()
        {
            self.attach(value);
        }
    }

    fn close_implicit(&mut self) {
        if self.stack.last().is_some_and(|n| n.implicit) {
            self.close();
        }
    }

    /// Add a finished block to the innermost open block, reshaped to what that block may contain.
    fn attach(&mut self, child: Value) {
        let Some(parent) = self.stack.last_mut() else { return };
        if !matches!(parent.kind, "listItem" | "blockquote") {
            parent.content.push(child);
            return;
        }
        match child["type"].as_str() {
            Some("paragraph" | "bulletList" | "orderedList" | "codeBlock") => parent.content.push(child),
            Some("heading") => parent.content.push(json!({ "type": "paragraph", "content": child["content"] })),
            Some("blockquote") => {
                if let Some(children) = child["content"].as_array() {
                    for c in children.clone() {
                        self.attach(c);
                    }
                }
            }
            _ => {}
        }
    }

    /// A text node with the open marks (plus `extra`), merged into its neighbour when the marks match.
    fn text(&mut self, text: &str, extra: Option<Value>) {
        if text.is_empty() {
            return;
        }
        let marks = self.current_marks(extra);
        if let Some(last) = self.inline_target().content.last_mut()
            && last["type"] == "text"
            && last.get("marks").unwrap_or(&Value::Null) == marks.as_ref().unwrap_or(&Value::Null)
            && let Some(prev) = last["text"].as_str()
        {
            last["text"] = Value::String(format!("{prev}{text}"));
            return;
        }
        let mut node = json!({ "type": "text", "text": text });
        if let Some(marks) = marks {
            node["marks"] = marks;
        }
        self.inline_target().content.push(node);
    }

    fn inline(&mut self, node: Value) {
        self.inline_target().content.push(node);
    }

    /// The block inline content goes into: the open paragraph or heading, or a paragraph opened now.
    fn inline_target(&mut self) -> &mut Node {
        if !matches!(self.top_kind(), "paragraph" | "heading") {
            let mut p = Node::new("paragraph", None);
            p.implicit = true;
            self.stack.push(p);
        }
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }

    /// The open marks, each type once; with `code`, only `link` may stay beside it (an ADF rule).
    fn current_marks(&self, extra: Option<Value>) -> Option<Value> {
        let is_code = extra.is_some();
        let mut marks: Vec<Value> = Vec::new();
        for m in self.marks.iter().rev().chain(extra.iter()) {
            let allowed = !is_code || m["type"] == "link" || m["type"] == "code";
            if allowed && !marks.iter().any(|k| k["type"] == m["type"]) {
                marks.push(m.clone());
            }
        }
        marks.sort_by_key(mark_rank);
        if marks.is_empty() { None } else { Some(Value::Array(marks)) }
    }
}

/// A stable order for marks, so equal formatting always serialises (and merges) the same way.
fn mark_rank(mark: &Value) -> usize {
    ["link", "strong", "em", "strike", "code"].iter().position(|t| mark["type"] == *t).unwrap_or(usize::MAX)
}

fn heading_level(level: HeadingLevel) -> u8 {
    level as u8
}

/// Drop whitespace at the start and end of a paragraph (left by soft breaks next to removed HTML),
/// removing text nodes that become empty.
fn trim_inline(content: &mut Vec<Value>) {
    if let Some(first) = content.first_mut()
        && let Some(t) = first["text"].as_str()
    {
        first["text"] = Value::String(t.trim_start().to_owned());
    }
    if let Some(last) = content.last_mut()
        && let Some(t) = last["text"].as_str()
    {
        last["text"] = Value::String(t.trim_end().to_owned());
    }
    content.retain(|n| n["type"] != "text" || n["text"].as_str().is_some_and(|t| !t.is_empty()));
    while content.last().is_some_and(|n| n["type"] == "hardBreak") {
        content.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::to_adf;
    use serde_json::{Value, json};

    fn content(md: &str) -> Value {
        to_adf(md)["content"].clone()
    }

    /// Every text node in the document, depth first.
    fn texts(v: &Value, out: &mut Vec<String>) {
        if v["type"] == "text" {
            out.push(v["text"].as_str().unwrap_or_default().to_owned());
        }
        for c in v["content"].as_array().into_iter().flatten() {
            texts(c, out);
        }
    }

    #[test]
    fn inline_marks_and_links() {
        assert_eq!(
            content("A **b** _c_ `d` [e](https://x.test/e)"),
            json!([{ "type": "paragraph", "content": [
                { "type": "text", "text": "A " },
                { "type": "text", "text": "b", "marks": [{ "type": "strong" }] },
                { "type": "text", "text": " " },
                { "type": "text", "text": "c", "marks": [{ "type": "em" }] },
                { "type": "text", "text": " " },
                { "type": "text", "text": "d", "marks": [{ "type": "code" }] },
                { "type": "text", "text": " " },
                { "type": "text", "text": "e", "marks": [{ "type": "link", "attrs": { "href": "https://x.test/e" } }] },
            ]}])
        );
    }

    #[test]
    fn code_keeps_only_link_beside_it() {
        let c = content("**`name`** [`x`](https://x.test)");
        assert_eq!(c[0]["content"][0]["marks"], json!([{ "type": "code" }]));
        assert_eq!(
            c[0]["content"][2]["marks"],
            json!([{ "type": "link", "attrs": { "href": "https://x.test" } }, { "type": "code" }])
        );
    }

    #[test]
    fn tight_list_items_get_paragraphs_and_nest() {
        let c = content("- a\n  - b\n\n3. c\n");
        assert_eq!(c[0]["type"], "bulletList");
        let item = &c[0]["content"][0];
        assert_eq!(item["content"][0], json!({ "type": "paragraph", "content": [{ "type": "text", "text": "a" }] }));
        assert_eq!(item["content"][1]["type"], "bulletList");
        assert_eq!(c[1]["type"], "orderedList");
        assert_eq!(c[1]["attrs"], json!({ "order": 3 }));
    }

    #[test]
    fn blocks_code_quote_rule_heading_breaks() {
        let c = content("## Title\n\n> quoted\n\n```diff\n-a\n+b\n```\n\n---\nline one\\\nline two\nsoft");
        assert_eq!(
            c[0],
            json!({ "type": "heading", "attrs": { "level": 2 }, "content": [{ "type": "text", "text": "Title" }] })
        );
        assert_eq!(c[1]["type"], "blockquote");
        assert_eq!(
            c[2],
            json!({ "type": "codeBlock", "attrs": { "language": "diff" }, "content": [{ "type": "text", "text": "-a\n+b" }] })
        );
        assert_eq!(c[3], json!({ "type": "rule" }));
        assert_eq!(c[4]["content"][1], json!({ "type": "hardBreak" }));
        assert_eq!(c[4]["content"][2], json!({ "type": "text", "text": "line two soft" }));
    }

    #[test]
    fn html_never_leaks_and_no_text_is_empty() {
        let doc = to_adf(
            "<details open><summary>Diff</summary>\n\n```\n```\n</details>\n\n<sub>by [bot](https://b.test)</sub>\n\n<!-- driftfix: {} -->\n\n- \n",
        );
        let mut all = Vec::new();
        texts(&doc, &mut all);
        assert_eq!(all, ["Diff", "by ", "bot"]);
        assert!(!doc.to_string().contains('<'), "{doc}");
        assert_eq!(doc["content"][1], json!({ "type": "codeBlock", "content": [] }));
        assert_eq!(doc["content"][3]["content"][0]["content"][0], json!({ "type": "paragraph", "content": [] }));
    }

    #[test]
    fn headings_and_quotes_inside_lists_are_reshaped() {
        let c = content("- # big\n  > > deep\n  ---\n");
        let item = &c[0]["content"][0]["content"];
        let kinds: Vec<&str> = item.as_array().unwrap().iter().filter_map(|n| n["type"].as_str()).collect();
        assert_eq!(kinds, ["paragraph", "paragraph"]);
    }
}
