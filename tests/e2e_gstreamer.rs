//! GStreamer publishes to and plays from joy4: `rtmp2sink` (its RTMP publisher), `rtmp2src` (its
//! RTMP player) and `souphttpsrc` + `flvdemux` (HTTP-FLV). GStreamer's RTMP client is strict where
//! ffmpeg is lenient: the `connect` answer's shape, and a server that closes the socket first after
//! FCUnpublish is reported as an error.
//!
//! The server listens on `:0` (the dual-stack IPv6 wildcard where the host has IPv6), so IPv4 peers
//! arrive as IPv4-mapped IPv6 addresses; `remoteAddr` must still read `127.0.0.1:PORT`.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::api::{is_publisher, wait_stream};
use support::*;

/// Video frames the publisher sends: 6 s at 25 fps, a keyframe every second.
const PUBLISHED_FRAMES: u32 = 150;

/// `gst-launch-1.0 -e PIPELINE` (the description split on whitespace, as a shell would).
fn gst_launch(name: &str, pipeline: &str) -> Proc {
    let mut cmd = Command::new("gst-launch-1.0");
    cmd.arg("-e").args(pipeline.split_whitespace());
    Proc::spawn(name, cmd)
}

/// The IPv4 loopback address at the port of a listener that may be bound to `[::]`.
fn ipv4_loopback(listener: SocketAddr) -> SocketAddr {
    SocketAddr::new(Ipv4Addr::LOCALHOST.into(), listener.port())
}

/// A 320x240 25 fps test picture (x264, one keyframe a second) and a sine (AAC), live-paced, muxed
/// to FLV and published with rtmp2sink to `url`.
fn gst_publisher(url: &str) -> Proc {
    let audio_buffers = PUBLISHED_FRAMES * 44100 / 25 / 1024 + 1;
    gst_launch(
        "gst-rtmp2sink",
        &format!(
            "videotestsrc is-live=true num-buffers={PUBLISHED_FRAMES} \
             ! video/x-raw,width=320,height=240,framerate=25/1 \
             ! x264enc tune=zerolatency key-int-max=25 ! h264parse \
             ! flvmux name=mux streamable=true ! rtmp2sink location={url} \
             audiotestsrc is-live=true num-buffers={audio_buffers} ! voaacenc ! aacparse ! mux."
        ),
    )
}

/// The stream has a `remoteAddr` of `127.0.0.1:PORT`.
fn assert_ipv4_peer(stat: &Value, what: &str) {
    let addr = stat["remoteAddr"].as_str().unwrap_or_default();
    let port = addr
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok());
    assert!(
        port.is_some_and(|p| p > 0),
        "{what}: remoteAddr {addr:?} is not 127.0.0.1:PORT in {stat:#}"
    );
}

/// The recording holds H.264 320x240 and AAC, with at least `min_frames` decoded video frames.
fn check_recording(file: &Path, min_frames: u64) -> Result<(), String> {
    let probe = ffprobe(file, Count::Frames)?;
    let (v, a) = probe.video_and_audio()?;
    if (v.codec_name.as_str(), v.width, v.height) != ("h264", 320, 240) {
        return Err(format!("video is {v:?}, want h264 320x240"));
    }
    if a.codec_name != "aac" || a.sample_rate != 44100 {
        return Err(format!("audio is {a:?}, want aac 44100 Hz"));
    }
    let frames = v.nb_read_frames.unwrap_or(0);
    if frames < min_frames || frames > u64::from(PUBLISHED_FRAMES) {
        return Err(format!(
            "{frames} video frames decoded, want {min_frames}..={PUBLISHED_FRAMES}"
        ));
    }
    if a.nb_read_frames.unwrap_or(0) < frames {
        return Err(format!("only {:?} AAC frames", a.nb_read_frames));
    }
    Ok(())
}

fn exits_cleanly(p: &mut Proc, server: &Server, what: &str) {
    let status = p.expect_exit(Duration::from_secs(30), what);
    let log = p.log_text();
    assert!(
        status.success() && !log.contains("ERROR"),
        "{what} ended with {status:?}\n{}\n{}",
        p.describe(),
        server.describe()
    );
}

#[test]
fn gstreamer_publishes_with_rtmp2sink_and_plays_with_rtmp2src_and_souphttpsrc() {
    let dir = TestDir::new();
    // Dual-stack listeners; the channel closes as soon as its publisher leaves, so the players end.
    let args = ["-rtmp=:0", "-http=:0", "-httpapi=127.0.0.1:0"]
        .into_iter()
        .chain(["-publishergrace=0s", "-loglevel=debug"])
        .map(String::from)
        .collect::<Vec<_>>();
    let mut server = Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"));
    let rtmp = ipv4_loopback(server.rtmp_addr);
    let http = ipv4_loopback(server.http_addr);

    let mut publisher = gst_publisher(&format!("rtmp://{rtmp}/live/gst"));
    let (_, stat) = wait_stream(
        &server,
        "publishing live/gst with a known picture size",
        secs(15.0),
        |s| is_publisher("gst")(s) && s["video"]["width"] == 320 && s["audio"]["type"] == "AAC",
    );
    assert_eq!(
        (&stat["video"]["type"], &stat["video"]["height"]),
        (&Value::from("H264"), &Value::from(240)),
        "{stat:#}"
    );
    assert_ipv4_peer(&stat, "rtmp2sink");

    let rtmp_file = dir.file("rtmp2src.flv");
    let mut rtmp_player = gst_launch(
        "gst-rtmp2src",
        &format!(
            "rtmp2src location=rtmp://{rtmp}/live/gst ! filesink location={}",
            rtmp_file.display()
        ),
    );
    let http_file = dir.file("souphttpsrc.mkv");
    let mut http_player = gst_launch(
        "gst-souphttpsrc",
        &format!(
            "souphttpsrc location=http://{http}/live/gst.flv ! flvdemux name=demux \
             demux.video ! queue ! h264parse ! matroskamux name=mkv ! filesink location={} \
             demux.audio ! queue ! aacparse ! mkv.",
            http_file.display()
        ),
    );
    let (_, http_stat) = wait_stream(&server, "an HTTP-FLV player", secs(10.0), |s| {
        s["type"] == "http-flv"
    });
    assert_ipv4_peer(&http_stat, "souphttpsrc");
    let (_, rtmp_stat) = wait_stream(&server, "an RTMP player", secs(10.0), |s| {
        s["rtmp"]["command"] == "play"
    });
    assert_ipv4_peer(&rtmp_stat, "rtmp2src");

    // The publisher ends with FCUnpublish + deleteStream and must see no error; the channel closes
    // and both players reach end-of-stream.
    exits_cleanly(&mut publisher, &server, "rtmp2sink");
    exits_cleanly(&mut rtmp_player, &server, "rtmp2src");
    exits_cleanly(&mut http_player, &server, "souphttpsrc");

    // The players joined a second or two into six: at least two seconds of 25 fps video.
    for (file, player) in [(&rtmp_file, &rtmp_player), (&http_file, &http_player)] {
        if let Err(e) = check_recording(file, 50) {
            panic!(
                "{}: {e}\n{}\n{}",
                file.display(),
                player.describe(),
                server.describe()
            );
        }
    }
    server.assert_alive("after the GStreamer clients");
}
