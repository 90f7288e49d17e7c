//! Helpers for the most common shape of rule: judge one literal argument of one block, and fix it
//! by setting that argument. Rule families call these so that they state only their facts.

use super::{Advice, Check, Context, Fix, Target, not_literal_advice};
use crate::terraform::edit::{self, Edit, EditError};
use crate::terraform::literal;
use crate::terraform::workspace::FileId;
use hcl_edit::Span;
use hcl_edit::structure::Block;

/// Judge a top-level bool argument of the target block: compliant when it is `want`, or when it is
/// absent and its provider default is `want`; a non-literal value is undecidable.
pub(crate) fn bool_check(cx: &Context, t: &Target, key: &str, want: bool, default: bool) -> Check {
    match literal::attr_bool(&cx.block(t.resource).body, key) {
        Some(Ok(v)) if v == want => Check::Compliant,
        None if default == want => Check::Compliant,
        Some(Ok(v)) => Check::Violation(format!("`{key}` is `{v}`")),
        None => Check::Violation(format!("`{key}` is not set and defaults to `{default}`")),
        Some(Err(nl)) => Check::Undecidable(not_literal_advice(cx, t, key, &nl, &format!("`{want}`"))),
    }
}

/// Set a top-level argument of the target block to `value` (HCL source), as a fix with one note.
pub(crate) fn set_attribute(cx: &Context, t: &Target, key: &str, value: &str) -> Fix {
    let edit = set_in(cx, cx.file_of(t.resource), cx.block(t.resource), key, value);
    fix_of(vec![(edit, format!("Set `{key} = {value}`."))])
}

/// Replace the value of `key` in `block` when present, or insert `key = value` aligned with its
/// neighbours.
pub(crate) fn set_in(cx: &Context, file: FileId, block: &Block, key: &str, value: &str) -> Result<Edit, EditError> {
    match block.body.get_attribute(key) {
        Some(a) => edit::replace_span(file, a.value.span(), value),
        None => edit::insert_attribute(cx.ws, file, block, key, value),
    }
}

/// Edits with their notes as a [`Fix`]; the first edit that could not be built turns the whole fix
/// into advice, since a partial fix would not make the block compliant.
pub(crate) fn fix_of(changes: Vec<(Result<Edit, EditError>, String)>) -> Fix {
    let mut edits = Vec::with_capacity(changes.len());
    let mut notes = Vec::with_capacity(changes.len());
    for (edit, note) in changes {
        match edit {
            Ok(e) => edits.push(e),
            Err(e) => return Fix::Advice(Advice::new(e.to_string(), [note])),
        }
        notes.push(note);
    }
    Fix::Edits { edits, notes }
}
