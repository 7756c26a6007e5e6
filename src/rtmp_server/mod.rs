//! The blocking RTMP server: one thread per connection drives handshake -> chunks -> session, and
//! wires publish/play to the hub. A player's thread also writes its sink's backlog when the socket
//! backs up: it sleeps until the player sends or the sink wakes it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::hub::{
    CloseReason, ConnectObject, Hub, Listener, RtmpInfo, Sink, StreamGuard, StreamHandle,
    StreamType, Wire,
};
use crate::net::{self, Continuation, SocketWire};
use crate::rtmp::chunk::ChunkReader;
use crate::rtmp::handshake::{HandshakeOutcome, ServerHandshake};
use crate::rtmp::session::{self, ServerSession, SessionEvent};
use crate::rtmp::RtmpError;
use crate::text::{log_safe, LOG_TEXT_MAX};

mod reconnect;
mod requests;

use reconnect::ReconnectMailbox;

/// A publisher (or a connection that has not yet published or played) silent this long is closed.
const IDLE_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Room for one read of a publisher's chunks; of a connection setting up (connect, createStream,
/// publish or play: small commands; less setup garbage left in the allocator by every viewer);
/// and of a player (it sends only small control messages, and keeps its buffer for its whole
/// life).
const READ_BUFFER: usize = 16 * 1024;
const SETUP_READ_BUFFER: usize = 2048;
const PLAYER_READ_BUFFER: usize = 256;
/// The handshake's reads (C0+C1 is 1537 bytes, C2 1536).
const HANDSHAKE_READ_BUFFER: usize = 4096;
/// After a publisher's FCUnpublish / deleteStream, how long the socket stays open for the client
/// to close it first (GStreamer's rtmp2sink reports a server-side close as an error).
const UNPUBLISH_LINGER: Duration = Duration::from_secs(3);

/// Accept RTMP connections, a thread each, within the limits of `policy`.
pub fn serve(listener: TcpListener, hub: Arc<Hub>, policy: net::AcceptPolicy) {
    net::accept_loop(listener, "rtmp", policy, move |socket, peer| {
        hub.counters.accepted(Listener::Rtmp);
        run_connection(socket, peer, hub.clone())
    });
}

/// The setup step a connection must finish within `net::SETUP_TIMEOUT`.
const SETUP_STEP: &str = "handshake, connect and publish or play (10 s)";

/// Where a connection's first thread leaves it.
enum Step {
    Ended(CloseReason),
    /// A player plays or a publisher publishes: the rest runs on a fresh thread (see
    /// `net::Continuation`), and what the setup's thread touched (its stack, its allocator
    /// cache) ends with it.
    Streaming,
}

fn run_connection(socket: TcpStream, peer: SocketAddr, hub: Arc<Hub>) -> Option<Continuation> {
    let stream = hub.new_stream(StreamType::Rtmp, net::peer_text(peer));
    // Finishes the stream however the connection ends, a panic included.
    let mut guard = StreamGuard::new(hub.clone(), stream.clone());
    log::debug!("rtmp {peer}: connected as stream {}", stream.id());
    let mut conn = match Connection::start(socket, stream.clone(), hub) {
        Ok(conn) => conn,
        Err(e) => {
            log::warn!("rtmp {peer}: cannot set up the socket: {e}");
            log_closed(peer, &stream, CloseReason::Error);
            guard.set_reason(CloseReason::Error);
            return None;
        }
    };
    match conn.run() {
        Ok(Step::Streaming) => {
            // On the heap, so the streaming thread's stack holds only a pointer to it.
            let mut conn = Box::new(conn);
            Some(Continuation::new(move || {
                let result = conn.serve(false).map(|step| match step {
                    Step::Ended(reason) => reason,
                    Step::Streaming => CloseReason::Error,
                });
                conn.conclude(result, peer, guard);
            }))
        }
        Ok(Step::Ended(reason)) => {
            conn.conclude(Ok(reason), peer, guard);
            None
        }
        Err(e) => {
            conn.conclude(Err(e), peer, guard);
            None
        }
    }
}

fn log_closed(peer: SocketAddr, stream: &StreamHandle, seen: CloseReason) {
    // A reason given from outside (API close, shutdown) wins, as in the streamClose event.
    let reason = stream.close_requested().unwrap_or(seen);
    log::debug!(
        "rtmp {peer}: stream {} closed ({})",
        stream.id(),
        reason.as_str()
    );
}

struct Connection {
    /// The socket: the connection reads it, and a player's sink writes to it.
    wire: Arc<SocketWire>,
    /// A player's output once it plays: control replies then go through it, in order with media.
    sink: Option<Arc<Sink>>,
    stream: Arc<StreamHandle>,
    hub: Arc<Hub>,
    session: ServerSession,
    reader: ChunkReader,
    playing: bool,
    /// The message stream a player plays on (its goodbye is sent on it).
    play_stream_id: u32,
    publishing: bool,
    /// The publisher ended its publish with a command (FCUnpublish, deleteStream).
    unpublished: bool,
    /// From TCP accept to publishing or playing: one deadline (pings do not extend it).
    setup_deadline: Instant,
    /// The test-only fault hook asked this publisher to panic (see `fault_hook_requested`).
    fault_panic: bool,
    /// Where the API's ReconnectRequests for this client go.
    reconnect: Arc<ReconnectMailbox>,
    /// The session's events for the message at hand: one vector for the connection's life.
    events: Vec<SessionEvent>,
}

impl Connection {
    fn start(
        socket: TcpStream,
        stream: Arc<StreamHandle>,
        hub: Arc<Hub>,
    ) -> io::Result<Connection> {
        socket.set_nodelay(true)?;
        socket.set_write_timeout(Some(net::WRITE_TIMEOUT))?;
        let wire = Arc::new(SocketWire::new(socket));
        let closer = wire.clone();
        let record = Arc::downgrade(stream.record());
        stream.set_closer(Box::new(move || {
            let reason = record.upgrade().and_then(|s| s.close_requested());
            if reason == Some(CloseReason::Shutdown) {
                // The connection's thread wakes up (end of file), tells a publisher its publish
                // is over, and then closes the socket.
                closer.shutdown_read();
            } else {
                closer.shutdown();
            }
        }));
        Ok(Connection {
            wire,
            sink: None,
            stream,
            hub,
            session: ServerSession::new(),
            reader: ChunkReader::new(),
            playing: false,
            play_stream_id: crate::rtmp::PLAY_STREAM_ID,
            publishing: false,
            unpublished: false,
            fault_panic: false,
            reconnect: Arc::new(ReconnectMailbox::default()),
            events: Vec::new(),
            setup_deadline: Instant::now() + net::SETUP_TIMEOUT,
        })
    }

    /// Log why the connection ended, say goodbye where one is due, close the socket, and let
    /// `guard` finish the stream.
    fn conclude(
        mut self,
        result: Result<CloseReason, RtmpError>,
        peer: SocketAddr,
        mut guard: StreamGuard,
    ) {
        let reason = match result {
            Ok(reason) => reason,
            Err(RtmpError::Io(e)) => {
                if net::is_peer_gone(&e) {
                    log::debug!("rtmp {peer}: {e}");
                } else if net::is_timeout(&e) {
                    log::info!("rtmp {peer}: timed out: {e}");
                } else {
                    log::warn!("rtmp {peer}: {}", log_safe(&e.to_string(), LOG_TEXT_MAX));
                }
                net::close_reason(&e)
            }
            Err(e @ RtmpError::Timeout(_)) => {
                log::info!("rtmp {peer}: {e}");
                CloseReason::Timeout
            }
            Err(e) => {
                // Protocol errors may quote the peer (a command name, an AMF class name).
                let why = log_safe(&e.to_string(), LOG_TEXT_MAX);
                log::warn!("rtmp {peer}: closing: {why}");
                CloseReason::Error
            }
        };
        if self.publishing && self.stream.close_requested() == Some(CloseReason::Shutdown) {
            self.session.end_publish("The server is shutting down.");
            let _ = self.flush_session();
            log::debug!("rtmp {peer}: publisher told the server is shutting down");
        }
        log_closed(peer, &self.stream, reason);
        if self.unpublished {
            // The publish is over now; the socket closes when the client closes it.
            self.hub.finish_stream(&self.stream, reason);
            self.linger(UNPUBLISH_LINGER);
            self.wire.shutdown();
            return;
        }
        self.wire.shutdown();
        guard.set_reason(reason);
    }

    /// Read once from the socket into `buf`: within `deadline` while setting up, within the idle
    /// timeout after that (a player waits as long as it plays).
    fn read_some(&self, buf: &mut [u8], deadline: Option<Instant>) -> Result<usize, RtmpError> {
        read_socket(&self.wire, &self.stream, self.playing, buf, deadline)
    }

    /// Read and drop what the peer still sends until it closes, errs, or `limit` passes.
    fn linger(&self, limit: Duration) {
        let end = Instant::now() + limit;
        let mut buf = [0u8; 4096];
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let read = self.wire.read_within(&mut buf, Some(left));
            if !matches!(read, Ok(n) if n > 0) {
                break;
            }
        }
    }

    fn write(&self, bytes: &[u8]) -> Result<(), RtmpError> {
        if !bytes.is_empty() {
            self.wire.write_all(bytes)?;
            self.stream.add_bytes_out(bytes.len() as u64);
        }
        Ok(())
    }

    fn flush_session(&mut self) -> Result<(), RtmpError> {
        let out = self.session.take_output();
        match &self.sink {
            Some(sink) => sink.send_raw(out),
            None => self.write(&out)?,
        }
        Ok(())
    }

    /// Drive the connection through its handshake and setup until it ends, or until it plays or
    /// publishes (the rest is `serve(false)`).
    fn run(&mut self) -> Result<Step, RtmpError> {
        let setup_deadline = self.setup_deadline;
        // On this setup thread's stack, which ends with the setup: no heap left fragmented.
        let mut buf = [0u8; HANDSHAKE_READ_BUFFER];
        let mut handshake = ServerHandshake::new();
        loop {
            let n = self.read_some(&mut buf, Some(setup_deadline))?;
            match handshake.process(&buf[..n])? {
                HandshakeOutcome::InProgress { response } => self.write(&response)?,
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    self.write(&response)?;
                    self.reader.feed(&remaining);
                    break;
                }
            }
        }
        self.serve(true)
    }

    /// Read and act on the peer's messages until the connection ends (or, with
    /// `until_playing`, until it plays or publishes).
    fn serve(&mut self, until_playing: bool) -> Result<Step, RtmpError> {
        loop {
            // What one read brought goes to the channel's subscribers in one write each.
            let burst = if self.publishing {
                self.stream.hold_flushes()
            } else {
                None
            };
            while let Some(raw) = self.reader.next_message()? {
                let mut events = std::mem::take(&mut self.events);
                self.session.handle_into(raw, &mut events)?;
                self.flush_session()?;
                for event in events.drain(..) {
                    if let Some(reason) = self.on_event(event)? {
                        return Ok(Step::Ended(reason));
                    }
                }
                self.events = events;
            }
            drop(burst);
            if until_playing && (self.playing || self.publishing) {
                return Ok(Step::Streaming);
            }
            if let Some(reason) = self.wait_as_player()? {
                return Ok(Step::Ended(reason));
            }
            // From TCP accept to publishing or playing: one deadline (pings do not extend it).
            let deadline = (!self.publishing && !self.playing).then_some(self.setup_deadline);
            // A player only sends small control messages: it reads in small steps.
            let room = if self.publishing {
                READ_BUFFER
            } else if self.playing {
                PLAYER_READ_BUFFER
            } else {
                SETUP_READ_BUFFER
            };
            let (wire, stream, playing) = (&self.wire, &self.stream, self.playing);
            // Straight into the chunk reader's input: no copy through a buffer of our own.
            let n = self.reader.fill_from(room, |into| {
                read_socket(wire, stream, playing, into, deadline)
            })?;
            self.session.bytes_received(n);
            if let Some(bytes) = self.reconnect.take_pending() {
                self.session.output().extend_from_slice(&bytes);
                log::info!("rtmp stream {}: ReconnectRequest sent", self.stream.id());
            }
            self.flush_session()?;
        }
    }

    /// A player's thread sleeps until the player sends (then it returns `None` to read) or its
    /// sink wakes it to write a backlog. `Some(reason)` when the play has ended; a player whose
    /// channel closed is told so before its socket is shut.
    fn wait_as_player(&mut self) -> Result<Option<CloseReason>, RtmpError> {
        let Some(sink) = self.sink.clone() else {
            return Ok(None);
        };
        loop {
            let ready = self.wire.wait(None)?;
            if ready.woken {
                if let Some(reason) = sink.write_backlog() {
                    if reason == CloseReason::ChannelClosed {
                        let _ = sink.write_final(&session::play_end_bytes(self.play_stream_id));
                    }
                    return Ok(Some(reason));
                }
            }
            if ready.readable {
                return Ok(None);
            }
        }
    }

    /// Act on a session event; `Some(reason)` ends the connection.
    fn on_event(&mut self, event: SessionEvent) -> Result<Option<CloseReason>, RtmpError> {
        match event {
            SessionEvent::Connected { command_object } => {
                ReconnectMailbox::install(&self.reconnect, &self.stream, &command_object);
                self.stream.set_rtmp_info(RtmpInfo {
                    connect_params: Some(ConnectObject::new(&command_object)),
                    ..RtmpInfo::default()
                });
                Ok(None)
            }
            SessionEvent::Media(packet) => {
                if self.fault_panic {
                    panic!("fault hook: a publisher's thread panics on its first media packet");
                }
                self.stream.publish_packet(packet);
                Ok(None)
            }
            SessionEvent::PublishRequested(request) => self.on_publish(request),
            SessionEvent::PlayRequested(request) => self.on_play(request),
            SessionEvent::PublishEnded => {
                self.unpublished = true;
                Ok(Some(CloseReason::PeerClosed))
            }
            SessionEvent::PlayEnded => Ok(Some(CloseReason::PeerClosed)),
        }
    }
}

/// One read from the connection's socket; see `Connection::read_some`.
fn read_socket(
    wire: &SocketWire,
    stream: &StreamHandle,
    playing: bool,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> Result<usize, RtmpError> {
    let timeout = match deadline {
        Some(d) => Some(RtmpError::time_left(d, SETUP_STEP)?),
        None if playing => None,
        None => Some(IDLE_READ_TIMEOUT),
    };
    match wire.read_within(buf, timeout) {
        Ok(0) => Err(RtmpError::Io(io::ErrorKind::UnexpectedEof.into())),
        Ok(n) => {
            stream.add_bytes_in(n as u64);
            Ok(n)
        }
        Err(e) if deadline.is_some() && net::is_timeout(&e) => Err(RtmpError::Timeout(SETUP_STEP)),
        Err(e) => Err(RtmpError::Io(e)),
    }
}
