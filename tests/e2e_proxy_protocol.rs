//! PROXY protocol (`-proxyprotocol`) on loopback: the server listens on every interface, trusts
//! 127.0.0.1 as its balancer and sees `::1` as an ordinary, untrusted peer. Raw headers on the
//! three ports, bad and slow ones, `-maxconnperip` keyed by the client a header names,
//! `X-Forwarded-For`; then haproxy in front, with `send-proxy-v2` and with TLS and `send-proxy`,
//! ffmpeg publishing `rtmp://` and `rtmps://` through it.
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Instant;

use support::api::*;
use support::*;

/// A server on every interface that trusts 127.0.0.1 as its PROXY protocol balancer; the
/// test's own API calls go over `::1` (the server's connectable addresses).
fn proxied_server(extra: &[&str]) -> Server {
    let mut args: Vec<String> = ["-rtmp=:0", "-http=:0", "-httpapi=:0", "-loglevel=debug"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("-proxyprotocol=127.0.0.1/32".into());
    args.extend(extra.iter().map(|s| s.to_string()));
    let server = Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"));
    assert!(server.api_addr.is_ipv6(), "{:?}", server.api_addr);
    server
}

/// The same port on 127.0.0.1: the trusted balancer's side.
fn trusted(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

fn v2_header(client: [u8; 4], port: u16) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[0x21, 0x11, 0, 12]);
    out.extend_from_slice(&client);
    out.extend_from_slice(&[10, 0, 0, 1]);
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(&1935u16.to_be_bytes());
    out
}

fn open(addr: SocketAddr, first: &[u8]) -> TcpStream {
    let mut sock = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    sock.write_all(first).unwrap();
    sock
}

fn counter(server: &Server, name: &str) -> u64 {
    get_json(server, "/stat")[name]
        .as_u64()
        .unwrap_or_else(|| panic!("/stat has no {name}"))
}

fn remote_addrs(server: &Server) -> Vec<(String, String)> {
    get_json(server, "/stat/streams")
        .as_object()
        .unwrap()
        .values()
        .map(|s| {
            (
                s["remoteAddr"].as_str().unwrap_or_default().to_string(),
                s["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn wait_remote_addr(server: &Server, want: impl Fn(&str) -> bool, what: &str) -> String {
    wait_until(secs(8.0), || {
        remote_addrs(server)
            .into_iter()
            .map(|(a, _)| a)
            .find(|a| want(a))
    })
    .unwrap_or_else(|| {
        panic!(
            "no stream with {what} in /stat/streams: {:?}\n{}",
            remote_addrs(server),
            server.describe()
        )
    })
}

/// Start an HTTP-FLV play of `path` on `sock` and wait for the FLV file header.
fn play_flv(mut sock: TcpStream, path: &str, extra: &str) -> TcpStream {
    write!(sock, "GET /{path}.flv HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
    sock.set_read_timeout(Some(secs(5.0))).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(3).any(|w| w == b"FLV") {
        let n = sock.read(&mut buf).unwrap_or(0);
        assert!(
            n > 0,
            "the play of {path} ended: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    sock
}

#[test]
fn proxy_headers_name_the_client_on_every_port_and_bad_ones_are_refused() {
    let callbacks = Callbacks::start(|_| "{}".into());
    let mut server = proxied_server(&[&callbacks.flag()]);
    let _publisher = publish_loop(&mut server, &clip(), "live/a");
    let http = trusted(server.http_addr);

    // v2 on the media port: remoteAddr is the client the header names.
    let _viewer = play_flv(open(http, &v2_header([203, 0, 113, 7], 4000)), "live/a", "");
    wait_remote_addr(&server, |a| a == "203.0.113.7:4000", "203.0.113.7:4000");
    // Callbacks show the client too.
    callbacks.wait("streamConnected", secs(5.0), |b| {
        b["remoteAddr"] == "203.0.113.7:4000"
    });

    // v1 on the RTMP port.
    let mut rtmp = RtmpClient::connect_tcp(trusted(server.rtmp_addr)).unwrap();
    rtmp.send_raw(b"PROXY TCP4 198.51.100.20 10.0.0.1 5555 1935\r\n")
        .unwrap();
    rtmp.handshake().unwrap();
    rtmp.connect("live").unwrap();
    let id = rtmp.create_stream().unwrap();
    rtmp.play(id, "a").unwrap();
    wait_remote_addr(
        &server,
        |a| a == "198.51.100.20:5555",
        "the RTMP player's client",
    );

    // The API port reads the header too.
    let mut api = open(
        trusted(server.api_addr),
        b"PROXY TCP4 198.51.100.30 10.0.0.1 7 8080\r\n",
    );
    api.write_all(b"GET /stat HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    api.set_read_timeout(Some(secs(5.0))).unwrap();
    let _ = api.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer:?}");
    assert!(
        server.proc.log_text().contains("198.51.100.30"),
        "the API log does not name the client"
    );

    // X-Forwarded-For: believed from the balancer, not from anyone else.
    let _forwarded = play_flv(
        open(http, &v2_header([203, 0, 113, 99], 4002)),
        "live/a",
        "X-Forwarded-For: 6.6.6.6, 192.0.2.50\r\n",
    );
    wait_remote_addr(&server, |a| a == "192.0.2.50:0", "the forwarded client");
    let direct = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.http_addr.port()));
    let _claims = play_flv(
        open(direct, b""),
        "live/a",
        "X-Forwarded-For: 192.0.2.77\r\n",
    );
    wait_remote_addr(
        &server,
        |a| a.starts_with("[::1]:"),
        "the untrusted player's own address",
    );
    assert!(!remote_addrs(&server)
        .iter()
        .any(|(a, _)| a.starts_with("192.0.2.77")));

    // Bad input, each closed and counted: a header from an untrusted peer (RTMP, API), a
    // header that is oversized, of an unknown family or version, truncated, or slow.
    let bad_before = counter(&server, "badProxyHeaders");
    let untrusted_rtmp = SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.rtmp_addr.port()));
    let mut oversized = b"PROXY TCP4 ".to_vec();
    oversized.resize(300, b'1');
    let mut unknown_family = v2_header([1, 2, 3, 4], 1);
    unknown_family[13] = 0x51;
    let cases: Vec<(&str, TcpStream)> = vec![
        (
            "untrusted RTMP",
            open(untrusted_rtmp, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
        ),
        (
            "untrusted API",
            open(server.api_addr, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
        ),
        ("oversized v1", open(trusted(server.rtmp_addr), &oversized)),
        (
            "unknown family",
            open(trusted(server.rtmp_addr), &unknown_family),
        ),
        (
            "no header",
            open(
                trusted(server.rtmp_addr),
                b"\x03\x00\x00\x00\x00\x00\x00\x00",
            ),
        ),
        (
            "truncated",
            open(trusted(server.http_addr), b"PROXY TCP4 1.2"),
        ),
    ];
    let (_, truncated) = &cases[5];
    truncated.shutdown(std::net::Shutdown::Write).unwrap();
    for (what, sock) in &cases {
        let closed = wait_closed(sock, secs(3.0));
        assert!(closed.is_ok(), "{what}: {closed:?}\n{}", server.describe());
    }
    let slow_start = Instant::now();
    let slow = open(trusted(server.http_addr), b"PROX");
    let closed = wait_closed(&slow, secs(8.0)).unwrap_or_else(|e| panic!("slow header: {e}"));
    let took = closed.at - slow_start;
    assert!(
        took >= secs(4.5) && took <= secs(6.5),
        "a slow header was closed after {took:?}"
    );
    let bad = wait_until(secs(3.0), || {
        let n = counter(&server, "badProxyHeaders");
        (n >= bad_before + 7).then_some(n)
    });
    assert!(
        bad.is_some(),
        "badProxyHeaders {} (before {bad_before})",
        counter(&server, "badProxyHeaders")
    );
    let metrics = raw(server.api_addr, "GET", "/metrics", b"", "").body_text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("joy4_bad_proxy_headers_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // The server still serves.
    assert!(has_channel(&server, "live/a"));
}

/// `-maxconnperip` counts the client a header names, not the balancer: the same client again
/// is refused, another client through the same balancer is served.
#[test]
fn maxconnperip_counts_the_client_a_proxy_header_names() {
    let server = proxied_server(&["-maxconnperip=1"]);
    let http = trusted(server.http_addr);
    // Each connection sends its header and then waits (for its request head, up to 10 s).
    let first = open(http, &v2_header([203, 0, 113, 7], 4000));
    std::thread::sleep(secs(0.3));
    let same_client = open(http, &v2_header([203, 0, 113, 7], 4001));
    let closed = wait_closed(&same_client, secs(3.0));
    assert!(
        closed.is_ok(),
        "a second connection of the client was served\n{}",
        server.describe()
    );
    let other_client = open(http, b"PROXY TCP4 203.0.113.8 10.0.0.1 4002 8081\r\n");
    assert!(
        wait_closed(&other_client, secs(1.0)).is_err(),
        "another client was refused"
    );
    assert!(
        wait_closed(&first, secs(0.5)).is_err(),
        "the first connection was closed"
    );
    assert_eq!(counter(&server, "refusedConnections"), 1);
}

/// A self-signed certificate and key in one PEM file, for haproxy.
fn self_signed_pem(dir: &TestDir) -> std::path::PathBuf {
    let (key, cert, pem) = (
        dir.file("key.pem"),
        dir.file("cert.pem"),
        dir.file("haproxy.pem"),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl failed");
    let joined = [std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()].concat();
    std::fs::write(&pem, joined).unwrap();
    pem
}

/// The haproxy configuration the README shows, with test ports: RTMP with `send-proxy-v2`,
/// RTMPS and HTTPS terminated with TLS and `send-proxy`.
pub fn haproxy_config(pem: &std::path::Path, front: [u16; 3], joy4: [u16; 2]) -> String {
    let pem = pem.display();
    format!(
        "global\n  maxconn 256\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
         frontend rtmp\n  bind [::1]:{f0}\n  default_backend joy4_rtmp_v2\n\
         frontend rtmps\n  bind [::1]:{f1} ssl crt {pem}\n  default_backend joy4_rtmp_v1\n\
         frontend https\n  bind [::1]:{f2} ssl crt {pem}\n  default_backend joy4_http\n\
         backend joy4_rtmp_v2\n  server joy4 127.0.0.1:{r} send-proxy-v2\n\
         backend joy4_rtmp_v1\n  server joy4 127.0.0.1:{r} send-proxy\n\
         backend joy4_http\n  server joy4 127.0.0.1:{h} send-proxy\n",
        f0 = front[0],
        f1 = front[1],
        f2 = front[2],
        r = joy4[0],
        h = joy4[1],
    )
}

#[test]
fn haproxy_in_front_with_send_proxy_v2_and_tls_shows_the_clients_address() {
    let dir = TestDir::new();
    let pem = self_signed_pem(&dir);
    let mut server = proxied_server(&[]);
    let front = free_ports();
    let config = dir.file("haproxy.cfg");
    std::fs::write(
        &config,
        haproxy_config(
            &pem,
            front,
            [server.rtmp_addr.port(), server.http_addr.port()],
        ),
    )
    .unwrap();
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&config);
    let mut haproxy = Proc::spawn("haproxy", cmd);
    let up = wait_until(secs(5.0), || {
        TcpStream::connect(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, front[1]))).ok()
    });
    assert!(
        up.is_some(),
        "haproxy did not listen\n{}",
        haproxy.describe()
    );

    // ffmpeg publishes rtmp:// through send-proxy-v2 and rtmps:// through TLS + send-proxy.
    let plain = publish_with(
        &clip(),
        &format!("rtmp://[::1]:{}/live/plain", front[0]),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let tls = publish_with(
        &clip(),
        &format!("rtmps://[::1]:{}/live/tls", front[1]),
        Publish {
            loop_forever: true,
            ..Publish::default()
        },
    );
    let publisher_addr = |channel: &str| {
        wait_until(secs(10.0), || {
            get_json(&server, "/stat/streams")
                .as_object()
                .unwrap()
                .values()
                .find(|s| s["channel"] == channel && s["stat"] == "publishing")
                .map(|s| s["remoteAddr"].as_str().unwrap_or_default().to_string())
        })
    };
    for (channel, mut proc) in [("live/plain", plain), ("live/tls", tls)] {
        let addr = publisher_addr(channel).unwrap_or_else(|| {
            panic!(
                "no publisher of {channel}\n{}\n{}\n{}",
                proc.describe(),
                haproxy.describe(),
                server.describe()
            )
        });
        // The client reached haproxy from ::1; haproxy reached joy4 from 127.0.0.1.
        assert!(addr.starts_with("[::1]:"), "{channel}: remoteAddr {addr}");
        proc.kill();
    }

    // HTTPS play through haproxy: the viewer is the client too.
    let _publisher = publish_loop(&mut server, &clip(), "live/plain2");
    let mut curl = Command::new("curl");
    curl.args(["-sk", "--max-time", "20", "-o", "/dev/null"])
        .arg(format!("https://[::1]:{}/live/plain2.flv", front[2]));
    let _viewer = Proc::spawn("curl", curl);
    let viewer = wait_until(secs(10.0), || {
        get_json(&server, "/stat/streams")
            .as_object()
            .unwrap()
            .values()
            .find(|s| s["channel"] == "live/plain2" && s["type"] != "rtmp")
            .map(|s| s["remoteAddr"].as_str().unwrap_or_default().to_string())
    });
    let viewer = viewer.unwrap_or_else(|| panic!("no HTTPS viewer\n{}", server.describe()));
    assert!(
        viewer.starts_with("[::1]:"),
        "HTTPS viewer remoteAddr {viewer}"
    );
    haproxy.kill();
}
