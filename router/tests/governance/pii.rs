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

#[tokio::test]
async fn reads_and_refusals_go_to_the_durable_outbox_before_the_response() {
    use dictamesh_governance::audit::AuditAction;
    use dictamesh_governance::audit::outbox::AuditOutbox;

    let outbox = std::env::temp_dir().join(format!("dictamesh-audit-outbox-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&outbox);
    let yaml = format!(
        "{}  pii: {{ scope: \"pii:read\" }}\n  audit: {{ outbox: \"{}\" }}\n",
        mesh::config_yaml("{ reject_unauthorized: true }"),
        outbox.display()
    );
    let mesh = mesh::start_with(&yaml).await;
    let records = AuditOutbox::open(&outbox).expect("the outbox");

    let (status, body) = mesh
        .query("query People { users { id phone } }", Who::Allowed)
        .await;
    assert_eq!(status, 200, "{body}");
    let pending = records.pending(10).await.expect("read the outbox");
    let reads: Vec<_> = pending
        .iter()
        .map(|(_, r)| {
            (
                r.action,
                r.entity_id.as_deref(),
                r.field.as_deref(),
                r.operation.as_str(),
            )
        })
        .collect();
    assert_eq!(
        reads,
        [
            (AuditAction::PiiRead, Some("u1"), Some("phone"), "People"),
            (AuditAction::PiiRead, Some("u2"), Some("phone"), "People"),
        ],
        "one record per PII value in the response, with the entity's key"
    );
    assert_eq!(pending[0].1.subject.as_deref(), Some("tester"));

    // reject_unauthorized: the whole request is refused (403), and audited.
    let (status, _) = mesh.query("{ users { phone } }", Who::Denied).await;
    assert_eq!(status, 403);
    let pending = records.pending(10).await.expect("read the outbox");
    let refusal = &pending.last().expect("a record").1;
    assert_eq!(refusal.action, AuditAction::AccessDenied);
    assert_eq!(
        refusal.reason.as_deref(),
        Some("UNAUTHORIZED_FIELD_OR_TYPE (403)")
    );
    let _ = std::fs::remove_file(&outbox);
}

#[tokio::test]
async fn pii_text_fields_can_answer_a_redacted_value_instead_of_null() {
    let yaml = format!(
        "{}  pii: {{ scope: \"pii:read\", masking: redact, redacted_value: \"***\" }}\n",
        mesh::config_yaml("{}"),
    );
    let mesh = mesh::start_with(&yaml).await;
    let (status, body) = mesh.query("{ users { name phone salary } }", Who::Denied).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["users"],
        json!([
            { "name": "Ada", "phone": "***", "salary": null },
            { "name": "Alan", "phone": "***", "salary": null }
        ]),
        "{body}"
    );
    // The redacted field has no error; the field denied by its scopes still has one.
    let paths: Vec<&Value> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| &error["path"])
        .collect();
    assert_eq!(paths, vec![&json!(["users", "@", "salary"])], "{body}");

    let (_, body) = mesh.query("{ users { phone } }", Who::Allowed).await;
    assert_eq!(body["data"]["users"][0]["phone"], "+44 1", "{body}");
}
