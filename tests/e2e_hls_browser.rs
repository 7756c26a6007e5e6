//! HLS in a real browser: hls.js (npm) in Debian's headless Chromium plays a live channel's
//! playlist, and the video's `currentTime` advances; with `lowLatencyMode` on the `lowlatency`
//! variant it plays 30 s without stalls within 2 s of live (wall clock against
//! `PROGRAM-DATE-TIME`), a third or less of the `mpegts` variant's latency.
mod support;

use support::*;

#[test]
fn hlsjs_in_headless_chromium_plays_the_live_playlist() {
    let hlsjs = hlsjs_path().unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip(), "live/browser");
    let page = serve_player_page(&hlsjs);
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let src = format!("http://{}/live/browser.m3u8", server.http_addr);
    browser
        .goto(&format!("http://{page}/?src={}", query_escape(&src)))
        .unwrap();
    let read = || {
        browser
            .execute(
                "var v = document.getElementById('v'); \
                 return [v.currentTime, window.hlsErrors, typeof Hls !== 'undefined' && Hls.isSupported()];",
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", browser.describe()))
    };
    let started = wait_until(secs(20.0), || {
        let v = read();
        (v[0].as_f64().unwrap_or(0.0) > 0.5).then_some(v[0].as_f64().unwrap())
    })
    .unwrap_or_else(|| panic!("the video did not start: {}\n{}", read(), server.describe()));
    // Allow for a loaded machine: playing, not keeping pace with real time to the millisecond.
    std::thread::sleep(secs(5.0));
    let state = read();
    let later = state[0].as_f64().unwrap_or(0.0);
    assert!(
        later >= started + 2.0,
        "currentTime went from {started} to {later} in 5 s: {state}"
    );
    let errors = state[1].to_string();
    assert!(!errors.contains("fatal"), "hls.js errors: {errors}");
    assert!(
        get_json(&server, "/stat/streams")
            .as_object()
            .unwrap()
            .values()
            .any(|s| s["type"] == "hls-mem"),
        "the browser is an hls-mem stream"
    );
}

/// What one hls.js session measured over `secs` seconds of playback.
struct Watched {
    latencies: Vec<f64>,
    stalls: u64,
    advanced: f64,
    errors: String,
}

impl Watched {
    fn mean(&self) -> f64 {
        self.latencies.iter().sum::<f64>() / self.latencies.len().max(1) as f64
    }

    fn max(&self) -> f64 {
        self.latencies.iter().cloned().fold(0.0, f64::max)
    }
}

/// Play `src` in hls.js (`ll`: lowLatencyMode), let it settle, then read latency and stalls
/// once a second for `secs`.
fn watch(
    page: std::net::SocketAddr,
    src: &str,
    ll: bool,
    secs_watched: u32,
    server: &Server,
) -> Watched {
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "http://{page}/?src={}&ll={}",
        query_escape(src),
        u8::from(ll)
    );
    browser.goto(&url).unwrap();
    let read = || {
        browser
            .execute(
                "var v = document.getElementById('v'); \
                 return [v.currentTime, window.latency(), window.stalls, window.hlsErrors];",
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", browser.describe()))
    };
    wait_until(secs(20.0), || {
        let v = read();
        (v[0].as_f64().unwrap_or(0.0) > 0.5 && v[1].as_f64().is_some()).then_some(())
    })
    .unwrap_or_else(|| panic!("the video did not start: {}\n{}", read(), server.describe()));
    // Settle: hls.js seeks to its live edge and may wait once while it does.
    std::thread::sleep(secs(4.0));
    let start = read();
    let mut latencies = Vec::new();
    for _ in 0..secs_watched {
        std::thread::sleep(secs(1.0));
        if let Some(l) = read()[1].as_f64() {
            latencies.push(l);
        }
    }
    let end = read();
    Watched {
        latencies,
        stalls: end[2].as_u64().unwrap_or(0) - start[2].as_u64().unwrap_or(0),
        advanced: end[0].as_f64().unwrap_or(0.0) - start[0].as_f64().unwrap_or(0.0),
        errors: end[3].to_string(),
    }
}

#[test]
fn hlsjs_low_latency_plays_30_s_without_stalls_within_2_s_and_a_third_of_mpegts() {
    const WATCH: u32 = 30;
    let hlsjs = hlsjs_path().unwrap_or_else(|e| panic!("{e}"));
    let page = serve_player_page(&hlsjs);
    let clip = clip_gop_1s(CLIP_SECS);
    // The mpegts channel is already watched (its window full) when hls.js joins it, as a live
    // channel usually is: another viewer polls it from the start.
    let mut ts_server = Server::start(&[]);
    let _ts_publisher = publish_loop(&mut ts_server, &clip, "live/ts");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let other_viewer = {
        let (addr, stop) = (ts_server.http_addr, stop.clone());
        std::thread::spawn(move || {
            let viewer = HlsViewer::open(addr, "live/ts").unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                viewer.media_playlist();
                std::thread::sleep(secs(1.0));
            }
        })
    };
    let mut ll_server = Server::start(&[
        "-hlsvariant=lowlatency",
        "-hlsfragment=1s",
        "-hlspart=200ms",
    ]);
    let _ll_publisher = publish_loop(&mut ll_server, &clip, "live/ll");
    let ll_src = format!("http://{}/live/ll.m3u8", ll_server.http_addr);
    let ll = watch(page, &ll_src, true, WATCH, &ll_server);
    let ts_src = format!("http://{}/live/ts.m3u8", ts_server.http_addr);
    let ts = watch(page, &ts_src, false, 10, &ts_server);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    other_viewer.join().unwrap();
    println!(
        "wall-clock latency, hls.js: lowlatency (200 ms parts, 1 s GOP) mean {:.2} s max {:.2} s, \
         {} stalls in {WATCH} s; mpegts (2 s segments) mean {:.2} s max {:.2} s",
        ll.mean(),
        ll.max(),
        ll.stalls,
        ts.mean(),
        ts.max()
    );
    assert!(ll.latencies.len() as u32 >= WATCH - 2, "{:?}", ll.latencies);
    assert!(!ll.errors.contains("fatal"), "hls.js errors: {}", ll.errors);
    assert_eq!(ll.stalls, 0, "stalls while playing; errors {}", ll.errors);
    assert!(
        ll.advanced >= f64::from(WATCH) - 3.0,
        "played {} s of {WATCH}",
        ll.advanced
    );
    assert!(
        ll.mean() <= 2.0,
        "low-latency mean {:.2} s: {:?}",
        ll.mean(),
        ll.latencies
    );
    assert!(
        ts.mean() > 0.0 && !ts.latencies.is_empty(),
        "{:?}",
        ts.latencies
    );
    assert!(
        ll.mean() * 3.0 <= ts.mean(),
        "low latency {:.2} s is more than a third of mpegts {:.2} s",
        ll.mean(),
        ts.mean()
    );
}

/// Chromium decodes AV1 (not HEVC): hls.js plays an AV1 channel (Enhanced RTMP) as fmp4 HLS.
#[test]
fn hlsjs_plays_an_av1_channel_as_fmp4_hls() {
    let hlsjs = hlsjs_path().unwrap_or_else(|e| panic!("{e}"));
    let page = serve_player_page(&hlsjs);
    let server = Server::start(&["-hlsvariant=fmp4", "-hlsfragment=1s"]);
    let dir = TestDir::new();
    let _publishing = publish_enhanced_loop(&server, "av1", &av1_track(&dir), 40.0);
    let src = format!("http://{}/live/av1.m3u8", server.http_addr);
    wait_until(secs(15.0), || {
        HlsViewer::open(server.http_addr, "live/av1").ok()
    })
    .unwrap_or_else(|| panic!("no playlist\n{}", server.describe()));
    let watched = watch(page, &src, false, 6, &server);
    println!(
        "hls.js on AV1 fmp4: played {:.1} s in 6 s, latency {:.2} s",
        watched.advanced,
        watched.mean()
    );
    assert!(
        !watched.errors.contains("fatal"),
        "hls.js errors: {}",
        watched.errors
    );
    assert!(
        watched.advanced >= 4.0,
        "played {} s in 6 s",
        watched.advanced
    );
}
