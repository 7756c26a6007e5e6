//! Shared helpers for the end-to-end tests.
//!
//! * [`Server`] starts the real `joy4` binary on ephemeral loopback ports and parses its
//!   `listening KIND ADDR` lines; its stderr goes to a log file under `target/tmp/logs` whose tail is
//!   printed when a test fails (logs of passing tests are removed unless `JOY4_TEST_KEEP_LOGS` is set).
//! * [`Proc`] guards every child process (server, ffmpeg): killed and reaped on drop, log tail printed on
//!   failure, so a failing test never leaves ffmpeg running.
//! * Test media is made at test time with ffmpeg's lavfi sources and cached under the cargo target tmp dir.
//! * ffmpeg publisher/recorder helpers and ffprobe helpers returning parsed fields.
//! * Raw clients written independently of the crate under test (an oracle should not share code with
//!   what it checks): an HTTP/1.1 client, a streaming FLV tag parser, and a minimal RTMP client
//!   (handshake, chunk writer and reader, AMF0) that can also send deliberately broken input.
//! * A REST API client and a fake callback server that records the events it is sent.
//!
//! Everything that waits has a deadline; nothing sleeps a fixed time where a condition can be polled.
//!
//! | file | what |
//! | --- | --- |
//! | `dir` | test names, scratch directories, log paths, `wait_until` |
//! | `proc` | the child process guard |
//! | `server` | the server under test; `run_joy4` for CLI runs |
//! | `media` | generated clips, ffmpeg publishers and players |
//! | `probe` | ffprobe, parsed |
//! | `prometheus` | Prometheus text parsed by the Prometheus client library's parser |
//! | `checks` | what a recording must hold |
//! | `record` | joy4's recordings: scratch folder, listing, packet flags |
//! | `net` | socket helpers, close detection, random bytes |
//! | `http` | the HTTP/1.1 client |
//! | `hls` | an HLS client: playlists, sessions, segments |
//! | `hosts` | test hosts in network namespaces joined by a bridge; a link cut without a FIN |
//! | `hlsjs` | hls.js in headless Chromium over WebDriver, its page served on loopback |
//! | `enhanced` | HEVC and AV1 fixtures as Enhanced RTMP tags |
//! | `flv` | FLV tags, the incremental parser, a live HTTP-FLV reader |
//! | `watch` | an HTTP-FLV player on its own thread noting video arrivals |
//! | `vlc` | headless VLC remuxing a recording to MPEG-TS (as `nobody` when root) |
//! | `amf` | AMF0 values, encoder and decoder |
//! | `chunks` | RTMP chunk writing, handshake bytes, messages |
//! | `rtmp` | the RTMP client |
//! | `api` | the REST API client |
//! | `callback` | a callback server recording `POST …/event/NAME` |
//! | `slowdisk` | a FUSE disk whose next write stalls when told (`slowfs.py`) |
//! | `soak` | the churn soak: short connections of every kind, then back to the baseline |
//! | `webdriver` | headless Chromium driven through chromedriver's WebDriver API |
#![allow(dead_code)]

pub mod amf;
pub mod api;
mod callback;
mod checks;
mod chunks;
mod dir;
pub mod enhanced;
mod flv;
mod hls;
mod hlsjs;
mod hosts;
mod http;
mod media;
mod net;
mod probe;
mod proc;
mod prometheus;
mod record;
mod rtmp;
mod server;
mod slowdisk;
pub mod soak;
mod vlc;
mod watch;
mod webdriver;

use std::time::Duration;

// Each test binary uses a part of these.
#[allow(unused_imports)]
pub use {
    api::{get_json, post_json},
    callback::*,
    checks::*,
    chunks::*,
    dir::*,
    enhanced::*,
    flv::*,
    hls::*,
    hlsjs::*,
    hosts::*,
    http::*,
    media::*,
    net::*,
    probe::*,
    proc::*,
    prometheus::*,
    record::*,
    rtmp::*,
    server::*,
    slowdisk::*,
    vlc::*,
    watch::*,
    webdriver::*,
};

/// The server binary built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_joy4");
/// Cargo's scratch directory for integration tests (`target/tmp`).
pub const TMP: &str = env!("CARGO_TARGET_TMPDIR");
/// Frame rate of the generated test clips.
pub const FPS: f64 = 25.0;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
