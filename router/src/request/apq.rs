//! Automatic persisted queries (Apollo's APQ): a client sends only the SHA-256 of a
//! query in `extensions.persistedQuery.sha256Hash`; the router answers
//! `PERSISTED_QUERY_NOT_FOUND` until the client sends the query with its hash once.

use std::collections::HashMap;
use std::sync::RwLock;

use serde_json::Value;
use sha2::Digest;
use sha2::Sha256;

use super::GraphQLRequest;
use super::RequestError;

/// Queries by hash.
pub struct ApqCache {
    capacity: usize,
    queries: RwLock<HashMap<String, String>>,
}

impl ApqCache {
    /// A cache remembering at most `capacity` queries.
    pub fn new(capacity: usize) -> Self {
        ApqCache {
            capacity,
            queries: RwLock::new(HashMap::new()),
        }
    }

    /// Fills in `request.query` from the cache, or stores it; fails when the hash is
    /// unknown or does not match the query.
    pub fn resolve(&self, request: &mut GraphQLRequest) -> Result<(), RequestError> {
        let Some(persisted) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        if persisted.get("version").and_then(Value::as_u64) != Some(1) {
            return Err(RequestError::new(
                400,
                "Unsupported persisted query version",
                "PERSISTED_QUERY_VERSION_NOT_SUPPORTED",
            ));
        }
        let Some(hash) = persisted
            .get("sha256Hash")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
        else {
            return Err(RequestError::new(
                400,
                "persistedQuery has no sha256Hash",
                "PERSISTED_QUERY_HASH_MISSING",
            ));
        };
        match &request.query {
            Some(query) => {
                let actual = hex(&Sha256::digest(query.as_bytes()));
                if actual != hash {
                    return Err(RequestError::new(
                        400,
                        "provided sha does not match query",
                        "PERSISTED_QUERY_HASH_MISMATCH",
                    ));
                }
                if let Ok(mut queries) = self.queries.write() {
                    if queries.len() >= self.capacity {
                        queries.clear();
                    }
                    queries.insert(hash, query.clone());
                }
                Ok(())
            }
            None => {
                let found = self.queries.read().ok().and_then(|q| q.get(&hash).cloned());
                match found {
                    Some(query) => {
                        request.query = Some(query);
                        Ok(())
                    }
                    None => Err(RequestError::new(
                        200,
                        "PersistedQueryNotFound",
                        "PERSISTED_QUERY_NOT_FOUND",
                    )),
                }
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(query: Option<&str>, hash: &str) -> GraphQLRequest {
        GraphQLRequest {
            query: query.map(str::to_string),
            extensions: json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..GraphQLRequest::default()
        }
    }

    #[test]
    fn unknown_hash_then_registered_then_found() {
        let cache = ApqCache::new(10);
        let query = "{ __typename }";
        let hash = hex(&Sha256::digest(query.as_bytes()));
        let error = cache
            .resolve(&mut request(None, &hash))
            .expect_err("not yet known");
        assert_eq!(error.errors[0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
        cache
            .resolve(&mut request(Some(query), &hash))
            .expect("registers");
        let mut by_hash = request(None, &hash);
        cache.resolve(&mut by_hash).expect("found");
        assert_eq!(by_hash.query.as_deref(), Some(query));
        let mismatch = cache
            .resolve(&mut request(Some("{ other }"), &hash))
            .expect_err("mismatch");
        assert_eq!(
            mismatch.errors[0]["extensions"]["code"],
            "PERSISTED_QUERY_HASH_MISMATCH"
        );
    }
}
