//! SARIF 2.1.0 (`godwit lint --format sarif`): the format code-review tools read to put each
//! finding on its line.

use serde_json::{Value, json};

use super::{LintReport, Severity};

pub fn to_sarif(report: &LintReport) -> Value {
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "ruleIndex": rules.iter().position(|r| *r == f.rule),
                "level": match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Hint => "note",
                },
                "message": { "text": super::sentence(f) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file.replace('\\', "/") },
                        "region": { "startLine": f.line, "startColumn": f.column }
                    }
                }]
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "godwit",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/godwit/godwit",
                    "rules": rules.iter().map(|r| json!({ "id": r })).collect::<Vec<_>>()
                }
            },
            "results": results
        }]
    })
}
