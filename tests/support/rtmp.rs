//! A minimal RTMP client over a blocking socket (handshake, chunk reader, commands).

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{amf, c0c1, read_before, tcp_connect, write_chunks, RtmpMessage, StreamError};

#[derive(Debug, Clone, Copy, Default)]
struct ChunkHdr {
    timestamp: u32,
    delta: u32,
    length: u32,
    type_id: u8,
    stream_id: u32,
    extended: bool,
}

/// A minimal RTMP client over a blocking socket.
pub struct RtmpClient {
    pub sock: TcpStream,
    pub addr: SocketAddr,
    rbuf: Vec<u8>,
    rpos: usize,
    in_chunk_size: usize,
    pub out_chunk_size: usize,
    hdrs: HashMap<u32, ChunkHdr>,
    partials: HashMap<u32, Vec<u8>>,
    received: u64,
    window: u64,
    last_ack: u64,
}

impl RtmpClient {
    /// TCP connect only.
    pub fn connect_tcp(addr: SocketAddr) -> Result<RtmpClient, String> {
        let sock = tcp_connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        Ok(RtmpClient {
            sock,
            addr,
            rbuf: Vec::new(),
            rpos: 0,
            in_chunk_size: 128,
            out_chunk_size: 128,
            hdrs: HashMap::new(),
            partials: HashMap::new(),
            received: 0,
            window: 0,
            last_ack: 0,
        })
    }

    /// TCP connect, handshake, `connect` to `app` (waits for NetConnection.Connect.Success).
    pub fn connect_app(addr: SocketAddr, app: &str) -> Result<RtmpClient, String> {
        let mut c = RtmpClient::connect_tcp(addr)?;
        c.handshake()?;
        c.connect(app)?;
        Ok(c)
    }

    fn read_more(&mut self, deadline: Instant) -> Result<(), StreamError> {
        let mut tmp = [0u8; 65536];
        let n = read_before(&self.sock, &mut tmp, deadline)?;
        if n == 0 {
            return Err(StreamError::Closed("EOF".into()));
        }
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        self.rbuf.extend_from_slice(&tmp[..n]);
        self.received += n as u64;
        if self.window > 0 && self.received - self.last_ack >= self.window {
            self.last_ack = self.received;
            let seq = (self.received & 0xffff_ffff) as u32;
            let _ = self.send(2, 0, 3, 0, &seq.to_be_bytes());
        }
        Ok(())
    }

    fn read_exact_buf(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, StreamError> {
        while self.rbuf.len() - self.rpos < n {
            self.read_more(deadline)?;
        }
        let v = self.rbuf[self.rpos..self.rpos + n].to_vec();
        self.rpos += n;
        Ok(v)
    }

    /// C0+C1 -> S0+S1+S2 -> C2 (echo of S1).
    pub fn handshake(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        self.sock
            .write_all(&c0c1())
            .map_err(|e| format!("write C0C1: {e}"))?;
        let s = self
            .read_exact_buf(1 + 1536 + 1536, deadline)
            .map_err(|e| format!("reading S0S1S2: {e}"))?;
        if s[0] != 3 {
            return Err(format!("S0 is {}, not 3", s[0]));
        }
        let s1 = s[1..1537].to_vec();
        self.sock
            .write_all(&s1)
            .map_err(|e| format!("write C2: {e}"))?;
        Ok(())
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sock.write_all(bytes)
    }

    /// Send one message, chunked at the current outbound chunk size.
    pub fn send(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        let mut out = Vec::with_capacity(payload.len() + 64);
        write_chunks(
            csid,
            timestamp,
            type_id,
            stream_id,
            payload,
            self.out_chunk_size,
            &mut out,
        );
        self.sock.write_all(&out)
    }

    pub fn send_command(
        &mut self,
        stream_id: u32,
        name: &str,
        txn: f64,
        cmd_obj: amf::V,
        args: Vec<amf::V>,
    ) -> io::Result<()> {
        let mut vals = vec![amf::s(name), amf::V::Num(txn), cmd_obj];
        vals.extend(args);
        let payload = amf::encode_all(&vals);
        self.send(3, 0, 20, stream_id, &payload)
    }

    /// Send Set Chunk Size (any value, valid or not) and use it for later messages if sane.
    pub fn set_chunk_size(&mut self, size: u32) -> io::Result<()> {
        self.send(2, 0, 1, 0, &size.to_be_bytes())?;
        if (1..=0x7fff_ffff).contains(&size) {
            self.out_chunk_size = size as usize;
        }
        Ok(())
    }

    /// Parse one chunk if all its bytes are buffered: None = need more bytes.
    fn try_chunk(&mut self) -> Result<Option<Option<RtmpMessage>>, StreamError> {
        let b = &self.rbuf[self.rpos..];
        macro_rules! need {
            ($n:expr) => {
                if b.len() < $n {
                    return Ok(None);
                }
            };
        }
        need!(1);
        let fmt = b[0] >> 6;
        let mut csid = (b[0] & 0x3f) as u32;
        let mut p = 1;
        if csid == 0 {
            need!(2);
            csid = 64 + b[1] as u32;
            p = 2;
        } else if csid == 1 {
            need!(3);
            csid = 64 + b[1] as u32 + ((b[2] as u32) << 8);
            p = 3;
        }
        let prev = self.hdrs.get(&csid).copied();
        if fmt != 0 && prev.is_none() {
            return Err(StreamError::Protocol(format!(
                "chunk type {fmt} on chunk stream {csid} without a previous header"
            )));
        }
        let mut h = prev.unwrap_or_default();
        let hl = [11usize, 7, 3, 0][fmt as usize];
        need!(p + hl);
        let m = &b[p..p + hl];
        let mut field = 0u32;
        if fmt <= 2 {
            field = u32::from_be_bytes([0, m[0], m[1], m[2]]);
            h.extended = field == 0xFF_FFFF;
        }
        if fmt <= 1 {
            h.length = u32::from_be_bytes([0, m[3], m[4], m[5]]);
            h.type_id = m[6];
        }
        if fmt == 0 {
            h.stream_id = u32::from_le_bytes([m[7], m[8], m[9], m[10]]);
        }
        p += hl;
        if h.extended {
            need!(p + 4);
            let e = u32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]]);
            p += 4;
            if fmt <= 2 {
                field = e;
            }
        }
        let have = self.partials.get(&csid).map_or(0, |v| v.len());
        let new_message = have == 0;
        match fmt {
            0 => {
                h.timestamp = field;
                h.delta = 0;
            }
            1 | 2 => {
                h.delta = field;
                if new_message {
                    h.timestamp = h.timestamp.wrapping_add(field);
                }
            }
            _ => {
                if new_message {
                    h.timestamp = h.timestamp.wrapping_add(h.delta);
                }
            }
        }
        let n = (h.length as usize - have.min(h.length as usize)).min(self.in_chunk_size);
        need!(p + n);
        let data = b[p..p + n].to_vec();
        self.rpos += p + n;
        self.hdrs.insert(csid, h);
        let part = self.partials.entry(csid).or_default();
        part.extend_from_slice(&data);
        if part.len() < h.length as usize {
            return Ok(Some(None));
        }
        let payload = std::mem::take(part);
        let msg = RtmpMessage {
            csid,
            timestamp: h.timestamp,
            type_id: h.type_id,
            stream_id: h.stream_id,
            payload,
        };
        self.on_control(&msg)?;
        Ok(Some(Some(msg)))
    }

    fn on_control(&mut self, m: &RtmpMessage) -> Result<(), StreamError> {
        let be32 = |p: &[u8]| u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
        match m.type_id {
            1 if m.payload.len() >= 4 => {
                let n = be32(&m.payload) & 0x7fff_ffff;
                if n == 0 {
                    return Err(StreamError::Protocol("server set chunk size 0".into()));
                }
                self.in_chunk_size = n as usize;
            }
            5 if m.payload.len() >= 4 => self.window = be32(&m.payload) as u64,
            4 if m.payload.len() >= 6 && m.payload[..2] == [0, 6] => {
                let mut pong = vec![0, 7];
                pong.extend_from_slice(&m.payload[2..6]);
                let _ = self.send(2, 0, 4, 0, &pong);
            }
            _ => {}
        }
        Ok(())
    }

    /// The next complete message (protocol control messages included; they are also acted upon).
    pub fn read_message(&mut self, timeout: Duration) -> Result<RtmpMessage, StreamError> {
        self.read_message_until(Instant::now() + timeout)
    }

    pub fn read_message_until(&mut self, deadline: Instant) -> Result<RtmpMessage, StreamError> {
        loop {
            match self.try_chunk()? {
                Some(Some(m)) => return Ok(m),
                Some(None) => continue,
                None => self.read_more(deadline)?,
            }
        }
    }

    /// Read messages until `pred` accepts one; returns it and the messages before it.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&RtmpMessage) -> bool,
    ) -> Result<(RtmpMessage, Vec<RtmpMessage>), String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            match self.read_message_until(deadline) {
                Ok(m) if pred(&m) => return Ok((m, seen)),
                Ok(m) => seen.push(m),
                Err(e) => {
                    let list: Vec<String> = seen.iter().take(30).map(|m| m.describe()).collect();
                    return Err(format!(
                        "waiting for {what}: {e}; received before: {list:?}"
                    ));
                }
            }
        }
    }

    /// `connect` with a command object like ffmpeg's; waits for `_result` NetConnection.Connect.Success.
    pub fn connect(&mut self, app: &str) -> Result<(), String> {
        let tc_url = format!("rtmp://{}/{}", self.addr, app);
        let cmd = amf::obj(&[
            ("app", amf::s(app)),
            ("flashVer", amf::s("LNX 9,0,124,2")),
            ("tcUrl", amf::s(&tc_url)),
            ("fpad", amf::V::Bool(false)),
            ("capabilities", amf::V::Num(15.0)),
            ("audioCodecs", amf::V::Num(4071.0)),
            ("videoCodecs", amf::V::Num(252.0)),
            ("videoFunction", amf::V::Num(1.0)),
        ]);
        self.send_command(0, "connect", 1.0, cmd, vec![])
            .map_err(|e| format!("send connect: {e}"))?;
        let (m, _) = self.wait_for(Duration::from_secs(5), "connect _result", |m| {
            matches!(
                m.command_name().as_deref(),
                Some("_result") | Some("_error")
            ) && m.transaction() == Some(1.0)
        })?;
        match (m.command_name().as_deref(), m.status_code().as_deref()) {
            (Some("_result"), Some("NetConnection.Connect.Success")) => Ok(()),
            _ => Err(format!("connect answered {}", m.describe())),
        }
    }

    /// `createStream` (transaction 2); returns the new stream id.
    pub fn create_stream(&mut self) -> Result<u32, String> {
        self.send_command(0, "createStream", 2.0, amf::V::Null, vec![])
            .map_err(|e| format!("send createStream: {e}"))?;
        let (m, _) = self.wait_for(Duration::from_secs(5), "createStream _result", |m| {
            m.command_name().as_deref() == Some("_result") && m.transaction() == Some(2.0)
        })?;
        let vals = m.amf().unwrap_or_default();
        vals.get(3)
            .and_then(|v| v.as_num())
            .map(|n| n as u32)
            .ok_or_else(|| format!("createStream answered {vals:?}"))
    }

    /// SetBufferLength + `play NAME` on `stream_id` (like ffmpeg: start -2000 = live or recorded).
    pub fn play(&mut self, stream_id: u32, name: &str) -> Result<(), String> {
        let mut ctl = vec![0, 3];
        ctl.extend_from_slice(&stream_id.to_be_bytes());
        ctl.extend_from_slice(&3000u32.to_be_bytes());
        self.send(2, 0, 4, 0, &ctl)
            .map_err(|e| format!("send SetBufferLength: {e}"))?;
        let payload = amf::encode_all(&[
            amf::s("play"),
            amf::V::Num(0.0),
            amf::V::Null,
            amf::s(name),
            amf::V::Num(-2000.0),
        ]);
        self.send(8, 0, 20, stream_id, &payload)
            .map_err(|e| format!("send play: {e}"))
    }

    /// A publisher of `APP/NAME` on a new connection: connect, createStream, `publish NAME live`,
    /// past `NetStream.Publish.Start`. Returns the client and its message stream id.
    pub fn publisher(addr: SocketAddr, app: &str, name: &str) -> Result<(RtmpClient, u32), String> {
        let mut client = RtmpClient::connect_app(addr, app)?;
        let sid = client.create_stream()?;
        client
            .send_command(
                sid,
                "publish",
                5.0,
                amf::V::Null,
                vec![amf::s(name), amf::s("live")],
            )
            .map_err(|e| format!("send publish: {e}"))?;
        client.wait_for(Duration::from_secs(5), "NetStream.Publish.Start", |m| {
            m.status_code().as_deref() == Some("NetStream.Publish.Start")
        })?;
        Ok((client, sid))
    }
}
