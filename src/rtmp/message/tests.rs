use super::*;
use crate::rtmp::chunk::ChunkReader;

fn round_trip(msg: Message) {
    let (type_id, payload) = msg.encode();
    assert_eq!(Message::decode(type_id, payload), Ok(msg));
}

#[test]
fn control_messages_round_trip() {
    round_trip(Message::SetChunkSize(4096));
    round_trip(Message::Abort { csid: 6 });
    round_trip(Message::Acknowledgement {
        sequence_number: 0xDEAD_BEEF,
    });
    round_trip(Message::WindowAckSize(2_500_000));
    round_trip(Message::SetPeerBandwidth {
        size: 2_500_000,
        limit_type: 2,
    });
}

#[test]
fn every_user_control_event_round_trips() {
    for event in [
        UserControl::StreamBegin(1),
        UserControl::StreamEof(2),
        UserControl::StreamDry(3),
        UserControl::SetBufferLength {
            stream_id: 1,
            buffer_ms: 3000,
        },
        UserControl::StreamIsRecorded(4),
        UserControl::PingRequest(123_456),
        UserControl::PingResponse(654_321),
        UserControl::Other {
            event_type: 31,
            data: vec![1, 2, 3],
        },
    ] {
        round_trip(Message::UserControl(event));
    }
}

#[test]
fn media_aggregate_and_unknown_round_trip() {
    round_trip(Message::Audio(vec![0xAF, 1, 2, 3]));
    round_trip(Message::Video(vec![0x17, 0, 0, 0, 0]));
    round_trip(Message::Video(vec![]));
    round_trip(Message::Aggregate(vec![9, 0, 0, 1, 2]));
    round_trip(Message::Unknown {
        type_id: type_id::SHARED_OBJECT_AMF0,
        payload: vec![5, 6],
    });
}

#[test]
fn commands_and_data_round_trip() {
    round_trip(command(
        "connect",
        1.0,
        Amf0Value::object([
            ("app", Amf0Value::string("live")),
            ("tcUrl", Amf0Value::string("rtmp://localhost/live")),
        ]),
        vec![],
    ));
    round_trip(command(
        "publish",
        5.0,
        Amf0Value::Null,
        vec![Amf0Value::string("abc"), Amf0Value::string("live")],
    ));
    round_trip(data(vec![
        Amf0Value::string("@setDataFrame"),
        Amf0Value::string("onMetaData"),
        Amf0Value::EcmaArray(vec![("width".into(), Amf0Value::Number(1280.0))]),
    ]));
}

#[test]
fn user_control_payloads_have_the_documented_layout() {
    let (t, p) = Message::UserControl(UserControl::StreamBegin(1)).encode();
    assert_eq!((t, p), (4, vec![0, 0, 0, 0, 0, 1]));
    let (_, p) = Message::UserControl(UserControl::SetBufferLength {
        stream_id: 1,
        buffer_ms: 0x0102,
    })
    .encode();
    assert_eq!(p, vec![0, 3, 0, 0, 0, 1, 0, 0, 1, 2]);
    let (_, p) = Message::UserControl(UserControl::PingResponse(9)).encode();
    assert_eq!(p, vec![0, 7, 0, 0, 0, 9]);
}

#[test]
fn set_chunk_size_decoding_clears_the_reserved_bit() {
    assert_eq!(
        Message::decode(1, vec![0x80, 0, 0x10, 0]),
        Ok(Message::SetChunkSize(0x1000))
    );
}

#[test]
fn truncated_control_messages_are_errors() {
    let cases: &[(u8, &[u8], usize)] = &[
        (type_id::SET_CHUNK_SIZE, &[0, 0, 1], 4),
        (type_id::ABORT, &[], 4),
        (type_id::ACKNOWLEDGEMENT, &[1], 4),
        (type_id::WINDOW_ACK_SIZE, &[0, 0], 4),
        (type_id::SET_PEER_BANDWIDTH, &[0, 0, 0, 1], 5),
        (type_id::USER_CONTROL, &[0], 2),
        (type_id::USER_CONTROL, &[0, 0, 0, 0, 1], 6),
        (type_id::USER_CONTROL, &[0, 3, 0, 0, 0, 1, 0, 0], 10),
    ];
    for &(t, payload, needed) in cases {
        assert_eq!(
            Message::decode(t, payload.to_vec()),
            Err(MessageError::Truncated {
                type_id: t,
                len: payload.len(),
                needed
            }),
            "type {t} payload {payload:?}"
        );
    }
}

#[test]
fn media_payloads_move_without_copying() {
    let payload = vec![0x17; 1000];
    let ptr = payload.as_ptr();
    let Ok(Message::Video(v)) = Message::decode(type_id::VIDEO, payload) else {
        panic!("not video");
    };
    assert_eq!(v.as_ptr(), ptr);
}

#[test]
fn amf3_wrapped_command_decodes_like_the_amf0_one() {
    let msg = command(
        "play",
        4.0,
        Amf0Value::Null,
        vec![Amf0Value::string("stream"), Amf0Value::Number(-2000.0)],
    );
    let (_, amf0_payload) = msg.encode();
    let mut amf3_payload = vec![0];
    amf3_payload.extend_from_slice(&amf0_payload);
    assert_eq!(
        Message::decode(type_id::COMMAND_AMF3, amf3_payload),
        Ok(msg.clone())
    );
    // Some senders omit the 0x00.
    assert_eq!(
        Message::decode(type_id::COMMAND_AMF3, amf0_payload),
        Ok(msg)
    );
}

#[test]
fn amf3_wrapped_data_decodes_with_the_prefix_stripped() {
    let values = vec![Amf0Value::string("onMetaData"), Amf0Value::Null];
    let amf0_payload = amf0::encode_all(&values);
    let mut amf3_payload = vec![0];
    amf3_payload.extend_from_slice(&amf0_payload);
    assert_eq!(
        Message::decode(type_id::DATA_AMF3, amf3_payload),
        Ok(Message::Data {
            values,
            payload: amf0_payload
        })
    );
}

#[test]
fn a_command_without_an_object_gets_null() {
    let payload = amf0::encode_all(&[Amf0Value::string("closeStream"), Amf0Value::Number(0.0)]);
    assert_eq!(
        Message::decode(type_id::COMMAND_AMF0, payload),
        Ok(command("closeStream", 0.0, Amf0Value::Null, vec![]))
    );
}

#[test]
fn commands_missing_name_or_transaction_id_are_bad() {
    assert!(matches!(
        Message::decode(type_id::COMMAND_AMF0, vec![]),
        Err(MessageError::BadCommand(_))
    ));
    let only_name = amf0::encode_all(&[Amf0Value::string("connect")]);
    assert!(matches!(
        Message::decode(type_id::COMMAND_AMF0, only_name),
        Err(MessageError::BadCommand(_))
    ));
    let number_first = amf0::encode_all(&[Amf0Value::Number(1.0), Amf0Value::Number(1.0)]);
    assert!(matches!(
        Message::decode(type_id::COMMAND_AMF0, number_first),
        Err(MessageError::BadCommand(_))
    ));
    let string_tid = amf0::encode_all(&[Amf0Value::string("a"), Amf0Value::string("1")]);
    assert!(matches!(
        Message::decode(type_id::COMMAND_AMF0, string_tid),
        Err(MessageError::BadCommand(_))
    ));
}

#[test]
fn broken_amf_in_a_command_is_an_amf_error() {
    let mut payload = amf0::encode_all(&[Amf0Value::string("connect"), Amf0Value::Number(1.0)]);
    payload.push(0xEE);
    assert!(matches!(
        Message::decode(type_id::COMMAND_AMF0, payload),
        Err(MessageError::Amf(_))
    ));
}

#[test]
fn write_chunks_a_message_the_reader_gives_back() {
    let msg = Message::WindowAckSize(5_000_000);
    let mut out = Vec::new();
    write(&mut out, 2, 0, 0, &msg, 128);
    let mut reader = ChunkReader::new();
    reader.feed(&out);
    let raw = reader.next_message().unwrap().unwrap();
    assert_eq!((raw.csid, raw.stream_id, raw.timestamp), (2, 0, 0));
    assert_eq!(Message::decode(raw.type_id, raw.payload), Ok(msg));
}
