//! Slowloris: connections that never finish their opening (HTTP request head, RTMP handshake or
//! connect) are closed after about 10 s.
//!
//! Each test starts its own server, so tests run in parallel without sharing state.
mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// Runs `open` on a fresh connection, then expects the server to close it between 8 and 15 s after
/// the connection was made. `trickle`, if set, is written one byte every `every` meanwhile.
fn expect_closed_after_about_10s(
    sock: std::net::TcpStream,
    connected: Instant,
    trickle: Option<(Vec<u8>, Duration)>,
) -> Result<Duration, String> {
    if let Some((bytes, every)) = trickle {
        let mut i = 0usize;
        let mut next = Instant::now();
        write_in_background(&sock, move || {
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            }
            next += every;
            let b = *bytes.get(i)?;
            i += 1;
            Some(vec![b])
        });
    }
    let closed = wait_closed(
        &sock,
        Duration::from_secs(16).saturating_sub(connected.elapsed()),
    )?;
    let after = closed.at.duration_since(connected);
    if after < Duration::from_secs(8) {
        return Err(format!(
            "closed after only {after:?} ({}); the deadline should be 10 s",
            closed.how
        ));
    }
    if after > Duration::from_secs(15) {
        return Err(format!("closed only after {after:?}"));
    }
    Ok(after)
}

/// A named slow client, run on its own thread; Ok(when it was closed).
type SlowCase = (&'static str, SlowClient);
type SlowClient = Box<dyn FnOnce() -> Result<Duration, String> + Send>;

/// A client that connects and sends nothing.
fn silent(addr: SocketAddr) -> SlowClient {
    Box::new(move || {
        let sock = tcp_connect(addr).map_err(|e| e.to_string())?;
        expect_closed_after_about_10s(sock, Instant::now(), None)
    })
}

fn run_slow_cases(server: &mut Server, cases: Vec<SlowCase>) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| thread::spawn(move || (name, f())))
        .collect();
    let mut failures = Vec::new();
    for h in handles {
        let (name, r) = h.join().expect("slow-client thread panicked");
        match r {
            Ok(after) => eprintln!("{name}: closed after {after:?}"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    server.assert_alive("after slow clients");
    assert!(
        failures.is_empty(),
        "slow clients:\n{}\n{}",
        failures.join("\n"),
        server.describe()
    );
}

#[test]
fn slowloris_http_request_head_is_closed_after_about_10s() {
    let mut server = Server::start(&[]);
    let a = server.http_addr;
    let cases: Vec<SlowCase> = vec![
        ("HTTP: nothing sent", silent(a)),
        (
            "HTTP: header trickled one byte a second",
            Box::new(move || {
                let sock = tcp_connect(a).map_err(|e| e.to_string())?;
                let t = Instant::now();
                (&sock)
                    .write_all(b"GET /live/slow.flv HTTP/1.1\r\nHost: x\r\n")
                    .map_err(|e| e.to_string())?;
                expect_closed_after_about_10s(
                    sock,
                    t,
                    Some((
                        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
                        Duration::from_secs(1),
                    )),
                )
            }),
        ),
    ];
    run_slow_cases(&mut server, cases);
    assert_eq!(
        http_status(server.http_addr, "/live/none.flv").unwrap(),
        404,
        "the HTTP listener still answers"
    );
}

#[test]
fn slowloris_rtmp_handshake_and_connect_are_closed_after_about_10s() {
    let mut server = Server::start(&[]);
    let a = server.rtmp_addr;
    let cases: Vec<SlowCase> = vec![
        ("RTMP: nothing sent", silent(a)),
        (
            "RTMP: C2 trickled two bytes a second",
            Box::new(move || {
                let mut c = RtmpClient::connect_tcp(a)?;
                let t = Instant::now();
                c.send_raw(&c0c1()).map_err(|e| e.to_string())?;
                // S0 S1 S2 come at once; then C2 dribbles in.
                let mut s = vec![0u8; 1 + 1536 + 1536];
                c.sock
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .map_err(|e| e.to_string())?;
                std::io::Read::read_exact(&mut c.sock, &mut s)
                    .map_err(|e| format!("reading S0S1S2: {e}"))?;
                expect_closed_after_about_10s(
                    c.sock,
                    t,
                    Some((s[1..1537].to_vec(), Duration::from_millis(500))),
                )
            }),
        ),
        (
            "RTMP: handshake done, no connect",
            Box::new(move || {
                let mut c = RtmpClient::connect_tcp(a)?;
                let t = Instant::now();
                c.handshake()?;
                expect_closed_after_about_10s(c.sock, t, None)
            }),
        ),
    ];
    run_slow_cases(&mut server, cases);
    RtmpClient::connect_app(server.rtmp_addr, "live")
        .unwrap_or_else(|e| panic!("a normal client after the slow ones: {e}"));
}
