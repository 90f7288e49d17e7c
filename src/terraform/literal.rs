//! Reading HCL expressions as literals, and naming precisely what is not one.
//!
//! The engine's safety rule is that it only rewrites values it fully understands. Everything that
//! is not a literal (a variable, a `merge()`, a conditional, an interpolated string) is reported as
//! [`NotLiteral`] with the expression's own text, so advice can say exactly what a human must change.

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Block, Body};
use serde_json::Value;

/// An expression the engine will not evaluate, with a description for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotLiteral {
    /// What kind of expression it is: "a variable", "a function call (merge)", "a conditional", …
    pub kind: String,
    /// The expression as written in the file, trimmed.
    pub text: String,
    /// Byte range of the expression in its file, when known.
    pub span: Option<std::ops::Range<usize>>,
}

impl std::fmt::Display for NotLiteral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` ({})", self.text, self.kind)
    }
}

/// Evaluate a literal expression (strings, numbers, bools, null, lists and objects of literals).
pub fn eval(expr: &Expression) -> Result<Value, NotLiteral> {
    match expr {
        Expression::Null(_) => Ok(Value::Null),
        Expression::Bool(b) => Ok(Value::Bool(*b.value())),
        Expression::Number(n) => {
            let n = n.value();
            if let Some(i) = n.as_i64() {
                Ok(Value::from(i))
            } else if let Some(u) = n.as_u64() {
                Ok(Value::from(u))
            } else {
                Ok(n.as_f64().map(Value::from).unwrap_or(Value::Null))
            }
        }
        Expression::String(s) => Ok(Value::String(s.value().clone())),
        Expression::Array(a) => a.iter().map(eval).collect::<Result<Vec<_>, _>>().map(Value::Array),
        Expression::Object(o) => {
            let mut map = serde_json::Map::new();
            for (k, v) in o.iter() {
                let key = match k {
                    ObjectKey::Ident(i) => i.value().as_str().to_owned(),
                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                    ObjectKey::Expression(e) => return Err(not_literal(e)),
                };
                map.insert(key, eval(v.expr())?);
            }
            Ok(Value::Object(map))
        }
        Expression::Parenthesis(p) => eval(p.inner()),
        other => Err(not_literal(other)),
    }
}

/// Describe a non-literal expression.
pub fn not_literal(expr: &Expression) -> NotLiteral {
    let kind = match expr {
        Expression::Variable(_) => "a variable".to_owned(),
        Expression::Traversal(t) => match &t.expr {
            Expression::Variable(v) if v.value().as_str() == "var" => "an input variable".to_owned(),
            Expression::Variable(v) if v.value().as_str() == "local" => "a local value".to_owned(),
            Expression::Variable(v) if v.value().as_str() == "each" || v.value().as_str() == "count" => {
                "a per-instance value (count / for_each)".to_owned()
            }
            Expression::Variable(v) if v.value().as_str() == "data" => "a data source".to_owned(),
            Expression::Variable(v) if v.value().as_str() == "module" => "a module output".to_owned(),
            _ => "a reference to another resource".to_owned(),
        },
        Expression::FuncCall(f) => format!("a function call ({})", f.name.name.value().as_str()),
        Expression::Conditional(_) => "a conditional".to_owned(),
        Expression::StringTemplate(_) | Expression::HeredocTemplate(_) => "an interpolated string".to_owned(),
        Expression::ForExpr(_) => "a for expression".to_owned(),
        Expression::UnaryOp(_) | Expression::BinaryOp(_) => "an operation".to_owned(),
        _ => "an expression".to_owned(),
    };
    NotLiteral { kind, text: expr_text(expr), span: expr.span() }
}

/// The expression as it would print, without surrounding whitespace or comments.
pub fn expr_text(expr: &Expression) -> String {
    let mut e = expr.clone();
    hcl_edit::Decorate::decor_mut(&mut e).clear();
    e.to_string().trim().to_owned()
}

/// An attribute's literal value: `None` when absent, `Some(Err)` when present but not literal.
pub fn attr(body: &Body, key: &str) -> Option<Result<Value, NotLiteral>> {
    body.get_attribute(key).map(|a| eval(&a.value))
}

/// An attribute read as a bool literal (`"true"` strings count, as Terraform converts them).
pub fn attr_bool(body: &Body, key: &str) -> Option<Result<bool, NotLiteral>> {
    let a = body.get_attribute(key)?;
    Some(match eval(&a.value) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Ok(_) => Err(NotLiteral { kind: "not a boolean".into(), text: expr_text(&a.value), span: a.value.span() }),
        Err(e) => Err(e),
    })
}

/// An attribute read as a string literal (numbers are rendered, as Terraform converts them).
pub fn attr_str(body: &Body, key: &str) -> Option<Result<String, NotLiteral>> {
    let a = body.get_attribute(key)?;
    Some(match eval(&a.value) {
        Ok(Value::String(s)) => Ok(s),
        Ok(Value::Number(n)) => Ok(n.to_string()),
        Ok(Value::Bool(b)) => Ok(b.to_string()),
        Ok(_) => Err(NotLiteral { kind: "not a string".into(), text: expr_text(&a.value), span: a.value.span() }),
        Err(e) => Err(e),
    })
}

/// An attribute read as an integer literal (numeric strings count).
pub fn attr_i64(body: &Body, key: &str) -> Option<Result<i64, NotLiteral>> {
    let a = body.get_attribute(key)?;
    Some(match eval(&a.value) {
        Ok(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().unwrap_or_default()),
        Ok(Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().unwrap_or_default()),
        Ok(_) => Err(NotLiteral { kind: "not a number".into(), text: expr_text(&a.value), span: a.value.span() }),
        Err(e) => Err(e),
    })
}

/// If `expr` is a reference `<type>.<name>.<attr…>` (optionally indexed), return `(type, name)`.
pub fn reference(expr: &Expression) -> Option<(String, String)> {
    let Expression::Traversal(t) = expr else { return None };
    let Expression::Variable(root) = &t.expr else { return None };
    let first = t.operators.first()?;
    let name = match first.value() {
        hcl_edit::expr::TraversalOperator::GetAttr(ident) => ident.value().as_str().to_owned(),
        _ => return None,
    };
    Some((root.value().as_str().to_owned(), name))
}

/// Nested blocks of `body` named `ident`, including `dynamic "<ident>"` blocks flagged as such.
pub fn nested_blocks<'a>(body: &'a Body, ident: &'a str) -> impl Iterator<Item = NestedBlock<'a>> + 'a {
    body.blocks().filter_map(move |b| {
        if b.ident.value().as_str() == ident {
            Some(NestedBlock { block: b, dynamic: false })
        } else if b.ident.value().as_str() == "dynamic" && b.labels.first().map(|l| l.as_str()) == Some(ident) {
            Some(NestedBlock { block: b, dynamic: true })
        } else {
            None
        }
    })
}

/// A nested block as found by [`nested_blocks`].
#[derive(Debug, Clone, Copy)]
pub struct NestedBlock<'a> {
    pub block: &'a Block,
    /// `dynamic "x" { for_each = … content { … } }`: the real body is under `content`.
    pub dynamic: bool,
}

impl<'a> NestedBlock<'a> {
    /// The body holding the generated block's arguments (`content` for dynamic blocks).
    pub fn content(&self) -> Option<&'a Body> {
        if self.dynamic {
            self.block.body.blocks().find(|b| b.ident.value().as_str() == "content").map(|b| &b.body)
        } else {
            Some(&self.block.body)
        }
    }
}
