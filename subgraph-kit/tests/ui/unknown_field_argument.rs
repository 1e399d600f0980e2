#[dictamesh::entity(key = "id")]
pub struct User {
    pub id: dictamesh::ID,
    #[dictamesh(pi)]
    pub name: String,
}

fn main() {}
