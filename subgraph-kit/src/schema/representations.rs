//! Validating the representations a router sends to `_entities`: each must
//! name a known entity type and carry the fields of one of its keys, with the
//! right types. Errors name the representation's index and the field.

use serde_json::{Map, Value as Json};

use crate::key::{EntityKey, FieldSet, Selection};
use crate::model::{ObjectDef, TypeDef, TypeRegistry};

/// What a key field must hold.
#[derive(Debug, Clone)]
enum Expected {
    Id,
    String,
    Int,
    Float,
    Boolean,
    Enum(String, Vec<String>),
    Custom,
    Object(Vec<(String, Expected)>),
}

impl Expected {
    fn describe(&self) -> String {
        match self {
            Expected::Id => "an ID (string or integer)".into(),
            Expected::String => "a String".into(),
            Expected::Int => "an Int".into(),
            Expected::Float => "a Float".into(),
            Expected::Boolean => "a Boolean".into(),
            Expected::Enum(name, _) => format!("a value of enum {name}"),
            Expected::Custom => "a value".into(),
            Expected::Object(_) => "an object".into(),
        }
    }

    fn accepts(&self, value: &Json) -> bool {
        match (self, value) {
            (Expected::Id, Json::String(_)) => true,
            (Expected::Id, Json::Number(n)) => n.is_i64() || n.is_u64(),
            (Expected::String, Json::String(_)) => true,
            (Expected::Int, Json::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
            (Expected::Float, Json::Number(_)) => true,
            (Expected::Boolean, Json::Bool(_)) => true,
            (Expected::Enum(_, values), Json::String(s)) => values.contains(s),
            (Expected::Custom, _) => true,
            (Expected::Object(_), Json::Object(_)) => true,
            _ => false,
        }
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// Checks one key of an entity type.
#[derive(Debug, Clone)]
pub struct KeyMatcher {
    fields: FieldSet,
    checks: Vec<(String, Expected)>,
}

impl KeyMatcher {
    /// A matcher for `fields` on `object`; the error says which selected field
    /// does not exist or cannot be a key field.
    pub fn new(registry: &TypeRegistry, object: &ObjectDef, fields: &FieldSet) -> Result<Self, String> {
        Ok(KeyMatcher {
            fields: fields.clone(),
            checks: expectations(registry, object, fields.selections())?,
        })
    }

    fn check(&self, values: &Map<String, Json>) -> Result<(), String> {
        check_fields(&self.checks, values, "")
    }
}

fn expectations(
    registry: &TypeRegistry,
    object: &ObjectDef,
    selections: &[Selection],
) -> Result<Vec<(String, Expected)>, String> {
    selections
        .iter()
        .map(|selection| {
            let field = object
                .field(&selection.name)
                .ok_or_else(|| format!("`{}` is not a field of `{}`", selection.name, object.name))?;
            if field.ty.is_list() {
                return Err(format!(
                    "`{}.{}` is a list and cannot be a key field",
                    object.name, field.name
                ));
            }
            let base = field.ty.base_name();
            let expected = match (base, registry.get(base)) {
                ("ID", _) => Expected::Id,
                ("String", _) => Expected::String,
                ("Int", _) => Expected::Int,
                ("Float", _) => Expected::Float,
                ("Boolean", _) => Expected::Boolean,
                (_, Some(TypeDef::Enum(e))) => {
                    Expected::Enum(e.name.clone(), e.values.iter().map(|v| v.name.clone()).collect())
                }
                (_, Some(TypeDef::Object(nested))) => {
                    if selection.children.is_empty() {
                        return Err(format!(
                            "`{}.{}` is an object: select its fields",
                            object.name, field.name
                        ));
                    }
                    Expected::Object(expectations(registry, nested, &selection.children)?)
                }
                _ => Expected::Custom,
            };
            if !matches!(expected, Expected::Object(_)) && !selection.children.is_empty() {
                return Err(format!(
                    "`{}.{}` has no fields to select",
                    object.name, field.name
                ));
            }
            Ok((selection.name.clone(), expected))
        })
        .collect()
}

fn check_fields(
    checks: &[(String, Expected)],
    values: &Map<String, Json>,
    prefix: &str,
) -> Result<(), String> {
    for (name, expected) in checks {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(value) = values.get(name) else { continue };
        if !expected.accepts(value) {
            return Err(format!(
                "field `{path}` must be {}, got {}",
                expected.describe(),
                json_kind(value)
            ));
        }
        if let (Expected::Object(inner), Json::Object(map)) = (expected, value) {
            check_fields(inner, map, &path)?;
        }
    }
    Ok(())
}

/// Turns representation number `index` of an entity type into its key, trying
/// the type's keys in order.
pub fn parse(
    index: usize,
    type_name: &str,
    matchers: &[KeyMatcher],
    mut representation: Map<String, Json>,
) -> Result<EntityKey, String> {
    representation.remove("__typename");
    let mut first_missing = None;
    for matcher in matchers {
        match matcher.fields.extract(&representation) {
            Ok(values) => {
                matcher
                    .check(&values)
                    .map_err(|reason| format!("representation {index} of type `{type_name}`: {reason}"))?;
                return Ok(EntityKey::new(
                    type_name,
                    matcher.fields.clone(),
                    values,
                    representation,
                ));
            }
            Err(missing) => {
                first_missing.get_or_insert(missing);
            }
        }
    }
    let keys: Vec<String> = matchers.iter().map(|m| format!("`{}`", m.fields)).collect();
    Err(format!(
        "representation {index} of type `{type_name}` matches none of its keys ({}): field `{}` is missing or null",
        keys.join(", "),
        first_missing.unwrap_or_default()
    ))
}
