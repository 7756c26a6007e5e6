//! Bad input on the HTTP and RTMP listeners: malformed HTTP requests get their status, and each
//! broken or hostile connection is closed on its own while a live channel's players carry on.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// A bad connection must be closed within this long.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

#[test]
fn http_options_preflight_405_and_400() {
    let mut server = Server::start(&[]);
    let a = server.http_addr;

    let req = format!(
        "OPTIONS /live/x.flv HTTP/1.1\r\nHost: {a}\r\nOrigin: http://example.com\r\n\
         Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
    );
    let r = http_exchange(a, req.as_bytes(), Duration::from_secs(5)).unwrap();
    assert!((200..300).contains(&r.head.status), "OPTIONS: {:?}", r.head);
    let methods = r
        .head
        .header("access-control-allow-methods")
        .unwrap_or_else(|| panic!("OPTIONS without Allow-Methods: {:?}", r.head));
    assert!(
        methods.to_ascii_uppercase().contains("GET"),
        "Access-Control-Allow-Methods {methods:?}"
    );
    assert!(
        r.head.header("access-control-allow-origin").is_some(),
        "OPTIONS without Allow-Origin: {:?}",
        r.head
    );

    for method in ["POST", "PUT", "DELETE"] {
        let req = format!("{method} /live/x.flv HTTP/1.1\r\nHost: {a}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let r = http_exchange(a, req.as_bytes(), Duration::from_secs(5)).unwrap();
        assert_eq!(r.head.status, 405, "{method}: {:?}", r.head);
    }

    for bad in [
        "HELLO\r\n\r\n".to_string(),
        "GET\r\n\r\n".to_string(),
        format!("GET /live/x.flv HTTP/1.1\r\nHost: {a}\r\nthis line has no colon\r\n\r\n"),
        "GET /live/x.flv HTTP/1.1 extra\r\n\r\n".to_string(),
    ] {
        let r = http_exchange(a, bad.as_bytes(), CLOSE_LIMIT)
            .unwrap_or_else(|e| panic!("malformed request {bad:?}: {e}"));
        assert_eq!(
            r.head.status, 400,
            "malformed request {bad:?}: {:?}",
            r.head
        );
    }
    server.assert_alive("after bad HTTP requests");
}

/// Where the bad input goes (copied into each attacker thread).
#[derive(Clone, Copy)]
struct Addrs {
    rtmp: SocketAddr,
    http: SocketAddr,
}

type BadInput = fn(Addrs) -> Result<Closed, String>;

fn rtmp_random_bytes(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.rtmp).map_err(|e| e.to_string())?;
    let mut bytes = Rng::seeded().bytes(8192);
    bytes[0] = 0x47; // neither 3 (RTMP) nor 6 (RTMPE)
    let mut once = Some(bytes);
    write_in_background(&sock, move || once.take());
    wait_closed(&sock, CLOSE_LIMIT)
}

fn rtmp_truncated_handshake(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.rtmp).map_err(|e| e.to_string())?;
    let c = c0c1();
    (&sock).write_all(&c[..700]).map_err(|e| e.to_string())?;
    sock.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    wait_closed(&sock, CLOSE_LIMIT)
}

fn rtmp_chunk_size(s: Addrs, size: u32) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(size).map_err(|e| e.to_string())?;
    // A command after it, which the server cannot read with that chunk size.
    let _ = c.send_command(0, "createStream", 2.0, amf::V::Null, vec![]);
    wait_closed(&c.sock, CLOSE_LIMIT)
}

fn rtmp_chunk_size_zero(s: Addrs) -> Result<Closed, String> {
    rtmp_chunk_size(s, 0)
}

fn rtmp_chunk_size_2_pow_31(s: Addrs) -> Result<Closed, String> {
    rtmp_chunk_size(s, 0x8000_0000)
}

/// A data message declaring the largest 24-bit length (16 MiB - 1), then its bytes.
fn rtmp_message_length_16mib(s: Addrs) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(65536).map_err(|e| e.to_string())?;
    let total: usize = 0xFF_FFFF;
    let mut sent = 0usize;
    let mut first = true;
    write_in_background(&c.sock, move || {
        if sent >= total {
            return None;
        }
        let mut out = Vec::new();
        if first {
            fmt0_header(3, 0, total as u32, 18, 0, &mut out);
            first = false;
        } else {
            basic_header(3, 3, &mut out);
        }
        let n = (total - sent).min(65536);
        out.resize(out.len() + n, 0x05); // AMF0 null markers: only the size is wrong
        sent += n;
        Some(out)
    });
    wait_closed(&c.sock, CLOSE_LIMIT)
}

/// Partial messages on every chunk stream id from 3 up: the number in flight must be bounded.
fn rtmp_thousands_of_chunk_streams(s: Addrs) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_app(s.rtmp, "live")?;
    c.set_chunk_size(4096).map_err(|e| e.to_string())?;
    let mut csid = 3u32;
    write_in_background(&c.sock, move || {
        if csid > 65599 {
            return None;
        }
        let mut out = Vec::new();
        for _ in 0..16 {
            if csid > 65599 {
                break;
            }
            fmt0_header(csid, 0, 8192, 18, 0, &mut out);
            out.resize(out.len() + 4096, 0x05);
            csid += 1;
        }
        Some(out)
    });
    wait_closed(&c.sock, CLOSE_LIMIT)
}

fn rtmp_connect_with(s: Addrs, payload: Vec<u8>) -> Result<Closed, String> {
    let mut c = RtmpClient::connect_tcp(s.rtmp)?;
    c.handshake()?;
    c.send(3, 0, 20, 0, &payload).map_err(|e| e.to_string())?;
    wait_closed(&c.sock, CLOSE_LIMIT)
}

/// `connect` whose command object holds a string claiming 65535 bytes, with the message ending first.
fn rtmp_connect_truncated_amf(s: Addrs) -> Result<Closed, String> {
    let mut p = amf::encode_all(&[amf::s("connect"), amf::V::Num(1.0)]);
    p.extend_from_slice(&[3, 0, 3, b'a', b'p', b'p', 2, 0xff, 0xff, b'l', b'i']);
    rtmp_connect_with(s, p)
}

/// `connect` whose command object holds a value with an unknown AMF0 marker.
fn rtmp_connect_unknown_amf_marker(s: Addrs) -> Result<Closed, String> {
    let mut p = amf::encode_all(&[amf::s("connect"), amf::V::Num(1.0)]);
    p.extend_from_slice(&[3, 0, 3, b'a', b'p', b'p', 0x7f, 1, 2, 3, 4, 0, 0, 9]);
    rtmp_connect_with(s, p)
}

fn expect_4xx_or_nothing(c: Closed) -> Result<Closed, String> {
    if c.received.is_empty() {
        return Ok(c);
    }
    let text = String::from_utf8_lossy(&c.received).into_owned();
    match text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok()) {
        Some(code) if text.starts_with("HTTP/1.") && (400..500).contains(&code) && code != 404 => {
            Ok(c)
        }
        _ => Err(format!("answered {:?}", &text[..text.len().min(200)])),
    }
}

fn http_random_bytes(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.http).map_err(|e| e.to_string())?;
    let mut bytes = Rng::seeded().bytes(4096);
    bytes[0] = 0;
    bytes.extend_from_slice(b"\r\n\r\n");
    let mut once = Some(bytes);
    write_in_background(&sock, move || once.take());
    expect_4xx_or_nothing(wait_closed(&sock, CLOSE_LIMIT)?)
}

/// A 1 MiB request line that never ends: the server must not buffer it until its 10 s deadline.
fn http_1mib_request_line(s: Addrs) -> Result<Closed, String> {
    let sock = tcp_connect(s.http).map_err(|e| e.to_string())?;
    let mut line = b"GET /".to_vec();
    line.resize(1 << 20, b'a');
    let mut once = Some(line);
    write_in_background(&sock, move || once.take());
    expect_4xx_or_nothing(wait_closed(&sock, CLOSE_LIMIT)?)
}

const BAD_INPUTS: &[(&str, BadInput)] = &[
    ("RTMP random bytes", rtmp_random_bytes),
    ("RTMP truncated handshake", rtmp_truncated_handshake),
    ("RTMP chunk size 0", rtmp_chunk_size_zero),
    ("RTMP chunk size 2^31", rtmp_chunk_size_2_pow_31),
    ("RTMP message length 16 MiB", rtmp_message_length_16mib),
    (
        "RTMP thousands of chunk stream ids",
        rtmp_thousands_of_chunk_streams,
    ),
    (
        "RTMP connect with truncated AMF",
        rtmp_connect_truncated_amf,
    ),
    (
        "RTMP connect with unknown AMF marker",
        rtmp_connect_unknown_amf_marker,
    ),
    ("HTTP random bytes", http_random_bytes),
    ("HTTP 1 MiB request line", http_1mib_request_line),
];

/// Every bad input closes its own connection within a few seconds, while an ffmpeg HTTP-FLV player
/// and a raw subscriber of a live channel carry on undisturbed and the server stays up.
#[test]
fn bad_inputs_close_only_their_own_connection() {
    let dir = TestDir::new();
    let (mut server, mut publisher) = server_with_publisher("live/steady");
    let out = dir.file("steady.flv");
    let mut player = record(&server.flv_url("live/steady"), &out, 8.0);

    // A raw subscriber measuring the longest pause between tag arrivals.
    let http = server.http_addr;
    let watcher = thread::spawn(move || -> Result<(usize, Duration), String> {
        let mut s = FlvStream::open(http, "/live/steady.flv", Duration::from_secs(5))?;
        if s.head.status != 200 {
            return Err(format!("watcher GET: {:?}", s.head));
        }
        let end = Instant::now() + Duration::from_secs(7);
        let (mut n, mut last, mut max_gap) = (0usize, None::<Instant>, Duration::ZERO);
        loop {
            match s.next_tag_until(end) {
                Ok(Some(_)) => {
                    let now = Instant::now();
                    if let Some(l) = last {
                        max_gap = max_gap.max(now - l);
                    }
                    last = Some(now);
                    n += 1;
                }
                Ok(None) => return Err("watcher's stream ended".into()),
                Err(StreamError::Timeout) => return Ok((n, max_gap)),
                Err(e) => return Err(format!("watcher: {e}")),
            }
        }
    });
    // Let both subscribers attach before the attacks start.
    let attached = wait_until(Duration::from_secs(5), || {
        (std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0) > 0).then_some(())
    });
    assert!(
        attached.is_some(),
        "the ffmpeg player wrote nothing within 5 s\n{}",
        player.describe()
    );

    let started = Instant::now();
    let addrs = Addrs {
        rtmp: server.rtmp_addr,
        http: server.http_addr,
    };
    let handles: Vec<_> = BAD_INPUTS
        .iter()
        .map(|&(name, f)| thread::spawn(move || (name, f(addrs))))
        .collect();
    // Control: a well-behaved client connected meanwhile must not be closed with the bad ones.
    let control = thread::spawn(move || -> Result<(), String> {
        let mut c = RtmpClient::connect_app(addrs.rtmp, "live")?;
        c.create_stream()?;
        match wait_closed(&c.sock, CLOSE_LIMIT) {
            Err(_still_open) => Ok(()),
            Ok(closed) => Err(format!("closed ({}) too", closed.how)),
        }
    });
    let mut failures = Vec::new();
    if let Err(e) = control.join().expect("control thread panicked") {
        failures.push(format!("well-behaved RTMP client: {e}"));
    }
    for h in handles {
        let (name, res) = h.join().expect("bad-input thread panicked");
        match res {
            Ok(closed) => eprintln!(
                "{name}: closed ({}) after {:?}",
                closed.how,
                closed.at.duration_since(started)
            ),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }

    let st = player.expect_exit(Duration::from_secs(25), "the parallel HTTP-FLV player");
    let watched = watcher.join().expect("watcher thread panicked");
    server.assert_alive("after bad input");
    assert!(
        failures.is_empty(),
        "bad input not handled:\n{}\n{}",
        failures.join("\n"),
        server.describe()
    );

    assert!(
        st.success(),
        "the parallel player failed: {st}\n{}",
        player.describe()
    );
    assert_recorded(
        &mut player,
        &server,
        "parallel player",
        check_h264_aac_recording(&out, 7.5),
    );
    let vts = packet_times(&out, "v:0").unwrap();
    let gap = max_gap(&vts);
    assert!(
        gap <= 0.1,
        "the parallel player's video has a {gap:.3} s hole (frames lost)"
    );
    let (n, max_pause) = watched.unwrap_or_else(|e| panic!("{e}\n{}", server.describe()));
    assert!(n > 100, "the raw subscriber got only {n} tags in 7 s");
    assert!(
        max_pause < Duration::from_secs(2),
        "the raw subscriber saw a {max_pause:?} pause in delivery"
    );
    assert!(
        publisher.is_running(),
        "publisher died during bad input\n{}",
        publisher.describe()
    );

    // New connections still work.
    RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("fresh RTMP connect: {e}\n{}", server.describe()));
    assert_eq!(
        http_status(server.http_addr, "/live/steady.flv").unwrap(),
        200
    );
    server.assert_alive("at the end");
}
