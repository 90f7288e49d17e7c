//! A checker for botocore service models (`botocore/data/<service>/<version>/service-2.json`), the
//! description the fake AWS Config is held to: does an operation exist, what errors does it declare,
//! and does a JSON body fit its input or output shape. It knows the shape types the JSON protocols
//! use (`structure`, `list`, `map`, `string`, `integer`/`long`, `float`/`double`, `boolean`,
//! `timestamp`, `blob`) with their `required`, `enum`, `min` and `max`; timestamps follow the
//! member's or shape's `timestampFormat`, else the protocol's default (epoch seconds, a JSON number,
//! for `json`). Patterns are not checked (no regex engine here; the fake checks its own).
//! It also compares a fake's own declaration of an input shape ([`Member`]s) with the model's.

use super::aws_config::{Member, Ty};
use serde_json::{Value, json};
use std::path::Path;

pub struct Model {
    doc: Value,
}

impl Model {
    /// Load an uncompressed `service-2.json` (recent wheels ship it as `service-2.json.gz`).
    pub fn load(path: &Path) -> Model {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Model::from_value(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    pub fn from_value(doc: Value) -> Model {
        Model { doc }
    }

    pub fn metadata(&self) -> &Value {
        &self.doc["metadata"]
    }

    pub fn operation(&self, name: &str) -> Option<&Value> {
        self.doc["operations"].get(name)
    }

    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.doc["shapes"].get(name)
    }

    /// The input shape's name of an operation.
    pub fn input_shape(&self, op: &str) -> Option<&str> {
        self.operation(op)?["input"]["shape"].as_str()
    }

    /// The error shapes an operation declares.
    pub fn errors(&self, op: &str) -> Vec<String> {
        let errors = self.operation(op).and_then(|o| o["errors"].as_array());
        errors.into_iter().flatten().filter_map(|e| e["shape"].as_str()).map(str::to_owned).collect()
    }

    pub fn validate_input(&self, op: &str, body: &Value) -> Result<(), Vec<String>> {
        self.validate_against(op, "input", body)
    }

    /// An operation without an output shape answers an empty object.
    pub fn validate_output(&self, op: &str, body: &Value) -> Result<(), Vec<String>> {
        self.validate_against(op, "output", body)
    }

    fn validate_against(&self, op: &str, which: &str, body: &Value) -> Result<(), Vec<String>> {
        let o = self.operation(op).ok_or_else(|| vec![format!("no operation {op}")])?;
        let mut errors = Vec::new();
        match o[which]["shape"].as_str() {
            Some(shape) => self.validate(shape, None, body, which, &mut errors),
            None if body.as_object().is_some_and(|m| m.is_empty()) => {}
            None => errors.push(format!("{op} has no {which} shape, yet the body is {body}")),
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// `value` against shape `name`; `member` is the referring member (its `timestampFormat` wins).
    pub fn validate(&self, name: &str, member: Option<&Value>, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(shape) = self.shape(name) else {
            errors.push(format!("{at}: dangling shape {name}"));
            return;
        };
        let kind = shape["type"].as_str().unwrap_or_default();
        if !self.has_type(kind, shape, member, value) {
            errors.push(format!("{at}: expected {kind} ({name}), got {value}"));
            return;
        }
        match kind {
            "structure" => self.validate_structure(name, shape, value, at, errors),
            "list" => self.validate_list(shape, value, at, errors),
            "map" => self.validate_map(shape, value, at, errors),
            "string" => validate_string(shape, value, at, errors),
            "integer" | "long" => bounds(shape, value.as_i64().unwrap_or_default(), "value", at, errors),
            _ => {}
        }
    }

    fn has_type(&self, kind: &str, shape: &Value, member: Option<&Value>, value: &Value) -> bool {
        match kind {
            "structure" | "map" => value.is_object(),
            "list" => value.is_array(),
            "string" | "blob" => value.is_string(),
            "integer" | "long" => value.is_i64() || value.is_u64(),
            "float" | "double" => value.is_number(),
            "boolean" => value.is_boolean(),
            "timestamp" => match self.timestamp_format(shape, member) {
                "iso8601" | "rfc822" => value.is_string(),
                _ => value.is_number(),
            },
            _ => false,
        }
    }

    /// The member's `timestampFormat`, else the shape's, else the protocol's default.
    fn timestamp_format<'a>(&'a self, shape: &'a Value, member: Option<&'a Value>) -> &'a str {
        let declared = member.and_then(|m| m["timestampFormat"].as_str()).or_else(|| shape["timestampFormat"].as_str());
        declared.unwrap_or(match self.metadata()["protocol"].as_str() {
            Some("json" | "rest-json") => "unixTimestamp",
            _ => "iso8601",
        })
    }

    fn validate_structure(&self, name: &str, shape: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let object = value.as_object().expect("checked");
        for required in shape["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if object.get(required).is_none_or(Value::is_null) {
                errors.push(format!("{at}: missing required `{required}` ({name})"));
            }
        }
        for (key, v) in object {
            let here = format!("{at}.{key}");
            match shape["members"].get(key) {
                None => errors.push(format!("{here}: not a member of {name}")),
                Some(m) => match m["shape"].as_str() {
                    Some(target) => self.validate(target, Some(m), v, &here, errors),
                    None => errors.push(format!("{here}: member without a shape")),
                },
            }
        }
    }

    fn validate_list(&self, shape: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let items = value.as_array().expect("checked");
        bounds(shape, items.len() as i64, "length", at, errors);
        let member = &shape["member"];
        for (i, v) in items.iter().enumerate() {
            self.validate(member["shape"].as_str().unwrap_or_default(), Some(member), v, &format!("{at}[{i}]"), errors);
        }
    }

    fn validate_map(&self, shape: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let object = value.as_object().expect("checked");
        bounds(shape, object.len() as i64, "size", at, errors);
        let (key, val) = (shape["key"]["shape"].as_str().unwrap_or_default(), &shape["value"]);
        for (k, v) in object {
            self.validate(key, None, &Value::String(k.clone()), &format!("{at} key {k}"), errors);
            self.validate(val["shape"].as_str().unwrap_or_default(), Some(val), v, &format!("{at}.{k}"), errors);
        }
    }
}

/// Comparing a fake's declared input members with the model's shapes.
impl Model {
    /// The fake's type for a member against the model's shape `name`: the same type, bounds,
    /// pattern and enum, recursively.
    pub fn compare_ty(&self, name: &str, ty: &Ty, at: &str, problems: &mut Vec<String>) {
        let Some(shape) = self.shape(name) else { return problems.push(format!("{at}: no shape {name}")) };
        let kind = shape["type"].as_str().unwrap_or_default();
        let mut same = |what: &str, fake: Value, theirs: &Value| {
            let theirs = if theirs.is_null() { Value::Null } else { theirs.clone() };
            if fake != theirs {
                problems.push(format!("{at} ({name}): {what} is {fake} in the fake, {theirs} in the model"));
            }
        };
        match ty {
            Ty::String { min, max, pattern, values } => {
                same("type", json!("string"), &shape["type"]);
                same("min", json!(min), &shape["min"]);
                same("max", json!(max), &shape["max"]);
                same("pattern", json!(pattern), &shape["pattern"]);
                let theirs = shape["enum"].as_array().cloned().unwrap_or_default();
                same("enum", json!(values), &Value::Array(theirs));
                if let Some(p) = pattern.filter(|p| !super::aws_config::pattern_known(p)) {
                    problems.push(format!("{at}: the fake cannot check pattern {p}"));
                }
            }
            Ty::Integer { min, max } => {
                same("type", json!("integer"), &shape["type"]);
                same("min", json!(min), &shape["min"]);
                same("max", json!(max), &shape["max"]);
            }
            Ty::List { item, min, max } => {
                same("type", json!("list"), &shape["type"]);
                same("min", json!(min), &shape["min"]);
                same("max", json!(max), &shape["max"]);
                let member = shape["member"]["shape"].as_str().unwrap_or_default();
                self.compare_ty(member, item, &format!("{at}[]"), problems);
            }
            Ty::Timestamp => {
                same("type", json!("timestamp"), &shape["type"]);
                let format = self.timestamp_format(shape, None);
                if format != "unixTimestamp" {
                    problems.push(format!("{at} ({name}): epoch seconds in the fake, {format} in the model"));
                }
            }
            Ty::Structure(members) if kind == "structure" => self.compare_members(shape, members, at, problems),
            Ty::Structure(_) => problems.push(format!("{at} ({name}): a structure in the fake, a {kind} in the model")),
        }
    }

    /// The same member names, the same required ones, the same types.
    pub fn compare_members(&self, shape: &Value, members: &[Member], at: &str, problems: &mut Vec<String>) {
        let theirs = shape["members"].as_object().cloned().unwrap_or_default();
        let required: Vec<&str> =
            shape["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for name in theirs.keys().filter(|n| !members.iter().any(|m| m.name == n.as_str())) {
            problems.push(format!("{at}.{name}: in the model, unknown to the fake (it would reject it)"));
        }
        for m in members {
            let here = format!("{at}.{}", m.name);
            let Some(target) = theirs.get(m.name).and_then(|t| t["shape"].as_str()) else {
                problems.push(format!("{here}: not in the model"));
                continue;
            };
            if m.required != required.contains(&m.name) {
                problems.push(format!("{here}: required is {} in the fake, not in the model", m.required));
            }
            self.compare_ty(target, m.ty, &here, problems);
        }
    }
}

fn validate_string(shape: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let s = value.as_str().expect("checked");
    if let Some(allowed) = shape["enum"].as_array()
        && !allowed.iter().any(|a| a == s)
    {
        errors.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
    }
    bounds(shape, s.chars().count() as i64, "length", at, errors);
}

fn bounds(shape: &Value, n: i64, what: &str, at: &str, errors: &mut Vec<String>) {
    if let Some(min) = shape["min"].as_i64().filter(|&m| n < m) {
        errors.push(format!("{at}: {what} {n} is below the minimum {min}"));
    }
    if let Some(max) = shape["max"].as_i64().filter(|&m| n > m) {
        errors.push(format!("{at}: {what} {n} is above the maximum {max}"));
    }
}

#[cfg(test)]
mod tests {
    use super::Model;
    use serde_json::json;

    fn model() -> Model {
        Model::from_value(json!({
            "metadata": { "protocol": "json", "jsonVersion": "1.1", "targetPrefix": "Pets" },
            "operations": {
                "GetPet": { "input": { "shape": "GetPetRequest" }, "output": { "shape": "Pet" },
                    "errors": [{ "shape": "NoSuchPet" }] },
                "Ping": { "input": { "shape": "Empty" } }
            },
            "shapes": {
                "Empty": { "type": "structure", "members": {} },
                "GetPetRequest": { "type": "structure", "required": ["Name"],
                    "members": { "Name": { "shape": "Name" }, "Limit": { "shape": "Limit" } } },
                "Pet": { "type": "structure", "members": {
                    "Name": { "shape": "Name" }, "Kind": { "shape": "Kind" }, "Born": { "shape": "Date" },
                    "Seen": { "shape": "Date", "timestampFormat": "iso8601" },
                    "Tags": { "shape": "Tags" }, "Marks": { "shape": "Marks" }, "Good": { "shape": "Bool" } } },
                "Name": { "type": "string", "min": 1, "max": 5 },
                "Kind": { "type": "string", "enum": ["cat", "dog"] },
                "Limit": { "type": "integer", "min": 0, "max": 10 },
                "Date": { "type": "timestamp" },
                "Tags": { "type": "list", "member": { "shape": "Name" }, "max": 2 },
                "Marks": { "type": "map", "key": { "shape": "Name" }, "value": { "shape": "Limit" } },
                "Bool": { "type": "boolean" },
                "NoSuchPet": { "type": "structure", "members": {}, "exception": true }
            }
        }))
    }

    #[test]
    fn inputs_and_outputs_are_checked_recursively() {
        let m = model();
        assert_eq!(m.validate_input("GetPet", &json!({ "Name": "Rex", "Limit": 3 })), Ok(()));
        assert_eq!(m.validate_output("Ping", &json!({})), Ok(()));
        assert_eq!(m.errors("GetPet"), vec!["NoSuchPet".to_owned()]);
        let ok = json!({ "Name": "Tom", "Kind": "cat", "Born": 1.7e9, "Seen": "2026-11-22T10:00:00Z",
            "Tags": ["a"], "Marks": { "x": 1 }, "Good": true });
        assert_eq!(m.validate_output("GetPet", &ok), Ok(()));
        let input_errors = m.validate_input("GetPet", &json!({ "Limit": 11, "Colour": "red" })).unwrap_err();
        let bad = json!({ "Name": "Rexxxxx", "Kind": "cow", "Born": "2026-11-22", "Seen": 1,
            "Tags": ["a", "b", "c"], "Marks": { "toolongkey": "x" }, "Good": "yes" });
        let output_errors = m.validate_output("GetPet", &bad).unwrap_err();
        let all = [input_errors, output_errors].concat();
        for expected in [
            "input: missing required `Name`",
            "input.Limit: value 11 is above the maximum 10",
            "input.Colour: not a member",
            "output.Name: length 7 is above the maximum 5",
            "output.Kind: \"cow\" is not one of",
            "output.Born: expected timestamp",
            "output.Seen: expected timestamp",
            "output.Tags: length 3 is above the maximum 2",
            "output.Marks key toolongkey: length",
            "output.Marks.toolongkey: expected integer",
            "output.Good: expected boolean",
        ] {
            assert!(all.iter().any(|e| e.contains(expected)), "{expected} in {all:#?}");
        }
        assert!(m.validate_output("Ping", &json!({ "x": 1 })).is_err());
        assert!(m.validate_input("Nope", &json!({})).is_err());
    }
}
