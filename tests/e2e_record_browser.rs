//! A recording plays in a browser's `<video>` while it is being written: headless Chromium
//! opens the file from `GET /recordings/file` (its media document, Range requests) and the
//! video plays, with the picture's size.
mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

#[test]
fn chromium_plays_a_recording_while_it_is_written() {
    let dir = record_dir();
    let mut server = Server::start(&[
        &format!("-recorddir={}", dir.display()),
        "-recordall",
        "-recordpart=500ms",
    ]);
    let clip = clip_h264_aac(320, 240, 20);
    let _publisher = publish_loop(&mut server, &clip, "live/web");
    let writing = wait_until(Duration::from_secs(10), || {
        listing(&server, "live/web")
            .into_iter()
            .find(|f| f["recording"] == true && f["duration"].as_f64() > Some(3.0))
    })
    .unwrap_or_else(|| panic!("no file being written\n{}", server.describe()));
    let name = writing["name"].as_str().unwrap();
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    // Opened as a page of its own, the file gets Chromium's media document: a <video> of it.
    let url = format!(
        "http://{}/recordings/file?channel=live/web&name={name}",
        server.api_addr
    );
    browser.goto(&url).unwrap_or_else(|e| panic!("{e}"));
    let script = "var v = document.querySelector('video'); if (!v) { return null; } \
                  v.muted = true; v.play(); \
                  return [v.readyState, v.currentTime, v.videoWidth, v.videoHeight, v.error ? v.error.code : 0];";
    let mut last = Value::Null;
    let played = wait_until(Duration::from_secs(15), || {
        last = browser.execute(script).ok()?;
        let current = last[1].as_f64().unwrap_or(0.0);
        (current >= 1.5).then_some(())
    });
    assert!(
        played.is_some(),
        "the video did not play 1.5 s of the recording: [readyState, currentTime, width, height, error] = {last}\n{}\n{}",
        browser.describe(),
        server.describe()
    );
    assert_eq!(
        (last[2].as_u64(), last[3].as_u64()),
        (Some(320), Some(240)),
        "{last}"
    );
    assert_eq!(last[4].as_u64(), Some(0), "{last}");
}
