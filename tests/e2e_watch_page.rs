//! The watch page on the media port: a real browser (headless Chromium over WebDriver) lists a
//! channel ffmpeg publishes and plays it; `/channels.json` shows no addresses, parameters or
//! stream ids; `-watchpage=false` turns it all off.

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn channels_json(server: &Server) -> Value {
    let response = http_get(server.http_addr, "/channels.json").expect("GET /channels.json");
    assert_eq!(response.head.status, 200, "{}", response.body_text());
    assert_eq!(
        response.head.header("content-type"),
        Some("application/json")
    );
    serde_json::from_slice(&response.body).expect("/channels.json is JSON")
}

fn channel_entry(list: &Value, name: &str) -> Option<Value> {
    list["channels"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
}

#[test]
fn channels_json_lists_codecs_and_viewers_but_no_addresses_parameters_or_ids() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url("live/list?token=s3cret"));
    wait_for_channel(&mut server, "live/list", &mut publisher);
    let mut viewer = FlvStream::open(server.http_addr, &Server::flv_path("live/list"), secs(5.0))
        .expect("an HTTP-FLV viewer");
    viewer.header(secs(5.0)).expect("FLV header");
    // The publisher's bitrate needs a full second of media behind it.
    let entry = wait_until(secs(10.0), || {
        let entry = channel_entry(&channels_json(&server), "live/list")?;
        (entry["bitrate"].as_u64()? > 0 && entry["viewers"] == 1).then_some(entry)
    })
    .unwrap_or_else(|| {
        panic!(
            "live/list never showed a bitrate and one viewer: {}\n{}",
            channels_json(&server),
            server.describe()
        )
    });
    assert_eq!(entry["live"], true);
    assert_eq!(entry["video"]["codec"], "H264");
    assert_eq!(entry["video"]["width"], 640);
    assert_eq!(entry["video"]["height"], 360);
    assert_eq!(entry["audio"]["codec"], "AAC");
    assert_eq!(entry["audio"]["sampleRate"], 44100);
    assert_eq!(entry["audio"]["channels"], 2);
    // The clip is 800 kb/s video + 128 kb/s audio.
    let bitrate = entry["bitrate"].as_u64().unwrap();
    assert!((300_000..3_000_000).contains(&bitrate), "bitrate {bitrate}");
    assert!(entry["uptime"].as_u64().is_some());
    let mut keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["audio", "bitrate", "live", "name", "uptime", "video", "viewers"]
    );

    // Nothing the API shows about the connections appears in the public list.
    let text = channels_json(&server).to_string();
    for secret in ["s3cret", "token", "127.0.0.1", "remoteAddr", "\"id\""] {
        assert!(!text.contains(secret), "{secret:?} in {text}");
    }
    let streams = get_json(&server, "/stat/streams");
    let ids: Vec<&String> = streams.as_object().expect("streams by id").keys().collect();
    assert_eq!(ids.len(), 2, "publisher and viewer: {streams}");
    for id in ids {
        assert!(
            !text.contains(&format!("\"{id}\"")),
            "stream id {id} in {text}"
        );
    }
}

#[test]
fn the_page_and_its_player_are_served_from_the_binary() {
    let server = Server::start(&[]);
    let page = http_get(server.http_addr, "/").expect("GET /");
    assert_eq!(page.head.status, 200);
    assert_eq!(
        page.head.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let policy = page
        .head
        .header("content-security-policy")
        .expect("a Content-Security-Policy");
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let html = page.body_text();
    assert!(html.contains("<script src=\"/mpegts.js\"></script>"));
    assert!(html.contains("<script src=\"/watch.js\"></script>"));

    let player = http_get(server.http_addr, "/mpegts.js").expect("GET /mpegts.js");
    assert_eq!(player.head.status, 200);
    assert_eq!(
        player.body,
        include_bytes!("../src/http/page/mpegts.js").as_slice(),
        "mpegts.js differs from the vendored file"
    );
    let license = http_get(server.http_addr, "/mpegts.js.LICENSE.txt").expect("GET licence");
    assert_eq!(license.head.status, 200);
    assert!(license.body_text().contains("Apache License"));

    let head = http_exchange(
        server.http_addr,
        b"HEAD /watch.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        secs(5.0),
    )
    .expect("HEAD /watch.js");
    assert_eq!(head.head.status, 200);
    assert!(head.body.is_empty(), "HEAD answered with a body");
    let empty = channels_json(&server);
    assert_eq!(empty["channels"], serde_json::json!([]));
}

#[test]
fn watchpage_false_turns_the_page_and_the_list_off() {
    let server = Server::start(&["-watchpage=false"]);
    for path in [
        "/",
        "/channels.json",
        "/watch.js",
        "/mpegts.js",
        "/mpegts.js.LICENSE.txt",
    ] {
        assert_eq!(
            http_status(server.http_addr, path),
            Ok(404),
            "GET {path} with -watchpage=false"
        );
    }
}

/// The video element's state, as the test polls it.
const VIDEO_STATE: &str = "const v = document.querySelector('video'); \
    return {time: v.currentTime, width: v.videoWidth, height: v.videoHeight, paused: v.paused, \
    frames: v.getVideoPlaybackQuality().totalVideoFrames, error: v.error && v.error.message, \
    note: document.getElementById('note').textContent};";

#[test]
fn a_browser_lists_a_live_channel_and_plays_it_with_one_click() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let publisher = publish_loop(&mut server, &clip, "live/watch");
    let mut radio = publish_loop(&mut server, &clip_audio_only(20), "radio/sine");
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let fail = |what: String| -> ! {
        panic!(
            "{what}\n{}\n{}\n{}",
            browser.describe(),
            publisher.describe(),
            server.describe()
        )
    };
    browser
        .goto(&format!("http://{}/", server.http_addr))
        .unwrap_or_else(|e| fail(e));

    // Both channels are listed with their codecs.
    let rows_script = "return [...document.querySelectorAll('#channels tr')].map(tr => \
        [...tr.querySelectorAll('td')].map(td => td.textContent.trim()).slice(0, 5).join('|'));";
    let rows = wait_until(secs(10.0), || {
        let rows = browser.execute(rows_script).ok()?;
        let text = rows.to_string();
        (text.contains("live/watch|H264 640×360|AAC 44.1 kHz stereo")
            && text.contains("radio/sine|–|AAC"))
        .then_some(rows)
    })
    .unwrap_or_else(|| {
        fail(format!(
            "the page did not list live/watch and radio/sine: {:?}",
            browser.execute(rows_script)
        ))
    });
    eprintln!("listed: {rows}");

    // One click starts the player; the video then plays in real time.
    let button = browser
        .find("button[data-play='live/watch']")
        .unwrap_or_else(|e| fail(e));
    let time_at = |state: &Value| state["time"].as_f64().unwrap_or(0.0);
    let before = browser.execute(VIDEO_STATE).unwrap_or_else(|e| fail(e));
    browser.click(&button).unwrap_or_else(|e| fail(e));
    let clicked = Instant::now();
    let played = wait_until(secs(5.0), || {
        let state = browser.execute(VIDEO_STATE).ok()?;
        (time_at(&state) - time_at(&before) >= 2.0).then_some(state)
    });
    let state = played.unwrap_or_else(|| {
        fail(format!(
            "currentTime did not advance 2 s within 5 s of the click: {:?}",
            browser.execute(VIDEO_STATE)
        ))
    });
    eprintln!(
        "currentTime {:.2} s after {:.2} s: {state}",
        time_at(&state),
        clicked.elapsed().as_secs_f64()
    );
    assert_eq!(
        (state["width"].as_u64(), state["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(state["error"], Value::Null);
    assert_eq!(state["paused"], false);
    // Two seconds of 25 fps video really went through the decoder.
    let frames = state["frames"].as_u64().unwrap_or(0);
    assert!(frames >= 40, "only {frames} frames decoded: {state}");

    // The player went through the HTTP-FLV port as a subscriber of the channel.
    let viewers = wait_until(secs(10.0), || {
        let text = browser
            .execute("return document.getElementById('now-facts').textContent;")
            .ok()?;
        text.as_str()?.contains("1 viewer").then_some(text)
    });
    if viewers.is_none() {
        fail("the player's facts never showed 1 viewer".into());
    }
    let url = browser
        .execute("return location.search;")
        .unwrap_or_else(|e| fail(e));
    assert_eq!(url, "?play=live/watch");

    // Keep a picture of the page: under the test's scratch dir, and where JOY4_WATCH_SCREENSHOT
    // says (docs/watch-page.png is made that way).
    let png = browser.screenshot().unwrap_or_else(|e| fail(e));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "screenshot is not a PNG"
    );
    let dir = TestDir::new();
    std::fs::write(dir.file("watch-page.png"), &png).expect("write screenshot");
    if let Ok(path) = std::env::var("JOY4_WATCH_SCREENSHOT") {
        std::fs::write(&path, &png).expect("write JOY4_WATCH_SCREENSHOT");
    }
    server.assert_alive("after the browser played");
    radio.kill();
}

#[test]
fn a_play_link_starts_the_player_on_load() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let publisher = publish_loop(&mut server, &clip, "live/link");
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    browser
        .goto(&format!("http://{}/?play=live/link", server.http_addr))
        .unwrap_or_else(|e| panic!("{e}"));
    let played = wait_until(Duration::from_secs(10), || {
        let state = browser.execute(VIDEO_STATE).ok()?;
        (state["time"].as_f64()? >= 2.0).then_some(state)
    });
    if played.is_none() {
        panic!(
            "?play=live/link did not play: {:?}\n{}\n{}\n{}",
            browser.execute(VIDEO_STATE),
            browser.describe(),
            publisher.describe(),
            server.describe()
        );
    }
}

/// The player has played a second or more and shows no note (muted, stopped, waiting).
fn plays_without_note(browser: &Browser) -> Option<()> {
    let state = browser.execute(VIDEO_STATE).ok()?;
    (state["time"].as_f64()? >= 1.0 && state["note"] == "").then_some(())
}

#[test]
fn the_player_waits_for_a_channel_that_ends_and_plays_it_again() {
    let clip = clip();
    let mut server = Server::start(&["-publishergrace=0"]);
    let mut publisher = publish_loop(&mut server, &clip, "live/again");
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let fail = |what: &str, server: &Server| -> ! {
        panic!(
            "{what}: {:?}\n{}\n{}",
            browser.execute(VIDEO_STATE),
            browser.describe(),
            server.describe()
        )
    };
    browser
        .goto(&format!("http://{}/?play=live/again", server.http_addr))
        .unwrap_or_else(|e| fail(&e, &server));
    if wait_until(secs(10.0), || plays_without_note(&browser)).is_none() {
        fail("did not play at first", &server);
    }
    publisher.kill();
    let waiting = wait_until(secs(10.0), || {
        let state = browser.execute(VIDEO_STATE).ok()?;
        state["note"].as_str()?.contains("Retrying").then_some(())
    });
    if waiting.is_none() {
        fail("the page did not notice the end of the stream", &server);
    }
    let _publisher = publish_loop(&mut server, &clip, "live/again");
    // The list refreshes every 3 s; then the player starts over from the new publisher.
    if wait_until(secs(12.0), || plays_without_note(&browser)).is_none() {
        fail("did not play again after the publisher came back", &server);
    }
}

#[test]
fn without_media_source_extensions_the_page_falls_back_to_native_hls() {
    let clip = clip();
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip, "live/hls");
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    // A browser like Safari on an older iPhone: no Media Source Extensions, HLS in the element.
    browser
        .before_each_page(
            "window.MediaSource = undefined; window.ManagedMediaSource = undefined; \
             window.WebKitMediaSource = undefined; \
             HTMLMediaElement.prototype.canPlayType = function (type) { \
               return type === 'application/vnd.apple.mpegurl' ? 'maybe' : ''; }; \
             window.__srcs = []; \
             var plain = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, 'src'); \
             Object.defineProperty(HTMLMediaElement.prototype, 'src', { configurable: true, \
               get: function () { return plain.get.call(this); }, \
               set: function (v) { window.__srcs.push(String(v)); plain.set.call(this, v); } });",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    browser
        .goto(&format!("http://{}/?play=live/hls", server.http_addr))
        .unwrap_or_else(|e| panic!("{e}"));
    // Every source the page gives the element: this Chromium cannot play HLS itself, so the
    // page's player fails, clears it and retries; a poll of the attribute could miss it.
    let src = wait_until(secs(5.0), || {
        let srcs = browser.execute("return window.__srcs;").ok()?;
        srcs.as_array()?
            .iter()
            .filter_map(|s| s.as_str())
            .find(|s| *s == "/live/hls.m3u8")
            .map(str::to_string)
    });
    assert_eq!(
        src.as_deref(),
        Some("/live/hls.m3u8"),
        "{}\n{}",
        browser.describe(),
        server.describe()
    );
    let asked = wait_until(secs(5.0), || {
        server
            .log_text()
            .contains("GET /live/hls.m3u8")
            .then_some(())
    });
    assert!(
        asked.is_some(),
        "the browser never asked for the playlist\n{}",
        server.describe()
    );
}
