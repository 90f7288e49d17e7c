//! Required tags (R-T1): the keys (and optionally values) the rule's `tagNKey` / `tagNValue`
//! parameters demand on every taggable resource.
//!
//! A tag counts when the resource's literal `tags` map has it, or when a literal
//! `default_tags { tags = { … } }` of an `aws` provider in the resource's module or root module has
//! it (a resource value wins over a default one). Missing keys are added to the resource's own map,
//! with the only allowed value or the placeholder `"unassigned"` when any value is allowed; the bot
//! never picks one of several allowed values, and never edits a `tags` it cannot read as a literal.
//! edit.rs has no helper to add an entry to an object, so [`insert_entries`] lives here.

use super::{Advice, Check, Context, Fix, Params, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice};
use crate::terraform::edit::{self, Edit, EditError};
use crate::terraform::literal::{self, NotLiteral};
use crate::terraform::workspace::{FileId, Workspace};
use hcl_edit::Span;
use hcl_edit::expr::{Expression, Object, ObjectKey, ObjectValueAssignment, ObjectValueTerminator};
use hcl_edit::structure::{Block, Body};
use serde_json::Value;
use std::ops::Range;

pub static RULES: &[&dyn Rule] = &[&RequiredTags];

/// Value written for a required key that allows any value (as the seed's auto-tagger does).
const PLACEHOLDER: &str = "unassigned";

/// REQUIRED_TAGS: every `tagNKey` present, with one of the `tagNValue` values when given.
pub struct RequiredTags;

static TAGS: RuleMeta = RuleMeta {
    identifier: "REQUIRED_TAGS",
    name: "required-tags",
    aliases: &[],
    security_controls: &[],
    config_types: &[
        "AWS::S3::Bucket",
        "AWS::EC2::Instance",
        "AWS::EC2::SecurityGroup",
        "AWS::EC2::Volume",
        "AWS::RDS::DBInstance",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::KMS::Key",
        "AWS::CloudTrail::Trail",
        "AWS::Lambda::Function",
    ],
    terraform_types: &[
        "aws_s3_bucket",
        "aws_instance",
        "aws_security_group",
        "aws_ebs_volume",
        "aws_db_instance",
        "aws_dynamodb_table",
        "aws_sqs_queue",
        "aws_kms_key",
        "aws_cloudtrail",
        "aws_lambda_function",
    ],
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "add the required tags",
    explanation: "The organisation requires these tags on every resource for cost allocation, ownership and automation. Adding tags changes nothing for the resource itself; placeholder values (`unassigned`) should be replaced by their owners.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/required-tags.html",
    checkov: &[],
    params: &[
        "tag1Key",
        "tag1Value",
        "tag2Key",
        "tag2Value",
        "tag3Key",
        "tag3Value",
        "tag4Key",
        "tag4Value",
        "tag5Key",
        "tag5Value",
        "tag6Key",
        "tag6Value",
    ],
};

/// One required tag: its key and allowed values (empty: any value).
struct Required {
    key: String,
    allowed: Vec<String>,
}

impl Required {
    fn allows(&self, value: &str) -> bool {
        self.allowed.is_empty() || self.allowed.iter().any(|a| a == value)
    }

    /// The value the bot may write on its own, if there is exactly one sensible choice.
    fn value_to_write(&self) -> Option<&str> {
        match self.allowed.as_slice() {
            [] => Some(PLACEHOLDER),
            [only] => Some(only),
            _ => None,
        }
    }
}

fn required(params: &Params) -> Vec<Required> {
    (1..=6)
        .filter_map(|n| {
            let key = params.get(&format!("tag{n}Key"))?.trim().to_owned();
            Some(Required { key, allowed: params.list(&format!("tag{n}Value")) })
        })
        .collect()
}

/// A `tags` argument as written.
enum Tags<'a> {
    Absent,
    Literal(&'a Object),
    /// Anything else (`merge(…)`, a variable, `null`): the bot will neither read nor edit it.
    Other(NotLiteral),
}

fn tags_of(body: &Body) -> Tags<'_> {
    match body.get_attribute("tags").map(|a| &a.value) {
        None => Tags::Absent,
        Some(Expression::Object(o)) => Tags::Literal(o),
        Some(e) => Tags::Other(literal::not_literal(e)),
    }
}

/// What a tag map says about one key.
enum Found {
    Absent,
    /// Present; the value as a string (or why it is not one) and the value's span.
    Value(Result<String, NotLiteral>, Option<Range<usize>>),
    /// The map (or one of its keys) is not literal, so the key may be in it.
    Unknown(NotLiteral),
}

fn key_text(key: &ObjectKey) -> Result<String, NotLiteral> {
    match key {
        ObjectKey::Ident(i) => Ok(i.value().as_str().to_owned()),
        ObjectKey::Expression(Expression::String(s)) => Ok(s.value().clone()),
        ObjectKey::Expression(e) => Err(literal::not_literal(e)),
    }
}

fn lookup(tags: &Tags, key: &str) -> Found {
    let obj = match tags {
        Tags::Absent => return Found::Absent,
        Tags::Other(nl) => return Found::Unknown(nl.clone()),
        Tags::Literal(o) => o,
    };
    let mut unknown_key = None;
    for (k, v) in obj.iter() {
        match key_text(k) {
            Ok(k) if k == key => {
                return match literal::eval(v.expr()) {
                    Ok(Value::Null) => Found::Absent,
                    Ok(Value::String(s)) => Found::Value(Ok(s), v.expr().span()),
                    Ok(other) => Found::Value(Ok(other.to_string()), v.expr().span()),
                    Err(nl) => Found::Value(Err(nl), v.expr().span()),
                };
            }
            Ok(_) => {}
            Err(nl) => unknown_key = Some(nl),
        }
    }
    unknown_key.map_or(Found::Absent, Found::Unknown)
}

/// A `default_tags` map of an `aws` provider, with where it is for messages.
struct Defaults<'a> {
    tags: Tags<'a>,
    at: String,
}

/// The `default_tags` of `aws` providers in the resource's module directory and its root module.
fn default_tags<'a>(cx: &'a Context, t: &Target) -> Vec<Defaults<'a>> {
    let dir = &cx.index.resource(t.resource).dir;
    let providers = cx.ws.top_blocks().filter(|(f, b)| {
        let d = cx.ws.file(*f).dir();
        (d == dir || d == t.root)
            && b.ident.value().as_str() == "provider"
            && b.labels.first().map(|l| l.as_str()) == Some("aws")
    });
    let mut out = Vec::new();
    for (file, provider) in providers {
        for nested in literal::nested_blocks(&provider.body, "default_tags") {
            // Whether a dynamic `default_tags` exists at all depends on its `for_each`.
            let tags = if nested.dynamic {
                Tags::Other(NotLiteral {
                    kind: "a dynamic block".into(),
                    text: "dynamic \"default_tags\"".into(),
                    span: None,
                })
            } else {
                tags_of(&nested.block.body)
            };
            let at = cx.at(file, nested.block.span().map_or(0, |s| s.start));
            out.push(Defaults { tags, at });
        }
    }
    out
}

/// The verdict on one required tag.
enum Status {
    Ok,
    Missing,
    /// Present with a value that is not allowed; `span` is set when the value is in the resource's
    /// own literal map (so it can be replaced there).
    Disallowed {
        value: String,
        span: Option<Range<usize>>,
    },
    Unknown(Advice),
}

fn status(cx: &Context, t: &Target, own: &Tags, defaults: &[Defaults], r: &Required) -> Status {
    let wanted = format!("a map with `{}`{}", r.key, allowed_text(r));
    let own_advice = |nl: NotLiteral| Status::Unknown(not_literal_advice(cx, t, "tags", &nl, &wanted));
    match lookup(own, &r.key) {
        Found::Value(v, span) => judge(r, v, span).unwrap_or_else(own_advice),
        Found::Absent => from_defaults(defaults, r, &wanted),
        // A resource map the bot cannot read may still override a default value.
        Found::Unknown(nl) => match from_defaults(defaults, r, &wanted) {
            Status::Ok if r.allowed.is_empty() => Status::Ok,
            _ => own_advice(nl),
        },
    }
}

/// The verdict on a present tag value; `Err` when the value is not literal and it matters.
fn judge(r: &Required, value: Result<String, NotLiteral>, span: Option<Range<usize>>) -> Result<Status, NotLiteral> {
    match value {
        Ok(v) if r.allows(&v) => Ok(Status::Ok),
        Ok(value) => Ok(Status::Disallowed { value, span }),
        Err(_) if r.allowed.is_empty() => Ok(Status::Ok),
        Err(nl) => Err(nl),
    }
}

fn from_defaults(defaults: &[Defaults], r: &Required, wanted: &str) -> Status {
    for d in defaults {
        let advice = |nl: NotLiteral| {
            Status::Unknown(Advice::new(
                format!(
                    "`default_tags` at {} is {}, not a literal: the bot cannot tell whether it sets `{}`",
                    d.at, nl.kind, r.key
                ),
                [format!(
                    "Make the provider's `default_tags` at {} (`{}`) evaluate to {wanted}, or add the tag to the resource's `tags`.",
                    d.at, nl.text
                )],
            ))
        };
        match lookup(&d.tags, &r.key) {
            Found::Absent => continue,
            Found::Unknown(nl) => return advice(nl),
            Found::Value(v, _) => return judge(r, v, None).unwrap_or_else(advice),
        }
    }
    Status::Missing
}

fn allowed_text(r: &Required) -> String {
    match r.allowed.as_slice() {
        [] => String::new(),
        list => format!(" set to one of {}", list.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")),
    }
}

fn statuses<'r>(cx: &Context, t: &Target, req: &'r [Required]) -> Vec<(&'r Required, Status)> {
    let own = tags_of(&cx.block(t.resource).body);
    let defaults = default_tags(cx, t);
    req.iter().map(|r| (r, status(cx, t, &own, &defaults, r))).collect()
}

fn params_advice() -> Advice {
    Advice::new(
        "required-tags needs the tag keys it checks, and no `tag1Key`..`tag6Key` parameter was given",
        ["Pass the rule's InputParameters as configured in AWS Config, e.g. `--param tag1Key=CostCenter --param tag1Value=eng,ops` (up to `tag6Key` / `tag6Value`).".to_owned()],
    )
}

impl Rule for RequiredTags {
    fn meta(&self) -> &'static RuleMeta {
        &TAGS
    }

    fn scans(&self, rtype: &str, params: &Params) -> bool {
        TAGS.terraform_types.contains(&rtype) && params.get("tag1Key").is_some()
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let req = required(cx.params);
        if req.is_empty() {
            return Check::Undecidable(params_advice());
        }
        let mut problems = Vec::new();
        for (r, s) in statuses(cx, t, &req) {
            match s {
                Status::Ok => {}
                Status::Missing => problems.push(format!("tag `{}` is missing", r.key)),
                Status::Disallowed { value, .. } => {
                    problems.push(format!("tag `{}` is `{value}`, not one of {}", r.key, r.allowed.join(", ")))
                }
                Status::Unknown(a) => return Check::Undecidable(a),
            }
        }
        if problems.is_empty() { Check::Compliant } else { Check::Violation(problems.join("; ")) }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let req = required(cx.params);
        if req.is_empty() {
            return Fix::Advice(params_advice());
        }
        let (mut adds, mut replaces, mut asks) = (Vec::new(), Vec::new(), Vec::new());
        for (r, s) in statuses(cx, t, &req) {
            let Some(v) = r.value_to_write().map(str::to_owned) else {
                if !matches!(s, Status::Ok) {
                    asks.push(ask(cx, t, r));
                }
                continue;
            };
            match s {
                Status::Ok => {}
                Status::Unknown(a) => return Fix::Advice(a),
                Status::Missing | Status::Disallowed { span: None, .. } => adds.push((r.key.clone(), v)),
                Status::Disallowed { span: Some(span), .. } => replaces.push((span, r.key.clone(), v)),
            }
        }
        if !asks.is_empty() {
            return Fix::Advice(Advice::new("a required tag allows several values", asks));
        }
        self.edits(cx, t, adds, replaces)
    }
}

/// The step for a tag the bot cannot set because several values are allowed.
fn ask(cx: &Context, t: &Target, r: &Required) -> String {
    format!(
        "Set the tag `{}` of `{}` ({}) to one of {}: the bot cannot choose between them.",
        r.key,
        cx.index.resource(t.resource).local_address(),
        super::where_is(cx, t.resource),
        r.allowed.join(", ")
    )
}

impl RequiredTags {
    fn edits(
        &self,
        cx: &Context,
        t: &Target,
        adds: Vec<(String, String)>,
        replaces: Vec<(Range<usize>, String, String)>,
    ) -> Fix {
        let (file, block) = (cx.file_of(t.resource), cx.block(t.resource));
        let mut changes = Vec::new();
        for (span, key, value) in replaces {
            let note = format!("Set the tag `{key}` to `{value}`, its only allowed value.");
            changes.push((edit::replace_span(file, Some(span), edit::quote(&value)), note));
        }
        if !adds.is_empty() {
            let edit = match tags_of(&block.body) {
                Tags::Absent => {
                    edit::insert_attribute(cx.ws, file, block, "tags", &new_object(cx.ws, file, block, &adds))
                }
                Tags::Literal(obj) => insert_entries(cx.ws, file, obj, &adds),
                Tags::Other(nl) => {
                    return Fix::Advice(not_literal_advice(cx, t, "tags", &nl, "a map with the required tags"));
                }
            };
            let list = adds.iter().map(|(k, v)| format!("`{k} = \"{v}\"`")).collect::<Vec<_>>().join(", ");
            let hint = if adds.iter().any(|(_, v)| v == PLACEHOLDER) {
                " (`unassigned` is a placeholder for the owner to replace)"
            } else {
                ""
            };
            changes.push((edit, format!("Add the tags {list}{hint}.")));
        }
        super::common::fix_of(changes)
    }
}

/// An object key as HCL source: bare when it is a plain identifier, quoted otherwise.
fn key_source(key: &str, quoted: bool) -> String {
    let reserved = ["true", "false", "null", "for", "in", "if"];
    if !quoted && hcl_edit::Ident::try_new(key).is_ok() && !reserved.contains(&key) {
        key.to_owned()
    } else {
        edit::quote(key)
    }
}

/// `key = "value"` lines with their `=` aligned at `col` characters from the line start (after
/// `indent`), or with one space when a key is too long for it.
fn entry_lines(entries: &[(String, String)], style: &Style, indent: &str, col: usize) -> Vec<String> {
    entries
        .iter()
        .map(|(k, v)| {
            let key = key_source(k, style.quoted);
            let pad = if style.assign == ':' { 0 } else { col.saturating_sub(indent.len() + key.len()).max(1) };
            format!("{indent}{key}{}{} {}{}", " ".repeat(pad), style.assign, edit::quote(v), style.comma)
        })
        .collect()
}

/// How an object writes its entries.
struct Style {
    quoted: bool,
    assign: char,
    comma: &'static str,
}

/// A multi-line object value for a new `tags` argument of `block`. For a one-line block,
/// `insert_attribute` re-indents the value itself, so it is given with two-space indentation.
fn new_object(ws: &Workspace, file: FileId, block: &Block, entries: &[(String, String)]) -> String {
    let text = &ws.file(file).text;
    let style = Style { quoted: false, assign: '=', comma: "" };
    let width = entries.iter().map(|(k, _)| key_source(k, false).len()).max().unwrap_or(0);
    let lines = entry_lines(entries, &style, "  ", 2 + width + 1);
    let snippet = format!("{}\n}}", lines.join("\n"));
    let span = block.span().unwrap_or_default();
    if !text.get(span).is_some_and(|s| s.trim_end().contains('\n')) {
        return format!("{{\n{snippet}");
    }
    let indent = indent_at(text, block.span().map_or(0, |s| s.start));
    let unit = block
        .body
        .attributes()
        .find_map(|a| a.span())
        .map(|s| indent_at(text, s.start))
        .and_then(|i| i.strip_prefix(indent.as_str()).map(str::to_owned))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "  ".to_owned());
    format!("{{\n{}", edit::reindent(&snippet, &format!("{indent}{unit}"), &unit).trim_end_matches('\n'))
}

fn indent_at(text: &str, offset: usize) -> String {
    let start = edit::line_start(text, offset);
    text[start..].chars().take_while(|c| *c == ' ' || *c == '\t').collect()
}

/// An entry of an object as positioned in its file.
struct Item {
    key: Range<usize>,
    value: Range<usize>,
    /// Column of the assignment operator.
    col: usize,
}

fn items(text: &str, obj: &Object) -> Result<Vec<Item>, EditError> {
    obj.iter()
        .map(|(k, v)| {
            let key = k.span().ok_or(EditError::NoSpan("an object key"))?;
            let value = v.expr().span().ok_or(EditError::NoSpan("an object value"))?;
            let between = text.get(key.end..value.start).unwrap_or("");
            let op = between.find(['=', ':']).map_or(key.end, |o| key.end + o);
            Ok(Item { col: op - edit::line_start(text, op), key, value })
        })
        .collect()
}

/// Add `key = "value"` entries at the end of a literal object, in the object's own style: on new
/// lines before its closing brace, indented and `=`-aligned like the entries above, or after the
/// last entry of a one-line object (`{ Name = "x", Team = "y" }`).
fn insert_entries(ws: &Workspace, file: FileId, obj: &Object, entries: &[(String, String)]) -> Result<Edit, EditError> {
    let text = &ws.file(file).text;
    let span = obj.span().ok_or(EditError::NoSpan("an object"))?;
    let close = span.end.saturating_sub(1);
    if text.as_bytes().get(close) != Some(&b'}') {
        return Err(EditError::NoSpan("`}` of an object"));
    }
    let items = items(text, obj)?;
    let last = obj.iter().last().map(|(k, v)| (k, v.assignment(), v.terminator()));
    let style = Style {
        quoted: last.is_some_and(|(k, ..)| !k.is_ident()),
        assign: if last.is_some_and(|(_, a, _)| a == ObjectValueAssignment::Colon) { ':' } else { '=' },
        comma: if last.is_some_and(|(.., t)| t == ObjectValueTerminator::Comma) { "," } else { "" },
    };
    if text[span.clone()].contains('\n') {
        Ok(multi_line(text, file, span, &items, &style, entries))
    } else {
        Ok(one_line(text, file, span, items.last(), &style, entries))
    }
}

fn multi_line(
    text: &str,
    file: FileId,
    span: Range<usize>,
    items: &[Item],
    style: &Style,
    entries: &[(String, String)],
) -> Edit {
    let close = span.end - 1;
    let outer = indent_at(text, span.start);
    let indent = match items.last() {
        Some(i) if edit::line_start(text, i.key.start) > span.start => indent_at(text, i.key.start),
        _ => format!("{outer}  "),
    };
    let aligned = items.windows(2).all(|w| w[0].col == w[1].col);
    let col = items.last().filter(|_| aligned).map_or(0, |i| i.col);
    let mut lines = entry_lines(entries, style, &indent, col).join("\n");
    lines.push('\n');
    let ls = edit::line_start(text, close);
    if text[ls..close].trim().is_empty() {
        return Edit { file, range: ls..ls, text: lines };
    }
    // The closing brace follows the last entry on its line: put it on a line of its own.
    let start = close - (text[..close].len() - text[..close].trim_end().len());
    Edit { file, range: start..close, text: format!("\n{lines}{outer}") }
}

fn one_line(
    text: &str,
    file: FileId,
    span: Range<usize>,
    last: Option<&Item>,
    style: &Style,
    entries: &[(String, String)],
) -> Edit {
    let joined = entry_lines(entries, style, "", 0).into_iter().map(|l| l.trim_end_matches(',').to_owned());
    let joined = joined.collect::<Vec<_>>().join(", ");
    let Some(last) = last else {
        return Edit { file, range: span, text: format!("{{ {joined} }}") };
    };
    let after = text.get(last.value.end..span.end - 1).unwrap_or("");
    match after.find(',') {
        Some(c) if after[..c].trim().is_empty() => {
            let pos = last.value.end + c + 1;
            Edit { file, range: pos..pos, text: format!(" {joined},") }
        }
        _ => Edit { file, range: last.value.end..last.value.end, text: format!(", {joined}") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::run;
    use crate::policy::Policy;

    const BUCKET: &str = r#"# Logs bucket
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"

  tags = {
    Name        = "logs"
    Environment = "prod" # billing
  }
}
"#;

    const ADDR: &str = "aws_s3_bucket.logs";

    /// Run with `params`, expect a fix that makes the block compliant, return main.tf.
    fn fixed_with(files: &[(&str, &str)], params: &[(&str, &str)]) -> String {
        let r = run(&RequiredTags, files, ADDR, params, &Policy::default());
        assert!(matches!(r.before, Check::Violation(_)), "expected a violation: {r:#?}");
        assert_eq!(r.after, Some(Check::Compliant), "{r:#?}");
        r.text("main.tf").to_owned()
    }

    #[test]
    fn adds_a_key_to_an_aligned_multi_line_object() {
        let out = fixed_with(&[("main.tf", BUCKET)], &[("tag1Key", "Team"), ("tag2Key", "Environment")]);
        assert_eq!(out, BUCKET.replace("# billing\n", "# billing\n    Team        = \"unassigned\"\n"));
    }

    #[test]
    fn a_longer_key_gets_one_space() {
        let out = fixed_with(&[("main.tf", BUCKET)], &[("tag1Key", "CostCenter42")]);
        assert_eq!(out, BUCKET.replace("# billing\n", "# billing\n    CostCenter42 = \"unassigned\"\n"));
    }

    #[test]
    fn adds_keys_to_a_one_line_object() {
        let src = BUCKET
            .replace("{\n    Name        = \"logs\"\n    Environment = \"prod\" # billing\n  }", "{ Name = \"x\" }");
        let out = fixed_with(&[("main.tf", &src)], &[("tag1Key", "CostCenter"), ("tag2Key", "Owner")]);
        assert_eq!(
            out,
            src.replace("{ Name = \"x\" }", "{ Name = \"x\", CostCenter = \"unassigned\", Owner = \"unassigned\" }")
        );
        let trailing = src.replace("\"x\" }", "\"x\", }");
        let out = fixed_with(&[("main.tf", &trailing)], &[("tag1Key", "CostCenter")]);
        assert_eq!(out, trailing.replace("\"x\", }", "\"x\", CostCenter = \"unassigned\", }"));
        let empty = src.replace("{ Name = \"x\" }", "{}");
        let out = fixed_with(&[("main.tf", &empty)], &[("tag1Key", "CostCenter")]);
        assert_eq!(out, empty.replace("{}", "{ CostCenter = \"unassigned\" }"));
    }

    #[test]
    fn inserts_a_tags_argument() {
        let src = "resource \"aws_s3_bucket\" \"logs\" {\n  bucket        = \"acme-logs\" # shared\n  force_destroy = false\n}\n";
        let out = fixed_with(
            &[("main.tf", src)],
            &[("tag1Key", "CostCenter"), ("tag2Key", "Owner"), ("tag2Value", "platform")],
        );
        assert_eq!(
            out,
            src.replace(
                "  force_destroy = false\n",
                "  force_destroy = false\n  tags          = {\n    CostCenter = \"unassigned\"\n    Owner      = \"platform\"\n  }\n"
            )
        );
    }

    #[test]
    fn inserts_a_tags_argument_in_a_one_line_block() {
        let src = "resource \"aws_s3_bucket\" \"logs\" { bucket = \"acme-logs\" }\n";
        let out = fixed_with(&[("main.tf", src)], &[("tag1Key", "Owner")]);
        assert_eq!(
            out,
            "resource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"acme-logs\"\n  tags = {\n    Owner = \"unassigned\"\n  }\n}\n"
        );
    }

    #[test]
    fn default_tags_count_as_present() {
        let provider = "provider \"aws\" {\n  region = \"eu-west-1\"\n\n  default_tags {\n    tags = {\n      Owner = \"platform\"\n    }\n  }\n}\n";
        let files = [("main.tf", BUCKET), ("providers.tf", provider)];
        let r = run(
            &RequiredTags,
            &files,
            ADDR,
            &[("tag1Key", "Owner"), ("tag1Value", "platform,data")],
            &Policy::default(),
        );
        assert_eq!(r.before, Check::Compliant);
        let r = run(&RequiredTags, &files, ADDR, &[("tag1Key", "Owner"), ("tag1Value", "data")], &Policy::default());
        assert_eq!(r.after, Some(Check::Compliant), "{r:#?}");
        assert_eq!(r.text("main.tf"), BUCKET.replace("# billing\n", "# billing\n    Owner       = \"data\"\n"));
    }

    #[test]
    fn non_literal_default_tags_are_advice_naming_the_provider() {
        let provider = "provider \"aws\" {\n  default_tags {\n    tags = var.default_tags\n  }\n}\n";
        let files = [("main.tf", BUCKET), ("providers.tf", provider)];
        let r = run(&RequiredTags, &files, ADDR, &[("tag1Key", "Owner")], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("`default_tags` at providers.tf:2 is an input variable"), "{advice:?}");
        let r = run(&RequiredTags, &files, ADDR, &[("tag1Key", "Name")], &Policy::default());
        assert_eq!(r.before, Check::Compliant, "a key of the resource's own map needs no default");
    }

    #[test]
    fn a_single_allowed_value_replaces_a_wrong_one() {
        let out = fixed_with(&[("main.tf", BUCKET)], &[("tag1Key", "Environment"), ("tag1Value", "production")]);
        assert_eq!(out, BUCKET.replace("\"prod\" # billing", "\"production\" # billing"));
    }

    #[test]
    fn several_allowed_values_are_advice() {
        let params = [("tag1Key", "Environment"), ("tag1Value", "production, staging")];
        let r = run(&RequiredTags, &[("main.tf", BUCKET)], ADDR, &params, &Policy::default());
        assert!(matches!(r.before, Check::Violation(_)), "{r:?}");
        assert!(r.advice().steps[0].contains("one of production, staging"), "{r:?}");
        assert!(r.advice().steps[0].contains("main.tf:2"), "{r:?}");
    }

    #[test]
    fn merge_is_advice_naming_it() {
        let src = "resource \"aws_s3_bucket\" \"logs\" {\n  bucket = \"acme-logs\"\n  tags   = merge(local.common, { Name = \"logs\" })\n}\n";
        let r = run(&RequiredTags, &[("main.tf", src)], ADDR, &[("tag1Key", "Owner")], &Policy::default());
        let advice = r.advice();
        assert!(advice.reason.contains("a function call (merge)"), "{advice:?}");
        assert!(advice.steps[0].contains("main.tf:3"), "{advice:?}");
    }

    #[test]
    fn present_keys_are_compliant_and_no_params_is_undecidable() {
        let r = run(&RequiredTags, &[("main.tf", BUCKET)], ADDR, &[("tag1Key", "Name")], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
        let r = run(&RequiredTags, &[("main.tf", BUCKET)], ADDR, &[], &Policy::default());
        assert!(r.advice().steps[0].contains("--param tag1Key="), "{r:?}");
        assert!(!RequiredTags.scans("aws_s3_bucket", &Params::default()));
        let params = Params::new([("tag1Key".to_owned(), "Owner".to_owned())]);
        assert!(RequiredTags.scans("aws_s3_bucket", &params));
        assert!(!RequiredTags.scans("aws_iam_role", &params));
    }

    #[test]
    fn insert_entries_keeps_the_object_style() {
        let src = "locals {\n  x = {\n    \"a\": \"1\",\n    \"bb\": \"2\",\n  }\n  y = {\n    a = 1 }\n}\n";
        let ws = Workspace::from_sources([("main.tf".to_owned(), src.to_owned())]);
        let file = FileId(0);
        let Some(hcl_edit::structure::Structure::Block(locals)) = ws.file(file).body.iter().next() else { panic!() };
        let obj = |k: &str| match &locals.body.get_attribute(k).expect("attr").value {
            Expression::Object(o) => o,
            _ => panic!("not an object"),
        };
        let entries = [("c".to_owned(), "3".to_owned())];
        let e1 = insert_entries(&ws, file, obj("x"), &entries).expect("edit");
        let e2 = insert_entries(&ws, file, obj("y"), &entries).expect("edit");
        let out = edit::apply(&ws, &[e1, e2]).expect("apply");
        assert_eq!(
            out[&file],
            "locals {\n  x = {\n    \"a\": \"1\",\n    \"bb\": \"2\",\n    \"c\": \"3\",\n  }\n  y = {\n    a = 1\n    c = \"3\"\n  }\n}\n"
        );
    }
}
