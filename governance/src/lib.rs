//! DictaMesh governance: who may read what, enforced by the router.
//!
//! - [`authn`]: JWT bearer tokens verified against JWKS keys (files or URLs,
//!   refreshed), with issuer, audience and expiry checks, into a [`Caller`] with its
//!   claims and OAuth2 scopes.
//! - [`authz`]: Apollo's authorization directives (`@authenticated`,
//!   `@requiresScopes`, `@policy`) read from the supergraph; unauthorized selections
//!   are removed from an operation before it is planned.
//! - [`policy`]: `@policy` evaluated in-process (Rego, with the `rego` feature).
//! - [`audit`]: reads of `@pii` fields and denied access recorded in a durable
//!   outbox and relayed to the catalog's `audit_log`.
//!
//! ```
//! use apollo_compiler::{ExecutableDocument, Schema};
//! use dictamesh_governance::authz::{Authorizer, DirectivesConfig};
//! use dictamesh_governance::policy::PolicyEngine;
//! use dictamesh_governance::Caller;
//!
//! let schema = Schema::parse_and_validate(
//!     "directive @authenticated on FIELD_DEFINITION\n\
//!      type Query { me: String @authenticated, hello: String }",
//!     "schema.graphql",
//! ).unwrap();
//! let authorizer = Authorizer::new(&schema, &DirectivesConfig::default(), None, PolicyEngine::default());
//! let document = ExecutableDocument::parse_and_validate(&schema, "{ me hello }", "q.graphql").unwrap();
//! let operation = document.operations.get(None).unwrap();
//! let decision = authorizer.decide(&document, operation, &Caller::anonymous());
//! assert_eq!(decision.paths(), vec!["me".to_string()]);
//! ```
#![warn(missing_docs)]

pub mod audit;
pub mod authn;
pub mod authz;
mod caller;
pub mod policy;

pub use self::caller::Caller;
