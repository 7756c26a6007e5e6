use super::*;
use crate::amf0;
use crate::rtmp::chunk::ChunkReader;
use crate::rtmp::message::MessageError;
use crate::rtmp::WINDOW_ACK_SIZE;

fn raw(stream_id: u32, msg: &Message) -> RawMessage {
    let (type_id, payload) = msg.encode();
    RawMessage {
        csid: 3,
        timestamp: 0,
        type_id,
        stream_id,
        payload,
    }
}

fn cmd(name: &str, tx: f64, args: Vec<Amf0Value>) -> Message {
    message::command(name, tx, Amf0Value::Null, args)
}

/// Decode everything the session sent, assuming the chunk size switch it announces.
fn sent(session: &mut ServerSession) -> Vec<Message> {
    let bytes = session.take_output();
    let mut reader = ChunkReader::new();
    reader.feed(&bytes);
    let mut out = Vec::new();
    while let Some(m) = reader.next_message().unwrap() {
        out.push(Message::decode(m.type_id, m.payload).unwrap());
    }
    out
}

fn status_codes(msgs: &[Message]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Command { name, args, .. } if name == "onStatus" => args
                .first()
                .and_then(|a| a.get("code"))
                .and_then(|c| c.as_str())
                .map(str::to_string),
            _ => None,
        })
        .collect()
}

fn connected(app: &str) -> ServerSession {
    let mut s = ServerSession::new();
    let connect = message::command(
        "connect",
        1.0,
        Amf0Value::object([
            ("app", Amf0Value::string(app)),
            (
                "tcUrl",
                Amf0Value::string(format!("rtmp://localhost/{app}")),
            ),
        ]),
        vec![],
    );
    let events = s.handle(raw(0, &connect)).unwrap();
    assert!(matches!(events[0], SessionEvent::Connected { .. }));
    s
}

#[test]
fn connect_is_answered_with_window_bandwidth_chunk_size_and_success() {
    let mut s = connected("live");
    let msgs = sent(&mut s);
    assert_eq!(msgs[0], Message::WindowAckSize(WINDOW_ACK_SIZE));
    assert!(matches!(msgs[1], Message::SetPeerBandwidth { .. }));
    assert_eq!(msgs[2], Message::SetChunkSize(OUT_CHUNK_SIZE));
    match &msgs[3] {
        Message::Command {
            name,
            transaction_id,
            command_object,
            args,
        } => {
            assert_eq!(name, "_result");
            assert_eq!(*transaction_id, 1.0);
            assert_eq!(
                command_object.get("fmsVer").and_then(|v| v.as_str()),
                Some("FMS/3,0,1,123"),
                "the properties come first, with no null before them"
            );
            assert_eq!(args.len(), 1);
            assert_eq!(
                args[0].get("code").and_then(|c| c.as_str()),
                Some("NetConnection.Connect.Success")
            );
        }
        other => panic!("expected _result, got {other:?}"),
    }
}

#[test]
fn the_connect_result_has_the_shape_of_fms_nginx_rtmp_and_srs() {
    let mut s = connected("live");
    let msgs = sent(&mut s);
    let result = msgs.last().unwrap().encode().1;
    // _result, 1, {fmsVer, capabilities, mode}, {level, code, description, objectEncoding}
    let values = amf0::decode_all(&result).unwrap();
    assert_eq!(values.len(), 4);
    assert_eq!(values[0], Amf0Value::string("_result"));
    assert_eq!(values[1], Amf0Value::Number(1.0));
    let properties = &values[2];
    assert_eq!(
        properties.get("capabilities"),
        Some(&Amf0Value::Number(31.0))
    );
    assert_eq!(properties.get("mode"), Some(&Amf0Value::Number(1.0)));
    let info = &values[3];
    for (key, want) in [
        ("level", "status"),
        ("code", "NetConnection.Connect.Success"),
        ("description", "Connection succeeded."),
    ] {
        assert_eq!(info.get(key).and_then(|v| v.as_str()), Some(want), "{key}");
    }
    assert_eq!(info.get("objectEncoding"), Some(&Amf0Value::Number(0.0)));
}

#[test]
fn publish_flow_waits_for_the_application_before_publish_start() {
    let mut s = connected("live");
    sent(&mut s);
    s.handle(raw(
        0,
        &cmd("releaseStream", 2.0, vec![Amf0Value::string("abc")]),
    ))
    .unwrap();
    s.handle(raw(
        0,
        &cmd("FCPublish", 3.0, vec![Amf0Value::string("abc")]),
    ))
    .unwrap();
    s.handle(raw(0, &cmd("createStream", 4.0, vec![]))).unwrap();
    let msgs = sent(&mut s);
    assert!(matches!(&msgs[2], Message::Command { name, args, .. }
            if name == "_result" && args[0] == Amf0Value::Number(1.0)));
    let events = s
        .handle(raw(
            1,
            &cmd(
                "publish",
                5.0,
                vec![Amf0Value::string("abc?token=x"), Amf0Value::string("live")],
            ),
        ))
        .unwrap();
    assert_eq!(
        events,
        vec![SessionEvent::PublishRequested(StreamRequest {
            stream_id: 1,
            app: "live".into(),
            name: "abc".into(),
            query: "token=x".into(),
        })]
    );
    assert!(
        sent(&mut s).is_empty(),
        "nothing promised before the decision"
    );
    // Media before acceptance is not forwarded.
    let early = s
        .handle(RawMessage {
            csid: 6,
            timestamp: 0,
            type_id: 9,
            stream_id: 1,
            payload: vec![0x17, 0],
        })
        .unwrap();
    assert!(early.is_empty());
    s.accept_publish();
    assert_eq!(status_codes(&sent(&mut s)), vec!["NetStream.Publish.Start"]);
    let media = s
        .handle(RawMessage {
            csid: 6,
            timestamp: 40,
            type_id: 9,
            stream_id: 1,
            payload: vec![0x27, 1],
        })
        .unwrap();
    assert!(matches!(&media[0], SessionEvent::Media(p) if p.timestamp == 40));
    let meta = message::data(vec![
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::object([("width", Amf0Value::Number(640.0))]),
    ]);
    let events = s.handle(raw(1, &meta)).unwrap();
    match &events[0] {
        SessionEvent::Media(p) => {
            assert_eq!(p.kind, PacketKind::Data);
            assert!(p.body.starts_with(b"\x02\x00\x0aonMetaData"));
        }
        other => panic!("{other:?}"),
    }
    let end = s.handle(raw(0, &cmd("FCUnpublish", 6.0, vec![]))).unwrap();
    assert_eq!(end, vec![SessionEvent::PublishEnded]);
}

#[test]
fn rejected_publish_gets_the_given_status_code() {
    let mut s = connected("live");
    s.handle(raw(0, &cmd("createStream", 2.0, vec![]))).unwrap();
    s.handle(raw(1, &cmd("publish", 3.0, vec![Amf0Value::string("abc")])))
        .unwrap();
    sent(&mut s);
    s.reject_publish("NetStream.Publish.BadName", "ChannelAlreadyHasPublisher");
    assert_eq!(
        status_codes(&sent(&mut s)),
        vec!["NetStream.Publish.BadName"]
    );
}

#[test]
fn a_publish_the_server_ends_gets_unpublish_success_once() {
    let mut s = publishing();
    s.end_publish("the server is shutting down");
    assert_eq!(
        status_codes(&sent(&mut s)),
        vec!["NetStream.Unpublish.Success"]
    );
    s.end_publish("again");
    assert!(sent(&mut s).is_empty());
    // Media after the end is ignored.
    let media = s
        .handle(RawMessage {
            csid: 6,
            timestamp: 40,
            type_id: 9,
            stream_id: 1,
            payload: vec![0x27, 1],
        })
        .unwrap();
    assert!(media.is_empty());
}

#[test]
fn play_flow_sends_reset_start_and_sample_access_once_accepted() {
    let mut s = connected("1");
    s.handle(raw(0, &cmd("createStream", 2.0, vec![]))).unwrap();
    s.handle(raw(
        0,
        &cmd("getStreamLength", 3.0, vec![Amf0Value::string("1")]),
    ))
    .unwrap();
    let events = s
        .handle(raw(
            1,
            &cmd(
                "play",
                4.0,
                vec![Amf0Value::string("1"), Amf0Value::Number(-2000.0)],
            ),
        ))
        .unwrap();
    assert!(matches!(&events[0], SessionEvent::PlayRequested(r) if r.name == "1" && r.app == "1"));
    sent(&mut s);
    s.accept_play();
    let msgs = sent(&mut s);
    assert_eq!(
        status_codes(&msgs),
        vec!["NetStream.Play.Reset", "NetStream.Play.Start"]
    );
    assert!(msgs
            .iter()
            .any(|m| matches!(m, Message::Data { values, .. } if values[0] == Amf0Value::string("|RtmpSampleAccess"))));
    assert_eq!(s.play_stream_id(), Some(1));
    let end = s
        .handle(raw(
            0,
            &cmd("deleteStream", 5.0, vec![Amf0Value::Number(1.0)]),
        ))
        .unwrap();
    assert_eq!(end, vec![SessionEvent::PlayEnded]);
}

#[test]
fn unknown_commands_get_an_error_and_the_session_goes_on() {
    let mut s = connected("live");
    sent(&mut s);
    s.handle(raw(0, &cmd("fancyCall", 7.0, vec![]))).unwrap();
    let msgs = sent(&mut s);
    assert!(
        matches!(&msgs[0], Message::Command { name, transaction_id, .. } if name == "_error" && *transaction_id == 7.0)
    );
    s.handle(raw(0, &cmd("createStream", 8.0, vec![]))).unwrap();
    assert_eq!(sent(&mut s).len(), 1);
}

#[test]
fn commands_before_connect_are_a_protocol_error() {
    let mut s = ServerSession::new();
    assert!(s.handle(raw(0, &cmd("publish", 1.0, vec![]))).is_err());
}

#[test]
fn pings_are_answered_and_acknowledgements_follow_the_peer_window() {
    let mut s = connected("live");
    sent(&mut s);
    s.handle(raw(0, &Message::UserControl(UserControl::PingRequest(77))))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        vec![Message::UserControl(UserControl::PingResponse(77))]
    );
    s.handle(raw(0, &Message::WindowAckSize(1000))).unwrap();
    s.bytes_received(999);
    assert!(sent(&mut s).is_empty());
    s.bytes_received(2);
    assert_eq!(
        sent(&mut s),
        vec![Message::Acknowledgement {
            sequence_number: 1001
        }]
    );
}

#[test]
fn channel_paths_follow_the_url_path() {
    assert_eq!(channel_path("1", "1"), "1");
    assert_eq!(channel_path("live", "abc"), "live/abc");
    assert_eq!(channel_path("live?x=1", "abc"), "live/abc");
    assert_eq!(channel_path("", "abc"), "abc");
}

fn publishing() -> ServerSession {
    let mut s = connected("live");
    s.handle(raw(0, &cmd("createStream", 4.0, vec![]))).unwrap();
    s.handle(raw(1, &cmd("publish", 5.0, vec![Amf0Value::string("abc")])))
        .unwrap();
    s.accept_publish();
    let _ = s.take_output();
    s
}

/// `@setDataFrame("onMetaData", <AMF3 array>)` whose AMF3 integers (2 bytes each) become AMF0
/// numbers (9 bytes each) when re-encoded: `count` of them.
fn amf3_metadata(count: u32) -> Vec<u8> {
    let mut payload = amf0::encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
    ]);
    payload.extend_from_slice(&[0x11, 0x09]); // avmplus, AMF3 array
    let header = (count << 1) | 1;
    payload.extend_from_slice(&[
        0x80 | ((header >> 22) & 0x7F) as u8,
        0x80 | ((header >> 15) & 0x7F) as u8,
        0x80 | ((header >> 8) & 0x7F) as u8,
        (header & 0xFF) as u8,
    ]);
    payload.push(0x01); // no associative part
    for _ in 0..count {
        payload.extend_from_slice(&[0x04, 0x7F]); // integer 127
    }
    payload
}

#[test]
fn amf3_metadata_that_grows_past_the_data_limit_when_re_encoded_is_dropped() {
    let mut s = publishing();
    // 60,000 values: 120 KB as AMF3, 540 KB as AMF0: kept.
    let ok = s
        .handle(RawMessage {
            csid: 5,
            timestamp: 0,
            type_id: type_id::DATA_AMF0,
            stream_id: 1,
            payload: amf3_metadata(60_000),
        })
        .unwrap();
    assert!(matches!(&ok[..], [SessionEvent::Media(p)] if p.body.len() > 500_000));
    // Over 1 MiB as received: dropped before it is decoded.
    let bomb = amf0::encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::StrictArray(vec![Amf0Value::String("x".repeat(60_000)); 20]),
    ]);
    assert!(bomb.len() > message::MAX_DATA_LEN);
    let dropped = s
        .handle(RawMessage {
            csid: 5,
            timestamp: 0,
            type_id: type_id::DATA_AMF0,
            stream_id: 1,
            payload: bomb,
        })
        .unwrap();
    assert!(dropped.is_empty());
    // AMF3 below 1 MiB, AMF0 over it: dropped, and the session goes on.
    let mut grows = amf0::encode_all(&[
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
    ]);
    // An AMF3 array of one 400 KB string and two references to it (within the decoder's
    // reference budget): 400 KB received, 1.2 MB as AMF0.
    grows.extend_from_slice(&[0x11, 0x09]);
    grows.push(0x07); // dense count 3
    grows.push(0x01);
    let long = "y".repeat(400_000);
    grows.push(0x06);
    let h = ((long.len() as u32) << 1) | 1;
    grows.extend_from_slice(&[
        0x80 | ((h >> 14) & 0x7F) as u8,
        0x80 | ((h >> 7) & 0x7F) as u8,
        (h & 0x7F) as u8,
    ]);
    grows.extend_from_slice(long.as_bytes());
    for _ in 1..3 {
        grows.extend_from_slice(&[0x06, 0x00]); // reference to string 0
    }
    assert!(grows.len() < message::MAX_DATA_LEN);
    let dropped = s
        .handle(RawMessage {
            csid: 5,
            timestamp: 0,
            type_id: type_id::DATA_AMF0,
            stream_id: 1,
            payload: grows,
        })
        .unwrap();
    assert!(dropped.is_empty(), "{} events", dropped.len());
    let media = s
        .handle(RawMessage {
            csid: 6,
            timestamp: 40,
            type_id: 9,
            stream_id: 1,
            payload: vec![0x27, 1],
        })
        .unwrap();
    assert_eq!(media.len(), 1);
}

#[test]
fn a_command_over_64_kib_ends_the_session_before_it_is_decoded() {
    let mut s = ServerSession::new();
    let connect = message::command(
        "connect",
        1.0,
        Amf0Value::object([(
            "junk",
            Amf0Value::StrictArray(vec![Amf0Value::Null; 70_000]),
        )]),
        vec![],
    );
    match s.handle(raw(0, &connect)) {
        Err(SessionError::Message(MessageError::TooLarge { len, max, .. })) => {
            assert!(len > max && max == message::MAX_COMMAND_LEN)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_connected_event_keeps_a_bounded_copy_of_the_command_object() {
    let mut s = ServerSession::new();
    let connect = message::command(
        "connect",
        1.0,
        Amf0Value::object([
            ("app", Amf0Value::string("live")),
            ("pageUrl", Amf0Value::String("p".repeat(20_000))),
            (
                "junk",
                Amf0Value::StrictArray(vec![Amf0Value::Null; 30_000]),
            ),
        ]),
        vec![],
    );
    let events = s.handle(raw(0, &connect)).unwrap();
    let SessionEvent::Connected { command_object } = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(
        command_object.get("app").and_then(Amf0Value::as_str),
        Some("live")
    );
    assert!(amf0::encoded_len(command_object) < 4 * 1024);
}

#[test]
fn the_reconnect_capability_is_echoed_only_to_a_client_that_advertises_it() {
    let connect_with = |caps_ex: Option<f64>| {
        let mut s = ServerSession::new();
        let mut object = vec![("app".to_string(), Amf0Value::string("live"))];
        if let Some(c) = caps_ex {
            object.push(("capsEx".to_string(), Amf0Value::Number(c)));
        }
        let connect = message::command("connect", 1.0, Amf0Value::Object(object), vec![]);
        s.handle(raw(0, &connect)).unwrap();
        let result = sent(&mut s).last().unwrap().encode().1;
        amf0::decode_all(&result).unwrap()[2].get("capsEx").cloned()
    };
    assert_eq!(connect_with(Some(3.0)), Some(Amf0Value::Number(1.0)));
    assert_eq!(connect_with(Some(2.0)), None);
    assert_eq!(connect_with(None), None);
    assert_eq!(connect_with(Some(f64::NAN)), None);
}

#[test]
fn a_reconnect_request_is_an_on_status_on_stream_zero_with_the_tc_url() {
    let bytes = super::reconnect_request_bytes(Some("rtmp://b/live"), Some("moving"));
    let mut reader = crate::rtmp::chunk::ChunkReader::new();
    let mut input = Vec::new();
    let size = Message::SetChunkSize(super::OUT_CHUNK_SIZE);
    message::write(&mut input, 2, 0, 0, &size, 128);
    input.extend_from_slice(&bytes);
    reader.feed(&input);
    let mut raw = reader.next_message().unwrap().unwrap();
    if raw.type_id == 1 {
        raw = reader.next_message().unwrap().unwrap();
    }
    assert_eq!(raw.stream_id, 0);
    let values = amf0::decode_all(&raw.payload).unwrap();
    assert_eq!(values[0], Amf0Value::string("onStatus"));
    let info = &values[3];
    assert_eq!(
        info.get("code").and_then(|v| v.as_str()),
        Some("NetConnection.Connect.ReconnectRequest")
    );
    assert_eq!(
        info.get("tcUrl").and_then(|v| v.as_str()),
        Some("rtmp://b/live")
    );
    assert_eq!(
        info.get("description").and_then(|v| v.as_str()),
        Some("moving")
    );
    let bare = super::reconnect_request_bytes(None, None);
    assert!(!bare.windows(5).any(|w| w == b"tcUrl"));
}
