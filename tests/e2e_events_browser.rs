//! `GET /events` in a real browser: a document from the media port (another origin than the API
//! port, as a dashboard's would be) opens an `EventSource` on the API port and receives the hub's
//! events as they happen. (The watch page itself allows no such connection: its
//! Content-Security-Policy keeps it to its own origin.)

mod support;

use serde_json::Value;
use support::*;

/// Opens the event stream and keeps what arrives in `window.joy4Events`.
const OPEN_EVENTS: &str = r#"
window.joy4Events = [];
window.joy4Open = false;
const source = new EventSource(arguments[0]);
source.onopen = () => { window.joy4Open = true; };
for (const name of ['streamConnected', 'streamClose', 'channelClose']) {
  source.addEventListener(name, (e) => {
    window.joy4Events.push({ name, id: e.lastEventId, data: JSON.parse(e.data) });
  });
}
return true;
"#;

#[test]
fn a_browsers_event_source_receives_stream_events_from_the_api_port() {
    let clip = clip();
    let mut server = Server::start(&["-publishergrace=0s"]);
    let browser = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    browser
        .goto(&format!("http://{}/channels.json", server.http_addr))
        .unwrap_or_else(|e| panic!("{e}\n{}", browser.describe()));
    let url = format!("http://{}/events", server.api_addr);
    browser
        .execute(&OPEN_EVENTS.replace("arguments[0]", &format!("{url:?}")))
        .unwrap_or_else(|e| panic!("{e}\n{}", browser.describe()));
    let opened = wait_until(secs(5.0), || {
        (browser.execute("return window.joy4Open;").ok()? == Value::Bool(true)).then_some(())
    });
    assert!(
        opened.is_some(),
        "the EventSource never opened\n{}",
        browser.describe()
    );

    let mut publisher = publish(&clip, &server.rtmp_url("live/sse"));
    wait_for_channel(&mut server, "live/sse", &mut publisher);
    let events = |names: &[&str]| {
        let got = browser.execute("return window.joy4Events;").ok()?;
        let list = got.as_array()?.clone();
        names
            .iter()
            .all(|n| list.iter().any(|e| e["name"] == *n))
            .then_some(list)
    };
    let connected = wait_until(secs(10.0), || events(&["streamConnected"])).unwrap_or_else(|| {
        panic!(
            "no streamConnected reached the browser\n{}\n{}",
            browser.describe(),
            server.describe()
        )
    });
    let event = connected
        .iter()
        .find(|e| e["name"] == "streamConnected")
        .unwrap();
    assert_eq!(event["data"]["channel"], "live/sse", "{event}");
    assert_eq!(event["data"]["stat"], "publishing", "{event}");
    assert!(
        event["id"].as_str().is_some_and(|id| !id.is_empty()),
        "each event carries an id: {event}"
    );

    publisher.kill();
    let all =
        wait_until(secs(10.0), || events(&["streamClose", "channelClose"])).unwrap_or_else(|| {
            panic!(
                "the close events never reached the browser\n{}",
                browser.describe()
            )
        });
    let close = all.iter().find(|e| e["name"] == "streamClose").unwrap();
    assert_eq!(close["data"]["id"], event["data"]["id"], "{close}");
    let ids: Vec<u64> = all
        .iter()
        .filter_map(|e| e["id"].as_str()?.parse().ok())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
}
