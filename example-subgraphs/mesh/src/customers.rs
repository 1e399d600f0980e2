//! The customers data product: customers in a SQL database.

use chrono::{DateTime, Utc};
use dictamesh::{
    AdapterError, DataProductAdapter, EntityKey, EntityQuery, HealthStatus, ID, Subgraph, SubgraphBuilder,
    WritableAdapter, async_trait,
};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::database::{Database, DatabaseError, list_rows, source_error};
use dictamesh::events::{ChangeType, SourceChange};
use dictamesh::outbox::Outbox;

/// A customer.
#[dictamesh::entity(
    key = "id",
    domain = "customers",
    source = "customers-db",
    lookup = "customer",
    list = "customers"
)]
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: ID,
    /// The customer's e-mail address.
    #[dictamesh(pii)]
    pub email: String,
    /// The customer's full name.
    #[dictamesh(pii)]
    pub name: String,
    /// When the customer was registered.
    pub created_at: DateTime<Utc>,
}

/// What `createCustomer` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct NewCustomer {
    pub name: String,
    pub email: String,
}

/// What `updateCustomer` takes; absent fields stay as they are.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub email: Option<String>,
}

const SOURCE: &str = "customers-db";
const TABLES: &[&str] = &["CREATE TABLE IF NOT EXISTS customers (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )"];
const COLUMNS: &str = "id, email, name, created_at";

/// Customers stored in SQL; every write records its change event in the
/// database's outbox in the same transaction.
pub struct SqlCustomers {
    db: Database,
    outbox: Outbox,
}

impl SqlCustomers {
    /// An adapter over `db`, creating its tables when missing.
    pub async fn new(db: Database) -> Result<Self, DatabaseError> {
        db.ensure_tables(TABLES).await?;
        let outbox = db.outbox().await?;
        Ok(SqlCustomers { db, outbox })
    }

    /// Runs a write statement and records its change, atomically.
    async fn write<'q>(
        &self,
        statement: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        change: SourceChange,
    ) -> Result<u64, AdapterError> {
        let mut transaction = self
            .db
            .pool()
            .begin()
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        let affected = statement
            .execute(&mut *transaction)
            .await
            .map_err(|e| source_error(SOURCE, e))?
            .rows_affected();
        if affected > 0 {
            self.outbox
                .record(&mut *transaction, "Customer", &change)
                .await
                .map_err(|e| source_error(SOURCE, e))?;
        }
        transaction.commit().await.map_err(|e| source_error(SOURCE, e))?;
        Ok(affected)
    }

    async fn by_id(&self, id: &str) -> Result<Option<Customer>, AdapterError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        row.map(|r| customer(&r)).transpose()
    }
}

fn customer(row: &AnyRow) -> Result<Customer, AdapterError> {
    let text = |column: &str| {
        row.try_get::<String, _>(column)
            .map_err(|e| AdapterError::InvalidResponse(format!("customers.{column}: {e}")))
    };
    let created_at = DateTime::parse_from_rfc3339(&text("created_at")?)
        .map_err(|e| AdapterError::InvalidResponse(format!("customers.created_at: {e}")))?
        .with_timezone(&Utc);
    Ok(Customer {
        id: ID(text("id")?),
        email: text("email")?,
        name: text("name")?,
        created_at,
    })
}

#[async_trait]
impl DataProductAdapter for SqlCustomers {
    type Entity = Customer;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Customer>>, AdapterError> {
        let ids: Vec<String> = keys.iter().map(|k| k.id().unwrap_or_default()).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM customers WHERE id IN ({})",
            Database::placeholders(1, ids.len())
        );
        let mut query = sqlx::query(&sql);
        for id in &ids {
            query = query.bind(id.clone());
        }
        let rows = query
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        let found = rows.iter().map(customer).collect::<Result<Vec<_>, _>>()?;
        Ok(ids
            .iter()
            .map(|id| found.iter().find(|c| c.id.as_str() == id).cloned())
            .collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<Customer>, AdapterError> {
        let filterable = [("id", "id"), ("email", "email"), ("name", "name")];
        let rows = list_rows(
            &self.db,
            SOURCE,
            "customers",
            COLUMNS,
            &filterable,
            "created_at, id",
            query,
        )
        .await?;
        rows.iter().map(customer).collect()
    }

    async fn health(&self) -> HealthStatus {
        self.db.health().await
    }
}

fn invalid_email(email: &str) -> Option<AdapterError> {
    let valid = email
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    (!valid).then(|| AdapterError::InvalidInput(format!("`{email}` is not an e-mail address")))
}

#[async_trait]
impl WritableAdapter for SqlCustomers {
    type Draft = NewCustomer;
    type Patch = CustomerPatch;

    async fn create(&self, draft: NewCustomer) -> Result<Customer, AdapterError> {
        if let Some(error) = invalid_email(&draft.email) {
            return Err(error);
        }
        let customer = Customer {
            id: ID(uuid::Uuid::new_v4().to_string()),
            email: draft.email,
            name: draft.name,
            created_at: Utc::now(),
        };
        let mut change = SourceChange::new(ChangeType::Created, "id", customer.id.as_str());
        change.changed_fields = ["id", "email", "name", "createdAt"].map(String::from).to_vec();
        self.write(
            sqlx::query("INSERT INTO customers (id, email, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(customer.id.to_string())
                .bind(customer.email.clone())
                .bind(customer.name.clone())
                .bind(customer.created_at.to_rfc3339()),
            change,
        )
        .await?;
        Ok(customer)
    }

    async fn update(&self, key: &EntityKey, patch: CustomerPatch) -> Result<Customer, AdapterError> {
        let id = key.id().unwrap_or_default();
        let mut customer = self.by_id(&id).await?.ok_or_else(|| AdapterError::NotFound {
            entity_type: "Customer".into(),
            key: key.to_string(),
        })?;
        let mut change = SourceChange::new(ChangeType::Updated, "id", id.as_str());
        if let Some(email) = patch.email {
            if let Some(error) = invalid_email(&email) {
                return Err(error);
            }
            customer.email = email;
            change.changed_fields.push("email".into());
        }
        if let Some(name) = patch.name {
            customer.name = name;
            change.changed_fields.push("name".into());
        }
        self.write(
            sqlx::query("UPDATE customers SET email = $1, name = $2 WHERE id = $3")
                .bind(customer.email.clone())
                .bind(customer.name.clone())
                .bind(id.clone()),
            change,
        )
        .await?;
        Ok(customer)
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        let id = key.id().unwrap_or_default();
        let change = SourceChange::new(ChangeType::Deleted, "id", id.as_str());
        let deleted = self
            .write(
                sqlx::query("DELETE FROM customers WHERE id = $1").bind(id),
                change,
            )
            .await?;
        if deleted == 0 {
            return Err(AdapterError::NotFound {
                entity_type: "Customer".into(),
                key: key.to_string(),
            });
        }
        Ok(())
    }

    fn outbox(&self) -> Option<&Outbox> {
        Some(&self.outbox)
    }
}

/// The customers subgraph, ready for options (Redis, publisher) and `build()`.
pub fn subgraph(adapter: SqlCustomers) -> SubgraphBuilder {
    Subgraph::builder("customers").writable(adapter)
}
