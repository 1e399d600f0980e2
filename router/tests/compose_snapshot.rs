//! The exact printed supergraph of a small case covering the main join directives.

use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::compose::compose;

const PRODUCTS: &str = r#"
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@inaccessible"])

"The catalog root."
type Query {
  products(filter: ProductFilter): [Product!]!
  search: [SearchResult]
}

"A product for sale."
type Product @key(fields: "upc") {
  upc: String!
  name: String @shareable
  price: Int
  weight: Int
  internalCode: String @inaccessible
}

union SearchResult = Product | Category

type Category {
  name: String
}

input ProductFilter {
  first: Int = 10
  category: String
}

enum Currency {
  EUR
  USD
}
"#;

const INVENTORY: &str = r#"
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@requires", "@override", "@shareable"])

type Product @key(fields: "upc") {
  upc: String!
  price: Int @external
  weight: Int @external
  name: String @override(from: "products") @shareable
  shippingEstimate(currency: Currency): Int @requires(fields: "price weight")
}

enum Currency {
  EUR
  USD
  GBP
}

input ProductFilter {
  first: Int = 10
}
"#;

const REVIEWS: &str = r#"
type Review @key(fields: "id") {
  id: ID!
  body: String
  product: Product @provides(fields: "name")
}

extend type Product @key(fields: "upc") {
  upc: String! @external
  name: String @external
  reviews: [Review]
}
"#;

#[test]
fn small_supergraph_prints_exactly() {
    let subgraphs: Vec<SubgraphInput> = [
        ("inventory", INVENTORY),
        ("products", PRODUCTS),
        ("reviews", REVIEWS),
    ]
    .into_iter()
    .map(|(name, sdl)| SubgraphInput {
        name: name.to_string(),
        url: format!("http://{name}:4000/graphql"),
        sdl: sdl.to_string(),
    })
    .collect();
    let supergraph = compose(&subgraphs).unwrap_or_else(|failure| panic!("{failure}"));
    insta::assert_snapshot!(supergraph.sdl);
    let hints: Vec<String> = supergraph.hints.iter().map(|h| h.to_string()).collect();
    insta::assert_snapshot!("small_supergraph_hints", hints.join("\n"));
}
