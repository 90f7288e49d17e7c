//! Security groups: no ingress from the whole internet to SSH or other blocked ports (R-SG1).
//!
//! One finding on a security group can come from any of the places Terraform lets a rule be written:
//! `ingress {}` blocks (literal or `dynamic`) in the group, `aws_security_group_rule` resources and
//! `aws_vpc_security_group_ingress_rule` resources pointing at it. The rules here read every one of
//! those through a single view ([`Perm`]), judge them with one port test ([`covered`]) and edit the form
//! that exists, never adding a second one (the provider warns against mixing them). The fix narrows
//! by *source*: it takes `0.0.0.0/0` / `::/0` out of the offending rule (or swaps it for the policy's
//! allow-list) and leaves ports, other rules and every other byte alone. Anything the bot cannot read
//! as a literal, or cannot change without touching other rules, becomes advice instead.

use super::{
    Advice, Check, Context, Fix, Params, RemedyKind, Risk, Rule, RuleMeta, Target, not_literal_advice, where_is,
};
use crate::policy::Policy;
use crate::terraform::edit::{self, Edit, EditError};
use crate::terraform::index::{Repetition, ResourceId};
use crate::terraform::literal::{self, NotLiteral};
use crate::terraform::workspace::{FileId, Workspace};
use hcl_edit::Span;
use hcl_edit::expr::{Array, Expression, ObjectKey, TraversalOperator};
use hcl_edit::structure::{Attribute, Block, Body};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub static RULES: &[&dyn Rule] = &[&RESTRICTED_SSH, &RESTRICTED_COMMON_PORTS];

/// INCOMING_SSH_DISABLED: port 22 must not be reachable from 0.0.0.0/0 or ::/0.
pub static RESTRICTED_SSH: OpenPorts = OpenPorts { meta: &SSH, ports: Ports::Fixed(&[22]) };

/// RESTRICTED_INCOMING_TRAFFIC: the `blockedPort1..5` ports must not be reachable from the world.
pub static RESTRICTED_COMMON_PORTS: OpenPorts = OpenPorts { meta: &COMMON_PORTS, ports: Ports::Params };

static SSH: RuleMeta = RuleMeta {
    identifier: "INCOMING_SSH_DISABLED",
    name: "restricted-ssh",
    aliases: &[],
    security_controls: &["EC2.13"],
    config_types: &["AWS::EC2::SecurityGroup"],
    terraform_types: &["aws_security_group", "aws_default_security_group"],
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "close SSH to the internet",
    explanation: "SSH (port 22) open to 0.0.0.0/0 or ::/0 lets anyone on the internet try to log in; the fix removes the world-open source from that rule, or narrows it to the policy's allow-list. SSH connections from the removed sources stop working.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/restricted-ssh.html",
    checkov: &["CKV_AWS_24"],
    params: &[],
};

static COMMON_PORTS: RuleMeta = RuleMeta {
    identifier: "RESTRICTED_INCOMING_TRAFFIC",
    name: "restricted-common-ports",
    aliases: &["vpc-sg-restricted-common-ports"],
    security_controls: &["EC2.19"],
    config_types: &["AWS::EC2::SecurityGroup"],
    terraform_types: &["aws_security_group", "aws_default_security_group"],
    risk: Risk::Medium,
    remedy: RemedyKind::Fix,
    title: "close high-risk ports to the internet",
    explanation: "Ports such as FTP (20, 21), RDP (3389) and MySQL (3306) should not accept TCP traffic from 0.0.0.0/0 or ::/0; the fix removes the world-open source from the offending rules, or narrows it to the policy's allow-list. Connections from the removed sources stop working.",
    docs_url: "https://docs.aws.amazon.com/config/latest/developerguide/restricted-common-ports.html",
    checkov: &["CKV_AWS_25", "CKV_AWS_277"],
    params: &["blockedPort1", "blockedPort2", "blockedPort3", "blockedPort4", "blockedPort5", "blockedPorts"],
};

/// `blockedPortN` parameters with the AWS default each one has when unset.
const PORT_PARAMS: [(&str, u16); 5] = [
    ("blockedPort1", 20),
    ("blockedPort2", 21),
    ("blockedPort3", 3389),
    ("blockedPort4", 3306),
    ("blockedPort5", 4333),
];

/// Where a rule's blocked ports come from.
enum Ports {
    Fixed(&'static [u16]),
    /// `blockedPort1..5` (each with its own default) plus the CSV `blockedPorts`.
    Params,
}

/// One Config rule of the family: "these TCP ports must not be open to the world".
pub struct OpenPorts {
    meta: &'static RuleMeta,
    ports: Ports,
}

impl OpenPorts {
    fn blocked(&self, params: &Params) -> Result<Vec<u16>, Advice> {
        match self.ports {
            Ports::Fixed(p) => Ok(p.to_vec()),
            Ports::Params => params_ports(params),
        }
    }
}

/// The ports restricted-common-ports blocks: `blockedPort1..5` (each replacing its own default) and
/// `blockedPorts`.
pub(crate) fn params_ports(params: &Params) -> Result<Vec<u16>, Advice> {
    let mut out = Vec::new();
    for (key, default) in PORT_PARAMS {
        let port = params.get(key).map_or(Ok(default), |v| parse_port(key, v))?;
        if !out.contains(&port) {
            out.push(port);
        }
    }
    for v in params.list("blockedPorts") {
        let port = parse_port("blockedPorts", &v)?;
        if !out.contains(&port) {
            out.push(port);
        }
    }
    Ok(out)
}

fn parse_port(key: &str, value: &str) -> Result<u16, Advice> {
    value.trim().parse::<u16>().map_err(|_| {
        Advice::new(
            format!("the rule parameter `{key}` is `{value}`, which is not a TCP port (0-65535)"),
            [format!(
                "Correct `{key}` in the Config rule's InputParameters (or the `--param {key}=…` given to driftfix)."
            )],
        )
    })
}

impl Rule for OpenPorts {
    fn meta(&self) -> &'static RuleMeta {
        self.meta
    }

    fn check(&self, cx: &Context, t: &Target) -> Check {
        let blocked = match self.blocked(cx.params) {
            Ok(b) => b,
            Err(a) => return Check::Undecidable(a),
        };
        let perms = collect(cx, t, &blocked);
        let mut open = Vec::new();
        let mut unknown = None;
        for p in &perms {
            match p.verdict() {
                Verdict::Fine => {}
                Verdict::Open(ports) => {
                    open.push(format!("{} opens {} to {}", p.label(cx), ports_text(ports), join_and(&p.world())))
                }
                Verdict::Unknown(u) => {
                    unknown.get_or_insert(u);
                }
            }
        }
        match unknown {
            _ if !open.is_empty() => Check::Violation(open.join("; ")),
            Some(u) => Check::Undecidable(unknown_advice(cx, t, u, &blocked)),
            None => Check::Compliant,
        }
    }

    fn fix(&self, cx: &Context, t: &Target) -> Fix {
        let blocked = match self.blocked(cx.params) {
            Ok(b) => b,
            Err(a) => return Fix::Advice(a),
        };
        let perms = collect(cx, t, &blocked);
        let mut changes = Vec::new();
        let mut advice = Vec::new();
        for p in &perms {
            match p.verdict() {
                Verdict::Fine => {}
                Verdict::Unknown(u) => advice.push(unknown_advice(cx, t, u, &blocked)),
                Verdict::Open(ports) => match plan(cx, t, p, ports) {
                    Ok(c) => changes.push(c),
                    Err(a) => advice.push(a),
                },
            }
        }
        if !advice.is_empty() {
            return Fix::Advice(merge_advice(advice, &changes));
        }
        if changes.is_empty() {
            return Fix::Advice(Advice::new(
                format!("no ingress rule of this security group opens {} to the internet", ports_text(&blocked)),
                [],
            ));
        }
        assemble(cx.ws, changes)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading permissions
// ---------------------------------------------------------------------------------------------

/// A value the bot will not evaluate (boxed: results carrying it stay small).
type Unknown = Box<Unresolved>;

/// A value the bot will not evaluate, and which argument of which resource holds it.
#[derive(Debug, Clone)]
struct Unresolved {
    owner: ResourceId,
    /// The argument as users write it: `ingress.cidr_blocks`, `cidr_blocks`, `dynamic "ingress" for_each`.
    what: String,
    nl: NotLiteral,
    /// An extra step for the advice (dynamic blocks explain what to change in their elements).
    extra: Option<String>,
}

/// Where one ingress permission is written.
#[derive(Debug, Clone, Copy)]
enum Form<'a> {
    /// `ingress { … }` in the group.
    Inline(&'a Block),
    /// Element `idx` of the literal `for_each` list of a `dynamic "ingress"` block.
    Element { list: &'a Array, idx: usize },
    /// A `dynamic "ingress"` block fed from something the bot cannot read.
    Generated,
    /// `aws_security_group_rule` (CIDR lists).
    RuleResource(ResourceId),
    /// `aws_vpc_security_group_ingress_rule` (one CIDR per resource).
    VpcRule(ResourceId),
}

/// A written source list (`cidr_blocks`) or single source (`cidr_ipv4`).
#[derive(Debug)]
struct Sources<'a> {
    attr: &'static str,
    /// The argument line; `None` inside a `for_each` element (the key stays, as `content` reads it).
    decl: Option<&'a Attribute>,
    /// Written in a `dynamic` block's `content`: shared by every generated rule.
    template: bool,
    expr: &'a Expression,
    /// Literal values, one per element of `expr` (`expr` itself for a single source).
    items: Vec<Result<String, Unknown>>,
}

impl Sources<'_> {
    fn values(&self) -> Vec<&str> {
        self.items.iter().map(|i| i.as_deref().unwrap_or("")).collect()
    }

    fn array(&self) -> Option<&Array> {
        match self.expr {
            Expression::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// One ingress permission, wherever and however it is written.
#[derive(Debug)]
struct Perm<'a> {
    form: Form<'a>,
    file: FileId,
    /// `main.tf:14`.
    at: String,
    /// Blocked ports the permission opens, if its protocol and ports are literal.
    covered: Result<Vec<u16>, Unknown>,
    /// "port 22", "ports 0-65535", "all ports" (`None` when unknown or irrelevant).
    range: Option<String>,
    sources: Vec<Result<Sources<'a>, Unknown>>,
    /// Non-CIDR sources present (`security_groups`, `self`, …): the rule keeps them.
    others: Vec<&'static str>,
    repeated: bool,
}

enum Verdict<'p> {
    Fine,
    Open(&'p [u16]),
    Unknown(&'p Unknown),
}

impl Perm<'_> {
    fn world(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.sources.iter().flatten() {
            for v in s.values() {
                if is_world(v) && !out.iter().any(|o| o == v) {
                    out.push(v.to_owned());
                }
            }
        }
        out
    }

    fn first_unknown(&self) -> Option<&Unknown> {
        self.sources.iter().find_map(|s| match s {
            Err(u) => Some(u),
            Ok(s) => s.items.iter().find_map(|i| i.as_ref().err()),
        })
    }

    /// Offending when a blocked port is covered and a source is the world; unknown when either
    /// could be and is not literal.
    fn verdict(&self) -> Verdict<'_> {
        let world = !self.world().is_empty();
        match &self.covered {
            Ok(p) if p.is_empty() => Verdict::Fine,
            Ok(p) if world => Verdict::Open(p),
            Ok(_) => self.first_unknown().map_or(Verdict::Fine, Verdict::Unknown),
            Err(_) if !world && self.first_unknown().is_none() => Verdict::Fine,
            Err(u) => Verdict::Unknown(u),
        }
    }

    fn label(&self, cx: &Context) -> String {
        let range = self.range.as_deref().map(|r| format!(" for {r}")).unwrap_or_default();
        match self.form {
            Form::Inline(_) => format!("the ingress rule{range} at {}", self.at),
            Form::Element { .. } => {
                format!("the `dynamic \"ingress\"` element{range} at {}", self.at)
            }
            Form::Generated => format!("the `dynamic \"ingress\"` block at {}", self.at),
            Form::RuleResource(id) | Form::VpcRule(id) => {
                let r = self.range.as_deref().map(|r| format!("{r}, ")).unwrap_or_default();
                format!("`{}` ({r}{})", cx.index.resource(id).local_address(), self.at)
            }
        }
    }
}

/// The argument names of one form of ingress rule.
struct Keys {
    protocol: &'static str,
    /// Source arguments holding CIDRs, and whether each holds one CIDR rather than a list.
    cidrs: &'static [(&'static str, bool)],
    others: &'static [&'static str],
}

const INLINE: Keys = Keys {
    protocol: "protocol",
    cidrs: &[("cidr_blocks", false), ("ipv6_cidr_blocks", false)],
    others: &["security_groups", "self", "prefix_list_ids"],
};

const RULE_RESOURCE: Keys = Keys {
    protocol: "protocol",
    cidrs: &[("cidr_blocks", false), ("ipv6_cidr_blocks", false)],
    others: &["source_security_group_id", "self", "prefix_list_ids"],
};

const VPC_RULE: Keys = Keys {
    protocol: "ip_protocol",
    cidrs: &[("cidr_ipv4", true), ("cidr_ipv6", true)],
    others: &["referenced_security_group_id", "prefix_list_id"],
};

/// Every ingress permission of the target group, in file order: its own blocks first, then the
/// rule resources attached to it.
fn collect<'a>(cx: &'a Context, t: &Target, blocked: &[u16]) -> Vec<Perm<'a>> {
    let mut out = Vec::new();
    let file = cx.file_of(t.resource);
    for nb in literal::nested_blocks(&cx.block(t.resource).body, "ingress") {
        if nb.dynamic {
            dynamic_perms(cx, t.resource, nb.block, blocked, &mut out);
        } else {
            let view = View { body: &nb.block.body, owner: t.resource, prefix: "ingress.", dynamic: None };
            let at = cx.at(file, nb.block.span().map_or(0, |s| s.start));
            out.push(build(&view, &INLINE, Form::Inline(nb.block), file, at, blocked));
        }
    }
    for id in cx.index.companions(cx.ws, t.resource, "aws_security_group_rule", "security_group_id") {
        let view = View { body: &cx.block(id).body, owner: id, prefix: "", dynamic: None };
        let kind = view.string("type");
        if matches!(&kind, Ok(k) if k.as_deref() != Some("ingress")) {
            continue;
        }
        let mut p = build(&view, &RULE_RESOURCE, Form::RuleResource(id), cx.file_of(id), where_is(cx, id), blocked);
        if let Err(u) = kind {
            p.covered = Err(u);
        }
        p.repeated = cx.index.resource(id).repetition != Repetition::Single;
        out.push(p);
    }
    for id in cx.index.companions(cx.ws, t.resource, "aws_vpc_security_group_ingress_rule", "security_group_id") {
        let view = View { body: &cx.block(id).body, owner: id, prefix: "", dynamic: None };
        let mut p = build(&view, &VPC_RULE, Form::VpcRule(id), cx.file_of(id), where_is(cx, id), blocked);
        p.repeated = cx.index.resource(id).repetition != Repetition::Single;
        out.push(p);
    }
    out
}

/// One permission per element of a literal `for_each` list; one for the whole block otherwise.
fn dynamic_perms<'a>(cx: &'a Context, owner: ResourceId, block: &'a Block, blocked: &[u16], out: &mut Vec<Perm<'a>>) {
    let file = cx.file_of(owner);
    let Some(content) = block.body.blocks().find(|b| b.ident.value().as_str() == "content") else {
        return;
    };
    let Some(for_each) = block.body.get_attribute("for_each") else {
        return;
    };
    let iter = match block.body.get_attribute("iterator").map(|a| &a.value) {
        Some(Expression::Variable(v)) => v.value().as_str().to_owned(),
        _ => "ingress".to_owned(),
    };
    let block_at = cx.at(file, block.span().map_or(0, |s| s.start));
    if let Expression::Array(list) = &for_each.value {
        for (idx, elem) in list.iter().enumerate() {
            let dynamic = Some(Dyn { iter: iter.clone(), elem: Ok(elem) });
            let view = View { body: &content.body, owner, prefix: "ingress.", dynamic };
            let at = cx.at(file, elem.span().map_or(0, |s| s.start));
            out.push(build(&view, &INLINE, Form::Element { list, idx }, file, at, blocked));
        }
        return;
    }
    let extra = generated_step(&content.body, &block_at, &for_each.value, blocked);
    let unknown = Box::new(Unresolved {
        owner,
        what: "dynamic \"ingress\" for_each".into(),
        nl: literal::not_literal(&for_each.value),
        extra: Some(extra),
    });
    let view = View { body: &content.body, owner, prefix: "ingress.", dynamic: Some(Dyn { iter, elem: Err(unknown) }) };
    out.push(build(&view, &INLINE, Form::Generated, file, block_at, blocked));
}

/// What to do about a `dynamic "ingress"` block whose elements the bot cannot see.
fn generated_step(content: &Body, at: &str, for_each: &Expression, blocked: &[u16]) -> String {
    let ports = ports_text(blocked);
    let hard_coded = INLINE.cidrs.iter().find(|(k, _)| {
        matches!(literal::attr(content, k), Some(Ok(Value::Array(v))) if v.iter().any(|c| c.as_str().is_some_and(is_world)))
    });
    match hard_coded {
        Some((k, _)) => format!(
            "The `dynamic \"ingress\"` block at {at} hard-codes a world-open `{k}` in its `content`, so editing the template would change every rule it generates: move the rules for {ports} into their own block (or take `{k}` from each element of `{}`) and drop 0.0.0.0/0 and ::/0 there.",
            literal::expr_text(for_each)
        ),
        None => format!(
            "The `dynamic \"ingress\"` block at {at} generates one rule per element of `{}`: remove 0.0.0.0/0 and ::/0 from the elements that open {ports} (or narrow them to your allow-list), leaving the other elements and the `content` template as they are.",
            literal::expr_text(for_each)
        ),
    }
}

fn build<'a>(view: &View<'a>, keys: &Keys, form: Form<'a>, file: FileId, at: String, blocked: &[u16]) -> Perm<'a> {
    let (covered, range) = match covered(view, keys.protocol, blocked) {
        Ok((ports, range)) => (Ok(ports), range),
        Err(u) => (Err(u), None),
    };
    Perm {
        form,
        file,
        at,
        covered,
        range,
        sources: keys.cidrs.iter().filter_map(|(k, single)| view.sources(k, *single)).collect(),
        others: keys.others.iter().copied().filter(|k| view.present(k)).collect(),
        repeated: false,
    }
}

enum Proto {
    All,
    Tcp,
    Other,
}

fn protocol(p: &str) -> Proto {
    match p.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => Proto::All,
        "tcp" | "6" => Proto::Tcp,
        _ => Proto::Other,
    }
}

/// The port test shared by both rules: which of `blocked` a permission opens, and how to name its
/// range. `-1`/`all` opens every port; TCP opens `from_port..=to_port`; other protocols none.
fn covered(view: &View, proto_key: &str, blocked: &[u16]) -> Result<(Vec<u16>, Option<String>), Unknown> {
    let Some(proto) = view.string(proto_key)? else {
        return Ok((Vec::new(), None));
    };
    match protocol(&proto) {
        Proto::Other => Ok((Vec::new(), None)),
        Proto::All => Ok((blocked.to_vec(), Some("all ports".into()))),
        Proto::Tcp => {
            let (lo, hi) = match (view.int("from_port")?, view.int("to_port")?) {
                (Some(f), Some(t)) => (f, t),
                (Some(p), None) | (None, Some(p)) => (p, p),
                (None, None) => return Ok((Vec::new(), None)),
            };
            let ports = blocked.iter().copied().filter(|p| (lo..=hi).contains(&i64::from(*p))).collect();
            let range = if lo == hi { format!("port {lo}") } else { format!("ports {lo}-{hi}") };
            Ok((ports, Some(range)))
        }
    }
}

/// A `dynamic` block's iterator name and the current `for_each` element.
struct Dyn<'a> {
    iter: String,
    elem: Result<&'a Expression, Unknown>,
}

/// Reads one permission's arguments, straight from a block or through a `dynamic` block's `content`,
/// where `<iterator>.value.<key>` is looked up in the current `for_each` element.
struct View<'a> {
    body: &'a Body,
    owner: ResourceId,
    /// Prepended to argument names in advice (`ingress.`).
    prefix: &'static str,
    dynamic: Option<Dyn<'a>>,
}

/// Where an argument's value is written.
struct Src<'a> {
    expr: &'a Expression,
    decl: Option<&'a Attribute>,
    template: bool,
}

impl<'a> View<'a> {
    fn unknown(&self, key: &str, nl: NotLiteral) -> Unknown {
        Box::new(Unresolved { owner: self.owner, what: format!("{}{key}", self.prefix), nl, extra: None })
    }

    fn get(&self, key: &str) -> Option<Result<Src<'a>, Unknown>> {
        let a = self.body.get_attribute(key)?;
        let Some(d) = &self.dynamic else {
            return Some(Ok(Src { expr: &a.value, decl: Some(a), template: false }));
        };
        Some(match iterator_path(&a.value, &d.iter) {
            Some(path) => d.elem.clone().and_then(|e| self.lookup(e, &path, key, &a.value)),
            None => Ok(Src { expr: &a.value, decl: Some(a), template: true }),
        })
    }

    /// Follow `path` into a `for_each` element (a literal object).
    fn lookup(&self, elem: &'a Expression, path: &[String], key: &str, at: &Expression) -> Result<Src<'a>, Unknown> {
        let mut e = elem;
        for k in path {
            let found = match e {
                Expression::Object(o) => {
                    o.iter().find(|(ok, _)| object_key(ok).as_deref() == Some(k)).map(|(_, v)| v.expr())
                }
                _ => None,
            };
            e = found.ok_or_else(|| {
                self.unknown(
                    key,
                    NotLiteral {
                        kind: format!("a key (`{k}`) the `for_each` element does not have"),
                        text: literal::expr_text(at),
                        span: elem.span(),
                    },
                )
            })?;
        }
        Ok(Src { expr: e, decl: None, template: false })
    }

    fn value(&self, key: &str) -> Result<Option<Value>, Unknown> {
        match self.get(key) {
            None => Ok(None),
            Some(Err(u)) => Err(u),
            Some(Ok(src)) => literal::eval(src.expr).map(Some).map_err(|nl| self.unknown(key, nl)),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, Unknown> {
        Ok(match self.value(key)? {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    }

    fn int(&self, key: &str) -> Result<Option<i64>, Unknown> {
        Ok(match self.value(key)? {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        })
    }

    /// A non-CIDR source counts as present unless it is literally empty, `false` or `null`.
    fn present(&self, key: &str) -> bool {
        match self.value(key) {
            Ok(None | Some(Value::Null | Value::Bool(false))) => false,
            Ok(Some(Value::Array(a))) => !a.is_empty(),
            Ok(Some(Value::String(s))) => !s.is_empty(),
            Ok(Some(_)) | Err(_) => true,
        }
    }

    fn sources(&self, key: &'static str, single: bool) -> Option<Result<Sources<'a>, Unknown>> {
        let src = match self.get(key)? {
            Ok(s) => s,
            Err(u) => return Some(Err(u)),
        };
        let item = |e: &Expression| match literal::eval(e) {
            Ok(Value::String(s)) => Ok(s),
            Ok(other) => Ok(other.to_string()),
            Err(nl) => Err(self.unknown(key, nl)),
        };
        let items = match (src.expr, single) {
            (Expression::Null(_), _) => return None,
            (Expression::Array(a), false) => a.iter().map(item).collect(),
            (e, true) => vec![item(e)],
            (e, false) => match literal::eval(e) {
                Ok(Value::Null) => return None,
                Ok(_) => vec![Err(self.unknown(
                    key,
                    NotLiteral { kind: "not a list".into(), text: literal::expr_text(e), span: e.span() },
                ))],
                Err(nl) => return Some(Err(self.unknown(key, nl))),
            },
        };
        Some(Ok(Sources { attr: key, decl: src.decl, template: src.template, expr: src.expr, items }))
    }
}

fn object_key(k: &ObjectKey) -> Option<String> {
    match k {
        ObjectKey::Ident(i) => Some(i.value().as_str().to_owned()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().clone()),
        ObjectKey::Expression(_) => None,
    }
}

/// `ingress.value.a.b` (or `ingress.value["a"]`) → `["a", "b"]`; `None` for anything else.
fn iterator_path(expr: &Expression, iter: &str) -> Option<Vec<String>> {
    let Expression::Traversal(t) = expr else {
        return None;
    };
    let Expression::Variable(v) = &t.expr else {
        return None;
    };
    if v.value().as_str() != iter {
        return None;
    }
    let mut ops = t.operators.iter().map(|o| o.value());
    match ops.next()? {
        TraversalOperator::GetAttr(i) if i.value().as_str() == "value" => {}
        _ => return None,
    }
    ops.map(|op| match op {
        TraversalOperator::GetAttr(i) => Some(i.value().as_str().to_owned()),
        TraversalOperator::Index(Expression::String(s)) => Some(s.value().clone()),
        _ => None,
    })
    .collect()
}

/// A CIDR covering every address of its family (`0.0.0.0/0`, `::/0`).
fn is_world(cidr: &str) -> bool {
    cidr.trim().split_once('/').is_some_and(|(addr, len)| len == "0" && addr.parse::<std::net::IpAddr>().is_ok())
}

fn is_v6(cidr: &str) -> bool {
    cidr.contains(':')
}

// ---------------------------------------------------------------------------------------------
// Planning the fix
// ---------------------------------------------------------------------------------------------

/// The edits for one permission, and what they do in words (past tense for notes, imperative for
/// advice steps when another permission turns the whole fix into advice).
struct Change<'a> {
    edits: Vec<Edit>,
    /// Remove element `idx` of a `for_each` list (merged per list, so neighbours never overlap).
    drop: Option<(FileId, &'a Array, usize)>,
    notes: Vec<(String, String)>,
}

fn say(past: &str, imperative: &str, rest: &str) -> (String, String) {
    (format!("{past} {rest}"), format!("{imperative} {rest}"))
}

/// CIDRs the policy allows for every port in `ports` (the intersection), if it names them all.
fn allowed(policy: &Policy, ports: &[u16]) -> Option<Vec<String>> {
    let mut lists = ports.iter().map(|p| policy.allowed_cidrs(*p));
    let mut acc: Vec<String> = lists.next()??.to_vec();
    for l in lists {
        let l = l?;
        acc.retain(|c| l.contains(c));
    }
    Some(acc)
}

fn plan<'a>(cx: &Context, t: &Target, p: &Perm<'a>, ports: &[u16]) -> Result<Change<'a>, Advice> {
    if let Some(u) = p.first_unknown() {
        return Err(unknown_advice(cx, t, u, ports));
    }
    if p.repeated {
        return Err(repeated_advice(cx, p, ports));
    }
    if let Some(s) = p.sources.iter().flatten().find(|s| s.template && s.values().iter().any(|v| is_world(v))) {
        return Err(template_advice(cx, p, s, ports));
    }
    let allow = allowed(cx.policy, ports);
    match p.form {
        Form::VpcRule(_) => plan_single(cx, p, ports, allow.as_deref()),
        _ => plan_lists(cx, p, ports, allow.as_deref()),
    }
}

/// Per list: which items go, which are swapped for allowed CIDRs.
struct ListPlan<'s, 'a> {
    sources: &'s Sources<'a>,
    remove: BTreeSet<usize>,
    replace: BTreeMap<usize, Vec<String>>,
}

fn plan_lists<'a>(cx: &Context, p: &Perm<'a>, ports: &[u16], allow: Option<&[String]>) -> Result<Change<'a>, Advice> {
    let mut gone = Vec::new();
    let mut swapped: Vec<(String, Vec<String>)> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    let mut plans = Vec::new();
    for s in p.sources.iter().flatten() {
        let values = s.values();
        let mut lp = ListPlan { sources: s, remove: BTreeSet::new(), replace: BTreeMap::new() };
        for (i, v) in values.iter().enumerate() {
            if !is_world(v) {
                kept.push((*v).to_owned());
                continue;
            }
            let with: Vec<String> = allow
                .unwrap_or_default()
                .iter()
                .filter(|c| is_v6(c) == is_v6(v) && !values.contains(&c.as_str()))
                .cloned()
                .collect();
            if with.is_empty() {
                lp.remove.insert(i);
                gone.push((*v).to_owned());
            } else {
                kept.extend(with.iter().cloned());
                swapped.push(((*v).to_owned(), with.clone()));
                lp.replace.insert(i, with);
            }
        }
        if !lp.remove.is_empty() || !lp.replace.is_empty() {
            plans.push(lp);
        }
    }
    let label = p.label(cx);
    if kept.is_empty() && p.others.is_empty() {
        return remove_whole(cx, p, &label, &gone);
    }
    let mut edits = Vec::new();
    for lp in &plans {
        edits.extend(list_edits(cx.ws, p.file, lp).map_err(edit_advice)?);
    }
    let mut notes = Vec::new();
    if !gone.is_empty() {
        let mut keeps: Vec<String> = Vec::new();
        for k in kept.iter().cloned().chain(p.others.iter().map(|o| format!("`{o}`"))) {
            if !keeps.contains(&k) {
                keeps.push(k);
            }
        }
        let rest = format!("{} from {label} (the rule keeps {}).", join_and(&gone), join_and(&keeps));
        notes.push(say("Removed", "Remove", &rest));
    }
    for (from, to) in swapped {
        let rest = format!("{from} with {} in {label}, as the policy allows for {}.", join_and(&to), ports_text(ports));
        notes.push(say("Replaced", "Replace", &rest));
    }
    Ok(Change { edits, drop: None, notes })
}

fn list_edits(ws: &Workspace, file: FileId, lp: &ListPlan) -> Result<Vec<Edit>, EditError> {
    let s = lp.sources;
    let emptied = lp.replace.is_empty() && lp.remove.len() == s.items.len();
    if let (true, Some(decl), false) = (emptied, s.decl, s.template) {
        return Ok(vec![edit::remove_attribute(ws, file, decl)?]);
    }
    let Some(array) = s.array() else {
        return Err(EditError::NoSpan("a list"));
    };
    splice_array(ws, file, array, &lp.remove, &lp.replace)
}

/// `aws_vpc_security_group_ingress_rule`: one CIDR per resource, so swap it for the single allowed
/// CIDR of its family, or remove the resource; several allowed CIDRs need new resources (advice).
fn plan_single<'a>(cx: &Context, p: &Perm<'a>, ports: &[u16], allow: Option<&[String]>) -> Result<Change<'a>, Advice> {
    let label = p.label(cx);
    let Some(s) = p.sources.iter().flatten().find(|s| s.values().iter().any(|v| is_world(v))) else {
        return Err(Advice::new(format!("{label} has no world-open source to change"), []));
    };
    let world = s.values().first().map(|v| (*v).to_owned()).unwrap_or_default();
    let family: Vec<String> = allow.unwrap_or_default().iter().filter(|c| is_v6(c) == is_v6(&world)).cloned().collect();
    match family.as_slice() {
        [] => remove_whole(cx, p, &label, &[world]),
        [one] => {
            let e = edit::replace_span(p.file, s.expr.span(), edit::quote(one)).map_err(edit_advice)?;
            let rest = format!(
                "`{}` of {label} to {one} instead of {world}, as the policy allows for {}.",
                s.attr,
                ports_text(ports)
            );
            Ok(Change { edits: vec![e], drop: None, notes: vec![say("Set", "Set", &rest)] })
        }
        [first, others @ ..] => Err(several_cidrs_advice(cx, p, s, first, others, ports)),
    }
}

/// Remove the permission itself: its `ingress` block, its rule resource, or its `for_each` element.
fn remove_whole<'a>(cx: &Context, p: &Perm<'a>, label: &str, gone: &[String]) -> Result<Change<'a>, Advice> {
    let rest = format!(
        "{label}: its only {} {}.",
        if gone.len() == 1 { "source was" } else { "sources were" },
        join_and(gone)
    );
    let notes = vec![say("Removed", "Remove", &rest)];
    let edit = match p.form {
        Form::Inline(b) => edit::remove_block(cx.ws, p.file, b),
        Form::RuleResource(id) | Form::VpcRule(id) => edit::remove_block(cx.ws, p.file, cx.block(id)),
        Form::Element { list, idx } => {
            return Ok(Change { edits: Vec::new(), drop: Some((p.file, list, idx)), notes });
        }
        Form::Generated => {
            return Err(Advice::new(format!("{label} cannot be removed element by element"), []));
        }
    };
    Ok(Change { edits: vec![edit.map_err(edit_advice)?], drop: None, notes })
}

/// Merge removals that touch or overlap (neighbouring blocks removed together) into one splice, and
/// take the blank line a removal would leave right before a closing `}`.
fn coalesce(ws: &Workspace, mut edits: Vec<Edit>) -> Vec<Edit> {
    edits.sort_by_key(|e| (e.file, e.range.start, e.range.end));
    let mut out: Vec<Edit> = Vec::with_capacity(edits.len());
    for e in edits {
        match out.last_mut() {
            Some(prev)
                if prev.file == e.file
                    && prev.text.is_empty()
                    && e.text.is_empty()
                    && e.range.start <= prev.range.end
                    && !prev.range.is_empty() =>
            {
                prev.range.end = prev.range.end.max(e.range.end);
            }
            _ => out.push(e),
        }
    }
    for e in out.iter_mut().filter(|e| e.text.is_empty()) {
        let text = &ws.file(e.file).text;
        let closes = text.get(e.range.end..).is_some_and(|t| t.trim_start_matches([' ', '\t']).starts_with('}'));
        if closes && text.get(..e.range.start).is_some_and(|t| t.ends_with("\n\n")) {
            e.range.start -= 1;
        }
    }
    out
}

/// Collect every change into one fix, merging `for_each` element removals per list, and prove the
/// splices apply.
fn assemble(ws: &Workspace, changes: Vec<Change>) -> Fix {
    let mut edits = Vec::new();
    let mut notes = Vec::new();
    let mut drops: BTreeMap<(FileId, usize), (&Array, BTreeSet<usize>)> = BTreeMap::new();
    for c in changes {
        edits.extend(c.edits);
        notes.extend(c.notes.into_iter().map(|(past, _)| past));
        if let Some((file, list, idx)) = c.drop {
            let key = (file, list.span().map_or(0, |s| s.start));
            drops.entry(key).or_insert_with(|| (list, BTreeSet::new())).1.insert(idx);
        }
    }
    for ((file, _), (list, idx)) in drops {
        match splice_array(ws, file, list, &idx, &BTreeMap::new()) {
            Ok(e) => edits.extend(e),
            Err(e) => return Fix::Advice(edit_advice(e)),
        }
    }
    let edits = coalesce(ws, edits);
    if let Err(e) = edit::apply(ws, &edits) {
        return Fix::Advice(edit_advice(e));
    }
    Fix::Edits { edits, notes }
}

/// Remove and replace items of one literal list without overlapping splices; a list left with no
/// item becomes `[]`.
fn splice_array(
    ws: &Workspace,
    file: FileId,
    array: &Array,
    remove: &BTreeSet<usize>,
    replace: &BTreeMap<usize, Vec<String>>,
) -> Result<Vec<Edit>, EditError> {
    let n = array.len();
    if replace.is_empty() && remove.len() == n {
        return Ok(vec![edit::replace_span(file, array.span(), "[]")?]);
    }
    let mut edits = replace
        .iter()
        .map(|(i, with)| edit::replace_array_item(ws, file, array, *i, with))
        .collect::<Result<Vec<_>, _>>()?;
    let spans: Vec<_> =
        array.iter().map(|e| e.span().ok_or(EditError::NoSpan("an element"))).collect::<Result<_, _>>()?;
    let text = &ws.file(file).text;
    // An item alone on its lines goes with them (its comma and trailing comment included).
    let (own, inline): (Vec<usize>, Vec<usize>) =
        remove.iter().copied().partition(|&i| spans.get(i).and_then(|s| own_lines(text, s)).is_some());
    for i in own {
        if let Some(range) = spans.get(i).and_then(|s| own_lines(text, s)) {
            edits.push(Edit { file, range, text: String::new() });
        }
    }
    if let [only] = inline.as_slice() {
        edits.push(edit::remove_array_item(file, array, *only)?);
        return Ok(edits);
    }
    // Items followed by an item go with everything up to it; a trailing run goes with the separator
    // before it, in one splice, so two removals never share bytes.
    let mut tail = n;
    while tail > 0 && inline.contains(&(tail - 1)) {
        tail -= 1;
    }
    for &i in inline.iter().filter(|&&i| i < tail) {
        edits.push(Edit { file, range: spans[i].start..spans[i + 1].start, text: String::new() });
    }
    if tail < n && tail > 0 {
        edits.push(Edit { file, range: spans[tail - 1].end..spans[n - 1].end, text: String::new() });
    }
    Ok(edits)
}

/// The full lines of a list item written on lines of its own: `    { … }, # comment\n`.
fn own_lines(text: &str, span: &std::ops::Range<usize>) -> Option<std::ops::Range<usize>> {
    let start = edit::line_start(text, span.start);
    let end = edit::line_end(text, span.end);
    let after = text.get(span.end..end)?.trim();
    let after = after.strip_prefix(',').unwrap_or(after).trim_start();
    let alone = text.get(start..span.start)?.trim().is_empty()
        && (after.is_empty() || after.starts_with('#') || after.starts_with("//"));
    alone.then_some(start..end)
}

// ---------------------------------------------------------------------------------------------
// Advice
// ---------------------------------------------------------------------------------------------

fn edit_advice(e: EditError) -> Advice {
    Advice::new(format!("the edit could not be made safely: {e}"), [])
}

fn unknown_advice(cx: &Context, t: &Target, u: &Unknown, ports: &[u16]) -> Advice {
    let owner = Target { resource: u.owner, root: t.root.clone() };
    let wanted = format!("a value that opens {} to neither 0.0.0.0/0 nor ::/0", ports_text(ports));
    let mut a = not_literal_advice(cx, &owner, &u.what, &u.nl, &wanted);
    a.steps.extend(u.extra.clone());
    a
}

/// Where each world-open CIDR of a permission is written: "0.0.0.0/0 in `cidr_blocks` at main.tf:23".
fn world_sites(cx: &Context, p: &Perm) -> Vec<String> {
    p.sources
        .iter()
        .flatten()
        .flat_map(|s| {
            let line = cx.at(p.file, s.expr.span().map_or(0, |r| r.start));
            s.values()
                .into_iter()
                .filter(|v| is_world(v))
                .map(move |v| format!("{v} in `{}` at {line}", s.attr))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn repeated_advice(cx: &Context, p: &Perm, ports: &[u16]) -> Advice {
    let label = p.label(cx);
    Advice::new(
        format!(
            "{label} is repeated with `count`/`for_each`: one edit there changes every instance, so the bot leaves it to you"
        ),
        [format!(
            "Narrow {} for the instances that open {}: remove it, or replace it with the CIDRs allowed to reach {} (delete an instance that is left without any source).",
            join_and(&world_sites(cx, p)),
            ports_text(ports),
            if ports.len() == 1 { "that port" } else { "those ports" }
        )],
    )
}

fn template_advice(cx: &Context, p: &Perm, s: &Sources, ports: &[u16]) -> Advice {
    let line = cx.at(p.file, s.expr.span().map_or(0, |r| r.start));
    Advice::new(
        format!(
            "{} takes `{}` from the `content` of its `dynamic \"ingress\"` block, which hard-codes 0.0.0.0/0 or ::/0 for every generated rule: editing the template would change them all, not only the one for {}",
            p.label(cx),
            s.attr,
            ports_text(ports)
        ),
        [
            format!(
                "Give each `for_each` element its own `{0}` and read it in `content` at {line} (e.g. `{0} = ingress.value.{0}`), then drop 0.0.0.0/0 and ::/0 from the elements that open {1}.",
                s.attr,
                ports_text(ports)
            ),
            format!(
                "Or, if no rule of that block needs to be reachable from the whole internet, remove 0.0.0.0/0 and ::/0 from `{}` at {line}.",
                s.attr
            ),
        ],
    )
}

fn several_cidrs_advice(cx: &Context, p: &Perm, s: &Sources, first: &str, others: &[String], ports: &[u16]) -> Advice {
    let addr = match p.form {
        Form::VpcRule(id) => cx.index.resource(id).local_address(),
        _ => "the rule".to_owned(),
    };
    let line = cx.at(p.file, s.expr.span().map_or(0, |r| r.start));
    Advice::new(
        format!(
            "{} holds one CIDR per resource, and the policy allows {} CIDRs of that family for {}",
            p.label(cx),
            others.len() + 1,
            ports_text(ports)
        ),
        [
            format!("In {line}, set `{} = {}` on `{addr}`.", s.attr, edit::quote(first)),
            format!(
                "Add one `aws_vpc_security_group_ingress_rule` per other allowed CIDR ({}), copying `security_group_id`, `ip_protocol`, `from_port` and `to_port` from `{addr}`.",
                others.join(", ")
            ),
        ],
    )
}

/// One advice for the whole group: the first reason, every step (including the edits the bot would
/// have made itself, so a human can finish the job in one go).
fn merge_advice(advice: Vec<Advice>, changes: &[Change]) -> Advice {
    let more = advice.len().saturating_sub(1);
    let mut it = advice.into_iter();
    let Some(mut first) = it.next() else {
        return Advice::new("nothing to change", []);
    };
    for a in it {
        first.steps.push(format!("Also: {}.", a.reason));
        first.steps.extend(a.steps);
    }
    if more > 0 {
        first.reason = format!("{} (and {more} more rule(s) the bot cannot change; see the steps)", first.reason);
    }
    first.steps.extend(changes.iter().flat_map(|c| c.notes.iter().map(|(_, step)| step.clone())));
    first
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

fn ports_text(ports: &[u16]) -> String {
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    match list.as_slice() {
        [one] => format!("port {one}"),
        _ => format!("ports {}", join_and(&list)),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::testing::{Run, fixed, run};

    const SG: &str = r#"# Web tier
resource "aws_security_group" "web" {
  name        = "web"
  description = "web servers" # public

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  # SSH for admins
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"] # office + world
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;

    const ADDR: &str = "aws_security_group.web";

    fn policy(toml: &str) -> Policy {
        Policy::from_toml(toml).expect("test policy parses")
    }

    fn go(rule: &dyn Rule, files: &[(&str, &str)], params: &[(&str, &str)], policy: &Policy) -> Run {
        let r = run(rule, files, ADDR, params, policy);
        eprintln!("{r:#?}");
        r
    }

    fn notes(r: &Run) -> Vec<String> {
        match &r.fix {
            Some(Fix::Edits { notes, .. }) => notes.clone(),
            other => panic!("expected edits, got {other:#?}"),
        }
    }

    #[test]
    fn inline_rule_loses_only_the_world_cidr() {
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", SG)], ADDR, "main.tf");
        assert_eq!(out, SG.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] # office"#, r#"["10.0.0.0/8"] # office"#));
        let r = run(&RESTRICTED_SSH, &[("main.tf", SG)], ADDR, &[], &Policy::default());
        assert_eq!(
            notes(&r),
            ["Removed 0.0.0.0/0 from the ingress rule for port 22 at main.tf:15 (the rule keeps 10.0.0.0/8)."]
        );
    }

    #[test]
    fn world_only_rule_is_removed_and_its_neighbour_stays() {
        let src = SG.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] # office + world"#, r#"["0.0.0.0/0"]"#);
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", &src)], ADDR, "main.tf");
        let block = "  # SSH for admins\n  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = \"tcp\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n\n";
        assert!(src.contains(block));
        assert_eq!(out, src.replace(block, ""));
        let r = run(&RESTRICTED_SSH, &[("main.tf", &src)], ADDR, &[], &Policy::default());
        assert_eq!(notes(&r), ["Removed the ingress rule for port 22 at main.tf:15: its only source was 0.0.0.0/0."]);
    }

    #[test]
    fn policy_allow_list_replaces_the_world_cidr() {
        let src = SG.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] # office + world"#, r#"["0.0.0.0/0"]"#);
        let pol = policy(r#"ssh_allowed_cidrs = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]"#);
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &pol);
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(
            r.text("main.tf"),
            src.replace(
                r#"cidr_blocks = ["0.0.0.0/0"]
  }

  egress"#,
                r#"cidr_blocks = ["10.0.0.0/8", "192.168.0.0/16"]
  }

  egress"#
            )
        );
        assert_eq!(
            notes(&r),
            [
                "Replaced 0.0.0.0/0 with 10.0.0.0/8 and 192.168.0.0/16 in the ingress rule for port 22 at main.tf:15, as the policy allows for port 22."
            ]
        );
    }

    const SG_ONLY: &str = r#"resource "aws_security_group" "web" {
  name   = "web"
  vpc_id = var.vpc_id
}
"#;

    const RULES_TF: &str = r#"# Public SSH, to be closed
resource "aws_security_group_rule" "ssh" {
  type              = "ingress"
  security_group_id = aws_security_group.web.id
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "admin" {
  type              = "ingress"
  security_group_id = aws_security_group.web.id
  from_port         = 0
  to_port           = 65535
  protocol          = "tcp"
  cidr_blocks = [
    "10.1.0.0/16",
    "0.0.0.0/0",
  ]
}

resource "aws_security_group_rule" "out" {
  type              = "egress"
  security_group_id = aws_security_group.web.id
  from_port         = 22
  to_port           = 22
  protocol          = "tcp"
  cidr_blocks       = ["0.0.0.0/0"]
}
"#;

    #[test]
    fn rule_resources_are_removed_or_narrowed_in_their_own_file() {
        let files = [("main.tf", SG_ONLY), ("rules.tf", RULES_TF)];
        let out = fixed(&RESTRICTED_SSH, &files, ADDR, "rules.tf");
        let ssh = &RULES_TF[..RULES_TF.find("resource \"aws_security_group_rule\" \"admin\"").unwrap()];
        assert_eq!(
            out,
            RULES_TF.replace(ssh, "").replace("    \"10.1.0.0/16\",\n    \"0.0.0.0/0\",\n", "    \"10.1.0.0/16\",\n")
        );
        let r = run(&RESTRICTED_SSH, &files, ADDR, &[], &Policy::default());
        assert!(!r.changed.contains_key("main.tf"));
        assert_eq!(
            notes(&r),
            [
                "Removed `aws_security_group_rule.ssh` (port 22, rules.tf:2): its only source was 0.0.0.0/0.",
                "Removed 0.0.0.0/0 from `aws_security_group_rule.admin` (ports 0-65535, rules.tf:11) (the rule keeps 10.1.0.0/16).",
            ]
        );
    }

    const VPC_TF: &str = r#"resource "aws_vpc_security_group_ingress_rule" "ssh_v4" {
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0" # anywhere
  from_port         = 22
  ip_protocol       = "tcp"
  to_port           = 22
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  security_group_id = aws_security_group.web.id
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  ip_protocol       = "tcp"
  to_port           = 443
}
"#;

    #[test]
    fn vpc_ingress_rule_is_removed_without_a_policy() {
        let files = [("main.tf", SG_ONLY), ("vpc.tf", VPC_TF)];
        let out = fixed(&RESTRICTED_SSH, &files, ADDR, "vpc.tf");
        assert_eq!(out, &VPC_TF[VPC_TF.find("resource \"aws_vpc_security_group_ingress_rule\" \"https\"").unwrap()..]);
    }

    #[test]
    fn vpc_ingress_rule_takes_the_single_allowed_cidr() {
        let files = [("main.tf", SG_ONLY), ("vpc.tf", VPC_TF)];
        let r = go(&RESTRICTED_SSH, &files, &[], &policy(r#"ssh_allowed_cidrs = ["10.0.0.0/8", "2001:db8::/32"]"#));
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(r.text("vpc.tf"), VPC_TF.replacen(r#""0.0.0.0/0" # anywhere"#, r#""10.0.0.0/8" # anywhere"#, 1));
        assert_eq!(
            notes(&r),
            [
                "Set `cidr_ipv4` of `aws_vpc_security_group_ingress_rule.ssh_v4` (port 22, vpc.tf:1) to 10.0.0.0/8 instead of 0.0.0.0/0, as the policy allows for port 22."
            ]
        );
    }

    #[test]
    fn vpc_ingress_rule_with_several_allowed_cidrs_is_advice() {
        let files = [("main.tf", SG_ONLY), ("vpc.tf", VPC_TF)];
        let r = go(&RESTRICTED_SSH, &files, &[], &policy(r#"ssh_allowed_cidrs = ["10.0.0.0/8", "192.168.0.0/16"]"#));
        let a = r.advice();
        assert!(a.reason.contains("one CIDR per resource"), "{a:?}");
        assert_eq!(
            a.steps[0],
            "In vpc.tf:3, set `cidr_ipv4 = \"10.0.0.0/8\"` on `aws_vpc_security_group_ingress_rule.ssh_v4`."
        );
        assert!(a.steps[1].contains("(192.168.0.0/16)"), "{a:?}");
    }

    #[test]
    fn ipv6_world_is_removed_and_the_emptied_argument_goes() {
        let src = SG.replace(
            r#"    cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"] # office + world"#,
            "    cidr_blocks      = [\"10.0.0.0/8\"]\n    ipv6_cidr_blocks = [\"::/0\"] # everyone",
        );
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", &src)], ADDR, "main.tf");
        assert_eq!(out, src.replace("    ipv6_cidr_blocks = [\"::/0\"] # everyone\n", ""));
    }

    #[test]
    fn allow_list_without_ipv6_entries_removes_ipv6_world() {
        let src = SG.replace(
            r#"    cidr_blocks = ["10.0.0.0/8", "0.0.0.0/0"] # office + world"#,
            "    cidr_blocks      = [\"0.0.0.0/0\"]\n    ipv6_cidr_blocks = [\"::/0\"]",
        );
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &policy(r#"ssh_allowed_cidrs = ["10.0.0.0/8"]"#));
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(
            r.text("main.tf"),
            src.replace(
                "    cidr_blocks      = [\"0.0.0.0/0\"]\n    ipv6_cidr_blocks = [\"::/0\"]\n",
                "    cidr_blocks      = [\"10.0.0.0/8\"]\n"
            )
        );
    }

    const ALL_TRAFFIC: &str = r#"resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  ingress {
    protocol  = -1
    self      = true
    from_port = 0
    to_port   = 0
  }

  ingress {
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;

    #[test]
    fn all_traffic_rule_is_removed() {
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", ALL_TRAFFIC)], "aws_default_security_group.default", "main.tf");
        assert_eq!(
            out,
            ALL_TRAFFIC.replace(
                "\n  ingress {\n    protocol    = \"-1\"\n    from_port   = 0\n    to_port     = 0\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n",
                ""
            )
        );
    }

    #[test]
    fn wide_range_is_narrowed_by_cidr_not_split() {
        let src = SG.replace("from_port   = 22\n    to_port     = 22", "from_port   = 0\n    to_port     = 65535");
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &policy(r#"ssh_allowed_cidrs = ["172.16.0.0/12"]"#));
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(
            r.text("main.tf"),
            src.replace(r#"["10.0.0.0/8", "0.0.0.0/0"]"#, r#"["10.0.0.0/8", "172.16.0.0/12"]"#)
        );
        assert!(notes(&r)[0].contains("ports 0-65535"), "{r:?}");
    }

    #[test]
    fn common_ports_default_to_the_aws_list() {
        let src = SG.replace("443", "3389");
        let r = go(&RESTRICTED_COMMON_PORTS, &[("main.tf", &src)], &[], &Policy::default());
        assert_eq!(r.after, Some(Check::Compliant));
        let rdp = "  ingress {\n    description = \"HTTPS\"\n    from_port   = 3389\n    to_port     = 3389\n    protocol    = \"tcp\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n\n";
        assert_eq!(r.text("main.tf"), src.replace(rdp, ""));
        // Port 22 is not a common port: the SSH rule is left alone.
        assert!(r.text("main.tf").contains(r#"["10.0.0.0/8", "0.0.0.0/0"]"#));
        let r = run(&RESTRICTED_COMMON_PORTS, &[("main.tf", SG)], ADDR, &[], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
    }

    #[test]
    fn blocked_port_parameters_replace_their_default() {
        let src = SG.replace("443", "5432");
        let params = [("blockedPort1", "5432")];
        let r = go(
            &RESTRICTED_COMMON_PORTS,
            &[("main.tf", &src)],
            &params,
            &policy("[port_allowed_cidrs]\n5432 = [\"10.20.0.0/16\"]"),
        );
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(r.text("main.tf"), src.replacen(r#"["0.0.0.0/0"]"#, r#"["10.20.0.0/16"]"#, 1));
        // blockedPort1 replaced 20: a world-open FTP-data rule no longer counts, 21 still does.
        let ftp = SG.replace("443", "20");
        assert_eq!(
            go(&RESTRICTED_COMMON_PORTS, &[("main.tf", &ftp)], &params, &Policy::default()).before,
            Check::Compliant
        );
        let ftp = SG.replace("443", "21");
        assert!(matches!(
            go(&RESTRICTED_COMMON_PORTS, &[("main.tf", &ftp)], &params, &Policy::default()).before,
            Check::Violation(_)
        ));
        let bad = go(&RESTRICTED_COMMON_PORTS, &[("main.tf", SG)], &[("blockedPort2", "ssh")], &Policy::default());
        assert!(bad.advice().reason.contains("`blockedPort2`"), "{bad:?}");
    }

    #[test]
    fn narrow_ssh_udp_and_egress_are_compliant() {
        let src = SG.replace(r#", "0.0.0.0/0"]"#, "]");
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &Policy::default());
        assert_eq!(r.before, Check::Compliant);
        let udp = SG.replace(
            "protocol    = \"tcp\"\n    cidr_blocks = [\"10.0.0.0/8\"",
            "protocol    = \"udp\"\n    cidr_blocks = [\"10.0.0.0/8\"",
        );
        assert_eq!(go(&RESTRICTED_SSH, &[("main.tf", &udp)], &[], &Policy::default()).before, Check::Compliant);
    }

    #[test]
    fn a_variable_cidr_list_is_advice_naming_it() {
        let src = SG.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] # office + world"#, "var.admin_cidrs")
            + "\nvariable \"admin_cidrs\" {\n  type = list(string)\n}\n";
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &Policy::default());
        let a = r.advice();
        assert!(matches!(r.before, Check::Undecidable(_)));
        assert!(a.reason.contains("`ingress.cidr_blocks`"), "{a:?}");
        assert!(
            a.steps[0].starts_with(
                "In main.tf:19, `aws_security_group.web` takes `ingress.cidr_blocks` from `var.admin_cidrs`"
            ),
            "{a:?}"
        );
        assert!(a.steps[1].contains("main.tf:30"), "{a:?}");
    }

    const DYNAMIC: &str = r#"resource "aws_security_group" "web" {
  name = "web"

  dynamic "ingress" {
    for_each = [
      { port = 443, cidrs = ["0.0.0.0/0"] },
      { port = 22, cidrs = ["10.0.0.0/8", "0.0.0.0/0"] }, # admins
      { port = 3389, cidrs = ["0.0.0.0/0"] },
    ]
    content {
      from_port   = ingress.value.port
      to_port     = ingress.value.port
      protocol    = "tcp"
      cidr_blocks = ingress.value.cidrs
    }
  }
}
"#;

    #[test]
    fn dynamic_literal_list_element_is_edited_in_place() {
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", DYNAMIC)], ADDR, "main.tf");
        assert_eq!(out, DYNAMIC.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] }, # admins"#, r#"["10.0.0.0/8"] }, # admins"#));
        // A renamed iterator and index syntax read the same elements.
        let renamed = DYNAMIC
            .replace("    content {", "    iterator = rule\n    content {")
            .replace("ingress.value.port", "rule.value[\"port\"]")
            .replace("ingress.value.cidrs", "rule.value.cidrs");
        let out = fixed(&RESTRICTED_SSH, &[("main.tf", &renamed)], ADDR, "main.tf");
        assert_eq!(out, renamed.replace(r#"["10.0.0.0/8", "0.0.0.0/0"] }, # admins"#, r#"["10.0.0.0/8"] }, # admins"#));
    }

    #[test]
    fn dynamic_literal_list_element_without_other_source_is_removed() {
        let params = [("blockedPort1", "443")];
        let r = go(&RESTRICTED_COMMON_PORTS, &[("main.tf", DYNAMIC)], &params, &Policy::default());
        assert_eq!(r.after, Some(Check::Compliant));
        assert_eq!(
            r.text("main.tf"),
            DYNAMIC
                .replace("      { port = 443, cidrs = [\"0.0.0.0/0\"] },\n", "")
                .replace(" # admins\n      { port = 3389, cidrs = [\"0.0.0.0/0\"] },\n", " # admins\n")
        );
        assert_eq!(
            notes(&r),
            [
                "Removed the `dynamic \"ingress\"` element for port 443 at main.tf:6: its only source was 0.0.0.0/0.",
                "Removed the `dynamic \"ingress\"` element for port 3389 at main.tf:8: its only source was 0.0.0.0/0.",
            ]
        );
    }

    #[test]
    fn dynamic_fed_by_a_variable_is_advice() {
        let src = r#"resource "aws_security_group" "web" {
  name = "web"

  dynamic "ingress" {
    for_each = var.ingress_rules
    content {
      from_port   = ingress.value.from_port
      to_port     = ingress.value.to_port
      protocol    = "tcp"
      cidr_blocks = ingress.value.cidr_blocks
    }
  }
}

variable "ingress_rules" {
  type = list(any)
}
"#;
        let r = go(&RESTRICTED_SSH, &[("main.tf", src)], &[], &Policy::default());
        let a = r.advice();
        assert!(matches!(r.before, Check::Undecidable(_)));
        assert!(
            a.steps[0].starts_with(
                "In main.tf:5, `aws_security_group.web` takes `dynamic \"ingress\" for_each` from `var.ingress_rules`"
            ),
            "{a:?}"
        );
        assert!(a.steps.iter().any(|s| s.contains("main.tf:15")), "{a:?}");
        assert!(a.steps.iter().any(|s| s.contains("one rule per element of `var.ingress_rules`")), "{a:?}");
        // A dynamic block that can only open UDP is fine whatever it is fed.
        let udp = src.replace("\"tcp\"", "\"udp\"");
        assert_eq!(go(&RESTRICTED_SSH, &[("main.tf", &udp)], &[], &Policy::default()).before, Check::Compliant);
    }

    #[test]
    fn dynamic_template_with_world_cidr_is_advice() {
        let src = DYNAMIC
            .replace("cidr_blocks = ingress.value.cidrs", "cidr_blocks = [\"0.0.0.0/0\"]")
            .replace(r#"["10.0.0.0/8", "0.0.0.0/0"]"#, r#"["10.0.0.0/8"]"#);
        let r = go(&RESTRICTED_SSH, &[("main.tf", &src)], &[], &Policy::default());
        assert!(matches!(r.before, Check::Violation(_)));
        let a = r.advice();
        assert!(a.reason.contains("editing the template would change them all"), "{a:?}");
        assert!(a.steps.iter().any(|s| s.contains("main.tf:14")), "{a:?}");
    }

    #[test]
    fn repeated_rule_resource_is_advice() {
        let rules = RULES_TF.replacen(
            "  type              = \"ingress\"\n",
            "  count             = 2\n  type              = \"ingress\"\n",
            1,
        );
        let r = go(&RESTRICTED_SSH, &[("main.tf", SG_ONLY), ("rules.tf", &rules)], &[], &Policy::default());
        let a = r.advice();
        assert!(a.reason.contains("`aws_security_group_rule.ssh`") && a.reason.contains("count"), "{a:?}");
        assert!(a.steps[0].contains("0.0.0.0/0 in `cidr_blocks` at rules.tf:9"), "{a:?}");
        // The fixable rule is listed too, so one ticket covers the whole group.
        assert!(
            a.steps.iter().any(|s| s.starts_with("Remove 0.0.0.0/0 from `aws_security_group_rule.admin`")),
            "{a:?}"
        );
    }

    #[test]
    fn rules_resolve_by_identifier_name_and_control() {
        use crate::catalog::{by_event_name, by_identifier, by_security_control};
        assert_eq!(by_identifier("INCOMING_SSH_DISABLED").map(|r| r.meta().name), Some("restricted-ssh"));
        assert_eq!(by_security_control("EC2.19").map(|r| r.meta().identifier), Some("RESTRICTED_INCOMING_TRAFFIC"));
        assert_eq!(
            by_event_name("securityhub-vpc-sg-restricted-common-ports-1a2b3c").map(|r| r.meta().identifier),
            Some("RESTRICTED_INCOMING_TRAFFIC")
        );
        assert_eq!(
            by_event_name("restricted-ssh-conformance-pack-x1").map(|r| r.meta().identifier),
            Some("INCOMING_SSH_DISABLED")
        );
    }

    #[test]
    fn neighbouring_rules_removed_together_leave_clean_text() {
        let src = r#"resource "aws_security_group" "db" {
  name = "db"

  ingress {
    from_port   = 5432
    to_port     = 5432
    protocol    = "tcp"
    cidr_blocks = ["10.0.0.0/8"]
  }

  # RDP
  ingress {
    from_port        = 3389
    to_port          = 3389
    protocol         = "tcp"
    ipv6_cidr_blocks = ["::/0"]
  }

  ingress {
    from_port   = 3306
    to_port     = 3306
    protocol    = "6"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
"#;
        let out = fixed(&RESTRICTED_COMMON_PORTS, &[("main.tf", src)], "aws_security_group.db", "main.tf");
        let cut = src.find("\n  # RDP").unwrap();
        assert_eq!(out, format!("{}}}\n", &src[..cut]));
    }
}
