//! Terraform state v4 (`terraform state pull` / `terraform.tfstate`), read only for what locating a
//! finding needs: each managed instance's full address (module path with instance keys, resource,
//! instance key) and its attributes.

use serde::Deserialize;
use serde_json::Value;

/// One managed resource instance from a state file.
#[derive(Debug, Clone, PartialEq)]
pub struct StateInstance {
    /// `module.a["x"].module.b` or "" for the root module.
    pub module: String,
    pub rtype: String,
    pub name: String,
    /// `0`, `"web"`, or `None` for a single instance.
    pub index_key: Option<Value>,
    pub attributes: Value,
}

impl StateInstance {
    /// The address without any instance keys (`module.a.module.b.aws_x.y`), as the index knows it.
    pub fn block_address(&self) -> String {
        let module = strip_instance_keys(&self.module);
        if module.is_empty() {
            format!("{}.{}", self.rtype, self.name)
        } else {
            format!("{module}.{}.{}", self.rtype, self.name)
        }
    }

    /// The full instance address, e.g. `module.a["x"].aws_s3_bucket.b[0]`.
    pub fn address(&self) -> String {
        let mut s = String::new();
        if !self.module.is_empty() {
            s.push_str(&self.module);
            s.push('.');
        }
        s.push_str(&format!("{}.{}", self.rtype, self.name));
        match &self.index_key {
            Some(Value::Number(n)) => s.push_str(&format!("[{n}]")),
            Some(Value::String(k)) => s.push_str(&format!("[{}]", Value::String(k.clone()))),
            _ => {}
        }
        s
    }

    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).and_then(Value::as_str)
    }
}

/// Why a state file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state is not valid JSON: {0}")]
    NotJson(String),
    #[error("state format version {0} is not supported (expected 4)")]
    Version(u64),
}

#[derive(Deserialize)]
struct RawState {
    version: u64,
    #[serde(default)]
    resources: Vec<RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    module: String,
    #[serde(default)]
    mode: String,
    #[serde(rename = "type")]
    rtype: String,
    name: String,
    #[serde(default)]
    instances: Vec<RawInstance>,
}

#[derive(Deserialize)]
struct RawInstance {
    #[serde(default)]
    index_key: Option<Value>,
    #[serde(default)]
    attributes: Option<Value>,
    #[serde(default)]
    attributes_flat: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    deposed: Option<String>,
}

/// Parse a v4 state document into its managed instances (data sources and deposed objects skipped).
pub fn parse_state(text: &str) -> Result<Vec<StateInstance>, StateError> {
    let raw: RawState = serde_json::from_str(text).map_err(|e| StateError::NotJson(e.to_string()))?;
    if raw.version != 4 {
        return Err(StateError::Version(raw.version));
    }
    let mut out = Vec::new();
    for r in raw.resources {
        if r.mode == "data" {
            continue;
        }
        for i in r.instances {
            if i.deposed.is_some() {
                continue;
            }
            let attributes = match (i.attributes, i.attributes_flat) {
                (Some(a), _) => a,
                (None, Some(flat)) => Value::Object(flat.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
                (None, None) => Value::Null,
            };
            out.push(StateInstance {
                module: r.module.clone(),
                rtype: r.rtype.clone(),
                name: r.name.clone(),
                index_key: i.index_key,
                attributes,
            });
        }
    }
    Ok(out)
}

/// `module.a["x"].module.b[0]` → `module.a.module.b`.
pub fn strip_instance_keys(module: &str) -> String {
    let mut out = String::with_capacity(module.len());
    let mut depth = 0usize;
    let mut in_str = false;
    let mut prev = '\0';
    for c in module.chars() {
        match c {
            '"' if depth > 0 && prev != '\\' => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
        prev = c;
    }
    out
}
