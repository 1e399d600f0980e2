//! Every compatibility level against Avro evolutions, with the results
//! Confluent documents ("Schema Evolution and Compatibility"): a table of
//! (evolution, level) → compatible?, checked through the registry on both
//! backends.

use dictamesh_catalog::model::SchemaFormat;
use dictamesh_catalog::schema_registry::{CompatibilityLevel, RegistryError, SchemaRegistry};

use crate::support::on_both;

fn record(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"User","namespace":"test","fields":[{fields}]}}"#)
}

const ID: &str = r#"{"name":"id","type":"string"}"#;
const NAME: &str = r#"{"name":"name","type":"string"}"#;
const NAME_DEFAULT: &str = r#"{"name":"name","type":"string","default":""}"#;
const SCORE_INT: &str = r#"{"name":"score","type":"int"}"#;
const SCORE_LONG: &str = r#"{"name":"score","type":"long"}"#;
const SCORE_STRING: &str = r#"{"name":"score","type":"string"}"#;
const EMAIL: &str = r#"{"name":"email","type":"string"}"#;
const EMAIL_DEFAULT: &str = r#"{"name":"email","type":"string","default":""}"#;
const FULL_NAME: &str = r#"{"name":"full_name","type":"string"}"#;
const FULL_NAME_ALIAS: &str = r#"{"name":"full_name","type":"string","aliases":["name"]}"#;

/// An evolution: the versions already registered, then the candidate.
struct Evolution {
    name: &'static str,
    history: Vec<String>,
    candidate: String,
    /// Compatible? in the order of `CompatibilityLevel::ALL`: BACKWARD,
    /// BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE.
    expected: [bool; 7],
}

fn evolutions() -> Vec<Evolution> {
    let base = record(&[ID, NAME, SCORE_INT].join(","));
    let with = |extra: &str| record(&[ID, NAME, SCORE_INT, extra].join(","));
    vec![
        Evolution {
            name: "add a field with a default",
            history: vec![base.clone()],
            candidate: with(EMAIL_DEFAULT),
            expected: [true, true, true, true, true, true, true],
        },
        Evolution {
            name: "add a field without a default",
            history: vec![base.clone()],
            candidate: with(EMAIL),
            expected: [false, false, true, true, false, false, true],
        },
        Evolution {
            name: "remove a field without a default",
            history: vec![base.clone()],
            candidate: record(&[ID, SCORE_INT].join(",")),
            expected: [true, true, false, false, false, false, true],
        },
        Evolution {
            name: "remove a field with a default",
            history: vec![record(&[ID, NAME_DEFAULT, SCORE_INT].join(","))],
            candidate: record(&[ID, SCORE_INT].join(",")),
            expected: [true, true, true, true, true, true, true],
        },
        Evolution {
            name: "rename a field",
            history: vec![base.clone()],
            candidate: record(&[ID, FULL_NAME, SCORE_INT].join(",")),
            expected: [false, false, false, false, false, false, true],
        },
        Evolution {
            name: "rename a field with an alias",
            history: vec![base.clone()],
            candidate: record(&[ID, FULL_NAME_ALIAS, SCORE_INT].join(",")),
            expected: [true, true, false, false, false, false, true],
        },
        Evolution {
            name: "widen int to long",
            history: vec![base.clone()],
            candidate: record(&[ID, NAME, SCORE_LONG].join(",")),
            expected: [true, true, false, false, false, false, true],
        },
        Evolution {
            name: "change int to string",
            history: vec![base.clone()],
            candidate: record(&[ID, NAME, SCORE_STRING].join(",")),
            expected: [false, false, false, false, false, false, true],
        },
        Evolution {
            // v2 added email with a default; v3 drops the default: fine with
            // v2, not with v1's data.
            name: "drop a default added one version ago",
            history: vec![record(ID), record(&[ID, EMAIL_DEFAULT].join(","))],
            candidate: record(&[ID, EMAIL].join(",")),
            expected: [true, false, true, true, true, false, true],
        },
        Evolution {
            // v2 gave name a default; v3 removes it: v2 readers use the
            // default, v1 readers cannot.
            name: "remove a field defaulted one version ago",
            history: vec![
                record(&[ID, NAME].join(",")),
                record(&[ID, NAME_DEFAULT].join(",")),
            ],
            candidate: record(ID),
            expected: [true, true, true, false, true, false, true],
        },
    ]
}

#[tokio::test]
async fn every_level_matches_confluents_documented_results() {
    on_both(|backend, t| async move {
        let registry = SchemaRegistry::new(t.db.clone());
        let mut table = String::from(
            "| evolution | BACKWARD | BACKWARD_T | FORWARD | FORWARD_T | FULL | FULL_T | NONE |\n",
        );
        let mut mismatches = Vec::new();
        for (e, evolution) in evolutions().into_iter().enumerate() {
            let mut row = format!("| {} |", evolution.name);
            for (l, level) in CompatibilityLevel::ALL.into_iter().enumerate() {
                let subject = format!("e{e}-{}", level.as_str().to_lowercase());
                registry
                    .set_level(Some(&subject), CompatibilityLevel::None)
                    .await
                    .unwrap();
                for version in &evolution.history {
                    registry
                        .register(&subject, SchemaFormat::Avro, version)
                        .await
                        .unwrap();
                }
                registry.set_level(Some(&subject), level).await.unwrap();
                let compatible = match registry
                    .register(&subject, SchemaFormat::Avro, &evolution.candidate)
                    .await
                {
                    Ok(registered) => {
                        assert!(registered.created);
                        true
                    }
                    Err(RegistryError::Incompatible { changes, .. }) => {
                        assert!(!changes.is_empty());
                        false
                    }
                    Err(other) => panic!("{}: {other}", evolution.name),
                };
                row.push_str(if compatible { " yes |" } else { " no |" });
                if compatible != evolution.expected[l] {
                    mismatches.push(format!("{} under {level}: got {compatible}", evolution.name));
                }
            }
            table.push_str(&row);
            table.push('\n');
        }
        println!("{backend:?}\n{table}");
        assert!(mismatches.is_empty(), "{mismatches:#?}\n{table}");
    })
    .await;
}
