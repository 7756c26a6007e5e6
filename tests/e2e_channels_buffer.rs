//! Channel buffers: the bounds (GOP count, duration, size, audio only) and where a joiner starts
//! for each subscriber cursor. The real `joy4` binary, real ffmpeg publishers (`-re -c copy`, looped)
//! of lavfi clips with a 2 s GOP (50 frames at 25 fps), and raw HTTP-FLV and RTMP readers from
//! `tests/support`.
//!
//! Where a joiner starts is measured on the wire: each tag's timestamp minus the time it arrived
//! (after the response head) estimates the live edge at the moment of joining; the first media tag's
//! timestamp is then compared with that edge.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use support::api::*;
use support::*;

/// What a raw HTTP-FLV joiner received in its first seconds.
struct Join {
    label: String,
    /// (milliseconds after the response head arrived, tag)
    tags: Vec<(i64, FlvTag)>,
}

impl Join {
    fn first_media(&self) -> Option<&FlvTag> {
        self.tags.iter().map(|(_, t)| t).find(|t| t.is_media())
    }

    fn first_media_ts(&self) -> i64 {
        self.first_media()
            .unwrap_or_else(|| panic!("{}: no media tag: {}", self.label, self.describe()))
            .timestamp as i64
    }

    /// The live edge when the joiner joined: a tag that arrived `e` ms after joining with timestamp
    /// `ts` was live at `ts - e` (late readings only lower the estimate, so take the largest).
    fn live_at_join(&self) -> i64 {
        self.tags
            .iter()
            .filter(|(_, t)| t.is_media())
            .map(|(at, t)| t.timestamp as i64 - at)
            .max()
            .unwrap_or_else(|| panic!("{}: no media tag: {}", self.label, self.describe()))
    }

    /// How far behind the live edge the joiner started (ms).
    fn behind(&self) -> i64 {
        self.live_at_join() - self.first_media_ts()
    }

    /// onMetaData and both sequence headers arrived before the first media tag.
    fn headers_first(&self) -> Result<(), String> {
        let n = self
            .tags
            .iter()
            .position(|(_, t)| t.is_media())
            .ok_or("no media tag")?;
        let before = &self.tags[..n];
        let has = |f: &dyn Fn(&FlvTag) -> bool| before.iter().any(|(_, t)| f(t));
        if !has(&|t| t.script_name().as_deref() == Some("onMetaData")) {
            return Err("no onMetaData before the first media tag".into());
        }
        if !has(&|t| t.is_avc_sequence_header()) || !has(&|t| t.is_aac_sequence_header()) {
            return Err("a sequence header is missing before the first media tag".into());
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let list: Vec<String> = self
            .tags
            .iter()
            .take(14)
            .map(|(at, t)| format!("{}+{at}ms", t.describe()))
            .collect();
        format!("{} tags, first: {list:?}", self.tags.len())
    }
}

/// `GET /live/NAME.flv?QUERY` and read the response head (status 200 required) and FLV header.
fn open_join(server: &Server, name: &str, query: &str) -> (FlvStream, Instant) {
    let path = format!("/live/{name}.flv{query}");
    let mut s = FlvStream::open(server.http_addr, &path, secs(5.0))
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    let t0 = Instant::now();
    assert_eq!(
        s.head.status,
        200,
        "GET {path}: {:?}\n{}",
        s.head,
        server.describe()
    );
    s.header(secs(5.0))
        .unwrap_or_else(|e| panic!("GET {path}: FLV header: {e}\n{}", server.describe()));
    (s, t0)
}

/// Read tags for `window` after joining at `t0`.
fn read_join(mut s: FlvStream, t0: Instant, window: Duration, label: &str) -> Join {
    let mut tags = Vec::new();
    let end = t0 + window;
    loop {
        match s.next_tag_until(end) {
            Ok(Some(t)) => tags.push((t0.elapsed().as_millis() as i64, t)),
            Ok(None) => panic!("{label}: the body ended after {} tags", tags.len()),
            Err(StreamError::Timeout) => break,
            Err(e) => panic!("{label}: {e} after {} tags", tags.len()),
        }
    }
    Join {
        label: label.to_string(),
        tags,
    }
}

/// `-buffergopcount=3` with a 2 s GOP: after 8.5 s of media the buffer holds exactly 3 GOPs (4–6 s),
/// and joiners at `oldest`, `latest`, `5s` and `next` start where their cursor says, over HTTP-FLV
/// and RTMP. Bad cursors are refused on both play URLs and by the API.
///
/// With 3 GOPs (the newest in progress) the buffer spans less than 6 s, so `5s` snapped to the
/// keyframe at or before always clamps to the oldest keyframe there; `5s` is therefore measured on a
/// second channel, created by the API with `bufferGopCount` 5, where it must land strictly after
/// the oldest keyframe, 5–7 s behind live.
#[test]
fn three_gop_buffer_and_cursors_oldest_latest_5s_next_and_bad() {
    let mut server = Server::start(&["-buffergopcount=3"]);
    post_ok(
        &server,
        "/channel/create",
        json!({"id": "live/c5", "bufferGopCount": 5}),
    );
    let _publisher = publish_loop(&mut server, &clip(), "live/c");
    let _publisher5 = publish_loop(&mut server, &clip(), "live/c5");
    let pub_id = publisher_id(&server, "c");
    let pub5_id = publisher_id(&server, "c5");
    wait_media_time(&server, &pub_id, 8.5);
    wait_media_time(&server, &pub5_id, 8.5);

    let st = channel_stat(&server, "live/c");
    let ctx = format!("channel stat {st:#}\n{}", server.describe());
    assert_eq!(st["bufferGopCount"], 3, "{ctx}");
    assert_eq!(st["bufferedGops"], 3, "{ctx}");
    assert!(f64_of(&st["bufferUsed"]) > 100_000.0, "{ctx}");
    let buffered = f64_of(&st["bufferedDuration"]);
    assert!(
        (3.9..=6.1).contains(&buffered),
        "3 GOPs of 2 s should span 4-6 s, not {buffered}: {ctx}"
    );
    let st5 = channel_stat(&server, "live/c5");
    assert_eq!(
        (&st5["bufferGopCount"], &st5["bufferedGops"]),
        (&json!(5), &json!(5)),
        "{st5:#}"
    );

    // Joiners: each `oldest` is opened first so that a keyframe arriving between two joins can only
    // widen the gap to the next one.
    let (s_oldest, t_oldest) = open_join(&server, "c", "?cursor=oldest");
    let (s_latest, t_latest) = open_join(&server, "c", "");
    let (s_oldest5, t_oldest5) = open_join(&server, "c5", "?cursor=oldest");
    let (s_5s, t_5s) = open_join(&server, "c5", "?cursor=5s");
    let window = secs(2.0);
    let (oldest, latest, oldest5, five) = thread::scope(|sc| {
        let a = sc.spawn(|| read_join(s_oldest, t_oldest, window, "oldest"));
        let b = sc.spawn(|| read_join(s_latest, t_latest, window, "latest"));
        let c = sc.spawn(|| read_join(s_oldest5, t_oldest5, window, "c5 oldest"));
        let d = sc.spawn(|| read_join(s_5s, t_5s, window, "c5 5s"));
        (
            a.join().unwrap(),
            b.join().unwrap(),
            c.join().unwrap(),
            d.join().unwrap(),
        )
    });
    let all = format!(
        "oldest: {}\nlatest: {}\nc5 oldest: {}\nc5 5s: {}\n{}",
        oldest.describe(),
        latest.describe(),
        oldest5.describe(),
        five.describe(),
        server.describe()
    );
    for j in [&oldest, &latest, &oldest5, &five] {
        eprintln!(
            "{}: first media at {} ms, live edge at join {} ms, {} ms behind",
            j.label,
            j.first_media_ts(),
            j.live_at_join(),
            j.behind()
        );
        let first = j.first_media().unwrap();
        assert!(
            first.is_video_keyframe(),
            "{}: first media tag is not a video keyframe\n{all}",
            j.label
        );
        if let Err(e) = j.headers_first() {
            panic!("{}: {e}\n{all}", j.label);
        }
    }
    assert!(
        latest.behind() <= GOP_MS + 500,
        "latest starts {} ms behind live; want the newest keyframe (< one GOP)\n{all}",
        latest.behind()
    );
    assert!(
        latest.first_media_ts() - oldest.first_media_ts() >= 2 * GOP_MS - 40,
        "oldest starts at {} ms, only {} ms before latest ({} ms); want >= 4 s with 3 GOPs\n{all}",
        oldest.first_media_ts(),
        latest.first_media_ts() - oldest.first_media_ts(),
        latest.first_media_ts()
    );
    assert!(
        (2 * GOP_MS - 500..=3 * GOP_MS + 500).contains(&oldest.behind()),
        "oldest starts {} ms behind live; want 4-6 s\n{all}",
        oldest.behind()
    );
    assert!(
        (4500..=7500).contains(&five.behind()),
        "5s starts {} ms behind live; want the keyframe at or before live - 5 s (5-7 s)\n{all}",
        five.behind()
    );
    assert!(
        five.first_media_ts() > oldest5.first_media_ts(),
        "5s starts at {} ms, not after the oldest keyframe ({} ms) of a 5-GOP buffer\n{all}",
        five.first_media_ts(),
        oldest5.first_media_ts()
    );

    // `next`: nothing from the buffer; the first media tag is a keyframe newer than the live edge
    // at join time (a buffered keyframe would be older than that edge).
    let (s_next, t_next) = open_join(&server, "c", "?cursor=next");
    let next = read_join(s_next, t_next, secs(3.5), "next");
    let first = next.first_media().unwrap_or_else(|| {
        panic!(
            "next: no media within 3.5 s: {}\n{}",
            next.describe(),
            server.describe()
        )
    });
    let ctx = format!("next: {}\n{}", next.describe(), server.describe());
    assert!(
        first.is_video_keyframe(),
        "next: first media is not a keyframe\n{ctx}"
    );
    if let Err(e) = next.headers_first() {
        panic!("next: {e}\n{ctx}");
    }
    let (arrived, _) = next
        .tags
        .iter()
        .find(|(_, t)| t.is_media())
        .expect("first media");
    assert!(
        next.first_media_ts() >= next.live_at_join() - 250,
        "next: first media at {} ms is older than the live edge at join ({} ms): it came from the \
         buffer\n{ctx}",
        next.first_media_ts(),
        next.live_at_join()
    );
    eprintln!(
        "next: first media at {} ms (arrived {arrived} ms after joining), live edge at join {} ms",
        next.first_media_ts(),
        next.live_at_join()
    );
    let burst_span = next
        .tags
        .iter()
        .filter(|(at, t)| t.is_media() && *at <= arrived + 100)
        .map(|(_, t)| t.timestamp as i64 - next.first_media_ts())
        .max()
        .unwrap_or(0);
    assert!(
        burst_span < 800,
        "next: {burst_span} ms of media arrived at once with the first frame (a backlog)\n{ctx}"
    );

    // RTMP: `?cursor=oldest` in the play name gives the 3-GOP backlog too.
    let mut c = RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    let sid = c.create_stream().unwrap();
    c.play(sid, "c?cursor=oldest").unwrap();
    let t0 = Instant::now();
    let mut media: Vec<(i64, u32)> = Vec::new();
    while t0.elapsed() < secs(1.5) {
        match c.read_message(secs(0.5)) {
            Ok(m) if matches!(m.type_id, 8 | 9) && m.as_flv_tag().is_media() => {
                media.push((t0.elapsed().as_millis() as i64, m.timestamp))
            }
            Ok(_) | Err(StreamError::Timeout) => {}
            Err(e) => panic!("RTMP play ?cursor=oldest: {e}\n{}", server.describe()),
        }
    }
    let first = media
        .first()
        .map(|m| m.1 as i64)
        .unwrap_or_else(|| panic!("RTMP play ?cursor=oldest: no media\n{}", server.describe()));
    let live = media.iter().map(|(at, ts)| *ts as i64 - at).max().unwrap();
    assert!(
        live - first >= 2 * GOP_MS - 500,
        "RTMP ?cursor=oldest starts {} ms behind live; want >= 4 s\n{}",
        live - first,
        server.describe()
    );
    let player_id = wait_until(secs(5.0), || {
        let all = get_json(&server, "/stat/streams");
        all.as_object()?
            .iter()
            .find(|(_, s)| s["rtmp"]["command"] == "play")
            .map(|(id, _)| id.clone())
    })
    .unwrap_or_else(|| panic!("the RTMP player is not listed\n{}", server.describe()));

    // Bad cursors: HTTP 400, RTMP play refused (ffmpeg exits non-zero), API 400 BadCursor.
    for bad in ["sideways", "5", "-5s"] {
        let path = format!("/live/c.flv?cursor={bad}");
        let status = http_status(server.http_addr, &path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", server.describe()));
        assert_eq!(status, 400, "GET {path}\n{}", server.describe());
    }
    assert_eq!(
        http_status(server.http_addr, "/live/c.flv?cursor=1500ms").unwrap(),
        200,
        "a duration cursor in ms is accepted"
    );
    let dir = TestDir::new();
    let mut bad_play = record(
        &format!("{}?cursor=sideways", server.rtmp_url("live/c")),
        &dir.file("bad.flv"),
        1.0,
    );
    let mut good_play = record(
        &format!("{}?cursor=latest", server.rtmp_url("live/c")),
        &dir.file("good.flv"),
        1.0,
    );
    let st = bad_play.expect_exit(secs(15.0), "ffmpeg playing ?cursor=sideways");
    assert!(
        !st.success(),
        "ffmpeg RTMP play with a bad cursor succeeded\n{}\n{}",
        bad_play.describe(),
        server.describe()
    );
    let st = good_play.expect_exit(secs(15.0), "ffmpeg playing ?cursor=latest");
    assert!(
        st.success(),
        "ffmpeg RTMP play with ?cursor=latest failed: the query form itself is refused\n{}\n{}",
        good_play.describe(),
        server.describe()
    );
    let (status, body) = post_json(
        &server,
        "/channel/addSubscriber",
        &json!({"id": "live/c", "streamId": player_id, "cursor": "sideways"}),
    );
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("BadCursor")),
        "{body}"
    );
    drop(c);
    server.assert_alive("after the cursor checks");
}

/// `-bufferduration=4s` (GOP count raised so that duration is the bound that acts): an H.264+AAC
/// channel stays within 4 s + one GOP and an audio-only channel within 4 s; a channel created by
/// the API with `bufferSize` ≈ 2 GOPs never holds more bytes than that.
#[test]
fn duration_size_and_audio_only_bounds_hold() {
    // ≈ 2 GOPs of the 930 kb/s clip, counting what the buffer holds: each frame's body (its FLV
    // and RTMP forms are slices of it) and its small record.
    const SIZE: u64 = 500_000;
    let mut server = Server::start(&["-bufferduration=4s", "-buffergopcount=100"]);
    post_ok(
        &server,
        "/channel/create",
        json!({"id": "live/size", "bufferSize": SIZE}),
    );
    let _dur = publish_loop(&mut server, &clip(), "live/dur");
    let _aud = publish_loop(&mut server, &clip_audio_only(CLIP_SECS), "live/aud");
    let _size = publish_loop(&mut server, &clip(), "live/size");

    let first = channel_stat(&server, "live/dur");
    assert_eq!(first["bufferDuration"], 4.0, "{first:#}");
    assert_eq!(first["bufferGopCount"], 100, "{first:#}");
    let size_stat = channel_stat(&server, "live/size");
    assert_eq!(size_stat["bufferSize"], SIZE, "{size_stat:#}");

    // Sample every 200 ms for 11 s of publishing.
    let start = Instant::now();
    let (mut dur_max, mut aud_max, mut size_max, mut size_dur_max) =
        (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut aud_used_max = 0.0f64;
    while start.elapsed() < secs(11.0) {
        let dur = channel_stat(&server, "live/dur");
        let aud = channel_stat(&server, "live/aud");
        let size = channel_stat(&server, "live/size");
        let d = f64_of(&dur["bufferedDuration"]);
        assert!(
            d <= 4.0 + 2.0 + 0.05,
            "bufferDuration 4s: {d} s buffered (more than 4 s + one GOP): {dur:#}\n{}",
            server.describe()
        );
        let a = f64_of(&aud["bufferedDuration"]);
        assert!(
            a <= 4.05,
            "audio-only with bufferDuration 4s: {a} s buffered: {aud:#}\n{}",
            server.describe()
        );
        let used = f64_of(&size["bufferUsed"]);
        assert!(
            used <= SIZE as f64,
            "bufferSize {SIZE}: bufferUsed {used}: {size:#}\n{}",
            server.describe()
        );
        dur_max = dur_max.max(d);
        aud_max = aud_max.max(a);
        aud_used_max = aud_used_max.max(f64_of(&aud["bufferUsed"]));
        size_max = size_max.max(used);
        size_dur_max = size_dur_max.max(f64_of(&size["bufferedDuration"]));
        thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "max buffered: duration-bound {dur_max} s, audio-only {aud_max} s ({aud_used_max} B), \
         size-bound {size_max} B / {size_dur_max} s"
    );
    // The bounds acted, and nothing else held the buffers smaller.
    assert!(
        dur_max >= 3.0,
        "duration-bound channel never buffered 3 s (max {dur_max}): is the GOP-count default \
         still trimming?\n{}",
        server.describe()
    );
    assert!(
        aud_max >= 3.5 && aud_used_max > 0.0,
        "audio-only channel buffered at most {aud_max} s ({aud_used_max} B); want close to 4 s\n{}",
        server.describe()
    );
    assert!(
        size_max >= SIZE as f64 / 3.0,
        "size-bound channel held at most {size_max} B of {SIZE}\n{}",
        server.describe()
    );
    assert!(
        size_dur_max <= 6.5,
        "size-bound channel buffered {size_dur_max} s of 11 s: not trimmed\n{}",
        server.describe()
    );
    server.assert_alive("after the bound checks");
}
