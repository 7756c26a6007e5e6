//! The REST API on `-httpapi`: JSON in, JSON out.
//!
//! ```text
//! tiny_http::Server::recv  (serve: one loop, one short-lived `api-N` thread per request, at most 64)
//!   -> read at most 64 KiB + 1 of the body             (serve.rs: the only code that touches sockets)
//!   -> Api::handle(ApiRequest) -> Reply               (pure: auth, ROUTES lookup, body validation)
//!   -> Hub operation -> 200 JSON | {"err": Name, "detail": sentence}
//! ```
//!
//! Everything a request can meet is decided in [`Api::handle`], which takes plain values and
//! returns a status and a JSON value, so the routing table, body validation and token check are
//! tested without sockets. [`ROUTES`] is the one list of endpoints: the router walks it, and a test
//! checks each entry (and the error names it may answer) against `docs/openapi.json`.
//!
//! - `routes`: the route table and its lookup; the OpenAPI document.
//! - `auth`: the `Authorization: Bearer` token check.
//! - `fields`: body fields read into typed values, each refusal naming its field.
//! - `render`: error answers, and the API's names and statuses for the hub's refusals.
//! - `handlers`: [`Api`], which decides one request.
//! - `serve`: the accept loop, request threads, reading bodies and writing responses.

use serde_json::Value;

mod auth;
mod fields;
mod handlers;
mod render;
mod routes;
mod serve;

pub use handlers::Api;
pub use routes::{Method, Route, COMMON_ERRORS, OPENAPI, ROUTES};
pub use serve::serve;

/// Request bodies above this many bytes are refused with 413 `BodyTooLarge`.
pub const MAX_BODY: usize = 64 * 1024;
/// Requests handled at once; the accept loop waits for a free slot beyond this.
pub const MAX_IN_FLIGHT: usize = 64;

/// A request as the handler sees it: no sockets.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The request target as sent (`/stat/stream/1?x=y`); the query is ignored.
    pub url: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    pub body: Body<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Complete(&'a [u8]),
    /// More than [`MAX_BODY`] bytes were sent or announced.
    TooLarge,
}

/// A response as the handler decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Allow` header (405 and OPTIONS answers).
    pub allow: Option<String>,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            allow: None,
        }
    }

    /// The `err` name of an error reply.
    pub fn err(&self) -> Option<&str> {
        self.body.get("err").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests;
