//! The invoices data product: invoices and their items in a SQL database. An
//! invoice references its customer and each item its product (resolved by the
//! router through federation); this subgraph adds `Customer.invoices`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use dictamesh::config::{CacheConfig, EntityOptions};
use dictamesh::{
    AdapterError, DataProductAdapter, EntityKey, EntityQuery, HealthStatus, ID, Reference, Subgraph,
    SubgraphBuilder, WritableAdapter, async_trait,
};
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::database::{Database, DatabaseError, list_rows, source_error};
use crate::money::Money;
use dictamesh::events::{ChangeType, RelationshipReference, SourceChange};
use dictamesh::outbox::Outbox;

/// Where an invoice is in its life.
#[dictamesh::enumeration]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvoiceStatus {
    /// Being prepared.
    Draft,
    /// Sent to the customer.
    Issued,
    /// Settled.
    Paid,
    /// Void.
    Cancelled,
}

impl InvoiceStatus {
    fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "DRAFT",
            InvoiceStatus::Issued => "ISSUED",
            InvoiceStatus::Paid => "PAID",
            InvoiceStatus::Cancelled => "CANCELLED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "DRAFT" => Some(InvoiceStatus::Draft),
            "ISSUED" => Some(InvoiceStatus::Issued),
            "PAID" => Some(InvoiceStatus::Paid),
            "CANCELLED" => Some(InvoiceStatus::Cancelled),
            _ => None,
        }
    }
}

/// An invoice.
#[dictamesh::entity(
    key = "id",
    domain = "invoices",
    source = "invoices-db",
    lookup = "invoice",
    list = "invoices"
)]
#[derive(Clone, Debug, PartialEq)]
pub struct Invoice {
    pub id: ID,
    /// The human-readable number, e.g. `INV-000042`.
    pub invoice_number: String,
    pub status: InvoiceStatus,
    /// The sum of the items' totals.
    pub total: Money,
    pub created_at: DateTime<Utc>,
    /// Who is billed; resolved by the customers subgraph.
    pub customer: Reference<Customer>,
    pub items: Vec<InvoiceItem>,
}

/// One line of an invoice.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceItem {
    /// What was sold; resolved by the products subgraph.
    pub product: Reference<Product>,
    pub quantity: i32,
    pub unit_price: Money,
    /// Quantity times unit price.
    pub total: Money,
}

/// The customers subgraph's customer, with the invoices this subgraph holds.
#[dictamesh::entity(key = "id", domain = "invoices", source = "invoices-db")]
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: ID,
    /// The customer's invoices, newest first.
    pub invoices: Vec<Invoice>,
}

/// The products subgraph's product, referenced by id.
#[dictamesh::entity(key(fields = "id", resolvable = false))]
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub id: ID,
}

/// One line of a new invoice.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct NewInvoiceItem {
    pub product_id: ID,
    pub quantity: i32,
    /// The unit price, exact (`"19.99"`).
    pub unit_price: Decimal,
}

/// What `createInvoice` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct NewInvoice {
    pub customer_id: ID,
    /// ISO 4217 currency code; `USD` when absent.
    pub currency: Option<String>,
    pub items: Vec<NewInvoiceItem>,
}

/// What `updateInvoice` takes.
#[dictamesh::input]
#[derive(Clone, Debug)]
pub struct InvoicePatch {
    pub status: Option<InvoiceStatus>,
}

const SOURCE: &str = "invoices-db";
const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS invoices (
        id TEXT PRIMARY KEY,
        invoice_number TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        currency TEXT NOT NULL,
        total TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS invoices_by_customer ON invoices (customer_id)",
    "CREATE TABLE IF NOT EXISTS invoice_items (
        invoice_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        product_id TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price TEXT NOT NULL,
        PRIMARY KEY (invoice_id, position)
    )",
];
const COLUMNS: &str = "id, invoice_number, status, customer_id, currency, total, created_at";

/// Invoices stored in SQL; every write records its change event in the
/// database's outbox in the same transaction.
#[derive(Clone)]
pub struct SqlInvoices {
    db: Database,
    outbox: Outbox,
}

fn bad_row(column: &str, error: impl std::fmt::Display) -> AdapterError {
    AdapterError::InvalidResponse(format!("invoices.{column}: {error}"))
}

fn text(row: &AnyRow, column: &str) -> Result<String, AdapterError> {
    row.try_get::<String, _>(column).map_err(|e| bad_row(column, e))
}

fn decimal(value: &str, column: &str) -> Result<Decimal, AdapterError> {
    value.parse().map_err(|e| bad_row(column, e))
}

impl SqlInvoices {
    /// An adapter over `db`, creating its tables when missing.
    pub async fn new(db: Database) -> Result<Self, DatabaseError> {
        db.ensure_tables(TABLES).await?;
        let outbox = db.outbox().await?;
        Ok(SqlInvoices { db, outbox })
    }

    async fn record(
        &self,
        transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
        change: SourceChange,
    ) -> Result<(), AdapterError> {
        self.outbox
            .record(&mut **transaction, "Invoice", &change)
            .await
            .map_err(|e| source_error(SOURCE, e))
    }

    /// Loads invoices by a column (`id` or `customer_id`), with their items,
    /// in two statements.
    async fn load(&self, column: &str, values: &[String]) -> Result<Vec<Invoice>, AdapterError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM invoices WHERE {column} IN ({}) ORDER BY created_at DESC, id",
            Database::placeholders(1, values.len())
        );
        let mut query = sqlx::query(&sql);
        for value in values {
            query = query.bind(value.clone());
        }
        let rows = query
            .fetch_all(self.db.pool())
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        self.with_items(&rows).await
    }

    async fn with_items(&self, rows: &[AnyRow]) -> Result<Vec<Invoice>, AdapterError> {
        let ids: Vec<String> = rows.iter().map(|r| text(r, "id")).collect::<Result<_, _>>()?;
        let mut items: HashMap<String, Vec<(i64, String, i64, String)>> = HashMap::new();
        if !ids.is_empty() {
            let sql = format!(
                "SELECT invoice_id, position, product_id, quantity, unit_price FROM invoice_items \
                 WHERE invoice_id IN ({}) ORDER BY invoice_id, position",
                Database::placeholders(1, ids.len())
            );
            let mut query = sqlx::query(&sql);
            for id in &ids {
                query = query.bind(id.clone());
            }
            for row in query
                .fetch_all(self.db.pool())
                .await
                .map_err(|e| source_error(SOURCE, e))?
            {
                let position: i64 = row.try_get("position").map_err(|e| bad_row("position", e))?;
                let quantity: i64 = row.try_get("quantity").map_err(|e| bad_row("quantity", e))?;
                items.entry(text(&row, "invoice_id")?).or_default().push((
                    position,
                    text(&row, "product_id")?,
                    quantity,
                    text(&row, "unit_price")?,
                ));
            }
        }
        rows.iter()
            .map(|row| {
                let id = text(row, "id")?;
                let currency = text(row, "currency")?;
                let status = text(row, "status")?;
                let invoice_items = items
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(_, product, quantity, unit_price)| {
                        let quantity = i32::try_from(quantity).map_err(|e| bad_row("quantity", e))?;
                        let unit_price = Money::new(decimal(&unit_price, "unit_price")?, currency.clone());
                        Ok(InvoiceItem {
                            product: Reference::key("id", product),
                            quantity,
                            total: unit_price.times(quantity),
                            unit_price,
                        })
                    })
                    .collect::<Result<Vec<_>, AdapterError>>()?;
                Ok(Invoice {
                    id: ID(id),
                    invoice_number: text(row, "invoice_number")?,
                    status: InvoiceStatus::parse(&status).ok_or_else(|| bad_row("status", status))?,
                    total: Money::new(decimal(&text(row, "total")?, "total")?, currency.clone()),
                    created_at: DateTime::parse_from_rfc3339(&text(row, "created_at")?)
                        .map_err(|e| bad_row("created_at", e))?
                        .with_timezone(&Utc),
                    customer: Reference::key("id", text(row, "customer_id")?),
                    items: invoice_items,
                })
            })
            .collect()
    }

    async fn next_number(&self) -> Result<String, AdapterError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM invoices")
            .fetch_one(self.db.pool())
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        let count: i64 = row.try_get("n").map_err(|e| bad_row("count", e))?;
        Ok(format!("INV-{:06}", count + 1))
    }
}

#[async_trait]
impl DataProductAdapter for SqlInvoices {
    type Entity = Invoice;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Invoice>>, AdapterError> {
        let ids: Vec<String> = keys.iter().map(|k| k.id().unwrap_or_default()).collect();
        let found = self.load("id", &ids).await?;
        Ok(ids
            .iter()
            .map(|id| found.iter().find(|i| i.id.as_str() == id).cloned())
            .collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<Invoice>, AdapterError> {
        let filterable = [
            ("id", "id"),
            ("invoiceNumber", "invoice_number"),
            ("status", "status"),
        ];
        let order = "created_at DESC, id";
        let rows = list_rows(&self.db, SOURCE, "invoices", COLUMNS, &filterable, order, query).await?;
        self.with_items(&rows).await
    }

    async fn health(&self) -> HealthStatus {
        self.db.health().await
    }
}

#[async_trait]
impl WritableAdapter for SqlInvoices {
    type Draft = NewInvoice;
    type Patch = InvoicePatch;

    async fn create(&self, draft: NewInvoice) -> Result<Invoice, AdapterError> {
        if draft.items.is_empty() {
            return Err(AdapterError::InvalidInput(
                "an invoice needs at least one item".into(),
            ));
        }
        if let Some(item) = draft
            .items
            .iter()
            .find(|i| i.quantity <= 0 || i.unit_price.is_sign_negative())
        {
            return Err(AdapterError::InvalidInput(format!(
                "item of product `{}`: quantity must be positive and the unit price not negative",
                item.product_id.as_str()
            )));
        }
        let currency = draft.currency.unwrap_or_else(|| "USD".into());
        let total: Decimal = draft
            .items
            .iter()
            .map(|i| i.unit_price * Decimal::from(i.quantity))
            .sum();
        let id = uuid::Uuid::new_v4().to_string();
        let number = self.next_number().await?;
        let created_at = Utc::now().to_rfc3339();
        let mut transaction = self
            .db
            .pool()
            .begin()
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        sqlx::query(&format!(
            "INSERT INTO invoices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(id.clone())
        .bind(number)
        .bind(InvoiceStatus::Issued.as_str())
        .bind(draft.customer_id.to_string())
        .bind(currency)
        .bind(total.to_string())
        .bind(created_at)
        .execute(&mut *transaction)
        .await
        .map_err(|e| source_error(SOURCE, e))?;
        for (position, item) in draft.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO invoice_items (invoice_id, position, product_id, quantity, unit_price) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.clone())
            .bind(position as i64)
            .bind(item.product_id.to_string())
            .bind(i64::from(item.quantity))
            .bind(item.unit_price.to_string())
            .execute(&mut *transaction)
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        }
        let mut change = SourceChange::new(ChangeType::Created, "id", id.as_str());
        change.changed_fields = [
            "id",
            "invoiceNumber",
            "status",
            "total",
            "createdAt",
            "customer",
            "items",
        ]
        .map(String::from)
        .to_vec();
        change.relationships = vec![RelationshipReference {
            entity_type: "Customer".into(),
            entity_id: draft.customer_id.to_string(),
            source_system: "customers-db".into(),
            relationship_kind: "billed_to".into(),
            display_name: None,
        }];
        self.record(&mut transaction, change).await?;
        transaction.commit().await.map_err(|e| source_error(SOURCE, e))?;
        self.load("id", &[id])
            .await?
            .pop()
            .ok_or_else(|| AdapterError::Internal("created invoice vanished".into()))
    }

    async fn update(&self, key: &EntityKey, patch: InvoicePatch) -> Result<Invoice, AdapterError> {
        let id = key.id().unwrap_or_default();
        if let Some(status) = patch.status {
            let mut transaction = self
                .db
                .pool()
                .begin()
                .await
                .map_err(|e| source_error(SOURCE, e))?;
            let updated = sqlx::query("UPDATE invoices SET status = $1 WHERE id = $2")
                .bind(status.as_str())
                .bind(id.clone())
                .execute(&mut *transaction)
                .await
                .map_err(|e| source_error(SOURCE, e))?;
            if updated.rows_affected() > 0 {
                let mut change = SourceChange::new(ChangeType::Updated, "id", id.as_str());
                change.changed_fields = vec!["status".into()];
                self.record(&mut transaction, change).await?;
            }
            transaction.commit().await.map_err(|e| source_error(SOURCE, e))?;
        }
        self.load("id", &[id])
            .await?
            .pop()
            .ok_or_else(|| AdapterError::NotFound {
                entity_type: "Invoice".into(),
                key: key.to_string(),
            })
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        let id = key.id().unwrap_or_default();
        let mut transaction = self
            .db
            .pool()
            .begin()
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        sqlx::query("DELETE FROM invoice_items WHERE invoice_id = $1")
            .bind(id.clone())
            .execute(&mut *transaction)
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        let deleted = sqlx::query("DELETE FROM invoices WHERE id = $1")
            .bind(id.clone())
            .execute(&mut *transaction)
            .await
            .map_err(|e| source_error(SOURCE, e))?;
        if deleted.rows_affected() == 0 {
            return Err(AdapterError::NotFound {
                entity_type: "Invoice".into(),
                key: key.to_string(),
            });
        }
        self.record(
            &mut transaction,
            SourceChange::new(ChangeType::Deleted, "id", id.as_str()),
        )
        .await?;
        transaction.commit().await.map_err(|e| source_error(SOURCE, e))
    }

    fn outbox(&self) -> Option<&Outbox> {
        Some(&self.outbox)
    }
}

/// Customers with their invoices: one query for all customers of a batch.
pub struct CustomerInvoices {
    invoices: SqlInvoices,
}

impl CustomerInvoices {
    /// Customers' invoices from the invoices store.
    pub fn new(invoices: SqlInvoices) -> Self {
        CustomerInvoices { invoices }
    }
}

#[async_trait]
impl DataProductAdapter for CustomerInvoices {
    type Entity = Customer;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Customer>>, AdapterError> {
        let ids: Vec<String> = keys.iter().map(|k| k.id().unwrap_or_default()).collect();
        let invoices = self.invoices.load("customer_id", &ids).await?;
        Ok(ids
            .iter()
            .map(|id| {
                Some(Customer {
                    id: ID(id.clone()),
                    invoices: invoices
                        .iter()
                        .filter(|i| i.customer.values().get("id").and_then(|v| v.as_str()) == Some(id))
                        .cloned()
                        .collect(),
                })
            })
            .collect())
    }

    async fn health(&self) -> HealthStatus {
        self.invoices.health().await
    }
}

/// The invoices subgraph, ready for options (Redis, publisher) and `build()`.
/// A customer's invoice list is not cached: new invoices must show at once.
pub fn subgraph(adapter: SqlInvoices) -> SubgraphBuilder {
    Subgraph::builder("invoices")
        .writable(adapter.clone())
        .entity(CustomerInvoices::new(adapter))
        .options_for::<Customer>(EntityOptions {
            cache: CacheConfig {
                enabled: false,
                ..CacheConfig::default()
            },
            ..EntityOptions::default()
        })
}
