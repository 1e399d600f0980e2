//! The `products` subgraph of Apollo's subgraph compatibility suite
//! (`apollographql/apollo-federation-subgraph-compatibility`, its COMPATIBILITY.md
//! schema and data), built only with the DictaMesh kit. It exercises every
//! Federation feature the suite checks: single, multiple, composite and
//! repeatable `@key`s, `@requires`, `@provides`, `@external`, `@shareable`,
//! `@tag`, `@override`, `@inaccessible`, `@composeDirective`, `@interfaceObject`
//! and federated tracing.

use dictamesh::testing::MemoryAdapter;
use dictamesh::{AdapterError, BuildError, DataProductAdapter, EntityKey, ID, Subgraph, async_trait};

/// The spec of the suite's custom composed directive.
pub const CUSTOM_DIRECTIVE_SPEC: &str = "https://myspecs.dev/myCustomDirective/v1.0";

/// A product of the compatibility suite.
#[dictamesh::entity(
    key = "id",
    key = "sku package",
    key = "sku variation { id }",
    lookup = "product",
    directive = "@custom",
    domain = "products",
    source = "compat"
)]
#[derive(Clone, Debug)]
pub struct Product {
    pub id: ID,
    pub sku: Option<String>,
    pub package: Option<String>,
    pub variation: Option<ProductVariation>,
    pub dimensions: Option<ProductDimension>,
    #[dictamesh(provides = "totalProductsCreated")]
    pub created_by: Option<User>,
    #[dictamesh(tag = "internal")]
    pub notes: Option<String>,
    pub research: Vec<ProductResearch>,
}

/// A product that is no longer offered.
#[dictamesh::entity(
    key = "sku package",
    lookup = "deprecatedProduct",
    lookup_deprecated = "Use product query instead",
    domain = "products",
    source = "compat"
)]
#[derive(Clone, Debug)]
pub struct DeprecatedProduct {
    pub sku: String,
    pub package: String,
    pub reason: Option<String>,
    pub created_by: Option<User>,
}

/// A variation of a product.
#[dictamesh::object]
#[derive(Clone, Debug)]
pub struct ProductVariation {
    pub id: ID,
}

/// Research about a product, keyed by its case study.
#[dictamesh::entity(key = "study { caseNumber }", domain = "products", source = "compat")]
#[derive(Clone, Debug)]
pub struct ProductResearch {
    pub study: CaseStudy,
    pub outcome: Option<String>,
}

/// A case study.
#[dictamesh::object]
#[derive(Clone, Debug)]
pub struct CaseStudy {
    pub case_number: ID,
    pub description: Option<String>,
}

/// Dimensions, shared with the inventory subgraph.
#[dictamesh::object(shareable)]
#[derive(Clone, Debug)]
pub struct ProductDimension {
    pub size: Option<String>,
    pub weight: Option<f64>,
    #[dictamesh(inaccessible)]
    pub unit: Option<String>,
}

/// The users subgraph's user, extended here.
#[dictamesh::entity(key = "email", extends, domain = "products", source = "compat")]
#[derive(Clone, Debug)]
pub struct User {
    #[dictamesh(requires = "totalProductsCreated yearsOfEmployment")]
    pub average_products_created_per_year: Option<i32>,
    #[dictamesh(external)]
    pub email: ID,
    #[dictamesh(override_from = "users")]
    pub name: Option<String>,
    #[dictamesh(external)]
    pub total_products_created: Option<i32>,
    #[dictamesh(external)]
    pub years_of_employment: i32,
}

/// The inventory subgraph's `Inventory` interface, seen here as an object.
#[dictamesh::entity(key = "id", interface_object, domain = "products", source = "compat")]
#[derive(Clone, Debug)]
pub struct Inventory {
    pub id: ID,
    pub deprecated_products: Vec<DeprecatedProduct>,
}

const SUPPORT_EMAIL: &str = "support@apollographql.com";

fn average(total: Option<i32>, years: i32) -> Option<i32> {
    match total {
        Some(total) if years > 0 => Some((f64::from(total) / f64::from(years)).round() as i32),
        _ => None,
    }
}

fn user() -> User {
    User {
        average_products_created_per_year: average(Some(1337), 10),
        email: ID(SUPPORT_EMAIL.into()),
        name: Some("Jane Smith".into()),
        total_products_created: Some(1337),
        years_of_employment: 10,
    }
}

fn dimension() -> ProductDimension {
    ProductDimension {
        size: Some("small".into()),
        weight: Some(1.0),
        unit: Some("kg".into()),
    }
}

fn research() -> [ProductResearch; 2] {
    let study = |number: &str, description: &str| ProductResearch {
        study: CaseStudy {
            case_number: ID(number.into()),
            description: Some(description.into()),
        },
        outcome: None,
    };
    [study("1234", "Federation Study"), study("1235", "Studio Study")]
}

fn deprecated_product() -> DeprecatedProduct {
    DeprecatedProduct {
        sku: "apollo-federation-v1".into(),
        package: "@apollo/federation-v1".into(),
        reason: Some("Migrate to Federation V2".into()),
        created_by: Some(user()),
    }
}

/// The suite's two products.
pub fn products() -> Vec<Product> {
    let [federation_study, studio_study] = research();
    let product = |id: &str, sku: &str, package: &str, variation: &str, study: ProductResearch| Product {
        id: ID(id.into()),
        sku: Some(sku.into()),
        package: Some(package.into()),
        variation: Some(ProductVariation {
            id: ID(variation.into()),
        }),
        dimensions: Some(dimension()),
        created_by: Some(user()),
        notes: None,
        research: vec![study],
    };
    vec![
        product(
            "apollo-federation",
            "federation",
            "@apollo/federation",
            "OSS",
            federation_study,
        ),
        product("apollo-studio", "studio", "", "platform", studio_study),
    ]
}

/// Resolves users from the representation the router sends: the key, and the
/// `@requires` fields (`totalProductsCreated`, `yearsOfEmployment`) that the
/// average is computed from.
pub struct UserAdapter;

#[async_trait]
impl DataProductAdapter for UserAdapter {
    type Entity = User;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<User>>, AdapterError> {
        Ok(keys
            .iter()
            .map(|key| {
                if key.get_str("email") != Some(SUPPORT_EMAIL) {
                    return None;
                }
                let representation = key.representation();
                let known = user();
                let total = match representation.get("totalProductsCreated") {
                    Some(value) => value.as_i64().and_then(|n| i32::try_from(n).ok()),
                    None => known.total_products_created,
                };
                let years = representation
                    .get("yearsOfEmployment")
                    .and_then(|v| v.as_i64())
                    .and_then(|n| i32::try_from(n).ok())
                    .unwrap_or(known.years_of_employment);
                Some(User {
                    average_products_created_per_year: average(total, years),
                    total_products_created: total,
                    years_of_employment: years,
                    ..known
                })
            })
            .collect())
    }
}

/// The subgraph builder with every entity mounted, for callers that add
/// options (Redis, publisher) before building.
pub fn builder() -> dictamesh::SubgraphBuilder {
    Subgraph::builder("products")
        .compose_directive(CUSTOM_DIRECTIVE_SPEC, "directive @custom on OBJECT")
        .entity(MemoryAdapter::new(products()))
        .entity(MemoryAdapter::new([deprecated_product()]))
        .entity(MemoryAdapter::new(research()))
        .entity(UserAdapter)
        .entity(MemoryAdapter::new([Inventory {
            id: ID("apollo-oss".into()),
            deprecated_products: vec![deprecated_product()],
        }]))
}

/// The compatibility suite's `products` subgraph.
pub fn subgraph() -> Result<Subgraph, BuildError> {
    builder().build()
}
