//! The hub's stats snapshots and events as the API and the callbacks show them.

use serde_json::{json, Map, Value};

use super::amf_json::amf_to_json;
use crate::hub::{ChannelStats, HubEvent, MediaInfo, RecordDone, RtmpInfo, StreamStats};
use crate::text::rfc3339;

pub fn rtmp_json(info: &RtmpInfo) -> Value {
    let params: Map<String, Value> = info
        .params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "command": info.command,
        "connectParams": info
            .connect_params
            .as_ref()
            .map_or(Value::Null, |object| amf_to_json(&object.value())),
        "streamName": info.stream_name,
        "params": params,
    })
}

pub fn audio_json(media: &MediaInfo) -> Value {
    match media.audio_codec {
        None => Value::Null,
        Some(t) => {
            json!({"type": t, "samplerate": media.sample_rate, "channelCount": media.channels})
        }
    }
}

pub fn video_json(media: &MediaInfo) -> Value {
    match media.video_codec {
        None => Value::Null,
        Some(t) => json!({"type": t, "width": media.width, "height": media.height}),
    }
}

/// The stat object of `/stat/stream/{id}` and of the streamConnected event.
pub fn stream_json(s: &StreamStats) -> Value {
    json!({
        "id": s.id,
        "createdAt": rfc3339(s.created_at),
        "elapsed": s.elapsed_secs,
        "type": s.stream_type.as_str(),
        "stat": s.state.as_str(),
        "rtmp": s.rtmp.as_ref().map(rtmp_json),
        "remoteAddr": s.remote_addr,
        "audio": audio_json(&s.media),
        "video": video_json(&s.media),
        "bitrate": s.bitrate,
        "time": s.time_secs,
        "bytes": s.bytes,
        "channel": s.channel,
        "droppedPackets": s.dropped_packets,
    })
}

/// The `/stat/channel/{id}` object.
pub fn channel_json(c: &ChannelStats) -> Value {
    json!({
        "id": c.id,
        "createdAt": rfc3339(c.created_at),
        "elapsed": c.elapsed_secs,
        "subscriberCount": c.subscribers.len(),
        "subscribers": c.subscribers,
        "bufferSize": c.limits.max_bytes,
        "bufferUsed": c.buffer_used,
        "bufferDuration": c.limits.max_duration_ms.map(|ms| ms as f64 / 1000.0),
        "bufferGopCount": c.limits.max_gops,
        "bufferedDuration": c.buffered_duration_ms as f64 / 1000.0,
        "bufferedGops": c.buffered_gops,
        "publisher": c.publisher.clone().unwrap_or_default(),
    })
}

/// `/stat/streams`: every stream by id.
pub fn streams_json(streams: &[StreamStats]) -> Value {
    Value::Object(
        streams
            .iter()
            .map(|s| (s.id.clone(), stream_json(s)))
            .collect(),
    )
}

/// `/stat/channels`: every channel by id.
pub fn channels_json(channels: &[ChannelStats]) -> Value {
    Value::Object(
        channels
            .iter()
            .map(|c| (c.id.clone(), channel_json(c)))
            .collect(),
    )
}

/// The body a callback posts for `event` (to `…/event/NAME`, NAME = `event.name()`).
pub fn event_json(event: &HubEvent) -> Value {
    match event {
        HubEvent::StreamCheckParams {
            id,
            stream_type,
            remote_addr,
            rtmp,
        } => json!({
            "id": id,
            "type": stream_type.as_str(),
            "remoteAddr": remote_addr,
            "rtmp": rtmp.as_ref().map(rtmp_json),
        }),
        HubEvent::StreamConnected(stats) => stream_json(stats),
        HubEvent::StreamClose {
            id,
            reason,
            bytes,
            elapsed_secs,
        } => json!({
            "id": id,
            "reason": reason.as_str(),
            "bytes": bytes,
            "elapsed": elapsed_secs,
        }),
        HubEvent::ChannelClose { id } => json!({ "id": id }),
        HubEvent::RecordDone(done) => record_done_json(done),
    }
}

/// The `recordDone` event: `detail` only with reasons that have one.
pub fn record_done_json(done: &RecordDone) -> Value {
    let mut body = json!({
        "channel": done.channel,
        "name": done.name,
        "path": done.path,
        "start": rfc3339(done.start),
        "duration": done.duration_secs,
        "bytes": done.bytes,
        "reason": done.reason,
    });
    if let Some(detail) = &done.detail {
        body["detail"] = Value::String(detail.clone());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{CloseReason, StreamState, StreamType};
    use std::time::{Duration, SystemTime};

    fn stats() -> StreamStats {
        StreamStats {
            id: "3".into(),
            created_at: SystemTime::UNIX_EPOCH + Duration::from_secs(86_400),
            elapsed_secs: 1.5,
            stream_type: StreamType::HttpFlv,
            state: StreamState::Subscribing,
            rtmp: None,
            remote_addr: "1.2.3.4:5".into(),
            media: MediaInfo {
                video_codec: Some("H264"),
                width: Some(640),
                height: Some(360),
                ..MediaInfo::default()
            },
            bitrate: 8000,
            time_secs: 2.0,
            bytes: 1234,
            channel: Some("live/a".into()),
            dropped_packets: 0,
        }
    }

    #[test]
    fn stream_stats_render_with_the_api_field_names() {
        let v = stream_json(&stats());
        assert_eq!(v["id"], "3");
        assert_eq!(v["type"], "http-flv");
        assert_eq!(v["stat"], "subscribing");
        assert_eq!(v["createdAt"], "1970-01-02T00:00:00.000+00:00");
        assert_eq!(
            v["video"],
            json!({"type": "H264", "width": 640, "height": 360})
        );
        assert_eq!(v["audio"], Value::Null);
        assert_eq!(v["channel"], "live/a");
        assert_eq!(v["rtmp"], Value::Null);
    }

    #[test]
    fn events_render_as_the_callbacks_post_them() {
        let close = HubEvent::StreamClose {
            id: "3".into(),
            reason: CloseReason::ApiClose,
            bytes: 10,
            elapsed_secs: 0.5,
        };
        assert_eq!(close.name(), "streamClose");
        assert_eq!(
            event_json(&close),
            json!({"id": "3", "reason": "apiClose", "bytes": 10, "elapsed": 0.5})
        );
        let connected = HubEvent::StreamConnected(Box::new(stats()));
        assert_eq!(event_json(&connected)["remoteAddr"], "1.2.3.4:5");
        let check = HubEvent::StreamCheckParams {
            id: "4".into(),
            stream_type: StreamType::Rtmp,
            remote_addr: "x".into(),
            rtmp: Some(RtmpInfo {
                command: "play".into(),
                params: vec![("token".into(), "a b".into())],
                ..RtmpInfo::default()
            }),
        };
        let body = event_json(&check);
        assert_eq!(body["rtmp"]["params"]["token"], "a b");
        assert_eq!(body["rtmp"]["connectParams"], Value::Null);
    }
}
