//! Errors and hints of composition, with Apollo's composition codes.

use std::fmt;
use std::path::PathBuf;

/// The code of a composition error, spelled like Apollo's (`INVALID_FIELD_SHARING`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A subgraph schema is not valid GraphQL (syntax or validation).
    InvalidGraphql,
    /// A subgraph name or routing URL cannot be used.
    InvalidSubgraphName,
    /// A `@link` directive is malformed or imports something unknown.
    InvalidLinkDirectiveUsage,
    /// A subgraph links an unknown version of the federation spec.
    UnknownFederationLinkVersion,
    /// A type has different kinds (object, interface, ...) across subgraphs.
    TypeKindMismatch,
    /// A field has incompatible types across subgraphs.
    FieldTypeMismatch,
    /// An argument has incompatible types across subgraphs.
    FieldArgumentTypeMismatch,
    /// An `@external` field's type is incompatible with its definition.
    ExternalTypeMismatch,
    /// An `@external` field lacks an argument of its definition.
    ExternalArgumentMissing,
    /// A field is `@external` in every subgraph that declares it.
    ExternalMissingOnBase,
    /// An `@external` field is used by no `@key`, `@requires` or `@provides`.
    ExternalUnused,
    /// A Federation 1 type only has unused `@external` fields.
    TypeWithOnlyUnusedExternal,
    /// The subgraph uses something this composer does not support (yet).
    UnsupportedFeature,
    /// A non-shareable field is resolved by several subgraphs.
    InvalidFieldSharing,
    /// An enum used as input and output differs across subgraphs.
    EnumValueMismatch,
    /// Intersecting an enum's values across subgraphs leaves nothing.
    EmptyMergedEnumType,
    /// Intersecting an input type's fields across subgraphs leaves nothing.
    EmptyMergedInputType,
    /// A required argument is missing in some subgraphs.
    RequiredArgumentMissingInSomeSubgraph,
    /// A required input field is missing in some subgraphs.
    RequiredInputFieldMissingInSomeSubgraph,
    /// An argument has different default values across subgraphs.
    ArgumentDefaultMismatch,
    /// An input field has different default values across subgraphs.
    InputFieldDefaultMismatch,
    /// The `fields` of a `@key` do not parse or do not exist.
    KeyInvalidFields,
    /// A `@key` selects a field of interface or union type.
    KeyFieldsSelectInvalidType,
    /// A `@key` selects a field that takes arguments.
    KeyFieldsHasArgs,
    /// The `fields` of a `@requires` do not parse or do not exist.
    RequiresInvalidFields,
    /// A `@requires` selects a field that is not `@external`.
    RequiresFieldsMissingExternal,
    /// The `fields` of a `@provides` do not parse or do not exist.
    ProvidesInvalidFields,
    /// A `@provides` selects a field that is not `@external`.
    ProvidesFieldsMissingExternal,
    /// A `@provides` is on a field whose type is not a composite type.
    ProvidesOnNonObjectField,
    /// A field's `@override` source also overrides it.
    OverrideSourceHasOverride,
    /// A field overrides itself.
    OverrideFromSelfError,
    /// `@override` is used on an interface field.
    OverrideOnInterface,
    /// `@override` clashes with `@external`, `@requires` or `@provides`.
    OverrideCollisionWithAnotherDirective,
    /// An `@override(label:)` is malformed.
    OverrideLabelInvalid,
    /// `@interfaceObject` is used wrongly.
    InterfaceObjectUsageError,
    /// An interface with a resolvable `@key` lacks some implementations in a subgraph.
    InterfaceKeyMissingImplementationType,
    /// A type is only ever defined as an extension.
    ExtensionWithNoBase,
    /// No subgraph defines a query root field.
    NoQueries,
    /// A field of the supergraph cannot be reached or resolved.
    SatisfiabilityError,
    /// A `@composeDirective` cannot be honoured.
    DirectiveCompositionError,
    /// A bug in the composer (please report it).
    Internal,
}

impl ErrorCode {
    /// Apollo's spelling of the code, e.g. `INVALID_FIELD_SHARING`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidGraphql => "INVALID_GRAPHQL",
            ErrorCode::InvalidSubgraphName => "INVALID_SUBGRAPH_NAME",
            ErrorCode::InvalidLinkDirectiveUsage => "INVALID_LINK_DIRECTIVE_USAGE",
            ErrorCode::UnknownFederationLinkVersion => "UNKNOWN_FEDERATION_LINK_VERSION",
            ErrorCode::TypeKindMismatch => "TYPE_KIND_MISMATCH",
            ErrorCode::FieldTypeMismatch => "FIELD_TYPE_MISMATCH",
            ErrorCode::FieldArgumentTypeMismatch => "FIELD_ARGUMENT_TYPE_MISMATCH",
            ErrorCode::ExternalTypeMismatch => "EXTERNAL_TYPE_MISMATCH",
            ErrorCode::ExternalArgumentMissing => "EXTERNAL_ARGUMENT_MISSING",
            ErrorCode::ExternalMissingOnBase => "EXTERNAL_MISSING_ON_BASE",
            ErrorCode::ExternalUnused => "EXTERNAL_UNUSED",
            ErrorCode::TypeWithOnlyUnusedExternal => "TYPE_WITH_ONLY_UNUSED_EXTERNAL",
            ErrorCode::UnsupportedFeature => "UNSUPPORTED_FEATURE",
            ErrorCode::InvalidFieldSharing => "INVALID_FIELD_SHARING",
            ErrorCode::EnumValueMismatch => "ENUM_VALUE_MISMATCH",
            ErrorCode::EmptyMergedEnumType => "EMPTY_MERGED_ENUM_TYPE",
            ErrorCode::EmptyMergedInputType => "EMPTY_MERGED_INPUT_TYPE",
            ErrorCode::RequiredArgumentMissingInSomeSubgraph => "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
            ErrorCode::RequiredInputFieldMissingInSomeSubgraph => {
                "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH"
            }
            ErrorCode::ArgumentDefaultMismatch => "ARGUMENT_DEFAULT_MISMATCH",
            ErrorCode::InputFieldDefaultMismatch => "INPUT_FIELD_DEFAULT_MISMATCH",
            ErrorCode::KeyInvalidFields => "KEY_INVALID_FIELDS",
            ErrorCode::KeyFieldsSelectInvalidType => "KEY_FIELDS_SELECT_INVALID_TYPE",
            ErrorCode::KeyFieldsHasArgs => "KEY_FIELDS_HAS_ARGS",
            ErrorCode::RequiresInvalidFields => "REQUIRES_INVALID_FIELDS",
            ErrorCode::RequiresFieldsMissingExternal => "REQUIRES_FIELDS_MISSING_EXTERNAL",
            ErrorCode::ProvidesInvalidFields => "PROVIDES_INVALID_FIELDS",
            ErrorCode::ProvidesFieldsMissingExternal => "PROVIDES_FIELDS_MISSING_EXTERNAL",
            ErrorCode::ProvidesOnNonObjectField => "PROVIDES_ON_NON_OBJECT_FIELD",
            ErrorCode::OverrideSourceHasOverride => "OVERRIDE_SOURCE_HAS_OVERRIDE",
            ErrorCode::OverrideFromSelfError => "OVERRIDE_FROM_SELF_ERROR",
            ErrorCode::OverrideOnInterface => "OVERRIDE_ON_INTERFACE",
            ErrorCode::OverrideCollisionWithAnotherDirective => "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
            ErrorCode::OverrideLabelInvalid => "OVERRIDE_LABEL_INVALID",
            ErrorCode::InterfaceObjectUsageError => "INTERFACE_OBJECT_USAGE_ERROR",
            ErrorCode::InterfaceKeyMissingImplementationType => "INTERFACE_KEY_MISSING_IMPLEMENTATION_TYPE",
            ErrorCode::ExtensionWithNoBase => "EXTENSION_WITH_NO_BASE",
            ErrorCode::NoQueries => "NO_QUERIES",
            ErrorCode::SatisfiabilityError => "SATISFIABILITY_ERROR",
            ErrorCode::DirectiveCompositionError => "DIRECTIVE_COMPOSITION_ERROR",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One composition error: a code and a message naming the subgraph(s), type and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionError {
    /// Apollo's error code.
    pub code: ErrorCode,
    /// Human-readable explanation; names the subgraph(s) and the schema coordinate.
    pub message: String,
}

impl CompositionError {
    /// A new error with the given code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CompositionError {
            code,
            message: message.into(),
        }
    }

    /// A new error about one subgraph; the message is prefixed with `[subgraph]` like Apollo's.
    pub fn in_subgraph(code: ErrorCode, subgraph: &str, message: impl fmt::Display) -> Self {
        CompositionError {
            code,
            message: format!("[{subgraph}] {message}"),
        }
    }
}

impl fmt::Display for CompositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// A composition hint: something suspicious that does not prevent composition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionHint {
    /// Apollo's hint code, e.g. `INCONSISTENT_INPUT_OBJECT_FIELD`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for CompositionHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// All errors of a failed composition, with the hints gathered before failing.
#[derive(Debug, Clone)]
pub struct CompositionFailure {
    /// The errors; never empty.
    pub errors: Vec<CompositionError>,
    /// Hints gathered along the way.
    pub hints: Vec<CompositionHint>,
}

impl fmt::Display for CompositionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "composition failed with {} error(s):", self.errors.len())?;
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// Anything that can go wrong when composing from a `supergraph.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The configuration file cannot be read.
    #[error("cannot read supergraph config {path}: {cause}")]
    ReadConfig {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The configuration is not valid YAML or not in rover's `supergraph.yaml` shape.
    #[error("invalid supergraph config {path}: {message}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with the line number when known.
        message: String,
    },
    /// The configuration uses `${env.NAME}` for an unset variable and gives no default.
    #[error(
        "supergraph config {path}, line {line}: environment variable `{name}` is not set (use `${{env.{name}:-default}}` to give a default)"
    )]
    UnsetEnvVariable {
        /// The config file.
        path: PathBuf,
        /// The variable name.
        name: String,
        /// 1-based line of the reference.
        line: usize,
    },
    /// A subgraph's `schema.file` cannot be read.
    #[error("subgraph \"{subgraph}\": cannot read schema file {path}: {cause}")]
    ReadSchemaFile {
        /// The subgraph name.
        subgraph: String,
        /// The schema file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A subgraph's `schema.subgraph_url` did not answer `_service { sdl }`.
    #[error("subgraph \"{subgraph}\": cannot fetch its schema from {url}: {message}")]
    FetchSchema {
        /// The subgraph name.
        subgraph: String,
        /// The URL queried.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A subgraph's configuration cannot be used (e.g. a GraphOS `graphref` source).
    #[error("subgraph \"{subgraph}\": {message}")]
    UnsupportedSubgraphConfig {
        /// The subgraph name.
        subgraph: String,
        /// What is not supported.
        message: String,
    },
    /// Composition itself failed.
    #[error("{0}")]
    Composition(CompositionFailure),
}
