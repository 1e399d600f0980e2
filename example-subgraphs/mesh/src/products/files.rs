//! Products from a directory of documents: `*.json` files (one product or an
//! array of products) and `*.csv` files (a header row naming the fields). The
//! directory is polled for changes, which become change events; a product in
//! a JSON file overrides a CSV row with the same id. Writes go to `<id>.json`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use dictamesh::events::{ChangeType, SourceChange};
use dictamesh::{
    AdapterError, DataProductAdapter, EntityKey, EntityQuery, HealthStatus, WritableAdapter, async_trait,
};
use futures::stream::BoxStream;

use super::{NewProduct, Product, ProductPatch, ProductRecord};

/// A file's identity for change detection: modification time and length.
type Fingerprint = (SystemTime, u64);

#[derive(Default)]
struct Snapshot {
    products: BTreeMap<String, (ProductRecord, PathBuf)>,
    fingerprints: BTreeMap<PathBuf, Fingerprint>,
    broken: Vec<String>,
}

/// The products of a directory.
pub struct FileProducts {
    dir: PathBuf,
    poll_interval: Duration,
    snapshot: Arc<RwLock<Snapshot>>,
}

fn fingerprints(dir: &Path) -> std::io::Result<BTreeMap<PathBuf, Fingerprint>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let wanted = matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "csv"));
        if wanted && let Ok(meta) = std::fs::metadata(&path) {
            out.insert(
                path,
                (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len()),
            );
        }
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<Vec<ProductRecord>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .enumerate()
            .map(|(row, record)| record.map_err(|e| format!("row {}: {e}", row + 2)))
            .collect(),
        _ => match serde_json::from_str::<serde_json::Value>(&text).map_err(|e| e.to_string())? {
            serde_json::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| serde_json::from_value(item).map_err(|e| format!("item {i}: {e}")))
                .collect(),
            item => serde_json::from_value(item)
                .map(|r| vec![r])
                .map_err(|e| e.to_string()),
        },
    }
}

/// Reads the whole directory: CSV files first, then JSON files over them.
fn load(dir: &Path) -> std::io::Result<Snapshot> {
    let fingerprints = fingerprints(dir)?;
    let mut paths: Vec<&PathBuf> = fingerprints.keys().collect();
    paths.sort_by_key(|p| {
        (
            p.extension().and_then(|e| e.to_str()) != Some("csv"),
            (*p).clone(),
        )
    });
    let mut snapshot = Snapshot::default();
    for path in paths {
        match read_file(path) {
            Ok(records) => {
                for record in records {
                    snapshot
                        .products
                        .insert(record.id.clone(), (record, path.clone()));
                }
            }
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "skipping an unreadable product file");
                snapshot.broken.push(format!("{}: {reason}", path.display()));
            }
        }
    }
    snapshot.fingerprints = fingerprints;
    Ok(snapshot)
}

/// The changes between two snapshots, one per product.
fn diff(before: &Snapshot, after: &Snapshot) -> Vec<SourceChange> {
    let ids: HashSet<&String> = before.products.keys().chain(after.products.keys()).collect();
    let mut changes: Vec<SourceChange> = ids
        .into_iter()
        .filter_map(|id| {
            let kind = match (before.products.get(id), after.products.get(id)) {
                (None, Some(_)) => ChangeType::Created,
                (Some(_), None) => ChangeType::Deleted,
                (Some((old, _)), Some((new, _))) if old != new => ChangeType::Updated,
                _ => return None,
            };
            Some(SourceChange::new(kind, "id", id.as_str()))
        })
        .collect();
    changes.sort_by(|a, b| {
        a.key
            .get("id")
            .map(|v| v.to_string())
            .cmp(&b.key.get("id").map(|v| v.to_string()))
    });
    changes
}

impl FileProducts {
    /// Reads the products of `dir`; the error names the directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, String> {
        let dir = dir.into();
        let snapshot =
            load(&dir).map_err(|e| format!("cannot read the products directory `{}`: {e}", dir.display()))?;
        Ok(FileProducts {
            dir,
            poll_interval: Duration::from_millis(500),
            snapshot: Arc::new(RwLock::new(snapshot)),
        })
    }

    /// How often the directory is checked for changes (500 ms by default).
    pub fn poll_every(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, Snapshot>, AdapterError> {
        self.snapshot
            .read()
            .map_err(|_| AdapterError::Internal("product snapshot poisoned".into()))
    }

    /// Writes one product to `<id>.json` and records it, so the poller does not
    /// report the adapter's own write as a change.
    fn store(&self, record: &ProductRecord) -> Result<(), AdapterError> {
        let path = self.dir.join(format!("{}.json", record.id));
        let body = serde_json::to_vec_pretty(record).map_err(|e| AdapterError::Internal(e.to_string()))?;
        let temporary = self.dir.join(format!(".{}.json.tmp", record.id));
        std::fs::write(&temporary, body)
            .and_then(|()| std::fs::rename(&temporary, &path))
            .map_err(|e| AdapterError::unavailable("product files", format!("{}: {e}", path.display())))?;
        let mut snapshot = self
            .snapshot
            .write()
            .map_err(|_| AdapterError::Internal("product snapshot poisoned".into()))?;
        snapshot
            .products
            .insert(record.id.clone(), (record.clone(), path));
        if let Ok(current) = fingerprints(&self.dir) {
            snapshot.fingerprints = current;
        }
        Ok(())
    }
}

#[async_trait]
impl DataProductAdapter for FileProducts {
    type Entity = Product;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Product>>, AdapterError> {
        let snapshot = self.read()?;
        Ok(keys
            .iter()
            .map(|key| {
                let id = key.id()?;
                snapshot.products.get(&id).map(|(r, _)| Product::from(r.clone()))
            })
            .collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<Product>, AdapterError> {
        let snapshot = self.read()?;
        Ok(query.apply(snapshot.products.values().map(|(r, _)| Product::from(r.clone()))))
    }

    fn stream_changes(&self) -> BoxStream<'static, SourceChange> {
        let dir = self.dir.clone();
        let shared = self.snapshot.clone();
        let interval = self.poll_interval;
        let polls = futures::stream::unfold((), move |()| {
            let dir = dir.clone();
            let shared = shared.clone();
            async move {
                tokio::time::sleep(interval).await;
                let changed = match (fingerprints(&dir), shared.read()) {
                    (Ok(now), Ok(snapshot)) => now != snapshot.fingerprints,
                    _ => false,
                };
                let mut changes = Vec::new();
                if changed
                    && let Ok(next) = load(&dir)
                    && let Ok(mut snapshot) = shared.write()
                {
                    changes = diff(&snapshot, &next);
                    *snapshot = next;
                }
                Some((futures::stream::iter(changes), ()))
            }
        });
        Box::pin(futures::StreamExt::flatten(polls))
    }

    async fn health(&self) -> HealthStatus {
        if !self.dir.is_dir() {
            return HealthStatus::Unhealthy(format!("products directory `{}` is gone", self.dir.display()));
        }
        match self.read() {
            Ok(snapshot) if !snapshot.broken.is_empty() => {
                HealthStatus::Degraded(format!("unreadable files: {}", snapshot.broken.join("; ")))
            }
            Ok(_) => HealthStatus::Healthy,
            Err(error) => HealthStatus::Unhealthy(error.to_string()),
        }
    }
}

#[async_trait]
impl WritableAdapter for FileProducts {
    type Draft = NewProduct;
    type Patch = ProductPatch;

    async fn create(&self, draft: NewProduct) -> Result<Product, AdapterError> {
        let record = ProductRecord::from_draft(uuid::Uuid::new_v4().to_string(), draft);
        self.store(&record)?;
        Ok(record.into())
    }

    async fn update(&self, key: &EntityKey, patch: ProductPatch) -> Result<Product, AdapterError> {
        let id = key.id().unwrap_or_default();
        let mut record = self
            .read()?
            .products
            .get(&id)
            .map(|(r, _)| r.clone())
            .ok_or_else(|| AdapterError::NotFound {
                entity_type: "Product".into(),
                key: key.to_string(),
            })?;
        record.apply(patch);
        self.store(&record)?;
        Ok(record.into())
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        let id = key.id().unwrap_or_default();
        let origin = self.read()?.products.get(&id).map(|(_, path)| path.clone());
        let Some(origin) = origin else {
            return Err(AdapterError::NotFound {
                entity_type: "Product".into(),
                key: key.to_string(),
            });
        };
        if origin != self.dir.join(format!("{id}.json")) {
            return Err(AdapterError::InvalidInput(format!(
                "product `{id}` comes from `{}`; remove it there",
                origin.display()
            )));
        }
        std::fs::remove_file(&origin)
            .map_err(|e| AdapterError::unavailable("product files", format!("{}: {e}", origin.display())))?;
        let mut snapshot = self
            .snapshot
            .write()
            .map_err(|_| AdapterError::Internal("product snapshot poisoned".into()))?;
        snapshot.products.remove(&id);
        if let Ok(current) = fingerprints(&self.dir) {
            snapshot.fingerprints = current;
        }
        Ok(())
    }
}
