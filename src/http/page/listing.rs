//! The public channel list behind `GET /channels.json`: what a viewer may see of each channel
//! (name, codecs, picture size, bitrate, viewers, uptime) and nothing that identifies a
//! connection: no addresses, no publish or play parameters, no stream ids.

use serde_json::{json, Value};

use crate::hub::{ChannelStats, Hub, MediaInfo};

/// One channel as the watch page lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSummary {
    /// The channel name, `live/abc` (played at `/live/abc.flv`).
    pub name: String,
    /// Whether a publisher is on.
    pub live: bool,
    pub media: MediaInfo,
    /// The publisher's incoming bits per second over the last few seconds (0 when not live).
    pub bitrate: u64,
    /// Subscribers (RTMP and HTTP-FLV players, push relays).
    pub viewers: usize,
    /// Seconds since the current publisher started; since the channel was made when not live.
    pub uptime_secs: u64,
}

/// What the page needs of a channel's publisher.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PublisherFacts {
    pub bitrate: u64,
    pub uptime_secs: u64,
}

/// A channel's summary from its stats and, when it has one, its publisher's facts.
pub fn summarise(stats: &ChannelStats, publisher: Option<PublisherFacts>) -> ChannelSummary {
    ChannelSummary {
        name: stats.id.clone(),
        live: publisher.is_some(),
        media: stats.media.clone(),
        bitrate: publisher.map_or(0, |p| p.bitrate),
        viewers: stats.subscribers.len(),
        uptime_secs: publisher.map_or(stats.elapsed_secs as u64, |p| p.uptime_secs),
    }
}

/// Every channel of `hub`, by name.
pub fn channel_summaries(hub: &Hub) -> Vec<ChannelSummary> {
    let mut list: Vec<ChannelSummary> = hub
        .channel_stats()
        .iter()
        .map(|stats| {
            let publisher = stats
                .publisher
                .as_deref()
                .and_then(|id| hub.stream(id))
                .map(|p| PublisherFacts {
                    bitrate: p.bitrate(),
                    uptime_secs: p.started.elapsed().as_secs(),
                });
            summarise(stats, publisher)
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    list
}

fn video_json(media: &MediaInfo) -> Value {
    match media.video_codec {
        None => Value::Null,
        Some(codec) => json!({"codec": codec, "width": media.width, "height": media.height}),
    }
}

fn audio_json(media: &MediaInfo) -> Value {
    match media.audio_codec {
        None => Value::Null,
        Some(codec) => {
            json!({"codec": codec, "sampleRate": media.sample_rate, "channels": media.channels})
        }
    }
}

/// The body of `/channels.json`: `{"channels": [{name, live, video, audio, bitrate, viewers,
/// uptime}, ...]}`.
pub fn channels_json(list: &[ChannelSummary]) -> Value {
    let channels: Vec<Value> = list
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "live": c.live,
                "video": video_json(&c.media),
                "audio": audio_json(&c.media),
                "bitrate": c.bitrate,
                "viewers": c.viewers,
                "uptime": c.uptime_secs,
            })
        })
        .collect();
    json!({ "channels": channels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::BufferLimits;
    use std::time::SystemTime;

    fn stats() -> ChannelStats {
        ChannelStats {
            id: "live/abc".into(),
            created_at: SystemTime::UNIX_EPOCH,
            elapsed_secs: 99.7,
            subscribers: vec!["17".into(), "18".into()],
            limits: BufferLimits::default(),
            buffer_used: 1000,
            buffered_duration_ms: 2000,
            buffered_gops: 1,
            publisher: Some("16".into()),
            media: MediaInfo {
                video_codec: Some("H264"),
                width: Some(640),
                height: Some(360),
                audio_codec: Some("AAC"),
                sample_rate: Some(44_100),
                channels: Some(2),
            },
            totals: Default::default(),
        }
    }

    #[test]
    fn a_live_channel_shows_codecs_bitrate_viewers_and_publisher_uptime() {
        let publisher = PublisherFacts {
            bitrate: 930_000,
            uptime_secs: 42,
        };
        let body = channels_json(&[summarise(&stats(), Some(publisher))]);
        assert_eq!(
            body,
            json!({"channels": [{
                "name": "live/abc",
                "live": true,
                "video": {"codec": "H264", "width": 640, "height": 360},
                "audio": {"codec": "AAC", "sampleRate": 44100, "channels": 2},
                "bitrate": 930000,
                "viewers": 2,
                "uptime": 42,
            }]})
        );
    }

    #[test]
    fn a_channel_without_publisher_is_listed_as_not_live() {
        let mut stats = stats();
        stats.publisher = None;
        stats.media = MediaInfo::default();
        let summary = summarise(&stats, None);
        assert!(!summary.live);
        assert_eq!(summary.bitrate, 0);
        assert_eq!(summary.uptime_secs, 99);
        let body = channels_json(&[summary]);
        assert_eq!(body["channels"][0]["video"], Value::Null);
        assert_eq!(body["channels"][0]["audio"], Value::Null);
    }

    #[test]
    fn no_stream_id_or_buffer_detail_leaks_into_the_public_list() {
        let publisher = PublisherFacts {
            bitrate: 1,
            uptime_secs: 1,
        };
        let text = channels_json(&[summarise(&stats(), Some(publisher))]).to_string();
        for id in ["\"16\"", "\"17\"", "\"18\""] {
            assert!(!text.contains(id), "{id} in {text}");
        }
        for key in [
            "id",
            "publisher",
            "subscribers",
            "buffer",
            "remoteAddr",
            "params",
        ] {
            assert!(!text.contains(&format!("\"{key}")), "{key} in {text}");
        }
    }
}
