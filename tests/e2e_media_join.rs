//! What a late joiner gets, byte by byte, over HTTP-FLV and RTMP (raw readers from `tests/support`),
//! and the tracks ffprobe sees when it joins late.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// Checks the start of a subscription: onMetaData, then both sequence headers, then media from a
/// keyframe, never more than one GOP of backlog, timestamps never going backwards.
fn check_join_sequence(tags: &[(Duration, FlvTag)]) -> Result<(), String> {
    let list = || {
        tags.iter()
            .take(12)
            .map(|(_, t)| t.describe())
            .collect::<Vec<_>>()
    };
    let first = tags.first().ok_or("no tags")?;
    if first.1.script_name().as_deref() != Some("onMetaData") {
        return Err(format!("first tag is not onMetaData: {:?}", list()));
    }
    let first_media = tags
        .iter()
        .position(|(_, t)| t.is_media())
        .ok_or_else(|| format!("no media: {:?}", list()))?;
    let before = &tags[..first_media];
    if !before.iter().any(|(_, t)| t.is_avc_sequence_header()) {
        return Err(format!(
            "no AVC sequence header before the first media tag: {:?}",
            list()
        ));
    }
    if !before.iter().any(|(_, t)| t.is_aac_sequence_header()) {
        return Err(format!(
            "no AAC sequence header before the first media tag: {:?}",
            list()
        ));
    }
    let first_video = tags
        .iter()
        .find(|(_, t)| t.is_video() && t.is_media())
        .ok_or("no video frame")?;
    if !first_video.1.is_video_keyframe() {
        return Err(format!(
            "first video frame is not a keyframe: {}",
            first_video.1.describe()
        ));
    }
    for kind in [8u8, 9] {
        let ts: Vec<u32> = tags
            .iter()
            .filter(|(_, t)| t.tag_type == kind && t.is_media())
            .map(|(_, t)| t.timestamp)
            .collect();
        if let Some(w) = ts.windows(2).find(|w| w[1] < w[0]) {
            return Err(format!(
                "type {kind} timestamps go backwards: {} then {}",
                w[0], w[1]
            ));
        }
    }
    // The backlog delivered at once is at most the latest GOP (2 s), not the whole history.
    let t0 = tags[0].0;
    let burst: Vec<u32> = tags
        .iter()
        .filter(|(at, t)| *at <= t0 + Duration::from_millis(300) && t.is_video() && t.is_media())
        .map(|(_, t)| t.timestamp)
        .collect();
    if let (Some(lo), Some(hi)) = (burst.iter().min(), burst.iter().max()) {
        if hi - lo > 2500 {
            return Err(format!(
                "joined with {} ms of video backlog; want at most the latest 2 s GOP",
                hi - lo
            ));
        }
    }
    let vspan = tags
        .iter()
        .filter(|(_, t)| t.is_video())
        .map(|(_, t)| t.timestamp)
        .max()
        .unwrap_or(0)
        - first_video.1.timestamp;
    if vspan < 2000 {
        return Err(format!(
            "only {vspan} ms of video arrived in the observation window"
        ));
    }
    Ok(())
}

#[test]
fn http_flv_response_headers_and_late_joiner_tag_order() {
    let (mut server, _publisher) = server_with_publisher("live/late");
    thread::sleep(Duration::from_millis(4500)); // past two GOPs: a late joiner must start at the latest
    let start = Instant::now();
    let mut s =
        FlvStream::open(server.http_addr, "/live/late.flv", Duration::from_secs(5)).unwrap();
    assert_eq!(s.head.status, 200, "{:?}", s.head);
    let ct = s.head.header("content-type").unwrap_or("");
    assert!(
        ct.eq_ignore_ascii_case("video/x-flv"),
        "Content-Type {ct:?}"
    );
    assert_eq!(
        s.head.header("access-control-allow-origin"),
        Some("*"),
        "{:?}",
        s.head
    );
    assert!(
        s.head.header("content-length").is_none(),
        "a live body must not have a Content-Length: {:?}",
        s.head
    );

    let h = s.header(Duration::from_secs(5)).unwrap();
    assert_eq!(h.version, 1);
    assert!(
        h.has_audio() && h.has_video(),
        "FLV header flags {:#x}, want audio+video (5)",
        h.flags
    );

    let mut tags = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        match s.next_tag_until(end) {
            Ok(Some(t)) => tags.push((start.elapsed(), t)),
            Ok(None) => panic!("stream ended early\n{}", server.describe()),
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("{e}\n{}", server.describe()),
        }
    }
    if let Err(e) = check_join_sequence(&tags) {
        panic!("HTTP-FLV late joiner: {e}\n{}", server.describe());
    }
    server.assert_alive("after the HTTP-FLV late joiner");
}

#[test]
fn rtmp_late_joiner_gets_status_metadata_headers_then_keyframe() {
    let (mut server, _publisher) = server_with_publisher("live/late");
    thread::sleep(Duration::from_millis(4500));
    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    let sid = c.create_stream().unwrap();
    let start = Instant::now();
    c.play(sid, "late").unwrap();
    let (_, before) = c
        .wait_for(Duration::from_secs(5), "NetStream.Play.Start", |m| {
            m.status_code().as_deref() == Some("NetStream.Play.Start")
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    assert!(
        !before.iter().any(|m| matches!(m.type_id, 8 | 9)),
        "media arrived before NetStream.Play.Start: {:?}",
        before.iter().map(|m| m.describe()).collect::<Vec<_>>()
    );

    let mut tags = Vec::new();
    let end = Instant::now() + Duration::from_secs(3);
    loop {
        match c.read_message_until(end) {
            Ok(m) => {
                let sample_access = m.command_name().as_deref() == Some("|RtmpSampleAccess");
                if matches!(m.type_id, 8 | 9) || (m.type_id == 18 && !sample_access) {
                    assert_eq!(
                        m.stream_id, sid,
                        "media on message stream {} instead of {sid}",
                        m.stream_id
                    );
                    tags.push((start.elapsed(), m.as_flv_tag()));
                }
            }
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("{e}\n{}", server.describe()),
        }
    }
    // Measure the backlog from the first tag after Play.Start, like the HTTP check.
    if let Err(e) = check_join_sequence(&tags) {
        panic!("RTMP late joiner: {e}\n{}", server.describe());
    }
    server.assert_alive("after the RTMP late joiner");
}

/// A late joiner sees exactly the publisher's two tracks: onMetaData must read as metadata (it is
/// stamped 0, as at the start of a file), not as an extra data track.
#[test]
fn late_joiners_see_only_the_audio_and_video_tracks() {
    let (mut server, mut publisher) = server_with_publisher("live/tracks");
    std::thread::sleep(Duration::from_secs(3));
    for url in [
        server.flv_url("live/tracks"),
        server.rtmp_url("live/tracks"),
    ] {
        let probe = ffprobe(Path::new(&url), Count::Nothing)
            .unwrap_or_else(|e| panic!("ffprobe {url}: {e}\n{}", server.describe()));
        let kinds: Vec<&str> = probe
            .streams
            .iter()
            .map(|s| s.codec_type.as_str())
            .collect();
        assert_eq!(kinds.len(), 2, "{url}: tracks {kinds:?}");
        assert!(
            kinds.contains(&"video") && kinds.contains(&"audio"),
            "{url}: {kinds:?}"
        );
    }
    assert!(publisher.is_running(), "{}", publisher.describe());
    server.assert_alive("after probing");
}
