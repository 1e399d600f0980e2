//! Authorization with Apollo's directives: `@authenticated`, `@requiresScopes(scopes:
//! [[Scope]])` and `@policy(policies: [[Policy]])` (outer list OR, inner list AND) on
//! fields, object types, interfaces, scalars and enums. Before planning, the
//! selections a caller may not make are found ([`Authorizer::decide`]) and removed
//! ([`filter_document`]); the response answers them with `null` and an
//! `UNAUTHORIZED_FIELD_OR_TYPE` error carrying their path.

mod decision;
mod filter;
mod rules;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Schema;
use apollo_compiler::executable;
use serde::Deserialize;

pub use self::decision::Decision;
pub use self::decision::PiiRead;
pub use self::decision::UNAUTHORIZED_CODE;
pub use self::filter::filter_document;
pub use self::rules::AccessRules;
pub use self::rules::Alternatives;
pub use self::rules::Requirement;
use crate::Caller;
use crate::policy::PolicyConfig;
use crate::policy::PolicyEngine;

/// `authorization` in `router.yaml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// Refuse (401) requests without a valid token.
    #[serde(default)]
    pub require_authentication: bool,
    /// The authorization directives.
    #[serde(default)]
    pub directives: DirectivesConfig,
    /// The `@policy` policies.
    #[serde(default)]
    pub policies: PolicyConfig,
    /// Personal data (`@pii` fields).
    #[serde(default)]
    pub pii: PiiConfig,
    /// The durable audit of PII reads and denied access.
    #[serde(default)]
    pub audit: crate::audit::AuditConfig,
}

/// `authorization.pii`: who reads `@pii` fields, and the audit of those reads.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PiiConfig {
    /// The scope a caller needs to read `@pii` fields; others get `null` and an
    /// `UNAUTHORIZED_FIELD_OR_TYPE` error (none: anyone reads them).
    #[serde(default)]
    pub scope: Option<String>,
    /// A file that gets one JSON line per request reading `@pii` fields.
    #[serde(default)]
    pub audit_file: Option<std::path::PathBuf>,
    /// How a `@pii` text field (`String`, `ID`) answers a caller without the
    /// scope: `null` and an error (default), or `redact`: the `redacted_value`.
    #[serde(default)]
    pub masking: PiiMasking,
    /// The value `redact` answers (default `"[REDACTED]"`).
    #[serde(default = "default_redacted_value")]
    pub redacted_value: String,
}

/// How masked `@pii` fields answer.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PiiMasking {
    /// `null` and an `UNAUTHORIZED_FIELD_OR_TYPE` error.
    #[default]
    Null,
    /// The configured redacted value, without an error.
    Redact,
}

fn default_redacted_value() -> String {
    "[REDACTED]".to_string()
}

impl Default for PiiConfig {
    fn default() -> Self {
        PiiConfig {
            scope: None,
            audit_file: None,
            masking: PiiMasking::Null,
            redacted_value: default_redacted_value(),
        }
    }
}

/// `authorization.directives`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DirectivesConfig {
    /// Enforce the directives (default true).
    pub enabled: bool,
    /// Refuse the whole request (403) when any selection is denied, instead of
    /// removing the denied selections.
    pub reject_unauthorized: bool,
    /// Run the operation in full, reporting what would have been removed.
    pub dry_run: bool,
    /// Where the errors go.
    pub errors: ErrorsConfig,
}

impl Default for DirectivesConfig {
    fn default() -> Self {
        DirectivesConfig {
            enabled: true,
            reject_unauthorized: false,
            dry_run: false,
            errors: ErrorsConfig::default(),
        }
    }
}

/// `authorization.directives.errors`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    /// Log each denied path (default true).
    pub log: bool,
    /// Where the response reports them (default `errors`).
    pub response: ErrorLocation,
}

impl Default for ErrorsConfig {
    fn default() -> Self {
        ErrorsConfig {
            log: true,
            response: ErrorLocation::Errors,
        }
    }
}

/// Where authorization errors appear in the response.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ErrorLocation {
    /// In `errors`.
    #[default]
    Errors,
    /// In `extensions.authorizationErrors`.
    Extensions,
    /// Nowhere.
    Disabled,
}

/// Decides what callers may select in a schema.
#[derive(Debug)]
pub struct Authorizer {
    rules: AccessRules,
    policies: PolicyEngine,
    config: DirectivesConfig,
}

impl Authorizer {
    /// Reads the schema's directives (and `@pii` marks, requiring `pii_scope` when
    /// set); `policies` evaluates `@policy`.
    pub fn new(
        schema: &Schema,
        config: &DirectivesConfig,
        pii_scope: Option<&str>,
        policies: PolicyEngine,
    ) -> Authorizer {
        let rules = AccessRules::from_schema(schema, pii_scope);
        let names = rules.policy_names();
        if !names.is_empty() && !policies.is_loaded() && config.enabled {
            tracing::warn!(
                ?names,
                "the supergraph uses @policy but no policy files are loaded: those selections are denied to everyone"
            );
        }
        Authorizer {
            rules,
            policies,
            config: config.clone(),
        }
    }

    /// The directive options.
    pub fn options(&self) -> &DirectivesConfig {
        &self.config
    }

    /// The selections of `operation` that `caller` may not make.
    pub fn decide<'d>(
        &self,
        document: &'d ExecutableDocument,
        operation: &'d executable::Operation,
        caller: &Caller,
    ) -> Decision {
        if !self.config.enabled || self.rules.is_empty() {
            return Decision::default();
        }
        let mut walk = decision::DecisionWalk {
            rules: &self.rules,
            policies: &self.policies,
            caller,
            document,
            policy_outcomes: Default::default(),
            decision: Decision::default(),
            active_fragments: Vec::new(),
        };
        walk.walk(&operation.selection_set, &mut Vec::new());
        let decision = walk.decision;
        if self.config.errors.log && !decision.allows_everything() {
            tracing::info!(
                subject = caller.subject(),
                denied = ?decision.paths(),
                dry_run = self.config.dry_run,
                "unauthorized selections"
            );
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
type Query { me: User, users: [User!]! @requiresScopes(scopes: [["read:users"]]), public: String }
type User { id: ID! name: String email: String @authenticated salary: Int @requiresScopes(scopes: [["hr"]]) }
"#;

    fn decide(query: &str, caller: &Caller) -> (Decision, ExecutableDocument) {
        let (decision, document) = decide_with_document(SCHEMA, query, caller);
        let filtered = filter_document(&document, &decision);
        (decision, filtered)
    }

    #[test]
    fn denied_fields_are_reported_by_path_and_removed() {
        let (decision, filtered) = decide("{ public me { name email } users { id } }", &Caller::anonymous());
        assert_eq!(
            decision.paths(),
            vec!["me.email".to_string(), "users".to_string()]
        );
        let printed = filtered.to_string();
        assert!(!printed.contains("email"), "{printed}");
        assert!(!printed.contains("users"), "{printed}");
        assert!(printed.contains("name"), "{printed}");
        assert_eq!(decision.errors()[0]["extensions"]["code"], UNAUTHORIZED_CODE);
    }

    #[test]
    fn a_field_whose_selections_all_go_goes_too_and_fragments_are_followed() {
        let caller = Caller::authenticated(serde_json::Map::new());
        let (decision, filtered) = decide(
            "query { public users { ...F } } fragment F on User { email }",
            &caller,
        );
        assert_eq!(decision.paths(), vec!["users".to_string()]);
        let (decision, filtered_anonymous) = decide(
            "query { me { ...F } } fragment F on User { email }",
            &Caller::anonymous(),
        );
        assert_eq!(decision.paths(), vec!["me.email".to_string()]);
        let operation = filtered_anonymous.operations.get(None).expect("operation");
        assert!(
            operation.selection_set.selections.is_empty(),
            "me lost every selection"
        );
        assert!(filtered.to_string().contains("public"));
    }

    #[test]
    fn a_list_position_reads_as_at() {
        let claims = serde_json::json!({ "scope": "read:users" });
        let caller = Caller::authenticated(claims.as_object().cloned().unwrap_or_default());
        let (decision, _) = decide("{ users { id email } }", &caller);
        assert!(decision.allows_everything(), "{decision:?}");
        let (decision, _) = decide("{ users { id salary } }", &caller);
        assert_eq!(decision.paths(), vec!["users.@.salary".to_string()]);
        assert_eq!(
            decision.errors()[0]["path"],
            serde_json::json!(["users", "@", "salary"])
        );
    }

    const SHAPES: &str = r#"
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
scalar Secret @authenticated
enum Grade @requiresScopes(scopes: [["grades"]]) { A B }
interface Node { id: ID! label: String }
type Open implements Node { id: ID! label: String }
type Closed implements Node @requiresScopes(scopes: [["closed"]]) { id: ID! label: String }
type Tagged implements Node { id: ID! label: String @authenticated }
type Query { secret: Secret grade: Grade open: Open node: Node nodes: [Node] }
"#;

    fn decide_on(schema: &str, query: &str, caller: &Caller) -> Decision {
        decide_with_document(schema, query, caller).0
    }

    /// The decision for `query` against `schema`, with the parsed document.
    fn decide_with_document(schema: &str, query: &str, caller: &Caller) -> (Decision, ExecutableDocument) {
        let schema = Schema::parse_and_validate(schema, "s.graphql").expect("schema");
        let authorizer = Authorizer::new(
            &schema,
            &DirectivesConfig::default(),
            None,
            PolicyEngine::default(),
        );
        let document = ExecutableDocument::parse_and_validate(&schema, query, "q.graphql").expect("query");
        let operation = document.operations.get(None).expect("operation");
        let decision = authorizer.decide(&document, operation, caller);
        (decision, document.into_inner())
    }

    #[test]
    fn scalars_and_enums_restrict_the_fields_that_return_them() {
        let decision = decide_on(SHAPES, "{ secret grade open { id } }", &Caller::anonymous());
        assert_eq!(decision.paths(), vec!["grade".to_string(), "secret".to_string()]);
        let claims = serde_json::json!({ "scope": "grades" });
        let caller = Caller::authenticated(claims.as_object().cloned().unwrap_or_default());
        assert!(decide_on(SHAPES, "{ secret grade }", &caller).allows_everything());
    }

    #[test]
    fn interfaces_require_what_their_implementations_require() {
        let claims = serde_json::json!({ "scope": "closed" });
        let closed_reader = Caller::authenticated(claims.as_object().cloned().unwrap_or_default());
        let anonymous = Caller::anonymous();
        // A field returning the interface needs what every implementation type needs.
        assert_eq!(
            decide_on(SHAPES, "{ node { id } }", &anonymous).paths(),
            vec!["node".to_string()]
        );
        assert!(decide_on(SHAPES, "{ node { id } }", &closed_reader).allows_everything());
        // An interface field needs what each implementation's field needs.
        let reader = Caller::authenticated(serde_json::Map::new());
        let decision = decide_on(SHAPES, "{ open { label } nodes { label } }", &reader);
        assert_eq!(
            decision.paths(),
            vec!["nodes".to_string()],
            "Closed needs a scope"
        );
        let decision = decide_on(SHAPES, "{ nodes { label } }", &closed_reader);
        assert!(decision.allows_everything(), "{decision:?}");
    }

    #[test]
    fn a_type_condition_on_a_restricted_type_is_removed_at_its_path() {
        let schema = r#"
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
union Result = Open | Closed
type Open { id: ID! }
type Closed @authenticated { id: ID! }
type Query { results: [Result] }
"#;
        let query = "{ results { ... on Open { id } ... on Closed { id } } }";
        let schema_parsed = Schema::parse_and_validate(schema, "s.graphql").expect("schema");
        let authorizer = Authorizer::new(
            &schema_parsed,
            &DirectivesConfig::default(),
            None,
            PolicyEngine::default(),
        );
        let document =
            ExecutableDocument::parse_and_validate(&schema_parsed, query, "q.graphql").expect("query");
        let operation = document.operations.get(None).expect("operation");
        let decision = authorizer.decide(&document, operation, &Caller::anonymous());
        assert_eq!(decision.paths(), vec!["results.@".to_string()]);
        let filtered = filter_document(&document, &decision).to_string();
        assert!(filtered.contains("... on Open"), "{filtered}");
        assert!(!filtered.contains("Closed"), "{filtered}");
    }

    #[test]
    fn plan_keys_tell_apart_denials_that_share_a_path() {
        let schema = r#"
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
union Result = A | B
type A { x: Int @requiresScopes(scopes: [["a"]]) }
type B { x: Int @requiresScopes(scopes: [["b"]]) }
type Query { results: [Result] }
"#;
        let query = "{ results { ... on A { x } ... on B { x } } }";
        let with_scope = |scope: &str| {
            let claims = serde_json::json!({ "scope": scope });
            Caller::authenticated(claims.as_object().cloned().unwrap_or_default())
        };
        let reads_a = decide_on(schema, query, &with_scope("a"));
        let reads_b = decide_on(schema, query, &with_scope("b"));
        assert_eq!(reads_a.paths(), reads_b.paths());
        assert_ne!(reads_a.plan_key(), reads_b.plan_key());
    }
}
