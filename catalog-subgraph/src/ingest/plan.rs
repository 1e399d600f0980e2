//! What a batch writes, worked out once for both backends: catalog touches
//! and the relationship changes of each round.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{EntityKey, Event, EventKind};
use crate::model::Cardinality;

/// A current relationship as the planner needs it.
#[derive(Debug, Clone)]
pub(crate) struct CurrentRelationship {
    pub id: Uuid,
    pub subject_type: String,
    pub subject_id: String,
    pub relationship_type: String,
    pub object_type: String,
    pub object_id: String,
    pub valid_from: DateTime<Utc>,
}

/// A relationship to insert.
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
    pub subject_display_name: Option<String>,
    pub object_display_name: Option<String>,
    pub metadata: Option<String>,
    pub event_id: String,
}

/// Per subject, the time of its newest relationship change (the latest
/// `valid_from` or `valid_to` of any of its relationships).
pub(crate) type LatestChanges = HashMap<(String, String), DateTime<Utc>>;

/// The relationship writes of one round.
#[derive(Debug, Default)]
pub(crate) struct RoundPlan {
    /// Current relationships to close, with the time they end.
    pub close: Vec<(Uuid, DateTime<Utc>)>,
    /// Relationships to open.
    pub insert: Vec<NewRelationship>,
}

/// The subjects whose current relationships a round needs.
pub(crate) fn round_subjects(round: &[&Event]) -> Vec<(String, String)> {
    round.iter().filter_map(|e| e.relationship_subject()).collect()
}

type Identity<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

/// Works out a round (each subject at most once): a change event that states
/// its relationships closes the subject's other current ones and opens the
/// missing ones; a recorded relationship opens unless current, and for
/// single-valued cardinalities closes the subject's other objects of its type.
/// A change event older than the subject's newest relationship change is
/// stale and leaves its relationships alone, and nothing closes at or before
/// the start of its validity: late events do not rewrite newer history.
pub(crate) fn plan_round(
    round: &[&Event],
    current: &[CurrentRelationship],
    latest: &LatestChanges,
) -> RoundPlan {
    let mut by_subject: HashMap<(&str, &str), Vec<&CurrentRelationship>> = HashMap::new();
    for r in current {
        by_subject
            .entry((r.subject_type.as_str(), r.subject_id.as_str()))
            .or_default()
            .push(r);
    }
    let mut plan = RoundPlan::default();
    for event in round {
        match &event.kind {
            EventKind::Changed(change) if event.replaces_relationships() => {
                let subject = (change.entity.entity_type.as_str(), change.entity.id.as_str());
                let stale = latest
                    .get(&(subject.0.to_string(), subject.1.to_string()))
                    .is_some_and(|newest| event.at < *newest);
                if stale {
                    continue;
                }
                let wanted = event.current_relationships();
                let wanted_ids: HashSet<Identity<'_>> = wanted
                    .iter()
                    .map(|r| {
                        (
                            subject.0,
                            subject.1,
                            r.relationship_kind.as_str(),
                            r.entity_type.as_str(),
                            r.entity_id.as_str(),
                        )
                    })
                    .collect();
                let existing = by_subject.get(&subject).map(Vec::as_slice).unwrap_or_default();
                let mut present: HashSet<Identity<'_>> = HashSet::new();
                for r in existing {
                    let identity = (
                        r.subject_type.as_str(),
                        r.subject_id.as_str(),
                        r.relationship_type.as_str(),
                        r.object_type.as_str(),
                        r.object_id.as_str(),
                    );
                    if wanted_ids.contains(&identity) {
                        present.insert(identity);
                    } else if r.valid_from < event.at {
                        plan.close.push((r.id, event.at));
                    }
                }
                let mut opened: HashSet<Identity<'_>> = HashSet::new();
                for r in wanted {
                    let identity = (
                        subject.0,
                        subject.1,
                        r.relationship_kind.as_str(),
                        r.entity_type.as_str(),
                        r.entity_id.as_str(),
                    );
                    if present.contains(&identity) || !opened.insert(identity) {
                        continue;
                    }
                    plan.insert.push(NewRelationship {
                        id: Uuid::new_v4(),
                        subject_type: subject.0.to_string(),
                        subject_id: subject.1.to_string(),
                        relationship_type: r.relationship_kind.clone(),
                        cardinality: None,
                        object_type: r.entity_type.clone(),
                        object_id: r.entity_id.clone(),
                        object_source: Some(r.source_system.clone()),
                        valid_from: event.at,
                        subject_display_name: None,
                        object_display_name: r.display_name.clone(),
                        metadata: None,
                        event_id: event.event_id.clone(),
                    });
                }
            }
            EventKind::Relationship(input) => {
                let subject = (
                    input.subject_entity_type.as_str(),
                    input.subject_entity_id.as_str(),
                );
                let existing = by_subject.get(&subject).map(Vec::as_slice).unwrap_or_default();
                let same_object = |r: &CurrentRelationship| {
                    r.relationship_type == input.relationship_type
                        && r.object_type == input.object_entity_type
                        && r.object_id == input.object_entity_id
                };
                if input.cardinality.is_some_and(Cardinality::is_single_valued) {
                    for r in existing {
                        if r.relationship_type == input.relationship_type
                            && !same_object(r)
                            && r.valid_from < event.at
                        {
                            plan.close.push((r.id, event.at));
                        }
                    }
                }
                if existing.iter().any(|r| same_object(r)) {
                    continue;
                }
                plan.insert.push(NewRelationship {
                    id: Uuid::new_v4(),
                    subject_type: input.subject_entity_type.clone(),
                    subject_id: input.subject_entity_id.clone(),
                    relationship_type: input.relationship_type.clone(),
                    cardinality: input.cardinality.map(Cardinality::as_str),
                    object_type: input.object_entity_type.clone(),
                    object_id: input.object_entity_id.clone(),
                    object_source: None,
                    valid_from: event.at,
                    subject_display_name: input.subject_display_name.clone(),
                    object_display_name: input.object_display_name.clone(),
                    metadata: input.metadata.as_ref().map(|m| m.to_string()),
                    event_id: event.event_id.clone(),
                });
            }
            _ => {}
        }
    }
    plan
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
/// status of the latest event that sets one.
pub(crate) fn touches(events: &[&Event]) -> Vec<Touch> {
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
    touches
}
