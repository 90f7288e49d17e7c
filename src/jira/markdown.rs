//! The Markdown both Jira renderings read: pulldown-cmark events with the HTML made harmless.
//!
//! Our templates are written for GitHub, which renders `<details>`, `<sub>` and hides
//! `<!-- driftfix: … -->`. Jira shows raw tags as text, and the hidden metadata is noise there, so
//! here HTML comments disappear and every other tag is removed while the text between tags stays.
//! The renderers ([`super::adf`], [`super::wiki`]) then never see an HTML event.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Parse `markdown` (CommonMark plus strikethrough) into events without HTML events: an HTML block
/// becomes a paragraph of its text (or nothing), inline HTML becomes its text (usually nothing).
pub fn events(markdown: &str) -> Vec<Event<'_>> {
    let mut out = Vec::new();
    let mut html_block: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(Tag::HtmlBlock) => html_block = Some(String::new()),
            Event::Html(html) => match html_block.as_mut() {
                Some(block) => block.push_str(&html),
                None => push_text(&mut out, strip_html(&html)),
            },
            Event::End(TagEnd::HtmlBlock) => {
                let text = strip_html(&html_block.take().unwrap_or_default());
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    out.extend([Event::Start(Tag::Paragraph), Event::Text(text.into()), Event::End(TagEnd::Paragraph)]);
                }
            }
            Event::InlineHtml(html) => push_text(&mut out, strip_html(&html)),
            other => out.push(other),
        }
    }
    out
}

fn push_text(out: &mut Vec<Event<'_>>, text: String) {
    if !text.is_empty() {
        out.push(Event::Text(CowStr::from(text)));
    }
}

/// The text of an HTML fragment: comments dropped, tags removed, the common entities decoded.
/// A `<` that does not start a tag (`a < b`) is kept.
pub fn strip_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(comment) = after.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else if after[1..].starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?')) {
            rest = after.find('>').map_or("", |end| &after[end + 1..]);
        } else {
            out.push('<');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    decode_entities(&out)
}

fn decode_entities(s: &str) -> String {
    const ENTITIES: [(&str, &str); 6] =
        [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&nbsp;", " "), ("&amp;", "&")];
    ENTITIES.iter().fold(s.to_owned(), |acc, (entity, c)| acc.replace(entity, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_its_text_and_loses_tags_and_comments() {
        assert_eq!(strip_html("<details open><summary>Diff</summary>\n"), "Diff\n");
        assert_eq!(strip_html("<!-- driftfix: {\"key\": \"k\"} -->\n"), "\n");
        assert_eq!(strip_html("a < b &amp; <b>c</b> <!-- unterminated"), "a < b & c ");
    }

    #[test]
    fn no_html_event_survives() {
        let md = "<details><summary>Diff</summary>\n\n```diff\n+x\n```\n</details>\n\n<sub>by **bot**</sub>\n\n<!-- meta -->\n";
        let events = events(md);
        assert!(!events.iter().any(|e| matches!(e, Event::Html(_) | Event::InlineHtml(_))), "{events:?}");
        let texts: Vec<String> =
            events.iter().filter_map(|e| if let Event::Text(t) = e { Some(t.to_string()) } else { None }).collect();
        assert_eq!(texts, ["Diff", "+x\n", "by ", "bot"]);
    }
}
