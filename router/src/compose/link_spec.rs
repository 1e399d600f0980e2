//! Reading `@link(url:, as:, import:)` applications of a subgraph schema.

use apollo_compiler::ast;

/// Version of a linked spec, e.g. `v2.3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl SpecVersion {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        SpecVersion { major, minor }
    }

    /// Parses `v2.3` (the leading `v` is required).
    pub fn parse(text: &str) -> Option<Self> {
        let (major, minor) = text.strip_prefix('v')?.split_once('.')?;
        Some(SpecVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl std::fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One imported element of a `@link`: `"@key"` or `{ name: "@key", as: "@primaryKey" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkImport {
    /// Name in the spec, with `@` for directives.
    pub name: String,
    /// Name in the schema, with `@` for directives.
    pub alias: String,
}

/// One `@link` application.
#[derive(Debug, Clone)]
pub struct Link {
    /// The full URL.
    pub url: String,
    /// The URL without its version segment, e.g. `https://specs.apollo.dev/federation`.
    pub identity: String,
    /// The spec name (last segment before the version), e.g. `federation`.
    pub spec_name: String,
    /// The version segment, if the URL has one.
    pub version: Option<SpecVersion>,
    /// The `as:` argument, if any.
    pub alias: Option<String>,
    /// The `import:` list.
    pub imports: Vec<LinkImport>,
}

impl Link {
    /// The prefix of non-imported elements: `federation` in `federation__FieldSet`.
    pub fn prefix(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.spec_name)
    }

    /// The schema name of a spec directive (without `@`): its import alias or the prefixed name.
    pub fn directive_name_in_schema(&self, spec_name: &str) -> String {
        let wanted = format!("@{spec_name}");
        match self.imports.iter().find(|i| i.name == wanted) {
            Some(import) => import.alias.trim_start_matches('@').to_string(),
            None => format!("{}__{spec_name}", self.prefix()),
        }
    }

    /// The schema name of a spec type: its import alias or the prefixed name.
    pub fn type_name_in_schema(&self, spec_name: &str) -> String {
        match self.imports.iter().find(|i| i.name == spec_name) {
            Some(import) => import.alias.clone(),
            None => format!("{}__{spec_name}", self.prefix()),
        }
    }
}

/// Errors found while reading a `@link`.
#[derive(Debug, Clone)]
pub struct LinkError(pub String);

/// Reads every `@link` on the schema definition and extensions of a document.
pub fn links_of_document(document: &ast::Document) -> Result<Vec<Link>, LinkError> {
    let mut links = Vec::new();
    for definition in &document.definitions {
        let directives = match definition {
            ast::Definition::SchemaDefinition(def) => &def.directives,
            ast::Definition::SchemaExtension(ext) => &ext.directives,
            _ => continue,
        };
        for directive in directives.iter().filter(|d| d.name == "link") {
            links.push(read_link(directive)?);
        }
    }
    Ok(links)
}

fn read_link(directive: &ast::Directive) -> Result<Link, LinkError> {
    let url = directive
        .specified_argument_by_name("url")
        .and_then(|v| v.as_str())
        .ok_or_else(|| LinkError(format!("{directive} has no string `url` argument")))?
        .to_string();
    let trimmed = url.trim_end_matches('/');
    let mut segments: Vec<&str> = trimmed.rsplitn(3, '/').collect();
    segments.reverse();
    let (identity, spec_name, version) = match segments.as_slice() {
        [base, name, last] => match SpecVersion::parse(last) {
            Some(version) => (format!("{base}/{name}"), name.to_string(), Some(version)),
            None => (trimmed.to_string(), last.to_string(), None),
        },
        _ => (trimmed.to_string(), trimmed.to_string(), None),
    };
    let alias = match directive.specified_argument_by_name("as") {
        Some(value) => Some(
            value
                .as_str()
                .ok_or_else(|| LinkError(format!("{directive}: `as` must be a string")))?
                .to_string(),
        ),
        None => None,
    };
    let mut imports = Vec::new();
    if let Some(value) = directive.specified_argument_by_name("import") {
        let items = value
            .as_list()
            .ok_or_else(|| LinkError(format!("{directive}: `import` must be a list")))?;
        for item in items {
            imports.push(read_import(directive, item)?);
        }
    }
    Ok(Link {
        url,
        identity,
        spec_name,
        version,
        alias,
        imports,
    })
}

fn read_import(directive: &ast::Directive, item: &ast::Value) -> Result<LinkImport, LinkError> {
    if let Some(name) = item.as_str() {
        return Ok(LinkImport {
            name: name.to_string(),
            alias: name.to_string(),
        });
    }
    let Some(fields) = item.as_object() else {
        return Err(LinkError(format!(
            "{directive}: an import must be a string or an object {{ name:, as: }}, not {item}"
        )));
    };
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.as_str())
    };
    let name =
        field("name").ok_or_else(|| LinkError(format!("{directive}: import {item} has no string `name`")))?;
    let alias = field("as").unwrap_or(name);
    if name.starts_with('@') != alias.starts_with('@') {
        return Err(LinkError(format!(
            "{directive}: import {item} must rename a directive to a directive (both starting with \"@\") or a type to a type"
        )));
    }
    Ok(LinkImport {
        name: name.to_string(),
        alias: alias.to_string(),
    })
}
