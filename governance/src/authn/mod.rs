//! Authentication: a JWT from the `Authorization: Bearer` header, verified against
//! keys from JWKS documents (HS256, RS256, ES256 and the other JOSE algorithms), with
//! issuer, audience, expiry and not-before checks within a clock skew. A request
//! without the header is anonymous; a request with a bad token is refused, and why is
//! logged, never told to the client.

mod config;
mod jwks;

use std::sync::Arc;

use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde_json::Map;
use serde_json::Value;

pub use self::config::AuthenticationConfig;
pub use self::config::JwksConfig;
pub use self::config::JwtConfig;
pub use self::jwks::JwksError;
use self::jwks::KeyStore;
use crate::Caller;

/// Why a token was refused (for logs; clients only learn that it was).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthenticationError {
    /// The header does not start with the configured prefix.
    #[error("the {header} header does not start with {prefix:?}")]
    MissingPrefix {
        /// The header name.
        header: String,
        /// The expected prefix.
        prefix: String,
    },
    /// The token is not a well-formed JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token's algorithm is not accepted.
    #[error("the token's algorithm {0:?} is not accepted")]
    AlgorithmNotAllowed(jsonwebtoken::Algorithm),
    /// No key matches the token's `kid` and algorithm.
    #[error("no key matches the token (kid {kid:?}, algorithm {algorithm:?})")]
    UnknownKey {
        /// The token's key id.
        kid: Option<String>,
        /// The token's algorithm.
        algorithm: jsonwebtoken::Algorithm,
    },
    /// The signature does not verify with any matching key.
    #[error("invalid signature")]
    InvalidSignature,
    /// `exp` is past (beyond the clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` names none of the configured audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim (`exp`, or `iss`/`aud` when configured) is missing.
    #[error("missing claim {0}")]
    MissingClaim(String),
}

/// Verifies bearer tokens; built from `authentication.jwt`. A token verified once is
/// remembered until its `exp` (or the next JWKS read), so repeated requests skip the
/// signature check.
pub struct Authenticator {
    config: JwtConfig,
    keys: Arc<KeyStore>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .finish()
    }
}

impl Authenticator {
    /// Reads the JWKS files now (a missing or invalid file is an error) and starts
    /// refreshing every document (URLs are fetched in the background).
    pub fn new(config: &JwtConfig) -> Result<Self, JwksError> {
        let keys = Arc::new(KeyStore::new(config.jwks.len()));
        for (index, document) in config.jwks.iter().enumerate() {
            keys.load_file(index, document)?;
        }
        jwks::spawn_refresher(&keys, &config.jwks);
        Ok(Authenticator {
            config: config.clone(),
            keys,
        })
    }

    /// The request header that carries the token.
    pub fn header_name(&self) -> &str {
        &self.config.header_name
    }

    /// The caller for a request whose token header has the value `header` (`None`:
    /// no header, an anonymous caller).
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, AuthenticationError> {
        let Some(header) = header else {
            return Ok(Caller::anonymous());
        };
        let token = header
            .trim()
            .strip_prefix(self.config.header_value_prefix.as_str())
            .filter(|rest| self.config.header_value_prefix.is_empty() || rest.starts_with(' '))
            .map(str::trim)
            .ok_or_else(|| AuthenticationError::MissingPrefix {
                header: self.config.header_name.clone(),
                prefix: self.config.header_value_prefix.clone(),
            })?;
        let skew = self.config.clock_skew.as_secs();
        if let Some(caller) = self.keys.verified.get(token, skew) {
            return Ok(caller);
        }
        let token_header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthenticationError::Malformed(e.to_string()))?;
        let algorithm = token_header.alg;
        if !self.config.algorithms.contains(&algorithm) {
            return Err(AuthenticationError::AlgorithmNotAllowed(algorithm));
        }
        let validation = self.validation(algorithm);
        let mut result = Err(AuthenticationError::UnknownKey {
            kid: token_header.kid.clone(),
            algorithm,
        });
        for document in self.keys.keys() {
            let candidates = document.iter().filter(|key| {
                key.algorithm == algorithm
                    && match (&token_header.kid, &key.id) {
                        (Some(wanted), Some(id)) => wanted == id,
                        _ => true,
                    }
            });
            for key in candidates {
                match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                    Ok(data) => {
                        let expires = data.claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
                        let caller = Caller::authenticated(data.claims);
                        self.keys.verified.insert(token, &caller, expires);
                        return Ok(caller);
                    }
                    Err(error) => {
                        let error = reason(error.kind());
                        // A signature failure may be another key's token: keep trying.
                        let keep_trying = error == AuthenticationError::InvalidSignature;
                        result = Err(error);
                        if !keep_trying {
                            return result;
                        }
                    }
                }
            }
        }
        result
    }

    fn validation(&self, algorithm: jsonwebtoken::Algorithm) -> Validation {
        let mut validation = Validation::new(algorithm);
        validation.leeway = self.config.clock_skew.as_secs();
        validation.validate_nbf = true;
        if self.config.audience.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.config.audience);
        }
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
        }
        validation
    }
}

fn reason(kind: &ErrorKind) -> AuthenticationError {
    match kind {
        ErrorKind::InvalidSignature => AuthenticationError::InvalidSignature,
        ErrorKind::ExpiredSignature => AuthenticationError::Expired,
        ErrorKind::ImmatureSignature => AuthenticationError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthenticationError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthenticationError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => AuthenticationError::MissingClaim(claim.clone()),
        other => AuthenticationError::Malformed(format!("{other:?}")),
    }
}
