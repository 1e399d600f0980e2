//! `Subscription.entityChanged`: clients follow the change events of an entity
//! type (or one entity) and get each event with the entity's fields resolved
//! across subgraphs, over graphql-transport-ws ([`websocket`]) or multipart
//! HTTP ([`multipart`]). Every event carries a cursor; a client that reconnects
//! with `after: <cursor>` resumes exactly after the last event it saw.

pub mod multipart;
pub mod request;
pub mod schema;
mod stream;
pub mod websocket;

use std::collections::HashSet;
use std::sync::Arc;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;
use dictamesh::events::EntityChangeEvent;
use dictamesh::events::feed::ChangeFeed;
use serde_json::Map;
use serde_json::Value;
use serde_json::json;

pub use self::request::EntityChangedRequest;
pub use self::schema::ChangeableEntity;
pub use self::stream::EventStream;
use crate::execute::Executor;
use crate::execute::GraphQLResponse;
use crate::execute::SubgraphSettings;
use crate::execute::graphql_error;
use crate::fetch::SubgraphClient;
use crate::headers::HeaderRules;
use crate::plan::PlanCacheKey;
use crate::plan::PlanError;
use crate::plan::PlanNode;
use crate::plan::QueryPlanner;
use crate::request::OperationLimits;
use crate::resilience::SubgraphGuard;
use crate::resilience::SubgraphPolicy;
use crate::supergraph::GraphId;
use crate::supergraph::Supergraph;
use crate::telemetry::RouterMetrics;

/// The topics `entityChanged` reads.
pub const CHANGE_TOPICS: &str = "*.entity_changed";

/// A change feed shared by the HTTP layer (debug-printable for options).
#[derive(Clone)]
pub struct SharedChangeFeed(pub Arc<dyn ChangeFeed>);

impl std::fmt::Debug for SharedChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedChangeFeed")
    }
}

/// `entityChanged` for one supergraph: its API schema extension and what
/// resolves changed entities.
pub struct EntityChangeSubscriptions {
    api_schema: Valid<Schema>,
    entities: Vec<ChangeableEntity>,
    internal: Arc<Supergraph>,
    planner: QueryPlanner,
    executor: Executor,
    events_graph: GraphId,
}

impl EntityChangeSubscriptions {
    /// Subscriptions for `supergraph`; subgraph requests go through `client`.
    /// Fails (with the reason) when the supergraph already defines the types
    /// `entityChanged` adds.
    pub fn new(
        supergraph: &Supergraph,
        client: SubgraphClient,
        mut settings: SubgraphSettings,
        metrics: Arc<RouterMetrics>,
    ) -> Result<Self, String> {
        let entities = schema::changeable_entities(supergraph);
        let api_schema = schema::extended_api_schema(supergraph, &entities)?;
        let internal = Arc::new(schema::internal_supergraph(supergraph, &entities)?);
        let events_graph = internal
            .subgraphs
            .iter()
            .position(|s| s.name == schema::EVENTS_GRAPH_NAME)
            .ok_or("the internal supergraph lost its events graph")?;
        settings.urls.resize(internal.subgraphs.len(), String::new());
        let events_guard = Arc::new(SubgraphGuard::new(
            schema::EVENTS_GRAPH_NAME,
            SubgraphPolicy::default(),
        )?);
        settings.guards.resize(internal.subgraphs.len(), events_guard);
        settings
            .header_rules
            .resize(internal.subgraphs.len(), HeaderRules::default());
        Ok(EntityChangeSubscriptions {
            api_schema,
            entities,
            planner: QueryPlanner::new(internal.clone(), 256),
            executor: Executor::new(internal.clone(), client, settings, metrics),
            internal,
            events_graph,
        })
    }

    /// The API schema with `Subscription.entityChanged`.
    pub fn api_schema(&self) -> &Valid<Schema> {
        &self.api_schema
    }

    /// The entity types events can carry.
    pub fn entities(&self) -> &[ChangeableEntity] {
        &self.entities
    }

    /// Streams the changes `request` asks for from `feed`, starting after its
    /// `after` cursor or else at the end of the log.
    pub async fn subscribe(
        self: &Arc<Self>,
        feed: Arc<dyn ChangeFeed>,
        request: EntityChangedRequest,
    ) -> Result<EventStream, String> {
        let start = match &request.after {
            Some(token) => dictamesh::events::feed::Cursor::decode(token).map_err(|e| e.to_string())?,
            None => feed
                .end(CHANGE_TOPICS)
                .await
                .map_err(|e| format!("the change log cannot be read: {e}"))?,
        };
        Ok(stream::events(self.clone(), feed, request, start))
    }

    /// The response for one event: `data.<entityChanged>` with the selected
    /// fields in selection order, and the errors of resolving the entity.
    async fn payload(
        &self,
        request: &EntityChangedRequest,
        event: &EntityChangeEvent,
        cursor: &str,
    ) -> GraphQLResponse {
        let mut errors = Vec::new();
        let mut data = Vec::with_capacity(512);
        data.extend_from_slice(b"{");
        write_key(&mut data, &request.response_key);
        data.extend_from_slice(b"{");
        for (index, field) in request.fields.iter().enumerate() {
            if index > 0 {
                data.push(b',');
            }
            write_key(&mut data, &field.response_key);
            let value = match field.name.as_str() {
                "__typename" => json!("EntityChange"),
                "cursor" => json!(cursor),
                "eventId" => json!(event.event_id),
                "eventType" => serde_json::to_value(event.event_type).unwrap_or(Value::Null),
                "entityType" => json!(event.entity.entity_type),
                "entityId" => json!(event.entity.id),
                "sourceSystem" => json!(event.source_system),
                "domain" => json!(event.domain),
                "timestamp" => json!(event.timestamp as f64),
                "changedFields" => json!(event.changed_fields),
                "entity" => {
                    self.write_entity(request, &field.response_key, event, &mut data, &mut errors)
                        .await;
                    continue;
                }
                _ => Value::Null,
            };
            let _ = serde_json::to_writer(&mut data, &value);
        }
        data.extend_from_slice(b"}}");
        GraphQLResponse {
            data: Some(data.into()),
            errors,
            extensions: Map::new(),
        }
    }

    /// Writes the value of the `entity` field `response_key`: the entity
    /// resolved across subgraphs, `{}` when nothing selected applies to it,
    /// `null` once deleted or when it cannot be resolved (errors get their
    /// paths under `entityChanged`).
    async fn write_entity(
        &self,
        request: &EntityChangedRequest,
        response_key: &Name,
        event: &EntityChangeEvent,
        out: &mut Vec<u8>,
        errors: &mut Vec<Value>,
    ) {
        let entity = self
            .entities
            .iter()
            .find(|e| e.type_name == event.entity.entity_type.as_str());
        let query = request
            .entity_queries
            .iter()
            .find(|q| q.response_key == *response_key);
        let (Some(entity), Some(query)) = (entity, query) else {
            out.extend_from_slice(b"null");
            return;
        };
        if event.event_type == dictamesh::events::ChangeType::Deleted {
            out.extend_from_slice(b"null");
            return;
        }
        let Some(text) = &query.query else {
            out.extend_from_slice(b"{}");
            return;
        };
        let key = entity.key_value(&event.entity.id);
        let mut variables = request.variables.clone();
        variables.insert("__key".into(), key.clone());
        let prepared = match self.prepare(text, &variables) {
            Ok(prepared) => prepared,
            Err(message) => {
                errors.push(graphql_error(message, "QUERY_PLANNING_FAILED"));
                out.extend_from_slice(b"null");
                return;
            }
        };
        let mut initial = Map::new();
        initial.insert(
            response_key.to_string(),
            json!({ "__typename": entity.type_name.as_str(), (entity.key_field.as_str()): key }),
        );
        let plan = crate::plan::QueryPlan {
            root: prepared
                .plan
                .root
                .clone()
                .and_then(|root| without_graph(root, self.events_graph)),
        };
        let response = self
            .executor
            .execute(&plan, &prepared.projection, &variables, initial)
            .await;
        for mut error in response.errors {
            if let Some(Value::Array(path)) = error.get_mut("path") {
                path.insert(0, json!(request.response_key.as_str()));
            }
            errors.push(error);
        }
        // The data is `{"<response key>":<value>}`, the one root field.
        let prefix = response_key.len() + 4;
        match response.data {
            Some(data) if data.len() > prefix => out.extend_from_slice(&data[prefix..data.len() - 1]),
            _ => out.extend_from_slice(b"null"),
        }
    }

    /// The internal query planned (cached by its text and `@skip`/`@include` values).
    fn prepare(
        &self,
        query: &str,
        variables: &Map<String, Value>,
    ) -> Result<Arc<crate::plan::PreparedPlan>, String> {
        let mut conditions: Vec<(String, Option<bool>)> = variables
            .iter()
            .filter_map(|(name, value)| value.as_bool().map(|b| (name.clone(), Some(b))))
            .collect();
        conditions.sort();
        let key = PlanCacheKey {
            query: Arc::from(query),
            operation_name: None,
            conditions,
            override_labels: Vec::new(),
            // A subscription that selects anything denied is refused before this.
            authorization: Vec::new(),
        };
        let normalize = || {
            let parsed = crate::request::parse_document(
                &self.internal.api_schema,
                Arc::from(query),
                &OperationLimits::default(),
            )
            .map_err(|e| PlanError::InvalidDocument(e.messages()))?;
            let operation = crate::request::select_operation(&parsed.document, None)
                .map_err(|e| PlanError::InvalidDocument(e.messages()))?;
            crate::plan::normalize_operation(&self.internal, &parsed.document, operation, variables)
                .map_err(PlanError::from)
        };
        self.planner
            .plan_cached(key, normalize, &HashSet::new())
            .map_err(|e| format!("cannot resolve the changed entity: {e}"))
    }
}

fn write_key(out: &mut Vec<u8>, key: &Name) {
    let _ = serde_json::to_writer(&mut *out, key.as_str());
    out.push(b':');
}

/// The plan without the fetches from `graph` (the event stands in for them).
fn without_graph(node: PlanNode, graph: GraphId) -> Option<PlanNode> {
    match node {
        PlanNode::Fetch(fetch) if fetch.graph == graph => None,
        PlanNode::BatchFetch(batch) if batch.request.graph == graph => None,
        PlanNode::Sequence(nodes) => collapse(nodes, graph, PlanNode::Sequence),
        PlanNode::Parallel(nodes) => collapse(nodes, graph, PlanNode::Parallel),
        PlanNode::Flatten { path, node } => without_graph(*node, graph).map(|node| PlanNode::Flatten {
            path,
            node: Box::new(node),
        }),
        other => Some(other),
    }
}

fn collapse(nodes: Vec<PlanNode>, graph: GraphId, wrap: fn(Vec<PlanNode>) -> PlanNode) -> Option<PlanNode> {
    let mut kept: Vec<PlanNode> = nodes
        .into_iter()
        .filter_map(|n| without_graph(n, graph))
        .collect();
    match kept.len() {
        0 => None,
        1 => kept.pop(),
        _ => Some(wrap(kept)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::ClientOptions;

    const FIXTURE: &str = include_str!("../../tests/fixtures/products_reviews.graphql");

    fn subscriptions(sdl: &str) -> Result<EntityChangeSubscriptions, String> {
        let supergraph = Supergraph::parse(sdl).unwrap();
        let guard = Arc::new(SubgraphGuard::new("any", SubgraphPolicy::default()).unwrap());
        let settings = SubgraphSettings {
            urls: supergraph.subgraphs.iter().map(|s| s.url.clone()).collect(),
            guards: vec![guard; supergraph.subgraphs.len()],
            header_rules: vec![HeaderRules::default(); supergraph.subgraphs.len()],
            deduplicate: true,
            signature: None,
        };
        EntityChangeSubscriptions::new(
            &supergraph,
            SubgraphClient::new(&ClientOptions::default()),
            settings,
            Arc::new(RouterMetrics::new()),
        )
    }

    fn read(document: &str, service: &EntityChangeSubscriptions, variables: Value) -> EntityChangedRequest {
        let supergraph = Supergraph::parse(FIXTURE).unwrap();
        let parsed = crate::request::parse_document(
            service.api_schema(),
            Arc::from(document),
            &OperationLimits::default(),
        )
        .unwrap();
        let operation = crate::request::select_operation(&parsed.document, None).unwrap();
        let Value::Object(variables) = variables else {
            unreachable!()
        };
        request::read_request(
            &parsed.document,
            operation,
            &variables,
            service.entities(),
            &supergraph,
        )
        .unwrap()
    }

    #[test]
    fn entities_with_a_single_field_key_can_be_followed() {
        let service = subscriptions(FIXTURE).unwrap();
        let names: Vec<&str> = service.entities().iter().map(|e| e.type_name.as_str()).collect();
        assert_eq!(names, ["Product", "User"]);
        let api = service.api_schema().to_string();
        assert!(api.contains("union ChangedEntity = Product | User"), "{api}");
        assert!(api.contains("entityChanged(type: String!, id: ID, after: String): EntityChange!"));
    }

    #[test]
    fn the_entity_selection_is_rewritten_for_the_followed_type() {
        let service = subscriptions(FIXTURE).unwrap();
        let request = read(
            r#"subscription S($withEmail: Boolean!, $id: ID) {
                 entityChanged(type: "User", id: $id) {
                   ...Event
                   who: entity { ... on Product { name } ... on User { name email @include(if: $withEmail) } ...U }
                 }
               }
               fragment Event on EntityChange { eventId cursor @skip(if: true) }
               fragment U on User { id }"#,
            &service,
            json!({ "withEmail": true, "id": "1" }),
        );
        assert_eq!(request.entity_type, "User");
        assert_eq!(request.entity_id.as_deref(), Some("1"));
        let fields: Vec<&str> = request.fields.iter().map(|f| f.response_key.as_str()).collect();
        assert_eq!(fields, ["eventId", "who"], "fragments flattened, @skip applied");
        assert_eq!(
            request.entity_queries[0].query.as_deref(),
            Some(
                "query DictameshChangedEntity($__key: ID!, $withEmail: Boolean!) { who: _dictamesh_entity_User(key: $__key) \
                 { ... { name email @include(if: $withEmail) } ... { id } } }"
            ),
            "other members' fragments dropped, named fragments inlined, only used variables declared"
        );
    }

    #[test]
    fn a_changed_entity_is_resolved_by_entity_fetches_only() {
        let service = subscriptions(FIXTURE).unwrap();
        let request = read(
            r#"subscription { entityChanged(type: "Product") { entity { ... on Product { name shippingEstimate reviews { author { name } } } } } }"#,
            &service,
            json!({}),
        );
        let mut variables = Map::new();
        variables.insert("__key".into(), json!("p1"));
        let prepared = service
            .prepare(request.entity_queries[0].query.as_deref().unwrap(), &variables)
            .unwrap();
        let plan = crate::plan::QueryPlan {
            root: prepared
                .plan
                .root
                .clone()
                .and_then(|root| without_graph(root, service.events_graph)),
        };
        let text = plan.to_string();
        assert!(!text.contains(schema::EVENTS_GRAPH_NAME), "{text}");
        assert!(!text.contains("_dictamesh_entity"), "{text}");
        for subgraph in ["products", "inventory", "reviews"] {
            assert!(
                text.contains(&format!("\"{subgraph}\"")),
                "{subgraph} missing from {text}"
            );
        }
        assert!(
            text.contains("Flatten"),
            "entity fetches at the event's entity: {text}"
        );
    }

    #[test]
    fn a_supergraph_with_its_own_subscription_types_keeps_them() {
        let sdl = FIXTURE.replace(
            "type Review\n",
            "type EntityChange @join__type(graph: REVIEWS) { id: ID }\n\ntype Review\n",
        );
        let reason = subscriptions(&sdl).err().expect("a clash is refused");
        assert!(reason.contains("`EntityChange`"), "{reason}");
    }
}
