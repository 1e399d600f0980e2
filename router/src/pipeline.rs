//! One supergraph's request pipeline: request (parse, validate, limits, variables) →
//! authorization (see [`governance`](crate::governance)) → plan (cached) → execute (with introspection answered by the router). The HTTP
//! layer hands it one GraphQL request at a time; a reload swaps in a new pipeline
//! while requests in flight finish on the old one.

use std::collections::HashSet;
use std::sync::Arc;

use apollo_compiler::Schema;
use apollo_compiler::ast::OperationType;
use apollo_compiler::validation::Valid;
use dictamesh::events::feed::ChangeFeed;
use serde_json::Map;
use serde_json::Value;
use tracing::Instrument;

use crate::execute::Executor;
use crate::execute::GraphQLResponse;
use crate::execute::SubgraphSettings;
use crate::fetch::SubgraphClient;
use crate::governance::Governance;
use crate::plan::PlanCacheKey;
use crate::plan::PlanError;
use crate::plan::QueryPlanner;
use crate::request::ApqCache;
use crate::request::DocumentCache;
use crate::request::GraphQLRequest;
use crate::request::OperationLimits;
use crate::request::ParsedDocument;
use crate::request::RequestError;
use crate::resilience::SubgraphGuard;
use crate::subscriptions::EntityChangeSubscriptions;
use crate::subscriptions::EventStream;
use crate::supergraph::Supergraph;
use crate::telemetry::RouterMetrics;
use crate::traffic::DedupeConfig;
use crate::traffic::RequestDedupe;

/// What the pipeline allows and how it plans.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Operation limits.
    pub limits: OperationLimits,
    /// Whether `__schema` and `__type` are answered.
    pub introspection: bool,
    /// Progressive override labels that are always enabled (`percent(N)` labels are
    /// drawn per request).
    pub override_labels: HashSet<String>,
    /// Plans kept in the cache.
    pub plan_cache_size: usize,
    /// Parsed documents kept in the cache.
    pub document_cache_size: usize,
    /// Automatic persisted queries: how many to remember (`None`: APQ off).
    pub apq_cache_size: Option<usize>,
    /// The metrics the pipeline records into (shared across reloads).
    pub metrics: Arc<RouterMetrics>,
    /// Serve `Subscription.entityChanged` (the API schema gains it).
    pub subscriptions: bool,
    /// Identical query requests in flight share one execution.
    pub dedupe: DedupeConfig,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            limits: OperationLimits::default(),
            introspection: true,
            override_labels: HashSet::new(),
            plan_cache_size: 1024,
            document_cache_size: 1024,
            apq_cache_size: Some(1000),
            metrics: Arc::new(RouterMetrics::new()),
            subscriptions: false,
            dedupe: DedupeConfig::default(),
        }
    }
}

/// How a request arrived: GET may only run queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestMethod {
    /// HTTP GET.
    Get,
    /// HTTP POST.
    Post,
}

/// One supergraph's request pipeline.
pub struct Pipeline {
    supergraph: Arc<Supergraph>,
    api_schema: Valid<Schema>,
    subscriptions: Option<Arc<EntityChangeSubscriptions>>,
    planner: QueryPlanner,
    executor: Arc<Executor>,
    documents: DocumentCache,
    options: PipelineOptions,
    percent_labels: Vec<(String, f64)>,
    apq: Option<ApqCache>,
    governance: Arc<Governance>,
    dedupe: RequestDedupe,
}

impl Pipeline {
    /// A pipeline for a supergraph; subgraph requests go through `client`.
    pub fn new(
        supergraph: Arc<Supergraph>,
        client: SubgraphClient,
        settings: SubgraphSettings,
        options: PipelineOptions,
    ) -> Self {
        let percent_labels = supergraph
            .override_labels()
            .into_iter()
            .filter_map(|label| {
                let percent = label
                    .strip_prefix("percent(")?
                    .strip_suffix(')')?
                    .parse::<f64>()
                    .ok()?;
                Some((label, percent))
            })
            .collect();
        let subscriptions = options
            .subscriptions
            .then(|| {
                EntityChangeSubscriptions::new(
                    &supergraph,
                    client.clone(),
                    settings.clone(),
                    options.metrics.clone(),
                )
            })
            .and_then(|built| {
                built
                    .map_err(|reason| tracing::warn!(%reason, "entityChanged subscriptions are off"))
                    .ok()
            })
            .map(Arc::new);
        Pipeline {
            api_schema: subscriptions
                .as_ref()
                .map_or_else(|| supergraph.api_schema.clone(), |s| s.api_schema().clone()),
            subscriptions,
            planner: QueryPlanner::new(supergraph.clone(), options.plan_cache_size),
            executor: Arc::new(Executor::new(
                supergraph.clone(),
                client,
                settings,
                options.metrics.clone(),
            )),
            documents: DocumentCache::new(options.document_cache_size),
            apq: options.apq_cache_size.map(ApqCache::new),
            governance: Arc::new(Governance::directives_only(&supergraph)),
            dedupe: RequestDedupe::new(&options.dedupe),
            supergraph,
            options,
            percent_labels,
        }
    }

    /// Enforces `governance` (authentication and authorization) instead of the
    /// default (anonymous callers, directives enforced).
    pub fn with_governance(mut self, governance: Governance) -> Self {
        self.governance = Arc::new(governance);
        self
    }

    /// The caller of a request, from its headers (401 on a bad token, or on none
    /// when authentication is required).
    pub fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<dictamesh_governance::Caller, RequestError> {
        self.governance.authenticate(headers)
    }

    /// The caller of a request, like [`Pipeline::authenticate`], with a refusal
    /// audited (an `access_denied` record).
    pub async fn authenticate_audited(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<dictamesh_governance::Caller, RequestError> {
        let refusal = match self.governance.authenticate(headers) {
            Ok(caller) => return Ok(caller),
            Err(refusal) => refusal,
        };
        self.audit_refusal(&refusal, "/graphql").await;
        Err(refusal)
    }

    /// Audits a request refused before it names an operation (a 401, a
    /// WebSocket closed with 4403) at `route`: an `access_denied` record.
    pub async fn audit_refusal(&self, refusal: &RequestError, route: &str) {
        let anonymous = dictamesh_governance::Caller::anonymous();
        let context = dictamesh_governance::audit::RequestContext {
            caller: &anonymous,
            operation: Some(route),
            trace_id: None,
        };
        self.governance.audit_refusal(context, refusal).await;
    }

    /// Governance: who callers are and what they may select.
    pub fn governance(&self) -> &Governance {
        &self.governance
    }

    /// The supergraph served.
    pub fn supergraph(&self) -> &Arc<Supergraph> {
        &self.supergraph
    }

    /// The metrics this pipeline records into.
    pub fn metrics(&self) -> &Arc<RouterMetrics> {
        &self.options.metrics
    }

    /// The subgraphs' guards (timeouts, retries, circuit breakers).
    pub fn guards(&self) -> &[Arc<SubgraphGuard>] {
        self.executor.guards()
    }

    /// The override labels enabled for one request.
    fn draw_labels(&self) -> HashSet<String> {
        let mut labels = self.options.override_labels.clone();
        for (label, percent) in &self.percent_labels {
            if rand::random::<f64>() * 100.0 < *percent {
                labels.insert(label.clone());
            }
        }
        labels
    }

    /// Runs one GraphQL request for an anonymous caller; `expose_plan` adds the plan
    /// to `extensions`.
    pub async fn execute(
        &self,
        request: &GraphQLRequest,
        method: RequestMethod,
        expose_plan: bool,
    ) -> Result<GraphQLResponse, RequestError> {
        self.execute_as(
            request,
            method,
            expose_plan,
            &dictamesh_governance::Caller::anonymous(),
        )
        .await
    }

    /// Runs one GraphQL request for `caller`; `expose_plan` adds the plan to
    /// `extensions`. The request is counted by operation name and status, in a
    /// `graphql.operation` span.
    pub async fn execute_as(
        &self,
        request: &GraphQLRequest,
        method: RequestMethod,
        expose_plan: bool,
        caller: &dictamesh_governance::Caller,
    ) -> Result<GraphQLResponse, RequestError> {
        let observed = crate::telemetry::operation::Observed::start(request);
        let result = self
            .run(request, method, expose_plan, caller)
            .instrument(observed.span().clone())
            .await;
        observed.finish(&self.options.metrics, &result, |query| self.documents.get(query));
        result
    }

    /// Admits one request: parsed and validated, within the limits, variables
    /// coerced, introspection answered, authorization decided, plan key made.
    fn admit(
        &self,
        request: &GraphQLRequest,
        method: RequestMethod,
        caller: &dictamesh_governance::Caller,
    ) -> Result<Admitted, NotAdmitted> {
        let parsed = self.document(request)?;
        let document = &parsed.document;
        let operation = crate::request::select_operation(document, request.operation_name.as_deref())?;
        if method == RequestMethod::Get && !crate::request::allowed_over_get(operation.operation_type) {
            return Err(NotAdmitted::Invalid(RequestError::new(
                405,
                format!(
                    "{} operations can only be sent over HTTP POST",
                    operation_kind_name(operation.operation_type)
                ),
                "METHOD_NOT_ALLOWED",
            )));
        }
        if operation.operation_type == OperationType::Subscription {
            return Err(NotAdmitted::Invalid(RequestError::new(
                400,
                "Subscriptions need a streaming transport: graphql-transport-ws over WebSocket, or \
                 multipart HTTP (POST with Accept: multipart/mixed;subscriptionSpec=\"1.0\").",
                "SUBSCRIPTION_TRANSPORT_REQUIRED",
            )));
        }
        crate::request::limits::check(&self.options.limits, document, operation)?;
        let coerced = crate::request::coerce_variables(&self.api_schema, operation, &request.variables)?;
        let variables = crate::request::variables_to_json(&coerced);
        let introspection = self.introspect(document, operation, &coerced)?;
        let authorization = self
            .governance
            .authorize(document, operation, caller)
            .map_err(NotAdmitted::Refused)?;
        let labels = self.draw_labels();
        let mut sorted_labels: Vec<String> = labels.iter().cloned().collect();
        sorted_labels.sort();
        let key = PlanCacheKey {
            query: parsed.query.clone(),
            operation_name: request.operation_name.clone(),
            conditions: parsed
                .plan_variables
                .iter()
                .map(|name| {
                    let value = variables.get(name.as_str()).and_then(Value::as_bool);
                    (name.to_string(), value)
                })
                .collect(),
            override_labels: sorted_labels,
            authorization: match authorization.filters {
                true => authorization.decision.plan_key(),
                false => Vec::new(),
            },
        };
        Ok(Admitted {
            operation_name: operation.name.as_ref().map(|n| n.to_string()),
            parsed,
            variables,
            introspection,
            authorization,
            labels,
            key,
        })
    }

    /// Admits one request ([`Pipeline::admit`]); an authorization refusal is
    /// audited.
    async fn admit_audited(
        &self,
        request: &GraphQLRequest,
        method: RequestMethod,
        caller: &dictamesh_governance::Caller,
    ) -> Result<Admitted, RequestError> {
        match self.admit(request, method, caller) {
            Ok(admitted) => Ok(admitted),
            Err(NotAdmitted::Invalid(error)) => Err(error),
            Err(NotAdmitted::Refused(refusal)) => {
                let trace_id = crate::telemetry::trace_context::trace_id(&tracing::Span::current());
                let context = dictamesh_governance::audit::RequestContext {
                    caller,
                    operation: request.operation_name.as_deref(),
                    trace_id: trace_id.as_deref(),
                };
                self.governance.audit_refusal(context, &refusal).await;
                Err(refusal)
            }
        }
    }

    async fn run(
        &self,
        request: &GraphQLRequest,
        method: RequestMethod,
        expose_plan: bool,
        caller: &dictamesh_governance::Caller,
    ) -> Result<GraphQLResponse, RequestError> {
        let Admitted {
            parsed,
            variables,
            introspection,
            authorization,
            labels,
            key,
            operation_name,
        } = self.admit_audited(request, method, caller).await?;
        let document = &parsed.document;
        let operation = crate::request::select_operation(document, request.operation_name.as_deref())?;
        let normalize = || {
            crate::plan::normalize_operation(&self.supergraph, document, operation, &variables)
                .map_err(PlanError::from)
        };
        let filtered = || {
            crate::governance::normalize_filtered(
                &self.supergraph,
                document,
                operation,
                &variables,
                &authorization,
            )
        };
        let shared_key = (self.dedupe.is_enabled()
            && operation.operation_type == OperationType::Query
            && self.governance.shares_responses(&authorization))
        .then(|| {
            self.dedupe
                .key(&key, &variables, &crate::headers::client_headers())
        })
        .flatten();
        let missed = std::sync::atomic::AtomicBool::new(false);
        let normalize = || {
            missed.store(true, std::sync::atomic::Ordering::Relaxed);
            normalize()
        };
        let planned = self
            .planner
            .plan_cached_filtered(key, normalize, filtered, &labels);
        self.options
            .metrics
            .record_plan_cache(!missed.load(std::sync::atomic::Ordering::Relaxed));
        let prepared = planned.map_err(plan_error)?;
        // The span is made when the execution starts: requests that share another's
        // execution make none.
        let execution = {
            let executor = self.executor.clone();
            let prepared = prepared.clone();
            let redactions = self
                .governance
                .redactions(&authorization)
                .map(|(paths, value)| (paths.to_vec(), value.to_string()));
            let parent = tracing::Span::current();
            async move {
                executor
                    .execute_then(
                        &prepared.plan,
                        &prepared.projection,
                        &variables,
                        introspection,
                        |data| {
                            if let Some((paths, value)) = &redactions {
                                crate::governance::redact(data, paths, value);
                            }
                        },
                    )
                    .instrument(tracing::info_span!(parent: &parent, "graphql.execute"))
                    .await
            }
        };
        let mut response = match shared_key {
            Some(key) => {
                // Run apart from the requests' threads (see `execute::threads`).
                let apart =
                    crate::execute::threads::run_apart(crate::headers::carrying_client_headers(execution));
                let execution = async {
                    apart.await.unwrap_or_else(|reason| {
                        GraphQLResponse::from_errors(vec![crate::execute::graphql_error(
                            format!("The execution failed: {reason}"),
                            "INTERNAL_SERVER_ERROR",
                        )])
                    })
                };
                let (response, shared) = self.dedupe.share(key, execution).await;
                if shared {
                    self.options.metrics.record_deduplicated();
                }
                response
            }
            None => execution.await,
        };
        // Only durable audit records carry the trace id.
        let trace_id = self
            .governance
            .needs_durable_audit(&authorization)
            .then(|| crate::telemetry::trace_context::trace_id(&tracing::Span::current()))
            .flatten();
        let audit = dictamesh_governance::audit::RequestContext {
            caller,
            operation: operation_name.as_deref(),
            trace_id: trace_id.as_deref(),
        };
        self.governance
            .report(&authorization, audit, &mut response)
            .await?;
        if expose_plan {
            response
                .extensions
                .insert("queryPlan".to_string(), Value::String(prepared.plan.to_string()));
        }
        Ok(response)
    }

    /// The request's document, parsed and validated (from the cache when seen
    /// before; automatic persisted queries resolved).
    fn document(&self, request: &GraphQLRequest) -> Result<Arc<ParsedDocument>, RequestError> {
        let resolved;
        let request = match &self.apq {
            Some(apq) if request.extensions.contains_key("persistedQuery") => {
                let mut with_query = request.clone();
                apq.resolve(&mut with_query)?;
                resolved = with_query;
                &resolved
            }
            _ => request,
        };
        let Some(query) = request.query.as_deref().filter(|q| !q.trim().is_empty()) else {
            return Err(RequestError::new(
                400,
                "Must provide query string.",
                "MISSING_QUERY_STRING",
            ));
        };
        if let Some(parsed) = self.documents.get(query) {
            return Ok(parsed);
        }
        let parsed =
            crate::request::parse_document(&self.api_schema, Arc::from(query), &self.options.limits)?;
        self.documents.insert(parsed.query.clone(), parsed.clone());
        Ok(parsed)
    }

    /// Starts a subscription for an anonymous caller: the stream of its payloads, or
    /// `None` when the request is a query or mutation (run it with
    /// [`Pipeline::execute`]).
    pub async fn subscribe(
        &self,
        request: &GraphQLRequest,
        feed: Option<Arc<dyn ChangeFeed>>,
    ) -> Result<Option<EventStream>, RequestError> {
        self.subscribe_as(request, feed, &dictamesh_governance::Caller::anonymous())
            .await
    }

    /// Starts a subscription for `caller`; a subscription selecting anything the
    /// caller may not select is refused (403).
    pub async fn subscribe_as(
        &self,
        request: &GraphQLRequest,
        feed: Option<Arc<dyn ChangeFeed>>,
        caller: &dictamesh_governance::Caller,
    ) -> Result<Option<EventStream>, RequestError> {
        let parsed = self.document(request)?;
        let document = &parsed.document;
        let operation = crate::request::select_operation(document, request.operation_name.as_deref())?;
        if operation.operation_type != OperationType::Subscription {
            return Ok(None);
        }
        let (Some(subscriptions), Some(feed)) = (&self.subscriptions, feed) else {
            return Err(RequestError::new(
                503,
                "This router has no change log to stream subscriptions from.",
                "SUBSCRIPTIONS_UNAVAILABLE",
            ));
        };
        crate::request::limits::check(&self.options.limits, document, operation)?;
        let authorization = self.governance.authorize_whole(document, operation, caller)?;
        let coerced = crate::request::coerce_variables(&self.api_schema, operation, &request.variables)?;
        let variables = crate::request::variables_to_json(&coerced);
        let read = crate::subscriptions::request::read_request(
            document,
            operation,
            &variables,
            subscriptions.entities(),
            &self.supergraph,
        )
        .map_err(|e| RequestError::new(400, e.0, "GRAPHQL_VALIDATION_FAILED"))?;
        let events = subscriptions
            .subscribe(feed, read)
            .await
            .map_err(|e| RequestError::new(400, e, "SUBSCRIPTION_FAILED"))?;
        if authorization.decision.pii_reads.is_empty() {
            return Ok(Some(events));
        }
        Ok(Some(audited_events(
            events,
            self.governance.clone(),
            Arc::new(authorization),
            caller.clone(),
            operation.name.as_ref().map(|n| n.to_string()),
        )))
    }

    /// Answers `__schema` and `__type` (when allowed).
    fn introspect(
        &self,
        document: &apollo_compiler::validation::Valid<apollo_compiler::ExecutableDocument>,
        operation: &apollo_compiler::executable::Operation,
        variables: &apollo_compiler::validation::Valid<apollo_compiler::response::JsonMap>,
    ) -> Result<Map<String, Value>, RequestError> {
        let uses_introspection = operation
            .root_fields(document)
            .any(|field| matches!(field.name.as_str(), "__schema" | "__type"));
        if !uses_introspection || operation.operation_type != OperationType::Query {
            return Ok(Map::new());
        }
        if !self.options.introspection {
            return Err(RequestError::new(
                400,
                "Introspection is disabled on this router.",
                "INTROSPECTION_DISABLED",
            ));
        }
        apollo_compiler::introspection::check_max_depth(document, operation)
            .map_err(|e| RequestError::new(400, e.message().to_string(), "INTROSPECTION_TOO_DEEP"))?;
        let implementers = self.api_schema.implementers_map();
        let response = apollo_compiler::introspection::partial_execute(
            &self.api_schema,
            &implementers,
            document,
            operation,
            variables,
        )
        .map_err(|e| RequestError::new(400, e.message().to_string(), "GRAPHQL_VALIDATION_FAILED"))?;
        let data = response
            .data
            .map(|data| serde_json::to_value(data).unwrap_or(Value::Null))
            .and_then(|value| match value {
                Value::Object(object) => Some(object),
                _ => None,
            })
            .unwrap_or_default();
        Ok(data)
    }

    /// Plans a query without running it (`dictamesh plan`).
    pub fn plan_text(&self, query: &str, operation_name: Option<&str>) -> Result<String, RequestError> {
        let request = GraphQLRequest {
            query: Some(query.to_string()),
            operation_name: operation_name.map(str::to_string),
            ..GraphQLRequest::default()
        };
        let query = request.query.as_deref().unwrap_or_default();
        let parsed =
            crate::request::parse_document(&self.api_schema, Arc::from(query), &self.options.limits)?;
        let operation = crate::request::select_operation(&parsed.document, operation_name)?;
        if parsed.defers {
            return crate::plan::defer::plan(
                &self.supergraph,
                &parsed.document,
                operation,
                &Map::new(),
                &self.options.override_labels,
            )
            .map(|plan| plan.to_string())
            .map_err(plan_error);
        }
        let normalized =
            crate::plan::normalize_operation(&self.supergraph, &parsed.document, operation, &Map::new())
                .map_err(PlanError::from)
                .map_err(plan_error)?;
        self.planner
            .plan_operation(&normalized, &self.options.override_labels)
            .map(|plan| plan.to_string())
            .map_err(plan_error)
    }
}

/// A subscription's events with each one's `@pii` reads audited before it goes
/// out (one record per value); an event whose records cannot be written goes
/// out as an `AUDIT_UNAVAILABLE` error without its data.
fn audited_events(
    events: EventStream,
    governance: Arc<Governance>,
    authorization: Arc<crate::governance::Authorization>,
    caller: dictamesh_governance::Caller,
    operation: Option<String>,
) -> EventStream {
    use futures::StreamExt;
    events
        .then(move |mut response| {
            let governance = governance.clone();
            let authorization = authorization.clone();
            let caller = caller.clone();
            let operation = operation.clone();
            async move {
                let context = dictamesh_governance::audit::RequestContext {
                    caller: &caller,
                    operation: operation.as_deref(),
                    trace_id: None,
                };
                match governance.report(&authorization, context, &mut response).await {
                    Ok(()) => response,
                    Err(refusal) => GraphQLResponse::from_errors(refusal.errors),
                }
            }
        })
        .boxed()
}

/// A request that cannot be planned, as the client sees it.
fn plan_error(error: PlanError) -> RequestError {
    match error {
        PlanError::Operation(e) => RequestError::new(400, e.to_string(), "GRAPHQL_VALIDATION_FAILED"),
        e => RequestError::new(400, e.to_string(), "QUERY_PLANNING_FAILED"),
    }
}

/// Why the pipeline does not admit a request.
enum NotAdmitted {
    /// It is not a valid request (parse, validation, limits, variables).
    Invalid(RequestError),
    /// Authorization refuses it (audited).
    Refused(RequestError),
}

impl From<RequestError> for NotAdmitted {
    fn from(error: RequestError) -> Self {
        NotAdmitted::Invalid(error)
    }
}

/// A request the pipeline admitted, ready to plan.
struct Admitted {
    parsed: Arc<ParsedDocument>,
    operation_name: Option<String>,
    variables: Map<String, Value>,
    introspection: Map<String, Value>,
    authorization: crate::governance::Authorization,
    labels: HashSet<String>,
    key: PlanCacheKey,
}

/// The payloads (JSON texts) of an incremental response, as they become ready.
pub type IncrementalPayloads = tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>;

impl Pipeline {
    /// Runs a query or mutation that uses `@defer` for incremental delivery: the
    /// payloads arrive on the receiver as they are ready. `None` when the
    /// operation has no `@defer`, when authorization removes selections from
    /// it, or when its response needs durable audit records (written before the
    /// response): run it whole with [`Pipeline::execute_as`] then.
    pub async fn execute_incremental_as(
        self: &Arc<Self>,
        request: &GraphQLRequest,
        caller: &dictamesh_governance::Caller,
    ) -> Result<Option<IncrementalPayloads>, RequestError> {
        if !self.document(request)?.defers {
            return Ok(None);
        }
        let observed = crate::telemetry::operation::Observed::start(request);
        let admitted = self
            .admit_audited(request, RequestMethod::Post, caller)
            .instrument(observed.span().clone())
            .await;
        let planned = admitted.and_then(|admitted| {
            if admitted.authorization.filters || self.governance.needs_durable_audit(&admitted.authorization)
            {
                return Ok(None);
            }
            observed
                .span()
                .in_scope(|| self.plan_incremental(request, admitted))
                .map(Some)
        });
        let (plan, admitted) = match planned {
            Ok(Some(planned)) => planned,
            Ok(None) => return Ok(None),
            Err(error) => {
                observed.finish(&self.options.metrics, &Err(error.clone()), |_| None);
                return Err(error);
            }
        };
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let pipeline = self.clone();
        let caller = caller.clone();
        let span = observed.span().clone();
        tokio::spawn(
            async move {
                let Admitted {
                    variables,
                    introspection,
                    authorization,
                    operation_name,
                    ..
                } = admitted;
                let mut primary = GraphQLResponse::default();
                let report = |response: &mut GraphQLResponse| {
                    pipeline.governance.report_unaudited(
                        &authorization,
                        &caller,
                        operation_name.as_deref(),
                        response,
                    );
                    primary.errors = response.errors.clone();
                };
                let send = |payload: Vec<u8>| {
                    // A client that went away stops reading; nothing else to do.
                    let _ = sender.send(payload);
                };
                pipeline
                    .executor
                    .execute_incremental(&plan, &variables, introspection, report, send)
                    .instrument(tracing::info_span!("graphql.execute", incremental = true))
                    .await;
                observed.finish(&pipeline.options.metrics, &Ok(primary), |query| {
                    pipeline.documents.get(query)
                });
            }
            .instrument(span),
        );
        Ok(Some(receiver))
    }

    /// Plans an admitted operation for incremental delivery.
    fn plan_incremental(
        &self,
        request: &GraphQLRequest,
        admitted: Admitted,
    ) -> Result<(Arc<crate::plan::IncrementalPlan>, Admitted), RequestError> {
        let operation =
            crate::request::select_operation(&admitted.parsed.document, request.operation_name.as_deref())?;
        let plan = tracing::info_span!("graphql.plan").in_scope(|| {
            self.planner.plan_incremental_cached(
                admitted.key.clone(),
                &admitted.parsed.document,
                operation,
                &admitted.variables,
                &admitted.labels,
            )
        });
        Ok((plan.map_err(plan_error)?, admitted))
    }
}

fn operation_kind_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "Query",
        OperationType::Mutation => "Mutation",
        OperationType::Subscription => "Subscription",
    }
}
