//! The `authentication` section of `router.yaml`.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// `authentication`: how the router authenticates callers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// JWT bearer tokens.
    pub jwt: JwtConfig,
}

/// `authentication.jwt`: JWTs checked against keys from JWKS documents.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Where the signing keys come from (at least one).
    pub jwks: Vec<JwksConfig>,
    /// The `iss` a token must carry (any when absent).
    #[serde(default)]
    pub issuer: Option<String>,
    /// The `aud` values a token may carry, one of which it must (any when empty).
    #[serde(default)]
    pub audience: Vec<String>,
    /// The signing algorithms accepted (default HS256, RS256, ES256).
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Tolerance for `exp` and `nbf` (default 60s).
    #[serde(default = "default_clock_skew", with = "humantime_serde")]
    pub clock_skew: Duration,
    /// The request header carrying the token (default `authorization`).
    #[serde(default = "default_header_name")]
    pub header_name: String,
    /// What precedes the token in that header (default `Bearer`).
    #[serde(default = "default_header_prefix")]
    pub header_value_prefix: String,
}

/// One JWKS document.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JwksConfig {
    /// `https://…`, `http://…` or `file://path` (a relative path is relative to the
    /// working directory).
    pub url: String,
    /// How often the document is read again (default 60s).
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::HS256, Algorithm::RS256, Algorithm::ES256]
}

fn default_clock_skew() -> Duration {
    Duration::from_secs(60)
}

fn default_header_name() -> String {
    "authorization".to_string()
}

fn default_header_prefix() -> String {
    "Bearer".to_string()
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(60)
}
