//! Signing keys from JWKS documents (files or URLs), read at start and again every
//! poll interval; a document that fails to load keeps its previous keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::Weak;

use jsonwebtoken::Algorithm;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::jwk::KeyAlgorithm;

use super::JwksConfig;
use crate::Caller;

/// Why a JWKS document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file cannot be read.
    #[error("cannot read the JWKS file {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The URL did not answer with a document.
    #[error("cannot fetch the JWKS {url}: {message}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The document is not a JWKS.
    #[error("{source_name} is not a JWKS document: {message}")]
    Invalid {
        /// The file or URL.
        source_name: String,
        /// The parse error.
        message: String,
    },
}

/// A usable key: its id, the algorithm it verifies and the key itself.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    pub(crate) id: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// Tokens verified recently, with the caller they made and their `exp`: a repeated
/// token skips the signature check. Emptied whenever keys are read again (so a
/// removed key stops its tokens within a poll interval) and when full.
pub(crate) struct VerifiedTokens {
    capacity: usize,
    tokens: RwLock<HashMap<String, (Caller, u64)>>,
}

impl VerifiedTokens {
    fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity,
            tokens: RwLock::new(HashMap::new()),
        }
    }

    /// The caller of `token` if it was verified and `exp` (plus `skew` seconds) has
    /// not passed.
    pub(crate) fn get(&self, token: &str, skew: u64) -> Option<Caller> {
        let tokens = self.tokens.read().ok()?;
        let (caller, expires) = tokens.get(token)?;
        (now_seconds() <= expires.saturating_add(skew)).then(|| caller.clone())
    }

    /// Remembers a verified token that expires at `expires`.
    pub(crate) fn insert(&self, token: &str, caller: &Caller, expires: u64) {
        if let Ok(mut tokens) = self.tokens.write() {
            if tokens.len() >= self.capacity {
                tokens.clear();
            }
            tokens.insert(token.to_string(), (caller.clone(), expires));
        }
    }

    fn clear(&self) {
        if let Ok(mut tokens) = self.tokens.write() {
            tokens.clear();
        }
    }
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The keys of every configured document, each slot replaced as a whole on refresh.
pub(crate) struct KeyStore {
    documents: Vec<RwLock<Arc<Vec<VerifyingKey>>>>,
    /// Tokens verified with these keys.
    pub(crate) verified: VerifiedTokens,
}

impl KeyStore {
    pub(crate) fn new(count: usize) -> Self {
        KeyStore {
            documents: (0..count).map(|_| RwLock::new(Arc::new(Vec::new()))).collect(),
            verified: VerifiedTokens::new(10_000),
        }
    }

    /// Every key, in configuration order.
    pub(crate) fn keys(&self) -> Vec<Arc<Vec<VerifyingKey>>> {
        self.documents
            .iter()
            .map(|slot| match slot.read() {
                Ok(keys) => keys.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            })
            .collect()
    }

    fn replace(&self, index: usize, keys: Vec<VerifyingKey>) {
        if let Some(slot) = self.documents.get(index) {
            let keys = Arc::new(keys);
            match slot.write() {
                Ok(mut current) => *current = keys,
                Err(poisoned) => *poisoned.into_inner() = keys,
            }
        }
        self.verified.clear();
    }

    /// Reads a file document now (a bad file stops the start); URL documents are
    /// fetched by the refresher.
    pub(crate) fn load_file(&self, index: usize, config: &JwksConfig) -> Result<(), JwksError> {
        if let Some(path) = file_path(&config.url) {
            let text = std::fs::read_to_string(path).map_err(|e| JwksError::Read {
                path: path.to_string(),
                message: e.to_string(),
            })?;
            self.replace(index, parse(&text, path)?);
        }
        Ok(())
    }
}

fn file_path(url: &str) -> Option<&str> {
    url.strip_prefix("file://")
        .or_else(|| (!url.starts_with("http://") && !url.starts_with("https://")).then_some(url))
}

async fn read_document(
    client: &reqwest::Client,
    config: &JwksConfig,
) -> Result<Vec<VerifyingKey>, JwksError> {
    if let Some(path) = file_path(&config.url) {
        let text = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| JwksError::Read {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        return parse(&text, path);
    }
    let fetch_error = |message: String| JwksError::Fetch {
        url: config.url.clone(),
        message,
    };
    let response = client
        .get(&config.url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| fetch_error(e.to_string()))?;
    let text = response.text().await.map_err(|e| fetch_error(e.to_string()))?;
    parse(&text, &config.url)
}

/// Parses a JWKS document, keeping the keys usable for signature checks.
fn parse(text: &str, source_name: &str) -> Result<Vec<VerifyingKey>, JwksError> {
    let set: JwkSet = serde_json::from_str(text).map_err(|e| JwksError::Invalid {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    Ok(set
        .keys
        .iter()
        .filter_map(|jwk| {
            let key = verifying_key(jwk);
            if key.is_none() {
                tracing::warn!(source = source_name, kid = ?jwk.common.key_id, "JWKS key skipped: unsupported type or algorithm");
            }
            key
        })
        .collect())
}

fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let algorithm = match jwk.common.key_algorithm {
        Some(declared) => algorithm_of(declared)?,
        None => match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P384 => Algorithm::ES384,
            AlgorithmParameters::OctetKey(_) => Algorithm::HS256,
            _ => return None,
        },
    };
    Some(VerifyingKey {
        id: jwk.common.key_id.clone(),
        algorithm,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

fn algorithm_of(declared: KeyAlgorithm) -> Option<Algorithm> {
    Some(match declared {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// Reads every document now and then every its poll interval, until the store is
/// dropped. Needs a Tokio runtime; without one, only file documents (read at start)
/// are used.
pub(crate) fn spawn_refresher(store: &Arc<KeyStore>, configs: &[JwksConfig]) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no async runtime: JWKS documents are not refreshed and URLs are not fetched");
        return;
    };
    let client = reqwest::Client::new();
    for (index, config) in configs.iter().enumerate() {
        let store: Weak<KeyStore> = Arc::downgrade(store);
        let config = config.clone();
        let client = client.clone();
        runtime.spawn(async move {
            let mut ticker = tokio::time::interval(config.poll_interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let result = read_document(&client, &config).await;
                let Some(store) = store.upgrade() else { return };
                match result {
                    Ok(keys) => store.replace(index, keys),
                    Err(error) => tracing::warn!(%error, "JWKS refresh failed; keeping the previous keys"),
                }
            }
        });
    }
}
