//! HLS behind a stock HTTP cache: nginx with `proxy_cache` in front of the media port, 50 viewers
//! polling through it, and the server is asked for each segment once; 40 LL-HLS viewers doing
//! blocking reloads and fetching every part (the hinted one before it is complete), and the
//! server is asked for each part once.
mod support;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread;
use std::time::Instant;

use support::*;

/// nginx in the foreground as one process, everything under `dir`, caching `upstream` as the
/// README says.
fn start_nginx(dir: &TestDir, upstream: SocketAddr) -> (Proc, SocketAddr) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = dir.path.display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_cache_path {root}/cache keys_zone=hls:10m max_size=100m inactive=1m;
    server {{
        listen 127.0.0.1:{port};
        location ~ \.(ts|m4s|mp4)$ {{
            proxy_pass http://{upstream};
            proxy_cache hls;
            proxy_cache_key $uri;
            proxy_cache_lock on;
            proxy_cache_valid 200 10m;
        }}
        location ~ \.m3u8$ {{
            proxy_pass http://{upstream};
            proxy_cache hls;
            proxy_cache_key $request_uri;
            proxy_cache_lock on;
            proxy_cache_valid 200 1s;
        }}
    }}
}}
"#
    );
    let conf_path = dir.file("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut cmd = Command::new("nginx");
    cmd.arg("-p").arg(&dir.path).arg("-c").arg(&conf_path);
    let mut proc = Proc::spawn("nginx", cmd);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until(secs(10.0), || {
        if !proc.is_running() {
            return Some(());
        }
        std::net::TcpStream::connect(addr).ok().map(drop)
    });
    assert!(
        proc.is_running(),
        "nginx did not start\n{}",
        proc.describe()
    );
    (proc, addr)
}

#[test]
fn fifty_viewers_behind_nginx_cause_one_upstream_request_per_segment() {
    const VIEWERS: usize = 50;
    let mut server = Server::start(&[]);
    let _publisher = publish_loop(&mut server, &clip(), "live/cached");
    let dir = TestDir::new();
    let (_nginx, cache) = start_nginx(&dir, server.http_addr);
    let started = Instant::now();
    let threads: Vec<_> = (0..VIEWERS)
        .map(|_| {
            thread::spawn(move || {
                let viewer = HlsViewer::open(cache, "live/cached").unwrap();
                let mut fetched = Vec::new();
                while started.elapsed().as_secs_f64() < 6.0 {
                    let playlist = viewer.media_playlist();
                    for segment in &playlist.segments {
                        let r = viewer.get_segment(segment, "");
                        assert_eq!(r.head.status, 200, "{}", r.body_text());
                        let path = viewer.segment_path(segment);
                        fetched.push(path.split('?').next().unwrap().to_string());
                    }
                    thread::sleep(secs(0.5));
                }
                fetched
            })
        })
        .collect();
    let mut asked: HashMap<String, usize> = HashMap::new();
    for t in threads {
        for path in t.join().unwrap() {
            *asked.entry(path).or_default() += 1;
        }
    }
    assert!(asked.len() >= 2, "segments fetched: {asked:?}");
    // The server logs each request it answers (debug level).
    let log = server.log_text();
    for (path, viewers_asked) in &asked {
        let upstream = log
            .lines()
            .filter(|l| l.contains(&format!("GET {path}?")))
            .count();
        assert_eq!(
            upstream, 1,
            "{path}: asked {viewers_asked} times through the cache, {upstream} times upstream"
        );
    }
    // Viewers that start or stop at slightly different times may see one segment more or less at
    // the edges of the window; the ones in between were asked by every viewer, once upstream.
    let by_all = asked.values().filter(|n| **n >= VIEWERS).count();
    assert!(
        by_all >= 1,
        "no segment was fetched by all {VIEWERS} viewers: {asked:?}"
    );
}

/// The quoted `URI="…"` of a tag line.
fn uri_of(line: &str) -> String {
    let start = line.find("URI=\"").expect("a URI") + 5;
    let end = start + line[start..].find('"').unwrap();
    line[start..end].to_string()
}

/// (sequence, index) of a part URI `…/RUN-SEQ.INDEX.m4s?…`.
fn part_numbers(uri: &str) -> (u64, usize) {
    let file = uri.split('?').next().unwrap().rsplit('/').next().unwrap();
    let (_, rest) = file.trim_end_matches(".m4s").split_once('-').unwrap();
    let (seq, index) = rest.split_once('.').unwrap();
    (seq.parse().unwrap(), index.parse().unwrap())
}

#[test]
fn forty_ll_hls_viewers_behind_nginx_cause_one_upstream_request_per_part() {
    const VIEWERS: usize = 40;
    let mut server = Server::start(&["-hlsvariant=lowlatency", "-hlsfragment=1s"]);
    let _publisher = publish_loop(&mut server, &clip_gop_1s(CLIP_SECS), "live/llcached");
    let dir = TestDir::new();
    let (_nginx, cache) = start_nginx(&dir, server.http_addr);
    let started = Instant::now();
    let threads: Vec<_> = (0..VIEWERS)
        .map(|_| {
            thread::spawn(move || {
                let viewer = HlsViewer::open(cache, "live/llcached").unwrap();
                let media = viewer.media_path.clone();
                let base = &media[..=media.rfind('/').unwrap()];
                let mut fetched: Vec<String> = Vec::new();
                let mut playlist = get_with(cache, "GET", &media, "").body_text();
                while started.elapsed().as_secs_f64() < 6.0 {
                    let lines: Vec<&str> = playlist
                        .lines()
                        .filter(|l| {
                            l.starts_with("#EXT-X-PART:") || l.starts_with("#EXT-X-PRELOAD-HINT:")
                        })
                        .collect();
                    for line in &lines {
                        let uri = uri_of(line);
                        let path = format!("{base}{uri}");
                        let bare = path.split('?').next().unwrap().to_string();
                        if fetched.contains(&bare) {
                            continue;
                        }
                        let r = get_with(cache, "GET", &path, "");
                        if r.head.status == 404 && line.starts_with("#EXT-X-PRELOAD-HINT") {
                            continue; // a hinted part the segment's end made unnecessary
                        }
                        assert_eq!(r.head.status, 200, "{path}: {}", r.body_text());
                        fetched.push(bare);
                    }
                    let hint = lines.last().expect("a hint");
                    let (seq, index) = part_numbers(&uri_of(hint));
                    let next = format!("{media}&_HLS_msn={seq}&_HLS_part={index}");
                    let r = get_with(cache, "GET", &next, "");
                    assert_eq!(r.head.status, 200, "{next}: {}", r.body_text());
                    playlist = r.body_text();
                }
                fetched
            })
        })
        .collect();
    let mut asked: HashMap<String, usize> = HashMap::new();
    for t in threads {
        for path in t.join().unwrap() {
            *asked.entry(path).or_default() += 1;
        }
    }
    let log = server.log_text();
    let mut upstream_total = 0;
    for (path, viewers_asked) in &asked {
        let upstream = log
            .lines()
            .filter(|l| l.contains(&format!("GET {path}?")))
            .count();
        upstream_total += upstream;
        assert_eq!(
            upstream, 1,
            "{path}: asked {viewers_asked} times through the cache, {upstream} times upstream"
        );
    }
    let through_cache: usize = asked.values().sum();
    println!(
        "{VIEWERS} LL-HLS viewers behind nginx: {} parts, {through_cache} part requests to the \
         cache, {upstream_total} upstream",
        asked.len()
    );
    assert!(asked.len() >= 15, "parts fetched: {asked:?}");
    let by_all = asked.values().filter(|n| **n >= VIEWERS).count();
    assert!(
        by_all >= 10,
        "few parts fetched by all {VIEWERS} viewers: {asked:?}"
    );
}
