//! An HLS client written from RFC 8216, independent of the server's code: playlist parsing, the
//! entry playlist -> media playlist -> segment walk, and ffprobe on a downloaded segment.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{http_exchange, HttpResponse};

/// One `#EXTINF` entry of a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistSegment {
    pub uri: String,
    pub duration: f64,
    /// `#EXT-X-DISCONTINUITY` came before it.
    pub discontinuity: bool,
}

/// A media playlist, parsed.
#[derive(Debug, Clone, Default)]
pub struct MediaPlaylist {
    pub version: Option<u32>,
    pub target_duration: Option<u32>,
    pub media_sequence: Option<u64>,
    pub segments: Vec<PlaylistSegment>,
    pub ended: bool,
    pub text: String,
}

pub fn parse_media_playlist(text: &str) -> Result<MediaPlaylist, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err(format!("not a playlist: {text:?}"));
    }
    let mut p = MediaPlaylist {
        text: text.to_string(),
        ..MediaPlaylist::default()
    };
    let mut pending: Option<f64> = None;
    let mut discontinuity = false;
    for line in lines {
        let value = |tag: &str| line.strip_prefix(tag).map(str::to_string);
        if let Some(v) = value("#EXT-X-VERSION:") {
            p.version = v.parse().ok();
        } else if let Some(v) = value("#EXT-X-TARGETDURATION:") {
            p.target_duration = v.parse().ok();
        } else if let Some(v) = value("#EXT-X-MEDIA-SEQUENCE:") {
            p.media_sequence = v.parse().ok();
        } else if let Some(v) = value("#EXTINF:") {
            let d = v.split(',').next().unwrap_or("");
            pending = Some(d.parse().map_err(|_| format!("bad EXTINF {line:?}"))?);
        } else if line == "#EXT-X-DISCONTINUITY" {
            discontinuity = true;
        } else if line == "#EXT-X-ENDLIST" {
            p.ended = true;
        } else if !line.starts_with('#') {
            let duration = pending
                .take()
                .ok_or(format!("URI without EXTINF: {line}"))?;
            p.segments.push(PlaylistSegment {
                uri: line.to_string(),
                duration,
                discontinuity: std::mem::take(&mut discontinuity),
            });
        }
    }
    Ok(p)
}

/// `dir_of("/live/abc.m3u8")` = `/live/`: where relative URIs resolve.
fn dir_of(path: &str) -> &str {
    &path[..=path.rfind('/').unwrap_or(0)]
}

/// `GET path` (one request, `Connection: close`), with extra header lines.
pub fn get_with(addr: SocketAddr, method: &str, path: &str, extra: &str) -> HttpResponse {
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n");
    http_exchange(addr, request.as_bytes(), Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A viewer: the media playlist path its entry playlist handed out.
#[derive(Debug, Clone)]
pub struct HlsViewer {
    pub addr: SocketAddr,
    /// `/live/abc.m3u8?session=…`
    pub media_path: String,
}

impl HlsViewer {
    /// Load the entry playlist `/CHANNEL.m3u8` and take its one variant.
    pub fn open(addr: SocketAddr, channel: &str) -> Result<HlsViewer, String> {
        HlsViewer::open_with(addr, channel, "")
    }

    /// Load `/CHANNEL.m3u8?QUERY` (parameters for the accept/reject check).
    pub fn open_with(addr: SocketAddr, channel: &str, query: &str) -> Result<HlsViewer, String> {
        let entry = format!("/{channel}.m3u8");
        let target = if query.is_empty() {
            entry.clone()
        } else {
            format!("{entry}?{query}")
        };
        let r = get_with(addr, "GET", &target, "");
        if r.head.status != 200 {
            return Err(format!("GET {entry}: {} {}", r.head.status, r.body_text()));
        }
        let text = r.body_text();
        let variant = text
            .lines()
            .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF:"))
            .nth(1)
            .ok_or(format!("no variant in {text:?}"))?;
        Ok(HlsViewer {
            addr,
            media_path: format!("{}{variant}", dir_of(&entry)),
        })
    }

    pub fn media_playlist(&self) -> MediaPlaylist {
        let r = get_with(self.addr, "GET", &self.media_path, "");
        assert_eq!(r.head.status, 200, "{}: {}", self.media_path, r.body_text());
        parse_media_playlist(&r.body_text()).unwrap()
    }

    /// The absolute path of a segment URI.
    pub fn segment_path(&self, segment: &PlaylistSegment) -> String {
        format!("{}{}", dir_of(&self.media_path), segment.uri)
    }

    pub fn get_segment(&self, segment: &PlaylistSegment, extra: &str) -> HttpResponse {
        get_with(self.addr, "GET", &self.segment_path(segment), extra)
    }
}

/// ffprobe: the flags of the first video packet of a TS file (`K_` for a keyframe).
pub fn first_video_packet_flags(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=flags", "-read_intervals", "%+#1", "-of", "csv=p=0"])
        .arg(file)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// The server process's CPU time (user + system) in seconds, from /proc.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields after the command: state is 0, utime is 11, stime is 12.
    (ticks(11) + ticks(12)) / 100.0
}
