//! joy4 across hosts: network namespaces on one machine (see `support::hosts`), each host
//! running its own joy4 or clients. Skipped, with the reason printed, where namespaces cannot
//! be made (not root).
//!
//! ```text
//!   client (encoders, viewers)   o1, o2 (origins)   e1, e2 (edges, -origin=o1,o2)   cache (nginx)
//!           \__________________________ bridge (10.99.0.0/24) _________________________/
//! ```
//! o1's link goes down (no FIN) while the backup encoder publishes to o2: both edges pull from
//! o2 within 5 s and every viewer (HTTP-FLV, RTMP, HLS through the nginx cache) keeps playing
//! on its connection; each origin serves each edge once.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

/// The namespaces, or `None` after printing why they cannot be made.
fn lan_or_skip(names: &[&str]) -> Option<(Lan, Vec<Host>)> {
    match Lan::new(names) {
        Ok(lan) => Some(lan),
        Err(why) => {
            eprintln!("SKIPPED: network namespaces cannot be made here ({why})");
            None
        }
    }
}

fn api(host: &Host, path: &str) -> String {
    format!("http://{}:8080{path}", host.ip)
}

fn subscribers(client: &Host, origin: &Host, channel: &str) -> Option<u64> {
    client
        .get_json(&api(origin, &format!("/stat/channel/{channel}")))?
        .get("subscriberCount")?
        .as_u64()
}

/// The tcUrl an edge's pull of `channel` uses.
fn pull_origin(client: &Host, edge: &Host, channel: &str) -> Option<String> {
    let streams = client.get_json(&api(edge, "/stat/streams"))?;
    streams.as_object()?.values().find_map(|s| {
        (s["channel"] == channel && s["rtmp"]["command"] == "pull")
            .then(|| {
                s["rtmp"]["connectParams"]["tcUrl"]
                    .as_str()
                    .map(str::to_string)
            })
            .flatten()
    })
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Video packet decode timestamps of an FLV file, by ffprobe.
fn video_times(path: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=dts_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// nginx on `host` caching HLS from `upstream` (host:port) as the README says.
fn start_nginx_cache(host: &Host, dir: &TestDir, upstream: &str) -> Proc {
    let root = dir.path.display();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    proxy_cache_path {root}/cache keys_zone=hls:10m max_size=100m inactive=1m;
    server {{
        listen {ip}:8080;
        location ~ \.ts$ {{
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
"#,
        ip = host.ip
    );
    let path = dir.file("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = host.command("nginx");
    cmd.arg("-p").arg(&dir.path).arg("-c").arg(&path);
    Proc::spawn("nginx", cmd)
}

/// The media playlist of `channel` fetched by `client` through the cache.
fn cached_playlist(client: &Host, cache: &Host, channel: &str) -> Option<MediaPlaylist> {
    let base = format!("http://{}:8080", cache.ip);
    let entry = client.curl(&format!("{base}/{channel}.m3u8"), Duration::from_secs(5))?;
    let variant = entry
        .lines()
        .skip_while(|l| !l.starts_with("#EXT-X-STREAM-INF:"))
        .nth(1)?
        .to_string();
    let dir = channel
        .rsplit_once('/')
        .map(|(d, _)| format!("/{d}/"))
        .unwrap_or("/".into());
    let text = client.curl(&format!("{base}{dir}{variant}"), Duration::from_secs(5))?;
    parse_media_playlist(&text).ok()
}

#[test]
fn edges_fail_over_to_the_backup_origin_across_hosts_and_every_viewer_keeps_playing() {
    let Some((_lan, hosts)) = lan_or_skip(&["o1", "o2", "e1", "e2", "client", "cache"]) else {
        return;
    };
    let [o1h, o2h, e1h, e2h, client, cacheh] = &hosts[..] else {
        unreachable!()
    };
    let dir = TestDir::new();
    let mut o1 = o1h.start_joy4(&[]);
    let _o2 = o2h.start_joy4(&[]);
    let origins = format!("-origin=rtmp://{}:1935,rtmp://{}:1935", o1h.ip, o2h.ip);
    let e1 = e1h.start_joy4(&[&origins]);
    let e2 = e2h.start_joy4(&[&origins]);

    // The main encoder publishes to o1, the backup encoder to o2, both from the client host.
    let encode = |origin: &Host| {
        let mut cmd = client.command("ffmpeg");
        cmd.args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-re",
            "-stream_loop",
            "-1",
        ])
        .arg("-i")
        .arg(clip())
        .args(["-c", "copy", "-f", "flv"])
        .arg(format!("rtmp://{}:1935/live/f", origin.ip));
        Proc::spawn("ffmpeg-encoder", cmd)
    };
    let _main_encoder = encode(o1h);
    let _backup_encoder = encode(o2h);
    for origin in [o1h, o2h] {
        let up = wait_until(secs(10.0), || {
            client
                .get_json(&api(origin, "/stat/channel/live/f"))
                .map(|_| ())
        });
        assert!(up.is_some(), "no channel on {}", origin.name);
    }

    // Viewers on the client host: HTTP-FLV and RTMP on each edge; HLS from e1 through the
    // nginx cache on its own host.
    let mut viewers = Vec::new();
    for edge in [e1h, e2h] {
        let flv = dir.file(&format!("{}-flv.flv", edge.name));
        let mut curl = client.command("curl");
        curl.args(["-sN", "--max-time", "120", "-o"])
            .arg(&flv)
            .arg(format!("http://{}:8081/live/f.flv", edge.ip));
        viewers.push((
            format!("HTTP-FLV on {}", edge.name),
            flv,
            Proc::spawn("curl-flv", curl),
        ));
        let rtmp = dir.file(&format!("{}-rtmp.flv", edge.name));
        let mut ffmpeg = client.command("ffmpeg");
        ffmpeg
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i"])
            .arg(format!("rtmp://{}:1935/live/f", edge.ip))
            .args(["-c", "copy", "-f", "flv", "-y"])
            .arg(&rtmp);
        viewers.push((
            format!("RTMP on {}", edge.name),
            rtmp,
            Proc::spawn("ffmpeg-rtmp", ffmpeg),
        ));
    }
    let nginx_dir = TestDir::new();
    let _nginx = start_nginx_cache(cacheh, &nginx_dir, &format!("{}:8081", e1h.ip));
    for (what, file, _) in &viewers {
        let playing = wait_until(secs(10.0), || (file_len(file) > 50_000).then_some(()));
        assert!(
            playing.is_some(),
            "{what} got no media\n{}\n{}",
            e1.describe(),
            e2.describe()
        );
    }
    let hls_before = wait_until(secs(15.0), || {
        cached_playlist(client, cacheh, "live/f").filter(|p| p.segments.len() >= 2)
    })
    .expect("HLS through the cache");

    // Each origin serves each edge once, whatever the number of viewers.
    let o1_url = format!("rtmp://{}/live", o1h.ip);
    let o2_url = format!("rtmp://{}/live", o2h.ip);
    for edge in [e1h, e2h] {
        assert_eq!(
            pull_origin(client, edge, "live/f").as_deref(),
            Some(o1_url.as_str())
        );
    }
    assert_eq!(subscribers(client, o1h, "live/f"), Some(2));
    assert_eq!(subscribers(client, o2h, "live/f"), Some(0));

    // o1's link goes down: no FIN, no RST, nothing.
    o1h.cut_link();
    let cut = Instant::now();
    let mut failover = Vec::new();
    for edge in [e1h, e2h] {
        let moved = wait_until(secs(10.0), || {
            (pull_origin(client, edge, "live/f").as_deref() == Some(o2_url.as_str()))
                .then(|| cut.elapsed())
        });
        let moved =
            moved.unwrap_or_else(|| panic!("{} did not move to o2\n{}", edge.name, e1.describe()));
        failover.push(moved);
    }
    eprintln!(
        "failover across hosts: e1 {:?}, e2 {:?} after o1's link went down",
        failover[0], failover[1]
    );
    for moved in &failover {
        assert!(*moved <= secs(5.0), "an edge took {moved:?} to fail over");
    }
    assert_eq!(
        subscribers(client, o2h, "live/f"),
        Some(2),
        "o2 should serve each edge once"
    );

    // Every viewer keeps playing on its connection: the files grow, the processes live on.
    let sizes: Vec<u64> = viewers.iter().map(|(_, f, _)| file_len(f)).collect();
    std::thread::sleep(secs(4.0));
    for ((what, file, proc), before) in viewers.iter_mut().zip(sizes) {
        assert!(proc.is_running(), "{what} stopped\n{}", proc.describe());
        assert!(
            file_len(file) > before + 20_000,
            "{what} stalled after the failover"
        );
    }
    // HLS: new segments after the failover, the seam marked.
    let hls_after = wait_until(secs(12.0), || {
        cached_playlist(client, cacheh, "live/f")
            .filter(|p| p.segments.iter().any(|s| s.discontinuity))
    });
    let hls_after = hls_after.unwrap_or_else(|| panic!("no discontinuity in the cached playlist"));
    let last = |p: &MediaPlaylist| p.segments.last().map(|s| s.uri.clone());
    assert_ne!(
        last(&hls_after),
        last(&hls_before),
        "no new HLS segment after the failover"
    );

    // The recordings: video timestamps never go back and continue across the failover.
    for (what, file, proc) in viewers.iter_mut() {
        proc.kill();
        let times = video_times(file);
        assert!(times.len() > 100, "{what}: {} video packets", times.len());
        for w in times.windows(2) {
            assert!(
                w[1] >= w[0] - 0.001,
                "{what}: video time went back from {} to {}",
                w[0],
                w[1]
            );
            assert!(
                w[1] - w[0] <= 2.0,
                "{what}: video time jumps from {} to {}",
                w[0],
                w[1]
            );
        }
    }
    o1.proc.kill();
}

/// The publisher of `channel` on `server` seen from `client`: (stream id, remoteAddr).
fn publisher(client: &Host, server: &Host, channel: &str) -> Option<(String, String)> {
    let streams = client.get_json(&api(server, "/stat/streams"))?;
    streams.as_object()?.iter().find_map(|(id, s)| {
        (s["channel"] == channel && s["stat"] == "publishing").then(|| {
            (
                id.clone(),
                s["remoteAddr"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
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
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=joy4-test"])
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

/// haproxy in front of an origin on another host (RTMP with `send-proxy-v2`, RTMPS terminated
/// with `send-proxy`): `remoteAddr` is the client host's address; a PROXY header the client
/// sends straight to the origin is refused. A push relay on a third host is moved to the
/// origin by `/stream/reconnect` on another origin, and `/server/drain` empties the origin.
#[test]
fn haproxy_in_front_of_an_origin_and_a_push_relay_moved_between_hosts() {
    let Some((_lan, hosts)) = lan_or_skip(&["client", "lb", "origin", "other", "relay"]) else {
        return;
    };
    let [client, lb, origin_h, other_h, relay_h] = &hosts[..] else {
        unreachable!()
    };
    let dir = TestDir::new();
    let trust = format!("-proxyprotocol={}/32", lb.ip);
    let _origin = origin_h.start_joy4(&[&trust]);
    let _other = other_h.start_joy4(&[]);
    let _relay = relay_h.start_joy4(&[]);

    let pem = self_signed_pem(&dir);
    let config = dir.file("haproxy.cfg");
    let o = origin_h.ip;
    std::fs::write(
        &config,
        format!(
            "global\n  maxconn 256\n\
             defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             frontend rtmp\n  bind {lb}:1935\n  default_backend joy4_rtmp\n\
             frontend rtmps\n  bind {lb}:443 ssl crt {pem}\n  default_backend joy4_rtmps\n\
             backend joy4_rtmp\n  server origin {o}:1935 send-proxy-v2\n\
             backend joy4_rtmps\n  server origin {o}:1935 send-proxy\n",
            lb = lb.ip,
            pem = pem.display()
        ),
    )
    .unwrap();
    let mut cmd = lb.command("haproxy");
    cmd.arg("-db").arg("-f").arg(&config);
    let haproxy = Proc::spawn("haproxy", cmd);
    // Publish only once haproxy listens on both frontends.
    let listening = wait_until(secs(10.0), || {
        let out = lb.command("ss").arg("-ltnH").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        [1935, 443]
            .iter()
            .all(|port| text.contains(&format!("{}:{port} ", lb.ip)))
            .then_some(())
    });
    assert!(
        listening.is_some(),
        "haproxy does not listen\n{}",
        haproxy.describe()
    );

    let publish = |url: String| {
        let mut cmd = client.command("ffmpeg");
        cmd.args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-re",
            "-stream_loop",
            "-1",
        ])
        .arg("-i")
        .arg(clip())
        .args(["-c", "copy", "-f", "flv"])
        .arg(url);
        Proc::spawn("ffmpeg-publish", cmd)
    };
    let mut plain = publish(format!("rtmp://{}:1935/live/plain", lb.ip));
    let mut tls = publish(format!("rtmps://{}:443/live/tls", lb.ip));
    for channel in ["live/plain", "live/tls"] {
        let seen = wait_until(secs(10.0), || publisher(client, origin_h, channel));
        let (_, addr) = seen.unwrap_or_else(|| panic!("no publisher of {channel} through haproxy"));
        assert!(
            addr.starts_with(&format!("{}:", client.ip)),
            "{channel}: remoteAddr {addr}, not the client host {}",
            client.ip
        );
    }
    plain.kill();
    tls.kill();

    // The client is not a trusted balancer: its PROXY header is refused and counted.
    let raw = client
        .command("timeout")
        .args(["5", "bash", "-c"])
        .arg(format!(
            "exec 3<>/dev/tcp/{o}/1935; printf 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\\r\\n' >&3; cat <&3 >/dev/null"
        ))
        .status()
        .expect("run bash");
    // `timeout` answers 124 if the origin still held the connection after 5 s; a close (an
    // end of file, or a reset for the unread header) ends `cat` before.
    assert_ne!(
        raw.code(),
        Some(124),
        "the origin kept a connection that sent an untrusted PROXY header"
    );
    let bad = client.get_json(&api(origin_h, "/stat")).unwrap()["badProxyHeaders"].as_u64();
    assert_eq!(bad, Some(1));

    // A push relay on the relay host publishes to `other`; `other` moves it to the origin.
    let mut source = client.command("ffmpeg");
    source
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-re",
            "-stream_loop",
            "-1",
        ])
        .arg("-i")
        .arg(clip())
        .args(["-c", "copy", "-f", "flv"])
        .arg(format!("rtmp://{}:1935/live/src", relay_h.ip));
    let _source = Proc::spawn("ffmpeg-source", source);
    assert!(wait_until(secs(10.0), || publisher(client, relay_h, "live/src")).is_some());
    let push = client
        .post_json(
            &api(relay_h, "/stream/new"),
            &serde_json::json!({"url": format!("rtmp://{}/live/p", other_h.ip), "channel": "live/src", "push": true}),
            secs(5.0),
        )
        .expect("POST /stream/new");
    let push_id = push["id"].as_str().expect("a push id").to_string();
    let (on_other, _) = wait_until(secs(10.0), || publisher(client, other_h, "live/p"))
        .expect("the push publishes on other");
    let asked = client.post_json(
        &api(other_h, "/stream/reconnect"),
        &serde_json::json!({"id": on_other, "tcUrl": format!("rtmp://{}/live", origin_h.ip)}),
        secs(5.0),
    );
    assert_eq!(asked, Some(serde_json::json!({})));
    let t0 = Instant::now();
    let (_, addr) = wait_until(secs(10.0), || publisher(client, origin_h, "live/p"))
        .expect("the push moved to the origin");
    eprintln!(
        "reconnect across hosts: the push publishes on the origin {:?} after the request",
        t0.elapsed()
    );
    assert!(addr.starts_with(&format!("{}:", relay_h.ip)), "{addr}");
    assert!(
        wait_until(secs(8.0), || publisher(client, other_h, "live/p")
            .is_none()
            .then_some(()))
        .is_some()
    );

    // The origin drains: the push goes back to `other`, the origin has no publisher left.
    let drained = client
        .post_json(
            &api(origin_h, "/server/drain"),
            &serde_json::json!({"tcUrl": format!("rtmp://{}/live", other_h.ip), "timeout": "10s"}),
            secs(15.0),
        )
        .expect("POST /server/drain");
    assert_eq!(
        drained,
        serde_json::json!({"asked": 1, "left": 1, "remaining": 0})
    );
    assert!(publisher(client, origin_h, "live/p").is_none());
    assert!(wait_until(secs(8.0), || publisher(client, other_h, "live/p")).is_some());
    let push_stat = client
        .get_json(&api(relay_h, &format!("/stat/stream/{push_id}")))
        .unwrap();
    assert_eq!(
        push_stat["rtmp"]["connectParams"]["tcUrl"],
        serde_json::Value::from(format!("rtmp://{}/live", other_h.ip))
    );
}
