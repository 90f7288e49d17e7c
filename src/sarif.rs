//! SARIF 2.1.0 output of a scan, for GitHub code scanning (`github/codeql-action/upload-sarif`).

use crate::catalog;
use crate::scan::{Finding, Status};
use serde_json::{Value, json};

/// The SARIF log for a scan's findings.
pub fn to_sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = catalog::all()
        .iter()
        .map(|r| {
            let m = r.meta();
            json!({
                "id": m.identifier,
                "name": m.name,
                "shortDescription": { "text": format!("{} ({})", m.name, m.title) },
                "fullDescription": { "text": m.explanation },
                "helpUri": m.docs_url,
                "properties": { "risk": m.risk.as_str(), "tags": ["security", "terraform", "aws-config"] },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.rule,
                "level": match f.status { Status::Violation => "error", Status::Undecidable => "warning", Status::Suppressed => "note" },
                "message": { "text": format!("{}: {}", f.address, f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": { "startLine": f.line },
                    },
                }],
            });
            if f.status == Status::Suppressed {
                result["suppressions"] = json!([{ "kind": "inSource", "justification": f.message }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "driftfix",
                "informationUri": "https://github.com/driftfix/driftfix",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            } },
            "results": results,
        }],
    })
}
