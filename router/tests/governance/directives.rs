//! The directive matrix: `@authenticated`, `@requiresScopes` and `@policy`, each on a
//! field, an object type and an interface, asked by an allowed caller, a denied one
//! (valid token, lacking scope or failing the policy) and an anonymous one.

use serde_json::{Value, json};

use crate::mesh::{self, Who};

/// The `UNAUTHORIZED_FIELD_OR_TYPE` error paths of a response.
fn denied_paths(body: &Value) -> Vec<Value> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE")
        .map(|e| e["path"].clone())
        .collect()
}

/// Whether the response has `null` at `path` or above it.
fn nulled(data: &Value, path: &[&str]) -> bool {
    let mut value = data;
    for key in path {
        if value.is_null() {
            return true;
        }
        value = &value[*key];
    }
    value.is_null()
}

struct Case {
    directive: &'static str,
    placement: &'static str,
    query: &'static str,
    /// Where the restricted value is in `data`.
    at: &'static [&'static str],
    /// What the allowed caller reads there.
    value: Value,
    /// The error path of a denial.
    denied_path: Value,
    /// Whether a valid token without scopes passes (true for `@authenticated`).
    any_token_passes: bool,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            directive: "@authenticated",
            placement: "field",
            query: "{ user(id: \"u1\") { name email } }",
            at: &["user", "email"],
            value: json!("ada@example.com"),
            denied_path: json!(["user", "email"]),
            any_token_passes: true,
        },
        Case {
            directive: "@requiresScopes",
            placement: "field",
            query: "{ user(id: \"u1\") { name salary } }",
            at: &["user", "salary"],
            value: json!(100),
            denied_path: json!(["user", "salary"]),
            any_token_passes: false,
        },
        Case {
            directive: "@policy",
            placement: "field",
            query: "{ user(id: \"u1\") { name ssn } }",
            at: &["user", "ssn"],
            value: json!("123-45"),
            denied_path: json!(["user", "ssn"]),
            any_token_passes: false,
        },
        Case {
            directive: "@authenticated",
            placement: "type",
            query: "{ invoices { id total } }",
            at: &["invoices"],
            value: json!([{ "id": "i1", "total": 42 }]),
            denied_path: json!(["invoices"]),
            any_token_passes: true,
        },
        Case {
            directive: "@requiresScopes",
            placement: "type",
            query: "{ payslips { amount } }",
            at: &["payslips"],
            value: json!([{ "amount": 3000 }]),
            denied_path: json!(["payslips"]),
            any_token_passes: false,
        },
        Case {
            directive: "@policy",
            placement: "type",
            query: "{ medicalRecords { diagnosis } }",
            at: &["medicalRecords"],
            value: json!([{ "diagnosis": "healthy" }]),
            denied_path: json!(["medicalRecords"]),
            any_token_passes: false,
        },
        Case {
            directive: "@authenticated",
            placement: "interface",
            query: "{ notices { id text } }",
            at: &["notices"],
            value: json!([{ "id": "n1", "text": "posted" }]),
            denied_path: json!(["notices"]),
            any_token_passes: true,
        },
        Case {
            directive: "@requiresScopes",
            placement: "interface",
            query: "{ memos { id } }",
            at: &["memos"],
            value: json!([{ "id": "m1" }]),
            denied_path: json!(["memos"]),
            any_token_passes: false,
        },
        Case {
            directive: "@policy",
            placement: "interface",
            query: "{ ledgers { text } }",
            at: &["ledgers"],
            value: json!([{ "text": "posted" }]),
            denied_path: json!(["ledgers"]),
            any_token_passes: false,
        },
    ]
}

#[tokio::test]
async fn each_directive_on_fields_types_and_interfaces_allows_and_denies() {
    let mesh = mesh::start("{}").await;
    for case in cases() {
        for who in [Who::Allowed, Who::Denied, Who::Anonymous] {
            let label = format!("{} on a {} for {who:?}", case.directive, case.placement);
            let (status, body) = mesh.query(case.query, who).await;
            assert_eq!(status, 200, "{label}: {body}");
            let allowed = who == Who::Allowed || (who == Who::Denied && case.any_token_passes);
            if allowed {
                let mut value = &body["data"];
                for key in case.at {
                    value = &value[*key];
                }
                assert_eq!(value, &case.value, "{label}: {body}");
                assert!(denied_paths(&body).is_empty(), "{label}: {body}");
            } else {
                assert!(nulled(&body["data"], case.at), "{label}: {body}");
                assert_eq!(
                    denied_paths(&body),
                    vec![case.denied_path.clone()],
                    "{label}: {body}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_denied_non_null_field_nulls_its_nearest_nullable_parent() {
    let mesh = mesh::start("{}").await;
    // `email: String!`: its null propagates to the nullable `user`.
    let (_, body) = mesh
        .query("{ user(id: \"u1\") { name email } }", Who::Anonymous)
        .await;
    assert_eq!(body["data"], json!({ "user": null }), "{body}");
    assert_eq!(denied_paths(&body), vec![json!(["user", "email"])]);
    // A nullable field in a list is null in each element; its path marks the list.
    let (_, body) = mesh.query("{ users { name salary } }", Who::Denied).await;
    assert_eq!(
        body["data"],
        json!({ "users": [{ "name": "Ada", "salary": null }, { "name": "Alan", "salary": null }] }),
        "{body}"
    );
    assert_eq!(denied_paths(&body), vec![json!(["users", "@", "salary"])]);
    // The other fields of the operation are answered.
    let (_, body) = mesh
        .query("{ notices { id } user(id: \"u2\") { name } }", Who::Anonymous)
        .await;
    assert_eq!(
        body["data"],
        json!({ "notices": null, "user": { "name": "Alan" } }),
        "{body}"
    );
    // `invoices: [Invoice!]!` cannot be null: the whole `data` is.
    let (_, body) = mesh
        .query("{ invoices { id } user(id: \"u2\") { name } }", Who::Anonymous)
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(denied_paths(&body), vec![json!(["invoices"])]);
}

#[tokio::test]
async fn a_subgraph_fetch_disappears_when_all_its_fields_are_denied() {
    let mesh = mesh::start("{}").await;
    let query = "{ user(id: \"u1\") { name creditScore } }";
    let (_, body) = mesh.query(query, Who::Anonymous).await;
    let plan = body["extensions"]["queryPlan"].as_str().unwrap_or_default();
    assert!(!plan.contains("billing"), "no fetch to billing: {plan}");
    assert_eq!(
        body["data"],
        json!({ "user": { "name": "Ada", "creditScore": null } }),
        "{body}"
    );
    let (_, body) = mesh.query(query, Who::Denied).await;
    let plan = body["extensions"]["queryPlan"].as_str().unwrap_or_default();
    assert!(plan.contains("billing"), "{plan}");
    assert_eq!(body["data"]["user"]["creditScore"], 700, "{body}");
}

#[tokio::test]
async fn one_callers_filtered_plan_never_serves_another() {
    let mesh = mesh::start("{}").await;
    let query = "{ users { name salary ssn } }";
    for who in [
        Who::Anonymous,
        Who::Allowed,
        Who::Denied,
        Who::Allowed,
        Who::Anonymous,
    ] {
        let (_, body) = mesh.query(query, who).await;
        let salary = &body["data"]["users"][0]["salary"];
        match who {
            Who::Allowed => {
                assert_eq!(salary, 100, "{who:?}: {body}");
                assert_eq!(body["data"]["users"][0]["ssn"], "123-45");
            }
            _ => {
                assert!(salary.is_null(), "{who:?}: {body}");
                assert_eq!(denied_paths(&body).len(), 2, "{who:?}: {body}");
            }
        }
    }
}
