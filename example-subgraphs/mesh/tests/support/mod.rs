//! Databases for the tests: a fresh SQLite file, and a fresh PostgreSQL
//! database on the machine's server (`TEST_POSTGRES_URL`, default
//! postgres://postgres@127.0.0.1:5432/test), dropped by nobody: names are unique.

use dictamesh_example_mesh::Database;

/// A new SQLite database in a temporary file.
pub async fn sqlite() -> Database {
    let path = std::env::temp_dir().join(format!("dictamesh-test-{}.db", uuid::Uuid::new_v4()));
    Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a temporary SQLite database")
}

/// A new, empty PostgreSQL database.
pub async fn postgres() -> Database {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("dictamesh_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin)
        .await
        .expect("the machine's PostgreSQL (TEST_POSTGRES_URL) answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("CREATE DATABASE");
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin);
    Database::connect(&format!("{base}/{name}"))
        .await
        .expect("the new database")
}
