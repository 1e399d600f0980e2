//! `authorization.directives` options: `reject_unauthorized`, `dry_run`, and where
//! the errors go.

use serde_json::json;

use crate::mesh::{self, Who};

const QUERY: &str = "{ user(id: \"u1\") { name salary } }";

#[tokio::test]
async fn reject_unauthorized_refuses_the_whole_request() {
    let mesh = mesh::start("{ reject_unauthorized: true }").await;
    let (status, body) = mesh.query(QUERY, Who::Denied).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );
    assert_eq!(body["errors"][0]["path"], json!(["user", "salary"]));
    let (status, body) = mesh.query(QUERY, Who::Allowed).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["salary"], 100);
}

#[tokio::test]
async fn dry_run_answers_in_full_and_reports_what_it_would_remove() {
    let mesh = mesh::start("{ dry_run: true }").await;
    let (status, body) = mesh.query(QUERY, Who::Denied).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["salary"], 100, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["user", "salary"]), "{body}");
}

#[tokio::test]
async fn errors_can_go_to_extensions_or_nowhere() {
    let mesh = mesh::start("{ errors: { response: extensions } }").await;
    let (_, body) = mesh.query(QUERY, Who::Denied).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["extensions"]["authorizationErrors"][0]["path"],
        json!(["user", "salary"]),
        "{body}"
    );
    assert!(body["data"]["user"]["salary"].is_null());
    let mesh = mesh::start("{ errors: { response: disabled } }").await;
    let (_, body) = mesh.query(QUERY, Who::Denied).await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(body["extensions"].get("authorizationErrors").is_none(), "{body}");
    assert!(body["data"]["user"]["salary"].is_null());
}
