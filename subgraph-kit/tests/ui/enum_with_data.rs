#[dictamesh::enumeration]
pub enum Status {
    Active,
    Suspended(String),
}

fn main() {}
