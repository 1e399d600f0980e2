//! Governance in the pipeline (see `dictamesh-governance`): the caller is
//! authenticated from the request headers, then the selections it may not make are
//! removed from its operation before planning — or the request is refused, with
//! `reject_unauthorized` — and reported as `UNAUTHORIZED_FIELD_OR_TYPE` errors.
//! Reads of `@pii` fields and denied access are audited: into the durable outbox
//! (when `authorization.audit.outbox` is set) before the response is sent, so a
//! request whose audit records cannot be written fails instead of answering.

use std::collections::HashMap;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable;
use apollo_compiler::schema::ExtendedType;
use dictamesh_governance::Caller;
use dictamesh_governance::audit::AuditConfig;
use dictamesh_governance::audit::AuditError;
use dictamesh_governance::audit::PiiAuditLog;
use dictamesh_governance::audit::RequestContext;
use dictamesh_governance::audit::outbox::AuditOutbox;
use dictamesh_governance::audit::relay::AuditRelay;
use dictamesh_governance::authn::AuthenticationConfig;
use dictamesh_governance::authn::Authenticator;
use dictamesh_governance::authn::JwksError;
use dictamesh_governance::authz::AuthorizationConfig;
use dictamesh_governance::authz::Authorizer;
use dictamesh_governance::authz::Decision;
use dictamesh_governance::authz::ErrorLocation;
use dictamesh_governance::policy::PolicyEngine;
use dictamesh_governance::policy::PolicyError;
use serde_json::Value;

use crate::execute::GraphQLResponse;
use crate::execute::node::Node;
use crate::request::RequestError;
use crate::supergraph::Supergraph;

/// Why governance cannot start.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    /// A JWKS document cannot be used.
    #[error("authentication: {0}")]
    Jwks(#[from] JwksError),
    /// The policy files cannot be loaded.
    #[error("authorization: {0}")]
    Policy(#[from] PolicyError),
    /// The PII audit file cannot be opened.
    #[error("authorization.pii.audit_file {path}: {source}")]
    Audit {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The audit outbox cannot be opened.
    #[error("authorization.audit.outbox: {0}")]
    Outbox(#[from] AuditError),
    /// The audit configuration does not hold together.
    #[error("authorization.audit: {0}")]
    AuditConfig(String),
}

/// What the router enforces: who the caller is and what it may select.
#[derive(Debug)]
pub struct Governance {
    authenticator: Option<Authenticator>,
    authorizer: Authorizer,
    require_authentication: bool,
    audit: PiiAuditLog,
    /// The key fields of each entity type (its first `@key`), for audit records.
    keys: HashMap<String, Vec<String>>,
    /// The value masked `@pii` text fields answer (`pii.masking: redact`).
    redacted_value: Option<String>,
}

/// The authorization outcome of one request.
pub struct Authorization {
    /// What the caller may not select.
    pub decision: Decision,
    /// Whether the operation is planned without the denied selections (false when
    /// everything is allowed, and in a dry run).
    pub filters: bool,
}

impl Governance {
    /// Governance for a supergraph, as configured; loads the JWKS files and the
    /// policy files (either failing stops the start).
    pub fn new(
        supergraph: &Supergraph,
        authentication: Option<&AuthenticationConfig>,
        authorization: &AuthorizationConfig,
    ) -> Result<Governance, GovernanceError> {
        let authenticator = authentication
            .map(|config| Authenticator::new(&config.jwt))
            .transpose()?;
        let policies = PolicyEngine::load(&authorization.policies)?;
        let audit = match &authorization.pii.audit_file {
            Some(path) => PiiAuditLog::open(path).map_err(|source| GovernanceError::Audit {
                path: path.display().to_string(),
                source,
            })?,
            None => PiiAuditLog::log_only(),
        };
        check_audit(&authorization.audit)?;
        let audit = match &authorization.audit.outbox {
            Some(path) => audit.with_outbox(AuditOutbox::open(path)?),
            None => audit,
        };
        Ok(Governance {
            authenticator,
            authorizer: Authorizer::new(
                &supergraph.api_schema,
                &authorization.directives,
                authorization.pii.scope.as_deref(),
                policies,
            ),
            require_authentication: authorization.require_authentication,
            audit,
            keys: entity_keys(supergraph),
            redacted_value: (authorization.pii.masking == dictamesh_governance::authz::PiiMasking::Redact)
                .then(|| authorization.pii.redacted_value.clone()),
        })
    }

    /// The default: no authentication (every caller is anonymous), directives
    /// enforced.
    pub fn directives_only(supergraph: &Supergraph) -> Governance {
        Governance {
            authenticator: None,
            authorizer: Authorizer::new(
                &supergraph.api_schema,
                &Default::default(),
                None,
                PolicyEngine::default(),
            ),
            require_authentication: false,
            audit: PiiAuditLog::log_only(),
            keys: HashMap::new(),
            redacted_value: None,
        }
    }

    /// The caller of a request, from its token header; a bad token (or none, when
    /// authentication is required) is a 401 `UNAUTHENTICATED` that tells no detail,
    /// the reason going to the log.
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Result<Caller, RequestError> {
        let caller = self.identify(headers)?;
        self.require(&caller)?;
        Ok(caller)
    }

    /// The caller a request's token header makes (anonymous without one); a bad
    /// token is a 401.
    pub fn identify(&self, headers: &http::HeaderMap) -> Result<Caller, RequestError> {
        let Some(authenticator) = &self.authenticator else {
            return Ok(Caller::anonymous());
        };
        let header = headers
            .get(authenticator.header_name())
            .map(|value| value.to_str().unwrap_or("\u{fffd}"));
        self.verify(header)
    }

    /// The caller the connection parameters of a WebSocket (`connection_init`'s
    /// payload) make, when they carry the token header (case-insensitive name).
    pub fn identify_params(
        &self,
        params: &serde_json::Map<String, Value>,
    ) -> Result<Option<Caller>, RequestError> {
        let Some(authenticator) = &self.authenticator else {
            return Ok(None);
        };
        let Some((_, value)) = params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(authenticator.header_name()))
        else {
            return Ok(None);
        };
        self.verify(Some(value.as_str().unwrap_or("\u{fffd}"))).map(Some)
    }

    fn verify(&self, header: Option<&str>) -> Result<Caller, RequestError> {
        let Some(authenticator) = &self.authenticator else {
            return Ok(Caller::anonymous());
        };
        authenticator.authenticate(header).map_err(|reason| {
            tracing::info!(%reason, "request refused: invalid token");
            unauthenticated()
        })
    }

    /// Refuses (401) an anonymous caller when authentication is required.
    pub fn require(&self, caller: &Caller) -> Result<(), RequestError> {
        if self.require_authentication && !caller.is_authenticated() {
            tracing::info!("request refused: authentication is required");
            return Err(unauthenticated());
        }
        Ok(())
    }

    /// Decides what `caller` may select; with `reject_unauthorized`, a denial refuses
    /// the request (403).
    pub fn authorize(
        &self,
        document: &ExecutableDocument,
        operation: &executable::Operation,
        caller: &Caller,
    ) -> Result<Authorization, RequestError> {
        let decision = self.authorizer.decide(document, operation, caller);
        let options = self.authorizer.options();
        if decision.allows_everything() {
            return Ok(Authorization {
                decision,
                filters: false,
            });
        }
        if options.reject_unauthorized && !options.dry_run {
            return Err(RequestError {
                errors: decision.errors(),
                status: 403,
            });
        }
        Ok(Authorization {
            filters: !options.dry_run,
            decision,
        })
    }

    /// Authorizes an operation that cannot be filtered (a subscription): anything
    /// denied refuses it (403), unless in a dry run; the outcome carries the
    /// `@pii` reads to audit.
    pub fn authorize_whole(
        &self,
        document: &ExecutableDocument,
        operation: &executable::Operation,
        caller: &Caller,
    ) -> Result<Authorization, RequestError> {
        let decision = self.authorizer.decide(document, operation, caller);
        if decision.allows_everything() || self.authorizer.options().dry_run {
            return Ok(Authorization {
                decision,
                filters: false,
            });
        }
        Err(RequestError {
            errors: decision.errors(),
            status: 403,
        })
    }

    /// Audits the `@pii` reads of `caller`'s operation (one record per field value
    /// in the response) and the selections removed from it, then adds the
    /// authorization errors where the configuration wants them. Audit records that
    /// cannot be written fail the request (500 `AUDIT_UNAVAILABLE`): no personal data
    /// leaves unaudited.
    pub async fn report(
        &self,
        authorization: &Authorization,
        context: RequestContext<'_>,
        response: &mut GraphQLResponse,
    ) -> Result<(), RequestError> {
        let reads = &authorization.decision.pii_reads;
        let written = self.audit.record(context.caller, context.operation, reads);
        let mut records = Vec::new();
        if self.audit.is_durable() && !reads.is_empty() {
            let data = match response.data.as_deref().map(serde_json::from_slice::<Value>) {
                Some(Ok(data)) => Some(data),
                None => None,
                Some(Err(error)) => {
                    tracing::error!(%error, "the response data cannot be read for its audit; the request fails");
                    return Err(audit_unavailable());
                }
            };
            records = context.pii_reads(reads, data.as_ref(), |type_name| {
                self.keys.get(type_name).map(Vec::as_slice)
            });
        }
        if !authorization.decision.allows_everything() {
            records.extend(context.denied_selections(&authorization.decision.paths()));
        }
        if let Err(error) = written.and(self.audit.persist(&records).await) {
            tracing::error!(%error, "the audit records cannot be written; the request fails");
            return Err(audit_unavailable());
        }
        self.add_errors(authorization, response);
        Ok(())
    }

    /// Whether a response needs [`Governance::report`]'s durable records (PII
    /// reads or denials with an outbox configured).
    pub fn needs_durable_audit(&self, authorization: &Authorization) -> bool {
        self.audit.is_durable()
            && (!authorization.decision.pii_reads.is_empty() || !authorization.decision.allows_everything())
    }

    /// Reports a response that needs no durable records (see
    /// [`Governance::needs_durable_audit`]): the log and JSON-lines audit of its PII
    /// reads (a line that cannot be written is logged) and the authorization errors.
    pub fn report_unaudited(
        &self,
        authorization: &Authorization,
        caller: &Caller,
        operation: Option<&str>,
        response: &mut GraphQLResponse,
    ) {
        if let Err(error) = self
            .audit
            .record(caller, operation, &authorization.decision.pii_reads)
        {
            tracing::error!(%error, "the PII audit line cannot be written");
        }
        self.add_errors(authorization, response);
    }

    /// The masked `@pii` paths of a request and the value they answer, when
    /// redaction is on (`pii.masking: redact`) and the operation was filtered.
    pub fn redactions<'a>(
        &'a self,
        authorization: &'a Authorization,
    ) -> Option<(&'a [Vec<String>], &'a str)> {
        let value = self.redacted_value.as_deref()?;
        let paths = &authorization.decision.maskable_paths;
        (authorization.filters && !paths.is_empty()).then_some((paths.as_slice(), value))
    }

    /// Whether a response under `authorization` depends only on the operation,
    /// its variables and its plan, so identical requests may share it: nothing
    /// masked, refused or audited for this caller.
    pub fn shares_responses(&self, authorization: &Authorization) -> bool {
        authorization.decision.allows_everything()
            && authorization.decision.pii_reads.is_empty()
            && self.redactions(authorization).is_none()
    }

    /// Adds the authorization errors where the configuration wants them (none for
    /// redacted fields).
    fn add_errors(&self, authorization: &Authorization, response: &mut GraphQLResponse) {
        if authorization.decision.allows_everything() {
            return;
        }
        let redacted = self.redactions(authorization).map_or(&[][..], |(paths, _)| paths);
        match self.authorizer.options().errors.response {
            ErrorLocation::Errors => {
                let mut errors = authorization.decision.errors_except(redacted);
                errors.append(&mut response.errors);
                response.errors = errors;
            }
            ErrorLocation::Extensions => {
                response.extensions.insert(
                    "authorizationErrors".to_string(),
                    Value::Array(authorization.decision.errors_except(redacted)),
                );
            }
            ErrorLocation::Disabled => {}
        }
    }

    /// Audits a refused request (401, 403): one `access_denied` record whose reason
    /// is the error's code. A record that cannot be written is logged (the request
    /// is refused anyway).
    pub async fn audit_refusal(&self, context: RequestContext<'_>, refusal: &RequestError) {
        let code = refusal
            .errors
            .first()
            .and_then(|e| e.pointer("/extensions/code"))
            .and_then(Value::as_str)
            .unwrap_or("REFUSED");
        let record = context.denied_request(&format!("{code} ({})", refusal.status));
        if let Err(error) = self.audit.persist(&[record]).await {
            tracing::error!(%error, "the audit record of a refused request cannot be written");
        }
    }
}

/// Starts the relay that delivers the audit outbox to the catalog, when
/// `authorization.audit` names both the outbox and the catalog's ingest URL.
pub fn spawn_audit_relay(
    config: &AuditConfig,
) -> Result<Option<tokio::task::JoinHandle<()>>, GovernanceError> {
    let (Some(path), Some(url)) = (&config.outbox, &config.deliver_to) else {
        return Ok(None);
    };
    let outbox = AuditOutbox::open(path)?;
    let relay = AuditRelay::new(outbox, url.clone(), config.batch_size, config.interval);
    let relay = match &config.token {
        Some(token) => relay.with_token(token.clone()),
        None => relay,
    };
    Ok(Some(relay.spawn()))
}

/// Checks that a relay target comes with an outbox and is an http(s) URL.
fn check_audit(config: &AuditConfig) -> Result<(), GovernanceError> {
    let Some(url) = &config.deliver_to else {
        return Ok(());
    };
    if config.outbox.is_none() {
        return Err(GovernanceError::AuditConfig(
            "deliver_to needs an outbox (authorization.audit.outbox) to deliver from".into(),
        ));
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(()),
        Ok(parsed) => Err(GovernanceError::AuditConfig(format!(
            "deliver_to `{url}` is not an http(s) URL (scheme {})",
            parsed.scheme()
        ))),
        Err(error) => Err(GovernanceError::AuditConfig(format!(
            "deliver_to `{url}` is not a URL: {error}"
        ))),
    }
}

/// The top-level fields of each object type's first `@key`.
fn entity_keys(supergraph: &Supergraph) -> HashMap<String, Vec<String>> {
    supergraph
        .api_schema
        .types
        .iter()
        .filter(|(_, ty)| matches!(ty, ExtendedType::Object(_)))
        .filter_map(|(name, _)| {
            let meta = supergraph.type_meta(name)?;
            let key = meta.in_graphs.iter().find_map(|graph| graph.keys.first())?;
            let fields = key
                .fields
                .items
                .iter()
                .filter_map(|selection| match selection {
                    crate::plan::selection::Selection::Field(field) => Some(field.name.to_string()),
                    crate::plan::selection::Selection::Fragment(_) => None,
                })
                .collect();
            Some((name.to_string(), fields))
        })
        .collect()
}

fn audit_unavailable() -> RequestError {
    RequestError::new(
        500,
        "The request read personal data whose access cannot be audited right now; no data is returned.",
        "AUDIT_UNAVAILABLE",
    )
}

fn unauthenticated() -> RequestError {
    RequestError::new(401, "The request is not authenticated.", "UNAUTHENTICATED")
}

/// The operation without what `authorization` removes, normalized for planning
/// (`None` when nothing is removed).
pub fn normalize_filtered(
    supergraph: &Supergraph,
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variables: &serde_json::Map<String, Value>,
    authorization: &Authorization,
) -> Result<Option<crate::plan::Operation>, crate::plan::PlanError> {
    if !authorization.filters {
        return Ok(None);
    }
    let filtered = dictamesh_governance::authz::filter_document(document, &authorization.decision);
    let filtered_operation = match &operation.name {
        Some(name) => filtered.operations.named.get(name),
        None => filtered.operations.anonymous.as_ref(),
    };
    let filtered_operation = filtered_operation.ok_or_else(|| {
        crate::plan::PlanError::InvalidDocument("the operation vanished while filtering it".to_string())
    })?;
    Ok(Some(crate::plan::normalize_operation(
        supergraph,
        &filtered,
        filtered_operation,
        variables,
    )?))
}

/// Writes `value` at each of `paths` (response keys, `@` for list positions) in
/// the merged data, where the enclosing object exists.
pub fn redact(data: &mut Node, paths: &[Vec<String>], value: &str) {
    fn put(node: &mut Node, path: &[String], value: &str) {
        match path {
            [] => {}
            [last] => {
                if let Node::Object(object) = node {
                    object.insert(last.as_str(), Node::String(value.into()));
                }
            }
            [first, rest @ ..] if first == "@" => {
                if let Node::Array(items) = node {
                    for item in items {
                        put(item, rest, value);
                    }
                }
            }
            [first, rest @ ..] => {
                if let Node::Object(object) = node
                    && let Some(child) = object.get_mut(first.as_str())
                {
                    put(child, rest, value);
                }
            }
        }
    }
    for path in paths {
        put(data, path, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_settings_that_cannot_work_are_named() {
        let config = |outbox: Option<&str>, url: &str| AuditConfig {
            outbox: outbox.map(std::path::PathBuf::from),
            deliver_to: Some(url.to_string()),
            ..AuditConfig::default()
        };
        let error = check_audit(&config(None, "http://catalog/ingest")).unwrap_err();
        assert!(error.to_string().contains("needs an outbox"), "{error}");
        let error = check_audit(&config(Some("a.db"), "catalog/ingest")).unwrap_err();
        assert!(
            error.to_string().contains("`catalog/ingest` is not a URL"),
            "{error}"
        );
        let error = check_audit(&config(Some("a.db"), "ftp://catalog/ingest")).unwrap_err();
        assert!(error.to_string().contains("not an http(s) URL"), "{error}");
        assert!(check_audit(&config(Some("a.db"), "http://catalog:4010/ingest")).is_ok());
    }
}
