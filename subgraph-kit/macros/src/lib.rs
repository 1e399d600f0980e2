//! Procedural macros of the DictaMesh subgraph kit.
//!
//! They only generate glue: serde derives and a description of the GraphQL type
//! (fields, keys, directives) that the `dictamesh` runtime serves. Use them
//! through the `dictamesh` crate: `#[dictamesh::entity]`, `#[dictamesh::object]`,
//! `#[dictamesh::enumeration]` and `#[dictamesh::input]`.

mod attrs;
mod expand;
mod fieldset;

use proc_macro::TokenStream;

/// Turns a struct into a Federation entity: a GraphQL object type with `@key`s
/// that the kit resolves through a `DataProductAdapter`.
///
/// Type arguments: `key = "id"` (repeatable; `key(fields = "...", resolvable =
/// false)` for a key this subgraph does not resolve), `domain`, `source`,
/// `name`, `lookup = "product"` (a root field by the first key), `lookup_deprecated`,
/// `list = "products"` (a root list field with filter, limit and offset),
/// `interface_object`, `extends`, `shareable`, `inaccessible`, `tag`,
/// `authenticated`, `requires_scopes`, `policy`, `classification`, `directive`.
///
/// Field arguments in `#[dictamesh(...)]`: `name`, `skip`, `pii`,
/// `classification`, `shareable`, `external`, `requires`, `provides`,
/// `override_from`, `override_label`, `inaccessible`, `tag`, `authenticated`,
/// `requires_scopes`, `policy`, `directive`, `deprecated`.
#[proc_macro_attribute]
pub fn entity(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::object(attr.into(), item.into(), expand::ObjectKind::Entity)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a struct into a GraphQL value type (an object without keys), e.g. `Money`.
/// Accepts `name`, `shareable`, `inaccessible`, `tag`, `classification`,
/// `directive`, and the same field arguments as `#[dictamesh::entity]`.
#[proc_macro_attribute]
pub fn object(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::object(attr.into(), item.into(), expand::ObjectKind::Value)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a field-less enum into a GraphQL enum; values are SCREAMING_SNAKE_CASE.
/// Accepts `name`.
#[proc_macro_attribute]
pub fn enumeration(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::enumeration(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns a struct into a GraphQL input object, e.g. the draft a `create`
/// mutation takes. Accepts `name`; fields accept `name` and `deprecated`.
#[proc_macro_attribute]
pub fn input(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::input(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
