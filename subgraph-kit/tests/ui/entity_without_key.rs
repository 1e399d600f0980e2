#[dictamesh::entity(domain = "users")]
pub struct User {
    pub id: dictamesh::ID,
}

fn main() {}
