//! Writing the final response: walk the client's operation over the merged data and
//! write JSON straight into the output buffer — only what the client selected, in its
//! order, under its aliases — checking each value against the API schema. No copy of
//! the data is made.
//!
//! Null propagation: before a value is written, the writer remembers where it starts;
//! when a non-null position turns out null, the output is cut back to the nearest
//! nullable position, which gets `null` instead.

use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use serde_json::Map;
use serde_json::Value;

use crate::plan::selection::Field;
use crate::plan::selection::Selection;
use crate::plan::selection::SelectionSet;
use crate::supergraph::Supergraph;

/// A non-null position got null: its parent must become null.
struct NullBubble;

/// Writes the `data` of an operation as JSON (`null` when null propagated to the root).
pub fn write_data(
    supergraph: &Supergraph,
    root_type: &Name,
    selection: &SelectionSet,
    data: &Value,
    out: &mut Vec<u8>,
) {
    let writer = Writer { supergraph };
    let empty = Map::new();
    let object = data.as_object().unwrap_or(&empty);
    let start = out.len();
    if writer
        .write_object(&[selection], root_type, root_type, object, out)
        .is_err()
    {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

struct Writer<'a> {
    supergraph: &'a Supergraph,
}

/// The fields selected on one object for its runtime type, grouped by response key
/// (the GraphQL spec's CollectFields), in selection order.
fn collect_fields<'s>(
    supergraph: &Supergraph,
    selections: &[&'s SelectionSet],
    runtime_type: &str,
    out: &mut Vec<(&'s Field, Vec<&'s SelectionSet>)>,
) {
    for set in selections {
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    match out
                        .iter_mut()
                        .find(|(f, _)| f.response_key() == field.response_key())
                    {
                        Some((_, subs)) => subs.push(&field.selection_set),
                        None => out.push((field, vec![&field.selection_set])),
                    }
                }
                Selection::Fragment(fragment) => {
                    if supergraph.type_matches(&fragment.type_condition, runtime_type) {
                        collect_fields(supergraph, &[&fragment.selection_set], runtime_type, out);
                    }
                }
            }
        }
    }
}

fn write_key(key: &str, out: &mut Vec<u8>) {
    write_string(key, out);
    out.push(b':');
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

impl Writer<'_> {
    fn write_object(
        &self,
        selections: &[&SelectionSet],
        static_type: &Name,
        runtime_type: &Name,
        object: &Map<String, Value>,
        out: &mut Vec<u8>,
    ) -> Result<(), NullBubble> {
        let mut fields = Vec::new();
        collect_fields(self.supergraph, selections, runtime_type, &mut fields);
        out.push(b'{');
        for (index, (field, subs)) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            let key = field.response_key().as_str();
            write_key(key, out);
            if field.name == "__typename" {
                write_string(runtime_type, out);
                continue;
            }
            if field.name == "__schema" || field.name == "__type" {
                let value = object.get(key).unwrap_or(&Value::Null);
                let _ = serde_json::to_writer(&mut *out, value);
                continue;
            }
            let definition = self
                .supergraph
                .api_schema
                .type_field(runtime_type, &field.name)
                .or_else(|_| self.supergraph.api_schema.type_field(static_type, &field.name));
            let value = object.get(key).unwrap_or(&Value::Null);
            match definition {
                Ok(definition) => self.write_value(value, &definition.ty, subs, out)?,
                Err(_) => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        Ok(())
    }

    fn write_value(
        &self,
        value: &Value,
        ty: &ast::Type,
        selections: &[&SelectionSet],
        out: &mut Vec<u8>,
    ) -> Result<(), NullBubble> {
        match ty {
            ast::Type::NonNullNamed(_) | ast::Type::NonNullList(_) => {
                let start = out.len();
                let inner = ty.clone().nullable();
                self.write_value(value, &inner, selections, out)?;
                if &out[start..] == b"null" {
                    return Err(NullBubble);
                }
                Ok(())
            }
            ast::Type::List(item_type) => {
                let Value::Array(items) = value else {
                    out.extend_from_slice(b"null");
                    return Ok(());
                };
                let start = out.len();
                out.push(b'[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    if self.write_value(item, item_type, selections, out).is_err() {
                        out.truncate(start);
                        out.extend_from_slice(b"null");
                        return Ok(());
                    }
                }
                out.push(b']');
                Ok(())
            }
            ast::Type::Named(name) => {
                if value.is_null() {
                    out.extend_from_slice(b"null");
                    return Ok(());
                }
                match self.supergraph.api_schema.types.get(name) {
                    Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                        let Value::Object(object) = value else {
                            out.extend_from_slice(b"null");
                            return Ok(());
                        };
                        let runtime = match object.get("__typename").and_then(Value::as_str) {
                            Some(typename) => match self.supergraph.api_schema.types.get(typename) {
                                Some(ExtendedType::Object(object_type)) => &object_type.name,
                                // An `@interfaceObject` answered with the interface's name:
                                // its own fields are all the selection needed.
                                Some(ExtendedType::Interface(interface)) => &interface.name,
                                // A type clients cannot see.
                                _ if self.supergraph.is_abstract(name) => {
                                    out.extend_from_slice(b"null");
                                    return Ok(());
                                }
                                _ => name,
                            },
                            None => name,
                        };
                        let start = out.len();
                        if self.write_object(selections, name, runtime, object, out).is_err() {
                            out.truncate(start);
                            out.extend_from_slice(b"null");
                        }
                        Ok(())
                    }
                    Some(ExtendedType::Enum(enum_type)) => {
                        match value.as_str() {
                            Some(text) if enum_type.values.contains_key(text) => write_string(text, out),
                            _ => out.extend_from_slice(b"null"),
                        }
                        Ok(())
                    }
                    _ => {
                        let _ = serde_json::to_writer(&mut *out, value);
                        Ok(())
                    }
                }
            }
        }
    }
}
