//! Markdown → Jira wiki markup, the text format of Jira Data Center (REST v2) descriptions and
//! comments.
//!
//! Wiki markup gives meaning to characters that are plain in Markdown text (`*`, `_`, `{`, `[`, `|`,
//! …), so text is escaped with `\` and only the markup written here is live. Blocks that wiki
//! markup cannot nest are flattened: quotes inside quotes become one `{quote}`, and a list item's
//! extra paragraphs are joined with `\\` line breaks (a blank line would end the list).

use super::markdown::events;
use pulldown_cmark::{CodeBlockKind, Event, Tag, TagEnd};

/// The wiki markup for `markdown`, ending with one newline (empty for empty input).
pub fn to_wiki(markdown: &str) -> String {
    let mut w = Writer::default();
    for event in events(markdown) {
        w.event(event);
    }
    let mut out = w.out.trim_end().to_owned();
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[derive(Default)]
struct Writer {
    out: String,
    /// Markers of the open lists, outermost first: `*` bullet, `#` numbered.
    lists: Vec<char>,
    quote_depth: usize,
    /// Nothing written yet inside the current item or quote, so the next block needs no separator.
    fresh: bool,
    /// Inside a code block: its language and text so far.
    code: Option<(String, String)>,
    /// Open links: the target and where their text starts in `out`.
    links: Vec<(String, usize)>,
}

impl Writer {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match self.code.as_mut() {
                Some((_, code)) => code.push_str(&text),
                None => self.text(&text),
            },
            Event::Code(code) if !code.is_empty() => {
                let escaped = escape(&code, true);
                self.write(&format!("{{{{{escaped}}}}}"));
            }
            Event::SoftBreak => self.write(" "),
            Event::HardBreak => self.write(" \\\\ "),
            Event::Rule => {
                self.separate();
                self.write("----");
            }
            Event::TaskListMarker(done) => self.write(if done { "(/) " } else { "(x) " }),
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.separate(),
            Tag::Heading { level, .. } => {
                self.separate();
                if self.lists.is_empty() {
                    self.write(&format!("h{}. ", level as u8));
                }
            }
            Tag::BlockQuote(_) => {
                if self.quote_depth == 0 {
                    self.separate();
                    self.out.push_str("{quote}\n");
                    self.fresh = true;
                }
                self.quote_depth += 1;
            }
            Tag::CodeBlock(kind) => {
                self.separate();
                let language = match kind {
                    CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or_default().to_owned(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((language, String::new()));
            }
            Tag::List(start) => {
                if self.lists.is_empty() {
                    self.separate();
                }
                self.lists.push(if start.is_some() { '#' } else { '*' });
            }
            Tag::Item => {
                self.newline();
                let markers: String = self.lists.iter().collect();
                self.out.push_str(&markers);
                self.out.push(' ');
                self.fresh = true;
            }
            Tag::Emphasis => self.write("_"),
            Tag::Strong => self.write("*"),
            Tag::Strikethrough => self.write("-"),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.write("[");
                self.links.push((dest_url.to_string(), self.out.len()));
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Emphasis => self.out.push('_'),
            TagEnd::Strong => self.out.push('*'),
            TagEnd::Strikethrough => self.out.push('-'),
            TagEnd::Link | TagEnd::Image => {
                if let Some((url, start)) = self.links.pop() {
                    let url = link_target(&url);
                    if self.out.len() == start {
                        self.out.push_str(&url);
                    } else if self.out[start..] != *escape(&url, false) {
                        self.out.push('|');
                        self.out.push_str(&url);
                    }
                    self.out.push(']');
                }
            }
            TagEnd::CodeBlock => {
                if let Some((language, code)) = self.code.take() {
                    self.code_block(&language, &code);
                }
            }
            TagEnd::BlockQuote(_) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                if self.quote_depth == 0 {
                    self.newline();
                    self.out.push_str("{quote}");
                    self.fresh = false;
                }
            }
            TagEnd::List(_) => {
                self.lists.pop();
            }
            _ => {}
        }
    }

    /// `{code:lang}…{code}`; `{noformat}` when the text itself contains `{code`, which would end it.
    fn code_block(&mut self, language: &str, code: &str) {
        let (open, close) = if code.contains("{code") {
            ("{noformat}".to_owned(), "{noformat}")
        } else if !language.is_empty() && language.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '#') {
            (format!("{{code:{language}}}"), "{code}")
        } else {
            ("{code}".to_owned(), "{code}")
        };
        self.out.push_str(&open);
        self.out.push('\n');
        self.out.push_str(code);
        if !code.ends_with('\n') {
            self.out.push('\n');
        }
        self.out.push_str(close);
        self.fresh = false;
    }

    /// Before a block: nothing at the start of an item or quote; a line break between blocks of one
    /// list item (a blank line would end the list); otherwise a blank line.
    fn separate(&mut self) {
        if self.out.is_empty() || self.fresh {
            return;
        }
        if self.lists.is_empty() {
            let trimmed = self.out.trim_end_matches(' ').len();
            self.out.truncate(trimmed);
            while !self.out.ends_with("\n\n") {
                self.out.push('\n');
            }
        } else {
            self.out.push_str(" \\\\ ");
        }
    }

    fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn text(&mut self, text: &str) {
        let at_line_start = self.out.is_empty() || self.out.ends_with('\n');
        let escaped = escape(text, at_line_start || self.out.ends_with(' '));
        self.write(&escaped);
    }

    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        self.fresh = false;
    }
}

/// Text with wiki markup characters escaped. `-` and `#` only mean something at the start of a
/// word or line (`-strike-`, `# item`) or, for `-`, doubled (`--` is a dash), so they are escaped
/// only there; `word_start` says whether the text begins a word.
fn escape(text: &str, word_start: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev = if word_start { ' ' } else { 'x' };
    for c in text.chars() {
        let special = matches!(c, '\\' | '*' | '_' | '{' | '}' | '[' | ']' | '|' | '+' | '^' | '~' | '!')
            || (prev.is_whitespace() && matches!(c, '-' | '#'))
            || (prev == '-' && c == '-');
        if special {
            out.push('\\');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// A link target that cannot end the `[text|url]` form early.
fn link_target(url: &str) -> String {
    url.replace('|', "%7C").replace(']', "%5D").replace(' ', "%20")
}

#[cfg(test)]
mod tests {
    use super::to_wiki;

    #[test]
    fn inline_markup() {
        assert_eq!(
            to_wiki("A **b** _c_ `d_e` [f](https://x.test/f?a|b) <https://x.test> `--state` a--b"),
            "A *b* _c_ {{d\\_e}} [f|https://x.test/f?a%7Cb] [https://x.test] {{\\-\\-state}} a-\\-b\n"
        );
    }

    #[test]
    fn blocks() {
        let md = "## Title\n\nSome text with {braces} and a -dash.\n\n- one\n- two\n  1. nested\n\n> quote\n\n```diff\n-a\n+b\n```\n\n---\n";
        assert_eq!(
            to_wiki(md),
            "h2. Title\n\nSome text with \\{braces\\} and a \\-dash.\n\n* one\n* two\n*# nested\n\n{quote}\nquote\n{quote}\n\n{code:diff}\n-a\n+b\n{code}\n\n----\n"
        );
    }

    #[test]
    fn html_is_text_and_code_cannot_close_early() {
        let md = "<details open><summary>Diff</summary>\n\n```\n{code}\n```\n</details>\n\n<sub>by bot</sub>\n\n<!-- driftfix: {} -->\n";
        assert_eq!(to_wiki(md), "Diff\n\n{noformat}\n{code}\n{noformat}\n\nby bot\n");
    }

    #[test]
    fn loose_list_items_stay_one_item() {
        assert_eq!(to_wiki("- a\n\n  more\n- b\n"), "* a \\\\ more\n* b\n");
    }
}
