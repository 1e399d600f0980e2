//! Splitting a batch into partitions that PostgreSQL can write concurrently,
//! each in its own transaction. Events that depend on each other stay
//! together, in their batch order: all events of an entity (named by type and
//! id, whatever the source system), an entity and the relationship objects it
//! names that the batch also changes (so the object's catalog id is written
//! as it would be by one transaction), and every entity of a type with the
//! registration of that type's entry (`sourceEntityId` `*`, whose defaults a
//! new entity of the type takes). Partitions then touch disjoint catalog
//! entries, relationship subjects and event ids, so they neither wait for nor
//! see each other.

use std::collections::HashMap;

use super::{Event, EventKind};

/// The events of the batch in up to `writers` partitions of at least
/// `min_events` events each (one partition when the batch is smaller), each
/// keeping the batch's order. Groups of dependent events are never split; the
/// largest go first, each to the partition with the fewest events so far.
pub(crate) fn split(events: Vec<Event>, writers: usize, min_events: usize) -> Vec<Vec<Event>> {
    let parts = writers.min(events.len() / min_events.max(1));
    if parts < 2 {
        return vec![events];
    }
    let (group_of, sizes) = groups(&events);
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&group| std::cmp::Reverse(sizes[group]));
    let mut load = vec![0; parts];
    let mut part_of = vec![0; sizes.len()];
    for group in order {
        let (part, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(_, events)| *events)
            .unwrap_or((0, &0));
        part_of[group] = part;
        load[part] += sizes[group];
    }
    let mut out: Vec<Vec<Event>> = load.iter().map(|&n| Vec::with_capacity(n)).collect();
    for (event, group) in events.into_iter().zip(group_of) {
        out[part_of[group]].push(event);
    }
    out.retain(|part| !part.is_empty());
    out
}

/// The group of each event (dense ids) and the number of events per group.
fn groups(events: &[Event]) -> (Vec<usize>, Vec<usize>) {
    let mut sets = DisjointSets::default();
    let mut nodes: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
    let entities: Vec<usize> = events
        .iter()
        .map(|event| {
            let (entity_type, entity_id, _) = event.entity();
            *nodes
                .entry((entity_type, entity_id))
                .or_insert_with(|| sets.add())
        })
        .collect();
    for (event, &node) in events.iter().zip(&entities) {
        let (entity_type, _, _) = event.entity();
        if let Some(&entry) = nodes.get(&(entity_type, "*")) {
            sets.union(node, entry);
        }
        let mut join = |object_type: &str, object_id: &str| {
            if let Some(&object) = nodes.get(&(object_type, object_id)) {
                sets.union(node, object);
            }
        };
        match &event.kind {
            EventKind::Changed(change) => {
                for r in &change.relationships {
                    join(&r.entity_type, &r.entity_id);
                }
            }
            EventKind::Relationship(r) => join(&r.object_entity_type, &r.object_entity_id),
            EventKind::Registered(_) => {}
        }
    }
    let mut dense: HashMap<usize, usize> = HashMap::new();
    let mut sizes = Vec::new();
    let group_of = entities
        .into_iter()
        .map(|node| {
            let root = sets.find(node);
            let group = *dense.entry(root).or_insert_with(|| {
                sizes.push(0);
                sizes.len() - 1
            });
            sizes[group] += 1;
            group
        })
        .collect();
    (group_of, sizes)
}

/// Union-find over node indexes.
#[derive(Default)]
struct DisjointSets {
    parent: Vec<usize>,
}

impl DisjointSets {
    fn add(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.parent.len() - 1
    }

    fn find(&mut self, mut node: usize) -> usize {
        while self.parent[node] != node {
            self.parent[node] = self.parent[self.parent[node]];
            node = self.parent[node];
        }
        node
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent[a] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ingest::{ENTITY_REGISTERED_TOPIC, IngestMessage, decode};

    /// A change event of `entity_type` `entity` naming `objects` (type, id).
    fn changed(event_id: &str, entity_type: &str, entity: &str, objects: &[(&str, &str)]) -> Event {
        let relationships: Vec<_> = objects
            .iter()
            .map(|(t, id)| {
                json!({"type": t, "entity_id": id, "source_system": "s", "relationship_kind": "has",
                       "display_name": null})
            })
            .collect();
        decode(&IngestMessage {
            topic: "d.s.entity_changed".into(),
            payload: json!({
                "event_id": event_id, "event_type": "UPDATED", "timestamp": 1_700_000_000_000_i64,
                "source_system": "s", "domain": "d",
                "entity": {"type": entity_type, "id": entity, "version": 1, "url": "u", "etag": null},
                "changed_fields": [], "relationships": relationships, "metadata": {},
                "trace_context": {"trace_id": "", "span_id": "", "parent_span_id": null}
            }),
        })
        .unwrap()
    }

    fn ids(parts: &[Vec<Event>]) -> Vec<Vec<&str>> {
        parts
            .iter()
            .map(|part| part.iter().map(|e| e.event_id.as_str()).collect())
            .collect()
    }

    #[test]
    fn dependent_events_share_a_part_in_batch_order() {
        let type_entry = decode(&IngestMessage {
            topic: ENTITY_REGISTERED_TOPIC.into(),
            payload: json!({"event_id": "t", "timestamp": 0, "registration": {
                "entityType": "Supplier", "domain": "d", "sourceSystem": "s", "sourceEntityId": "*",
                "apiBaseUrl": "u", "apiPathTemplate": "/{id}"}}),
        })
        .unwrap();
        let events = vec![
            changed("c1-a", "Customer", "c1", &[("Invoice", "i1")]),
            changed("c2-a", "Customer", "c2", &[("Invoice", "i9")]),
            changed("i1-a", "Invoice", "i1", &[]),
            changed("s1-a", "Supplier", "s1", &[]),
            changed("c3-a", "Customer", "c3", &[("Product", "p1")]),
            changed("c1-b", "Customer", "c1", &[]),
            type_entry,
            changed("c4-a", "Customer", "c4", &[("Product", "p1")]),
            changed("s2-a", "Supplier", "s2", &[]),
        ];
        let parts = split(events, 4, 1);
        let mut parts = ids(&parts);
        parts.sort();
        // c1 with the invoice it names (changed in the batch); the supplier
        // type entry with the suppliers; customers naming an object the batch
        // does not change stay apart.
        assert_eq!(
            parts,
            [
                vec!["c1-a", "i1-a", "c1-b"],
                vec!["c2-a", "c4-a"],
                vec!["c3-a"],
                vec!["s1-a", "t", "s2-a"],
            ]
        );
    }

    #[test]
    fn small_batches_and_one_writer_stay_whole() {
        let events = || (0..6).map(|n| changed(&format!("e{n}"), "Customer", &format!("c{n}"), &[]));
        assert_eq!(split(events().collect(), 1, 1).len(), 1);
        assert_eq!(split(events().collect(), 4, 4).len(), 1);
        let parts = split(events().collect(), 4, 3);
        assert_eq!(ids(&parts), [vec!["e0", "e2", "e4"], vec!["e1", "e3", "e5"]]);
    }
}
