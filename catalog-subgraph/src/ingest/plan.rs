//! What a batch writes, worked out once for both backends from the state the
//! batch starts from: catalog touches, the catalog ids events refer to, and
//! every relationship change, applied in the batch's order in memory so each
//! backend then writes them in a few statements.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use dictamesh::events::RelationshipReference;
use uuid::Uuid;

use super::{EntityKey, Event, EventKind};
use crate::model::Cardinality;

/// A stored relationship of a subject the batch touches, current or closed,
/// as the planner needs it.
#[derive(Debug, Clone)]
pub(crate) struct StoredRelationship {
    pub id: Uuid,
    pub subject_type: String,
    pub subject_id: String,
    pub relationship_type: String,
    pub object_type: String,
    pub object_id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// A relationship to insert (closed already when a later event of the same
/// batch ended it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewRelationship {
    pub id: Uuid,
    pub subject_type: String,
    pub subject_id: String,
    pub relationship_type: String,
    pub cardinality: Option<&'static str>,
    pub object_type: String,
    pub object_id: String,
    pub object_source: Option<String>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub subject_display_name: Option<String>,
    pub object_display_name: Option<String>,
    pub metadata: Option<String>,
    pub event_id: String,
}

impl NewRelationship {
    /// The key of `idx_relationship_current`: subject, relationship type and
    /// object.
    pub fn current_key(&self) -> (&str, &str, &str, &str, &str) {
        (
            &self.subject_type,
            &self.subject_id,
            &self.relationship_type,
            &self.object_type,
            &self.object_id,
        )
    }
}

/// The relationship writes of a batch.
#[derive(Debug, Default)]
pub(crate) struct RelationshipPlan {
    /// Stored relationships to close, with the time they end.
    pub close: Vec<(Uuid, DateTime<Utc>)>,
    /// Relationships to insert.
    pub insert: Vec<NewRelationship>,
}

/// The subjects whose relationships a batch may change.
pub(crate) fn relationship_subjects(events: &[Event]) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    events
        .iter()
        .filter_map(Event::relationship_subject)
        .filter(|subject| seen.insert(subject.clone()))
        .collect()
}

/// A live relationship while planning: stored, or inserted by this batch.
struct Live {
    stored: Option<Uuid>,
    inserted: Option<usize>,
    relationship_type: String,
    object_type: String,
    object_id: String,
    valid_from: DateTime<Utc>,
}

impl Live {
    fn is(&self, relationship_type: &str, object_type: &str, object_id: &str) -> bool {
        self.relationship_type == relationship_type
            && self.object_type == object_type
            && self.object_id == object_id
    }

    /// Ends the relationship at `at` in the plan.
    fn close(&self, plan: &mut RelationshipPlan, at: DateTime<Utc>) {
        if let Some(id) = self.stored {
            plan.close.push((id, at));
        }
        if let Some(index) = self.inserted {
            plan.insert[index].valid_to = Some(at);
        }
    }
}

/// Applies the batch's events in order to the stored relationships of their
/// subjects (all of them, current and closed). A change event that states its
/// relationships closes the subject's other current ones and opens the
/// missing ones; a recorded relationship opens unless current, and for
/// single-valued cardinalities closes the subject's other objects of its
/// type. A change event older than the subject's newest relationship change
/// leaves its relationships alone, and nothing closes at or before the start
/// of its validity: late events do not rewrite newer history.
pub(crate) fn plan_relationships(events: &[Event], stored: Vec<StoredRelationship>) -> RelationshipPlan {
    // Per subject, the time of its newest relationship change (the latest
    // `valid_from` or `valid_to` of any of its relationships).
    let mut latest: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    let mut live: HashMap<(String, String), Vec<Live>> = HashMap::new();
    for r in stored {
        let subject = (r.subject_type, r.subject_id);
        let changed = r.valid_to.map_or(r.valid_from, |to| to.max(r.valid_from));
        latest
            .entry(subject.clone())
            .and_modify(|newest| *newest = (*newest).max(changed))
            .or_insert(changed);
        if r.valid_to.is_some() {
            continue;
        }
        live.entry(subject).or_default().push(Live {
            stored: Some(r.id),
            inserted: None,
            relationship_type: r.relationship_type,
            object_type: r.object_type,
            object_id: r.object_id,
            valid_from: r.valid_from,
        });
    }
    let mut plan = RelationshipPlan::default();
    for event in events {
        let Some(subject) = event.relationship_subject() else {
            continue;
        };
        let at = event.at;
        let newest = latest.get(&subject).copied();
        let rels = live.entry(subject.clone()).or_default();
        match &event.kind {
            EventKind::Changed(_) => {
                if newest.is_some_and(|newest| at < newest) {
                    continue;
                }
                let mut wanted: Vec<&RelationshipReference> = Vec::new();
                for r in event.current_relationships() {
                    if !wanted.iter().any(|w| {
                        w.relationship_kind == r.relationship_kind
                            && w.entity_type == r.entity_type
                            && w.entity_id == r.entity_id
                    }) {
                        wanted.push(r);
                    }
                }
                rels.retain(|l| {
                    let keep = wanted
                        .iter()
                        .any(|w| l.is(&w.relationship_kind, &w.entity_type, &w.entity_id));
                    if !keep && l.valid_from < at {
                        l.close(&mut plan, at);
                        return false;
                    }
                    true
                });
                for r in wanted {
                    open(
                        &mut plan,
                        rels,
                        &r.relationship_kind,
                        &r.entity_type,
                        &r.entity_id,
                        at,
                        || NewRelationship {
                            id: Uuid::now_v7(),
                            subject_type: subject.0.clone(),
                            subject_id: subject.1.clone(),
                            relationship_type: r.relationship_kind.clone(),
                            cardinality: None,
                            object_type: r.entity_type.clone(),
                            object_id: r.entity_id.clone(),
                            object_source: Some(r.source_system.clone()),
                            valid_from: at,
                            valid_to: None,
                            subject_display_name: None,
                            object_display_name: r.display_name.clone(),
                            metadata: None,
                            event_id: event.event_id.clone(),
                        },
                    );
                }
            }
            EventKind::Relationship(input) => {
                if input.cardinality.is_some_and(Cardinality::is_single_valued) {
                    rels.retain(|l| {
                        let other = l.relationship_type == input.relationship_type
                            && !l.is(
                                &input.relationship_type,
                                &input.object_entity_type,
                                &input.object_entity_id,
                            );
                        if other && l.valid_from < at {
                            l.close(&mut plan, at);
                            return false;
                        }
                        true
                    });
                }
                open(
                    &mut plan,
                    rels,
                    &input.relationship_type,
                    &input.object_entity_type,
                    &input.object_entity_id,
                    at,
                    || NewRelationship {
                        id: Uuid::now_v7(),
                        subject_type: subject.0.clone(),
                        subject_id: subject.1.clone(),
                        relationship_type: input.relationship_type.clone(),
                        cardinality: input.cardinality.map(Cardinality::as_str),
                        object_type: input.object_entity_type.clone(),
                        object_id: input.object_entity_id.clone(),
                        object_source: None,
                        valid_from: at,
                        valid_to: None,
                        subject_display_name: input.subject_display_name.clone(),
                        object_display_name: input.object_display_name.clone(),
                        metadata: input.metadata.as_ref().map(|m| m.to_string()),
                        event_id: event.event_id.clone(),
                    },
                );
            }
            EventKind::Registered(_) => continue,
        }
        if newest.is_none_or(|newest| at > newest) {
            latest.insert(subject, at);
        }
    }
    plan
}

/// Opens a relationship of the subject whose live relationships are `rels`
/// unless it is live already; `new` builds the row to insert (only then, so a
/// relationship a batch restates costs no allocation).
fn open(
    plan: &mut RelationshipPlan,
    rels: &mut Vec<Live>,
    relationship_type: &str,
    object_type: &str,
    object_id: &str,
    at: DateTime<Utc>,
    new: impl FnOnce() -> NewRelationship,
) {
    if rels
        .iter()
        .any(|l| l.is(relationship_type, object_type, object_id))
    {
        return;
    }
    rels.push(Live {
        stored: None,
        inserted: Some(plan.insert.len()),
        relationship_type: relationship_type.to_string(),
        object_type: object_type.to_string(),
        object_id: object_id.to_string(),
        valid_from: at,
    });
    plan.insert.push(new());
}

/// The newest sighting of an entity in a batch: its catalog upsert.
#[derive(Debug, Clone)]
pub(crate) struct Touch {
    pub key: EntityKey,
    pub domain: String,
    pub url: String,
    pub at: DateTime<Utc>,
    /// The status the newest status-changing event sets, with its time.
    pub status: Option<(&'static str, DateTime<Utc>)>,
}

/// One touch per entity seen by change events: the latest time, and the
/// status of the latest event that sets one; ordered by entity, so that
/// concurrent batches lock catalog entries in the same order.
pub(crate) fn touches(events: &[Event]) -> Vec<Touch> {
    let mut touches: Vec<Touch> = Vec::new();
    let mut index: HashMap<EntityKey, usize> = HashMap::new();
    for event in events {
        let EventKind::Changed(change) = &event.kind else {
            continue;
        };
        let key = EntityKey {
            entity_type: change.entity.entity_type.clone(),
            entity_id: change.entity.id.clone(),
            source_system: change.source_system.clone(),
        };
        let status = event.status().map(|s| (s, event.at));
        match index.get(&key) {
            Some(&i) => {
                let touch = &mut touches[i];
                if event.at >= touch.at {
                    touch.at = event.at;
                    touch.domain = change.domain.clone();
                    touch.url = change.entity.url.clone();
                }
                if let Some((s, at)) = status
                    && touch.status.is_none_or(|(_, previous)| at >= previous)
                {
                    touch.status = Some((s, at));
                }
            }
            None => {
                index.insert(key.clone(), touches.len());
                touches.push(Touch {
                    key,
                    domain: change.domain.clone(),
                    url: change.entity.url.clone(),
                    at: event.at,
                    status,
                });
            }
        }
    }
    touches.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    touches
}

/// The (type, id) pairs whose catalog entries the batch's writes need and
/// `known` does not answer: every event's entity and every relationship's
/// subject and object, unless all its entries were read, or it is named with
/// a source system whose entry is known (an entity named without one needs
/// all its entries).
pub(crate) fn entities_to_look_up(
    events: &[Event],
    relationships: &[NewRelationship],
    known: &CatalogIds,
) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |t: &str, id: &str, source: Option<&str>| {
        if known.is_complete(t, id) || source.is_some_and(|source| known.has(t, id, source)) {
            return;
        }
        if seen.insert((t.to_string(), id.to_string())) {
            out.push((t.to_string(), id.to_string()));
        }
    };
    for event in events {
        let (t, id, source) = event.entity();
        add(t, id, source);
    }
    for r in relationships {
        add(&r.subject_type, &r.subject_id, None);
        add(&r.object_type, &r.object_id, r.object_source.as_deref());
    }
    out
}

/// An entry found for a referenced entity: (source system, last seen, catalog id).
type FoundEntry = (String, DateTime<Utc>, Uuid);

/// Catalog entries found for referenced entities, by type then id.
#[derive(Debug, Default)]
pub(crate) struct CatalogIds {
    entries: HashMap<String, HashMap<String, Vec<FoundEntry>>>,
    /// The entities all of whose entries were read, by type.
    complete: HashMap<String, HashSet<String>>,
}

impl CatalogIds {
    /// Adds an entry: (type, id, source system, last seen, catalog id); an
    /// entry of a source system already known is kept.
    pub fn add(
        &mut self,
        entity_type: String,
        entity_id: String,
        source: String,
        seen: DateTime<Utc>,
        id: Uuid,
    ) {
        let entries = self
            .entries
            .entry(entity_type)
            .or_default()
            .entry(entity_id)
            .or_default();
        if !entries.iter().any(|(s, _, _)| *s == source) {
            entries.push((source, seen, id));
        }
    }

    /// Records that every entry of the entity was read (and added).
    pub fn set_complete(&mut self, entity_type: &str, entity_id: &str) {
        self.complete
            .entry(entity_type.to_string())
            .or_default()
            .insert(entity_id.to_string());
    }

    /// Whether every entry of the entity was read.
    pub fn is_complete(&self, entity_type: &str, entity_id: &str) -> bool {
        self.complete
            .get(entity_type)
            .is_some_and(|ids| ids.contains(entity_id))
    }

    fn entries(&self, entity_type: &str, entity_id: &str) -> Option<&Vec<FoundEntry>> {
        self.entries.get(entity_type)?.get(entity_id)
    }

    /// Whether the entry of that source system is known.
    pub fn has(&self, entity_type: &str, entity_id: &str, source: &str) -> bool {
        self.entries(entity_type, entity_id)
            .is_some_and(|entries| entries.iter().any(|(s, _, _)| s == source))
    }

    /// The entry of that source system when one is named, else the most
    /// recently seen one.
    pub fn get(&self, entity_type: &str, entity_id: &str, source: Option<&str>) -> Option<Uuid> {
        let entries = self.entries(entity_type, entity_id)?;
        if let Some(source) = source {
            return entries.iter().find(|(s, _, _)| s == source).map(|(_, _, id)| *id);
        }
        entries
            .iter()
            .max_by_key(|(_, seen, id)| (*seen, *id))
            .map(|(_, _, id)| *id)
    }
}
