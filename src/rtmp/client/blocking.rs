//! [`RtmpClient`]: the blocking client that drives a [`ClientSession`] over a `TcpStream`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::session::{ClientEvent, ClientSession};
use crate::media::Packet;
use crate::rtmp::chunk::ChunkReader;
use crate::rtmp::handshake::{ClientHandshake, HandshakeOutcome};
use crate::rtmp::url::RtmpUrl;
use crate::rtmp::RtmpError;

/// Timeouts of an [`RtmpClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// Bound of each setup step: TCP connect, handshake + connect, play/publish start.
    pub setup_timeout: Duration,
    /// Read timeout once playing (`None` blocks). A timed-out `read_packet` can be retried.
    pub read_timeout: Option<Duration>,
    pub write_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            setup_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(30)),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// How often a publisher looks at what the server sent (pings, errors) between media writes.
const PUBLISH_POLL_INTERVAL: Duration = Duration::from_millis(500);
const READ_BUFFER: usize = 64 * 1024;

/// A blocking RTMP client over one TCP connection: `connect`, then `play` and `read_packet`, or
/// `publish` and `write_packet`.
pub struct RtmpClient {
    socket: TcpStream,
    url: RtmpUrl,
    options: ClientOptions,
    session: ClientSession,
    reader: ChunkReader,
    buf: Box<[u8]>,
    /// The read timeout currently set on the socket (set only when it changes).
    read_timeout: Option<Option<Duration>>,
    bytes_read: u64,
    bytes_written: u64,
    ended: bool,
    last_poll: Instant,
    /// The server's latest ReconnectRequest, until taken: (tcUrl, description).
    reconnect: Option<(Option<String>, String)>,
}

impl fmt::Debug for RtmpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmpClient")
            .field("url", &self.url.to_string())
            .field("stream_id", &self.session.stream_id())
            .finish()
    }
}

/// Connect to the first address of `host:port` that answers within `timeout`.
fn connect_tcp(host: &str, port: u16, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

impl RtmpClient {
    /// Connect to `url`: TCP, handshake and `connect`, each within `timeout`.
    pub fn connect(url: &RtmpUrl, timeout: Duration) -> Result<RtmpClient, RtmpError> {
        let options = ClientOptions {
            setup_timeout: timeout,
            ..ClientOptions::default()
        };
        RtmpClient::connect_with(url, options)
    }

    pub fn connect_with(url: &RtmpUrl, options: ClientOptions) -> Result<RtmpClient, RtmpError> {
        let socket = connect_tcp(&url.host, url.port, options.setup_timeout)?;
        socket.set_nodelay(true)?;
        socket.set_write_timeout(Some(options.write_timeout))?;
        let mut client = RtmpClient {
            socket,
            url: url.clone(),
            options,
            session: ClientSession::for_url(url),
            reader: ChunkReader::new(),
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            read_timeout: None,
            bytes_read: 0,
            bytes_written: 0,
            ended: false,
            last_poll: Instant::now(),
            reconnect: None,
        };
        let deadline = Instant::now() + options.setup_timeout;
        client.handshake(deadline)?;
        client.session.connect();
        client.flush()?;
        client.wait_for(deadline, "connect", |e| matches!(e, ClientEvent::Connected))?;
        Ok(client)
    }

    fn handshake(&mut self, deadline: Instant) -> Result<(), RtmpError> {
        let (mut handshake, c0c1) = ClientHandshake::new();
        self.write_bytes(&c0c1)?;
        loop {
            let n = self.read_some(Some(deadline), "handshake")?;
            match handshake
                .process(&self.buf[..n])
                .map_err(RtmpError::Handshake)?
            {
                HandshakeOutcome::InProgress { response } => self.write_bytes(&response)?,
                HandshakeOutcome::Completed {
                    response,
                    remaining,
                } => {
                    self.write_bytes(&response)?;
                    self.session.bytes_received(remaining.len());
                    self.reader.feed(&remaining);
                    return Ok(());
                }
            }
        }
    }

    pub fn url(&self) -> &RtmpUrl {
        &self.url
    }

    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// The message stream id the server gave (the one shared pre-chunked media must carry).
    pub fn stream_id(&self) -> u32 {
        self.session.stream_id()
    }

    /// The chunk size of what the client sends (4096 once publishing).
    pub fn out_chunk_size(&self) -> u32 {
        self.session.out_chunk_size()
    }

    /// Bytes read from / written to the socket so far (handshake included).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// A handle on the socket, e.g. for a closer that shuts it down from another thread.
    pub fn try_clone_socket(&self) -> io::Result<TcpStream> {
        self.socket.try_clone()
    }

    /// Shut the socket down: a thread blocked in `read_packet` wakes with an error.
    pub fn shutdown(&self) {
        let _ = self.socket.shutdown(Shutdown::Both);
    }

    /// Play the URL's stream; returns once the server said NetStream.Play.Start.
    pub fn play(&mut self) -> Result<(), RtmpError> {
        self.session.play()?;
        self.flush()?;
        let deadline = Instant::now() + self.options.setup_timeout;
        self.wait_for(deadline, "play", |e| {
            matches!(e, ClientEvent::PlayStarted { .. })
        })
    }

    /// Publish to the URL's stream; returns once the server said NetStream.Publish.Start.
    pub fn publish(&mut self) -> Result<(), RtmpError> {
        self.session.publish()?;
        self.flush()?;
        let deadline = Instant::now() + self.options.setup_timeout;
        self.wait_for(deadline, "publish", |e| {
            matches!(e, ClientEvent::PublishStarted { .. })
        })?;
        self.last_poll = Instant::now();
        Ok(())
    }

    fn wait_for(
        &mut self,
        deadline: Instant,
        step: &'static str,
        done: impl Fn(&ClientEvent) -> bool,
    ) -> Result<(), RtmpError> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Failed { code, description } => {
                        return Err(RtmpError::Rejected { code, description })
                    }
                    ClientEvent::StreamEnded { code } => return Err(RtmpError::Ended { code }),
                    ClientEvent::ReconnectRequest {
                        tc_url,
                        description,
                    } => self.reconnect = Some((tc_url, description)),
                    e if done(&e) => return Ok(()),
                    _ => {}
                }
            }
            self.read_and_handle(Some(deadline), step)?;
        }
    }

    /// The next media packet of the played stream; `Ok(None)` once the server ended it
    /// (UnpublishNotify, Play.Stop, StreamEOF). A timeout (`is_timeout()`) leaves the session
    /// intact, so the call can be repeated.
    pub fn read_packet(&mut self) -> Result<Option<Packet>, RtmpError> {
        loop {
            while let Some(event) = self.session.poll_event() {
                match event {
                    ClientEvent::Media(packet) => return Ok(Some(packet)),
                    ClientEvent::StreamEnded { .. } => self.ended = true,
                    ClientEvent::Failed { code, description } => {
                        self.ended = true;
                        return Err(RtmpError::Rejected { code, description });
                    }
                    ClientEvent::ReconnectRequest {
                        tc_url,
                        description,
                    } => self.reconnect = Some((tc_url, description)),
                    _ => {}
                }
            }
            if self.ended {
                return Ok(None);
            }
            self.read_and_handle(None, "read")?;
        }
    }

    /// Send one media packet (after `publish`).
    pub fn write_packet(&mut self, packet: &Packet) -> Result<(), RtmpError> {
        if !self.session.is_publishing() {
            return Err(RtmpError::State("write_packet before publish started"));
        }
        self.session.write_media(packet);
        self.flush()?;
        self.poll_now_and_then()
    }

    /// Send bytes that are already chunked for this connection: messages on
    /// [`stream_id`](Self::stream_id) at [`out_chunk_size`](Self::out_chunk_size), each starting with a fmt 0
    /// header (a channel's shared serialisation, when those match).
    pub fn write_prechunked(&mut self, bytes: &[u8]) -> Result<(), RtmpError> {
        if !self.session.is_publishing() {
            return Err(RtmpError::State("write_prechunked before publish started"));
        }
        self.write_bytes(bytes)?;
        self.poll_now_and_then()
    }

    fn poll_now_and_then(&mut self) -> Result<(), RtmpError> {
        if self.last_poll.elapsed() >= PUBLISH_POLL_INTERVAL {
            self.last_poll = Instant::now();
            self.poll_incoming()?;
        }
        Ok(())
    }

    /// Handle whatever the server has sent without blocking (a publisher's pings and errors).
    pub fn poll_incoming(&mut self) -> Result<(), RtmpError> {
        self.socket.set_nonblocking(true)?;
        let result = (|| loop {
            match self.socket.read(&mut self.buf) {
                Ok(0) => return Err(RtmpError::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => self.accept(n)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RtmpError::Io(e)),
            }
        })();
        self.socket.set_nonblocking(false)?;
        result?;
        self.flush()?;
        while let Some(event) = self.session.poll_event() {
            match event {
                ClientEvent::Failed { code, description } => {
                    return Err(RtmpError::Rejected { code, description })
                }
                ClientEvent::StreamEnded { code } => return Err(RtmpError::Ended { code }),
                ClientEvent::ReconnectRequest {
                    tc_url,
                    description,
                } => self.reconnect = Some((tc_url, description)),
                _ => {}
            }
        }
        Ok(())
    }

    /// The server's ReconnectRequest, if one came since the last call: (tcUrl, description).
    /// Following it is the caller's: connect to [`RtmpUrl::reconnect_target`], then leave.
    pub fn take_reconnect_request(&mut self) -> Option<(Option<String>, String)> {
        self.reconnect.take()
    }

    /// Say goodbye (FCUnpublish / deleteStream) and shut the socket down; errors are ignored.
    pub fn close(mut self) {
        self.session.close();
        let _ = self.flush();
        self.shutdown();
    }

    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.socket.write_all(bytes)?;
            self.bytes_written += bytes.len() as u64;
        }
        Ok(())
    }

    /// Send what the session queued.
    fn flush(&mut self) -> io::Result<()> {
        let out = self.session.output();
        if out.is_empty() {
            return Ok(());
        }
        let result = self.socket.write_all(out);
        self.bytes_written += out.len() as u64;
        out.clear();
        result
    }

    /// One read with the deadline (setup) or the configured read timeout (playing).
    fn read_some(
        &mut self,
        deadline: Option<Instant>,
        step: &'static str,
    ) -> Result<usize, RtmpError> {
        let timeout = match deadline {
            Some(d) => Some(RtmpError::time_left(d, step)?),
            None => self.options.read_timeout,
        };
        if self.read_timeout != Some(timeout) || deadline.is_some() {
            self.socket.set_read_timeout(timeout)?;
            self.read_timeout = Some(timeout);
        }
        loop {
            match self.socket.read(&mut self.buf) {
                Ok(0) => return Err(RtmpError::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    self.bytes_read += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if deadline.is_some()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                {
                    return Err(RtmpError::Timeout(step))
                }
                Err(e) => return Err(RtmpError::Io(e)),
            }
        }
    }

    /// Feed `n` bytes of `buf` to the chunk reader and the session.
    fn accept(&mut self, n: usize) -> Result<(), RtmpError> {
        self.session.bytes_received(n);
        self.reader.feed(&self.buf[..n]);
        while let Some(raw) = self.reader.next_message()? {
            self.session.handle(raw)?;
        }
        Ok(())
    }

    fn read_and_handle(
        &mut self,
        deadline: Option<Instant>,
        step: &'static str,
    ) -> Result<(), RtmpError> {
        let n = self.read_some(deadline, step)?;
        self.accept(n)?;
        self.flush()?;
        Ok(())
    }
}
