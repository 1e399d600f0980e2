//! Databases for the tests and the relay benchmark: a fresh SQLite file, and a fresh
//! PostgreSQL database on the machine's server (`TEST_POSTGRES_URL`, default
//! postgres://postgres@127.0.0.1:5432/test). The tests drop nothing (names are
//! unique); the benchmark drops what it created.

use dictamesh_example_mesh::Database;

/// The PostgreSQL server's URL (`TEST_POSTGRES_URL`), whose database can create others.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A new SQLite database in a file under `dir`.
pub async fn sqlite_in(dir: &std::path::Path) -> Database {
    let path = dir.join(format!("dictamesh-test-{}.db", uuid::Uuid::new_v4()));
    Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("a temporary SQLite database")
}

/// A new SQLite database in a temporary file.
pub async fn sqlite() -> Database {
    sqlite_in(&std::env::temp_dir()).await
}

/// A new, empty PostgreSQL database on the server at `admin`, and its name.
pub async fn postgres_named(admin: &str) -> (Database, String) {
    use sqlx::Connection;
    let name = format!("dictamesh_test_{}", uuid::Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(admin)
        .await
        .expect("the machine's PostgreSQL (TEST_POSTGRES_URL) answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .expect("CREATE DATABASE");
    let base = admin.rsplit_once('/').map(|(base, _)| base).unwrap_or(admin);
    let db = Database::connect(&format!("{base}/{name}"))
        .await
        .expect("the new database");
    (db, name)
}

/// A new, empty PostgreSQL database.
pub async fn postgres() -> Database {
    postgres_named(&postgres_admin_url()).await.0
}
