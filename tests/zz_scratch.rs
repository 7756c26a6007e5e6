mod support;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn scratch_rtmp_client_against_ffmpeg_server() {
    let clip = clip_h264_aac(640, 360, 20);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "debug", "-nostdin", "-re", "-i"]).arg(&clip)
        .args(["-c", "copy", "-f", "flv", "-listen", "1", "rtmp://127.0.0.1:19350/live/abc"]);
    let _srv = Proc::spawn("ffmpeg-server", cmd);
    let addr = "127.0.0.1:19350".parse().unwrap();
    let mut c = wait_until(Duration::from_secs(5), || RtmpClient::connect_tcp(addr).ok()).unwrap();
    c.handshake().unwrap();
    c.connect("live").unwrap();
    let sid = c.create_stream().unwrap();
    c.play(sid, "abc").unwrap();
    let start = Instant::now();
    let end = Instant::now() + Duration::from_secs(4);
    let mut n = 0;
    loop {
        match c.read_message_until(end) {
            Ok(m) => { if n < 15 { eprintln!("{:?} {}", start.elapsed(), m.describe()); } n += 1; }
            Err(e) => { eprintln!("end: {e}"); break; }
        }
    }
    eprintln!("{n} messages");
    assert!(n > 100);
}

#[test]
fn scratch_flv_stream_against_ffmpeg_http_server() {
    let clip = clip_h264_aac(640, 360, 20);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re", "-i"]).arg(&clip)
        .args(["-c", "copy", "-f", "flv", "-listen", "1", "http://127.0.0.1:19351/live/abc.flv"]);
    let _srv = Proc::spawn("ffmpeg-http-server", cmd);
    let addr = "127.0.0.1:19351".parse().unwrap();
    let mut s = wait_until(Duration::from_secs(5), || FlvStream::open(addr, "/live/abc.flv", Duration::from_secs(5)).ok()).unwrap();
    eprintln!("{:?}", s.head);
    let h = s.header(Duration::from_secs(5)).unwrap();
    eprintln!("{h:?}");
    let end = Instant::now() + Duration::from_secs(3);
    let mut n = 0;
    while let Ok(Some(t)) = s.next_tag_until(end) { if n < 8 { eprintln!("{}", t.describe()); } n += 1; }
    eprintln!("{n} tags");
    assert!(n > 100);
}
