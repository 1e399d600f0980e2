//! One small case per composition error code: the code is reported and its message names
//! the subgraph(s), the type and the field involved.

use dictamesh_router::compose::ErrorCode;
use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::compose::compose;

const FED: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@override", "@interfaceObject", "@inaccessible"])"#;

struct Case {
    code: ErrorCode,
    subgraphs: &'static [(&'static str, &'static str)],
    /// Substrings the message must contain (subgraph, type, field, ...).
    mentions: &'static [&'static str],
}

fn inputs(subgraphs: &[(&str, &str)]) -> Vec<SubgraphInput> {
    subgraphs
        .iter()
        .map(|(name, sdl)| SubgraphInput {
            name: name.to_string(),
            url: format!("http://{name}.example/graphql"),
            sdl: if sdl.contains("@link") || sdl.starts_with('#') {
                sdl.to_string()
            } else {
                format!("{FED}\n{sdl}")
            },
        })
        .collect()
}

fn check(case: &Case) {
    let failure = match compose(&inputs(case.subgraphs)) {
        Ok(supergraph) => panic!(
            "{}: composition unexpectedly succeeded:\n{}",
            case.code, supergraph.sdl
        ),
        Err(failure) => failure,
    };
    let Some(error) = failure.errors.iter().find(|e| e.code == case.code) else {
        panic!("{}: not reported; got {failure}", case.code);
    };
    for mention in case.mentions {
        assert!(
            error.message.contains(mention),
            "{}: message does not mention {mention:?}: {}",
            case.code,
            error.message
        );
    }
}

macro_rules! error_case {
    ($test:ident, $code:ident, [$($subgraph:expr),* $(,)?], [$($mention:expr),* $(,)?]) => {
        #[test]
        fn $test() {
            check(&Case {
                code: ErrorCode::$code,
                subgraphs: &[$($subgraph),*],
                mentions: &[$($mention),*],
            });
        }
    };
}

error_case!(
    invalid_graphql,
    InvalidGraphql,
    [("a", "type Query { a: Int\n  b: Strin }")],
    ["[a]", "line 3, column 6", "Strin"]
);

error_case!(
    type_kind_mismatch,
    TypeKindMismatch,
    [
        ("a", "type Query { t: T } type T @shareable { x: Int }"),
        ("b", "interface T { x: Int }"),
    ],
    [
        "\"T\"",
        "Object Type in subgraph \"a\"",
        "Interface Type in subgraph \"b\""
    ]
);

error_case!(
    field_type_mismatch,
    FieldTypeMismatch,
    [
        ("a", "type Query { t: T } type T @shareable { x: Int }"),
        ("b", "type T @shareable { x: String }"),
    ],
    [
        "\"T.x\"",
        "type \"Int\" in subgraph \"a\"",
        "type \"String\" in subgraph \"b\""
    ]
);

error_case!(
    field_argument_type_mismatch,
    FieldArgumentTypeMismatch,
    [
        ("a", "type Query { f(arg: Int): Int @shareable }"),
        ("b", "type Query { f(arg: String): Int @shareable }"),
    ],
    ["Query.f(arg:)", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    external_type_mismatch,
    ExternalTypeMismatch,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! name: Int @external big: Boolean @requires(fields: \"name\") }"
        ),
    ],
    ["\"User.name\"", "subgraph \"b\"", "Int"]
);

error_case!(
    external_argument_missing,
    ExternalArgumentMissing,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! price(currency: String): Int }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! price: Int @external cheap: Boolean @requires(fields: \"price\") }"
        ),
    ],
    ["\"User.price\"", "currency", "subgraph \"b\""]
);

error_case!(
    external_missing_on_base,
    ExternalMissingOnBase,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! name: String @external big: Boolean @requires(fields: \"name\") }"
        ),
    ],
    ["\"User.name\"", "subgraph \"b\""]
);

error_case!(
    external_unused,
    ExternalUnused,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! name: String @external }"
        ),
    ],
    ["[b]", "\"User.name\""]
);

error_case!(
    invalid_field_sharing,
    InvalidFieldSharing,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String }"
        ),
        ("b", "type User @key(fields: \"id\") { id: ID! name: String }"),
    ],
    ["\"User.name\"", "subgraphs \"a\" and \"b\""]
);

error_case!(
    enum_value_mismatch,
    EnumValueMismatch,
    [
        (
            "a",
            "type Query { byColor(c: Color): Color } enum Color { RED GREEN }"
        ),
        ("b", "type Query { other(c: Color): Int } enum Color { RED BLUE }"),
    ],
    [
        "\"Color\"",
        "\"GREEN\"",
        "subgraph \"a\"",
        "subgraph \"b\"",
        "Query.byColor"
    ]
);

error_case!(
    empty_merged_enum_type,
    EmptyMergedEnumType,
    [
        ("a", "type Query { f(c: Color): Int } enum Color { RED }"),
        ("b", "type Query { g(c: Color): Int } enum Color { BLUE }"),
    ],
    ["\"Color\"", "subgraphs \"a\" and \"b\""]
);

error_case!(
    empty_merged_input_type,
    EmptyMergedInputType,
    [
        (
            "a",
            "type Query { f(i: Filter): Int } input Filter { first: Int }"
        ),
        (
            "b",
            "type Query { g(i: Filter): Int } input Filter { offset: Int }"
        ),
    ],
    ["\"Filter\"", "subgraphs \"a\" and \"b\""]
);

error_case!(
    required_argument_missing,
    RequiredArgumentMissingInSomeSubgraph,
    [
        ("a", "type Query { f(x: Int!): Int @shareable }"),
        ("b", "type Query { f: Int @shareable }"),
    ],
    ["Query.f(x:)", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    required_input_field_missing,
    RequiredInputFieldMissingInSomeSubgraph,
    [
        (
            "a",
            "type Query { f(i: Filter): Int } input Filter { first: Int! offset: Int }"
        ),
        (
            "b",
            "type Query { g(i: Filter): Int } input Filter { offset: Int }"
        ),
    ],
    ["Filter.first", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    argument_default_mismatch,
    ArgumentDefaultMismatch,
    [
        ("a", "type Query { f(x: Int = 1): Int @shareable }"),
        ("b", "type Query { f(x: Int = 2): Int @shareable }"),
    ],
    ["Query.f(x:)", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    input_field_default_mismatch,
    InputFieldDefaultMismatch,
    [
        (
            "a",
            "type Query { f(i: Filter): Int } input Filter { first: Int = 10 }"
        ),
        (
            "b",
            "type Query { g(i: Filter): Int } input Filter { first: Int = 20 }"
        ),
    ],
    ["Filter.first", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    key_invalid_fields,
    KeyInvalidFields,
    [(
        "a",
        "type Query { u: User } type User @key(fields: \"uuid\") { id: ID! }"
    )],
    ["[a]", "\"User\"", "uuid"]
);

error_case!(
    key_fields_select_invalid_type,
    KeyFieldsSelectInvalidType,
    [(
        "a",
        "type Query { u: User } type User @key(fields: \"node { id }\") { id: ID! node: Node } interface Node { id: ID! }"
    )],
    ["[a]", "\"User\"", "User.node"]
);

error_case!(
    key_fields_has_args,
    KeyFieldsHasArgs,
    [(
        "a",
        "type Query { u: User } type User @key(fields: \"id\") { id(x: Int): ID! }"
    )],
    ["[a]", "\"User\"", "User.id"]
);

error_case!(
    requires_invalid_fields,
    RequiresInvalidFields,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! big: Boolean @requires(fields: \"weight\") }"
        ),
    ],
    ["[b]", "\"User.big\"", "weight"]
);

error_case!(
    requires_fields_missing_external,
    RequiresFieldsMissingExternal,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! weight: Int big: Boolean @requires(fields: \"weight\") }"
        ),
    ],
    ["[b]", "\"User.big\"", "User.weight"]
);

error_case!(
    provides_invalid_fields,
    ProvidesInvalidFields,
    [(
        "a",
        "type Query { u: User @provides(fields: \"nope\") } type User @key(fields: \"id\") { id: ID! }"
    ),],
    ["[a]", "\"Query.u\"", "nope"]
);

error_case!(
    provides_fields_missing_external,
    ProvidesFieldsMissingExternal,
    [(
        "a",
        "type Query { u: User @provides(fields: \"name\") } type User @key(fields: \"id\") { id: ID! name: String }"
    )],
    ["[a]", "\"Query.u\"", "User.name"]
);

error_case!(
    provides_on_non_object_field,
    ProvidesOnNonObjectField,
    [("a", "type Query { n: Int @provides(fields: \"x\") }")],
    ["[a]", "\"Query.n\""]
);

error_case!(
    override_source_has_override,
    OverrideSourceHasOverride,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String @override(from: \"b\") }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! name: String @override(from: \"a\") }"
        ),
    ],
    ["\"User.name\"", "subgraph \"a\"", "subgraph \"b\""]
);

error_case!(
    override_from_self,
    OverrideFromSelfError,
    [(
        "a",
        "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String @override(from: \"a\") }"
    )],
    ["\"a\"", "\"User.name\""]
);

error_case!(
    override_on_interface,
    OverrideOnInterface,
    [
        (
            "a",
            "type Query { n: Node } interface Node { id: ID! @override(from: \"b\") } type T implements Node @key(fields: \"id\") { id: ID! }"
        ),
        ("b", "interface Node { id: ID! }"),
    ],
    ["\"Node.id\"", "subgraph \"a\""]
);

error_case!(
    override_collision_with_another_directive,
    OverrideCollisionWithAnotherDirective,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! name: String @override(from: \"b\") }"
        ),
        (
            "b",
            "type User @key(fields: \"id\") { id: ID! w: Int @external name: String @requires(fields: \"w\") }"
        ),
    ],
    ["\"User.name\"", "subgraph \"a\"", "\"b\"", "@requires"]
);

error_case!(
    override_label_invalid,
    OverrideLabelInvalid,
    [
        (
            "a",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.7\", import: [\"@key\", \"@override\"])\ntype Query { u: User } type User @key(fields: \"id\") { id: ID! name: String @override(from: \"b\", label: \"9 lives\") }"
        ),
        (
            "b",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.7\", import: [\"@key\"])\ntype User @key(fields: \"id\") { id: ID! name: String }"
        ),
    ],
    ["\"9 lives\"", "\"User.name\"", "subgraph \"a\""]
);

error_case!(
    interface_object_usage_error,
    InterfaceObjectUsageError,
    [(
        "a",
        "type Query { m: Media } type Media @key(fields: \"id\") @interfaceObject { id: ID! title: String }"
    ),],
    ["\"Media\"", "subgraph \"a\""]
);

error_case!(
    interface_key_missing_implementation_type,
    InterfaceKeyMissingImplementationType,
    [
        (
            "a",
            "type Query { m: Media } interface Media @key(fields: \"id\") { id: ID! } type Book implements Media @key(fields: \"id\") { id: ID! }"
        ),
        (
            "b",
            "interface Media { id: ID! } type Movie implements Media @key(fields: \"id\") { id: ID! }"
        ),
    ],
    ["[a]", "\"Media\"", "\"Movie\""]
);

error_case!(
    extension_with_no_base,
    ExtensionWithNoBase,
    [(
        "a",
        "type Query { u: User } extend type User @key(fields: \"id\") { id: ID! }"
    )],
    ["[a]", "\"User\""]
);

error_case!(
    no_queries,
    NoQueries,
    [("a", "type User @key(fields: \"id\") { id: ID! }")],
    ["query root"]
);

error_case!(
    satisfiability_error,
    SatisfiabilityError,
    [
        (
            "a",
            "type Query { u: User } type User @key(fields: \"id\") { id: ID! }"
        ),
        (
            "b",
            "type User @key(fields: \"id\", resolvable: false) { id: ID! nickname: String }"
        ),
    ],
    ["{ u { nickname } }", "\"User.nickname\"", "\"b\"", "\"a\""]
);

error_case!(
    invalid_link_directive_usage,
    InvalidLinkDirectiveUsage,
    [(
        "a",
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@key\", \"@frobnicate\"])\ntype Query { a: Int }"
    )],
    ["[a]", "@frobnicate"]
);

error_case!(
    unknown_federation_link_version,
    UnknownFederationLinkVersion,
    [(
        "a",
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.99\", import: [\"@key\"])\ntype Query { a: Int }"
    )],
    ["[a]", "v2.99"]
);

error_case!(
    directive_composition_error,
    DirectiveCompositionError,
    [(
        "a",
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@composeDirective\"]) @composeDirective(name: \"@cached\")\ndirective @cached on FIELD_DEFINITION\ntype Query { a: Int @cached }"
    )],
    ["[a]", "@cached"]
);

error_case!(
    invalid_subgraph_name,
    InvalidSubgraphName,
    [("a", "type Query { a: Int }"), ("a", "type Query { b: Int }")],
    ["\"a\""]
);

#[test]
fn renamed_imports_and_prefixes_are_understood() {
    let inputs = inputs(&[
        (
            "a",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [{ name: \"@key\", as: \"@primaryKey\" }])\ntype Query { u: User } type User @primaryKey(fields: \"id\") { id: ID! name: String @federation__shareable }",
        ),
        (
            "b",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", as: \"fed\")\ntype User @fed__key(fields: \"id\") { id: ID! name: String @fed__shareable }",
        ),
    ]);
    let supergraph = compose(&inputs).unwrap_or_else(|f| panic!("{f}"));
    assert!(
        supergraph
            .sdl
            .contains("@join__type(graph: A, key: \"id\")\n  @join__type(graph: B, key: \"id\")"),
        "{}",
        supergraph.sdl
    );
}

#[test]
fn access_control_directives_are_merged_with_and_semantics() {
    let inputs = inputs(&[
        (
            "a",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.6\", import: [\"@key\", \"@shareable\", \"@requiresScopes\", \"@authenticated\", \"@policy\", \"@tag\"])\ntype Query { u: User @authenticated @tag(name: \"public\") } type User @key(fields: \"id\") { id: ID! email: String @shareable @requiresScopes(scopes: [[\"read:email\"]]) }",
        ),
        (
            "b",
            "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.6\", import: [\"@key\", \"@shareable\", \"@requiresScopes\", \"@policy\"])\ntype User @key(fields: \"id\") { id: ID! email: String @shareable @requiresScopes(scopes: [[\"read:user\"], [\"admin\"]]) @policy(policies: [[\"p1\"]]) }",
        ),
    ]);
    let supergraph = compose(&inputs).unwrap_or_else(|f| panic!("{f}"));
    let sdl = &supergraph.sdl;
    assert!(
        sdl.contains(r#"@requiresScopes(scopes: [["read:email", "read:user"], ["admin", "read:email"]])"#),
        "{sdl}"
    );
    assert!(sdl.contains(r#"@policy(policies: [["p1"]])"#), "{sdl}");
    assert!(
        sdl.contains("u: User @authenticated @tag(name: \"public\")"),
        "{sdl}"
    );
    assert!(
        sdl.contains("https://specs.apollo.dev/requiresScopes/v0.1"),
        "{sdl}"
    );
    assert!(sdl.contains("scalar requiresScopes__Scope"), "{sdl}");
}

#[test]
fn composed_custom_directive_is_kept() {
    let inputs = inputs(&[(
        "a",
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@composeDirective\"]) @link(url: \"https://example.com/cache/v1.0\", import: [\"@cached\"]) @composeDirective(name: \"@cached\")\ndirective @cached(ttl: Int) on FIELD_DEFINITION\ntype Query { a: Int @cached(ttl: 5) }",
    )]);
    let supergraph = compose(&inputs).unwrap_or_else(|f| panic!("{f}"));
    let sdl = &supergraph.sdl;
    assert!(
        sdl.contains("@link(url: \"https://example.com/cache/v1.0\", import: [\"@cached\"])"),
        "{sdl}"
    );
    assert!(
        sdl.contains("directive @cached(ttl: Int) on FIELD_DEFINITION"),
        "{sdl}"
    );
    assert!(sdl.contains("a: Int @cached(ttl: 5)"), "{sdl}");
}

error_case!(
    type_with_only_unused_external,
    TypeWithOnlyUnusedExternal,
    [(
        "a",
        "# Federation 1\ntype Query { f: Foo }\ntype Foo { x: Int @external }"
    )],
    ["[a]", "\"Foo\""]
);

error_case!(
    unsupported_renamed_root,
    UnsupportedFeature,
    [("a", "schema { query: RootQuery }\ntype RootQuery { a: Int }")],
    ["[a]", "RootQuery"]
);

#[test]
fn federation_boilerplate_in_the_sdl_is_ignored() {
    let fed1 = "# Federation 1, as older libraries print it\nscalar _Any\nscalar _FieldSet\nunion _Entity = User\ntype _Service { sdl: String }\ndirective @key(fields: _FieldSet!) repeatable on OBJECT | INTERFACE\ndirective @external on FIELD_DEFINITION\ntype Query { me: User _service: _Service! _entities(representations: [_Any!]!): [_Entity]! }\ntype User @key(fields: \"id\") { id: ID! name: String }";
    let fed2 = "type User @key(fields: \"id\") { id: ID! reviews: [String] }";
    let supergraph = compose(&inputs(&[("a", fed1), ("b", fed2)])).unwrap_or_else(|f| panic!("{f}"));
    let sdl = &supergraph.sdl;
    assert!(
        !sdl.contains("_entities") && !sdl.contains("_Service") && !sdl.contains("_Any"),
        "{sdl}"
    );
    assert!(sdl.contains("me: User @join__field(graph: A)"), "{sdl}");
}
