//! ReconnectRequests (Enhanced RTMP v2) on their way from the API to one RTMP client.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::amf0::Amf0Value;
use crate::hub::{ReconnectAsk, Sink, StreamHandle};
use crate::rtmp::session;

/// A ReconnectRequest on its way to the client: a player's goes straight into its sink, in
/// order with the media; anyone else's waits for the connection's thread, which reads often
/// (a publisher sends media all the time).
#[derive(Default)]
pub(super) struct ReconnectMailbox {
    player: Mutex<Option<Weak<Sink>>>,
    pending: Mutex<Option<ReconnectAsk>>,
}

impl ReconnectMailbox {
    /// Register `mailbox` as where the API's ReconnectRequests for `stream` go, once the
    /// client's `connect` said whether it follows them (`capsEx`).
    pub(super) fn install(
        mailbox: &Arc<ReconnectMailbox>,
        stream: &StreamHandle,
        connect: &Amf0Value,
    ) {
        let caps_ex = connect
            .get("capsEx")
            .and_then(Amf0Value::as_number)
            .unwrap_or(0.0);
        let advertised = caps_ex.is_finite() && (caps_ex as u32) & session::CAPS_EX_RECONNECT != 0;
        let mailbox = mailbox.clone();
        stream.set_reconnector(advertised, Arc::new(move |ask| mailbox.deliver(ask)));
    }

    /// A player's sink, which takes its ReconnectRequests from now on.
    pub(super) fn set_player(&self, sink: &Arc<Sink>) {
        *self.player.lock() = Some(Arc::downgrade(sink));
    }

    /// The bytes of a request waiting for the connection's thread, if any.
    pub(super) fn take_pending(&self) -> Option<Vec<u8>> {
        let ask = self.pending.lock().take()?;
        Some(session::reconnect_request_bytes(
            ask.tc_url.as_deref(),
            ask.description.as_deref(),
        ))
    }

    fn deliver(&self, ask: &ReconnectAsk) {
        let player = self.player.lock().as_ref().and_then(Weak::upgrade);
        match player {
            Some(sink) => sink.send_raw(session::reconnect_request_bytes(
                ask.tc_url.as_deref(),
                ask.description.as_deref(),
            )),
            None => *self.pending.lock() = Some(ask.clone()),
        }
    }
}
