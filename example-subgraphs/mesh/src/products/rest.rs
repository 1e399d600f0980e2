//! Products from an external REST API in the style of Directus and Shopify:
//! a bearer token, `items/<collection>` endpoints, JSON filters, limit/offset
//! pagination, ETags with `If-None-Match`, and rate-limit headers honoured.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dictamesh::{
    AdapterError, DataProductAdapter, EntityKey, EntityQuery, HealthStatus, WritableAdapter, async_trait,
};
use reqwest::{RequestBuilder, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{NewProduct, Product, ProductPatch, ProductRecord};

const SOURCE: &str = "catalog-api";

/// How to reach the API.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// The API's base URL, e.g. `https://cms.example.com`.
    pub base_url: String,
    /// A bearer token, if the API needs one.
    pub token: Option<String>,
    /// The collection holding products.
    pub collection: String,
    /// Items per page when listing.
    pub page_size: usize,
    /// The longest wait the adapter accepts when the API's rate limit is spent.
    pub max_rate_limit_wait: Duration,
}

impl RestConfig {
    /// Defaults for an API at `base_url`: collection `products`, pages of 100.
    pub fn new(base_url: impl Into<String>) -> Self {
        RestConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            token: None,
            collection: "products".into(),
            page_size: 100,
            max_rate_limit_wait: Duration::from_secs(2),
        }
    }
}

/// The products of a REST API.
pub struct RestProducts {
    client: reqwest::Client,
    config: RestConfig,
    etags: Mutex<HashMap<String, (String, ProductRecord)>>,
    blocked_until: Mutex<Option<SystemTime>>,
}

/// The API's envelope: `{"data": ...}`.
#[derive(serde::Deserialize)]
struct Envelope<T> {
    data: T,
}

impl RestProducts {
    /// An adapter for the API; the error says why the HTTP client is unusable.
    pub fn new(config: RestConfig) -> Result<Self, AdapterError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AdapterError::Internal(format!("HTTP client: {e}")))?;
        Ok(RestProducts {
            client,
            config,
            etags: Mutex::new(HashMap::new()),
            blocked_until: Mutex::new(None),
        })
    }

    fn url(&self, suffix: &str) -> String {
        format!(
            "{}/items/{}{suffix}",
            self.config.base_url, self.config.collection
        )
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.config.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Waits out a spent rate limit (up to the configured maximum).
    async fn respect_rate_limit(&self) -> Result<(), AdapterError> {
        let until = self.blocked_until.lock().ok().and_then(|b| *b);
        let Some(until) = until else { return Ok(()) };
        let wait = until.duration_since(SystemTime::now()).unwrap_or_default();
        if wait > self.config.max_rate_limit_wait {
            return Err(AdapterError::RateLimited {
                retry_after: Some(wait),
            });
        }
        tokio::time::sleep(wait).await;
        if let Ok(mut blocked) = self.blocked_until.lock() {
            *blocked = None;
        }
        Ok(())
    }

    /// Sends a request and classifies the answer: rate limits, server errors
    /// and refused credentials become adapter errors.
    async fn send(&self, request: RequestBuilder) -> Result<Response, AdapterError> {
        self.respect_rate_limit().await?;
        let response = self
            .authorized(request)
            .send()
            .await
            .map_err(|e| AdapterError::unavailable(SOURCE, e))?;
        self.note_rate_limit(&response);
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = header_number(&response, header::RETRY_AFTER.as_str()).map(Duration::from_secs);
            return Err(AdapterError::RateLimited { retry_after });
        }
        if status.is_server_error() {
            return Err(AdapterError::unavailable(
                SOURCE,
                format!("the API answered {status}"),
            ));
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AdapterError::unavailable(
                SOURCE,
                format!("the API rejected the credentials ({status})"),
            ));
        }
        Ok(response)
    }

    /// Remembers when a spent rate limit resets (`X-RateLimit-Remaining: 0`).
    fn note_rate_limit(&self, response: &Response) {
        if header_number(response, "x-ratelimit-remaining") != Some(0) {
            return;
        }
        let reset = header_number(response, "x-ratelimit-reset")
            .map(|epoch| UNIX_EPOCH + Duration::from_secs(epoch))
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(1));
        if let Ok(mut blocked) = self.blocked_until.lock() {
            *blocked = Some(reset);
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(response: Response) -> Result<T, AdapterError> {
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| AdapterError::unavailable(SOURCE, e))?;
        if !status.is_success() {
            return Err(AdapterError::InvalidResponse(format!(
                "the API answered {status}: {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )));
        }
        serde_json::from_slice::<Envelope<T>>(&body)
            .map(|e| e.data)
            .map_err(|e| AdapterError::InvalidResponse(format!("unexpected body from the API: {e}")))
    }

    /// One product, revalidated with its ETag when we have one.
    async fn fetch_one(&self, id: &str) -> Result<Option<ProductRecord>, AdapterError> {
        let cached = self.etags.lock().ok().and_then(|e| e.get(id).cloned());
        let mut request = self.client.get(self.url(&format!("/{}", urlencode(id))));
        if let Some((etag, _)) = &cached {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let response = self.send(request).await?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(cached.map(|(_, record)| record)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => {
                let etag = response
                    .headers()
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let record: ProductRecord = Self::json(response).await?;
                if let (Some(etag), Ok(mut etags)) = (etag, self.etags.lock()) {
                    etags.insert(id.to_string(), (etag, record.clone()));
                }
                Ok(Some(record))
            }
        }
    }

    /// One page of products matching a Directus filter.
    async fn page(
        &self,
        filter: &Value,
        limit: usize,
        offset: usize,
    ) -> Result<Vec<ProductRecord>, AdapterError> {
        let request = self.client.get(self.url("")).query(&[
            ("filter", filter.to_string()),
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
        ]);
        Self::json(self.send(request).await?).await
    }
}

fn header_number(response: &Response, name: &str) -> Option<u64> {
    response.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

fn urlencode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// The record field of a filterable GraphQL field.
fn record_field(field: &str) -> Option<&'static str> {
    match field {
        "id" => Some("id"),
        "sku" => Some("sku"),
        "name" => Some("name"),
        "inventory" => Some("inventory"),
        "provider" => Some("provider"),
        _ => None,
    }
}

#[async_trait]
impl DataProductAdapter for RestProducts {
    type Entity = Product;

    async fn get_entities(&self, keys: &[EntityKey]) -> Result<Vec<Option<Product>>, AdapterError> {
        let ids: Vec<String> = keys.iter().map(|k| k.id().unwrap_or_default()).collect();
        if let [id] = ids.as_slice() {
            return Ok(vec![self.fetch_one(id).await?.map(Product::from)]);
        }
        let filter = json!({"id": {"_in": ids}});
        let found = self.page(&filter, ids.len().max(1), 0).await?;
        Ok(ids
            .iter()
            .map(|id| found.iter().find(|r| &r.id == id).cloned().map(Product::from))
            .collect())
    }

    async fn query_entities(&self, query: &EntityQuery) -> Result<Vec<Product>, AdapterError> {
        let mut filter = serde_json::Map::new();
        for (field, value) in &query.filter {
            let name = record_field(field).ok_or_else(|| {
                AdapterError::InvalidInput(format!("products cannot be filtered by `{field}`"))
            })?;
            filter.insert(name.to_string(), json!({ "_eq": value }));
        }
        let filter = Value::Object(filter);
        let page_size = self.config.page_size.max(1);
        let wanted = query.limit.unwrap_or(usize::MAX);
        let mut products = Vec::new();
        let mut offset = query.offset;
        while products.len() < wanted {
            let limit = page_size.min(wanted - products.len());
            let page = self.page(&filter, limit, offset).await?;
            let last = page.len() < limit;
            offset += page.len();
            products.extend(page.into_iter().map(Product::from));
            if last {
                break;
            }
        }
        Ok(products)
    }

    async fn health(&self) -> HealthStatus {
        match self.page(&json!({}), 1, 0).await {
            Ok(_) => HealthStatus::Healthy,
            Err(AdapterError::RateLimited { .. }) => {
                HealthStatus::Degraded("the API's rate limit is spent".into())
            }
            Err(error) => HealthStatus::Unhealthy(error.to_string()),
        }
    }
}

#[async_trait]
impl WritableAdapter for RestProducts {
    type Draft = NewProduct;
    type Patch = ProductPatch;

    async fn create(&self, draft: NewProduct) -> Result<Product, AdapterError> {
        let record = ProductRecord::from_draft(uuid::Uuid::new_v4().to_string(), draft);
        let response = self.send(self.client.post(self.url("")).json(&record)).await?;
        Ok(Self::json::<ProductRecord>(response).await?.into())
    }

    async fn update(&self, key: &EntityKey, patch: ProductPatch) -> Result<Product, AdapterError> {
        let id = key.id().unwrap_or_default();
        let mut body = serde_json::Map::new();
        if let Some(name) = patch.name {
            body.insert("name".into(), json!(name));
        }
        if let Some(price) = patch.price {
            body.insert("price_amount".into(), json!(price.to_string()));
        }
        if let Some(inventory) = patch.inventory {
            body.insert("inventory".into(), json!(inventory));
        }
        let response = self
            .send(
                self.client
                    .patch(self.url(&format!("/{}", urlencode(&id))))
                    .json(&body),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(AdapterError::NotFound {
                entity_type: "Product".into(),
                key: key.to_string(),
            });
        }
        if let Ok(mut etags) = self.etags.lock() {
            etags.remove(&id);
        }
        Ok(Self::json::<ProductRecord>(response).await?.into())
    }

    async fn delete(&self, key: &EntityKey) -> Result<(), AdapterError> {
        let id = key.id().unwrap_or_default();
        let response = self
            .send(self.client.delete(self.url(&format!("/{}", urlencode(&id)))))
            .await?;
        match response.status() {
            StatusCode::NOT_FOUND => Err(AdapterError::NotFound {
                entity_type: "Product".into(),
                key: key.to_string(),
            }),
            status if status.is_success() => {
                if let Ok(mut etags) = self.etags.lock() {
                    etags.remove(&id);
                }
                Ok(())
            }
            status => Err(AdapterError::InvalidResponse(format!("delete answered {status}"))),
        }
    }
}
