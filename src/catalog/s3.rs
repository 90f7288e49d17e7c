//! S3 buckets: default encryption, versioning, public access, ACLs and access logging (R-S1..R-S5).
//!
//! Most S3 settings can be written in two places: a block inside `aws_s3_bucket` (provider v3;
//! deprecated but accepted from 4.9, read-only on 4.0–4.8) or a separate `aws_s3_bucket_*` resource
//! whose `bucket` refers to the bucket (v4+). Writing one feature both ways makes the provider fight
//! itself, so every rule here makes the same decision: edit the form the bucket already uses, and
//! only when there is none write the form the root's provider version calls for. New resources go
//! right after the bucket and repeat like it (`count` / `for_each`), so each bucket instance gets one.

use super::{Advice, Check, Context, Fix, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice, where_is};
use crate::terraform::edit::{self, Edit, EditError};
use crate::terraform::index::ResourceId;
use crate::terraform::literal::{self, NotLiteral};
use crate::terraform::provider::S3Style;
use crate::terraform::workspace::FileId;
use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};
use std::ops::Range;

pub static RULES: &[&dyn Rule] =
    &[&ServerSideEncryption, &Versioning, &PublicAccessBlock, &PublicRead, &PublicWrite, &Logging];

const CONFIG_TYPES: &[&str] = &["AWS::S3::Bucket"];
const BUCKET_TYPES: &[&str] = &["aws_s3_bucket"];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Edits with their PR notes, or what a human must do instead.
type Plan = Result<(Vec<Edit>, Vec<String>), Advice>;

/// Where a bucket's configuration of one feature is written.
enum Source<'a> {
    /// A block inside the `aws_s3_bucket` itself (v3 style).
    Inline(&'a Block),
    /// A separate `aws_s3_bucket_*` resource referring to the bucket (v4+ style).
    Split(ResourceId),
    Missing,
}

/// Find a feature's configuration: the bucket's own `inline` block first (if it is there, editing it
/// is the only way not to end up with both styles), else the first `split` companion.
fn locate<'a>(
    cx: &'a Context,
    t: &Target,
    inline: &'static str,
    split: &str,
    wanted: &str,
) -> Result<Source<'a>, Advice> {
    match nested(cx, t.resource, &cx.block(t.resource).body, inline, wanted)? {
        Some(b) => Ok(Source::Inline(b)),
        None => Ok(companion(cx, t, split).map_or(Source::Missing, Source::Split)),
    }
}

/// The first resource of `rtype` whose `bucket` refers to the target bucket.
fn companion(cx: &Context, t: &Target, rtype: &str) -> Option<ResourceId> {
    companions(cx, t, rtype).into_iter().next()
}

/// Resources of `rtype` whose `bucket` refers to the target bucket.
fn companions(cx: &Context, t: &Target, rtype: &str) -> Vec<ResourceId> {
    cx.index.companions(cx.ws, t.resource, rtype, "bucket")
}

/// A companion resource as a target, so advice about its values points into its own file.
fn owner_of(t: &Target, id: ResourceId) -> Target {
    Target { resource: id, root: t.root.clone() }
}

/// The first `ident` block of `body`; a `dynamic` one is advice, since its content is not literal.
fn nested<'b>(
    cx: &Context,
    owner: ResourceId,
    body: &'b Body,
    ident: &'static str,
    wanted: &str,
) -> Result<Option<&'b Block>, Advice> {
    match literal::nested_blocks(body, ident).next() {
        Some(nb) if nb.dynamic => Err(dynamic_advice(cx, owner, nb.block, ident, wanted)),
        Some(nb) => Ok(Some(nb.block)),
        None => Ok(None),
    }
}

fn dynamic_advice(cx: &Context, owner: ResourceId, b: &Block, ident: &str, wanted: &str) -> Advice {
    Advice::new(
        format!("`{ident}` is a dynamic block: its content depends on values the bot cannot evaluate"),
        [format!(
            "Make the `dynamic \"{ident}\"` block of `{}` at {} render {wanted}.",
            address(cx, owner),
            block_at(cx, owner, b)
        )],
    )
}

fn address(cx: &Context, id: ResourceId) -> String {
    cx.index.resource(id).local_address()
}

/// `file:line` of a block inside the resource `owner`.
fn block_at(cx: &Context, owner: ResourceId, b: &Block) -> String {
    b.span().map_or_else(|| where_is(cx, owner), |s| cx.at(cx.file_of(owner), s.start))
}

/// The bucket's literal name, when it has one.
fn bucket_name(cx: &Context, t: &Target) -> Option<String> {
    literal::attr_str(&cx.block(t.resource).body, "bucket").and_then(Result::ok)
}

/// The bucket's name for messages and prefixes: its literal name, else its resource name.
fn bucket_label(cx: &Context, t: &Target) -> String {
    bucket_name(cx, t).unwrap_or_else(|| cx.index.resource(t.resource).name.clone())
}

/// The S3 style to write when the bucket configures a feature nowhere yet.
fn style(cx: &Context, t: &Target) -> S3Style {
    cx.provider(t).0.s3_style()
}

/// Advice when the provider (4.0–4.8) cannot change inline S3 settings at all.
fn read_only_advice(cx: &Context, t: &Target, inline: &str, split: &str) -> Option<Advice> {
    let v = cx.provider(t).0;
    v.inline_s3_is_read_only().then(|| {
        Advice::new(
            format!("AWS provider {}.{} treats the inline `{inline}` block as read-only: it cannot be changed in place", v.major, v.minor),
            [format!(
                "Move `{inline}` out of `{}` at {} into a new `{split}` resource (or upgrade the provider to 4.9 or later), then re-run the fix.",
                address(cx, t.resource),
                where_is(cx, t.resource)
            )],
        )
    })
}

fn edit_failed(e: EditError) -> Advice {
    Advice::new(format!("the bot could not build a safe edit: {e}"), [])
}

/// Turn a plan into a [`Fix`], refusing edits that cannot be applied together.
fn finish(cx: &Context, plan: Plan) -> Fix {
    match plan {
        Err(a) => Fix::Advice(a),
        Ok((edits, notes)) => match edit::apply(cx.ws, &edits) {
            Ok(_) => Fix::Edits { edits, notes },
            Err(e) => Fix::Advice(edit_failed(e)),
        },
    }
}

/// Compose two verdicts: the second only matters when the first is compliant.
fn then(first: Check, next: impl FnOnce() -> Check) -> Check {
    match first {
        Check::Compliant => next(),
        other => other,
    }
}

/// Judge an attribute that must be the literal `true`.
fn expect_true(cx: &Context, owner: &Target, body: &Body, key: &str, what: &str) -> Check {
    match literal::attr_bool(body, key) {
        Some(Ok(true)) => Check::Compliant,
        Some(Ok(false)) => Check::Violation(format!("`{what}` is `false`")),
        None => Check::Violation(format!("`{what}` is not set")),
        Some(Err(nl)) => Check::Undecidable(not_literal_advice(cx, owner, what, &nl, "`true`")),
    }
}

/// Judge an attribute that must be the literal string `want`.
fn expect_str(cx: &Context, owner: &Target, body: &Body, key: &str, what: &str, want: &str) -> Check {
    match literal::attr_str(body, key) {
        Some(Ok(v)) if v == want => Check::Compliant,
        Some(Ok(v)) => Check::Violation(format!("`{what}` is `{v}`, not `{want}`")),
        None => Check::Violation(format!("`{what}` is not set")),
        Some(Err(nl)) => {
            Check::Undecidable(not_literal_advice(cx, owner, what, &nl, &format!("`{}`", edit::quote(want))))
        }
    }
}

/// Set `key = value` in `block` of `owner`: replace a literal, add a missing attribute, and refuse to
/// touch anything that is not a literal.
fn set(cx: &Context, owner: &Target, block: &Block, key: &str, value: &str, what: &str) -> Result<Edit, Advice> {
    let file = cx.file_of(owner.resource);
    match block.body.get_attribute(key) {
        Some(a) => match literal::eval(&a.value) {
            Ok(_) => edit::replace_span(file, a.value.span(), value).map_err(edit_failed),
            Err(nl) => Err(not_literal_advice(cx, owner, what, &nl, &format!("`{value}`"))),
        },
        None => edit::insert_attribute(cx.ws, file, block, key, value).map_err(edit_failed),
    }
}

/// Add several attributes to a block. A one-line block can only grow by being rewritten whole, so
/// then every attribute goes into that single rewrite.
fn insert_attributes(cx: &Context, file: FileId, block: &Block, attrs: &[(&str, String)]) -> Result<Vec<Edit>, Advice> {
    let mut edits = Vec::new();
    for (i, (key, value)) in attrs.iter().enumerate() {
        let mut e = edit::insert_attribute(cx.ws, file, block, key, value).map_err(edit_failed)?;
        let rewrite = !e.range.is_empty();
        if rewrite {
            append_lines(&mut e, &attrs[i + 1..]);
        }
        edits.push(e);
        if rewrite {
            break;
        }
    }
    Ok(edits)
}

/// Append `key = value` lines to a rewritten one-line block, before its closing brace, indented like
/// the line above.
fn append_lines(e: &mut Edit, attrs: &[(&str, String)]) {
    let Some(last_nl) = e.text.rfind('\n') else {
        return;
    };
    let prev = e.text[..last_nl].rfind('\n').map_or(0, |p| p + 1);
    let indent: String = e.text[prev..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
    let lines: String = attrs.iter().map(|(k, v)| format!("{indent}{k} = {v}\n")).collect();
    e.text.insert_str(last_nl + 1, &lines);
}

/// Indent a two-space snippet by one level (blank lines stay blank).
fn indent(s: &str) -> String {
    s.lines().map(|l| if l.is_empty() { "\n".to_owned() } else { format!("  {l}\n") }).collect()
}

/// `key = value` lines with the `=` aligned, as `terraform fmt` writes them.
fn aligned(attrs: &[(&str, String)]) -> String {
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    attrs.iter().map(|(k, v)| format!("{k:<width$} = {v}\n")).collect()
}

/// Insert a new `rtype` resource right after the bucket, repeated like it, holding
/// `bucket = <reference>`, then `attrs` (aligned with `bucket`) and `blocks` (a two-space snippet).
/// Returns the edit and the new resource's address.
fn add_sibling(
    cx: &Context,
    t: &Target,
    rtype: &str,
    attrs: &[(&str, String)],
    blocks: &str,
) -> Result<(Edit, String), Advice> {
    let s = super::sibling(cx, t.resource, rtype, "id");
    let mut all = vec![("bucket", s.reference.clone())];
    all.extend(attrs.iter().cloned());
    let mut body = indent(&s.header) + &indent(&aligned(&all));
    if !blocks.is_empty() {
        body.push('\n');
        body.push_str(&indent(blocks));
    }
    let snippet = format!("resource \"{rtype}\" \"{}\" {{\n{body}}}\n", s.name);
    let e = edit::insert_after(cx.ws, cx.file_of(t.resource), cx.block(t.resource), &snippet).map_err(edit_failed)?;
    Ok((e, format!("{rtype}.{}", s.name)))
}

/// Insert a nested block (two-space snippet) at the end of the bucket's body.
fn add_inline(cx: &Context, t: &Target, snippet: &str) -> Result<Edit, Advice> {
    edit::insert_nested_block(cx.ws, cx.file_of(t.resource), cx.block(t.resource), snippet).map_err(edit_failed)
}

/// Create a feature's configuration in the style the provider calls for: `inline` inside the bucket
/// (v3), or a `split` sibling resource with `attrs` and `blocks` (v4+).
fn create(
    cx: &Context,
    t: &Target,
    inline: &str,
    split: &str,
    attrs: &[(&str, String)],
    blocks: &str,
    what: &str,
) -> Plan {
    let bucket = address(cx, t.resource);
    match style(cx, t) {
        S3Style::Inline => {
            let mut content = aligned(attrs);
            if !attrs.is_empty() && !blocks.is_empty() {
                content.push('\n');
            }
            content.push_str(blocks);
            let e = add_inline(cx, t, &format!("{inline} {{\n{}}}\n", indent(&content)))?;
            Ok((vec![e], vec![format!("Added an inline `{inline}` block to `{bucket}` ({what}).")]))
        }
        S3Style::Split => {
            let (e, new) = add_sibling(cx, t, split, attrs, blocks)?;
            Ok((vec![e], vec![format!("Added `{new}` after `{bucket}` ({what}).")]))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Default encryption (R-S1)
// ---------------------------------------------------------------------------------------------

/// S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED (and S3_DEFAULT_ENCRYPTION_KMS through `kmsKeyArns`).
pub struct ServerSideEncryption;

static SSE: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    name: "s3-bucket-server-side-encryption-enabled",
    aliases: &["s3-default-encryption-kms"],
    security_controls: &["S3.4"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable default encryption",
    explanation: "Default encryption makes S3 encrypt every new object at rest (SSE-KMS with an S3 Bucket Key, or SSE-S3 when the policy asks for AES256). Existing objects are not rewritten and readers in the account need nothing new; readers in other accounts need permission to use a customer-managed key.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-server-side-encryption-enabled.html",
    checkov: &["CKV_AWS_19", "CKV_AWS_145"],
    params: &["sseAlgorithm", "kmsKeyArns"],
};

const SSE_INLINE: &str = "server_side_encryption_configuration";
const SSE_SPLIT: &str = "aws_s3_bucket_server_side_encryption_configuration";
const SSE_DEFAULT: &str = "apply_server_side_encryption_by_default";
const SSE_WANTED: &str = "a `rule { apply_server_side_encryption_by_default { sse_algorithm = … } }`";

impl Rule for ServerSideEncryption {
    fn meta(&self) -> &'static RuleMeta {
        &SSE
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let keys = cx.params.list("kmsKeyArns");
        let verdict = match locate(cx, t, SSE_INLINE, SSE_SPLIT, SSE_WANTED) {
            Err(a) => Err(a),
            Ok(Source::Inline(b)) => sse_verdict(cx, t, b, &format!("{SSE_INLINE}.rule"), &keys),
            Ok(Source::Split(id)) => sse_verdict(cx, &owner_of(t, id), cx.block(id), "rule", &keys),
            Ok(Source::Missing) => Ok(Check::Violation("the bucket has no default encryption configuration".into())),
        };
        verdict.unwrap_or_else(Check::Undecidable)
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_sse(cx, t))
    }
}

/// The encryption a fix writes.
struct SseWant {
    algorithm: &'static str,
    /// `kms_master_key_id` as HCL source text.
    key: Option<String>,
}

impl SseWant {
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("sse_algorithm", edit::quote(self.algorithm))];
        if let Some(k) = &self.key {
            v.push(("kms_master_key_id", k.clone()));
        }
        v
    }

    fn describe(&self) -> String {
        match (&self.key, self.algorithm) {
            (_, "AES256") => "SSE-S3 (`AES256`)".to_owned(),
            (Some(k), _) => format!("SSE-KMS with key {k} and an S3 Bucket Key"),
            (None, _) => "SSE-KMS with the AWS-managed `aws/s3` key and an S3 Bucket Key".to_owned(),
        }
    }
}

/// Choose the encryption: `kmsKeyArns` forces KMS with its first key; else `sseAlgorithm`, the
/// policy, or SSE-KMS by default.
fn sse_want(cx: &Context) -> Result<SseWant, Advice> {
    if let Some(first) = cx.params.list("kmsKeyArns").first() {
        return Ok(SseWant { algorithm: "aws:kms", key: Some(edit::quote(first)) });
    }
    let algorithm = match cx.params.get("sseAlgorithm").or(cx.policy.s3_sse_algorithm.as_deref()) {
        None => "aws:kms",
        Some(a) if a.eq_ignore_ascii_case("aws:kms") => "aws:kms",
        Some(a) if a.eq_ignore_ascii_case("AES256") => "AES256",
        Some(other) => {
            return Err(Advice::new(
                format!("the requested algorithm `{other}` is not one the bot writes"),
                ["Pass `--param sseAlgorithm=aws:kms` or `--param sseAlgorithm=AES256`.".to_owned()],
            ));
        }
    };
    let key = if algorithm == "aws:kms" { cx.policy.s3_kms_key_id.as_deref().map(key_expr) } else { None };
    Ok(SseWant { algorithm, key })
}

/// A KMS key id as HCL: a Terraform reference written as text (`aws_kms_key.s3.arn`) stays a
/// reference; ARNs, aliases and key ids become quoted strings.
fn key_expr(key: &str) -> String {
    let k = key.trim();
    let plain = k.starts_with("arn:") || k.starts_with("alias/") || !k.contains('.');
    match hcl_edit::parser::parse_expr(k) {
        Ok(Expression::Traversal(_)) if !plain => k.to_owned(),
        _ => edit::quote(k),
    }
}

/// `apply_server_side_encryption_by_default { … }` as a two-space snippet.
fn sse_default_snippet(want: &SseWant) -> String {
    format!("{SSE_DEFAULT} {{\n{}}}\n", indent(&aligned(&want.attrs())))
}

/// `rule { … }` as a two-space snippet, with a Bucket Key for KMS.
fn sse_rule_snippet(want: &SseWant) -> String {
    let mut s = format!("rule {{\n{}", indent(&sse_default_snippet(want)));
    if want.algorithm == "aws:kms" {
        s.push_str("  bucket_key_enabled = true\n");
    }
    s.push_str("}\n");
    s
}

/// Judge one SSE configuration (`container` is the inline block or the split resource).
fn sse_verdict(cx: &Context, owner: &Target, container: &Block, path: &str, keys: &[String]) -> Result<Check, Advice> {
    let Some(rule) = nested(cx, owner.resource, &container.body, "rule", SSE_WANTED)? else {
        return Ok(Check::Violation(format!("`{path}` is missing")));
    };
    let Some(by_default) = nested(cx, owner.resource, &rule.body, SSE_DEFAULT, SSE_WANTED)? else {
        return Ok(Check::Violation(format!("`{path}.{SSE_DEFAULT}` is missing")));
    };
    let what = format!("{path}.{SSE_DEFAULT}.sse_algorithm");
    let algorithm = match literal::attr_str(&by_default.body, "sse_algorithm") {
        None => return Ok(Check::Violation(format!("`{what}` is not set"))),
        // Every value the provider accepts encrypts; only the KMS variant must know which.
        Some(Err(_)) if keys.is_empty() => return Ok(Check::Compliant),
        Some(Err(nl)) => return Err(not_literal_advice(cx, owner, &what, &nl, "`\"aws:kms\"`")),
        Some(Ok(a)) => a,
    };
    if algorithm.is_empty() {
        return Ok(Check::Violation(format!("`{what}` is empty")));
    }
    if keys.is_empty() {
        return Ok(Check::Compliant);
    }
    if !algorithm.starts_with("aws:kms") {
        return Ok(Check::Violation(format!("`{what}` is `{algorithm}`, not `aws:kms` (kmsKeyArns is set)")));
    }
    let key_what = format!("{path}.{SSE_DEFAULT}.kms_master_key_id");
    Ok(match literal::attr_str(&by_default.body, "kms_master_key_id") {
        None => {
            Check::Violation(format!("`{key_what}` is not set, but kmsKeyArns requires one of {}", keys.join(", ")))
        }
        Some(Err(nl)) => {
            return Err(not_literal_advice(cx, owner, &key_what, &nl, &format!("one of {}", keys.join(", "))));
        }
        Some(Ok(k)) if keys.contains(&k) => Check::Compliant,
        Some(Ok(k)) => Check::Violation(format!("`{key_what}` is `{k}`, not one of kmsKeyArns")),
    })
}

fn fix_sse(cx: &Context, t: &Target) -> Plan {
    let want = sse_want(cx)?;
    match locate(cx, t, SSE_INLINE, SSE_SPLIT, SSE_WANTED)? {
        Source::Inline(b) => {
            if let Some(a) = read_only_advice(cx, t, SSE_INLINE, SSE_SPLIT) {
                return Err(a);
            }
            let edits = repair_sse(cx, t, b, &want)?;
            Ok((
                edits,
                vec![format!(
                    "Completed the inline `{SSE_INLINE}` of `{}`: {}.",
                    address(cx, t.resource),
                    want.describe()
                )],
            ))
        }
        Source::Split(id) => {
            let edits = repair_sse(cx, &owner_of(t, id), cx.block(id), &want)?;
            Ok((edits, vec![format!("Completed `{}`: {}.", address(cx, id), want.describe())]))
        }
        Source::Missing => create(cx, t, SSE_INLINE, SSE_SPLIT, &[], &sse_rule_snippet(&want), &want.describe()),
    }
}

/// Add what an existing SSE configuration lacks, at the shallowest missing level.
fn repair_sse(cx: &Context, owner: &Target, container: &Block, want: &SseWant) -> Result<Vec<Edit>, Advice> {
    let file = cx.file_of(owner.resource);
    let Some(rule) = nested(cx, owner.resource, &container.body, "rule", SSE_WANTED)? else {
        return Ok(vec![
            edit::insert_nested_block(cx.ws, file, container, &sse_rule_snippet(want)).map_err(edit_failed)?,
        ]);
    };
    let Some(by_default) = nested(cx, owner.resource, &rule.body, SSE_DEFAULT, SSE_WANTED)? else {
        return Ok(vec![
            edit::insert_nested_block(cx.ws, file, rule, &sse_default_snippet(want)).map_err(edit_failed)?,
        ]);
    };
    let mut edits = Vec::new();
    let mut missing = Vec::new();
    for (key, value) in sse_changes(&by_default.body, want, &cx.params.list("kmsKeyArns")) {
        if by_default.body.get_attribute(key).is_some() {
            edits.push(set(cx, owner, by_default, key, &value, &format!("{SSE_DEFAULT}.{key}"))?);
        } else {
            missing.push((key, value));
        }
    }
    edits.extend(insert_attributes(cx, file, by_default, &missing)?);
    Ok(edits)
}

/// The attributes of `apply_server_side_encryption_by_default` that must change.
fn sse_changes(body: &Body, want: &SseWant, keys: &[String]) -> Vec<(&'static str, String)> {
    let algorithm_ok = match literal::attr_str(body, "sse_algorithm") {
        Some(Ok(a)) => !a.is_empty() && (keys.is_empty() || a.starts_with("aws:kms")),
        Some(Err(_)) => keys.is_empty(),
        None => false,
    };
    let key_ok = match literal::attr_str(body, "kms_master_key_id") {
        Some(Ok(k)) => keys.is_empty() || keys.contains(&k),
        Some(Err(_)) => keys.is_empty(),
        None => keys.is_empty() && (algorithm_ok || want.key.is_none()),
    };
    let mut changes = Vec::new();
    if !algorithm_ok {
        changes.push(("sse_algorithm", edit::quote(want.algorithm)));
    }
    if let (false, Some(k)) = (key_ok, &want.key) {
        changes.push(("kms_master_key_id", k.clone()));
    }
    changes
}

// ---------------------------------------------------------------------------------------------
// 2. Versioning (R-S2)
// ---------------------------------------------------------------------------------------------

/// S3_BUCKET_VERSIONING_ENABLED.
pub struct Versioning;

static VERSIONING: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_VERSIONING_ENABLED",
    name: "s3-bucket-versioning-enabled",
    aliases: &[],
    security_controls: &["S3.14"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable versioning",
    explanation: "Versioning keeps every overwritten or deleted object as an older version, so accidental deletes and overwrites can be undone. Old versions add storage cost (a lifecycle rule can expire them), and a versioned bucket can later be suspended but never made unversioned again.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-versioning-enabled.html",
    checkov: &["CKV_AWS_21"],
    params: &["isMfaDeleteEnabled"],
};

const VER_INLINE: &str = "versioning";
const VER_SPLIT: &str = "aws_s3_bucket_versioning";
const VER_CONF: &str = "versioning_configuration";
const VER_WANTED: &str = "versioning with status `Enabled`";

impl Rule for Versioning {
    fn meta(&self) -> &'static RuleMeta {
        &VERSIONING
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let mfa = mfa_required(cx);
        match locate(cx, t, VER_INLINE, VER_SPLIT, VER_WANTED) {
            Err(a) => Check::Undecidable(a),
            Ok(Source::Inline(b)) => then(expect_true(cx, t, &b.body, "enabled", "versioning.enabled"), || {
                if mfa { expect_true(cx, t, &b.body, "mfa_delete", "versioning.mfa_delete") } else { Check::Compliant }
            }),
            Ok(Source::Split(id)) => split_versioning_verdict(cx, &owner_of(t, id), mfa),
            Ok(Source::Missing) => Check::Violation("versioning is not enabled".into()),
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_versioning(cx, t))
    }
}

/// `isMfaDeleteEnabled = true`: the rule also wants MFA delete.
fn mfa_required(cx: &Context) -> bool {
    cx.params.get("isMfaDeleteEnabled").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn split_versioning_verdict(cx: &Context, owner: &Target, mfa: bool) -> Check {
    let conf = match nested(cx, owner.resource, &cx.block(owner.resource).body, VER_CONF, VER_WANTED) {
        Err(a) => return Check::Undecidable(a),
        Ok(None) => {
            return Check::Violation(format!("`{}` has no `{VER_CONF}` block", address(cx, owner.resource)));
        }
        Ok(Some(c)) => c,
    };
    then(expect_str(cx, owner, &conf.body, "status", "versioning_configuration.status", "Enabled"), || {
        if mfa {
            expect_str(cx, owner, &conf.body, "mfa_delete", "versioning_configuration.mfa_delete", "Enabled")
        } else {
            Check::Compliant
        }
    })
}

/// Whether the existing configuration already turns MFA delete on (as a literal).
fn mfa_enabled(cx: &Context, source: &Source) -> bool {
    match source {
        Source::Inline(b) => matches!(literal::attr_bool(&b.body, "mfa_delete"), Some(Ok(true))),
        Source::Split(id) => literal::nested_blocks(&cx.block(*id).body, VER_CONF)
            .next()
            .filter(|c| !c.dynamic)
            .is_some_and(|c| matches!(literal::attr_str(&c.block.body, "mfa_delete"), Some(Ok(s)) if s == "Enabled")),
        Source::Missing => false,
    }
}

fn fix_versioning(cx: &Context, t: &Target) -> Plan {
    let source = locate(cx, t, VER_INLINE, VER_SPLIT, VER_WANTED)?;
    if mfa_required(cx) && !mfa_enabled(cx, &source) {
        return Err(mfa_advice(cx, t, &source));
    }
    let bucket = address(cx, t.resource);
    match source {
        Source::Inline(b) => {
            if let Some(a) = read_only_advice(cx, t, VER_INLINE, VER_SPLIT) {
                return Err(a);
            }
            let e = set(cx, t, b, "enabled", "true", "versioning.enabled")?;
            Ok((vec![e], vec![format!("Set `versioning {{ enabled = true }}` on `{bucket}`.")]))
        }
        Source::Split(id) => {
            let owner = owner_of(t, id);
            let block = cx.block(id);
            let e = match nested(cx, id, &block.body, VER_CONF, VER_WANTED)? {
                Some(conf) => set(cx, &owner, conf, "status", "\"Enabled\"", "versioning_configuration.status")?,
                None => {
                    edit::insert_nested_block(cx.ws, cx.file_of(id), block, VER_CONF_SNIPPET).map_err(edit_failed)?
                }
            };
            Ok((vec![e], vec![format!("Set `status = \"Enabled\"` in `{}`.", address(cx, id))]))
        }
        Source::Missing => match style(cx, t) {
            S3Style::Inline => {
                let e = add_inline(cx, t, "versioning {\n  enabled = true\n}\n")?;
                Ok((vec![e], vec![format!("Added `versioning {{ enabled = true }}` to `{bucket}`.")]))
            }
            S3Style::Split => create(cx, t, VER_INLINE, VER_SPLIT, &[], VER_CONF_SNIPPET, "versioning `Enabled`"),
        },
    }
}

const VER_CONF_SNIPPET: &str = "versioning_configuration {\n  status = \"Enabled\"\n}\n";

fn mfa_advice(cx: &Context, t: &Target, source: &Source) -> Advice {
    let name = bucket_name(cx, t).unwrap_or_else(|| "<bucket name>".to_owned());
    let record = match source {
        Source::Inline(_) => format!(
            "Then record it on `{}` at {}: `enabled = true` and `mfa_delete = true` in its `versioning` block, so the next plan does not undo it.",
            address(cx, t.resource),
            where_is(cx, t.resource)
        ),
        Source::Split(id) => format!(
            "Then record it in `{}` at {}: `status = \"Enabled\"` and `mfa_delete = \"Enabled\"` in `versioning_configuration` (with the `mfa` argument), so the next plan does not undo it.",
            address(cx, *id),
            where_is(cx, *id)
        ),
        Source::Missing => format!(
            "Then record it in Terraform next to `{}` at {}: an `aws_s3_bucket_versioning` with `status = \"Enabled\"` and `mfa_delete = \"Enabled\"` (v4+), or `versioning {{ enabled = true, mfa_delete = true }}` (v3).",
            address(cx, t.resource),
            where_is(cx, t.resource)
        ),
    };
    Advice::new(
        "`isMfaDeleteEnabled` requires MFA delete, which only the bucket owner's root user can turn on, with a current MFA code: Terraform cannot do it with its own credentials",
        [
            format!(
                "As the root user, run `aws s3api put-bucket-versioning --bucket {name} --versioning-configuration Status=Enabled,MFADelete=Enabled --mfa \"<root MFA device ARN> <current code>\"`."
            ),
            record,
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// 3. Bucket-level public access block (R-S4)
// ---------------------------------------------------------------------------------------------

/// S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED.
pub struct PublicAccessBlock;

static PAB: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED",
    name: "s3-bucket-level-public-access-prohibited",
    aliases: &[],
    security_controls: &["S3.8"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "block public access to the bucket",
    explanation: "The bucket's public access block makes S3 ignore public ACLs and refuse public bucket policies for this bucket. Anything that relies on anonymous access to it (a public website, public downloads) stops working, so confirm the bucket is not meant to be public before merging.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-level-public-access-prohibited.html",
    checkov: &["CKV2_AWS_6", "CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"],
    params: &["excludedPublicBuckets"],
};

const PAB_TYPE: &str = "aws_s3_bucket_public_access_block";
const PAB_FLAGS: [&str; 4] =
    ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"];

impl Rule for PublicAccessBlock {
    fn meta(&self) -> &'static RuleMeta {
        &PAB
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        if let Some(verdict) = excluded(cx, t) {
            return verdict;
        }
        let Some(id) = companion(cx, t, PAB_TYPE) else {
            return Check::Violation(format!("the bucket has no `{PAB_TYPE}`"));
        };
        let owner = owner_of(t, id);
        let body = &cx.block(id).body;
        let mut off = Vec::new();
        for flag in PAB_FLAGS {
            match expect_true(cx, &owner, body, flag, flag) {
                Check::Compliant => {}
                Check::Violation(_) => off.push(format!("`{flag}`")),
                undecidable @ Check::Undecidable(_) => return undecidable,
            }
        }
        if off.is_empty() {
            Check::Compliant
        } else {
            Check::Violation(format!("`{}` does not set {} to `true`", address(cx, id), off.join(", ")))
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_public_access_block(cx, t))
    }
}

/// `excludedPublicBuckets` names this bucket: compliant. A non-literal name cannot be compared.
fn excluded(cx: &Context, t: &Target) -> Option<Check> {
    let list = cx.params.list("excludedPublicBuckets");
    if list.is_empty() {
        return None;
    }
    match literal::attr_str(&cx.block(t.resource).body, "bucket")? {
        Ok(name) => list.contains(&name).then_some(Check::Compliant),
        Err(nl) => Some(Check::Undecidable(Advice::new(
            format!(
                "`excludedPublicBuckets` is set and the bucket's name is {nl}: the bot cannot tell whether this bucket is one of the excluded ones"
            ),
            [format!(
                "If `{}` at {} is one of {}, nothing needs to change; otherwise give it an `{PAB_TYPE}` with all four flags set to `true`.",
                address(cx, t.resource),
                where_is(cx, t.resource),
                list.join(", ")
            )],
        ))),
    }
}

fn fix_public_access_block(cx: &Context, t: &Target) -> Plan {
    let Some(id) = companion(cx, t, PAB_TYPE) else {
        let flags: Vec<(&str, String)> = PAB_FLAGS.iter().map(|f| (*f, "true".to_owned())).collect();
        let (e, new) = add_sibling(cx, t, PAB_TYPE, &flags, "")?;
        return Ok((
            vec![e],
            vec![format!("Added `{new}` after `{}` with all four flags `true`.", address(cx, t.resource))],
        ));
    };
    let owner = owner_of(t, id);
    let block = cx.block(id);
    let mut edits = Vec::new();
    let mut missing = Vec::new();
    for flag in PAB_FLAGS {
        match literal::attr_bool(&block.body, flag) {
            Some(Ok(true)) => {}
            Some(_) => edits.push(set(cx, &owner, block, flag, "true", flag)?),
            None => missing.push((flag, "true".to_owned())),
        }
    }
    edits.extend(insert_attributes(cx, cx.file_of(id), block, &missing)?);
    Ok((edits, vec![format!("Set all four public access block flags of `{}` to `true`.", address(cx, id))]))
}

// ---------------------------------------------------------------------------------------------
// 4, 5. Public read / public write through ACLs (R-S5)
// ---------------------------------------------------------------------------------------------

/// S3_BUCKET_PUBLIC_READ_PROHIBITED.
pub struct PublicRead;

/// S3_BUCKET_PUBLIC_WRITE_PROHIBITED.
pub struct PublicWrite;

static PUBLIC_READ: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    name: "s3-bucket-public-read-prohibited",
    aliases: &[],
    security_controls: &["S3.2"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::High,
    remedy: RemedyKind::Fix,
    title: "remove public read access",
    explanation: "The bucket's ACL lets anyone on the internet (or any AWS account) read its objects; this sets it to `private`. If the bucket deliberately serves public content, such as a website or downloads, that content stops being reachable, so confirm it is not meant to be public before merging.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-public-read-prohibited.html",
    checkov: &["CKV_AWS_20"],
    params: &[],
};

static PUBLIC_WRITE: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    name: "s3-bucket-public-write-prohibited",
    aliases: &[],
    security_controls: &["S3.3"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::High,
    remedy: RemedyKind::Fix,
    title: "remove public write access",
    explanation: "The bucket's ACL lets anyone on the internet write, overwrite and delete its objects; this sets it to `private`. The same ACL also grants public read, so a public website or download served from the bucket stops working: confirm it is not meant to be public before merging.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-public-write-prohibited.html",
    checkov: &["CKV_AWS_57"],
    params: &[],
};

impl Rule for PublicRead {
    fn meta(&self) -> &'static RuleMeta {
        &PUBLIC_READ
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        exposure_verdict(exposed(cx, t, Exposure::Read))
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_public(cx, t, Exposure::Read))
    }
}

impl Rule for PublicWrite {
    fn meta(&self) -> &'static RuleMeta {
        &PUBLIC_WRITE
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        exposure_verdict(exposed(cx, t, Exposure::Write))
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_public(cx, t, Exposure::Write))
    }
}

const ACL_TYPE: &str = "aws_s3_bucket_acl";
const WEBSITE_TYPE: &str = "aws_s3_bucket_website_configuration";
const NO_PUBLIC_GRANT: &str = "no grant to the AllUsers or AuthenticatedUsers groups";

/// Which kind of public access a rule forbids.
#[derive(Debug, Clone, Copy)]
enum Exposure {
    Read,
    Write,
}

impl Exposure {
    /// Canned ACLs that grant it.
    fn canned(self) -> &'static [&'static str] {
        match self {
            Exposure::Read => &["public-read", "public-read-write", "authenticated-read"],
            Exposure::Write => &["public-read-write"],
        }
    }

    /// Grant permissions that give it.
    fn permissions(self) -> &'static [&'static str] {
        match self {
            Exposure::Read => &["READ", "FULL_CONTROL"],
            Exposure::Write => &["WRITE", "WRITE_ACP", "FULL_CONTROL"],
        }
    }
}

/// A canned ACL the fix may set to `private`.
struct Canned {
    file: FileId,
    span: Option<Range<usize>>,
    at: String,
    value: String,
}

/// Everything that makes a bucket public for one exposure.
#[derive(Default)]
struct Exposed {
    canned: Vec<Canned>,
    /// Explicit grants to a public group, described with their location.
    grants: Vec<String>,
    /// Values the bot cannot evaluate.
    unknown: Vec<Advice>,
}

fn exposed(cx: &Context, t: &Target, x: Exposure) -> Exposed {
    let mut out = Exposed::default();
    let bucket = cx.block(t.resource);
    scan_canned(cx, t, &bucket.body, x, &mut out);
    for g in literal::nested_blocks(&bucket.body, "grant") {
        if g.dynamic {
            out.unknown.push(dynamic_advice(cx, t.resource, g.block, "grant", NO_PUBLIC_GRANT));
            continue;
        }
        let perms = strings(&g.block.body, "permissions");
        record_grant(cx, t, g.block, public_grant(cx, t, &g.block.body, perms, "grant", x), &mut out);
    }
    for id in companions(cx, t, ACL_TYPE) {
        let owner = owner_of(t, id);
        let body = &cx.block(id).body;
        scan_canned(cx, &owner, body, x, &mut out);
        scan_policy_grants(cx, &owner, body, x, &mut out);
    }
    out
}

/// A canned `acl` attribute granting the exposure.
fn scan_canned(cx: &Context, owner: &Target, body: &Body, x: Exposure, out: &mut Exposed) {
    let Some(a) = body.get_attribute("acl") else {
        return;
    };
    match literal::attr_str(body, "acl") {
        Some(Ok(v)) if x.canned().contains(&v.as_str()) => {
            let file = cx.file_of(owner.resource);
            let span = a.value.span();
            let at = span.as_ref().map_or_else(|| where_is(cx, owner.resource), |s| cx.at(file, s.start));
            out.canned.push(Canned { file, span, at, value: v });
        }
        Some(Err(nl)) => out.unknown.push(not_literal_advice(cx, owner, "acl", &nl, "`\"private\"`")),
        _ => {}
    }
}

/// Grants inside `aws_s3_bucket_acl.access_control_policy`.
fn scan_policy_grants(cx: &Context, owner: &Target, body: &Body, x: Exposure, out: &mut Exposed) {
    for acp in literal::nested_blocks(body, "access_control_policy") {
        if acp.dynamic {
            out.unknown.push(dynamic_advice(cx, owner.resource, acp.block, "access_control_policy", NO_PUBLIC_GRANT));
            continue;
        }
        for g in literal::nested_blocks(&acp.block.body, "grant") {
            if g.dynamic {
                out.unknown.push(dynamic_advice(cx, owner.resource, g.block, "grant", NO_PUBLIC_GRANT));
                continue;
            }
            let verdict = match nested(cx, owner.resource, &g.block.body, "grantee", NO_PUBLIC_GRANT) {
                Err(a) => Some(Err(a)),
                Ok(None) => None,
                Ok(Some(ge)) => {
                    let perm = literal::attr_str(&g.block.body, "permission").map(|r| r.map(|p| vec![p]));
                    public_grant(cx, owner, &ge.body, perm, "access_control_policy.grant", x)
                }
            };
            record_grant(cx, owner, g.block, verdict, out);
        }
    }
}

fn record_grant(cx: &Context, owner: &Target, at: &Block, verdict: Option<Result<String, Advice>>, out: &mut Exposed) {
    match verdict {
        Some(Ok(what)) => out.grants.push(format!("the grant at {} gives {what}", block_at(cx, owner.resource, at))),
        Some(Err(a)) => out.unknown.push(a),
        None => {}
    }
}

/// Whether one grant gives the exposure to a public group: `None` when not, `Some(Ok(description))`
/// when it does, `Some(Err(advice))` when its grantee or permissions are not literals.
fn public_grant(
    cx: &Context,
    owner: &Target,
    grantee: &Body,
    perms: Option<Result<Vec<String>, NotLiteral>>,
    what: &str,
    x: Exposure,
) -> Option<Result<String, Advice>> {
    let group = match literal::attr_str(grantee, "uri")? {
        Err(nl) => {
            return Some(Err(not_literal_advice(cx, owner, &format!("{what}.uri"), &nl, NO_PUBLIC_GRANT)));
        }
        Ok(uri) => public_group(&uri)?,
    };
    let perms = match perms? {
        Err(nl) => {
            return Some(Err(not_literal_advice(cx, owner, &format!("{what}.permission"), &nl, NO_PUBLIC_GRANT)));
        }
        Ok(p) => p,
    };
    let hits: Vec<String> = perms.into_iter().filter(|p| x.permissions().contains(&p.as_str())).collect();
    (!hits.is_empty()).then(|| Ok(format!("{group} {}", hits.join(", "))))
}

fn public_group(uri: &str) -> Option<&'static str> {
    if uri.ends_with("/groups/global/AllUsers") {
        Some("everyone (AllUsers)")
    } else if uri.ends_with("/groups/global/AuthenticatedUsers") {
        Some("every AWS account (AuthenticatedUsers)")
    } else {
        None
    }
}

/// A list-of-strings attribute (`permissions = ["READ"]`).
fn strings(body: &Body, key: &str) -> Option<Result<Vec<String>, NotLiteral>> {
    let a = body.get_attribute(key)?;
    let not_list = || NotLiteral {
        kind: "not a list of strings".into(),
        text: literal::expr_text(&a.value),
        span: a.value.span(),
    };
    Some(match literal::eval(&a.value) {
        Ok(serde_json::Value::Array(items)) => {
            items.into_iter().map(|v| v.as_str().map(str::to_owned).ok_or_else(not_list)).collect()
        }
        Ok(_) => Err(not_list()),
        Err(nl) => Err(nl),
    })
}

fn exposure_verdict(e: Exposed) -> Check {
    let mut why: Vec<String> =
        e.canned.iter().map(|c| format!("the canned ACL at {} is `{}`", c.at, c.value)).collect();
    why.extend(e.grants);
    if !why.is_empty() {
        Check::Violation(why.join("; "))
    } else if let Some(a) = e.unknown.into_iter().next() {
        Check::Undecidable(a)
    } else {
        Check::Compliant
    }
}

fn fix_public(cx: &Context, t: &Target, x: Exposure) -> Plan {
    if let Some(a) = website_advice(cx, t) {
        return Err(a);
    }
    let e = exposed(cx, t, x);
    if !e.grants.is_empty() {
        return Err(Advice::new(
            "the bucket is public through explicit ACL grants: whether any of them is intended is something the bot cannot know",
            e.grants.iter().map(|g| format!("Remove or narrow {g} (grant to specific accounts instead).")).chain(
                e.canned.iter().map(|c| format!("Set the ACL at {} from `{}` to `\"private\"`.", c.at, c.value)),
            ),
        ));
    }
    if let Some(a) = e.unknown.into_iter().next() {
        return Err(a);
    }
    let mut edits = Vec::new();
    let mut notes = Vec::new();
    for c in &e.canned {
        edits.push(edit::replace_span(c.file, c.span.clone(), "\"private\"").map_err(edit_failed)?);
        notes.push(format!("Set the ACL at {} from `{}` to `private`.", c.at, c.value));
    }
    Ok((edits, notes))
}

/// A bucket that hosts a website is probably public on purpose: never close it automatically.
fn website_advice(cx: &Context, t: &Target) -> Option<Advice> {
    let at = literal::nested_blocks(&cx.block(t.resource).body, "website")
        .next()
        .map(|w| block_at(cx, t.resource, w.block))
        .or_else(|| {
            companion(cx, t, WEBSITE_TYPE).map(|id| format!("`{}` at {}", address(cx, id), where_is(cx, id)))
        })?;
    Some(Advice::new(
        format!("the bucket hosts a static website (configured at {at}): making it private would take the site offline, and whether it should be public is a decision the bot cannot make"),
        [
            format!("If the site must stay public, record an exception for this rule on `{}`.", address(cx, t.resource)),
            "Otherwise serve it through CloudFront with origin access control, remove the website configuration, and set the bucket's ACL to `\"private\"`.".to_owned(),
        ],
    ))
}

// ---------------------------------------------------------------------------------------------
// 6. Server access logging (R-S3)
// ---------------------------------------------------------------------------------------------

/// S3_BUCKET_LOGGING_ENABLED.
pub struct Logging;

static LOGGING: RuleMeta = RuleMeta {
    identifier: "S3_BUCKET_LOGGING_ENABLED",
    name: "s3-bucket-logging-enabled",
    aliases: &[],
    security_controls: &["S3.9"],
    config_types: CONFIG_TYPES,
    terraform_types: BUCKET_TYPES,
    risk: Risk::Low,
    remedy: RemedyKind::Fix,
    title: "enable server access logging",
    explanation: "Server access logging records every request made to the bucket in a separate log bucket, which audits and incident investigations rely on. It only adds log storage cost; the log bucket must already allow `logging.s3.amazonaws.com` to write to it.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/s3-bucket-logging-enabled.html",
    checkov: &["CKV_AWS_18"],
    params: &["targetBucket", "targetPrefix"],
};

const LOG_INLINE: &str = "logging";
const LOG_SPLIT: &str = "aws_s3_bucket_logging";
const LOG_WANTED: &str = "a `target_bucket`";

impl Rule for Logging {
    fn meta(&self) -> &'static RuleMeta {
        &LOGGING
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        match locate(cx, t, LOG_INLINE, LOG_SPLIT, LOG_WANTED) {
            Err(a) => Check::Undecidable(a),
            Ok(Source::Inline(b)) => logging_verdict(cx, t, &b.body, "logging."),
            Ok(Source::Split(id)) => logging_verdict(cx, &owner_of(t, id), &cx.block(id).body, ""),
            Ok(Source::Missing) => Check::Violation("server access logging is not enabled".into()),
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        finish(cx, fix_logging(cx, t))
    }
}

/// Logging is on when a target bucket is set; with `targetBucket` / `targetPrefix` it must match them.
fn logging_verdict(cx: &Context, owner: &Target, body: &Body, path: &str) -> Check {
    let what = format!("{path}target_bucket");
    let Some(a) = body.get_attribute("target_bucket") else {
        return Check::Violation(format!("`{what}` is not set"));
    };
    let bucket_ok = match cx.params.get("targetBucket") {
        None => Check::Compliant,
        Some(want) => match destination_name(cx, owner, &a.value) {
            Some(name) if name == want => Check::Compliant,
            Some(name) => Check::Violation(format!("`{what}` is `{name}`, not `{want}` (targetBucket)")),
            None => Check::Undecidable(not_literal_advice(
                cx,
                owner,
                &what,
                &literal::not_literal(&a.value),
                &format!("`{}`", edit::quote(want)),
            )),
        },
    };
    then(bucket_ok, || match cx.params.get("targetPrefix") {
        None => Check::Compliant,
        Some(want) => expect_str(cx, owner, body, "target_prefix", &format!("{path}target_prefix"), want),
    })
}

/// The bucket name an expression denotes: a literal, or a reference to an `aws_s3_bucket` of the same
/// module whose `bucket` is a literal.
fn destination_name(cx: &Context, owner: &Target, expr: &Expression) -> Option<String> {
    if let Ok(serde_json::Value::String(s)) = literal::eval(expr) {
        return Some(s);
    }
    let (rtype, name) = literal::reference(expr)?;
    if rtype != "aws_s3_bucket" {
        return None;
    }
    let dir = &cx.index.resource(owner.resource).dir;
    let id = cx.index.of_type(&rtype).find(|&id| {
        let r = cx.index.resource(id);
        &r.dir == dir && r.name == name
    })?;
    literal::attr_str(&cx.block(id).body, "bucket").and_then(Result::ok)
}

/// Where the logs go: `targetBucket` / `targetPrefix`, else the policy, else advice. Never the bucket itself.
fn log_target(cx: &Context, t: &Target) -> Result<(String, String), Advice> {
    let label = bucket_label(cx, t);
    let Some(target) = cx.params.get("targetBucket").or(cx.policy.s3_log_bucket.as_deref()) else {
        return Err(Advice::new(
            "no log bucket is known: the rule has no `targetBucket` parameter and the policy has no `s3_log_bucket`",
            [
                "Re-run with `--param targetBucket=<log bucket name>`, or set `s3_log_bucket = \"<log bucket name>\"` in the policy file.".to_owned(),
                format!(
                    "The log bucket must already exist and allow `logging.s3.amazonaws.com` to `s3:PutObject`; the logs of `{}` ({}) then go under `s3/{label}/`.",
                    address(cx, t.resource),
                    where_is(cx, t.resource)
                ),
            ],
        ));
    };
    if bucket_name(cx, t).as_deref() == Some(target) {
        return Err(Advice::new(
            format!(
                "the log bucket `{target}` is this bucket itself: every log delivery would be logged again, without end"
            ),
            [format!(
                "Choose another bucket as `targetBucket` / `s3_log_bucket` for `{}` at {}.",
                address(cx, t.resource),
                where_is(cx, t.resource)
            )],
        ));
    }
    let prefix = cx
        .params
        .get("targetPrefix")
        .map(str::to_owned)
        .or_else(|| cx.policy.s3_log_prefix.as_ref().map(|p| p.replace("{bucket}", &label)))
        .unwrap_or_else(|| format!("s3/{label}/"));
    Ok((target.to_owned(), prefix))
}

fn fix_logging(cx: &Context, t: &Target) -> Plan {
    match locate(cx, t, LOG_INLINE, LOG_SPLIT, LOG_WANTED)? {
        Source::Inline(b) => {
            if let Some(a) = read_only_advice(cx, t, LOG_INLINE, LOG_SPLIT) {
                return Err(a);
            }
            repair_logging(cx, t, t, b, "logging.")
        }
        Source::Split(id) => repair_logging(cx, t, &owner_of(t, id), cx.block(id), ""),
        Source::Missing => {
            let (target, prefix) = log_target(cx, t)?;
            let attrs = [("target_bucket", edit::quote(&target)), ("target_prefix", edit::quote(&prefix))];
            let (edits, mut notes) =
                create(cx, t, LOG_INLINE, LOG_SPLIT, &attrs, "", &format!("logs to `{target}` under `{prefix}`"))?;
            notes.push(format!("`{target}` must allow `logging.s3.amazonaws.com` to write to it."));
            Ok((edits, notes))
        }
    }
}

/// Point an existing logging configuration at the required target and prefix. The target is only
/// touched when it is missing or `targetBucket` names another one; the prefix only when it is
/// missing along with the target or `targetPrefix` names another one.
fn repair_logging(cx: &Context, t: &Target, owner: &Target, block: &Block, path: &str) -> Plan {
    let target_missing = block.body.get_attribute("target_bucket").is_none();
    let mut edits = Vec::new();
    let mut missing = Vec::new();
    let mut notes = Vec::new();
    if target_missing || cx.params.get("targetBucket").is_some() {
        let (target, prefix) = log_target(cx, t)?;
        match retarget(cx, owner, block, &target, path)? {
            Some(e) => edits.push(e),
            None if target_missing => missing.push(("target_bucket", edit::quote(&target))),
            None => {}
        }
        notes.push(format!("Pointed the access logs of `{}` at `{target}`.", address(cx, t.resource)));
        if target_missing && block.body.get_attribute("target_prefix").is_none() {
            missing.push(("target_prefix", edit::quote(&prefix)));
        }
    }
    if let Some(prefix) = cx.params.get("targetPrefix")
        && !matches!(literal::attr_str(&block.body, "target_prefix"), Some(Ok(p)) if p == prefix)
    {
        let value = edit::quote(prefix);
        match block.body.get_attribute("target_prefix") {
            None => missing.push(("target_prefix", value)),
            Some(_) => edits.push(set(cx, owner, block, "target_prefix", &value, &format!("{path}target_prefix"))?),
        }
        notes.push(format!("Set the access log prefix of `{}` to `{prefix}`.", address(cx, t.resource)));
    }
    edits.extend(insert_attributes(cx, cx.file_of(owner.resource), block, &missing)?);
    Ok((edits, notes))
}

/// Replace an existing literal `target_bucket` that names another bucket (`None` when it is absent
/// or already right); a non-literal one is advice.
fn retarget(cx: &Context, owner: &Target, block: &Block, target: &str, path: &str) -> Result<Option<Edit>, Advice> {
    let Some(a) = block.body.get_attribute("target_bucket") else {
        return Ok(None);
    };
    if destination_name(cx, owner, &a.value).as_deref() == Some(target) {
        return Ok(None);
    }
    match literal::eval(&a.value) {
        Ok(_) => edit::replace_span(cx.file_of(owner.resource), a.value.span(), edit::quote(target))
            .map(Some)
            .map_err(edit_failed),
        Err(nl) => Err(not_literal_advice(
            cx,
            owner,
            &format!("{path}target_bucket"),
            &nl,
            &format!("`{}`", edit::quote(target)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{fixed, run};
    use crate::policy::Policy;

    const V3: (&str, &str) = (
        "versions.tf",
        "terraform {\n  required_providers {\n    aws = { source = \"hashicorp/aws\", version = \"~> 3.76\" }\n  }\n}\n",
    );
    const V5: (&str, &str) = (
        "versions.tf",
        "terraform {\n  required_providers {\n    aws = { source = \"hashicorp/aws\", version = \"~> 5.0\" }\n  }\n}\n",
    );

    const BUCKET: &str = r#"# Application logs
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs" # keep in sync with the app

  tags = {
    Team = "platform"
  }
}

resource "aws_iam_role" "app" {
  name = "app"
}
"#;

    const ADDR: &str = "aws_s3_bucket.logs";

    /// The bucket fixture with `lines` added right after its `bucket = …` line.
    fn with_lines(lines: &str) -> String {
        BUCKET.replace("# keep in sync with the app\n", &format!("# keep in sync with the app\n{lines}"))
    }

    /// `src` with a nested block added at the end of the bucket's body.
    fn with_inline(src: &str, block: &str) -> String {
        src.replacen("  }\n}\n", &format!("  }}\n\n{block}}}\n"), 1)
    }

    /// `src` with a top-level block inserted right after the first top-level block.
    fn after_bucket(src: &str, block: &str) -> String {
        let end = src.find("\n}\n").expect("a top-level block") + 3;
        format!("{}\n{block}{}", &src[..end], &src[end..])
    }

    /// Run with parameters and policy; expect a violation that the fix makes compliant.
    fn fixed_with(rule: &dyn Rule, files: &[(&str, &str)], params: &[(&str, &str)], policy: &Policy) -> String {
        let r = run(rule, files, ADDR, params, policy);
        assert!(matches!(r.before, Check::Violation(_)), "expected a violation: {r:#?}");
        assert_eq!(r.after, Some(Check::Compliant), "fix did not make the block compliant: {r:#?}");
        r.text("main.tf").to_owned()
    }

    fn verdict(rule: &dyn Rule, files: &[(&str, &str)], params: &[(&str, &str)]) -> Check {
        run(rule, files, ADDR, params, &Policy::default()).before
    }

    fn advice(rule: &dyn Rule, files: &[(&str, &str)], params: &[(&str, &str)], policy: &Policy) -> Advice {
        run(rule, files, ADDR, params, policy).advice().clone()
    }

    // ---- default encryption ----

    #[test]
    fn sse_v5_adds_a_kms_split_resource_after_the_bucket() {
        let out = fixed(&ServerSideEncryption, &[("main.tf", BUCKET), V5], ADDR, "main.tf");
        let new = r#"resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}
"#;
        assert_eq!(out, after_bucket(BUCKET, new));
    }

    #[test]
    fn sse_v3_adds_an_inline_block() {
        let out = fixed(&ServerSideEncryption, &[("main.tf", BUCKET), V3], ADDR, "main.tf");
        let block = r#"  server_side_encryption_configuration {
    rule {
      apply_server_side_encryption_by_default {
        sse_algorithm = "aws:kms"
      }
      bucket_key_enabled = true
    }
  }
"#;
        assert_eq!(out, with_inline(BUCKET, block));
    }

    #[test]
    fn sse_policy_chooses_aes256_and_a_kms_key_reference() {
        let aes = Policy { s3_sse_algorithm: Some("AES256".into()), ..Policy::default() };
        let out = fixed_with(&ServerSideEncryption, &[("main.tf", BUCKET), V5], &[], &aes);
        assert!(out.contains("      sse_algorithm = \"AES256\"\n    }\n  }\n"), "{out}");
        assert!(!out.contains("bucket_key_enabled"), "{out}");

        let kms = Policy { s3_kms_key_id: Some("aws_kms_key.s3.arn".into()), ..Policy::default() };
        let out = fixed_with(&ServerSideEncryption, &[("main.tf", BUCKET), V5], &[], &kms);
        assert!(
            out.contains("      sse_algorithm     = \"aws:kms\"\n      kms_master_key_id = aws_kms_key.s3.arn\n"),
            "{out}"
        );
    }

    #[test]
    fn sse_inline_configuration_on_v5_is_compliant_and_never_split() {
        let src = with_inline(
            BUCKET,
            "  server_side_encryption_configuration {\n    rule {\n      apply_server_side_encryption_by_default {\n        sse_algorithm = \"AES256\"\n      }\n    }\n  }\n",
        );
        assert_eq!(verdict(&ServerSideEncryption, &[("main.tf", &src), V5], &[]), Check::Compliant);
    }

    #[test]
    fn sse_incomplete_inline_configuration_on_v5_is_completed_inline() {
        let src = with_inline(
            BUCKET,
            "  server_side_encryption_configuration {\n    rule {\n      bucket_key_enabled = true\n    }\n  }\n",
        );
        let out = fixed(&ServerSideEncryption, &[("main.tf", &src), V5], ADDR, "main.tf");
        let want = src.replace(
            "      bucket_key_enabled = true\n",
            "      bucket_key_enabled = true\n\n      apply_server_side_encryption_by_default {\n        sse_algorithm = \"aws:kms\"\n      }\n",
        );
        assert_eq!(out, want);
        assert!(!out.contains("resource \"aws_s3_bucket_server_side_encryption_configuration\""));
    }

    #[test]
    fn sse_kms_key_arns_flip_an_existing_split_resource() {
        let existing = r#"resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256" # team default
    }
  }
}
"#;
        let src = after_bucket(BUCKET, existing);
        let key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd";
        let out =
            fixed_with(&ServerSideEncryption, &[("main.tf", &src), V5], &[("kmsKeyArns", key)], &Policy::default());
        let want = src.replace(
            "      sse_algorithm = \"AES256\" # team default\n",
            &format!("      sse_algorithm = \"aws:kms\" # team default\n      kms_master_key_id = \"{key}\"\n"),
        );
        assert_eq!(out, want);
        let flipped = [("main.tf", out.as_str()), V5];
        assert_eq!(verdict(&ServerSideEncryption, &flipped, &[("kmsKeyArns", key)]), Check::Compliant);
    }

    #[test]
    fn sse_dynamic_or_non_literal_configuration_is_advice() {
        let dynamic = with_inline(
            BUCKET,
            "  dynamic \"server_side_encryption_configuration\" {\n    for_each = var.sse\n    content {}\n  }\n",
        );
        let a = advice(&ServerSideEncryption, &[("main.tf", &dynamic), V5], &[], &Policy::default());
        assert!(a.reason.contains("dynamic block"), "{a:?}");
        assert!(a.steps[0].contains("main.tf:9"), "{a:?}");

        let variable = with_inline(
            BUCKET,
            "  server_side_encryption_configuration {\n    rule {\n      apply_server_side_encryption_by_default {\n        sse_algorithm     = \"aws:kms\"\n        kms_master_key_id = var.key\n      }\n    }\n  }\n",
        );
        assert_eq!(verdict(&ServerSideEncryption, &[("main.tf", &variable), V5], &[]), Check::Compliant);
        let a = advice(
            &ServerSideEncryption,
            &[("main.tf", &variable), V5],
            &[("kmsKeyArns", "arn:k")],
            &Policy::default(),
        );
        assert!(a.steps[0].contains("main.tf:13") && a.steps[0].contains("kms_master_key_id"), "{a:?}");
    }

    #[test]
    fn sse_unknown_algorithm_parameter_is_advice() {
        let a =
            advice(&ServerSideEncryption, &[("main.tf", BUCKET), V5], &[("sseAlgorithm", "DES")], &Policy::default());
        assert!(a.reason.contains("DES"), "{a:?}");
    }

    #[test]
    fn key_text_is_quoted_unless_it_is_a_reference() {
        assert_eq!(key_expr("aws_kms_key.s3.arn"), "aws_kms_key.s3.arn");
        assert_eq!(key_expr("alias/s3"), "\"alias/s3\"");
        assert_eq!(key_expr("arn:aws:kms:eu-west-1:1:key/x"), "\"arn:aws:kms:eu-west-1:1:key/x\"");
        assert_eq!(key_expr("1234abcd-12ab"), "\"1234abcd-12ab\"");
    }

    // ---- versioning ----

    #[test]
    fn versioning_v5_mirrors_count_on_the_new_resource() {
        let src = BUCKET.replace("  bucket = \"acme-logs\"", "  count  = 2\n  bucket = \"acme-logs-${count.index}\"");
        let out = fixed(&Versioning, &[("main.tf", &src), V5], ADDR, "main.tf");
        let new = r#"resource "aws_s3_bucket_versioning" "logs" {
  count = 2

  bucket = aws_s3_bucket.logs[count.index].id

  versioning_configuration {
    status = "Enabled"
  }
}
"#;
        assert_eq!(out, after_bucket(&src, new));
    }

    #[test]
    fn versioning_v3_adds_an_inline_block() {
        let out = fixed(&Versioning, &[("main.tf", BUCKET), V3], ADDR, "main.tf");
        assert_eq!(out, with_inline(BUCKET, "  versioning {\n    enabled = true\n  }\n"));
    }

    #[test]
    fn versioning_flips_literals_in_both_styles() {
        let split = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_versioning\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  versioning_configuration {\n    status = \"Suspended\" # paused during migration\n  }\n}\n",
        );
        let out = fixed(&Versioning, &[("main.tf", &split), V5], ADDR, "main.tf");
        assert_eq!(out, split.replace("\"Suspended\"", "\"Enabled\""));

        let inline = with_lines("  versioning { enabled = false }\n");
        let out = fixed(&Versioning, &[("main.tf", &inline), V3], ADDR, "main.tf");
        assert_eq!(out, inline.replace("enabled = false", "enabled = true"));
    }

    #[test]
    fn versioning_enabled_is_compliant() {
        let split = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_versioning\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  versioning_configuration {\n    status = \"Enabled\"\n  }\n}\n",
        );
        assert_eq!(verdict(&Versioning, &[("main.tf", &split), V5], &[]), Check::Compliant);
        let inline = with_lines("  versioning {\n    enabled = true\n  }\n");
        assert_eq!(verdict(&Versioning, &[("main.tf", &inline), V5], &[]), Check::Compliant);
    }

    #[test]
    fn versioning_mfa_delete_is_advice() {
        let a = advice(&Versioning, &[("main.tf", BUCKET), V5], &[("isMfaDeleteEnabled", "true")], &Policy::default());
        assert!(a.reason.contains("root user"), "{a:?}");
        assert!(a.steps[0].contains("--bucket acme-logs") && a.steps[0].contains("MFADelete=Enabled"), "{a:?}");
        assert!(a.steps[1].contains("main.tf:2"), "{a:?}");
    }

    #[test]
    fn versioning_inline_on_a_read_only_provider_is_advice() {
        let inline = with_lines("  versioning {\n    enabled = false\n  }\n");
        let v48 = ("versions.tf", "terraform {\n  required_providers {\n    aws = \"4.5.0\"\n  }\n}\n");
        let a = advice(&Versioning, &[("main.tf", &inline), v48], &[], &Policy::default());
        assert!(a.reason.contains("read-only") && a.steps[0].contains("aws_s3_bucket_versioning"), "{a:?}");
    }

    // ---- bucket-level public access block ----

    #[test]
    fn public_access_block_is_added_with_for_each_even_on_v3() {
        let src = BUCKET.replace(
            "  bucket = \"acme-logs\" # keep in sync with the app\n",
            "  for_each = toset([\"a\", \"b\"])\n  bucket   = \"acme-logs-${each.key}\"\n",
        );
        let out = fixed(&PublicAccessBlock, &[("main.tf", &src), V3], ADDR, "main.tf");
        let new = r#"resource "aws_s3_bucket_public_access_block" "logs" {
  for_each = aws_s3_bucket.logs

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}
"#;
        assert_eq!(out, after_bucket(&src, new));
    }

    #[test]
    fn public_access_block_flips_false_and_adds_missing_flags() {
        let existing = "resource \"aws_s3_bucket_public_access_block\" \"logs\" {\n  bucket            = aws_s3_bucket.logs.id\n  block_public_acls = false # legacy uploader\n  ignore_public_acls = true\n}\n";
        let src = after_bucket(BUCKET, existing);
        let out = fixed(&PublicAccessBlock, &[("main.tf", &src), V5], ADDR, "main.tf");
        let want = src.replace(
            "  block_public_acls = false # legacy uploader\n  ignore_public_acls = true\n",
            "  block_public_acls = true # legacy uploader\n  ignore_public_acls = true\n  block_public_policy = true\n  restrict_public_buckets = true\n",
        );
        assert_eq!(out, want);
    }

    #[test]
    fn public_access_block_one_line_resource_is_expanded_once() {
        let src = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_public_access_block\" \"logs\" { bucket = aws_s3_bucket.logs.id }\n",
        );
        let out = fixed(&PublicAccessBlock, &[("main.tf", &src), V5], ADDR, "main.tf");
        let want = src.replace(
            "{ bucket = aws_s3_bucket.logs.id }",
            "{\n  bucket = aws_s3_bucket.logs.id\n  block_public_acls = true\n  block_public_policy = true\n  ignore_public_acls = true\n  restrict_public_buckets = true\n}",
        );
        assert_eq!(out, want);
    }

    #[test]
    fn public_access_block_variable_flag_is_advice() {
        let existing = "resource \"aws_s3_bucket_public_access_block\" \"logs\" {\n  bucket                  = aws_s3_bucket.logs.id\n  block_public_acls       = true\n  block_public_policy     = var.block_policy\n  ignore_public_acls      = true\n  restrict_public_buckets = true\n}\n";
        let src = after_bucket(BUCKET, existing);
        let a = advice(&PublicAccessBlock, &[("main.tf", &src), V5], &[], &Policy::default());
        assert!(a.reason.contains("input variable"), "{a:?}");
        assert!(a.steps[0].contains("main.tf:13") && a.steps[0].contains("block_public_policy"), "{a:?}");
    }

    #[test]
    fn public_access_block_excluded_or_complete_is_compliant() {
        let params = [("excludedPublicBuckets", "acme-site, acme-logs")];
        assert_eq!(verdict(&PublicAccessBlock, &[("main.tf", BUCKET), V5], &params), Check::Compliant);
        let complete = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_public_access_block\" \"logs\" {\n  bucket                  = aws_s3_bucket.logs.id\n  block_public_acls       = true\n  block_public_policy     = true\n  ignore_public_acls      = true\n  restrict_public_buckets = true\n}\n",
        );
        assert_eq!(verdict(&PublicAccessBlock, &[("main.tf", &complete), V5], &[]), Check::Compliant);
    }

    // ---- public read / write ----

    #[test]
    fn public_read_inline_acl_becomes_private() {
        let src = with_lines("  acl    = \"public-read\" # was a demo\n");
        let out = fixed(&PublicRead, &[("main.tf", &src), V3], ADDR, "main.tf");
        assert_eq!(out, src.replace("\"public-read\" # was a demo", "\"private\" # was a demo"));
    }

    #[test]
    fn public_read_split_authenticated_read_becomes_private() {
        let src = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_acl\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  acl    = \"authenticated-read\"\n}\n",
        );
        let out = fixed(&PublicRead, &[("main.tf", &src), V5], ADDR, "main.tf");
        assert_eq!(out, src.replace("\"authenticated-read\"", "\"private\""));
    }

    #[test]
    fn public_read_private_is_compliant() {
        let src = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_acl\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  acl    = \"private\"\n}\n",
        );
        assert_eq!(verdict(&PublicRead, &[("main.tf", &src), V5], &[]), Check::Compliant);
    }

    #[test]
    fn public_read_website_is_advice() {
        let src = with_lines("  acl    = \"public-read\"\n\n  website {\n    index_document = \"index.html\"\n  }\n");
        let a = advice(&PublicRead, &[("main.tf", &src), V3], &[], &Policy::default());
        assert!(a.reason.contains("static website") && a.reason.contains("main.tf:6"), "{a:?}");
    }

    #[test]
    fn public_read_group_grants_are_advice() {
        let src = with_lines(
            "  grant {\n    type        = \"Group\"\n    permissions = [\"READ\"]\n    uri         = \"http://acs.amazonaws.com/groups/global/AllUsers\"\n  }\n",
        );
        assert!(matches!(verdict(&PublicRead, &[("main.tf", &src), V3], &[]), Check::Violation(_)));
        let a = advice(&PublicRead, &[("main.tf", &src), V3], &[], &Policy::default());
        assert!(a.steps[0].contains("main.tf:4") && a.steps[0].contains("AllUsers"), "{a:?}");
        // READ is not write access.
        assert_eq!(verdict(&PublicWrite, &[("main.tf", &src), V3], &[]), Check::Compliant);
    }

    #[test]
    fn public_write_split_acl_becomes_private() {
        let src = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_acl\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  acl    = \"public-read-write\"\n}\n",
        );
        let out = fixed(&PublicWrite, &[("main.tf", &src), V5], ADDR, "main.tf");
        assert_eq!(out, src.replace("\"public-read-write\"", "\"private\""));
    }

    #[test]
    fn public_write_ignores_read_only_acls() {
        let src = with_lines("  acl    = \"public-read\"\n");
        assert_eq!(verdict(&PublicWrite, &[("main.tf", &src), V3], &[]), Check::Compliant);
    }

    #[test]
    fn public_write_access_control_policy_grant_and_website_are_advice() {
        let acl = r#"resource "aws_s3_bucket_acl" "logs" {
  bucket = aws_s3_bucket.logs.id
  access_control_policy {
    grant {
      grantee {
        type = "Group"
        uri  = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
      }
      permission = "WRITE"
    }
    owner {
      id = "abc"
    }
  }
}
"#;
        let src = after_bucket(BUCKET, acl);
        let a = advice(&PublicWrite, &[("main.tf", &src), V5], &[], &Policy::default());
        assert!(a.steps[0].contains("main.tf:13") && a.steps[0].contains("AuthenticatedUsers"), "{a:?}");

        let site = after_bucket(
            BUCKET,
            "resource \"aws_s3_bucket_acl\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n  acl    = \"public-read-write\"\n}\n\nresource \"aws_s3_bucket_website_configuration\" \"logs\" {\n  bucket = aws_s3_bucket.logs.id\n}\n",
        );
        let a = advice(&PublicWrite, &[("main.tf", &site), V5], &[], &Policy::default());
        assert!(a.reason.contains("aws_s3_bucket_website_configuration.logs"), "{a:?}");
    }

    #[test]
    fn public_acl_from_a_variable_is_undecidable() {
        let src = with_lines("  acl    = var.acl\n");
        let r = run(&PublicRead, &[("main.tf", &src), V3], ADDR, &[], &Policy::default());
        assert!(matches!(r.before, Check::Undecidable(_)), "{r:#?}");
        assert!(r.advice().steps[0].contains("main.tf:4"), "{r:#?}");
    }

    // ---- logging ----

    #[test]
    fn logging_v5_adds_a_split_resource_from_the_parameters() {
        let out = fixed_with(
            &Logging,
            &[("main.tf", BUCKET), V5],
            &[("targetBucket", "acme-access-logs")],
            &Policy::default(),
        );
        let new = r#"resource "aws_s3_bucket_logging" "logs" {
  bucket        = aws_s3_bucket.logs.id
  target_bucket = "acme-access-logs"
  target_prefix = "s3/acme-logs/"
}
"#;
        assert_eq!(out, after_bucket(BUCKET, new));
    }

    #[test]
    fn logging_v3_uses_the_policy_bucket_and_prefix() {
        let policy = Policy {
            s3_log_bucket: Some("central-logs".into()),
            s3_log_prefix: Some("logs/{bucket}/".into()),
            ..Policy::default()
        };
        let out = fixed_with(&Logging, &[("main.tf", BUCKET), V3], &[], &policy);
        let block = "  logging {\n    target_bucket = \"central-logs\"\n    target_prefix = \"logs/acme-logs/\"\n  }\n";
        assert_eq!(out, with_inline(BUCKET, block));
    }

    #[test]
    fn logging_prefix_falls_back_to_the_resource_name() {
        let src = BUCKET.replace("  bucket = \"acme-logs\"", "  bucket = var.name");
        let r = run(&Logging, &[("main.tf", &src), V5], ADDR, &[("targetBucket", "central-logs")], &Policy::default());
        assert!(r.text("main.tf").contains("  target_prefix = \"s3/logs/\"\n"), "{r:#?}");
    }

    #[test]
    fn logging_without_a_target_or_into_itself_is_advice() {
        let a = advice(&Logging, &[("main.tf", BUCKET), V5], &[], &Policy::default());
        assert!(a.steps[0].contains("--param targetBucket=") && a.steps[0].contains("s3_log_bucket"), "{a:?}");
        let a = advice(&Logging, &[("main.tf", BUCKET), V5], &[("targetBucket", "acme-logs")], &Policy::default());
        assert!(a.reason.contains("this bucket itself"), "{a:?}");
    }

    #[test]
    fn logging_existing_target_is_compliant_and_resolved_through_references() {
        let target = "resource \"aws_s3_bucket\" \"central\" {\n  bucket = \"central-logs\"\n}\n";
        let split = "resource \"aws_s3_bucket_logging\" \"logs\" {\n  bucket        = aws_s3_bucket.logs.id\n  target_bucket = aws_s3_bucket.central.id\n  target_prefix = \"s3/\"\n}\n";
        let src = format!("{}\n{target}", after_bucket(BUCKET, split));
        let files = [("main.tf", src.as_str()), V5];
        assert_eq!(verdict(&Logging, &files, &[]), Check::Compliant);
        assert_eq!(verdict(&Logging, &files, &[("targetBucket", "central-logs")]), Check::Compliant);
        assert!(matches!(verdict(&Logging, &files, &[("targetBucket", "other")]), Check::Violation(_)));
        // A reference to the wrong bucket is not rewritten.
        let a = advice(&Logging, &files, &[("targetBucket", "other")], &Policy::default());
        assert!(a.steps[0].contains("main.tf:12"), "{a:?}");
    }

    #[test]
    fn logging_target_prefix_alone_touches_only_the_prefix() {
        let split = "resource \"aws_s3_bucket_logging\" \"logs\" {\n  bucket        = aws_s3_bucket.logs.id\n  target_bucket = aws_s3_bucket.central.id\n  target_prefix = \"old/\"\n}\n";
        let src = after_bucket(BUCKET, split);
        let out =
            fixed_with(&Logging, &[("main.tf", &src), V5], &[("targetPrefix", "s3/acme-logs/")], &Policy::default());
        assert_eq!(out, src.replace("\"old/\"", "\"s3/acme-logs/\""));
    }

    #[test]
    fn logging_wrong_literal_target_is_replaced() {
        let inline = with_lines(
            "  logging {\n    target_bucket = \"old-logs\" # to be retired\n    target_prefix = \"s3/acme-logs/\"\n  }\n",
        );
        let out =
            fixed_with(&Logging, &[("main.tf", &inline), V3], &[("targetBucket", "new-logs")], &Policy::default());
        assert_eq!(out, inline.replace("\"old-logs\"", "\"new-logs\""));
    }

    // ---- catalog wiring ----

    #[test]
    fn event_names_resolve_to_these_rules() {
        let name = |n: &str| crate::catalog::by_event_name(n).map(|r| r.meta().identifier);
        assert_eq!(
            name("securityhub-s3-default-encryption-kms-1a2b"),
            Some("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
        );
        assert_eq!(
            name("s3-bucket-public-read-prohibited-conformance-pack-x"),
            Some("S3_BUCKET_PUBLIC_READ_PROHIBITED")
        );
        assert_eq!(
            crate::catalog::by_security_control("S3.9").map(|r| r.meta().name),
            Some("s3-bucket-logging-enabled")
        );
    }
}
