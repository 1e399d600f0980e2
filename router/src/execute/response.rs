//! Writing the final response: walk the operation's [`Projection`] over the merged
//! data and write JSON straight into the output buffer — only what the client
//! selected, in its order, under its aliases — checking each value against the API
//! schema. No copy of the data is made.
//!
//! Null propagation: before a value is written, the writer remembers where it starts;
//! when a non-null position turns out null, the output is cut back to the nearest
//! nullable position, which gets `null` instead.

use super::json_text::write_str;
use super::json_text::write_value;
use super::node::Node;
use super::node::Object;
use crate::plan::projection::FieldKind;
use crate::plan::projection::ObjectProjection;
use crate::plan::projection::Projection;
use crate::plan::projection::Resolved;
use crate::plan::projection::ValueProjection;
use crate::supergraph::Supergraph;

/// A non-null position got null: its parent must become null.
struct NullBubble;

/// Writes the `data` of an operation through its projection as JSON (`null` when
/// null propagated to the root).
pub fn write_projected(supergraph: &Supergraph, projection: &Projection, data: &Node, out: &mut Vec<u8>) {
    let writer = Writer { supergraph };
    let empty = Object::new();
    let object = data.as_object().unwrap_or(&empty);
    let start = out.len();
    if writer.write_object(&projection.root, object, out).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

struct Writer<'a> {
    supergraph: &'a Supergraph,
}

impl Writer<'_> {
    fn write_object(
        &self,
        projection: &ObjectProjection,
        object: &Object,
        out: &mut Vec<u8>,
    ) -> Result<(), NullBubble> {
        out.push(b'{');
        // The data mostly has the fields in the order the client asked for them.
        let mut cursor = 0;
        for (index, field) in projection.fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&field.key_json);
            match &field.kind {
                FieldKind::Typename(typename) => out.extend_from_slice(typename),
                FieldKind::Verbatim => {
                    write_value(
                        object
                            .get_from(field.response_key.as_str(), &mut cursor)
                            .unwrap_or(&Node::Null),
                        out,
                    );
                }
                FieldKind::Unknown => out.extend_from_slice(b"null"),
                FieldKind::Value(value) => {
                    let data = object
                        .get_from(field.response_key.as_str(), &mut cursor)
                        .unwrap_or(&Node::Null);
                    self.write_value(value, data, out)?;
                }
            }
        }
        out.push(b'}');
        Ok(())
    }

    fn write_value(
        &self,
        projection: &ValueProjection,
        value: &Node,
        out: &mut Vec<u8>,
    ) -> Result<(), NullBubble> {
        match projection {
            ValueProjection::NonNull(inner) => {
                let start = out.len();
                self.write_value(inner, value, out)?;
                if &out[start..] == b"null" {
                    return Err(NullBubble);
                }
                Ok(())
            }
            ValueProjection::List(item) => {
                let Node::Array(items) = value else {
                    out.extend_from_slice(b"null");
                    return Ok(());
                };
                let start = out.len();
                out.push(b'[');
                for (index, value) in items.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    if self.write_value(item, value, out).is_err() {
                        out.truncate(start);
                        out.extend_from_slice(b"null");
                        return Ok(());
                    }
                }
                out.push(b']');
                Ok(())
            }
            ValueProjection::Scalar => {
                write_value(value, out);
                Ok(())
            }
            ValueProjection::Enum(values) => {
                match value.as_str() {
                    Some(text) if values.contains(text) => write_str(text, out),
                    _ => out.extend_from_slice(b"null"),
                }
                Ok(())
            }
            ValueProjection::Composite(composite) => {
                let Node::Object(object) = value else {
                    out.extend_from_slice(b"null");
                    return Ok(());
                };
                let typename = object.get("__typename").and_then(Node::as_str);
                let resolved = composite.resolve(self.supergraph, typename);
                let projection = match &resolved {
                    Resolved::Fixed(projection) => *projection,
                    Resolved::Shared(projection) => projection.as_ref(),
                    Resolved::Hidden => {
                        out.extend_from_slice(b"null");
                        return Ok(());
                    }
                };
                let start = out.len();
                if self.write_object(projection, object, out).is_err() {
                    out.truncate(start);
                    out.extend_from_slice(b"null");
                }
                Ok(())
            }
        }
    }
}
