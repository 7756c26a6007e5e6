//! Names from the wire cannot forge or flood log lines: they are escaped and cut.
mod support;

use std::time::Duration;

use support::*;

#[test]
fn a_newline_in_a_stream_name_does_not_split_a_log_line() {
    let server = Server::start(&[]);
    let forged = "12:00:00 [WARN] forged line";
    let name = format!("evil\n{forged}");
    let (_client, _sid) =
        RtmpClient::publisher(server.rtmp_addr, "live", &name).unwrap_or_else(|e| panic!("{e}"));
    // A long name is cut, not logged whole.
    let long = "x".repeat(4000);
    let mut player = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let play_sid = player.create_stream().unwrap();
    player.play(play_sid, &long).unwrap();
    player
        .wait_for(Duration::from_secs(5), "Play.StreamNotFound", |m| {
            m.status_code().as_deref() == Some("NetStream.Play.StreamNotFound")
        })
        .unwrap();

    let log = wait_until(Duration::from_secs(5), || {
        let log = server.log_text();
        (log.contains("publishes channel") && log.contains("play of unknown channel"))
            .then_some(log)
    })
    .unwrap_or_else(|| panic!("no publish/play lines\n{}", server.describe()));
    assert!(
        log.contains(&format!("publishes channel live/evil\\n{forged}")),
        "{log}"
    );
    assert!(
        !log.lines().any(|line| line.starts_with(forged)),
        "a forged line reached the log:\n{log}"
    );
    let unknown = log
        .lines()
        .find(|line| line.contains("play of unknown channel"))
        .unwrap();
    assert!(unknown.len() < 400 && unknown.ends_with('…'), "{unknown}");
}
