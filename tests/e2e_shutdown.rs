//! Graceful shutdown: on SIGTERM or SIGINT joy4 stops accepting, tells every client (RTMP
//! publishers `NetStream.Unpublish.Success`, RTMP players `NetStream.Play.UnpublishNotify`,
//! HTTP-FLV bodies end), delivers every `streamClose` and `channelClose` callback within 5 s, and
//! exits 0. A second signal exits at once.
mod support;

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// Send signal `name` (TERM, INT) with the shell's built-in `kill`.
fn signal(server: &Server, name: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{name} {}", server.proc.pid()))
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill -{name} failed");
}

/// A raw RTMP client publishing `live/NAME`, past `NetStream.Publish.Start`.
fn publisher(addr: SocketAddr, name: &str) -> (RtmpClient, u32) {
    RtmpClient::publisher(addr, "live", name).unwrap_or_else(|e| panic!("{e}"))
}

fn wait_status(client: &mut RtmpClient, code: &str, server: &Server) {
    if let Err(e) = client.wait_for(Duration::from_secs(6), code, |m| {
        m.status_code().as_deref() == Some(code)
    }) {
        panic!("{e}\n{}", server.describe());
    }
}

#[test]
fn sigterm_tells_every_client_delivers_every_close_event_and_exits_0() {
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&[&callbacks.flag()]);
    let (mut watched, sid) = publisher(server.rtmp_addr, "p");
    // A keyframe (its payload need not decode): the channel has media to hand out.
    watched
        .send(6, 0, 9, sid, &[0x17, 1, 0, 0, 0, 0, 0, 0, 1, 0x65])
        .unwrap();
    let (mut lone, _) = publisher(server.rtmp_addr, "q");

    let mut player = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let play_sid = player.create_stream().unwrap();
    player.play(play_sid, "p").unwrap();
    wait_status(&mut player, "NetStream.Play.Start", &server);
    let mut viewer = FlvStream::open(server.http_addr, "/live/p.flv", Duration::from_secs(5))
        .expect("HTTP-FLV viewer");
    assert_eq!(viewer.head.status, 200);
    viewer.header(Duration::from_secs(5)).unwrap();

    let connected = wait_until(Duration::from_secs(5), || {
        let events = callbacks.named("streamConnected");
        (events.len() == 4).then_some(events)
    })
    .unwrap_or_else(|| panic!("streamConnected: {:#?}", callbacks.all()));
    let ids: BTreeSet<String> = connected
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);

    let start = Instant::now();
    signal(&server, "TERM");

    wait_status(&mut watched, "NetStream.Unpublish.Success", &server);
    wait_status(&mut lone, "NetStream.Unpublish.Success", &server);
    wait_status(&mut player, "NetStream.Play.UnpublishNotify", &server);
    let end = loop {
        match viewer.next_tag(Duration::from_secs(6)) {
            Ok(Some(_)) => continue,
            other => break other,
        }
    };
    assert!(
        matches!(end, Ok(None)),
        "the HTTP-FLV body did not end cleanly: {end:?}"
    );

    let status = server
        .proc
        .expect_exit(Duration::from_secs(7), "after SIGTERM");
    let took = start.elapsed();
    eprintln!("SIGTERM to exit: {took:?}");
    assert_eq!(status.code(), Some(0), "{}", server.describe());
    assert!(took < Duration::from_secs(6), "shutdown took {took:?}");

    // Every stream's one streamClose, and every channel's channelClose, had arrived before exit.
    let closes = callbacks.named("streamClose");
    let closed: Vec<String> = closes
        .iter()
        .map(|b| b["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(closed.len(), 4, "streamClose events: {closes:#?}");
    assert_eq!(closed.iter().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(
        closes.iter().all(|b| b["reason"] == "shutdown"),
        "{closes:#?}"
    );
    let channels: BTreeSet<String> = callbacks
        .named("channelClose")
        .iter()
        .map(|b| b["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        channels,
        BTreeSet::from(["live/p".to_string(), "live/q".to_string()])
    );
    assert_eq!(callbacks.named("channelClose").len(), 2);
    let log = server.log_text();
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
}

#[test]
fn sigint_without_clients_exits_0_at_once() {
    let mut server = Server::start(&[]);
    let start = Instant::now();
    signal(&server, "INT");
    let status = server
        .proc
        .expect_exit(Duration::from_secs(5), "after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.describe());
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn listeners_stop_at_once_and_a_second_signal_exits_while_callbacks_hang() {
    // A callback server that accepts and never answers: the shutdown waits for its callbacks
    // until the 5 s limit.
    let hanging = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", hanging.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in hanging.incoming().take(8) {
            held.extend(conn.ok());
        }
        held
    });
    let mut server = Server::start(&[&format!("-httpcallback={url}")]);
    let (_publisher, _) = publisher(server.rtmp_addr, "p");

    signal(&server, "TERM");
    let refused = wait_until(Duration::from_secs(3), || {
        [server.rtmp_addr, server.http_addr, server.api_addr]
            .iter()
            .all(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_err())
            .then_some(())
    });
    assert!(
        refused.is_some(),
        "a listener still accepts after SIGTERM\n{}",
        server.describe()
    );
    assert!(
        server.is_alive(),
        "exited before its callbacks were delivered or timed out\n{}",
        server.describe()
    );

    let start = Instant::now();
    signal(&server, "TERM");
    let status = server
        .proc
        .expect_exit(Duration::from_secs(2), "after a second SIGTERM");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(128 + 15), "{}", server.describe());
    drop(held);
}
