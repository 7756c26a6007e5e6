//! The REST API on `-httpapi`: JSON in, JSON out, the seed's endpoints and shapes.
//!
//! ```text
//! tiny_http::Server::recv  (serve: one loop, one short-lived `api-N` thread per request, at most 64)
//!   -> read at most 64 KiB + 1 of the body             (respond: the only code that touches sockets)
//!   -> Api::handle(ApiRequest) -> Reply               (pure: auth, ROUTES lookup, body validation)
//!   -> Hub operation -> 200 JSON | {"err": Name, "detail": sentence}
//! ```
//!
//! Everything a request can meet is decided in [`Api::handle`], which takes plain values and
//! returns a status and a JSON value, so the routing table, body validation and token check are
//! tested without sockets. [`ROUTES`] is the one list of endpoints: the router walks it, and a test
//! checks each entry (and the error names it may answer) against `docs/openapi.json`.
//!
//! Why a thread per request rather than a fixed pool: tiny_http sets no socket timeouts, so a
//! client that announces a body and never sends it holds whichever thread reads that body. With a
//! pool of four, four such clients would stop the API; with a thread per request they only hold
//! their own threads (bounded by [`MAX_IN_FLIGHT`]).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Map, Value};

use crate::hub::{BufferLimits, Hub, HubError};
use crate::text::{percent_decode, Decode};

/// Request bodies above this many bytes are refused with 413 `BodyTooLarge`.
pub const MAX_BODY: usize = 64 * 1024;
/// Requests handled at once; the accept loop waits for a free slot beyond this.
pub const MAX_IN_FLIGHT: usize = 64;
/// Above this declared `Content-Length`, the request is never dropped (see [`respond`]).
const UNDROPPABLE_BODY: usize = 256 << 20;
const HANDLER_STACK: usize = 256 * 1024;

/// The OpenAPI description, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StatStreams,
    StatStream,
    StatChannels,
    StatChannel,
    ChannelCreate,
    ChannelSetPublisher,
    ChannelAddSubscriber,
    ChannelClose,
    StreamClose,
    StreamAccept,
    StreamReject,
    StreamChangeId,
    StreamNew,
    OpenApi,
}

/// One endpoint. `path` is written as in the OpenAPI document: a trailing `{id}` matches the rest
/// of the path (percent-decoded), so channel ids with slashes (`live/cam1`) work unescaped.
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// The `err` names this route answers besides the ones every route may answer
    /// (`Unauthorized`, `NotFound`, `MethodNotAllowed`, `BodyTooLarge`).
    pub errors: &'static [&'static str],
    op: Op,
}

const fn route(
    method: Method,
    path: &'static str,
    op: Op,
    errors: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        errors,
        op,
    }
}

/// Every endpoint the API answers.
pub static ROUTES: &[Route] = &[
    route(Method::Get, "/stat/streams", Op::StatStreams, &[]),
    route(
        Method::Get,
        "/stat/stream/{id}",
        Op::StatStream,
        &["StreamNotExists"],
    ),
    route(Method::Get, "/stat/channels", Op::StatChannels, &[]),
    route(
        Method::Get,
        "/stat/channel/{id}",
        Op::StatChannel,
        &["ChannelNotExists"],
    ),
    route(
        Method::Post,
        "/channel/create",
        Op::ChannelCreate,
        &["BadRequest", "ChannelExists"],
    ),
    route(
        Method::Post,
        "/channel/setPublisher",
        Op::ChannelSetPublisher,
        &[
            "BadRequest",
            "StreamNotExists",
            "ChannelNotExists",
            "ChannelAlreadyHasPublisher",
            "StreamStateInvalid",
        ],
    ),
    route(
        Method::Post,
        "/channel/addSubscriber",
        Op::ChannelAddSubscriber,
        &[
            "BadRequest",
            "StreamNotExists",
            "ChannelNotExists",
            "StreamStateInvalid",
            "BadCursor",
        ],
    ),
    route(
        Method::Post,
        "/channel/close",
        Op::ChannelClose,
        &["BadRequest", "ChannelNotExists"],
    ),
    route(
        Method::Post,
        "/stream/close",
        Op::StreamClose,
        &["BadRequest", "StreamNotExists"],
    ),
    route(
        Method::Post,
        "/stream/accept",
        Op::StreamAccept,
        &["BadRequest", "StreamNotExists", "StreamStateInvalid"],
    ),
    route(
        Method::Post,
        "/stream/reject",
        Op::StreamReject,
        &["BadRequest", "StreamNotExists", "StreamStateInvalid"],
    ),
    route(
        Method::Post,
        "/stream/changeid",
        Op::StreamChangeId,
        &["BadRequest", "StreamNotExists", "StreamExists"],
    ),
    route(
        Method::Post,
        "/stream/new",
        Op::StreamNew,
        &["BadRequest", "BadUrl", "StreamExists", "ChannelNotExists"],
    ),
    route(Method::Get, "/openapi.json", Op::OpenApi, &[]),
];

/// The error names any route may answer.
pub const COMMON_ERRORS: &[&str] = &[
    "Unauthorized",
    "NotFound",
    "MethodNotAllowed",
    "BodyTooLarge",
];

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

/// An error answer: `{"err": name, "detail": sentence}` with its status.
#[derive(Debug, Clone, PartialEq)]
struct ApiError {
    status: u16,
    err: &'static str,
    detail: String,
}

impl ApiError {
    fn new(status: u16, err: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            err,
            detail: detail.into(),
        }
    }

    fn bad(detail: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", detail)
    }

    fn into_reply(self, allow: Option<String>) -> Reply {
        Reply {
            status: self.status,
            body: json!({ "err": self.err, "detail": self.detail }),
            allow,
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> ApiError {
        ApiError::new(400, e.name(), e.detail())
    }
}

enum Resolved {
    Found(&'static Route, Option<String>),
    /// The path exists with other methods.
    WrongMethod(String),
    NotFound,
}

/// Match `path` against a route pattern; `Some(param)` on a match.
fn match_path(pattern: &str, path: &str) -> Option<Option<String>> {
    match pattern.strip_suffix("{id}") {
        Some(prefix) => {
            let rest = path.strip_prefix(prefix).filter(|r| !r.is_empty())?;
            percent_decode(rest, Decode::Path).map(Some)
        }
        None => (pattern == path).then_some(None),
    }
}

fn resolve(method: &str, path: &str) -> Resolved {
    let mut allowed: Vec<&str> = Vec::new();
    for r in ROUTES {
        if let Some(param) = match_path(r.path, path) {
            if r.method.as_str() == method {
                return Resolved::Found(r, param);
            }
            if !allowed.contains(&r.method.as_str()) {
                allowed.push(r.method.as_str());
            }
        }
    }
    if allowed.is_empty() {
        Resolved::NotFound
    } else {
        allowed.push("OPTIONS");
        Resolved::WrongMethod(allowed.join(", "))
    }
}

/// Compare without an early exit, so the time taken does not tell how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// `Authorization: Bearer TOKEN` (scheme case-insensitive) carrying exactly `token`.
fn authorized(header: Option<&str>, token: &str) -> bool {
    let Some(value) = header else { return false };
    let value = value.trim();
    let Some((scheme, given)) = value.split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

/// The fields of a JSON object body, read leniently (unknown fields are ignored, `null` counts as
/// absent) with messages that name the field.
struct Fields(Map<String, Value>);

impl Fields {
    fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("body is empty: expected a JSON object"));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad(format!("body is not valid JSON: {e}")))?;
        match value {
            Value::Object(map) => Ok(Fields(map)),
            other => Err(ApiError::bad(format!(
                "body must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A required id: a non-empty string, or a non-negative integer (taken as its decimal form).
    fn id(&self, name: &str) -> Result<String, ApiError> {
        let value = self
            .get(name)
            .ok_or_else(|| ApiError::bad(format!("field '{name}' is missing")))?;
        let id = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            _ => {
                return Err(ApiError::bad(format!(
                    "field '{name}' must be a string or a non-negative integer, not {}",
                    json_kind(value)
                )))
            }
        };
        if id.is_empty() {
            return Err(ApiError::bad(format!("field '{name}' must not be empty")));
        }
        Ok(id)
    }

    fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(ApiError::bad(format!(
                "field '{name}' must be true or false, not {}",
                json_kind(v)
            ))),
        }
    }

    fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(ApiError::bad(format!(
                "field '{name}' must be a string, not {}",
                json_kind(v)
            ))),
        }
    }

    fn opt_positive(&self, name: &str) -> Result<Option<usize>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|&n| n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("field '{name}' must be a positive integer"))),
        }
    }

    /// A duration string (`"120s"`, `"1.5s"`, `"500ms"`, `"2m"`) or a number of seconds, in ms.
    fn opt_duration_ms(&self, name: &str) -> Result<Option<u32>, ApiError> {
        let bad = || {
            ApiError::bad(format!(
                "field '{name}' must be a positive duration like \"120s\", \"1.5s\", \"500ms\" or \"2m\""
            ))
        };
        let duration = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => crate::text::parse_duration(s).map_err(|_| bad())?,
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(bad)?,
            Some(_) => return Err(bad()),
        };
        let ms = duration.as_millis();
        if ms == 0 {
            return Err(bad());
        }
        u32::try_from(ms).map(Some).map_err(|_| {
            ApiError::bad(format!(
                "field '{name}' is too long (at most {} ms)",
                u32::MAX
            ))
        })
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The API: the hub it steers and the token it requires.
pub struct Api {
    hub: Arc<Hub>,
    token: Option<String>,
}

impl Api {
    pub fn new(hub: Arc<Hub>, api_token: Option<String>) -> Api {
        Api {
            hub,
            token: api_token.filter(|t| !t.is_empty()),
        }
    }

    /// Decide the answer to one request.
    pub fn handle(&self, req: &ApiRequest<'_>) -> Reply {
        let path = req.url.split(['?', '#']).next().unwrap_or_default();
        // A CORS preflight carries no credentials: answer it without the token.
        if req.method == "OPTIONS" {
            return match resolve("OPTIONS", path) {
                Resolved::NotFound => not_found(path).into_reply(None),
                Resolved::WrongMethod(allow) => Reply {
                    status: 200,
                    body: json!({}),
                    allow: Some(allow),
                },
                Resolved::Found(..) => unreachable!("no route is OPTIONS"),
            };
        }
        if let Some(token) = &self.token {
            if !authorized(req.authorization, token) {
                let detail = if req.authorization.is_some() {
                    "the Authorization header does not carry the API token"
                } else {
                    "this API needs an 'Authorization: Bearer TOKEN' header"
                };
                return ApiError::new(401, "Unauthorized", detail).into_reply(None);
            }
        }
        let (route, param) = match resolve(req.method, path) {
            Resolved::Found(route, param) => (route, param),
            Resolved::NotFound => return not_found(path).into_reply(None),
            Resolved::WrongMethod(allow) => {
                let detail = format!("{path} answers {allow}, not {}", req.method);
                return ApiError::new(405, "MethodNotAllowed", detail).into_reply(Some(allow));
            }
        };
        let body = match req.body {
            Body::Complete(bytes) => bytes,
            Body::TooLarge => {
                let detail = format!("the request body is over {MAX_BODY} bytes");
                return ApiError::new(413, "BodyTooLarge", detail).into_reply(None);
            }
        };
        match self.run(route.op, param, body) {
            Ok(value) => Reply::ok(value),
            Err(e) => {
                debug_assert!(
                    route.errors.contains(&e.err),
                    "{} answered {}, which ROUTES does not list",
                    route.path,
                    e.err
                );
                e.into_reply(None)
            }
        }
    }

    fn run(&self, op: Op, param: Option<String>, body: &[u8]) -> Result<Value, ApiError> {
        let hub = &self.hub;
        let param = param.unwrap_or_default();
        let fields = || Fields::parse(body);
        match op {
            Op::StatStreams => Ok(hub.streams_json()),
            Op::StatStream => hub
                .stream(&param)
                .map(|s| s.stat_json())
                .ok_or_else(|| not_exists(HubError::StreamNotExists, &param)),
            Op::StatChannels => Ok(hub.channels_json()),
            Op::StatChannel => hub
                .channel(&param)
                .map(|c| c.stat_json())
                .ok_or_else(|| not_exists(HubError::ChannelNotExists, &param)),
            Op::ChannelCreate => {
                let f = fields()?;
                let id = f.id("id")?;
                let limits = create_limits(&f, hub.settings.limits)?;
                hub.create_channel(&id, limits)?;
                Ok(json!({}))
            }
            Op::ChannelSetPublisher => {
                let f = fields()?;
                let (id, stream_id) = (f.id("id")?, f.id("streamId")?);
                let replace = f.opt_bool("replace")?.unwrap_or(true);
                hub.set_publisher(&id, &stream_id, replace)?;
                Ok(json!({}))
            }
            Op::ChannelAddSubscriber => {
                let f = fields()?;
                let (id, stream_id) = (f.id("id")?, f.id("streamId")?);
                let cursor = f.opt_str("cursor")?.unwrap_or("latest");
                hub.add_subscriber(&id, &stream_id, cursor)?;
                Ok(json!({}))
            }
            Op::ChannelClose => {
                hub.close_channel(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamClose => {
                hub.close_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamAccept => {
                hub.accept_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamReject => {
                hub.reject_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamChangeId => {
                let f = fields()?;
                let (id, new_id) = (f.id("id")?, f.id("newid")?);
                hub.change_stream_id(&id, &new_id)?;
                Ok(json!({}))
            }
            Op::StreamNew => self.stream_new(body),
            Op::OpenApi => Ok(openapi_value().clone()),
        }
    }

    /// `POST /stream/new {id?, url, channel?, push?}`: start a pull or push proxy.
    fn stream_new(&self, body: &[u8]) -> Result<Value, ApiError> {
        let body = Value::Object(Fields::parse(body)?.0);
        let id = crate::relay::new_stream(&self.hub, &body)
            .map_err(|e| ApiError::new(400, e.name(), e.detail()))?;
        Ok(json!({ "id": id }))
    }
}

/// Buffer bounds for `/channel/create`. With none of the three fields, the server's defaults
/// apply. Naming any of them sets exactly the named bounds; the unnamed ones are unbounded, except
/// `bufferSize`, which falls back to the server default so memory always stays bounded.
/// (So `{"bufferDuration": "4s"}` keeps 4 s of media, not the default single GOP.)
fn create_limits(f: &Fields, defaults: BufferLimits) -> Result<BufferLimits, ApiError> {
    let size = f.opt_positive("bufferSize")?;
    let duration = f.opt_duration_ms("bufferDuration")?;
    let gops = f.opt_positive("bufferGopCount")?;
    if size.is_none() && duration.is_none() && gops.is_none() {
        return Ok(defaults);
    }
    Ok(BufferLimits {
        max_bytes: size.or(defaults.max_bytes),
        max_duration_ms: duration,
        max_gops: gops,
    })
}

fn not_exists(e: HubError, id: &str) -> ApiError {
    let what = if e == HubError::StreamNotExists {
        "stream"
    } else {
        "channel"
    };
    ApiError::new(404, e.name(), format!("no {what} has the id {id:?}"))
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("no endpoint {path}; GET /openapi.json lists them"),
    )
}

fn openapi_value() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(OPENAPI).expect("docs/openapi.json is valid JSON"))
}

// ---- sockets ----

/// A counting limit on requests in flight.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct SlotGuard(Arc<Slots>);

impl Slots {
    fn acquire(self: &Arc<Slots>) -> SlotGuard {
        let mut free = self.free.lock();
        while *free == 0 {
            self.freed.wait(&mut free);
        }
        *free -= 1;
        SlotGuard(self.clone())
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self.0.free.lock() += 1;
        self.0.freed.notify_one();
    }
}

/// Serve the API until the server is unblocked: each request is handled on its own `api-N` thread.
pub fn serve(server: tiny_http::Server, hub: Arc<Hub>, api_token: Option<String>) {
    let api = Arc::new(Api::new(hub, api_token));
    let slots = Arc::new(Slots {
        free: Mutex::new(MAX_IN_FLIGHT),
        freed: Condvar::new(),
    });
    let counter = AtomicU64::new(0);
    loop {
        let request = match server.recv() {
            Ok(r) => r,
            Err(e) if e.to_string() == "thread unblocked" => break,
            Err(e) => {
                // Accept errors (e.g. out of file descriptors): do not spin.
                log::warn!("api: accepting a connection failed: {e}");
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let slot = slots.acquire();
        let api = api.clone();
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        let spawned = thread::Builder::new()
            .name(format!("api-{n}"))
            .stack_size(HANDLER_STACK)
            .spawn(move || {
                let _slot = slot;
                respond(&api, request);
            });
        if let Err(e) = spawned {
            // The request is dropped with the closure: tiny_http answers 500.
            log::warn!("api: cannot start a request thread: {e}");
        }
    }
}

/// Read the body (never more than `MAX_BODY + 1` bytes, whatever Content-Length says), decide, write.
fn respond(api: &Api, mut request: tiny_http::Request) {
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let peer = request
        .remote_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_string());
    let declared = request.body_length();
    let mut buf = Vec::new();
    let body = if declared.is_some_and(|n| n > MAX_BODY) {
        Body::TooLarge
    } else {
        match request
            .as_reader()
            .take(MAX_BODY as u64 + 1)
            .read_to_end(&mut buf)
        {
            Ok(_) if buf.len() > MAX_BODY => Body::TooLarge,
            Ok(_) => Body::Complete(&buf),
            Err(e) => {
                log::debug!("api {peer}: {method} {url}: reading the body failed: {e}");
                return;
            }
        }
    };
    let reply = api.handle(&ApiRequest {
        method: &method,
        url: &url,
        authorization: authorization.as_deref(),
        body,
    });
    match reply.err() {
        None => log::debug!("api {peer}: {method} {url} -> {}", reply.status),
        Some(err) => log::info!(
            "api {peer}: {method} {url} -> {} {err}: {}",
            reply.status,
            reply.body["detail"].as_str().unwrap_or_default()
        ),
    }
    let response = to_response(&reply);
    if declared.is_some_and(|n| n > UNDROPPABLE_BODY) {
        // tiny_http 0.12 drains an unread body when the request is dropped, into one buffer the
        // size of what is left: an absurd Content-Length would abort the process. Take the
        // connection out of tiny_http's hands instead and leave it open (a leak, only for such
        // requests).
        log::warn!("api {peer}: {method} {url} announced a {declared:?}-byte body; leaving the connection open");
        let mut stream = request.upgrade("close", response);
        let _ = stream.write_all(format!("{}\n", reply.body).as_bytes());
        let _ = stream.flush();
        std::mem::forget(stream);
        return;
    }
    if let Err(e) = request.respond(response) {
        log::debug!("api {peer}: {method} {url}: writing the response failed: {e}");
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn to_response(reply: &Reply) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_string(format!("{}\n", reply.body))
        .with_status_code(reply.status)
        .with_header(header("Content-Type", CONTENT_TYPE))
        .with_header(header("Access-Control-Allow-Origin", "*"))
        .with_header(header("Cache-Control", "no-store"));
    if let Some(allow) = &reply.allow {
        response = response
            .with_header(header("Allow", allow))
            .with_header(header("Access-Control-Allow-Methods", allow))
            .with_header(header(
                "Access-Control-Allow-Headers",
                "Authorization, Content-Type",
            ))
            .with_header(header("Access-Control-Max-Age", "86400"));
    }
    if reply.status == 401 {
        response = response.with_header(header("WWW-Authenticate", "Bearer"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{HubSettings, NoEvents, StreamType};
    use std::collections::BTreeSet;

    fn api(token: Option<&str>) -> Api {
        let hub = Hub::new(HubSettings::default(), Arc::new(NoEvents));
        Api::new(hub, token.map(String::from))
    }

    fn call(api: &Api, method: &str, url: &str, body: &str) -> Reply {
        api.handle(&ApiRequest {
            method,
            url,
            authorization: None,
            body: Body::Complete(body.as_bytes()),
        })
    }

    fn post(api: &Api, url: &str, body: Value) -> Reply {
        call(api, "POST", url, &body.to_string())
    }

    fn assert_err(reply: &Reply, status: u16, err: &str) {
        assert_eq!(
            (reply.status, reply.err()),
            (status, Some(err)),
            "{reply:?}"
        );
        assert!(
            reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{reply:?}"
        );
    }

    fn detail(reply: &Reply) -> &str {
        reply.body["detail"].as_str().unwrap_or_default()
    }

    #[test]
    fn routes_resolve_by_path_and_method() {
        assert!(
            matches!(resolve("GET", "/stat/streams"), Resolved::Found(r, None) if r.op == Op::StatStreams)
        );
        assert!(
            matches!(resolve("GET", "/stat/stream/7"), Resolved::Found(r, Some(p)) if r.op == Op::StatStream && p == "7")
        );
        assert!(
            matches!(resolve("GET", "/stat/channel/live/cam%201"), Resolved::Found(_, Some(p)) if p == "live/cam 1")
        );
        assert!(matches!(
            resolve("GET", "/stat/stream/"),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve("GET", "/stat/streams/"),
            Resolved::NotFound
        ));
        assert!(matches!(
            resolve("GET", "/stat/channel/%zz"),
            Resolved::NotFound
        ));
        assert!(
            matches!(resolve("GET", "/channel/create"), Resolved::WrongMethod(a) if a == "POST, OPTIONS")
        );
        assert!(
            matches!(resolve("POST", "/stat/streams"), Resolved::WrongMethod(a) if a == "GET, OPTIONS")
        );
    }

    #[test]
    fn every_route_and_its_errors_are_in_the_openapi_document() {
        let doc = openapi_value();
        assert!(doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0")));
        let paths = doc["paths"].as_object().expect("paths");
        for r in ROUTES {
            let op = &paths
                .get(r.path)
                .unwrap_or_else(|| panic!("{} is missing from docs/openapi.json", r.path))
                [r.method.as_str().to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{} {} is not described",
                r.method.as_str(),
                r.path
            );
            // Every error name the route answers appears in one of its documented responses.
            let text = op.to_string();
            for err in r.errors.iter().chain(COMMON_ERRORS) {
                let described =
                    text.contains(&format!("\"{err}\"")) || resolves_error(doc, op, err);
                assert!(
                    described,
                    "{} {}: error {err} is not documented",
                    r.method.as_str(),
                    r.path
                );
            }
        }
        // And nothing documented is unreachable.
        let served: BTreeSet<(&str, String)> = ROUTES
            .iter()
            .map(|r| (r.path, r.method.as_str().to_ascii_lowercase()))
            .collect();
        for (path, ops) in paths {
            for method in ops
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
            {
                assert!(
                    served.contains(&(path.as_str(), method.clone())),
                    "docs/openapi.json describes {method} {path}, which the server does not answer"
                );
            }
        }
    }

    /// Follow `$ref`s of the operation's responses into components and look for the error name.
    fn resolves_error(doc: &Value, op: &Value, err: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        collect_refs(op, &mut todo);
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            let target = r
                .trim_start_matches("#/")
                .split('/')
                .fold(doc, |v, key| &v[key]);
            if target.to_string().contains(&format!("\"{err}\"")) {
                return true;
            }
            collect_refs(target, &mut todo);
        }
        false
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn stat_endpoints_answer_objects_and_404_for_unknown_ids() {
        let api = api(None);
        let s = api
            .hub
            .new_stream(StreamType::Rtmp, "127.0.0.1:5000".into());
        let r = call(&api, "GET", "/stat/streams", "");
        assert_eq!(r.status, 200);
        assert_eq!(r.body[s.id()]["stat"], "connecting");
        let r = call(
            &api,
            "GET",
            &format!("/stat/stream/{}?pretty=1", s.id()),
            "",
        );
        assert_eq!(
            (r.status, &r.body["remoteAddr"]),
            (200, &json!("127.0.0.1:5000"))
        );
        assert_err(
            &call(&api, "GET", "/stat/stream/99", ""),
            404,
            "StreamNotExists",
        );
        assert_err(
            &call(&api, "GET", "/stat/channel/nope", ""),
            404,
            "ChannelNotExists",
        );
        assert_eq!(call(&api, "GET", "/stat/channels", "").body, json!({}));
    }

    #[test]
    fn channel_create_applies_bounds_and_refuses_duplicates() {
        let api = api(None);
        let r = post(
            &api,
            "/channel/create",
            json!({"id": "a", "bufferDuration": "1.5s", "bufferGopCount": 4}),
        );
        assert_eq!(r, Reply::ok(json!({})));
        let limits = api.hub.channel("a").unwrap().limits();
        assert_eq!(limits.max_duration_ms, Some(1500));
        assert_eq!(limits.max_gops, Some(4));
        assert_eq!(limits.max_bytes, api.hub.settings.limits.max_bytes);
        assert_err(
            &post(&api, "/channel/create", json!({"id": "a"})),
            400,
            "ChannelExists",
        );

        assert_eq!(
            post(&api, "/channel/create", json!({"id": "b"})).status,
            200
        );
        assert_eq!(
            api.hub.channel("b").unwrap().limits(),
            api.hub.settings.limits
        );

        post(
            &api,
            "/channel/create",
            json!({"id": "c", "bufferSize": 1000, "bufferDuration": 2}),
        );
        let limits = api.hub.channel("c").unwrap().limits();
        assert_eq!(
            (limits.max_bytes, limits.max_duration_ms, limits.max_gops),
            (Some(1000), Some(2000), None)
        );
        post(
            &api,
            "/channel/create",
            json!({"id": 7, "bufferDuration": "2m"}),
        );
        assert_eq!(
            api.hub.channel("7").unwrap().limits().max_duration_ms,
            Some(120_000)
        );
        post(
            &api,
            "/channel/create",
            json!({"id": "d", "bufferDuration": "500ms", "unknown": [1]}),
        );
        assert_eq!(
            api.hub.channel("d").unwrap().limits().max_duration_ms,
            Some(500)
        );
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let api = api(None);
        let cases: &[(&str, &str, &str)] = &[
            ("/channel/create", "", "body is empty"),
            ("/channel/create", "{\"id\":", "body is not valid JSON"),
            (
                "/channel/create",
                "[1]",
                "body must be a JSON object, not an array",
            ),
            ("/channel/create", "{}", "field 'id' is missing"),
            ("/channel/create", "{\"id\":null}", "field 'id' is missing"),
            (
                "/channel/create",
                "{\"id\":\"\"}",
                "field 'id' must not be empty",
            ),
            (
                "/channel/create",
                "{\"id\":-1}",
                "field 'id' must be a string or a non-negative integer",
            ),
            (
                "/channel/create",
                "{\"id\":true}",
                "field 'id' must be a string or a non-negative integer",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferGopCount\":0}",
                "field 'bufferGopCount' must be a positive integer",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferGopCount\":1.5}",
                "field 'bufferGopCount' must be a positive integer",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferSize\":\"big\"}",
                "field 'bufferSize' must be a positive integer",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferDuration\":\"soon\"}",
                "field 'bufferDuration' must be a positive duration",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferDuration\":\"0s\"}",
                "field 'bufferDuration' must be a positive duration",
            ),
            (
                "/channel/create",
                "{\"id\":\"x\",\"bufferDuration\":[]}",
                "field 'bufferDuration' must be a positive duration",
            ),
            (
                "/channel/setPublisher",
                "{\"id\":\"x\"}",
                "field 'streamId' is missing",
            ),
            (
                "/channel/setPublisher",
                "{\"id\":\"x\",\"streamId\":\"1\",\"replace\":\"yes\"}",
                "field 'replace' must be true or false",
            ),
            (
                "/channel/addSubscriber",
                "{\"id\":\"x\",\"streamId\":1,\"cursor\":5}",
                "field 'cursor' must be a string",
            ),
            (
                "/stream/changeid",
                "{\"id\":\"1\"}",
                "field 'newid' is missing",
            ),
            (
                "/stream/close",
                "\"1\"",
                "body must be a JSON object, not a string",
            ),
            ("/stream/accept", "{\"ID\":\"1\"}", "field 'id' is missing"),
            (
                "/stream/reject",
                "{\"id\":{}}",
                "field 'id' must be a string or a non-negative integer",
            ),
            (
                "/channel/close",
                "{\"id\":[\"a\"]}",
                "field 'id' must be a string or a non-negative integer",
            ),
        ];
        for (path, body, want) in cases {
            let r = call(&api, "POST", path, body);
            assert_err(&r, 400, "BadRequest");
            assert!(
                detail(&r).starts_with(want),
                "POST {path} {body}: {:?} does not start with {want:?}",
                detail(&r)
            );
        }
        assert!(api.hub.channel("x").is_none());
    }

    #[test]
    fn stream_operations_report_the_hubs_errors() {
        let api = api(None);
        for path in ["/stream/close", "/stream/accept", "/stream/reject"] {
            assert_err(
                &post(&api, path, json!({"id": "9"})),
                400,
                "StreamNotExists",
            );
        }
        assert_err(
            &post(&api, "/channel/close", json!({"id": "9"})),
            400,
            "ChannelNotExists",
        );
        assert_err(
            &post(&api, "/stream/changeid", json!({"id": "9", "newid": "x"})),
            400,
            "StreamNotExists",
        );
        assert_err(
            &post(
                &api,
                "/channel/setPublisher",
                json!({"id": "c", "streamId": "9"}),
            ),
            400,
            "StreamNotExists",
        );
        assert_err(
            &post(
                &api,
                "/channel/addSubscriber",
                json!({"id": "c", "streamId": "9"}),
            ),
            400,
            "StreamNotExists",
        );
        assert_err(
            &post(&api, "/stream/new", json!({"url": "ftp://x/y"})),
            400,
            "BadUrl",
        );

        let a = api.hub.new_stream(StreamType::Rtmp, "x".into());
        let b = api.hub.new_stream(StreamType::Rtmp, "x".into());
        // A number id is its decimal string.
        assert_err(
            &post(&api, "/stream/accept", json!({"id": 1})),
            400,
            "StreamStateInvalid",
        );
        assert_err(
            &post(
                &api,
                "/channel/setPublisher",
                json!({"id": "c", "streamId": 1}),
            ),
            400,
            "ChannelNotExists",
        );
        assert_err(
            &post(
                &api,
                "/channel/addSubscriber",
                json!({"id": "c", "streamId": 1, "cursor": "sideways"}),
            ),
            400,
            "BadCursor",
        );
        assert_err(
            &post(
                &api,
                "/stream/changeid",
                json!({"id": a.id(), "newid": b.id()}),
            ),
            400,
            "StreamExists",
        );
        assert_eq!(
            post(
                &api,
                "/stream/changeid",
                json!({"id": a.id(), "newid": "cam"})
            )
            .status,
            200
        );
        assert_eq!(a.id(), "cam");

        post(&api, "/channel/create", json!({"id": "c"}));
        assert_eq!(
            post(
                &api,
                "/channel/setPublisher",
                json!({"id": "c", "streamId": "cam"})
            )
            .status,
            200
        );
        assert_err(
            &post(
                &api,
                "/channel/setPublisher",
                json!({"id": "c", "streamId": b.id(), "replace": false}),
            ),
            400,
            "ChannelAlreadyHasPublisher",
        );
        assert_err(
            &post(
                &api,
                "/channel/addSubscriber",
                json!({"id": "c", "streamId": "cam"}),
            ),
            400,
            "StreamStateInvalid",
        );
        assert_eq!(
            api.hub.channel("c").unwrap().stat_json()["publisher"],
            "cam"
        );
        assert_eq!(
            post(&api, "/stream/close", json!({"id": "cam"})).status,
            200
        );
        assert_eq!(post(&api, "/channel/close", json!({"id": "c"})).status, 200);
        assert!(api.hub.channel("c").is_none());
    }

    #[test]
    fn http_level_errors() {
        let api = api(None);
        assert_err(&call(&api, "GET", "/nope", ""), 404, "NotFound");
        assert_err(&call(&api, "GET", "/", ""), 404, "NotFound");
        let r = call(&api, "DELETE", "/stream/close", "");
        assert_err(&r, 405, "MethodNotAllowed");
        assert_eq!(r.allow.as_deref(), Some("POST, OPTIONS"));
        let r = api.handle(&ApiRequest {
            method: "POST",
            url: "/channel/create",
            authorization: None,
            body: Body::TooLarge,
        });
        assert_err(&r, 413, "BodyTooLarge");
        let r = call(&api, "OPTIONS", "/channel/create", "");
        assert_eq!((r.status, r.allow.as_deref()), (200, Some("POST, OPTIONS")));
        assert_err(&call(&api, "OPTIONS", "/nope", ""), 404, "NotFound");
        let r = call(&api, "GET", "/openapi.json", "");
        assert_eq!(
            (r.status, &r.body["info"]["title"]),
            (200, &json!("joy4 control API"))
        );
    }

    #[test]
    fn the_token_is_required_when_set() {
        let api = api(Some("s3cret"));
        let with = |auth: Option<&str>| {
            api.handle(&ApiRequest {
                method: "GET",
                url: "/stat/streams",
                authorization: auth,
                body: Body::Complete(b""),
            })
        };
        assert_err(&with(None), 401, "Unauthorized");
        assert_err(&with(Some("Bearer s3cre")), 401, "Unauthorized");
        assert_err(&with(Some("Bearer s3cret2")), 401, "Unauthorized");
        assert_err(&with(Some("Basic s3cret")), 401, "Unauthorized");
        assert_err(&with(Some("s3cret")), 401, "Unauthorized");
        assert_eq!(with(Some("Bearer s3cret")).status, 200);
        assert_eq!(with(Some("bearer  s3cret ")).status, 200);
        // Unknown paths do not reveal themselves without the token; preflights need none.
        assert_err(&call(&api, "GET", "/nope", ""), 401, "Unauthorized");
        assert_eq!(call(&api, "OPTIONS", "/stat/streams", "").status, 200);
        // An empty token means no token.
        assert_eq!(
            call(&self::api(Some("")), "GET", "/stat/streams", "").status,
            200
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn responses_are_json_with_cors() {
        let reply =
            ApiError::new(405, "MethodNotAllowed", "x").into_reply(Some("GET, OPTIONS".into()));
        let response = to_response(&reply);
        let get = |name: &'static str| {
            response
                .headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_string())
        };
        assert_eq!(response.status_code().0, 405);
        assert_eq!(get("Content-Type").as_deref(), Some(CONTENT_TYPE));
        assert_eq!(get("Access-Control-Allow-Origin").as_deref(), Some("*"));
        assert_eq!(get("Allow").as_deref(), Some("GET, OPTIONS"));
    }
}
