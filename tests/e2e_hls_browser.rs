//! HLS in a real browser: hls.js (npm) in Debian's headless Chromium plays a live channel's
//! playlist, and the video's `currentTime` advances.
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
