//! ffprobe, run on a file or URL and parsed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use super::proc::read_in_background;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Nothing,
    /// `-count_packets` (no decoding).
    Packets,
    /// `-count_frames` (decodes everything).
    Frames,
}

#[derive(Debug, Clone, Default)]
pub struct StreamInfo {
    pub codec_type: String,
    pub codec_name: String,
    pub width: u64,
    pub height: u64,
    pub sample_rate: u64,
    pub channels: u64,
    pub nb_read_frames: Option<u64>,
    pub nb_read_packets: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub streams: Vec<StreamInfo>,
    /// The container duration ffprobe reports, in seconds.
    pub duration: Option<f64>,
}

impl Probe {
    pub fn video(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.codec_type == "video")
    }
    pub fn audio(&self) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.codec_type == "audio")
    }

    /// The video and the audio stream, or an error naming the one missing.
    pub fn video_and_audio(&self) -> Result<(&StreamInfo, &StreamInfo), String> {
        let v = self
            .video()
            .ok_or_else(|| format!("no video stream in {self:?}"))?;
        let a = self
            .audio()
            .ok_or_else(|| format!("no audio stream in {self:?}"))?;
        Ok((v, a))
    }

    /// The duration, which must be at least `min_secs`.
    pub fn duration_at_least(&self, min_secs: f64) -> Result<f64, String> {
        let dur = self.duration.ok_or("ffprobe reports no duration")?;
        if dur < min_secs {
            return Err(format!("recorded {dur:.2} s, want at least {min_secs} s"));
        }
        Ok(dur)
    }
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn json_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn run_ffprobe(args: &[&str], path: &Path) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-hide_banner", "-v", "error"])
        .args(args)
        .args(["-of", "json"])
        .arg(path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    let mut out = child.stdout.take().unwrap();
    let t_err = read_in_background(child.stderr.take().unwrap());
    let mut text = Vec::new();
    let _ = out.read_to_end(&mut text);
    let status = child.wait().map_err(|e| e.to_string())?;
    let stderr = t_err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "ffprobe {args:?} {} failed ({status}): {stderr}",
            path.display()
        ));
    }
    serde_json::from_slice(&text)
        .map_err(|e| format!("ffprobe output is not JSON ({e}); stderr: {stderr}"))
}

/// `ffprobe -show_streams -show_format -of json [-count_frames|-count_packets] FILE`, parsed.
pub fn ffprobe(path: &Path, count: Count) -> Result<Probe, String> {
    let mut args = vec!["-show_streams", "-show_format"];
    match count {
        Count::Nothing => {}
        Count::Packets => args.push("-count_packets"),
        Count::Frames => args.push("-count_frames"),
    }
    let v = run_ffprobe(&args, path)?;
    let mut probe = Probe::default();
    for s in v["streams"].as_array().cloned().unwrap_or_default() {
        probe.streams.push(StreamInfo {
            codec_type: s["codec_type"].as_str().unwrap_or("").to_string(),
            codec_name: s["codec_name"].as_str().unwrap_or("").to_string(),
            width: json_u64(&s["width"]).unwrap_or(0),
            height: json_u64(&s["height"]).unwrap_or(0),
            sample_rate: json_u64(&s["sample_rate"]).unwrap_or(0),
            channels: json_u64(&s["channels"]).unwrap_or(0),
            nb_read_frames: json_u64(&s["nb_read_frames"]),
            nb_read_packets: json_u64(&s["nb_read_packets"]),
        });
    }
    probe.duration = json_f64(&v["format"]["duration"]);
    Ok(probe)
}

/// Presentation times (seconds) of the packets of one stream (`v:0`, `a:0`), in file order.
pub fn packet_times(path: &Path, stream: &str) -> Result<Vec<f64>, String> {
    let v = run_ffprobe(
        &[
            "-select_streams",
            stream,
            "-show_entries",
            "packet=pts_time",
        ],
        path,
    )?;
    Ok(v["packets"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| json_f64(&p["pts_time"])).collect())
        .unwrap_or_default())
}

/// The largest step between consecutive sorted times (0 for fewer than two).
pub fn max_gap(times: &[f64]) -> f64 {
    let mut t = times.to_vec();
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// `run_ffprobe`, panicking on failure.
fn ffprobe_json(args: &[&str], file: &Path) -> serde_json::Value {
    run_ffprobe(args, file).unwrap_or_else(|e| panic!("{e}"))
}

/// Decode timestamps (s) of the packets of each kind, in file order: (video, audio).
pub fn packet_dts(file: &Path) -> (Vec<f64>, Vec<f64>) {
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
pub fn backward_steps(times: &[f64]) -> Vec<String> {
    times
        .windows(2)
        .filter(|w| w[1] < w[0])
        .map(|w| format!("{:.3} -> {:.3}", w[0], w[1]))
        .collect()
}

/// The largest step between consecutive times in file order, and where it starts.
pub fn largest_step(times: &[f64]) -> (f64, f64) {
    times
        .windows(2)
        .map(|w| (w[1] - w[0], w[0]))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

/// Decoded video frame sizes as runs: [((w, h), frames), ...] in order.
pub fn resolution_runs(file: &Path) -> Vec<((u64, u64), usize)> {
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
