//! The REST API on `-httpapi`: JSON in, JSON out; Prometheus text at `/metrics`, Server-Sent
//! Events at `/events`.
//!
//! ```text
//! accept (serve: at most MAX_CONNECTIONS, the excess closed at once; one `api-PEER` thread each)
//!   -> request head, at most 16 KiB, within 10 s        (conn.rs: bounded reads with a deadline)
//!   -> Api::admit(head): preflight, token, route, content type, origin, declared size
//!   -> body, at most 1 MiB, within the same 10 s        (conn.rs)
//!   -> Api::answer -> Reply                             (pure: body validation, hub operation)
//!   -> written with tiny_http's Response writer; keep-alive or close
//! ```
//!
//! Everything a request can meet is decided in [`Api::admit`] and [`Api::answer`], which take
//! plain values and return a status and a body, so the routing table, body validation, token,
//! content type and CORS rules are tested without sockets. [`ROUTES`] is the one list of endpoints:
//! the router walks it, and a test checks each entry (and the error names it may answer) against
//! `docs/openapi.json`.
//!
//! - `routes`: the route table and its lookup; the OpenAPI document.
//! - `auth`: the `Authorization: Bearer` token check.
//! - `cors`: which origins may call which routes; the JSON content type rule.
//! - `fields`: body fields read into typed values, each refusal naming its field.
//! - `render`: error answers, and the API's names and statuses for the hub's refusals.
//! - `handlers`: [`Api`], which decides one request.
//! - `metrics`: `/metrics` (Prometheus text) and `/stat`.
//! - `recordings`: the recording routes; `downloads`: recording files and spans written from
//!   disk (`Range`, HEAD).
//! - `reconnect`: `/stream/reconnect` and `/server/drain` (Enhanced RTMP ReconnectRequest).
//! - `conn`: reading one request off a socket, bounded in size and time.
//! - `serve`: the accept loop, connection threads, writing responses.
//! - `sse`: the `/events` stream of one reader.

use serde_json::Value;

mod auth;
mod conn;
mod cors;
mod downloads;
mod fields;
mod handlers;
mod metrics;
mod reconnect;
mod recordings;
mod render;
mod routes;
mod serve;
mod sse;

pub use handlers::{Admission, Api, ApiOptions};
pub use metrics::{CallbackCounters, RequestCounters};
pub use routes::{Method, Route, COMMON_ERRORS, OPENAPI, POST_ERRORS, ROUTES};
pub use serve::serve;

/// Request bodies above this many bytes are refused with 413 `BodyTooLarge`.
pub const MAX_BODY: usize = 1 << 20;
/// Request line plus headers above this many bytes are refused with 431.
pub const MAX_HEAD: usize = crate::http::request::MAX_HEAD_LEN;
/// A whole request (head and body) must arrive within this; 408 otherwise.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// API connections open at once; the ones beyond are closed at accept.
pub const MAX_CONNECTIONS: usize = 4096;

/// A request as the handler sees it: no sockets.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    /// The request target as sent (`/stat/stream/1?x=y`).
    pub url: &'a str,
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// The `Origin` header, if any (browsers send it on cross-origin requests and on POSTs).
    pub origin: Option<&'a str>,
    pub body: Body<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Complete(&'a [u8]),
    /// More than [`MAX_BODY`] bytes were sent or announced.
    TooLarge,
}

impl Default for Body<'_> {
    fn default() -> Self {
        Body::Complete(b"")
    }
}

/// Who may read an answer from another origin (`Access-Control-Allow-Origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// `*`: stats and documents anyone may read.
    Any,
    /// Exactly this origin (listed in `-apicors`), with `Vary: Origin`.
    Origin(String),
    /// No header (with `Vary: Origin`): a browser keeps the answer from the calling page.
    Denied,
}

/// A response as the handler decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    /// The `Allow` header (405 and OPTIONS answers).
    pub allow: Option<String>,
    pub cors: Cors,
    /// A body that is not JSON: (content type, text), e.g. Prometheus metrics.
    pub text: Option<(&'static str, String)>,
}

impl Reply {
    fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            allow: None,
            cors: Cors::Any,
            text: None,
        }
    }

    /// The `err` name of an error reply.
    pub fn err(&self) -> Option<&str> {
        self.body.get("err").and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests;
