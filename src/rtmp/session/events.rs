//! What the session reports to the application, and the channel a request names.

use crate::amf0::Amf0Value;
use crate::media::Packet;

/// A request the application must answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRequest {
    /// Message stream id the client used (from createStream).
    pub stream_id: u32,
    pub app: String,
    /// The stream name without its query string.
    pub name: String,
    /// The query string after the name (`abc?token=x` gives `token=x`), possibly empty.
    pub query: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// `connect` was answered; `command_object` is the client's connect object (tcUrl, app, …).
    /// `command_object` is a bounded copy (see `CONNECT_SUMMARY_VALUES`): the application may
    /// keep it for the connection's life.
    Connected {
        command_object: Amf0Value,
    },
    PublishRequested(StreamRequest),
    PlayRequested(StreamRequest),
    Media(Packet),
    /// FCUnpublish, deleteStream or closeStream of the publishing stream.
    PublishEnded,
    /// deleteStream or closeStream of the playing stream.
    PlayEnded,
}

/// Split `name?query`.
pub(super) fn split_query(name: &str) -> (String, String) {
    match name.split_once('?') {
        Some((n, q)) => (n.to_string(), q.to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// The channel a request names: `rtmp://host/1` (app `1`, name `1`) is channel `1`;
/// `rtmp://host/live/abc` is `live/abc`. A query string on the app is dropped.
pub fn channel_path(app: &str, name: &str) -> String {
    let app = app.split('?').next().unwrap_or_default().trim_matches('/');
    let name = name.trim_matches('/');
    if app.is_empty() || app == name {
        name.to_string()
    } else if name.is_empty() {
        app.to_string()
    } else {
        format!("{app}/{name}")
    }
}
