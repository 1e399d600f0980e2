#[dictamesh::entity(key = "id")]
pub struct User {
    pub id: dictamesh::ID,
    pub total: i32,
    #[dictamesh(requires = "total")]
    pub average: Option<i32>,
}

fn main() {}
