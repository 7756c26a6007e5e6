use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use super::*;
use crate::amf0::{self, Amf0Value};
use crate::media::{Packet, PacketKind};
use crate::rtmp::chunk::ChunkReader;
use crate::rtmp::handshake::{HandshakeOutcome, ServerHandshake};
use crate::rtmp::message::{self, Message, UserControl};
use crate::rtmp::session::{self, ServerSession, SessionEvent, StreamRequest};
use crate::rtmp::RtmpError;
use crate::rtmp::OUT_CHUNK_SIZE;

// ---- session against the server session, in memory ----

/// Both sides of one connection after the handshake: bytes from one are fed to the other.
struct Pair {
    client: ClientSession,
    client_reader: ChunkReader,
    server: ServerSession,
    server_reader: ChunkReader,
    server_events: Vec<SessionEvent>,
}

impl Pair {
    fn new(url: &str) -> Pair {
        let url = RtmpUrl::parse(url).unwrap();
        Pair {
            client: ClientSession::for_url(&url),
            client_reader: ChunkReader::new(),
            server: ServerSession::new(),
            server_reader: ChunkReader::new(),
            server_events: Vec::new(),
        }
    }

    /// Move bytes both ways until neither side has anything to send.
    fn pump(&mut self) {
        loop {
            let to_server = self.client.take_output();
            let to_client = self.server.take_output();
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
            self.server_reader.feed(&to_server);
            while let Some(raw) = self.server_reader.next_message().unwrap() {
                let events = self.server.handle(raw).unwrap();
                self.server_events.extend(events);
            }
            self.client_reader.feed(&to_client);
            self.client.bytes_received(to_client.len());
            while let Some(raw) = self.client_reader.next_message().unwrap() {
                self.client.handle(raw).unwrap();
            }
        }
    }

    fn client_events(&mut self) -> Vec<ClientEvent> {
        std::iter::from_fn(|| self.client.poll_event()).collect()
    }

    fn connected(url: &str) -> Pair {
        let mut p = Pair::new(url);
        p.client.connect();
        p.pump();
        assert!(
            matches!(p.server_events[0], SessionEvent::Connected { .. }),
            "{:?}",
            p.server_events
        );
        assert_eq!(p.client_events(), vec![ClientEvent::Connected]);
        p.server_events.clear();
        p
    }

    /// Server -> client: one message on the played stream.
    fn server_sends(&mut self, csid: u32, stream_id: u32, ts: u32, msg: &Message) {
        message::write(
            self.server.output(),
            csid,
            stream_id,
            ts,
            msg,
            OUT_CHUNK_SIZE,
        );
        self.pump();
    }
}

/// Decode what a client sent, from its own chunk size announcements.
fn decode_all(bytes: &[u8]) -> Vec<Message> {
    let mut reader = ChunkReader::new();
    reader.feed(bytes);
    std::iter::from_fn(|| reader.next_message().unwrap())
        .map(|m| Message::decode(m.type_id, m.payload).unwrap())
        .collect()
}

#[test]
fn play_flow_reaches_play_start_and_delivers_media_until_unpublish() {
    let mut p = Pair::connected("rtmp://localhost/live/abc?token=x");
    p.client.play().unwrap();
    p.pump();
    assert_eq!(
        p.server_events,
        vec![SessionEvent::PlayRequested(StreamRequest {
            stream_id: 1,
            app: "live".into(),
            name: "abc".into(),
            query: "token=x".into(),
        })]
    );
    assert!(p.client_events().is_empty(), "nothing before the decision");
    p.server.accept_play();
    p.pump();
    let events = p.client_events();
    assert!(
        events.contains(&ClientEvent::PlayStarted { stream_id: 1 }),
        "{events:?}"
    );
    assert!(p.client.is_playing());

    // Metadata, a big keyframe (several 4096-byte chunks), aggregate-free audio.
    let meta = message::data(vec![
        Amf0Value::string("onMetaData"),
        Amf0Value::object([("width", Amf0Value::Number(640.0))]),
    ]);
    p.server_sends(5, 1, 0, &meta);
    let mut key = vec![0x17, 1, 0, 0, 0];
    key.extend((0..20_000).map(|i| i as u8));
    p.server_sends(6, 1, 40, &Message::Video(key.clone()));
    p.server_sends(4, 1, 0x0100_0000, &Message::Audio(vec![0xAF, 1, 9]));
    let events = p.client_events();
    let Message::Data { payload, .. } = meta else {
        unreachable!()
    };
    assert_eq!(
        events,
        vec![
            ClientEvent::Media(Packet::new(PacketKind::Data, 0, payload)),
            ClientEvent::Media(Packet::new(PacketKind::Video, 40, key)),
            ClientEvent::Media(Packet::new(
                PacketKind::Audio,
                0x0100_0000,
                vec![0xAF, 1, 9]
            )),
        ]
    );

    p.server.output().extend(session::play_end_bytes(1));
    p.pump();
    assert_eq!(
        p.client_events(),
        vec![ClientEvent::StreamEnded {
            code: "NetStream.Play.UnpublishNotify".into()
        }],
        "StreamEOF after UnpublishNotify is not a second end"
    );
}

#[test]
fn publish_flow_reaches_publish_start_and_media_arrive_intact() {
    let mut p = Pair::connected("rtmp://localhost/live/cam");
    p.client.publish().unwrap();
    p.pump();
    assert_eq!(
        p.server_events,
        vec![SessionEvent::PublishRequested(StreamRequest {
            stream_id: 1,
            app: "live".into(),
            name: "cam".into(),
            query: String::new(),
        })]
    );
    p.server_events.clear();
    p.server.accept_publish();
    p.pump();
    assert!(p
        .client_events()
        .contains(&ClientEvent::PublishStarted { stream_id: 1 }));
    assert_eq!(p.client.out_chunk_size(), OUT_CHUNK_SIZE);

    let meta_body = amf0::encode_all(&[
        Amf0Value::string("onMetaData"),
        Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(320.0))]),
    ]);
    let mut key = vec![0x17, 1, 0, 0, 0];
    key.extend((0..10_000).map(|i| (i * 7) as u8));
    let sent = vec![
        Packet::new(PacketKind::Data, 0, meta_body),
        Packet::new(PacketKind::Video, 0, key),
        Packet::new(PacketKind::Audio, 23, vec![0xAF, 1, 1, 2]),
        Packet::new(PacketKind::Video, 0xFFFF_FF00, vec![0x27, 1, 0, 0, 0, 5]),
    ];
    for packet in &sent {
        p.client.write_media(packet);
    }
    p.pump();
    let got: Vec<Packet> = p
        .server_events
        .drain(..)
        .map(|e| match e {
            SessionEvent::Media(packet) => packet,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, sent, "@setDataFrame is stripped by the server again");
}

#[test]
fn refusals_become_failed_events_with_the_status_code() {
    let mut p = Pair::connected("rtmp://localhost/live/none");
    p.client.play().unwrap();
    p.pump();
    p.server
        .reject_play("NetStream.Play.StreamNotFound", "no channel live/none");
    p.pump();
    assert_eq!(
        p.client_events(),
        vec![ClientEvent::Failed {
            code: "NetStream.Play.StreamNotFound".into(),
            description: "no channel live/none".into()
        }]
    );

    let mut p = Pair::connected("rtmp://localhost/live/taken");
    p.client.publish().unwrap();
    p.pump();
    p.server
        .reject_publish("NetStream.Publish.BadName", "ChannelAlreadyHasPublisher");
    p.pump();
    assert!(matches!(
        &p.client_events()[..],
        [ClientEvent::Failed { code, .. }] if code == "NetStream.Publish.BadName"
    ));
}

#[test]
fn a_refused_connect_is_a_failed_event() {
    let mut p = Pair::new("rtmp://localhost/live/x");
    p.client.connect();
    let info = Amf0Value::object([
        ("level", Amf0Value::string("error")),
        ("code", Amf0Value::string("NetConnection.Connect.Rejected")),
        ("description", Amf0Value::string("go away")),
    ]);
    let mut bytes = Vec::new();
    message::write(
        &mut bytes,
        3,
        0,
        0,
        &message::command("_error", 1.0, Amf0Value::Null, vec![info]),
        128,
    );
    p.client_reader.feed(&bytes);
    let raw = p.client_reader.next_message().unwrap().unwrap();
    p.client.handle(raw).unwrap();
    assert_eq!(
        p.client_events(),
        vec![ClientEvent::Failed {
            code: "NetConnection.Connect.Rejected".into(),
            description: "go away".into()
        }]
    );
    assert!(p.client.play().is_err());
}

/// The events of a client that sent `connect` and got `answer` back.
fn events_after_connect_answer(answer: &Message) -> Vec<ClientEvent> {
    let mut p = Pair::new("rtmp://localhost/live/x");
    p.client.connect();
    let mut bytes = Vec::new();
    message::write(&mut bytes, 3, 0, 0, answer, 128);
    p.client_reader.feed(&bytes);
    while let Some(raw) = p.client_reader.next_message().unwrap() {
        p.client.handle(raw).unwrap();
    }
    p.client_events()
}

fn connect_properties() -> Amf0Value {
    Amf0Value::object([
        ("fmsVer", Amf0Value::string("FMS/3,0,1,123")),
        ("capabilities", Amf0Value::Number(31.0)),
        ("mode", Amf0Value::Number(1.0)),
    ])
}

fn connect_info(level: &str, code: &str, description: &str) -> Amf0Value {
    Amf0Value::object([
        ("level", Amf0Value::string(level)),
        ("code", Amf0Value::string(code)),
        ("description", Amf0Value::string(description)),
    ])
}

#[test]
fn a_connect_result_with_the_properties_first_is_accepted() {
    // _result, 1, {properties}, {info}: FMS, nginx-rtmp, SRS.
    let info = connect_info("status", "NetConnection.Connect.Success", "ok");
    let answer = message::command("_result", 1.0, connect_properties(), vec![info]);
    assert_eq!(
        events_after_connect_answer(&answer),
        vec![ClientEvent::Connected]
    );
}

#[test]
fn a_connect_result_with_a_leading_null_is_accepted() {
    // _result, 1, null, {properties}, {info}.
    let info = connect_info("status", "NetConnection.Connect.Success", "ok");
    let answer = message::command(
        "_result",
        1.0,
        Amf0Value::Null,
        vec![connect_properties(), info],
    );
    assert_eq!(
        events_after_connect_answer(&answer),
        vec![ClientEvent::Connected]
    );
}

#[test]
fn a_refused_connect_gives_its_code_whether_or_not_a_null_leads() {
    let info = || connect_info("error", "NetConnection.Connect.Rejected", "go away");
    let failed = vec![ClientEvent::Failed {
        code: "NetConnection.Connect.Rejected".into(),
        description: "go away".into(),
    }];
    for answer in [
        message::command("_error", 1.0, connect_properties(), vec![info()]),
        message::command("_error", 1.0, info(), vec![]),
        message::command(
            "_error",
            1.0,
            Amf0Value::Null,
            vec![connect_properties(), info()],
        ),
    ] {
        assert_eq!(events_after_connect_answer(&answer), failed, "{answer:?}");
    }
}

#[test]
fn pings_are_answered_and_acknowledgements_follow_the_server_window() {
    let mut client = ClientSession::new("live", "rtmp://localhost/live", "abc");
    let mut reader = ChunkReader::new();
    let mut bytes = Vec::new();
    message::write(
        &mut bytes,
        2,
        0,
        0,
        &Message::UserControl(UserControl::PingRequest(4242)),
        OUT_CHUNK_SIZE,
    );
    message::write(
        &mut bytes,
        2,
        0,
        0,
        &Message::WindowAckSize(1000),
        OUT_CHUNK_SIZE,
    );
    reader.feed(&bytes);
    while let Some(raw) = reader.next_message().unwrap() {
        client.handle(raw).unwrap();
    }
    client.bytes_received(999);
    assert_eq!(
        decode_all(&client.take_output()),
        vec![Message::UserControl(UserControl::PingResponse(4242))]
    );
    client.bytes_received(1);
    assert_eq!(
        decode_all(&client.take_output()),
        vec![Message::Acknowledgement {
            sequence_number: 1000
        }]
    );
    client.bytes_received(999);
    assert!(client.take_output().is_empty());
}

// ---- the blocking client against a server thread on a loopback socket ----

/// A one-connection RTMP server: handshake, ServerSession, accept whatever is asked; when
/// playing, sends `media` and the end; when publishing, returns the media it got.
fn serve_one(listener: TcpListener, media: Vec<Packet>) -> thread::JoinHandle<Vec<Packet>> {
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut hs = ServerHandshake::new();
        let mut reader = ChunkReader::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = sock.read(&mut buf).unwrap();
            match hs.process(&buf[..n]).unwrap() {
                HandshakeOutcome::InProgress { response } => sock.write_all(&response).unwrap(),
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    sock.write_all(&response).unwrap();
                    reader.feed(&remaining);
                    break;
                }
            }
        }
        let mut session = ServerSession::new();
        let mut got = Vec::new();
        loop {
            while let Some(raw) = reader.next_message().unwrap() {
                for event in session.handle(raw).unwrap() {
                    match event {
                        SessionEvent::PlayRequested(_) => {
                            session.accept_play();
                            for p in &media {
                                message::write(
                                    session.output(),
                                    6,
                                    1,
                                    p.timestamp,
                                    &Message::decode(p.kind.tag_type(), p.body.to_vec()).unwrap(),
                                    OUT_CHUNK_SIZE,
                                );
                            }
                            session.output().extend(session::play_end_bytes(1));
                        }
                        SessionEvent::PublishRequested(_) => session.accept_publish(),
                        SessionEvent::Media(p) => got.push(p),
                        SessionEvent::PublishEnded => return got,
                        _ => {}
                    }
                }
            }
            sock.write_all(&session.take_output()).unwrap();
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => return got,
                Ok(n) => reader.feed(&buf[..n]),
            }
        }
    })
}

fn media() -> Vec<Packet> {
    vec![
        Packet::new(PacketKind::Video, 0, vec![0x17, 0, 0, 0, 0, 1, 2]),
        Packet::new(PacketKind::Audio, 10, vec![0xAF, 1, 3]),
        Packet::new(PacketKind::Video, 40, vec![0x27, 1, 0, 0, 0, 4]),
    ]
}

#[test]
fn blocking_client_plays_over_a_socket_until_the_end() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = RtmpUrl::parse(&format!(
        "rtmp://{}/live/abc",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let server = serve_one(listener, media());
    let mut client = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap();
    client.play().unwrap();
    let mut got = Vec::new();
    while let Some(p) = client.read_packet().unwrap() {
        got.push(p);
    }
    assert_eq!(got, media());
    assert!(client.read_packet().unwrap().is_none(), "the end stays");
    assert!(client.bytes_read() > 3073 && client.bytes_written() > 3073);
    drop(client);
    server.join().unwrap();
}

#[test]
fn blocking_client_publishes_over_a_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = RtmpUrl::parse(&format!(
        "rtmp://{}/live/up",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let server = serve_one(listener, vec![]);
    let mut client = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap();
    assert!(
        client.write_packet(&media()[0]).is_err(),
        "not yet publishing"
    );
    client.publish().unwrap();
    assert_eq!((client.stream_id(), client.out_chunk_size()), (1, 4096));
    for p in media() {
        client.write_packet(&p).unwrap();
    }
    client.poll_incoming().unwrap();
    client.close();
    assert_eq!(server.join().unwrap(), media());
}

#[test]
fn connecting_to_a_closed_port_fails_quickly() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/x")).unwrap();
    let t0 = Instant::now();
    let err = RtmpClient::connect(&url, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(err, RtmpError::Io(_)), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_silent_server_times_the_setup_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = RtmpUrl::parse(&format!("rtmp://{}/live/x", listener.local_addr().unwrap())).unwrap();
    let t0 = Instant::now();
    let err = RtmpClient::connect(&url, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, RtmpError::Timeout("handshake")), "{err}");
    assert!(err.is_timeout());
    assert!(t0.elapsed() < Duration::from_secs(2));
    drop(listener);
}
