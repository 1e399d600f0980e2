//! Parsing of the macros' attribute arguments.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprArray, Lit, LitBool, LitStr};

/// A `@key` as written in the attribute.
pub struct KeyAttr {
    pub fields: LitStr,
    pub resolvable: bool,
}

/// Directives shared by types and fields.
#[derive(Default)]
pub struct DirectiveAttrs {
    pub shareable: bool,
    pub inaccessible: bool,
    pub authenticated: bool,
    pub tags: Vec<LitStr>,
    pub requires_scopes: Option<Vec<Vec<String>>>,
    pub policy: Option<Vec<Vec<String>>>,
    pub classification: Option<LitStr>,
    /// Raw applied custom directives, e.g. `"@custom"` or `"@audit(level: 2)"`.
    pub custom: Vec<LitStr>,
}

impl DirectiveAttrs {
    /// Parses one argument if it is a shared directive; `Ok(false)` otherwise.
    pub fn parse(&mut self, meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
        let path = &meta.path;
        if path.is_ident("shareable") {
            self.shareable = true;
        } else if path.is_ident("inaccessible") {
            self.inaccessible = true;
        } else if path.is_ident("authenticated") {
            self.authenticated = true;
        } else if path.is_ident("tag") {
            self.tags.push(meta.value()?.parse()?);
        } else if path.is_ident("requires_scopes") {
            self.requires_scopes = Some(parse_nested_strings(meta)?);
        } else if path.is_ident("policy") {
            self.policy = Some(parse_nested_strings(meta)?);
        } else if path.is_ident("classification") {
            let level: LitStr = meta.value()?.parse()?;
            if !["public", "internal", "confidential", "restricted"].contains(&level.value().as_str()) {
                return Err(syn::Error::new(
                    level.span(),
                    "classification must be one of \"public\", \"internal\", \"confidential\", \"restricted\"",
                ));
            }
            self.classification = Some(level);
        } else if path.is_ident("directive") {
            let raw: LitStr = meta.value()?.parse()?;
            if !raw.value().starts_with('@') {
                return Err(syn::Error::new(
                    raw.span(),
                    "a custom directive is written with its `@`, e.g. directive = \"@custom\"",
                ));
            }
            self.custom.push(raw);
        } else {
            return Ok(false);
        }
        Ok(true)
    }
}

/// `[["a", "b"], ["c"]]`: the argument of `@requiresScopes` and `@policy`.
fn parse_nested_strings(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<Vec<String>>> {
    let expr: Expr = meta.value()?.parse()?;
    let error = |span| {
        syn::Error::new(
            span,
            "expected a list of lists of strings, e.g. [[\"read:a\", \"read:b\"], [\"admin\"]]",
        )
    };
    let Expr::Array(ExprArray { elems, .. }) = &expr else {
        return Err(error(
            meta.path.get_ident().map_or_else(Span::call_site, |i| i.span()),
        ));
    };
    elems
        .iter()
        .map(|group| {
            let Expr::Array(ExprArray {
                elems, bracket_token, ..
            }) = group
            else {
                return Err(error(Span::call_site()));
            };
            elems
                .iter()
                .map(|item| match item {
                    Expr::Lit(lit) => match &lit.lit {
                        Lit::Str(s) => Ok(s.value()),
                        _ => Err(error(bracket_token.span.join())),
                    },
                    _ => Err(error(bracket_token.span.join())),
                })
                .collect()
        })
        .collect()
}

/// Parses `name = true|false`, or a bare `name` meaning `true`.
pub fn parse_flag(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let value: LitBool = meta.value()?.parse()?;
        Ok(value.value)
    } else {
        Ok(true)
    }
}

/// The error for an argument the macro does not know.
pub fn unknown(meta: &ParseNestedMeta<'_>, allowed: &str) -> syn::Error {
    let name = meta
        .path
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| "?".into());
    meta.error(format!("unknown argument `{name}`; expected one of: {allowed}"))
}

/// Type-level arguments of `#[dictamesh::entity]` and `#[dictamesh::object]`.
#[derive(Default)]
pub struct TypeAttrs {
    pub name: Option<LitStr>,
    pub keys: Vec<KeyAttr>,
    pub domain: Option<LitStr>,
    pub source: Option<LitStr>,
    pub lookup: Option<LitStr>,
    pub lookup_deprecated: Option<LitStr>,
    pub list: Option<LitStr>,
    pub interface_object: bool,
    pub extends: bool,
    pub directives: DirectiveAttrs,
}

/// Field-level arguments of `#[dictamesh(...)]`.
#[derive(Default)]
pub struct FieldAttrs {
    pub name: Option<LitStr>,
    pub skip: bool,
    pub pii: bool,
    pub external: bool,
    pub requires: Option<LitStr>,
    pub provides: Option<LitStr>,
    pub override_from: Option<LitStr>,
    pub override_label: Option<LitStr>,
    pub deprecated: Option<LitStr>,
    pub directives: DirectiveAttrs,
}

pub const FIELD_ARGS: &str = "name, skip, pii, classification, shareable, external, requires, provides, \
     override_from, override_label, inaccessible, tag, authenticated, requires_scopes, policy, \
     directive, deprecated";

impl FieldAttrs {
    /// Parses every `#[dictamesh(...)]` attribute of a field.
    pub fn from_attrs(attrs: &[syn::Attribute]) -> syn::Result<Self> {
        let mut out = FieldAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("dictamesh")) {
            attr.parse_nested_meta(|meta| {
                if out.directives.parse(&meta)? {
                    return Ok(());
                }
                let path = &meta.path;
                if path.is_ident("name") {
                    out.name = Some(meta.value()?.parse()?);
                } else if path.is_ident("skip") {
                    out.skip = true;
                } else if path.is_ident("pii") {
                    out.pii = parse_flag(&meta)?;
                } else if path.is_ident("external") {
                    out.external = true;
                } else if path.is_ident("requires") {
                    out.requires = Some(meta.value()?.parse()?);
                } else if path.is_ident("provides") {
                    out.provides = Some(meta.value()?.parse()?);
                } else if path.is_ident("override_from") {
                    out.override_from = Some(meta.value()?.parse()?);
                } else if path.is_ident("override_label") {
                    out.override_label = Some(meta.value()?.parse()?);
                } else if path.is_ident("deprecated") {
                    out.deprecated = Some(meta.value()?.parse()?);
                } else {
                    return Err(unknown(&meta, FIELD_ARGS));
                }
                Ok(())
            })?;
        }
        if let (Some(label), None) = (&out.override_label, &out.override_from) {
            return Err(syn::Error::new(
                label.span(),
                "override_label needs override_from (the subgraph the field moves from)",
            ));
        }
        Ok(out)
    }
}

/// The doc comment of an item, as a description.
pub fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    if lines.is_empty() {
        None
    } else {
        Some(lines.join("\n").trim().to_string())
    }
}
