//! Test media generated with ffmpeg's lavfi sources (cached), and ffmpeg publishers and players.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{http_head_status, wait_until, Proc, Server, TMP};

/// Length of the standard clip: long enough that every test finishes while it is still publishing.
pub const CLIP_SECS: u32 = 20;
/// GOP length of the H.264 clips in milliseconds (`-g 50` at 25 fps).
pub const GOP_MS: i64 = 2000;

/// The standard clip: H.264 640x360 + AAC, [`CLIP_SECS`] long (see [`clip_h264_aac`]).
pub fn clip() -> PathBuf {
    clip_h264_aac(640, 360, CLIP_SECS)
}

/// The audio source of every clip: a 440 Hz sine at 44.1 kHz.
const SINE: [&str; 4] = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"];
/// AAC at 44.1 kHz stereo.
const AAC: [&str; 6] = ["-c:a", "aac", "-ar", "44100", "-ac", "2"];

/// ffmpeg arguments for `seconds` of the lavfi `video` source, libx264 with `preset` (2 s GOP, no
/// scene cuts) and `video_rate` options, plus the sine as AAC with `audio_rate` options.
fn h264_aac_args<'a>(
    video: &'a str,
    seconds: &'a str,
    preset: &'a str,
    video_rate: &[&'a str],
    audio_rate: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["-f", "lavfi", "-i", video];
    args.extend(SINE);
    args.extend(["-t", seconds, "-c:v", "libx264", "-preset", preset]);
    args.extend(["-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50"]);
    args.extend(["-sc_threshold", "0"]);
    args.extend(video_rate);
    args.extend(AAC);
    args.extend(audio_rate);
    args
}

/// testsrc2 WxH at 25 fps + a 440 Hz sine at 44.1 kHz stereo, libx264 (2 s GOP, no scene cuts,
/// 800 kb/s) + AAC, in an FLV file of `seconds` seconds.
pub fn clip_h264_aac(w: u32, h: u32, seconds: u32) -> PathBuf {
    let video = format!("testsrc2=size={w}x{h}:rate=25");
    let t = seconds.to_string();
    let args = h264_aac_args(&video, &t, "veryfast", &["-b:v", "800k"], &["-b:a", "128k"]);
    cached_media(&format!("h264_aac_{w}x{h}_{seconds}s.flv"), &args)
}

/// testsrc2 640x360 at 25 fps with a keyframe every second (`-g 25`) + AAC, `seconds` long: the
/// low-latency HLS tests' clip.
pub fn clip_gop_1s(seconds: u32) -> PathBuf {
    let t = seconds.to_string();
    let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"];
    args.extend(SINE);
    args.extend(["-t", &t, "-c:v", "libx264", "-preset", "veryfast"]);
    args.extend(["-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"]);
    args.extend(["-sc_threshold", "0", "-b:v", "800k"]);
    args.extend(AAC);
    args.extend(["-b:a", "128k"]);
    cached_media(&format!("h264_aac_gop1s_{seconds}s.flv"), &args)
}

/// As [`clip_gop_1s`] with MP3 audio (libmp3lame, 44.1 kHz stereo) instead of AAC.
pub fn clip_h264_mp3(seconds: u32) -> PathBuf {
    let t = seconds.to_string();
    let mut args = vec!["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25"];
    args.extend(SINE);
    args.extend(["-t", &t, "-c:v", "libx264", "-preset", "veryfast"]);
    args.extend(["-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"]);
    args.extend(["-sc_threshold", "0", "-b:v", "800k"]);
    args.extend([
        "-c:a",
        "libmp3lame",
        "-ar",
        "44100",
        "-ac",
        "2",
        "-b:a",
        "128k",
    ]);
    cached_media(&format!("h264_mp3_gop1s_{seconds}s.flv"), &args)
}

/// A 440 Hz sine, AAC 44.1 kHz stereo, no video, `seconds` long.
pub fn clip_audio_only(seconds: u32) -> PathBuf {
    let t = seconds.to_string();
    let mut args = SINE.to_vec();
    args.extend(["-t", &t]);
    args.extend(AAC);
    args.extend(["-b:a", "128k"]);
    cached_media(&format!("aac_only_{seconds}s.flv"), &args)
}

/// 10 s of noisy testsrc2 640x360 at about 8 Mbit/s (H.264, 2 s GOP) + AAC: fills socket buffers
/// quickly.
pub fn clip_high_bitrate() -> PathBuf {
    let args = h264_aac_args(
        "testsrc2=size=640x360:rate=25,noise=alls=40:allf=t",
        "10",
        "ultrafast",
        &["-b:v", "8M", "-maxrate", "8M", "-bufsize", "4M"],
        &[],
    );
    cached_media("h264_8mbit_aac_640x360_10s.flv", &args)
}

static MEDIA_LOCK: Mutex<()> = Mutex::new(());

/// Make (once) the FLV file `target/tmp/media/NAME` by running ffmpeg with `args`, `-f flv` and an
/// output path. Generated under a temporary name, then renamed, so parallel test binaries never see
/// a partial file.
fn cached_media(name: &str, args: &[&str]) -> PathBuf {
    let dir = Path::new(TMP).join("media");
    fs::create_dir_all(&dir).expect("create media dir");
    let path = dir.join(name);
    let _guard = MEDIA_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!("{name}.{}.{nanos}.tmp.flv", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .args(["-f", "flv"])
        .arg(&tmp);
    let mut p = Proc::spawn(&format!("ffmpeg-gen-{name}"), cmd);
    let st = p.expect_exit(Duration::from_secs(180), "generating test media");
    let size = fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
    assert!(
        st.success() && size > 0,
        "ffmpeg failed to generate {name} ({st:?}, {size} bytes)\n{}",
        p.describe()
    );
    fs::rename(&tmp, &path).expect("rename generated media");
    path
}

/// How to publish a clip.
#[derive(Debug, Clone, Copy)]
pub struct Publish {
    /// `-c copy` (H.264/AAC stay as they are); false re-encodes to FLV's defaults (flv1 + mp3).
    pub copy: bool,
    /// `-stream_loop -1`: publish forever.
    pub loop_forever: bool,
    /// `-t SECS` on the output: stop after this much media.
    pub limit_secs: Option<f64>,
}

impl Default for Publish {
    fn default() -> Self {
        Publish {
            copy: true,
            loop_forever: false,
            limit_secs: None,
        }
    }
}

/// `ffmpeg -re -i CLIP [-c copy] -f flv URL`
pub fn publish_with(clip: &Path, url: &str, opts: Publish) -> Proc {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"]);
    if opts.loop_forever {
        cmd.args(["-stream_loop", "-1"]);
    }
    cmd.arg("-i").arg(clip);
    if opts.copy {
        cmd.args(["-c", "copy"]);
    }
    if let Some(t) = opts.limit_secs {
        cmd.args(["-t", &t.to_string()]);
    }
    cmd.args(["-f", "flv", url]);
    Proc::spawn("ffmpeg-publish", cmd)
}

/// Publish `clip` to `url` with `-re -c copy`.
pub fn publish(clip: &Path, url: &str) -> Proc {
    publish_with(clip, url, Publish::default())
}

/// Publish `clip` in a loop, `-re -c copy`, to PATH; returns once the channel answers.
pub fn publish_loop(server: &mut Server, clip: &Path, path: &str) -> Proc {
    let mut p = publish_with(
        clip,
        &server.rtmp_url(path),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    wait_for_channel(server, path, &mut p);
    p
}

/// A server with [`clip`] being published (`-re -c copy`) to PATH; returns once the channel answers.
pub fn server_with_publisher(path: &str) -> (Server, Proc) {
    let clip = clip();
    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url(path));
    wait_for_channel(&mut server, path, &mut publisher);
    (server, publisher)
}

/// Wait until `HEAD /PATH.flv` answers 200 (the publisher is on), checking that the publisher is
/// still running meanwhile. Panics with both logs after 10 s.
pub fn wait_for_channel(server: &mut Server, path: &str, publisher: &mut Proc) {
    let flv = Server::flv_path(path);
    let mut last = String::new();
    let ok = wait_until(Duration::from_secs(10), || {
        if !publisher.is_running() {
            return Some(false);
        }
        match http_head_status(server.http_addr, &flv) {
            Ok(200) => Some(true),
            Ok(s) => {
                last = format!("status {s}");
                None
            }
            Err(e) => {
                last = e;
                None
            }
        }
    });
    match ok {
        Some(true) => {}
        Some(false) => panic!(
            "publisher to {path} exited before the channel appeared (last GET {flv}: {last})\n{}\n{}",
            publisher.describe(),
            server.describe()
        ),
        None => panic!(
            "channel {path} did not appear within 10 s (last GET {flv}: {last})\n{}\n{}",
            publisher.describe(),
            server.describe()
        ),
    }
}

fn player_cmd(url: &str) -> Command {
    let mut cmd = Command::new("ffmpeg");
    cmd.args([
        "-hide_banner",
        "-loglevel",
        "warning",
        "-nostdin",
        "-y",
        "-rw_timeout",
        "15000000",
        "-i",
        url,
    ]);
    cmd
}

/// Play `url` and record `secs` seconds of it without re-encoding: `-i URL -c copy -t SECS -f flv OUT`.
pub fn record(url: &str, out: &Path, secs: f64) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-c", "copy", "-t", &secs.to_string(), "-f", "flv"])
        .arg(out);
    Proc::spawn("ffmpeg-record", cmd)
}

/// Play `url` and record it until the stream ends.
pub fn record_until_end(url: &str, out: &Path) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-c", "copy", "-f", "flv"]).arg(out);
    Proc::spawn("ffmpeg-record", cmd)
}

/// Play and decode `url` for `secs` seconds, discarding the output.
pub fn play_null(url: &str, secs: f64) -> Proc {
    let mut cmd = player_cmd(url);
    cmd.args(["-t", &secs.to_string(), "-f", "null", "-"]);
    Proc::spawn("ffmpeg-play", cmd)
}
