//! From a finding's resource to the block that defines it.
//!
//! Best evidence first: Terraform state (the per-type identifier of FORMATS.md §6, or the ARN), then
//! literal identifying arguments in the code (`bucket`, `name`, `identifier`), then a literal `Name`
//! tag. A state address that leads into a registry or git module is reported as such: the block is
//! not in this repository, so only the module call's inputs could change.

use super::identity::identity;
use super::index::{Index, ModuleCall, ResourceId};
use super::literal;
use super::state::StateInstance;
use super::workspace::Workspace;
use crate::finding::ResourceRef;
use serde_json::Value;

/// How the block was found, for the PR text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    /// The state instance at this address has the resource's identifier.
    State { address: String },
    /// A literal argument (`bucket = "…"`) equals the resource's name.
    Literal { attribute: String },
    /// A literal `Name` tag equals the resource's name.
    NameTag,
}

/// A located block.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub resource: ResourceId,
    /// The full instance address when state said it (`module.a["x"].aws_x.y[0]`), else the block address.
    pub address: String,
    pub root: String,
    pub evidence: Evidence,
}

/// The result of locating.
#[derive(Debug, Clone)]
pub enum Locate {
    Found(Located),
    /// State puts the resource inside a module whose code is not in this repository.
    InRemoteModule {
        address: String,
        call: ModuleCall,
    },
    /// Several blocks match and nothing tells them apart.
    Ambiguous(Vec<String>),
    NotFound {
        tried: String,
    },
}

/// Locate the block defining `resource` among the blocks of `terraform_types`.
pub fn locate(
    resource: &ResourceRef,
    ws: &Workspace,
    index: &Index,
    state: &[StateInstance],
    terraform_types: &[&str],
) -> Locate {
    if !state.is_empty()
        && let Some(found) = via_state(resource, index, state, terraform_types)
    {
        return found;
    }
    let names = candidate_names(resource);
    let mut hits: Vec<(ResourceId, Evidence)> = Vec::new();
    let code_attrs = identity(&resource.resource_type).map(|i| i.code_name_attrs).unwrap_or(&[]);
    for rtype in terraform_types {
        for id in index.of_type(rtype) {
            let body = &index.block(ws, id).body;
            if let Some(attr) = code_attrs
                .iter()
                .find(|a| literal::attr_str(body, a).and_then(Result::ok).is_some_and(|v| names.contains(&v)))
            {
                hits.push((id, Evidence::Literal { attribute: (*attr).to_owned() }));
            } else if name_tag(body).is_some_and(|v| names.contains(&v)) {
                hits.push((id, Evidence::NameTag));
            }
        }
    }
    // A literal identifier beats a tag.
    if hits.iter().any(|(_, e)| matches!(e, Evidence::Literal { .. })) {
        hits.retain(|(_, e)| matches!(e, Evidence::Literal { .. }));
    }
    match hits.len() {
        0 => Locate::NotFound {
            tried: if names.is_empty() && state.is_empty() {
                "without Terraform state (`--state`) only a literal name or `Name` tag can identify it, and the finding carries neither".into()
            } else if names.is_empty() {
                "no state entry has its identifier, and the finding carries no name to match in code".into()
            } else {
                format!(
                    "no {} block has a literal {} or Name tag equal to {}",
                    terraform_types.join(" / "),
                    if code_attrs.is_empty() { "identifier".to_owned() } else { code_attrs.join(" / ") },
                    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
                )
            },
        },
        1 => {
            let (id, evidence) = hits.remove(0);
            let first = index.addresses_of(id).into_iter().next();
            Locate::Found(Located {
                resource: id,
                address: first.map_or_else(|| index.resource(id).local_address(), |a| a.address.clone()),
                root: first.map_or_else(String::new, |a| a.root.clone()),
                evidence,
            })
        }
        _ => Locate::Ambiguous(
            hits.iter()
                .map(|(id, _)| {
                    let r = index.resource(*id);
                    let f = ws.file(r.file);
                    format!("{} ({}:{})", r.local_address(), f.path, r.line)
                })
                .collect(),
        ),
    }
}

fn via_state(resource: &ResourceRef, index: &Index, state: &[StateInstance], types: &[&str]) -> Option<Locate> {
    let ident = identity(&resource.resource_type);
    let id_attrs = ident.map(|i| i.state_id_attrs).unwrap_or(&["id"]);
    let name_attrs = ident.map(|i| i.state_name_attrs).unwrap_or(&[]);
    let matches = |inst: &&StateInstance| {
        if !types.contains(&inst.rtype.as_str()) {
            return false;
        }
        let by_id = id_attrs.iter().any(|a| inst.attr_str(a) == Some(resource.id.as_str()));
        let by_arn = resource.arn.as_deref().is_some_and(|arn| inst.attr_str("arn") == Some(arn));
        let by_name = resource.name.as_deref().is_some_and(|n| name_attrs.iter().any(|a| inst.attr_str(a) == Some(n)));
        by_id || by_arn || by_name
    };
    let inst = state.iter().find(matches)?;
    let block_address = inst.block_address();
    if let Some(a) = index.lookup(&block_address).into_iter().next() {
        return Some(Locate::Found(Located {
            resource: a.resource,
            address: inst.address(),
            root: a.root.clone(),
            evidence: Evidence::State { address: inst.address() },
        }));
    }
    // Walk the module path: the first call that is not local holds the block.
    let path: Vec<String> = super::state::strip_instance_keys(&inst.module)
        .split('.')
        .collect::<Vec<_>>()
        .chunks(2)
        .filter(|c| c.len() == 2 && c[0] == "module")
        .map(|c| c[1].to_owned())
        .collect();
    for root in index.roots() {
        for depth in 1..=path.len() {
            if let Some(call) = index.call_at(root, &path[..depth])
                && call.local_dir.is_none()
            {
                return Some(Locate::InRemoteModule { address: inst.address(), call: call.clone() });
            }
        }
    }
    Some(Locate::NotFound {
        tried: format!("state has `{}` but no block in the repository defines `{block_address}`", inst.address()),
    })
}

/// Names the resource may carry in code: its Config name, its id when the id is a name (S3, DynamoDB),
/// the queue name at the end of an SQS URL, the trail name at the end of a CloudTrail ARN.
fn candidate_names(r: &ResourceRef) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = &r.name {
        out.push(n.clone());
    }
    match r.resource_type.as_str() {
        "AWS::S3::Bucket" | "AWS::DynamoDB::Table" | "AWS::Lambda::Function" => out.push(r.id.clone()),
        "AWS::SQS::Queue" | "AWS::CloudTrail::Trail" => {
            out.push(r.display_name().to_owned());
            out.push(r.id.rsplit(['/', ':']).next().unwrap_or(&r.id).to_owned());
        }
        _ => {}
    }
    out.retain(|n| !n.is_empty());
    out.dedup();
    out
}

/// The literal `Name` tag of a block, if it has one.
fn name_tag(body: &hcl_edit::structure::Body) -> Option<String> {
    match literal::attr(body, "tags")?.ok()? {
        Value::Object(m) => m.get("Name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}
