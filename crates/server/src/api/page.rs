//! The admin Backup page and its assets, embedded in the binary (no CDN, nothing fetched
//! at run time), and the API's `OpenAPI` 3.1 description.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const INDEX: &str = include_str!("../../assets/index.html");
const SCRIPT: &str = include_str!("../../assets/app.js");
const STYLE: &str = include_str!("../../assets/app.css");
const OPENAPI: &str = include_str!("../../assets/openapi.json");

/// The page's own rules: its script and style only, nothing from elsewhere.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn text(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

pub(super) async fn index() -> Response {
    text(INDEX, "text/html; charset=utf-8")
}

pub(super) async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    match name.as_str() {
        "app.js" => Ok(text(SCRIPT, "text/javascript; charset=utf-8")),
        "app.css" => Ok(text(STYLE, "text/css; charset=utf-8")),
        _ => Err(ApiError::not_found(format!("no asset {name:?}"))),
    }
}

pub(super) async fn openapi() -> Response {
    text(OPENAPI, "application/json")
}
