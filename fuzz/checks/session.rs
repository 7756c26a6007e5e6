//! The command flows: the server session (what a client sends to joy4) and the client session
//! (what a remote server sends to joy4's pull and push proxies).

use joy4::rtmp::chunk::ChunkLimits;
use joy4::rtmp::client::{ClientEvent, ClientSession};
use joy4::rtmp::message::Message;
use joy4::rtmp::session::{ServerSession, SessionEvent};

use super::rtmp::read_messages;

/// Output of a session must be a chunk stream whose every message decodes.
fn check_output(output: &[u8], who: &str) {
    let (messages, error) = read_messages([output], ChunkLimits::default());
    assert_eq!(error, None, "{who} output is not a valid chunk stream");
    for m in messages {
        if let Err(e) = Message::decode(m.type_id, m.payload.clone()) {
            panic!(
                "{who} sent a message of type {} that does not decode: {e}",
                m.type_id
            );
        }
    }
}

/// A client's chunk stream (after the handshake) into a `ServerSession`, which accepts every
/// request whose name has an even length and refuses the others. Media come out only while a
/// publish is accepted, publish/play requests only after connect, and everything the session
/// sends is well formed.
pub fn server_session(data: &[u8]) {
    let (messages, _) = read_messages([data], ChunkLimits::default());
    let mut session = ServerSession::new();
    let mut publishing = false;
    let mut output = Vec::new();
    for raw in messages {
        let len = raw.payload.len();
        let Ok(events) = session.handle(raw) else {
            break;
        };
        session.bytes_received(len + 12);
        for event in events {
            match event {
                SessionEvent::Connected { .. } => assert!(session.is_connected()),
                SessionEvent::PublishRequested(req) | SessionEvent::PlayRequested(req)
                    if !session.is_connected() =>
                {
                    panic!("request {req:?} before connect")
                }
                SessionEvent::PublishRequested(req) => {
                    if req.name.len() % 2 == 0 {
                        session.accept_publish();
                        publishing = true;
                    } else {
                        session.reject_publish("NetStream.Publish.BadName", "refused");
                    }
                }
                SessionEvent::PlayRequested(req) => {
                    if req.name.len() % 2 == 0 {
                        session.accept_play();
                        assert_eq!(session.play_stream_id(), Some(req.stream_id));
                    } else {
                        session.reject_play("NetStream.Play.StreamNotFound", "refused");
                    }
                }
                SessionEvent::Media(packet) => {
                    assert!(publishing, "media before an accepted publish");
                    assert!(!packet.body.is_empty());
                }
                SessionEvent::PublishEnded => publishing = false,
                SessionEvent::PlayEnded => {}
            }
        }
        output.extend(session.take_output());
    }
    check_output(&output, "the server session");
}

/// A server's chunk stream (after the handshake) into a player's and a publisher's
/// `ClientSession`: media only while playing, start events only for the intent, nothing after
/// the stream ended or failed, and well-formed output.
pub fn client_session(data: &[u8]) {
    let (messages, _) = read_messages([data], ChunkLimits::default());
    for play in [true, false] {
        let mut session = ClientSession::new("live", "rtmp://127.0.0.1/live", "stream?k=v");
        session.connect();
        let mut output = session.take_output();
        let mut ended = false;
        for raw in messages.iter().cloned() {
            let len = raw.payload.len();
            if session.handle(raw).is_err() {
                break;
            }
            session.bytes_received(len + 12);
            while let Some(event) = session.poll_event() {
                assert!(!ended, "{event:?} after the stream ended");
                match event {
                    ClientEvent::Connected if play => session.play().expect("play after connect"),
                    ClientEvent::Connected => session.publish().expect("publish after connect"),
                    ClientEvent::PlayStarted { stream_id } => {
                        assert!(play && session.is_playing());
                        assert_eq!(session.stream_id(), stream_id);
                    }
                    ClientEvent::PublishStarted { stream_id } => {
                        assert!(!play && session.is_publishing());
                        assert_eq!(session.stream_id(), stream_id);
                    }
                    ClientEvent::Media(_) => assert!(session.is_playing()),
                    ClientEvent::StreamEnded { .. } | ClientEvent::Failed { .. } => ended = true,
                    ClientEvent::Status { .. } | ClientEvent::ReconnectRequest { .. } => {}
                }
            }
            output.extend(session.take_output());
        }
        session.close();
        output.extend(session.take_output());
        check_output(&output, "the client session");
    }
}
