//! Resource blocks by address. A block in a shared local module has one address per call path
//! (`module.a.aws_x.y`, `module.b.aws_x.y`); a root module is a directory no local call points at.
//!
//! The index keeps positions (file + index of the top-level structure), not references, so it can be
//! rebuilt cheaply after an edit and shared between threads.

use super::literal;
use super::workspace::{FileId, Workspace, join_module_path};
use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Structure};
use std::collections::{BTreeMap, BTreeSet};

/// Deepest chain of local module calls followed (guards against cycles and pathological trees).
const MAX_MODULE_DEPTH: usize = 16;

/// Identifies a resource block in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(pub usize);

/// How a resource block is multiplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repetition {
    Single,
    /// `count = <expr text>`
    Count(String),
    /// `for_each = <expr text>`
    ForEach(String),
}

/// One `resource "type" "name" { … }` block.
#[derive(Debug, Clone)]
pub struct ResourceBlock {
    pub file: FileId,
    /// Index of the block among the file's top-level structures.
    pub pos: usize,
    pub rtype: String,
    pub name: String,
    /// Module directory relative to the workspace root ("" for the root directory).
    pub dir: String,
    /// 1-based line of the block's first line.
    pub line: usize,
    pub repetition: Repetition,
}

impl ResourceBlock {
    /// `type.name`, the address within its module.
    pub fn local_address(&self) -> String {
        format!("{}.{}", self.rtype, self.name)
    }
}

/// A `module "name" { source = … }` call.
#[derive(Debug, Clone)]
pub struct ModuleCall {
    pub file: FileId,
    pub pos: usize,
    pub name: String,
    /// Directory of the calling module.
    pub dir: String,
    pub source: String,
    /// Resolved directory for local sources (`./…`, `../…`) that exist in the workspace.
    pub local_dir: Option<String>,
    pub version: Option<String>,
    pub line: usize,
}

/// One full address of a resource block, reached from a root module through module calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressedResource {
    /// `module.a.module.b.aws_x.y` (no instance keys).
    pub address: String,
    pub root: String,
    pub resource: ResourceId,
    /// Module call names from the root, e.g. `["a", "b"]`.
    pub module_path: Vec<String>,
}

/// The index over a [`Workspace`].
#[derive(Debug, Clone, Default)]
pub struct Index {
    resources: Vec<ResourceBlock>,
    calls: Vec<ModuleCall>,
    roots: Vec<String>,
    addresses: Vec<AddressedResource>,
    by_address: BTreeMap<String, Vec<usize>>,
    by_type: BTreeMap<String, Vec<ResourceId>>,
}

impl Index {
    pub fn build(ws: &Workspace) -> Index {
        let mut idx = Index::default();
        let dirs: BTreeSet<String> = ws.files().iter().map(|f| f.dir().to_owned()).collect();
        for (fi, file) in ws.files().iter().enumerate() {
            for (pos, s) in file.body.iter().enumerate() {
                let Structure::Block(b) = s else { continue };
                let line = b.span().map_or(1, |r| file.line_of(r.start));
                match (b.ident.value().as_str(), b.labels.as_slice()) {
                    ("resource", [t, n]) => {
                        let repetition = if let Some(c) = b.body.get_attribute("count") {
                            Repetition::Count(literal::expr_text(&c.value))
                        } else if let Some(f) = b.body.get_attribute("for_each") {
                            Repetition::ForEach(literal::expr_text(&f.value))
                        } else {
                            Repetition::Single
                        };
                        let id = ResourceId(idx.resources.len());
                        idx.by_type.entry(t.as_str().to_owned()).or_default().push(id);
                        idx.resources.push(ResourceBlock {
                            file: FileId(fi),
                            pos,
                            rtype: t.as_str().to_owned(),
                            name: n.as_str().to_owned(),
                            dir: file.dir().to_owned(),
                            line,
                            repetition,
                        });
                    }
                    ("module", [n]) => {
                        let source = literal::attr_str(&b.body, "source").and_then(Result::ok).unwrap_or_default();
                        let local_dir = if source.starts_with("./") || source.starts_with("../") {
                            join_module_path(file.dir(), &source).filter(|d| dirs.contains(d))
                        } else {
                            None
                        };
                        idx.calls.push(ModuleCall {
                            file: FileId(fi),
                            pos,
                            name: n.as_str().to_owned(),
                            dir: file.dir().to_owned(),
                            source,
                            local_dir,
                            version: literal::attr_str(&b.body, "version").and_then(Result::ok),
                            line,
                        });
                    }
                    _ => {}
                }
            }
        }
        let called: BTreeSet<&str> = idx.calls.iter().filter_map(|c| c.local_dir.as_deref()).collect();
        idx.roots = dirs.iter().filter(|d| !called.contains(d.as_str())).cloned().collect();
        let roots = idx.roots.clone();
        for root in &roots {
            let mut stack = Vec::new();
            idx.walk(root, root, &mut stack);
        }
        for (i, a) in idx.addresses.iter().enumerate() {
            idx.by_address.entry(a.address.clone()).or_default().push(i);
        }
        idx
    }

    fn walk(&mut self, root: &str, dir: &str, path: &mut Vec<(String, String)>) {
        if path.len() > MAX_MODULE_DEPTH {
            return;
        }
        let prefix: String = path.iter().map(|(n, _)| format!("module.{n}.")).collect();
        let here: Vec<ResourceId> =
            (0..self.resources.len()).filter(|&i| self.resources[i].dir == dir).map(ResourceId).collect();
        for id in here {
            let r = &self.resources[id.0];
            self.addresses.push(AddressedResource {
                address: format!("{prefix}{}", r.local_address()),
                root: root.to_owned(),
                resource: id,
                module_path: path.iter().map(|(n, _)| n.clone()).collect(),
            });
        }
        let children: Vec<(String, String)> = self
            .calls
            .iter()
            .filter(|c| c.dir == dir)
            .filter_map(|c| c.local_dir.clone().map(|d| (c.name.clone(), d)))
            .collect();
        for (name, child) in children {
            if path.iter().any(|(_, d)| *d == child) || child == dir {
                continue; // a module calling itself (directly or not) is a cycle
            }
            path.push((name, child.clone()));
            self.walk(root, &child, path);
            path.pop();
        }
    }

    pub fn resource(&self, id: ResourceId) -> &ResourceBlock {
        &self.resources[id.0]
    }

    pub fn resources(&self) -> impl Iterator<Item = (ResourceId, &ResourceBlock)> {
        self.resources.iter().enumerate().map(|(i, r)| (ResourceId(i), r))
    }

    pub fn of_type<'a>(&'a self, rtype: &str) -> impl Iterator<Item = ResourceId> + 'a {
        self.by_type.get(rtype).into_iter().flatten().copied()
    }

    pub fn calls(&self) -> &[ModuleCall] {
        &self.calls
    }

    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// Every addressed instance of the index, root by root.
    pub fn addresses(&self) -> &[AddressedResource] {
        &self.addresses
    }

    /// Addresses matching a full address without instance keys.
    pub fn lookup(&self, address: &str) -> Vec<&AddressedResource> {
        self.by_address.get(address).map(|v| v.iter().map(|&i| &self.addresses[i]).collect()).unwrap_or_default()
    }

    /// All addresses of one block (more than one when its module is called several times).
    pub fn addresses_of(&self, id: ResourceId) -> Vec<&AddressedResource> {
        self.addresses.iter().filter(|a| a.resource == id).collect()
    }

    /// The module call reached by following `module_path` from `root`.
    pub fn call_at(&self, root: &str, module_path: &[String]) -> Option<&ModuleCall> {
        let mut dir = root.to_owned();
        let mut found = None;
        for name in module_path {
            let call = self.calls.iter().find(|c| c.dir == dir && &c.name == name)?;
            found = Some(call);
            dir = call.local_dir.clone().unwrap_or_default();
        }
        found
    }

    /// The block of a resource.
    pub fn block<'w>(&self, ws: &'w Workspace, id: ResourceId) -> &'w Block {
        let r = &self.resources[id.0];
        match ws.file(r.file).body.get(r.pos) {
            Some(Structure::Block(b)) => b,
            _ => unreachable!("index out of date with its workspace"),
        }
    }

    /// Resources of `rtype` in the same module as `target` whose `attr` refers to the target
    /// (`aws_s3_bucket.logs.id`, `.bucket`, `[count.index].id`, `each.value.id` under a `for_each` on
    /// the target), or, for a target with a literal identifying value, repeats it literally.
    pub fn companions(&self, ws: &Workspace, target: ResourceId, rtype: &str, attr: &str) -> Vec<ResourceId> {
        let t = &self.resources[target.0];
        let t_block = self.block(ws, target);
        let literal_name =
            ["bucket", "name"].iter().find_map(|k| literal::attr_str(&t_block.body, k).and_then(Result::ok));
        self.of_type(rtype)
            .filter(|&id| {
                let r = &self.resources[id.0];
                if r.dir != t.dir {
                    return false;
                }
                let b = self.block(ws, id);
                let Some(a) = b.body.get_attribute(attr) else { return false };
                if let Some((ty, name)) = literal::reference(&a.value)
                    && ty != "each"
                {
                    return ty == t.rtype && name == t.name;
                }
                if let Some(Expression::Traversal(tr)) = Some(&a.value) {
                    // each.value.id with for_each = aws_x.y
                    if let Expression::Variable(v) = &tr.expr
                        && v.value().as_str() == "each"
                        && let Repetition::ForEach(fe) = &r.repetition
                    {
                        return fe.trim() == t.local_address();
                    }
                }
                match (literal::eval(&a.value), &literal_name) {
                    (Ok(serde_json::Value::String(s)), Some(n)) => &s == n,
                    _ => false,
                }
            })
            .collect()
    }
}
