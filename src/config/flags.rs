//! The flag table: what `-h` prints and the README mirrors.

/// One row of the flag table: name, default, meaning. `-h` prints these; the README mirrors them.
pub const FLAGS: &[(&str, &str, &str)] = &[
    (
        "-rtmp=ADDR",
        ":1935",
        "RTMP listen address (:PORT = all interfaces)",
    ),
    (
        "-http=ADDR",
        ":8081",
        "HTTP-FLV listen address (GET /PATH.flv)",
    ),
    (
        "-httpapi=ADDR",
        "127.0.0.1:8080",
        "REST API listen address (:8080 = all interfaces)",
    ),
    (
        "-httpcallback=URL",
        "(none)",
        "base URL for event callbacks (POST URL/event/NAME)",
    ),
    (
        "-rtmpcheckparams",
        "false",
        "hold RTMP publish/play in checkingParams until accepted",
    ),
    (
        "-checktimeout=DUR",
        "10s",
        "reject a stream still in checkingParams after this long",
    ),
    (
        "-apitoken=SECRET",
        "(none)",
        "require 'Authorization: Bearer SECRET' on the API (or env JOY4_API_TOKEN)",
    ),
    (
        "-apicors=ORIGIN,...",
        "(none)",
        "origins allowed to call the API's POST routes from a browser (* = any)",
    ),
    (
        "-buffersize=BYTES",
        "16777216",
        "channel buffer bound in bytes (auto-created channels)",
    ),
    (
        "-bufferduration=DUR",
        "(none)",
        "channel buffer bound in media time, e.g. 30s",
    ),
    (
        "-buffergopcount=N",
        "1",
        "channel buffer bound in GOPs, counting the one in progress (0: none kept, a new viewer waits for the next keyframe)",
    ),
    (
        "-publishergrace=DUR",
        "10s",
        "how long a channel waits for its publisher to come back",
    ),
    (
        "-mergewrite=DUR",
        "100ms",
        "gather frames up to this long before writing them to subscribers: each at once while a channel has up to 32, the whole window from 160, growing between (0 = always each at once)",
    ),
    (
        "-origin=URL,...",
        "(none)",
        "pull unknown channels from these RTMP origins, tried in order, failing over (edge mode)",
    ),
    (
        "-proxyprotocol=CIDR,...",
        "(none)",
        "peers in these ranges must open with a PROXY protocol v1/v2 header naming the client (all three ports)",
    ),
    (
        "-watchpage=BOOL",
        "true",
        "serve the watch page (GET /) and /channels.json on -http",
    ),
    (
        "-maxconnections=N",
        "(fd limit)",
        "open RTMP + HTTP-FLV connections; more are closed at accept",
    ),
    (
        "-maxconnperip=N",
        "0",
        "open RTMP + HTTP-FLV connections per client address (0 = no limit)",
    ),
    (
        "-maxpulls=N",
        "64",
        "on-demand pulls edge mode runs at once",
    ),
    (
        "-hlswindow=N",
        "6",
        "HLS: segments listed in a playlist (GET /PATH.m3u8 on -http)",
    ),
    (
        "-hlsfragment=DUR",
        "2s",
        "HLS: least segment duration; cut at the next keyframe after it",
    ),
    (
        "-recorddir=DIR",
        "(none)",
        "record channels under DIR/CHANNEL/START.mp4 (none: no recording)",
    ),
    (
        "-recordall",
        "false",
        "record every channel that gets a publisher (needs -recorddir)",
    ),
    ("-recordformat=FMT", "fmp4", "fmp4 | flv (FLV as received)"),
    (
        "-recordsegment=DUR",
        "1h",
        "a new file at the first keyframe after DUR",
    ),
    (
        "-recordpart=DUR",
        "1s",
        "the most media a crash may lose (a part is written within DUR)",
    ),
    (
        "-recorddeleteafter=DUR",
        "0",
        "delete completed recordings older than DUR (0 = keep)",
    ),
    (
        "-recordmaxbytes=BYTES",
        "0",
        "recordings' total size; the oldest completed files go first (0 = no cap)",
    ),
    (
        "-hlsvariant=V",
        "mpegts",
        "HLS: mpegts (every player) | fmp4 (CMAF; HEVC, AV1) | lowlatency (LL-HLS)",
    ),
    (
        "-hlspart=DUR",
        "200ms",
        "HLS lowlatency: part duration",
    ),
    ("-loglevel=LEVEL", "info", "error | warn | info | debug"),
    ("-h, --help", "", "print this help"),
    ("--version", "", "print the version"),
];

pub fn usage() -> String {
    let mut text = String::from(
        "usage: joy4 [-rtmp=:1935] [-http=:8081] [-httpapi=:8080] [flags]\n\nflags (also --flag=value or --flag value):\n",
    );
    for (name, default, meaning) in FLAGS {
        let default = if default.is_empty() {
            String::new()
        } else {
            format!(" (default {default})")
        };
        text.push_str(&format!("  {name:<22} {meaning}{default}\n"));
    }
    text
}

/// Boolean flags may appear bare (`-rtmpcheckparams`) or with a value (`-rtmpcheckparams=false`).
pub(super) const BOOL_FLAGS: &[&str] = &["rtmpcheckparams", "watchpage", "recordall"];
