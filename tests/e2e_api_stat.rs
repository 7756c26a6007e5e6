//! The REST API's statistics: `/stat/streams`, `/stat/stream/ID`, `/stat/channel/ID` and
//! `/stat/channels` carry real values for an H.264+AAC publisher and its HTTP-FLV player. The API is
//! spoken with raw HTTP requests (`support::api`), so the client shares no code with the server.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::Duration;

use serde_json::{json, Value};
use support::api::*;
use support::*;

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`
fn is_rfc3339(text: &str) -> bool {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !(digits(0..4) && digits(5..7) && digits(8..10) && digits(11..13)) {
        return false;
    }
    if (b[4], b[7], b[10], b[13], b[16]) != (b'-', b'-', b'T', b':', b':')
        || !digits(14..16)
        || !digits(17..19)
    {
        return false;
    }
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

#[test]
fn stat_fields_are_real_values_for_an_h264_aac_publish() {
    let clip = clip();
    let probe = ffprobe(&clip, Count::Nothing).expect("probe the clip");
    let clip_secs = probe.duration.unwrap_or(CLIP_SECS as f64);
    let clip_bitrate = std::fs::metadata(&clip).unwrap().len() as f64 * 8.0 / clip_secs;

    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url("live/stat"));
    wait_for_channel(&mut server, "live/stat", &mut publisher);
    let dir = TestDir::new();
    let _player = record(&server.flv_url("live/stat"), &dir.file("rec.flv"), 12.0);
    let api = server.api_addr;

    // The bitrate is averaged over complete seconds of a 5 s window: let it fill.
    let (pid, first) = wait_stream(&server, "a publisher for 6 s", secs(15.0), |s| {
        is_publisher("stat")(s) && s["elapsed"].as_f64().unwrap_or(0.0) >= 6.0
    });
    thread::sleep(Duration::from_millis(1500));
    let (status, second) = get(api, &format!("/stat/stream/{pid}"));
    assert_eq!(status, 200, "{second}");

    let s = &second;
    assert_eq!(s["id"], pid.as_str());
    assert!(
        is_rfc3339(s["createdAt"].as_str().unwrap_or_default()),
        "createdAt {}",
        s["createdAt"]
    );
    assert_eq!(
        (&s["type"], &s["stat"]),
        (&json!("rtmp"), &json!("publishing"))
    );
    assert_eq!(s["rtmp"]["command"], "publish");
    assert_eq!(s["rtmp"]["streamName"], "stat");
    assert_eq!(s["rtmp"]["connectParams"]["app"], "live");
    let tc_url = s["rtmp"]["connectParams"]["tcUrl"]
        .as_str()
        .unwrap_or_default();
    assert!(
        tc_url.starts_with("rtmp://127.0.0.1:") && tc_url.ends_with("/live"),
        "tcUrl {tc_url}"
    );
    assert!(s["rtmp"]["params"].is_object());
    assert!(
        s["remoteAddr"]
            .as_str()
            .unwrap_or_default()
            .starts_with("127.0.0.1:"),
        "{s}"
    );
    assert_eq!(
        s["audio"],
        json!({"type": "AAC", "samplerate": 44100, "channelCount": 2})
    );
    assert_eq!(
        s["video"],
        json!({"type": "H264", "width": 640, "height": 360})
    );
    assert_eq!(s["channel"], "live/stat");
    assert_eq!(s["droppedPackets"], 0);
    let bitrate = s["bitrate"].as_f64().unwrap_or(0.0);
    assert!(
        (bitrate - clip_bitrate).abs() <= 0.2 * clip_bitrate,
        "bitrate {bitrate} is not within 20 % of the clip's {clip_bitrate:.0}"
    );
    let num = |v: &Value, k: &str| v[k].as_f64().unwrap_or(-1.0);
    assert!(
        num(s, "time") >= num(&first, "time") + 1.0,
        "time {} then {}",
        first["time"],
        s["time"]
    );
    assert!(
        num(s, "time") > 5.0 && num(s, "time") < num(s, "elapsed") + 1.0,
        "{s}"
    );
    assert!(
        num(s, "bytes") > num(&first, "bytes"),
        "bytes {} then {}",
        first["bytes"],
        s["bytes"]
    );
    assert!(num(s, "elapsed") > num(&first, "elapsed"));

    // The player: its channel's media, its own bytes.
    let (player_id, player) = wait_stream(&server, "the HTTP-FLV player", secs(10.0), |s| {
        s["type"] == "http-flv"
            && s["stat"] == "subscribing"
            && s["elapsed"].as_f64().unwrap_or(0.0) > 2.0
    });
    assert_eq!(player["channel"], "live/stat");
    assert_eq!(
        player["video"],
        json!({"type": "H264", "width": 640, "height": 360})
    );
    assert_eq!(player["audio"]["type"], "AAC");
    assert!(player["rtmp"].is_null());
    assert!(num(&player, "bytes") > 100_000.0, "{player}");

    // The whole map carries the same objects.
    let (_, all) = get(api, "/stat/streams");
    assert_eq!(all[&pid]["id"], pid.as_str());
    assert_eq!(all[&player_id]["type"], "http-flv");

    // Channels: by id, with the slash unescaped or escaped.
    let (status, ch) = get(api, "/stat/channel/live/stat");
    assert_eq!(status, 200, "{ch}");
    assert_eq!(get(api, "/stat/channel/live%2Fstat").1["id"], "live/stat");
    assert!(
        is_rfc3339(ch["createdAt"].as_str().unwrap_or_default()),
        "{ch}"
    );
    assert!(num(&ch, "elapsed") > 5.0);
    assert_eq!(ch["publisher"], pid.as_str());
    assert_eq!(ch["subscriberCount"], 1, "{ch}");
    assert_eq!(ch["subscribers"], json!([player_id]));
    assert_eq!(ch["bufferSize"], 16 * 1024 * 1024);
    assert_eq!(ch["bufferGopCount"], 1);
    assert!(num(&ch, "bufferUsed") > 10_000.0, "{ch}");
    let (_, channels) = get(api, "/stat/channels");
    assert_eq!(channels["live/stat"]["publisher"], pid.as_str());
    server.assert_alive("after the stat checks");
}
