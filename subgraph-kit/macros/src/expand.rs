//! Code generation for the kit's attribute macros.

use heck::{ToLowerCamelCase, ToShoutySnakeCase};
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Fields, ItemEnum, ItemStruct, LitStr};

use crate::attrs::{self, DirectiveAttrs, FieldAttrs, KeyAttr, TypeAttrs};
use crate::fieldset;

/// Which macro is expanding a struct.
#[derive(Clone, Copy, PartialEq)]
pub enum ObjectKind {
    Entity,
    Value,
}

const ENTITY_ARGS: &str = "key, domain, source, name, lookup, lookup_deprecated, list, \
     interface_object, extends, shareable, inaccessible, tag, authenticated, requires_scopes, \
     policy, classification, directive";
const OBJECT_ARGS: &str =
    "name, shareable, inaccessible, tag, authenticated, requires_scopes, policy, classification, directive";

fn parse_type_attrs(attr: TokenStream, kind: ObjectKind) -> syn::Result<TypeAttrs> {
    let mut out = TypeAttrs::default();
    let parser = syn::meta::parser(|meta| {
        if out.directives.parse(&meta)? {
            return Ok(());
        }
        let path = &meta.path;
        if path.is_ident("name") {
            out.name = Some(meta.value()?.parse()?);
            return Ok(());
        }
        if kind == ObjectKind::Value {
            return Err(attrs::unknown(&meta, OBJECT_ARGS));
        }
        if path.is_ident("key") {
            if meta.input.peek(syn::Token![=]) {
                out.keys.push(KeyAttr {
                    fields: meta.value()?.parse()?,
                    resolvable: true,
                });
            } else {
                let mut fields: Option<LitStr> = None;
                let mut resolvable = true;
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("fields") {
                        fields = Some(inner.value()?.parse()?);
                    } else if inner.path.is_ident("resolvable") {
                        resolvable = attrs::parse_flag(&inner)?;
                    } else {
                        return Err(attrs::unknown(&inner, "fields, resolvable"));
                    }
                    Ok(())
                })?;
                let fields = fields.ok_or_else(|| meta.error("key(...) needs fields = \"...\""))?;
                out.keys.push(KeyAttr { fields, resolvable });
            }
        } else if path.is_ident("domain") {
            out.domain = Some(meta.value()?.parse()?);
        } else if path.is_ident("source") {
            out.source = Some(meta.value()?.parse()?);
        } else if path.is_ident("lookup") {
            out.lookup = Some(meta.value()?.parse()?);
        } else if path.is_ident("lookup_deprecated") {
            out.lookup_deprecated = Some(meta.value()?.parse()?);
        } else if path.is_ident("list") {
            out.list = Some(meta.value()?.parse()?);
        } else if path.is_ident("interface_object") {
            out.interface_object = true;
        } else if path.is_ident("extends") {
            out.extends = true;
        } else {
            return Err(attrs::unknown(&meta, ENTITY_ARGS));
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(out)
}

/// A struct field as the macros see it.
struct FieldInfo {
    graphql_name: String,
    ty: syn::Type,
    attrs: FieldAttrs,
    description: Option<String>,
}

fn option_tokens(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(::std::string::String::from(#v))),
        None => quote!(::core::option::Option::None),
    }
}

fn nested_strings_tokens(groups: &[Vec<String>]) -> TokenStream {
    let groups = groups
        .iter()
        .map(|group| quote!(::std::vec![#(::std::string::String::from(#group)),*]));
    quote!(::std::vec![#(#groups),*])
}

/// Tokens building the `Vec<AppliedDirective>` of shared directive arguments.
fn shared_directives(d: &DirectiveAttrs) -> Vec<TokenStream> {
    let m = quote!(::dictamesh::model::AppliedDirective);
    let mut out = Vec::new();
    if d.shareable {
        out.push(quote!(#m::shareable()));
    }
    if d.inaccessible {
        out.push(quote!(#m::inaccessible()));
    }
    for tag in &d.tags {
        out.push(quote!(#m::tag(#tag)));
    }
    if d.authenticated {
        out.push(quote!(#m::authenticated()));
    }
    if let Some(scopes) = &d.requires_scopes {
        let scopes = nested_strings_tokens(scopes);
        out.push(quote!(#m::requires_scopes(#scopes)));
    }
    if let Some(policies) = &d.policy {
        let policies = nested_strings_tokens(policies);
        out.push(quote!(#m::policy(#policies)));
    }
    for custom in &d.custom {
        out.push(quote!(::dictamesh::__private::custom_directive(#custom)));
    }
    out
}

fn classification_tokens(level: &Option<LitStr>) -> TokenStream {
    match level {
        Some(level) => {
            let variant = syn::Ident::new(
                &heck::ToUpperCamelCase::to_upper_camel_case(level.value().as_str()),
                level.span(),
            );
            quote!(::core::option::Option::Some(::dictamesh::model::Classification::#variant))
        }
        None => quote!(::core::option::Option::None),
    }
}

/// Collects the named fields, strips `#[dictamesh]` attributes and adds serde
/// renames so the serialized names are the GraphQL names.
fn collect_fields(item: &mut ItemStruct, macro_name: &str) -> syn::Result<Vec<FieldInfo>> {
    let Fields::Named(named) = &mut item.fields else {
        return Err(syn::Error::new(
            item.ident.span(),
            format!("#[dictamesh::{macro_name}] needs a struct with named fields"),
        ));
    };
    let mut infos = Vec::new();
    for field in named.named.iter_mut() {
        let attrs = FieldAttrs::from_attrs(&field.attrs)?;
        let description = attrs::doc_comment(&field.attrs);
        field.attrs.retain(|a| !a.path().is_ident("dictamesh"));
        let ident = field.ident.as_ref().expect("named fields have identifiers");
        let rust_name = ident.to_string();
        let graphql_name = match &attrs.name {
            Some(name) => name.value(),
            None => rust_name.trim_start_matches("r#").to_lower_camel_case(),
        };
        field
            .attrs
            .push(syn::parse_quote!(#[serde(rename = #graphql_name)]));
        if !attrs.skip {
            infos.push(FieldInfo {
                graphql_name,
                ty: field.ty.clone(),
                attrs,
                description,
            });
        }
    }
    Ok(infos)
}

fn field_def_tokens(info: &FieldInfo) -> TokenStream {
    let name = &info.graphql_name;
    let ty = &info.ty;
    let m = quote!(::dictamesh::model::AppliedDirective);
    let a = &info.attrs;
    let mut directives = Vec::new();
    if a.external {
        directives.push(quote!(#m::external()));
    }
    if let Some(requires) = &a.requires {
        directives.push(quote!(#m::requires(#requires)));
    }
    if let Some(provides) = &a.provides {
        directives.push(quote!(#m::provides(#provides)));
    }
    if let Some(from) = &a.override_from {
        let label = option_tokens(a.override_label.as_ref().map(LitStr::value));
        directives.push(quote!(#m::override_from(#from, #label)));
    }
    directives.extend(shared_directives(&a.directives));
    let description = option_tokens(info.description.clone());
    let deprecation = option_tokens(a.deprecated.as_ref().map(LitStr::value));
    let pii = a.pii;
    let classification = classification_tokens(&a.directives.classification);
    let type_ref = quote_spanned!(ty.span()=> <#ty as ::dictamesh::GraphQLType>::type_ref());
    quote! {{
        let mut field = ::dictamesh::model::FieldDef::new(#name, #type_ref);
        field.description = #description;
        field.deprecation = #deprecation;
        field.governance = ::dictamesh::model::Governance { pii: #pii, classification: #classification };
        field.directives = ::std::vec![#(#directives),*];
        field
    }}
}

fn register_field_types(infos: &[FieldInfo]) -> Vec<TokenStream> {
    infos
        .iter()
        .map(|info| {
            let ty = &info.ty;
            quote_spanned!(ty.span()=> <#ty as ::dictamesh::GraphQLType>::register(registry);)
        })
        .collect()
}

/// Checks the field sets of keys and `@requires` at compile time.
fn check_field_sets(type_name: &str, attrs: &TypeAttrs, infos: &[FieldInfo]) -> syn::Result<()> {
    let names: Vec<&str> = infos.iter().map(|i| i.graphql_name.as_str()).collect();
    for key in &attrs.keys {
        let top = fieldset::top_level_names(&key.fields.value()).map_err(|reason| {
            syn::Error::new(key.fields.span(), format!("invalid key field set: {reason}"))
        })?;
        for name in top {
            if !names.contains(&name.as_str()) {
                return Err(syn::Error::new(
                    key.fields.span(),
                    format!(
                        "key field `{name}` is not a field of `{type_name}` (its fields: {})",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    for info in infos {
        if let Some(requires) = &info.attrs.requires {
            let top = fieldset::top_level_names(&requires.value()).map_err(|reason| {
                syn::Error::new(requires.span(), format!("invalid requires field set: {reason}"))
            })?;
            for name in top {
                let external = infos
                    .iter()
                    .any(|other| other.graphql_name == name && other.attrs.external);
                if !external {
                    return Err(syn::Error::new(
                        requires.span(),
                        format!(
                            "`{name}` in requires must be a field of `{type_name}` marked #[dictamesh(external)]"
                        ),
                    ));
                }
            }
        }
        if let Some(provides) = &info.attrs.provides {
            fieldset::top_level_names(&provides.value()).map_err(|reason| {
                syn::Error::new(provides.span(), format!("invalid provides field set: {reason}"))
            })?;
        }
    }
    Ok(())
}

/// `#[dictamesh::entity]` and `#[dictamesh::object]`.
pub fn object(attr: TokenStream, item: TokenStream, kind: ObjectKind) -> syn::Result<TokenStream> {
    let type_attrs = parse_type_attrs(attr, kind)?;
    let mut item: ItemStruct = syn::parse2(item)?;
    let macro_name = if kind == ObjectKind::Entity {
        "entity"
    } else {
        "object"
    };
    let description = option_tokens(attrs::doc_comment(&item.attrs));
    let infos = collect_fields(&mut item, macro_name)?;
    let ident = &item.ident;
    let type_name = type_attrs
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| ident.to_string());
    if kind == ObjectKind::Entity && type_attrs.keys.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "an entity needs at least one key, e.g. #[dictamesh::entity(key = \"id\")]",
        ));
    }
    check_field_sets(&type_name, &type_attrs, &infos)?;

    let field_defs: Vec<_> = infos.iter().map(field_def_tokens).collect();
    let registrations = register_field_types(&infos);
    let keys = type_attrs.keys.iter().map(|key| {
        let fields = &key.fields;
        let resolvable = key.resolvable;
        quote!(::dictamesh::__private::key_def(#fields, #resolvable))
    });
    let m = quote!(::dictamesh::model::AppliedDirective);
    let mut type_directives = Vec::new();
    if type_attrs.extends {
        type_directives.push(quote!(#m::extends()));
    }
    if type_attrs.interface_object {
        type_directives.push(quote!(#m::interface_object()));
    }
    type_directives.extend(shared_directives(&type_attrs.directives));
    let classification = classification_tokens(&type_attrs.directives.classification);
    let serde_attrs = serde_attributes();
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();

    let entity_impl = if kind == ObjectKind::Entity {
        let domain = type_attrs
            .domain
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| type_name.to_lowercase());
        let source = type_attrs
            .source
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| "dictamesh".to_string());
        let lookup = option_tokens(type_attrs.lookup.as_ref().map(LitStr::value));
        let lookup_deprecated = option_tokens(type_attrs.lookup_deprecated.as_ref().map(LitStr::value));
        let list = option_tokens(type_attrs.list.as_ref().map(LitStr::value));
        quote! {
            impl #impl_generics ::dictamesh::Entity for #ident #ty_generics #where_clause {
                const TYPE_NAME: &'static str = #type_name;

                fn meta() -> ::dictamesh::EntityMeta {
                    ::dictamesh::EntityMeta {
                        domain: ::std::string::String::from(#domain),
                        source: ::std::string::String::from(#source),
                        lookup: #lookup,
                        lookup_deprecated: #lookup_deprecated,
                        list: #list,
                    }
                }
            }
        }
    } else {
        TokenStream::new()
    };

    Ok(quote! {
        #serde_attrs
        #item

        impl #impl_generics ::dictamesh::GraphQLType for #ident #ty_generics #where_clause {
            fn type_ref() -> ::dictamesh::model::TypeRef {
                ::dictamesh::model::TypeRef::named_nn(#type_name)
            }

            fn register(registry: &mut ::dictamesh::model::TypeRegistry) {
                if registry.contains(#type_name) {
                    return;
                }
                let mut object = ::dictamesh::model::ObjectDef::new(#type_name);
                object.description = #description;
                object.fields = ::std::vec![#(#field_defs),*];
                object.keys = ::std::vec![#(#keys),*];
                object.directives = ::std::vec![#(#type_directives),*];
                object.classification = #classification;
                if registry.insert(::dictamesh::model::TypeDef::Object(object)) {
                    #(#registrations)*
                }
            }
        }

        #entity_impl
    })
}

fn serde_attributes() -> TokenStream {
    quote! {
        #[derive(::dictamesh::__private::serde::Serialize, ::dictamesh::__private::serde::Deserialize)]
        #[serde(crate = "::dictamesh::__private::serde")]
    }
}

fn parse_name_only(attr: TokenStream, macro_name: &str) -> syn::Result<Option<LitStr>> {
    let mut name = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            name = Some(meta.value()?.parse()?);
            Ok(())
        } else {
            Err(meta.error(format!("#[dictamesh::{macro_name}] accepts only `name`")))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(name)
}

/// `#[dictamesh::enumeration]`.
pub fn enumeration(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let name = parse_name_only(attr, "enumeration")?;
    let mut item: ItemEnum = syn::parse2(item)?;
    let ident = &item.ident;
    let type_name = name.map(|n| n.value()).unwrap_or_else(|| ident.to_string());
    let description = option_tokens(attrs::doc_comment(&item.attrs));
    let mut values = Vec::new();
    for variant in item.variants.iter_mut() {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new(
                variant.span(),
                "#[dictamesh::enumeration] variants cannot carry data",
            ));
        }
        let graphql_name = variant.ident.to_string().to_shouty_snake_case();
        let value_description = option_tokens(attrs::doc_comment(&variant.attrs));
        variant
            .attrs
            .push(syn::parse_quote!(#[serde(rename = #graphql_name)]));
        values.push(quote!(::dictamesh::model::EnumValueDef {
            name: ::std::string::String::from(#graphql_name),
            description: #value_description,
            deprecation: ::core::option::Option::None,
        }));
    }
    let serde_attrs = serde_attributes();
    Ok(quote! {
        #serde_attrs
        #item

        impl ::dictamesh::GraphQLType for #ident {
            fn type_ref() -> ::dictamesh::model::TypeRef {
                ::dictamesh::model::TypeRef::named_nn(#type_name)
            }

            fn register(registry: &mut ::dictamesh::model::TypeRegistry) {
                registry.insert(::dictamesh::model::TypeDef::Enum(::dictamesh::model::EnumDef {
                    name: ::std::string::String::from(#type_name),
                    description: #description,
                    values: ::std::vec![#(#values),*],
                    directives: ::std::vec::Vec::new(),
                }));
            }
        }
    })
}

/// `#[dictamesh::input]`.
pub fn input(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let name = parse_name_only(attr, "input")?;
    let mut item: ItemStruct = syn::parse2(item)?;
    let description = option_tokens(attrs::doc_comment(&item.attrs));
    let infos = collect_fields(&mut item, "input")?;
    let ident = &item.ident;
    let type_name = name.map(|n| n.value()).unwrap_or_else(|| ident.to_string());
    let fields = infos.iter().map(|info| {
        let name = &info.graphql_name;
        let ty = &info.ty;
        let field_description = option_tokens(info.description.clone());
        let type_ref = quote_spanned!(ty.span()=> <#ty as ::dictamesh::GraphQLType>::type_ref());
        quote!({
            let mut value = ::dictamesh::model::InputValueDef::new(#name, #type_ref);
            value.description = #field_description;
            value
        })
    });
    let registrations = register_field_types(&infos);
    let serde_attrs = serde_attributes();
    Ok(quote! {
        #serde_attrs
        #item

        impl ::dictamesh::GraphQLType for #ident {
            fn type_ref() -> ::dictamesh::model::TypeRef {
                ::dictamesh::model::TypeRef::named_nn(#type_name)
            }

            fn register(registry: &mut ::dictamesh::model::TypeRegistry) {
                let input = ::dictamesh::model::InputObjectDef {
                    name: ::std::string::String::from(#type_name),
                    description: #description,
                    fields: ::std::vec![#(#fields),*],
                };
                if registry.insert(::dictamesh::model::TypeDef::InputObject(input)) {
                    #(#registrations)*
                }
            }
        }

        impl ::dictamesh::InputType for #ident {}
    })
}
