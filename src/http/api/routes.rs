//! The route table: every endpoint with its method, path pattern and the error names it may
//! answer, and the lookup of a request's method and path in it.

use std::sync::OnceLock;

use serde_json::Value;

use crate::text::{percent_decode, Decode};

/// The OpenAPI description, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

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
pub(super) enum Op {
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
    StreamReconnect,
    ServerDrain,
    OpenApi,
    Stat,
    Metrics,
    Events,
    ChannelRecord,
    Recordings,
    RecordingFile,
    RecordingSpan,
    RecordingDelete,
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
    pub(super) op: Op,
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
        &["BadRequest", "ChannelExists", "RecordingDisabled"],
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
    route(
        Method::Post,
        "/stream/reconnect",
        Op::StreamReconnect,
        &["BadRequest", "StreamNotExists", "StreamStateInvalid"],
    ),
    route(
        Method::Post,
        "/server/drain",
        Op::ServerDrain,
        &["BadRequest"],
    ),
    route(Method::Get, "/openapi.json", Op::OpenApi, &[]),
    route(Method::Get, "/stat", Op::Stat, &[]),
    route(Method::Get, "/metrics", Op::Metrics, &[]),
    route(Method::Get, "/events", Op::Events, &["BadRequest"]),
    route(
        Method::Post,
        "/channel/record",
        Op::ChannelRecord,
        &["BadRequest", "ChannelNotExists", "RecordingDisabled"],
    ),
    route(
        Method::Get,
        "/recordings",
        Op::Recordings,
        &["RecordingDisabled"],
    ),
    route(
        Method::Get,
        "/recordings/file",
        Op::RecordingFile,
        &[
            "BadRequest",
            "RecordingDisabled",
            "RecordingNotFound",
            "RecordingIoError",
        ],
    ),
    route(
        Method::Get,
        "/recordings/get",
        Op::RecordingSpan,
        &[
            "BadRequest",
            "RecordingDisabled",
            "RecordingNotFound",
            "RecordingIoError",
        ],
    ),
    route(
        Method::Post,
        "/recordings/delete",
        Op::RecordingDelete,
        &[
            "BadRequest",
            "RecordingDisabled",
            "RecordingNotFound",
            "RecordingBusy",
            "RecordingIoError",
        ],
    ),
];

/// The error names every POST route may answer besides [`COMMON_ERRORS`]: a body that is not
/// declared as JSON, and a browser page from an origin not in `-apicors`.
pub const POST_ERRORS: &[&str] = &["UnsupportedMediaType", "OriginNotAllowed"];

/// The error names any route may answer.
pub const COMMON_ERRORS: &[&str] = &[
    "Unauthorized",
    "NotFound",
    "MethodNotAllowed",
    "BodyTooLarge",
];

pub(super) enum Resolved {
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

pub(super) fn resolve(method: &str, path: &str) -> Resolved {
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

/// [`OPENAPI`], parsed once.
pub(super) fn openapi_value() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(OPENAPI).expect("docs/openapi.json is valid JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
            let post_errors = if r.method == Method::Post {
                POST_ERRORS
            } else {
                &[]
            };
            for err in r.errors.iter().chain(COMMON_ERRORS).chain(post_errors) {
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
}
