//! The fields of `POST /stream/new`, checked one by one, and the URL a pull reads from.

use serde_json::Value;

use crate::rtmp::client::{self, RtmpUrl};
use std::fmt;

/// Why `POST /stream/new` was refused (answered `400 {"err": name, "detail": detail}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyError {
    /// A URL the proxy cannot use: scheme, host, port, path.
    BadUrl(String),
    /// The requested id is taken.
    StreamExists(String),
    /// A push names a channel that does not exist.
    ChannelNotExists(String),
    /// The body is not an object, or a field is missing or of the wrong type.
    BadRequest(String),
}

impl ProxyError {
    pub fn name(&self) -> &'static str {
        match self {
            ProxyError::BadUrl(_) => "BadUrl",
            ProxyError::StreamExists(_) => "StreamExists",
            ProxyError::ChannelNotExists(_) => "ChannelNotExists",
            ProxyError::BadRequest(_) => "BadRequest",
        }
    }

    /// A sentence for the answer's `detail`.
    pub fn detail(&self) -> String {
        match self {
            ProxyError::BadUrl(why) => why.clone(),
            ProxyError::StreamExists(id) => format!("a stream with id {id:?} already exists"),
            ProxyError::ChannelNotExists(id) => format!("no channel has id {id:?}"),
            ProxyError::BadRequest(why) => why.clone(),
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name(), self.detail())
    }
}

impl std::error::Error for ProxyError {}

/// Where a pull reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Source {
    Rtmp(RtmpUrl),
    /// An `http://…` URL of a live FLV body.
    HttpFlv(String),
}

impl Source {
    fn parse(url: &str) -> Result<Source, ProxyError> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("rtmp") => RtmpUrl::parse(url)
                .map(Source::Rtmp)
                .map_err(|e| ProxyError::BadUrl(format!("{url:?}: {}", e.reason))),
            Some("http") => check_http_url(url)
                .map(|()| Source::HttpFlv(url.to_string()))
                .map_err(|why| ProxyError::BadUrl(format!("{url:?}: {why}"))),
            Some(other) => Err(ProxyError::BadUrl(format!(
                "{url:?}: scheme {other:?} is not supported (rtmp:// or http://)"
            ))),
            None => Err(ProxyError::BadUrl(format!(
                "{url:?} is not a URL: expected rtmp://host[:port]/app/name or http://host[:port]/name.flv"
            ))),
        }
    }
}

/// `http://host[:port]/path`: a host, a valid port and a path.
fn check_http_url(url: &str) -> Result<(), String> {
    let rest = &url["http://".len()..];
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    client::parse_authority(authority, 80)?;
    if path.trim_start_matches('/').is_empty() {
        return Err("the path (e.g. /live/abc.flv) is missing".into());
    }
    Ok(())
}

/// The fields of `POST /stream/new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProxyRequest {
    pub(super) id: Option<String>,
    pub(super) url: String,
    pub(super) source: Source,
    pub(super) channel: Option<String>,
    pub(super) push: bool,
}

impl ProxyRequest {
    pub(super) fn parse(body: &Value) -> Result<ProxyRequest, ProxyError> {
        let bad = |why: String| ProxyError::BadRequest(why);
        let Value::Object(fields) = body else {
            return Err(bad("body must be a JSON object".into()));
        };
        let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
        let url = match field("url") {
            None => return Err(bad("field 'url' is missing".into())),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(bad("field 'url' must be a string".into())),
        };
        let id = match field("id") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
            Some(_) => {
                return Err(bad(
                    "field 'id' must be a non-empty string or a non-negative integer".into(),
                ))
            }
        };
        let channel = match field("channel") {
            None => None,
            Some(Value::String(s)) if !s.trim_matches('/').is_empty() => {
                Some(s.trim_matches('/').to_string())
            }
            Some(_) => return Err(bad("field 'channel' must be a non-empty string".into())),
        };
        let push = match field("push") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("field 'push' must be true or false".into())),
        };
        let source = Source::parse(&url)?;
        if push {
            if channel.is_none() {
                return Err(bad(
                    "field 'channel' is missing: a push publishes a channel".into(),
                ));
            }
            if !matches!(source, Source::Rtmp(_)) {
                return Err(ProxyError::BadUrl(format!(
                    "{url:?}: a push needs an rtmp:// URL"
                )));
            }
        }
        Ok(ProxyRequest {
            id,
            url,
            source,
            channel,
            push,
        })
    }
}
