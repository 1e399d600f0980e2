//! The catalog as a federation subgraph, built with the kit: `CatalogEntry`
//! is an entity (resolvable by id), the catalog's queries and mutations are
//! resolved fields, and every registered entity type gets a stub
//! (`type Customer @key(fields: "id") { id: ID! catalog: CatalogEntry }`) so a
//! client asks for a customer and its catalog entry in one query. The stubs
//! come from the registry's rows, so the SDL grows with the registry: see
//! [`crate::service`] for the rebuild.

use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};
use dictamesh::model::{FieldDef, KeyDef, ObjectDef, TypeRef};
use dictamesh::{
    AdapterError, BuildError, DataProductAdapter, EntityKey, EntityOptions, HealthStatus, ResolvedField,
    Subgraph, async_graphql::Value, async_trait,
};

use crate::audit::{self, AuditAction, AuditEntry};
use crate::db::Database;
use crate::error::CatalogError;
use crate::model::{
    CatalogEntry, EntityLocation, EntityRegistration, EventPage, LineageDirection, LineageInput, LineageStep,
    Relationship, RelationshipGraph, RelationshipInput, SchemaFormat, SchemaInput, SchemaVersion,
};
use crate::schema_registry::SchemaRegistry;
use crate::{events, lineage, registry, relationships};

/// The subgraph's name.
pub const SUBGRAPH_NAME: &str = "catalog";

/// Told when a registration may have added an entity type, so the subgraph's
/// SDL can grow; implemented by the catalog service.
#[async_trait]
pub trait TypeListener: Send + Sync + 'static {
    /// An entity of `entity_type` was registered.
    async fn entity_type_registered(&self, entity_type: &str);
}

/// What the resolvers share.
#[derive(Clone)]
pub struct Resolvers {
    db: Database,
    registry: SchemaRegistry,
    listener: Weak<dyn TypeListener>,
}

impl Resolvers {
    /// Resolvers over `db`, telling `listener` about registrations.
    pub fn new(db: Database, listener: Weak<dyn TypeListener>) -> Self {
        Resolvers {
            registry: SchemaRegistry::new(db.clone()),
            db,
            listener,
        }
    }
}

/// Serves `CatalogEntry` entities by id; healthy while the database answers.
struct CatalogEntries {
    db: Database,
}

#[async_trait]
impl DataProductAdapter for CatalogEntries {
    type Entity = CatalogEntry;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<CatalogEntry>>, AdapterError> {
        let ids: Vec<Option<uuid::Uuid>> = keys
            .iter()
            .map(|k| k.id().and_then(|id| uuid::Uuid::parse_str(&id).ok()))
            .collect();
        let valid: Vec<uuid::Uuid> = ids.iter().flatten().copied().collect();
        let mut found = registry::entries(&self.db, &valid).await?.into_iter();
        Ok(ids
            .iter()
            .map(|id| id.and_then(|_| found.next().flatten()))
            .collect())
    }

    async fn health(&self) -> HealthStatus {
        match self.db.ping().await {
            Ok(()) => HealthStatus::Healthy,
            Err(error) => HealthStatus::Unhealthy(error.to_string()),
        }
    }
}

fn parent_entry(call: &dictamesh::FieldCall) -> Result<CatalogEntry, AdapterError> {
    serde_json::from_value(call.parent().clone())
        .map_err(|e| AdapterError::Internal(format!("catalog entry does not decode: {e}")))
}

/// Records a read of an entity that holds personal data before it is served.
async fn audit_pii_read(db: &Database, operation: &str, entry: &CatalogEntry) -> Result<(), CatalogError> {
    if !entry.contains_pii {
        return Ok(());
    }
    audit::record(
        db,
        &AuditEntry {
            action: AuditAction::PiiRead,
            principal: None,
            operation: operation.to_string(),
            catalog_id: registry::parse_catalog_id(&entry.id).ok(),
            entity_type: Some(entry.entity_type.clone()),
            entity_id: Some(entry.source_entity_id.clone()),
            reason: None,
        },
    )
    .await
}

fn int(value: i32) -> Value {
    Value::from(value)
}

fn downstream() -> Value {
    Value::Enum(dictamesh::async_graphql::Name::new("DOWNSTREAM"))
}

fn queries(r: &Resolvers) -> Vec<ResolvedField> {
    let db = r.db.clone();
    let catalog_entry = ResolvedField::new::<Option<CatalogEntry>, _, _>("catalogEntry", move |call| {
        let db = db.clone();
        async move {
            let entity_type: String = call.required("entityType")?;
            let id: String = call.required("sourceEntityId")?;
            let source: Option<String> = call.argument("sourceSystem")?;
            Ok::<_, AdapterError>(registry::find_entry(&db, &entity_type, &id, source.as_deref()).await?)
        }
    })
    .argument::<String>("entityType")
    .argument::<String>("sourceEntityId")
    .argument::<Option<String>>("sourceSystem")
    .description("The catalog entry of an entity by its type and id in its source (the most recently seen one when several sources have it, unless sourceSystem says which).");

    let db = r.db.clone();
    let location = ResolvedField::new::<Option<EntityLocation>, _, _>("entityLocation", move |call| {
        let db = db.clone();
        async move {
            let entity_type: String = call.required("entityType")?;
            let id: String = call.required("entityId")?;
            let entry = registry::find_entry(&db, &entity_type, &id, None).await?;
            match entry.filter(|e| e.status == "active") {
                Some(entry) => {
                    audit_pii_read(&db, "Query.entityLocation", &entry).await?;
                    Ok::<_, AdapterError>(Some(registry::location_of(&entry)))
                }
                None => Ok(None),
            }
        }
    })
    .argument::<String>("entityType")
    .argument::<String>("entityId")
    .description("Where to fetch an active entity: its source API with the path filled in. Reads of entities holding personal data are audited.");

    let db = r.db.clone();
    let graph = ResolvedField::new::<RelationshipGraph, _, _>("relationshipGraph", move |call| {
        let db = db.clone();
        async move {
            let entity_type: String = call.required("entityType")?;
            let id: String = call.required("entityId")?;
            let depth: i32 = call.argument("maxDepth")?.unwrap_or(3);
            let as_of: Option<DateTime<Utc>> = call.argument("asOf")?;
            Ok::<_, AdapterError>(relationships::relationship_graph(&db, &entity_type, &id, depth, as_of).await?)
        }
    })
    .argument::<String>("entityType")
    .argument::<String>("entityId")
    .argument_with_default::<i32>("maxDepth", int(3))
    .argument::<Option<DateTime<Utc>>>("asOf")
    .description("The relationships reachable from an entity within maxDepth hops (1 to 10), as they were at asOf (default now).");

    let db = r.db.clone();
    let lineage_field = ResolvedField::new::<Vec<LineageStep>, _, _>("lineage", move |call| {
        let db = db.clone();
        async move {
            let entity_type: String = call.required("entityType")?;
            let id: String = call.required("entityId")?;
            let source: Option<String> = call.argument("sourceSystem")?;
            let direction: LineageDirection = call
                .argument("direction")?
                .unwrap_or(LineageDirection::Downstream);
            let depth: i32 = call.argument("depth")?.unwrap_or(3);
            let entry = registry::find_entry(&db, &entity_type, &id, source.as_deref())
                .await?
                .ok_or_else(|| CatalogError::not_found("catalog entry", format!("{entity_type} {id}")))?;
            Ok::<_, AdapterError>(lineage::lineage(&db, &entry, direction, depth).await?)
        }
    })
    .argument::<String>("entityType")
    .argument::<String>("entityId")
    .argument::<Option<String>>("sourceSystem")
    .argument_with_default::<LineageDirection>("direction", downstream())
    .argument_with_default::<i32>("depth", int(3))
    .description(
        "The data flows from (DOWNSTREAM) or into (UPSTREAM) a registered entity, within depth hops.",
    );

    let schemas = r.registry.clone();
    let schemas_field = ResolvedField::new::<Vec<SchemaVersion>, _, _>("schemas", move |call| {
        let registry = schemas.clone();
        async move {
            let subject: String = call.required("entityType")?;
            Ok::<_, AdapterError>(registry.history(&subject).await?)
        }
    })
    .argument::<String>("entityType")
    .description("Every live version of the schema of an entity type (a registry subject), oldest first.");

    let db = r.db.clone();
    let events_field = ResolvedField::new::<EventPage, _, _>("events", move |call| {
        let db = db.clone();
        async move {
            let entity_type: String = call.required("entityType")?;
            let id: String = call.required("entityId")?;
            let since: Option<DateTime<Utc>> = call.argument("since")?;
            let limit: i32 = call.argument("limit")?.unwrap_or(50);
            let after: Option<String> = call.argument("after")?;
            Ok::<_, AdapterError>(
                events::events(&db, &entity_type, &id, since, limit, after.as_deref()).await?,
            )
        }
    })
    .argument::<String>("entityType")
    .argument::<String>("entityId")
    .argument::<Option<DateTime<Utc>>>("since")
    .argument_with_default::<i32>("limit", int(50))
    .argument::<Option<String>>("after")
    .description(
        "An entity's events, oldest first, since a time; pass endCursor as after for the next page.",
    );

    let db = r.db.clone();
    let types = ResolvedField::new::<Vec<String>, _, _>("entityTypes", move |_| {
        let db = db.clone();
        async move { Ok::<_, AdapterError>(registry::entity_types(&db).await?) }
    })
    .description("Every entity type registered in the catalog.");

    vec![
        catalog_entry,
        location,
        graph,
        lineage_field,
        schemas_field,
        events_field,
        types,
    ]
}

fn mutations(r: &Resolvers) -> Vec<ResolvedField> {
    let (db, listener) = (r.db.clone(), r.listener.clone());
    let register = ResolvedField::new::<CatalogEntry, _, _>("registerEntity", move |call| {
        let (db, listener) = (db.clone(), listener.clone());
        async move {
            let input: EntityRegistration = call.required("input")?;
            let entry = registry::register_entity(&db, &input).await?;
            if let Some(listener) = listener.upgrade() {
                listener.entity_type_registered(&entry.entity_type).await;
            }
            Ok::<_, AdapterError>(entry)
        }
    })
    .argument::<EntityRegistration>("input")
    .description(
        "Registers an entity, or updates its registration (idempotent on source system, id and type).",
    );

    let db = r.db.clone();
    let record = ResolvedField::new::<Relationship, _, _>("recordRelationship", move |call| {
        let db = db.clone();
        async move {
            let input: RelationshipInput = call.required("input")?;
            Ok::<_, AdapterError>(relationships::record_relationship(&db, &input).await?)
        }
    })
    .argument::<RelationshipInput>("input")
    .description("Records a relationship from validFrom (default now); a change closes the previous validity interval.");

    let db = r.db.clone();
    let end = ResolvedField::new::<Option<Relationship>, _, _>("endRelationship", move |call| {
        let db = db.clone();
        async move {
            let input: RelationshipInput = call.required("input")?;
            let at: Option<DateTime<Utc>> = call.argument("at")?;
            Ok::<_, AdapterError>(relationships::end_relationship(&db, &input, at).await?)
        }
    })
    .argument::<RelationshipInput>("input")
    .argument::<Option<DateTime<Utc>>>("at")
    .description("Ends a current relationship at a time (default now); null when it is not current.");

    let db = r.db.clone();
    let lineage_field = ResolvedField::new::<crate::model::LineageEdge, _, _>("recordLineage", move |call| {
        let db = db.clone();
        async move {
            let input: LineageInput = call.required("input")?;
            Ok::<_, AdapterError>(lineage::record_lineage(&db, &input).await?)
        }
    })
    .argument::<LineageInput>("input")
    .description("Records a data flow between two registered entities (idempotent per transformation).");

    let schemas = r.registry.clone();
    let schema = ResolvedField::new::<SchemaVersion, _, _>("registerSchema", move |call| {
        let registry = schemas.clone();
        async move {
            let input: SchemaInput = call.required("input")?;
            let format = input.format.unwrap_or(SchemaFormat::Avro);
            let registered = registry.register(&input.entity_type, format, &input.schema).await?;
            Ok::<_, AdapterError>(registered.version)
        }
    })
    .argument::<SchemaInput>("input")
    .description("Registers a schema version of an entity type after the subject's compatibility check (BACKWARD unless configured); registering the same schema again returns its version.");

    vec![register, record, end, lineage_field, schema]
}

fn entry_fields(r: &Resolvers) -> Vec<ResolvedField> {
    let db = r.db.clone();
    let location = ResolvedField::new::<EntityLocation, _, _>("location", move |call| {
        let db = db.clone();
        async move {
            let entry = parent_entry(&call)?;
            audit_pii_read(&db, "CatalogEntry.location", &entry).await?;
            Ok::<_, AdapterError>(registry::location_of(&entry))
        }
    })
    .description("Where to fetch the entity (audited for entities holding personal data).");

    let db = r.db.clone();
    let graph = ResolvedField::new::<RelationshipGraph, _, _>("relationships", move |call| {
        let db = db.clone();
        async move {
            let entry = parent_entry(&call)?;
            let depth: i32 = call.argument("maxDepth")?.unwrap_or(1);
            let as_of: Option<DateTime<Utc>> = call.argument("asOf")?;
            Ok::<_, AdapterError>(
                relationships::relationship_graph(
                    &db,
                    &entry.entity_type,
                    &entry.source_entity_id,
                    depth,
                    as_of,
                )
                .await?,
            )
        }
    })
    .argument_with_default::<i32>("maxDepth", int(1))
    .argument::<Option<DateTime<Utc>>>("asOf")
    .description("The entity's relationships within maxDepth hops, as they were at asOf (default now).");

    let db = r.db.clone();
    let lineage_field = ResolvedField::new::<Vec<LineageStep>, _, _>("lineage", move |call| {
        let db = db.clone();
        async move {
            let entry = parent_entry(&call)?;
            let direction: LineageDirection = call
                .argument("direction")?
                .unwrap_or(LineageDirection::Downstream);
            let depth: i32 = call.argument("depth")?.unwrap_or(1);
            Ok::<_, AdapterError>(lineage::lineage(&db, &entry, direction, depth).await?)
        }
    })
    .argument_with_default::<LineageDirection>("direction", downstream())
    .argument_with_default::<i32>("depth", int(1))
    .description("Data flows from or into the entity.");

    let schemas = r.registry.clone();
    let history = ResolvedField::new::<Vec<SchemaVersion>, _, _>("schemaHistory", move |call| {
        let registry = schemas.clone();
        async move {
            let entry = parent_entry(&call)?;
            Ok::<_, AdapterError>(registry.history(&entry.entity_type).await?)
        }
    })
    .description("The versions of the entity type's schema, oldest first.");

    let db = r.db.clone();
    let events_field = ResolvedField::new::<EventPage, _, _>("events", move |call| {
        let db = db.clone();
        async move {
            let entry = parent_entry(&call)?;
            let since: Option<DateTime<Utc>> = call.argument("since")?;
            let limit: i32 = call.argument("limit")?.unwrap_or(20);
            let after: Option<String> = call.argument("after")?;
            Ok::<_, AdapterError>(
                events::events(
                    &db,
                    &entry.entity_type,
                    &entry.source_entity_id,
                    since,
                    limit,
                    after.as_deref(),
                )
                .await?,
            )
        }
    })
    .argument::<Option<DateTime<Utc>>>("since")
    .argument_with_default::<i32>("limit", int(20))
    .argument::<Option<String>>("after")
    .description("The entity's events, oldest first.");

    vec![location, graph, lineage_field, history, events_field]
}

/// The stub of a registered entity type: its `id` key and nothing else; the
/// owning subgraph resolves the rest.
fn stub(entity_type: &str) -> Result<ObjectDef, BuildError> {
    let mut def = ObjectDef::new(entity_type);
    def.description = Some(format!(
        "The catalog's view of `{entity_type}`, an entity registered in the catalog."
    ));
    def.fields.push(FieldDef::new("id", TypeRef::named_nn("ID")));
    let fields = dictamesh::key::FieldSet::parse("id").map_err(|e| BuildError::InvalidFieldSet {
        type_name: entity_type.to_string(),
        directive: "@key",
        fields: "id".into(),
        reason: e.reason,
    })?;
    def.keys.push(KeyDef {
        fields,
        resolvable: true,
    });
    Ok(def)
}

fn catalog_of(r: &Resolvers, entity_type: &str) -> ResolvedField {
    let db = r.db.clone();
    let entity_type = entity_type.to_string();
    ResolvedField::new::<Option<CatalogEntry>, _, _>("catalog", move |call| {
        let (db, entity_type) = (db.clone(), entity_type.clone());
        async move {
            let id = match call.parent().get("id") {
                Some(serde_json::Value::String(id)) => id.clone(),
                Some(other) => other.to_string(),
                None => return Ok::<_, AdapterError>(None),
            };
            Ok(registry::find_entry(&db, &entity_type, &id, None).await?)
        }
    })
    .description("This entity's catalog entry: location, relationships, lineage, schema history and events.")
}

/// Builds the catalog subgraph with a stub per entity type in `entity_types`.
pub fn build(
    resolvers: &Resolvers,
    entity_types: &[String],
    public_url: &str,
) -> Result<Subgraph, BuildError> {
    let no_cache = {
        let mut options = EntityOptions::default();
        options.cache.enabled = false;
        options
    };
    let mut builder = Subgraph::builder(SUBGRAPH_NAME)
        .public_url(public_url)
        .entity(CatalogEntries {
            db: resolvers.db.clone(),
        })
        .options_for::<CatalogEntry>(no_cache);
    for field in queries(resolvers) {
        builder = builder.query(field);
    }
    for field in mutations(resolvers) {
        builder = builder.mutation(field);
    }
    for field in entry_fields(resolvers) {
        builder = builder.field("CatalogEntry", field);
    }
    for entity_type in entity_types {
        if crate::names::check_entity_type(entity_type).is_err() {
            tracing::warn!(%entity_type, "entity type is not a GraphQL type name; no catalog field for it");
            continue;
        }
        builder = builder
            .entity_stub(stub(entity_type)?)
            .field(entity_type.clone(), catalog_of(resolvers, entity_type));
    }
    builder.build()
}

/// A listener as the trait object [`Resolvers::new`] takes.
pub fn listener_of<L: TypeListener>(listener: &Arc<L>) -> Weak<dyn TypeListener> {
    let listener: Arc<dyn TypeListener> = listener.clone();
    Arc::downgrade(&listener)
}
