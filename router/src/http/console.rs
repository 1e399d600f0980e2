//! The query console served to browsers at `GET /`: one self-contained HTML page
//! (no external assets, works offline) to run operations and see their plans.

use axum::http::HeaderValue;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::Response;

const PAGE: &str = include_str!("assets/console.html");

/// The console page.
pub(super) fn page() -> Response {
    let mut response = PAGE.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
