//! CSRF prevention, as Apollo Router does it: a browser can send a "simple" request
//! (no preflight) from any site, so a request is only accepted when it could not be
//! simple: it has a `Content-Type` other than the three simple ones, or one of the
//! headers `apollo-require-preflight` / `x-apollo-operation-name`.

use axum::http::HeaderMap;
use axum::http::header;

use crate::request::RequestError;

/// Content types a browser may send without a preflight.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
];

/// Headers that force a preflight.
const PREFLIGHT_HEADERS: [&str; 2] = ["apollo-require-preflight", "x-apollo-operation-name"];

/// Accepts the request unless a browser could have sent it without a preflight.
pub fn check(headers: &HeaderMap) -> Result<(), RequestError> {
    if PREFLIGHT_HEADERS.iter().any(|name| headers.contains_key(*name)) {
        return Ok(());
    }
    let non_simple_content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .is_some_and(|media| !media.is_empty() && !SIMPLE_CONTENT_TYPES.contains(&media.as_str()));
    if non_simple_content_type {
        return Ok(());
    }
    Err(RequestError::new(
        400,
        "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). \
         Please either specify a 'content-type' header (with a type that is not one of \
         application/x-www-form-urlencoded, multipart/form-data, text/plain) or provide one of \
         the following headers: apollo-require-preflight, x-apollo-operation-name",
        "CSRF_PREVENTION",
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn simple_requests_are_blocked_and_preflighted_ones_pass() {
        let mut headers = HeaderMap::new();
        assert!(check(&headers).is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        assert!(check(&headers).is_err());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(check(&headers).is_ok());
        let mut preflight = HeaderMap::new();
        preflight.insert("apollo-require-preflight", HeaderValue::from_static("true"));
        assert!(check(&preflight).is_ok());
    }
}
