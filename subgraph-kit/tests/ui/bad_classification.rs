#[dictamesh::entity(key = "id", classification = "secret")]
pub struct User {
    pub id: dictamesh::ID,
}

fn main() {}
