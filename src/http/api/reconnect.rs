//! `POST /stream/reconnect` and `POST /server/drain`: ReconnectRequests (Enhanced RTMP v2) to
//! RTMP clients, one or all, the drain waiting for them to leave.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::fields::Fields;
use super::render::ApiError;
use crate::hub::{Hub, ReconnectAsk, StreamState};

/// A drain waits this long unless told otherwise, and never longer than `DRAIN_MAX`.
const DRAIN_DEFAULT: Duration = Duration::from_secs(30);
const DRAIN_MAX: Duration = Duration::from_secs(300);
/// A `tcUrl` or `description` longer than this is refused.
const TEXT_MAX: usize = 1024;

fn ask_of(f: &Fields) -> Result<ReconnectAsk, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match f.opt_str(name)? {
            Some(s) if s.len() > TEXT_MAX || s.chars().any(char::is_control) => {
                Err(ApiError::bad(format!(
                    "field '{name}' must be at most {TEXT_MAX} bytes without control characters"
                )))
            }
            other => Ok(other.map(str::to_string)),
        }
    };
    Ok(ReconnectAsk {
        tc_url: text("tcUrl")?,
        description: text("description")?,
    })
}

/// `{"id", "tcUrl"?, "description"?}`.
pub(super) fn reconnect(hub: &Hub, body: &[u8]) -> Result<Value, ApiError> {
    let f = Fields::parse(body)?;
    let id = f.id("id")?;
    let ask = ask_of(&f)?;
    hub.reconnect_stream(&id, &ask)?;
    log::info!("api: ReconnectRequest sent to stream {id}");
    Ok(json!({}))
}

/// `{"tcUrl"?, "description"?, "timeout"?}`: every RTMP publisher, and every RTMP client that
/// advertised it follows ReconnectRequests (other servers' relays), is asked to go; answers
/// how many were asked, how many left within `timeout`, and how many remain.
pub(super) fn drain(hub: &Hub, body: &[u8]) -> Result<Value, ApiError> {
    let f = Fields::parse(body)?;
    let ask = ask_of(&f)?;
    let timeout = f
        .opt_duration_ms("timeout")?
        .map(|ms| Duration::from_millis(ms.into()))
        .unwrap_or(DRAIN_DEFAULT)
        .min(DRAIN_MAX);
    let mut asked = Vec::new();
    for stats in hub.stream_stats() {
        let Some(stream) = hub.stream(&stats.id) else {
            continue;
        };
        let wanted = stream.state() == StreamState::Publishing || stream.advertises_reconnect();
        if wanted && stream.request_reconnect(&ask) {
            asked.push(stream);
        }
    }
    log::info!(
        "api: drain: ReconnectRequest sent to {} streams",
        asked.len()
    );
    let end = Instant::now() + timeout;
    let remaining = |asked: &[std::sync::Arc<crate::hub::StreamHandle>]| {
        asked.iter().filter(|s| !s.is_closed()).count()
    };
    while remaining(&asked) > 0 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = asked.len() - remaining(&asked);
    Ok(json!({ "asked": asked.len(), "left": left, "remaining": asked.len() - left }))
}
