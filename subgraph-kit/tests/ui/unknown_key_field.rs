#[dictamesh::entity(key = "id", key = "sku package")]
pub struct Product {
    pub id: dictamesh::ID,
    pub sku: String,
}

fn main() {}
