//! Personal data: `@pii` fields (the kit's `#[dictamesh(pii)]`) are masked for callers
//! without the PII scope, and every read by an allowed caller is audited.

use serde_json::{Value, json};

use crate::mesh::{self, Who};

fn audit_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("an audit line is JSON"))
        .collect()
}

#[tokio::test]
async fn pii_fields_are_masked_without_the_scope_and_each_read_is_audited() {
    let audit = std::env::temp_dir().join(format!("dictamesh-pii-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&audit);
    let yaml = format!(
        "{}  pii: {{ scope: \"pii:read\", audit_file: \"{}\" }}\n",
        mesh::config_yaml("{}"),
        audit.display()
    );
    let mesh = mesh::start_with(&yaml).await;
    let query = "{ users { name phone } }";

    let (_, body) = mesh.query(query, Who::Denied).await;
    assert_eq!(
        body["data"]["users"],
        json!([{ "name": "Ada", "phone": null }, { "name": "Alan", "phone": null }]),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["users", "@", "phone"]));
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );
    assert!(audit_lines(&audit).is_empty(), "a masked field is not read");

    let (_, body) = mesh.query(query, Who::Allowed).await;
    assert_eq!(body["data"]["users"][1]["phone"], "+44 2", "{body}");
    let lines = audit_lines(&audit);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["subject"], "tester");
    assert_eq!(
        lines[0]["reads"],
        json!([{ "type": "User", "field": "phone", "path": ["users", "@", "phone"] }])
    );

    for _ in 0..49 {
        mesh.query(query, Who::Allowed).await;
        mesh.query("{ users { name } }", Who::Allowed).await;
    }
    assert_eq!(
        audit_lines(&audit).len(),
        50,
        "one record per request that reads PII"
    );
}
