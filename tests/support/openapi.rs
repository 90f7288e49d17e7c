//! A small OpenAPI 3.0 checker for the fakes: does an operation exist, which path template does a
//! concrete path match, and does a JSON body fit the documented schema. It knows the parts of JSON
//! Schema the vendor descriptions we use rely on (`type`, `properties`, `required`, `items`,
//! `nullable`, `enum`, `allOf`, `oneOf`/`anyOf` as "any branch", `additionalProperties`) and follows
//! `$ref: "#/components/..."` only when a value reaches it, so a 2 MB description costs nothing
//! up front. It checks what the fakes send and answer, not every keyword (no formats or lengths).

use serde_json::Value;
use std::path::Path;

pub struct Spec {
    doc: Value,
}

impl Spec {
    pub fn load(path: &Path) -> Spec {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Spec::from_value(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    pub fn from_value(doc: Value) -> Spec {
        Spec { doc }
    }

    fn operation(&self, method: &str, template: &str) -> Option<&Value> {
        self.doc["paths"].get(template)?.get(method.to_ascii_lowercase())
    }

    pub fn has_operation(&self, method: &str, template: &str) -> bool {
        self.operation(method, template).is_some()
    }

    /// The template a concrete path (query ignored) matches for `method`. Literal segments beat
    /// `{parameters}`, so `/issue/picker` wins over `/issue/{issueIdOrKey}`.
    pub fn match_path(&self, method: &str, concrete: &str) -> Option<String> {
        let path = concrete.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths
            .keys()
            .filter(|t| self.has_operation(method, t))
            .filter_map(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                if ts.len() != segments.len() {
                    return None;
                }
                let mut literals = 0;
                for (t, s) in ts.iter().zip(&segments) {
                    if t.starts_with('{') && t.ends_with('}') && !s.is_empty() {
                        continue;
                    }
                    if t != s {
                        return None;
                    }
                    literals += 1;
                }
                Some((literals, t.clone()))
            })
            .max_by_key(|(literals, _)| *literals)
            .map(|(_, t)| t)
    }

    pub fn validate_request(&self, method: &str, template: &str, body: &Value) -> Result<(), Vec<String>> {
        let op = self.operation(method, template).ok_or_else(|| vec![format!("no operation {method} {template}")])?;
        match op.pointer("/requestBody/content/application~1json/schema") {
            Some(schema) => self.check(schema, body, "request"),
            None => Err(vec![format!("{method} {template} documents no JSON request body")]),
        }
    }

    /// The body against the response documented for `status` (or `default`). A response documented
    /// without a JSON schema accepts anything (Jira's descriptions leave many error bodies open).
    pub fn validate_response(
        &self,
        method: &str,
        template: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let op = self.operation(method, template).ok_or_else(|| vec![format!("no operation {method} {template}")])?;
        let responses = &op["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"))
            .ok_or_else(|| vec![format!("{method} {template}: status {status} is not documented")])?;
        let response = self.resolve(response);
        match response.pointer("/content/application~1json/schema") {
            Some(schema) => self.check(schema, body, "response"),
            None => Ok(()),
        }
    }

    fn check(&self, schema: &Value, value: &Value, at: &str) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        self.validate(schema, value, at, &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Follow `$ref`s (`#/components/...`) until a schema without one.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("only local $ref supported: {r}"));
            schema = self.doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {r}"));
        }
        schema
    }

    fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() && schema["nullable"] == Value::Bool(true) {
            return;
        }
        for branch in schema["allOf"].as_array().into_iter().flatten() {
            self.validate(branch, value, at, errors);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = schema[key].as_array() {
                let mut all = Vec::new();
                let passes = branches.iter().any(|b| {
                    let mut errs = Vec::new();
                    self.validate(b, value, at, &mut errs);
                    all.extend(errs.clone());
                    errs.is_empty()
                });
                if !passes {
                    errors.push(format!("{at}: no branch of {key} matches ({})", all.join("; ")));
                }
            }
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
        }
        if let Some(t) = schema["type"].as_str()
            && !has_type(value, t)
        {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
        if let Some(object) = value.as_object() {
            for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    errors.push(format!("{at}: missing required `{name}`"));
                }
            }
            let properties = schema["properties"].as_object();
            for (name, v) in object {
                let here = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), &schema["additionalProperties"]) {
                    (Some(s), _) => self.validate(s, v, &here, errors),
                    (None, Value::Bool(false)) => {
                        errors.push(format!("{here}: not allowed (additionalProperties: false)"))
                    }
                    (None, extra @ Value::Object(_)) => self.validate(extra, v, &here, errors),
                    (None, _) => {}
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, v) in array.iter().enumerate() {
                self.validate(items, v, &format!("{at}[{i}]"), errors);
            }
        }
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::Spec;
    use serde_json::json;

    fn spec() -> Spec {
        Spec::from_value(json!({
            "openapi": "3.0.1",
            "paths": {
                "/pets/{petId}": { "get": { "responses": { "200": { "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Pet" } } } } } } },
                "/pets/mine": { "get": { "responses": {} } },
                "/pets": { "post": {
                    "requestBody": { "content": { "application/json": { "schema": { "allOf": [{ "$ref": "#/components/schemas/Pet" }] } } } },
                    "responses": { "201": { "description": "created" } } } }
            },
            "components": { "schemas": {
                "Pet": { "type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                    "name": { "type": "string" },
                    "kind": { "type": "string", "enum": ["cat", "dog"] },
                    "tags": { "type": "array", "items": { "type": "string" } },
                    "owner": { "nullable": true, "oneOf": [{ "type": "integer" }, { "type": "string" }] },
                    "extra": { "type": "object", "additionalProperties": { "type": "integer" } }
                } }
            } }
        }))
    }

    #[test]
    fn paths_match_literals_first() {
        let s = spec();
        assert_eq!(s.match_path("GET", "/pets/7?x=1").as_deref(), Some("/pets/{petId}"));
        assert_eq!(s.match_path("GET", "/pets/mine").as_deref(), Some("/pets/mine"));
        assert_eq!(s.match_path("DELETE", "/pets/7"), None);
        assert!(s.has_operation("post", "/pets") && !s.has_operation("get", "/pets"));
    }

    #[test]
    fn schemas_accept_and_reject() {
        let s = spec();
        let ok = json!({ "name": "Rex", "kind": "dog", "tags": ["a"], "owner": null, "extra": { "n": 1 } });
        assert_eq!(s.validate_response("GET", "/pets/{petId}", 200, &ok), Ok(()));
        assert_eq!(s.validate_request("POST", "/pets", &json!({ "name": "Tom", "owner": "me" })), Ok(()));
        let bad = json!({ "kind": "cow", "tags": [1], "owner": true, "extra": { "n": "x" }, "colour": "red" });
        let errors = s.validate_response("GET", "/pets/{petId}", 200, &bad).unwrap_err();
        for expected in [
            "missing required `name`",
            "not one of",
            "response.tags[0]: expected string",
            "no branch of oneOf",
            "response.extra.n",
            "response.colour: not allowed",
        ] {
            assert!(errors.iter().any(|e| e.contains(expected)), "{expected} in {errors:#?}");
        }
        assert!(s.validate_response("GET", "/pets/{petId}", 404, &ok).is_err(), "undocumented status");
        assert_eq!(s.validate_response("POST", "/pets", 201, &json!("anything")), Ok(()));
    }
}
