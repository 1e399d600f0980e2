//! The router's signature on subgraph requests, so a subgraph can refuse callers
//! that bypass the router (and with it authentication, authorization and audit).
//!
//! The router signs each request body with a secret it shares with the
//! subgraphs: the header `dictamesh-router-signature: t=<unix seconds>,v1=<hex>`
//! carries HMAC-SHA256 over `<t>.<body>`. A subgraph built with
//! [`SubgraphBuilder::require_router_signature`](crate::SubgraphBuilder::require_router_signature)
//! answers 401 `UNAUTHENTICATED` to a request without a valid, fresh signature
//! (only the SDL query `{ _service { sdl } }` stays open, for composition).
//!
//! ```
//! use dictamesh::signature::RouterSignature;
//!
//! let signature = RouterSignature::new("a shared secret").unwrap();
//! let body = br#"{"query":"{ products { id } }"}"#;
//! let header = signature.sign(body, 1_700_000_000);
//! assert!(signature.verify(Some(&header), body, 1_700_000_010).is_ok());
//! assert!(signature.verify(Some(&header), b"{}", 1_700_000_010).is_err());
//! ```

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The request header that carries the signature.
pub const SIGNATURE_HEADER: &str = "dictamesh-router-signature";

/// How far a signature's time may be from the subgraph's clock.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// Why a request's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request has no signature header.
    #[error("the request is not signed by the router")]
    Missing,
    /// The header is not `t=<seconds>,v1=<hex>`.
    #[error("the router signature header is malformed")]
    Malformed,
    /// The signature's time is too far from now (a replay, or clocks apart).
    #[error("the router signature is {0} s away from now (tolerance {tol} s)", tol = TOLERANCE.as_secs())]
    Stale(u64),
    /// The signature does not match the body (another secret, or a changed body).
    #[error("the router signature does not match the request")]
    Mismatch,
}

/// Signs and verifies request bodies with a shared secret.
#[derive(Clone)]
pub struct RouterSignature {
    key: Hmac<Sha256>,
}

impl std::fmt::Debug for RouterSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouterSignature(..)")
    }
}

impl RouterSignature {
    /// A signer for `secret`; `None` when the secret is empty.
    pub fn new(secret: &str) -> Option<Self> {
        if secret.is_empty() {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .ok()
            .map(|key| RouterSignature { key })
    }

    /// The seconds since the Unix epoch, as signatures count them.
    pub fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn mac(&self, body: &[u8], at: u64) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(at.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The header value signing `body` at `at` (Unix seconds).
    pub fn sign(&self, body: &[u8], at: u64) -> String {
        let digest = self.mac(body, at).finalize().into_bytes();
        let mut header = format!("t={at},v1=");
        for byte in digest {
            // Writing into a String cannot fail.
            let _ = write!(header, "{byte:02x}");
        }
        header
    }

    /// Checks `header` (the signature header's value, if any) against `body` at
    /// `now` (Unix seconds); the comparison takes constant time.
    pub fn verify(&self, header: Option<&str>, body: &[u8], now: u64) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let (mut at, mut signature) = (None, None);
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", value)) => at = value.parse::<u64>().ok(),
                Some(("v1", value)) => signature = decode_hex(value),
                _ => {}
            }
        }
        let (Some(at), Some(signature)) = (at, signature) else {
            return Err(SignatureError::Malformed);
        };
        let skew = now.abs_diff(at);
        if skew > TOLERANCE.as_secs() {
            return Err(SignatureError::Stale(skew));
        }
        self.mac(body, at)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_only_for_its_body_secret_and_time() {
        let signer = RouterSignature::new("secret").expect("a secret");
        let body = br#"{"query":"{ a }"}"#;
        let header = signer.sign(body, 1000);
        assert_eq!(signer.verify(Some(&header), body, 1100), Ok(()));
        assert_eq!(
            signer.verify(Some(&header), b"{}", 1100),
            Err(SignatureError::Mismatch)
        );
        let other = RouterSignature::new("other").expect("a secret");
        assert_eq!(
            other.verify(Some(&header), body, 1100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            signer.verify(Some(&header), body, 2000),
            Err(SignatureError::Stale(1000))
        );
        assert_eq!(signer.verify(None, body, 1000), Err(SignatureError::Missing));
        assert_eq!(
            signer.verify(Some("v1=zz"), body, 1000),
            Err(SignatureError::Malformed)
        );
        assert!(RouterSignature::new("").is_none());
    }
}
