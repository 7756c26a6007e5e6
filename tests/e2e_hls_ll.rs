//! The `fmp4` and `lowlatency` HLS variants against real clients: ffprobe decodes CMAF segments
//! and parts with their init segment, every segment starts with a keyframe, ffmpeg plays a
//! low-latency playlist, blocking playlist reloads and the hinted part wait for their part,
//! bad `_HLS_*` values get 400 with a JSON reason, a request blocked for three target durations
//! gets 503, and the memory a blocked viewer costs is measured.
mod support;

use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use support::*;

fn start(variant: &str, path: &str) -> (Server, Proc) {
    let mut server = Server::start(&[&format!("-hlsvariant={variant}"), "-hlsfragment=1s"]);
    let publisher = publish_loop(&mut server, &clip_gop_1s(CLIP_SECS), path);
    (server, publisher)
}

/// Where a playlist's relative URIs resolve: `/live/` of `/live/abc.m3u8?session=…`.
fn dir_of(media_path: &str) -> &str {
    &media_path[..=media_path.rfind('/').unwrap_or(0)]
}

fn get(server: &Server, path: &str) -> HttpResponse {
    get_with(server.http_addr, "GET", path, "")
}

/// The quoted `URI="…"` of a tag line.
fn uri_of(line: &str) -> String {
    let start = line.find("URI=\"").expect("a URI") + 5;
    let end = start + line[start..].find('"').unwrap();
    line[start..end].to_string()
}

/// (sequence, index) of a part URI `…/RUN-SEQ.INDEX.m4s?…`.
fn part_numbers(uri: &str) -> (u64, usize) {
    let file = uri.split('?').next().unwrap().rsplit('/').next().unwrap();
    let name = file.trim_end_matches(".m4s");
    let (_, rest) = name.split_once('-').unwrap();
    let (seq, index) = rest.split_once('.').unwrap();
    (seq.parse().unwrap(), index.parse().unwrap())
}

fn write_file(dir: &TestDir, name: &str, parts: &[&[u8]]) -> std::path::PathBuf {
    let file = dir.file(name);
    std::fs::write(&file, parts.concat()).unwrap();
    file
}

/// ffprobe JSON of a file: its streams, and the flags of the first video packet.
fn probe_streams(file: &std::path::Path) -> (Vec<Value>, String) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-count_frames",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .expect("run ffprobe");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    (streams, first_video_packet_flags(file))
}

fn decoded_video_frames(streams: &[Value]) -> u64 {
    streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .and_then(|s| s["nb_read_frames"].as_str())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn fmp4_segments_decode_with_their_init_segment_and_each_starts_with_a_keyframe() {
    let (server, _publisher) = start("fmp4", "live/cmaf");
    let entry = get(&server, "/live/cmaf.m3u8").body_text();
    assert!(entry.contains("CODECS=\"avc1.64"), "{entry}");
    assert!(entry.contains(",mp4a.40.2\""), "{entry}");
    let viewer = HlsViewer::open(server.http_addr, "live/cmaf").unwrap();
    let playlist = wait_until(secs(15.0), || {
        let p = viewer.media_playlist();
        (p.segments.len() >= 3).then_some(p)
    })
    .unwrap_or_else(|| panic!("fewer than 3 segments\n{}", server.describe()));
    assert_eq!(playlist.version, Some(7), "{}", playlist.text);
    let map = playlist
        .text
        .lines()
        .find(|l| l.starts_with("#EXT-X-MAP:"))
        .expect("EXT-X-MAP");
    assert!(!playlist.text.contains("#EXT-X-PART"));
    let dir = dir_of(&viewer.media_path).to_string();
    let init = get(&server, &format!("{dir}{}", uri_of(map)));
    assert_eq!(init.head.status, 200);
    assert_eq!(init.head.header("content-type"), Some("video/mp4"));
    assert!(init
        .head
        .header("cache-control")
        .unwrap()
        .contains("immutable"));
    assert_eq!(&init.body[4..8], b"ftyp");
    let files = TestDir::new();
    for (i, segment) in playlist.segments.iter().enumerate() {
        assert!(segment.uri.contains(".m4s?"), "{segment:?}");
        let r = viewer.get_segment(segment, "");
        assert_eq!(r.head.status, 200, "{}", r.body_text());
        assert!(r
            .head
            .header("cache-control")
            .unwrap()
            .contains("immutable"));
        let file = write_file(&files, &format!("{i}.mp4"), &[&init.body, &r.body]);
        let (streams, flags) = probe_streams(&file);
        assert!(flags.starts_with('K'), "segment {i} starts with {flags:?}");
        let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        assert_eq!(video["codec_name"], "h264");
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(640), Some(360))
        );
        assert!(
            streams.iter().any(|s| s["codec_name"] == "aac"),
            "{streams:?}"
        );
        // One second of 25 fps video (a keyframe every second, segments of about 1 s).
        let frames = decoded_video_frames(&streams);
        assert!((20..=55).contains(&frames), "segment {i}: {frames} frames");
    }
    // ffmpeg reads the playlist itself (its HLS demuxer knows EXT-X-MAP).
    let url = format!("http://{}/live/cmaf.m3u8", server.http_addr);
    assert_ffmpeg_decodes(&url, 4.0, &server);
}

/// ffmpeg decodes `secs` of the playlist at `url`, without decoding errors.
fn assert_ffmpeg_decodes(url: &str, secs_played: f64, server: &Server) {
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-rw_timeout",
            "15000000",
        ])
        .arg("-i")
        .arg(url)
        .args([
            "-t",
            &secs_played.to_string(),
            "-map",
            "0:v",
            "-f",
            "framecrc",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "ffmpeg failed: {errors}\n{}",
        server.describe()
    );
    assert!(errors.trim().is_empty(), "decoding errors: {errors}");
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    assert!(
        frames as f64 >= 0.9 * secs_played * FPS,
        "{frames} frames decoded in {secs_played} s"
    );
}

#[test]
fn lowlatency_parts_decode_with_the_init_segment_and_ffmpeg_still_plays_the_playlist() {
    let (server, _publisher) = start("lowlatency", "live/parts");
    let viewer = HlsViewer::open(server.http_addr, "live/parts").unwrap();
    let playlist = wait_until(secs(15.0), || {
        let p = viewer.media_playlist();
        (p.segments.len() >= 2).then_some(p)
    })
    .unwrap_or_else(|| panic!("fewer than 2 segments\n{}", server.describe()));
    let text = &playlist.text;
    assert!(text.contains("#EXT-X-PART-INF:PART-TARGET=0.200"), "{text}");
    let dir = dir_of(&viewer.media_path).to_string();
    let init = get(
        &server,
        &format!(
            "{dir}{}",
            uri_of(text.lines().find(|l| l.starts_with("#EXT-X-MAP:")).unwrap())
        ),
    );
    // The last complete segment: its parts back to back are the segment, and decode.
    let last = playlist.segments.last().unwrap();
    let last_seq = part_numbers(&last.uri.replace(".m4s", ".0.m4s")).0;
    let parts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .filter(|l| part_numbers(&uri_of(l)).0 == last_seq)
        .collect();
    assert!(parts.len() >= 4, "{text}");
    assert!(parts[0].contains("INDEPENDENT=YES"), "{}", parts[0]);
    let mut joined = Vec::new();
    let files = TestDir::new();
    for (i, line) in parts.iter().enumerate() {
        let r = get(&server, &format!("{dir}{}", uri_of(line)));
        assert_eq!(r.head.status, 200, "{line}: {}", r.body_text());
        assert!(r
            .head
            .header("cache-control")
            .unwrap()
            .contains("immutable"));
        if line.contains("INDEPENDENT=YES") {
            let file = write_file(&files, &format!("part{i}.mp4"), &[&init.body, &r.body]);
            let (streams, flags) = probe_streams(&file);
            assert!(
                flags.starts_with('K'),
                "independent part {i} starts with {flags:?}"
            );
            assert!(decoded_video_frames(&streams) >= 1, "{streams:?}");
        }
        joined.extend_from_slice(&r.body);
    }
    let whole = viewer.get_segment(last, "");
    assert_eq!(joined, whole.body, "the parts of a segment are the segment");
    let file = write_file(&files, "joined.mp4", &[&init.body, &joined]);
    let (streams, flags) = probe_streams(&file);
    assert!(flags.starts_with('K'));
    assert!(decoded_video_frames(&streams) >= 20, "{streams:?}");
    // ffmpeg ignores the parts and plays the segments.
    let url = format!("http://{}/live/parts.m3u8", server.http_addr);
    assert_ffmpeg_decodes(&url, 4.0, &server);
}

/// The hinted part's (sequence, index) of a low-latency playlist.
fn hint(text: &str) -> (u64, usize) {
    let line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:TYPE=PART,"))
        .unwrap_or_else(|| panic!("no preload hint in {text}"));
    part_numbers(&uri_of(line))
}

fn assert_bad_directive(server: &Server, path: &str, words: &str) {
    let r = get(server, path);
    assert_eq!(r.head.status, 400, "{path}: {}", r.body_text());
    let v: Value = serde_json::from_slice(&r.body).expect("a JSON reason");
    assert_eq!(v["error"], "BadDirective");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains(words), "{path}: {reason}");
}

#[test]
fn blocking_reload_and_the_hinted_part_wait_and_bad_directives_get_400() {
    let (server, _publisher) = start("lowlatency", "live/block");
    let viewer = HlsViewer::open(server.http_addr, "live/block").unwrap();
    let media = viewer.media_path.clone();
    let plain = get(&server, &media);
    assert_eq!(
        plain.head.header("cache-control"),
        Some("public, max-age=1")
    );
    let (seq, index) = hint(&plain.body_text());
    // Ask for the part after the hinted one: the answer waits until it exists.
    let asked = Instant::now();
    let r = get(
        &server,
        &format!("{media}&_HLS_msn={seq}&_HLS_part={}", index + 1),
    );
    let waited = asked.elapsed();
    assert_eq!(r.head.status, 200, "{}", r.body_text());
    assert_eq!(r.head.header("cache-control"), Some("public, max-age=1"));
    let text = r.body_text();
    let listed = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .map(|l| part_numbers(&uri_of(l)))
        .any(|p| p >= (seq, index + 1) || p.0 > seq);
    assert!(listed, "part {seq}.{} not in\n{text}", index + 1);
    assert!(
        waited.as_millis() >= 100,
        "answered in {waited:?}: it did not wait"
    );
    assert!(waited.as_secs_f64() < 2.0, "waited {waited:?} for one part");
    // The hinted part: the request is answered once the part is complete.
    let dir = dir_of(&media).to_string();
    let token = media.split("session=").nth(1).unwrap();
    let run = uri_of(text.lines().find(|l| l.starts_with("#EXT-X-MAP:")).unwrap());
    let run = run
        .rsplit('/')
        .next()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .to_string();
    let hinted = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))
        .unwrap();
    let part_path = format!("{dir}{}", uri_of(hinted));
    let asked = Instant::now();
    let part = get(&server, &part_path);
    let waited = asked.elapsed();
    assert_eq!(part.head.status, 200, "{part_path}: {}", part.body_text());
    assert!(part.body.len() > 100 && &part.body[4..8] == b"moof");
    assert!(
        waited.as_millis() >= 50,
        "the hinted part came in {waited:?}"
    );
    // A delta update names what it skipped, once the playlist is long enough (not here: a
    // window of 6 one-second segments is shorter than CAN-SKIP-UNTIL=6 s plus the parts).
    let delta = get(&server, &format!("{media}&_HLS_skip=YES")).body_text();
    assert!(delta.contains("CAN-SKIP-UNTIL="), "{delta}");
    // Bad directives: 400 with a JSON reason, at once.
    let (seq, _) = hint(&delta);
    assert_bad_directive(&server, &format!("{media}&_HLS_part=1"), "without _HLS_msn");
    assert_bad_directive(&server, &format!("{media}&_HLS_msn={}", seq + 3), "+ 2");
    assert_bad_directive(&server, &format!("{media}&_HLS_msn=-4"), "decimal");
    assert_bad_directive(
        &server,
        &format!("{media}&_HLS_msn=12345678901234567890"),
        "decimal",
    );
    assert_bad_directive(
        &server,
        &format!("{media}&_HLS_msn={seq}&_HLS_part=9999999"),
        "parts",
    );
    assert_bad_directive(&server, &format!("{media}&_HLS_skip=please"), "_HLS_skip");
    // An old part is gone: 404, not a wait.
    let gone = get(
        &server,
        &format!("{dir}block/{run}-0.99.m4s?session={token}"),
    );
    assert_eq!(gone.head.status, 404, "{}", gone.body_text());
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_blocked_request_gets_503_after_three_target_durations_and_costs_little_memory() {
    const BLOCKED: usize = 200;
    let (server, mut publisher) = start("lowlatency", "live/stall");
    let viewers: Vec<HlsViewer> = (0..BLOCKED)
        .map(|_| HlsViewer::open(server.http_addr, "live/stall").unwrap())
        .collect();
    let text = get(&server, &viewers[0].media_path).body_text();
    let target: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    // The publisher stops: nothing new comes, and the channel waits for it (publisher grace).
    publisher.kill();
    std::thread::sleep(secs(0.5));
    let (seq, _) = hint(&get(&server, &viewers[0].media_path).body_text());
    let pid = server.proc.pid();
    let before = rss_kib(pid);
    let asked = Instant::now();
    let addr = server.http_addr;
    let blocked: Vec<_> = viewers
        .iter()
        .map(|v| {
            let path = format!("{}&_HLS_msn={}", v.media_path, seq + 1);
            std::thread::spawn(move || {
                let r = get_with(addr, "GET", &path, "");
                (r.head.status, r.body_text(), Instant::now())
            })
        })
        .collect();
    std::thread::sleep(secs(target * 1.5));
    let during = rss_kib(pid);
    let answers: Vec<_> = blocked.into_iter().map(|t| t.join().unwrap()).collect();
    let per_viewer = (during.saturating_sub(before)) as f64 / BLOCKED as f64;
    println!(
        "{BLOCKED} blocked LL-HLS requests: RSS {before} KiB before, {during} KiB while blocked: \
         {per_viewer:.1} KiB per blocked viewer"
    );
    for (status, body, at) in &answers {
        assert_eq!(*status, 503, "{body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], "NotYet");
        let after = at.duration_since(asked).as_secs_f64();
        assert!(
            after >= 3.0 * target - 0.2 && after <= 3.0 * target + 3.0,
            "answered after {after:.2} s, target duration {target} s"
        );
    }
    assert!(per_viewer < 256.0, "{per_viewer:.1} KiB per blocked viewer");
}

/// An Enhanced RTMP channel in `codec` plays as fmp4 HLS: the entry playlist names `codecs`,
/// ffprobe reads the playlist at the fixture's size, and each segment starts with a keyframe.
fn enhanced_channel_plays_as_fmp4(track: Track, codec: &str, codecs: &str) {
    let server = Server::start(&["-hlsvariant=fmp4", "-hlsfragment=1s"]);
    let name = format!("x{codec}");
    let _publishing = publish_enhanced_loop(&server, &name, &track, 20.0);
    let path = format!("live/{name}");
    let viewer = wait_until(secs(15.0), || HlsViewer::open(server.http_addr, &path).ok())
        .unwrap_or_else(|| panic!("no playlist\n{}", server.describe()));
    let entry = get(&server, &format!("/{path}.m3u8")).body_text();
    assert!(entry.contains(&format!("CODECS=\"{codecs}")), "{entry}");
    let playlist = wait_until(secs(15.0), || {
        let p = viewer.media_playlist();
        (p.segments.len() >= 2).then_some(p)
    })
    .unwrap_or_else(|| panic!("fewer than 2 segments\n{}", server.describe()));
    let dir = dir_of(&viewer.media_path).to_string();
    let map = playlist
        .text
        .lines()
        .find(|l| l.starts_with("#EXT-X-MAP:"))
        .unwrap();
    let init = get(&server, &format!("{dir}{}", uri_of(map)));
    let files = TestDir::new();
    for (i, segment) in playlist.segments.iter().enumerate() {
        let r = viewer.get_segment(segment, "");
        assert_eq!(r.head.status, 200);
        let file = write_file(&files, &format!("{i}.mp4"), &[&init.body, &r.body]);
        let (streams, flags) = probe_streams(&file);
        assert!(
            flags.starts_with('K'),
            "{codec} segment {i} starts with {flags:?}"
        );
        let video = &streams[0];
        assert_eq!(video["codec_name"], codec, "{streams:?}");
        assert_eq!(
            (video["width"].as_u64(), video["height"].as_u64()),
            (Some(WIDTH), Some(HEIGHT))
        );
        assert!(decoded_video_frames(&streams) >= 20, "{streams:?}");
    }
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-of", "json"])
        .arg(format!("http://{}/{path}.m3u8", server.http_addr))
        .output()
        .expect("run ffprobe");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(
        v["streams"][0]["codec_name"],
        codec,
        "{v}\n{}",
        server.describe()
    );
}

#[test]
fn an_hevc_channel_plays_as_fmp4_hls() {
    let dir = TestDir::new();
    enhanced_channel_plays_as_fmp4(hevc_track(&dir), "hevc", "hvc1.");
}

#[test]
fn an_av1_channel_plays_as_fmp4_hls() {
    let dir = TestDir::new();
    enhanced_channel_plays_as_fmp4(av1_track(&dir), "av1", "av01.");
}

#[test]
fn a_new_publisher_marks_a_discontinuity_with_a_new_init_segment_and_a_closed_viewer_is_refused() {
    let (mut server, mut first) = start("lowlatency", "live/again");
    let viewer = HlsViewer::open(server.http_addr, "live/again").unwrap();
    let streams = get_json(&server, "/stat/streams");
    let id = streams
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, s)| s["type"] == "hls-mem")
        .map(|(id, _)| id.clone())
        .expect("the LL-HLS viewer is an hls-mem stream");
    viewer.media_playlist();
    first.kill();
    // Another encoder with another picture size takes the channel within its grace period.
    let _second = publish_loop(&mut server, &clip_h264_aac(320, 240, 20), "live/again");
    let text = wait_until(secs(20.0), || {
        let p = viewer.media_playlist();
        p.segments.iter().any(|s| s.discontinuity).then_some(p.text)
    })
    .unwrap_or_else(|| panic!("no discontinuity\n{}", server.describe()));
    // The first segment after the mark names a new init segment and decodes with it.
    let after = &text[text.find("#EXT-X-DISCONTINUITY\n").unwrap()..];
    let map = after
        .lines()
        .find(|l| l.starts_with("#EXT-X-MAP:"))
        .unwrap_or_else(|| panic!("no new EXT-X-MAP after the discontinuity:\n{text}"));
    assert!(map.contains("-init-1.mp4"), "{map}");
    let segment = after.lines().find(|l| !l.starts_with('#')).unwrap();
    let dir = dir_of(&viewer.media_path).to_string();
    let init = get(&server, &format!("{dir}{}", uri_of(map)));
    let body = get(&server, &format!("{dir}{segment}"));
    let files = TestDir::new();
    let file = write_file(&files, "after.mp4", &[&init.body, &body.body]);
    let (streams, flags) = probe_streams(&file);
    assert!(flags.starts_with('K'), "{flags}");
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(320), Some(240))
    );
    // /stream/close ends the viewer: its playlist and its parts are refused from then on.
    let (status, _) = post_json(&server, "/stream/close", &serde_json::json!({ "id": id }));
    assert_eq!(status, 200);
    wait_until(secs(5.0), || {
        let r = get(&server, &viewer.media_path);
        (r.head.status == 403).then_some(())
    })
    .expect("the closed viewer's playlist is refused");
    let part = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-PART:"))
        .map(uri_of)
        .unwrap();
    assert_eq!(get(&server, &format!("{dir}{part}")).head.status, 403);
}

#[test]
fn h264_with_mp3_plays_as_fmp4_and_the_playlist_names_mp4a_40_34() {
    let mut server = Server::start(&["-hlsvariant=fmp4", "-hlsfragment=1s"]);
    let _publisher = publish_loop(&mut server, &clip_h264_mp3(CLIP_SECS), "live/mp3");
    let viewer = HlsViewer::open(server.http_addr, "live/mp3").unwrap();
    // MP3 has no sequence header: its track is known from its first frame, so the segments
    // that have it come with the init segment that lists it.
    let text = wait_until(secs(15.0), || {
        let p = viewer.media_playlist();
        let with_mp3 = p.text.contains("-init-1.mp4") && p.segments.len() >= 3;
        with_mp3.then_some(p.text)
    })
    .unwrap_or_else(|| panic!("no segments with the MP3 track\n{}", server.describe()));
    let entry = get(&server, "/live/mp3.m3u8").body_text();
    assert!(entry.contains(",mp4a.40.34\""), "{entry}");
    let dir = dir_of(&viewer.media_path).to_string();
    let after = &text[text.rfind("#EXT-X-MAP:").unwrap()..];
    let map = after.lines().next().unwrap();
    let segment = after.lines().find(|l| !l.starts_with('#')).unwrap();
    let init = get(&server, &format!("{dir}{}", uri_of(map)));
    let body = get(&server, &format!("{dir}{segment}"));
    let files = TestDir::new();
    let file = write_file(&files, "mp3.mp4", &[&init.body, &body.body]);
    let (streams, flags) = probe_streams(&file);
    assert!(flags.starts_with('K'));
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let audio = audio.unwrap_or_else(|| panic!("no audio: {streams:?}"));
    assert_eq!(audio["codec_name"], "mp3");
    assert_eq!(audio["sample_rate"], "44100");
}
