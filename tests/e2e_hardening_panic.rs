//! A connection thread that panics cleans up after itself: its stream leaves the registry and
//! its channel takes a new publisher at once. The server's test-only fault hook (debug builds,
//! `JOY4_FAULT_HOOKS=1`) makes a publisher whose query has `joy4fault=panic` panic on its first
//! media packet.
mod support;

use std::time::Duration;

use support::*;

#[test]
fn a_publisher_thread_that_panics_frees_its_channel_for_the_next_publisher() {
    // Inherited by the server this test starts (and only by servers of this test binary).
    std::env::set_var("JOY4_FAULT_HOOKS", "1");
    let mut server = Server::start(&["-publishergrace=30s"]);
    let mut doomed = RtmpClient::connect_app(server.rtmp_addr, "live").unwrap();
    let sid = doomed.create_stream().unwrap();
    doomed
        .send_command(
            sid,
            "publish",
            5.0,
            amf::V::Null,
            vec![amf::s("p?joy4fault=panic"), amf::s("live")],
        )
        .unwrap();
    doomed
        .wait_for(Duration::from_secs(5), "Publish.Start", |m| {
            m.status_code().as_deref() == Some("NetStream.Publish.Start")
        })
        .unwrap();
    // A viewer waits on the channel while its publisher dies.
    let mut viewer = FlvStream::open(server.http_addr, "/live/p.flv", Duration::from_secs(5))
        .expect("HTTP-FLV viewer");
    assert_eq!(viewer.head.status, 200);
    doomed
        .send(6, 0, 9, sid, &[0x17, 0, 0, 0, 0, 1, 2, 3])
        .unwrap();
    wait_closed(&doomed.sock, Duration::from_secs(5)).expect("the panicking connection closes");
    let gone = wait_until(Duration::from_secs(5), || {
        let streams = get_json(&server, "/stat/streams");
        let publishers = streams
            .as_object()
            .map(|m| m.values().filter(|s| api::is_publisher("p")(s)).count())
            .unwrap_or(usize::MAX);
        (publishers == 0).then_some(())
    });
    assert!(gone.is_some(), "the dead publisher stayed in /stat/streams");
    server.assert_alive("after a connection thread panicked");
    assert!(
        server.log_text().contains("panicked"),
        "the panic was not logged\n{}",
        server.describe()
    );

    // The channel (kept by the grace period) takes a new publisher at once, and the viewer that
    // waited gets its media.
    let clip = clip();
    let mut publisher = publish_with(
        &clip,
        &server.rtmp_url("live/p"),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let video = wait_until(Duration::from_secs(15), || {
        match viewer.next_tag(Duration::from_secs(15)) {
            Ok(Some(tag)) if tag.is_video() => Some(Ok(())),
            Ok(Some(_)) => None,
            Ok(None) => Some(Err("body ended".to_string())),
            Err(e) => Some(Err(e.to_string())),
        }
    });
    assert!(
        matches!(video, Some(Ok(()))),
        "viewer got no video from the new publisher: {video:?}\n{}\n{}",
        publisher.describe(),
        server.describe()
    );
    assert!(publisher.is_running(), "{}", publisher.describe());
}
