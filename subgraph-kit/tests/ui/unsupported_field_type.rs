use std::collections::HashMap;

#[dictamesh::entity(key = "id")]
pub struct Product {
    pub id: dictamesh::ID,
    pub attributes: HashMap<String, String>,
}

fn main() {}
