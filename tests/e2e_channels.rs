//! End-to-end tests of channels (issue 4): buffer bounds, subscriber cursors, switching a channel's
//! publisher by the API, an encoder reconnecting within the grace period, and a subscriber that never
//! reads. The real `joy4` binary, real ffmpeg publishers (`-re -c copy`) and players, lavfi clips with
//! a 2 s GOP (50 frames at 25 fps), and raw HTTP-FLV readers from `tests/support`.
//!
//! Where a joiner starts is measured on the wire: each tag's timestamp minus the time it arrived
//! (after the response head) estimates the live edge at the moment of joining; the first media tag's
//! timestamp is then compared with that edge.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// Length of the generated clips; publishers loop them (`-stream_loop -1`).
const CLIP_SECS: u32 = 20;
/// Clip GOP length in milliseconds (`-g 50` at 25 fps).
const GOP_MS: i64 = 2000;
/// Largest DTS step allowed in a recording across a publisher change: the issue asks for no gap over
/// 1 s, and the design rebases the new source to one frame (40 ms) after the last timestamp sent, so
/// anything above a few frames is a jump.
const MAX_STEP: f64 = 0.3;

fn clip_a() -> PathBuf {
    clip_h264_aac(640, 360, CLIP_SECS)
}

fn clip_b() -> PathBuf {
    clip_h264_aac(320, 240, CLIP_SECS)
}

/// Make (once) `target/tmp/media/NAME` with ffmpeg `args` (cached like the support clips; written
/// under a temporary name and renamed, so a parallel test never sees a partial file).
fn local_clip(name: &str, args: &[&str]) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(TMP).join("media");
    fs::create_dir_all(&dir).expect("create media dir");
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    let tmp = dir.join(format!("{name}.{}.tmp.flv", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .args(["-f", "flv"])
        .arg(&tmp);
    let mut p = Proc::spawn("ffmpeg-gen", cmd);
    let st = p.expect_exit(Duration::from_secs(120), "generating a clip");
    assert!(st.success(), "generating {name}: {st}\n{}", p.describe());
    fs::rename(&tmp, &path).expect("rename generated clip");
    path
}

/// A 440 Hz sine, AAC 44.1 kHz stereo, no video.
fn clip_audio_only() -> PathBuf {
    local_clip(
        &format!("aac_only_{CLIP_SECS}s.flv"),
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            &CLIP_SECS.to_string(),
            "-c:a",
            "aac",
            "-ar",
            "44100",
            "-ac",
            "2",
            "-b:a",
            "128k",
        ],
    )
}

/// 10 s of noisy testsrc2 640x360 at about 8 Mbit/s (H.264, 2 s GOP) + AAC: fills socket buffers
/// quickly.
fn clip_high_bitrate() -> PathBuf {
    local_clip(
        "h264_8mbit_aac_640x360_10s.flv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x360:rate=25,noise=alls=40:allf=t",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "50",
            "-keyint_min",
            "50",
            "-sc_threshold",
            "0",
            "-b:v",
            "8M",
            "-maxrate",
            "8M",
            "-bufsize",
            "4M",
            "-c:a",
            "aac",
            "-ar",
            "44100",
            "-ac",
            "2",
        ],
    )
}

/// Publish `clip` in a loop, `-re -c copy`, to `live/NAME`; returns once the channel answers.
fn publish_loop(server: &mut Server, clip: &Path, name: &str) -> Proc {
    let path = format!("live/{name}");
    let mut p = publish_with(
        clip,
        &server.rtmp_url(&path),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    wait_for_channel(server, &path, &mut p);
    p
}

// ---------------------------------------------------------------------------------------------------
// API client
// ---------------------------------------------------------------------------------------------------

#[track_caller]
fn post_ok(server: &Server, path: &str, body: Value) {
    let answer = post_json(server, path, &body);
    assert_eq!(
        answer,
        (200, json!({})),
        "POST {path} {body}\n{}",
        server.describe()
    );
}

fn channel_stat(server: &Server, id: &str) -> Value {
    get_json(server, &format!("/stat/channel/{id}"))
}

/// Channel `id`'s subscriber ids.
fn subscribers(server: &Server, id: &str) -> Vec<String> {
    channel_stat(server, id)["subscribers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Wait until channel `id` has no subscriber (the probe of `wait_for_channel` has gone).
fn wait_no_subscriber(server: &Server, id: &str) {
    let ok = wait_until(secs(5.0), || {
        subscribers(server, id).is_empty().then_some(())
    });
    assert!(
        ok.is_some(),
        "channel {id} keeps subscribers {:?}\n{}",
        subscribers(server, id),
        server.describe()
    );
}

/// Wait until channel `id` has exactly one subscriber, the same in two polls 300 ms apart.
fn sole_subscriber(server: &Server, id: &str, player: &Proc) -> String {
    let mut previous = Vec::new();
    wait_until(secs(8.0), || {
        thread::sleep(Duration::from_millis(250));
        let now = subscribers(server, id);
        let stable = now.len() == 1 && now == previous;
        previous = now;
        stable.then(|| previous[0].clone())
    })
    .unwrap_or_else(|| {
        panic!(
            "channel {id} never had one steady subscriber (last {previous:?})\n{}\n{}",
            player.describe(),
            server.describe()
        )
    })
}

/// The id of the RTMP stream publishing `live/NAME` (waits up to 10 s for it to show).
fn publisher_id(server: &Server, name: &str) -> String {
    let mut last = Value::Null;
    let found = wait_until(secs(10.0), || {
        let all = get_json(server, "/stat/streams");
        let hit = all.as_object().and_then(|m| {
            m.iter()
                .find(|(_, s)| s["rtmp"]["command"] == "publish" && s["rtmp"]["streamName"] == name)
                .map(|(id, _)| id.clone())
        });
        last = all;
        hit
    });
    found.unwrap_or_else(|| {
        panic!(
            "no stream publishes {name}; streams: {last:#}\n{}",
            server.describe()
        )
    })
}

/// A stream's `/stat/streams` entry, if it is still there.
fn stream_stat(server: &Server, id: &str) -> Option<Value> {
    let all = get_json(server, "/stat/streams");
    all.get(id).cloned()
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Wait until the stream `id` has published `media_secs` of media (its stat `time`).
fn wait_media_time(server: &Server, id: &str, media_secs: f64) {
    let mut last = Value::Null;
    let ok = wait_until(secs(media_secs + 10.0), || {
        let s = stream_stat(server, id)?;
        let t = s["time"].as_f64().unwrap_or(0.0);
        last = s;
        (t >= media_secs).then_some(())
    });
    assert!(
        ok.is_some(),
        "stream {id} did not reach {media_secs} s of media: {last:#}\n{}",
        server.describe()
    );
}

// ---------------------------------------------------------------------------------------------------
// HTTP-FLV joiners
// ---------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------
// ffprobe of recordings
// ---------------------------------------------------------------------------------------------------

fn ffprobe_json(args: &[&str], file: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args(["-hide_banner", "-v", "error"])
        .args(args)
        .args(["-of", "json"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .expect("run ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {args:?} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe JSON")
}

/// Decode timestamps (s) of the packets of each kind, in file order: (video, audio).
fn packet_dts(file: &Path) -> (Vec<f64>, Vec<f64>) {
    let v = ffprobe_json(&["-show_entries", "packet=codec_type,dts_time"], file);
    let (mut video, mut audio) = (Vec::new(), Vec::new());
    for p in v["packets"].as_array().cloned().unwrap_or_default() {
        let Some(dts) = p["dts_time"].as_str().and_then(|s| s.parse::<f64>().ok()) else {
            continue;
        };
        match p["codec_type"].as_str() {
            Some("video") => video.push(dts),
            Some("audio") => audio.push(dts),
            _ => {}
        }
    }
    (video, audio)
}

/// Each decreasing step, as "a -> b" (empty if none).
fn backward_steps(times: &[f64]) -> Vec<String> {
    times
        .windows(2)
        .filter(|w| w[1] < w[0])
        .map(|w| format!("{:.3} -> {:.3}", w[0], w[1]))
        .collect()
}

/// The largest step between consecutive times in file order, and where it starts.
fn largest_step(times: &[f64]) -> (f64, f64) {
    times
        .windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Decoded video frame sizes as runs: [((w, h), frames), ...] in order.
fn resolution_runs(file: &Path) -> Vec<((u64, u64), usize)> {
    let v = ffprobe_json(
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=width,height",
        ],
        file,
    );
    let mut runs: Vec<((u64, u64), usize)> = Vec::new();
    for f in v["frames"].as_array().cloned().unwrap_or_default() {
        let wh = (
            f["width"].as_u64().unwrap_or(0),
            f["height"].as_u64().unwrap_or(0),
        );
        match runs.last_mut() {
            Some((last, n)) if *last == wh => *n += 1,
            _ => runs.push((wh, 1)),
        }
    }
    runs
}

/// Recording checks shared by the switch and reconnect tests: duration at least `min_secs`, DTS
/// never decreasing per stream, no step over `max_step` seconds between consecutive video or audio
/// packets (a new source continues "just after the last timestamp sent, plus one frame").
fn check_continuous_recording(file: &Path, min_secs: f64, max_step: f64) -> Result<f64, String> {
    let probe = ffprobe(file, Count::Nothing)?;
    let dur = probe.duration.ok_or("ffprobe reports no duration")?;
    if dur < min_secs {
        return Err(format!("recorded {dur:.2} s, want at least {min_secs} s"));
    }
    let (video, audio) = packet_dts(file);
    if video.len() < (FPS * min_secs * 0.9) as usize {
        return Err(format!("only {} video packets in {dur:.2} s", video.len()));
    }
    if audio.len() < (40.0 * min_secs) as usize {
        return Err(format!("only {} audio packets in {dur:.2} s", audio.len()));
    }
    for (kind, times) in [("video", &video), ("audio", &audio)] {
        let back = backward_steps(times);
        if !back.is_empty() {
            return Err(format!(
                "{kind} DTS goes backwards {} times: {:?}",
                back.len(),
                &back[..back.len().min(10)]
            ));
        }
        let (step, at) = largest_step(times);
        if step > max_step {
            return Err(format!(
                "{kind} has a {step:.3} s gap between packets at {at:.3} s"
            ));
        }
    }
    Ok(dur)
}

// ---------------------------------------------------------------------------------------------------
// Buffer bounds and cursors
// ---------------------------------------------------------------------------------------------------

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
    let _publisher = publish_loop(&mut server, &clip_a(), "c");
    let _publisher5 = publish_loop(&mut server, &clip_a(), "c5");
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
    const SIZE: u64 = 500_000; // ≈ 2 GOPs of the 930 kb/s clip
    let mut server = Server::start(&["-bufferduration=4s", "-buffergopcount=100"]);
    post_ok(
        &server,
        "/channel/create",
        json!({"id": "live/size", "bufferSize": SIZE}),
    );
    let _dur = publish_loop(&mut server, &clip_a(), "dur");
    let _aud = publish_loop(&mut server, &clip_audio_only(), "aud");
    let _size = publish_loop(&mut server, &clip_a(), "size");

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

// ---------------------------------------------------------------------------------------------------
// Changing publisher
// ---------------------------------------------------------------------------------------------------

/// A recorder plays channel `show` while the API switches its source A (640x360) -> B (320x240) -> A.
/// The recording has both resolutions in that order, DTS never decreasing, no gap over 1 s, the full
/// requested duration, and the recorder exits 0 on its own.
#[test]
fn publisher_switched_twice_by_the_api_while_a_recorder_plays() {
    const RECORD_SECS: f64 = 15.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let _a = publish_loop(&mut server, &clip_a(), "srcA");
    let _b = publish_loop(&mut server, &clip_b(), "srcB");
    let a_id = publisher_id(&server, "srcA");
    let b_id = publisher_id(&server, "srcB");
    post_ok(&server, "/channel/create", json!({"id": "show"}));
    post_ok(
        &server,
        "/channel/setPublisher",
        json!({"id": "show", "streamId": a_id}),
    );
    let ready = wait_until(secs(5.0), || {
        (f64_of(&channel_stat(&server, "show")["bufferUsed"]) > 0.0).then_some(())
    });
    assert!(
        ready.is_some(),
        "channel show got no media from A: {:#}\n{}",
        channel_stat(&server, "show"),
        server.describe()
    );

    let out = dir.file("show.flv");
    let mut rec = record(&server.flv_url("show"), &out, RECORD_SECS);
    let sub_id = sole_subscriber(&server, "show", &rec);

    let switch = |to: &str, name: &str| {
        post_ok(
            &server,
            "/channel/setPublisher",
            json!({"id": "show", "streamId": to}),
        );
        let st = channel_stat(&server, "show");
        assert_eq!(st["publisher"], to, "after switching to {name}: {st:#}");
        assert_eq!(
            st["subscribers"],
            json!([sub_id]),
            "after switching to {name}: the recorder must stay the one subscriber: {st:#}"
        );
    };
    thread::sleep(secs(4.0));
    switch(&b_id, "B");
    thread::sleep(secs(5.0));
    switch(&a_id, "A");

    let st = rec.expect_exit(secs(20.0), "recorder of show");
    assert!(
        st.success(),
        "recorder failed: {st}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    // Both publishers are still connected (the one switched away from only has its media dropped).
    for id in [&a_id, &b_id] {
        assert!(
            stream_stat(&server, id).is_some(),
            "publisher {id} disconnected\n{}",
            server.describe()
        );
    }
    let dur = check_continuous_recording(&out, RECORD_SECS - 1.0, MAX_STEP).unwrap_or_else(|e| {
        panic!(
            "recording of show: {e}\n{}\n{}",
            rec.describe(),
            server.describe()
        )
    });
    let runs = resolution_runs(&out);
    eprintln!("recorded {dur:.2} s; resolution runs {runs:?}");
    let order: Vec<(u64, u64)> = runs.iter().map(|(wh, _)| *wh).collect();
    assert_eq!(
        order,
        vec![(640, 360), (320, 240), (640, 360)],
        "decoded frame sizes in order (runs {runs:?})\n{}",
        server.describe()
    );
    assert!(
        runs.iter().all(|(_, n)| *n >= 25),
        "each source should last at least a second: {runs:?}"
    );
    server.assert_alive("after the switches");
}

/// The publisher of `live/re` is killed and a new one starts 2 s later (within the default 10 s
/// grace): the HTTP-FLV recorder keeps its one connection and records media from both publishers,
/// with timestamps continuing.
#[test]
fn encoder_reconnect_within_grace_keeps_the_http_flv_player() {
    const RECORD_SECS: f64 = 14.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let mut first = publish_loop(&mut server, &clip_a(), "re");
    wait_no_subscriber(&server, "live/re");
    let out = dir.file("re.flv");
    let mut rec = record(&server.flv_url("live/re"), &out, RECORD_SECS);
    let sub_id = sole_subscriber(&server, "live/re", &rec);
    let subscribed = Instant::now();

    thread::sleep(secs(4.0));
    first.kill();
    // What the recorder can have had from the first publisher: the time it was subscribed (it
    // joined at most ~0.7 s before `sole_subscriber` saw it twice) plus one GOP of backlog.
    let first_half = subscribed.elapsed().as_secs_f64() + 0.7 + GOP_MS as f64 / 1000.0;
    thread::sleep(secs(2.0));
    let st = channel_stat(&server, "live/re");
    assert_eq!(
        (st["publisher"].as_str(), st["subscribers"].clone()),
        (Some(""), json!([sub_id])),
        "during the grace period the channel waits with its subscriber: {st:#}\n{}",
        server.describe()
    );
    assert!(rec.is_running(), "recorder ended\n{}", rec.describe());
    let second = publish_with(
        &clip_a(),
        &server.rtmp_url("live/re"),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let second_id = publisher_id(&server, "re");
    let took_over = wait_until(secs(5.0), || {
        (channel_stat(&server, "live/re")["publisher"] == second_id.as_str()).then_some(())
    });
    assert!(
        took_over.is_some(),
        "the new publisher {second_id} did not take over live/re: {:#}\n{}\n{}",
        channel_stat(&server, "live/re"),
        second.describe(),
        server.describe()
    );
    // The recorder stays subscribed (the same stream) until it has its media.
    while rec.is_running() {
        let subs = subscribers(&server, "live/re");
        if rec.is_running() {
            assert_eq!(
                subs,
                vec![sub_id.clone()],
                "the recorder's subscription changed after the reconnect\n{}",
                server.describe()
            );
        }
        thread::sleep(Duration::from_millis(250));
    }

    let status = rec.expect_exit(secs(RECORD_SECS + 10.0), "recorder of live/re");
    assert!(
        status.success(),
        "recorder failed: {status}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    // It got RECORD_SECS of media, far more than the first publisher gave it: one connection.
    let dur = check_continuous_recording(&out, first_half + 4.0, MAX_STEP).unwrap_or_else(|e| {
        panic!(
            "recording across the reconnect (first half <= {first_half:.1} s): {e}\n{}\n{}",
            rec.describe(),
            server.describe()
        )
    });
    let probe = ffprobe(&out, Count::Frames).unwrap();
    let frames = probe.video().and_then(|v| v.nb_read_frames).unwrap_or(0) as f64;
    assert!(
        frames >= 0.9 * FPS * dur,
        "decoded {frames} video frames of {dur:.2} s\n{}",
        server.describe()
    );
    server.assert_alive("after the reconnect");
}

// ---------------------------------------------------------------------------------------------------
// Slow subscriber
// ---------------------------------------------------------------------------------------------------

/// An HTTP-FLV subscriber that never reads its socket: the publisher keeps real time, a parallel
/// ffmpeg recorder gets every frame, and the stuck subscriber's `droppedPackets` grows.
#[test]
fn a_subscriber_that_never_reads_slows_nobody_and_drops_packets() {
    const RECORD_SECS: f64 = 18.0;
    let dir = TestDir::new();
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip_high_bitrate(), "slow");
    let pub_id = publisher_id(&server, "slow");

    let stuck = tcp_connect(server.http_addr).unwrap();
    let req = format!(
        "GET /live/slow.flv HTTP/1.1\r\nHost: {}\r\nUser-Agent: joy4-tests\r\n\r\n",
        server.http_addr
    );
    std::io::Write::write_all(&mut &stuck, req.as_bytes()).unwrap();
    let stuck_addr = stuck.local_addr().unwrap().to_string();
    let stuck_id = wait_until(secs(5.0), || {
        let all = get_json(&server, "/stat/streams");
        all.as_object()?
            .iter()
            .find(|(_, s)| s["remoteAddr"] == stuck_addr.as_str())
            .map(|(id, _)| id.clone())
    })
    .unwrap_or_else(|| {
        panic!(
            "no stream from {stuck_addr}: {:#}\n{}",
            get_json(&server, "/stat/streams"),
            server.describe()
        )
    });

    let out = dir.file("parallel.flv");
    let mut rec = record(&server.flv_url("live/slow"), &out, RECORD_SECS);
    let start = Instant::now();
    let t_start = f64_of(&stream_stat(&server, &pub_id).unwrap()["time"]);
    let mut dropped_max = 0u64;
    let mut last_seen = Value::Null;
    while start.elapsed() < secs(RECORD_SECS + 8.0) && rec.is_running() {
        if let Some(s) = stream_stat(&server, &stuck_id) {
            dropped_max = dropped_max.max(s["droppedPackets"].as_u64().unwrap_or(0));
            last_seen = s;
        }
        thread::sleep(Duration::from_millis(200));
    }
    let wall = start.elapsed().as_secs_f64();
    let pub_stat = stream_stat(&server, &pub_id)
        .unwrap_or_else(|| panic!("the publisher is gone\n{}", server.describe()));
    let advanced = f64_of(&pub_stat["time"]) - t_start;
    eprintln!(
        "stuck subscriber: droppedPackets up to {dropped_max} (last stat {last_seen}); publisher \
         advanced {advanced:.2} s in {wall:.2} s"
    );
    let status = rec.expect_exit(secs(5.0), "parallel recorder");
    assert!(
        status.success(),
        "parallel recorder failed: {status}\n{}\n{}",
        rec.describe(),
        server.describe()
    );
    assert!(
        advanced >= 0.9 * wall - 0.5,
        "the publisher advanced {advanced:.2} s of media in {wall:.2} s: it was slowed\n{}",
        server.describe()
    );
    let probe = ffprobe(&out, Count::Packets).unwrap();
    let dur = probe.duration.unwrap_or(0.0);
    let packets = probe.video().and_then(|v| v.nb_read_packets).unwrap_or(0) as f64;
    assert!(
        dur >= RECORD_SECS - 1.0 && packets >= 0.95 * FPS * dur,
        "parallel recorder: {packets} video packets in {dur:.2} s\n{}",
        server.describe()
    );
    let (video, _) = packet_dts(&out);
    let (gap, at) = largest_step(&video);
    assert!(
        gap <= 0.2,
        "parallel recorder has a {gap:.3} s video gap at {at:.3} s\n{}",
        server.describe()
    );
    assert!(
        dropped_max > 0,
        "the stuck subscriber never dropped a packet (last stat {last_seen:#})\n{}",
        server.describe()
    );
    drop(stuck);
    server.assert_alive("after the stuck subscriber");
}
