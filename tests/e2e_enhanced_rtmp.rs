//! Enhanced RTMP video (HEVC `hvc1`, AV1 `av01`, and both at once as multitrack) passes through
//! joy4 byte for byte, to an RTMP player and an HTTP-FLV reader, and `/stat/streams` names the codec
//! and picture size.
//!
//! Debian's ffmpeg cannot publish Enhanced RTMP, so the test makes the tags itself: ffmpeg encodes
//! libx265 Annex-B and libaom AV1 OBUs, the test wraps them into `hvcC` / `av1C` sequence starts and
//! coded frames, and publishes them with the test support's own RTMP client.

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::api::wait_stream;
use support::enhanced::*;
use support::*;

/// Multitrack, many tracks with many codecs: track 0 is `tracks[0]`, track 1 `tracks[1]`, … in
/// each tag; the keyframe flag follows track 0.
fn multitrack_tags(tracks: &[&Track]) -> Vec<Vec<u8>> {
    let tag = |frame_type: u8, packet_type: u8, payload: &dyn Fn(&Track) -> Vec<u8>| {
        let mut out = vec![
            ex_byte(frame_type, MULTITRACK),
            MANY_TRACKS_MANY_CODECS << 4 | packet_type,
        ];
        for (id, track) in tracks.iter().enumerate() {
            let data = payload(track);
            out.extend_from_slice(track.fourcc);
            out.push(id as u8);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
            out.extend_from_slice(&data);
        }
        out
    };
    let mut tags = vec![tag(KEY, SEQUENCE_START, &|t| t.config.clone())];
    let n = tracks.iter().map(|t| t.frames.len()).min().unwrap_or(0);
    for i in 0..n {
        let frame_type = if tracks[0].frames[i].key { KEY } else { INTER };
        tags.push(tag(frame_type, CODED_FRAMES, &|t| {
            let data = &t.frames[i].data;
            match t.fourcc {
                b"hvc1" => [&[0, 0, 0][..], data].concat(), // composition time 0
                _ => data.clone(),
            }
        }));
    }
    tags
}

/// Multitrack, one track per message: each track's SequenceStart in a message of its own, then
/// for each frame a message per track. Only track 0's keyframes are flagged as keyframes, so the
/// channel's GOPs start at track 0.
fn one_track_per_message_tags(tracks: &[&Track]) -> Vec<Vec<u8>> {
    const ONE_TRACK: u8 = 0;
    let tag = |frame_type: u8, packet_type: u8, id: usize, data: &[u8]| {
        [
            &[
                ex_byte(frame_type, MULTITRACK),
                ONE_TRACK << 4 | packet_type,
            ][..],
            tracks[id].fourcc,
            &[id as u8],
            data,
        ]
        .concat()
    };
    let mut tags: Vec<Vec<u8>> = (0..tracks.len())
        .map(|id| tag(KEY, SEQUENCE_START, id, &tracks[id].config))
        .collect();
    let n = tracks.iter().map(|t| t.frames.len()).min().unwrap_or(0);
    for i in 0..n {
        for (id, track) in tracks.iter().enumerate() {
            let key = id == 0 && track.frames[i].key;
            let data = &track.frames[i].data;
            let payload = match track.fourcc {
                b"hvc1" => [&[0, 0, 0][..], data].concat(), // composition time 0
                _ => data.clone(),
            };
            tags.push(tag(
                if key { KEY } else { INTER },
                CODED_FRAMES,
                id,
                &payload,
            ));
        }
    }
    tags
}

// ---- the run: publish, play over RTMP and HTTP-FLV, compare ----

/// A reader on its own thread, sending each video body it receives.
fn rtmp_video_reader(server: &Server, path: &str) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let (app, name) = path.split_once('/').unwrap();
    let mut client = RtmpClient::connect_app(server.rtmp_addr, app).expect("RTMP player connects");
    let sid = client.create_stream().expect("createStream");
    client.play(sid, name).expect("play");
    thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(30);
        while let Ok(m) = client.read_message_until(end) {
            // StreamEOF: the channel ended.
            if m.type_id == 4 && m.payload.starts_with(&[0, 1]) {
                break;
            }
            if m.type_id == 9 && tx.send(m.payload).is_err() {
                break;
            }
        }
    });
    rx
}

fn http_flv_video_reader(server: &Server, path: &str) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let mut flv = FlvStream::open(server.http_addr, &Server::flv_path(path), secs(5.0))
        .expect("HTTP-FLV reader connects");
    flv.header(secs(5.0)).expect("an FLV header");
    thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(30);
        while let Ok(Some(tag)) = flv.next_tag_until(end) {
            if tag.is_video() && tx.send(tag.body).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait for `n` bodies (or the reader's end); returns what came.
fn take(rx: &mpsc::Receiver<Vec<u8>>, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < n {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(body) => got.push(body),
            Err(_) => break,
        }
    }
    got
}

fn publish_video(client: &mut RtmpClient, sid: u32, tags: &[Vec<u8>], first_ts: usize) {
    for (i, body) in tags.iter().enumerate() {
        // The sequence start shares the first frame's time.
        let ts = 40 * (first_ts + i).saturating_sub(1) as u32;
        client.send(6, ts, 9, sid, body).expect("send a video tag");
    }
}

fn assert_same(what: &str, got: &[Vec<u8>], sent: &[Vec<u8>], server: &Server) {
    let first_difference = got.iter().zip(sent).position(|(a, b)| a != b);
    assert!(
        got.len() == sent.len() && first_difference.is_none(),
        "{what}: received {} video tags, sent {}; first difference at {first_difference:?}\n{}",
        got.len(),
        sent.len(),
        server.describe()
    );
}

/// Publish `tags` on `live/NAME`: the sequence start and the first GOP, then an RTMP player and an
/// HTTP-FLV reader join, then the rest. Both must receive every tag byte for byte; `/stat/streams`
/// must show `codec` at 320x240 while it publishes.
/// `head`: how many tags the sequence starts and the first GOP take (what a joiner gets first).
fn run(name: &str, tags: Vec<Vec<u8>>, head: usize, codec: &str) {
    let server = Server::start(&["-publishergrace=0s"]);
    let path = format!("live/{name}");
    let (mut publisher, sid) = RtmpClient::publisher(server.rtmp_addr, "live", name)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    publisher.set_chunk_size(4096).expect("set chunk size");

    publish_video(&mut publisher, sid, &tags[..head], 0);
    let (_, stat) = wait_stream(
        &server,
        "publishing with a known picture size",
        secs(10.0),
        |s| s["rtmp"]["command"] == "publish" && s["video"]["width"].is_number(),
    );
    assert_eq!(
        (
            &stat["video"]["type"],
            &stat["video"]["width"],
            &stat["video"]["height"]
        ),
        (
            &Value::from(codec),
            &Value::from(WIDTH),
            &Value::from(HEIGHT)
        ),
        "{stat:#}"
    );

    let rtmp = rtmp_video_reader(&server, &path);
    let http = http_flv_video_reader(&server, &path);
    // Each joiner gets the sequence start and the GOP in progress.
    let mut rtmp_got = take(&rtmp, head, secs(10.0));
    let mut http_got = take(&http, head, secs(10.0));
    assert_same("RTMP joiner", &rtmp_got, &tags[..head], &server);
    assert_same("HTTP-FLV joiner", &http_got, &tags[..head], &server);

    publish_video(&mut publisher, sid, &tags[head..], head);
    publisher
        .send_command(
            0,
            "deleteStream",
            4.0,
            amf::V::Null,
            vec![amf::V::Num(f64::from(sid))],
        )
        .expect("send deleteStream");
    rtmp_got.extend(take(&rtmp, tags.len() - head, secs(10.0)));
    http_got.extend(take(&http, tags.len() - head, secs(10.0)));
    assert_same("RTMP player", &rtmp_got, &tags, &server);
    assert_same("HTTP-FLV reader", &http_got, &tags, &server);
}

/// The index of the second keyframe: the length of the first GOP.
fn first_gop(frames: &[Frame]) -> usize {
    assert!(
        frames.len() == FRAMES && frames[0].key,
        "the fixture starts with a keyframe"
    );
    frames
        .iter()
        .skip(1)
        .position(|f| f.key)
        .map(|p| p + 1)
        .expect("a second keyframe")
}

#[test]
fn hevc_hvc1_passes_through_rtmp_and_http_flv_byte_exact() {
    let dir = TestDir::new();
    let track = hevc_track(&dir);
    let gop = first_gop(&track.frames);
    run("hevc", single_track_tags(&track), 1 + gop, "HEVC");
}

#[test]
fn av1_av01_passes_through_rtmp_and_http_flv_byte_exact() {
    let dir = TestDir::new();
    let track = av1_track(&dir);
    let gop = first_gop(&track.frames);
    run("av1", single_track_tags(&track), 1 + gop, "AV1");
}

#[test]
fn multitrack_hevc_and_av1_pass_through_byte_exact_and_stat_shows_track_0() {
    let dir = TestDir::new();
    let (hevc, av1) = (hevc_track(&dir), av1_track(&dir));
    let gop = first_gop(&hevc.frames);
    run("multi", multitrack_tags(&[&hevc, &av1]), 1 + gop, "HEVC");
}

/// Each track started and sent in messages of its own: the channel keeps a sequence header per
/// track, so a joiner gets both and the tracks' alternating headers do not reset the buffer.
#[test]
fn multitrack_with_one_track_per_message_keeps_each_tracks_header() {
    let dir = TestDir::new();
    let (hevc, av1) = (hevc_track(&dir), av1_track(&dir));
    let gop = first_gop(&hevc.frames);
    let tags = one_track_per_message_tags(&[&hevc, &av1]);
    run("pertrack", tags, 2 + 2 * gop, "HEVC");
}
