#[dictamesh::entity(key = "id variation {")]
pub struct Product {
    pub id: dictamesh::ID,
}

fn main() {}
