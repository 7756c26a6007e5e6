//! A librtmp client (rtmpdump, the library OBS, GStreamer and many players are built on) plays
//! from joy4: its handshake and play flow are stricter in places than ffmpeg's own RTMP code.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

#[test]
fn rtmpdump_plays_an_h264_aac_channel() {
    let dir = TestDir::new();
    let clip = clip_h264_aac(640, 360, 12);
    let mut server = Server::start(&[]);
    let mut publisher = publish(&clip, &server.rtmp_url("live/dump"));
    wait_for_channel(&mut server, "live/dump", &mut publisher);
    let out = dir.file("rtmpdump.flv");
    let mut cmd = Command::new("rtmpdump");
    cmd.arg("-q")
        .arg("--live")
        .arg("-r")
        .arg(server.rtmp_url("live/dump"))
        .arg("-o")
        .arg(&out);
    let mut dump = Proc::spawn("rtmpdump", cmd);
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        dump.is_running(),
        "rtmpdump gave up while the channel was live\n{}\n{}",
        dump.describe(),
        server.describe()
    );
    dump.kill();
    let probe = ffprobe(&out, Count::Packets).unwrap_or_else(|e| {
        panic!(
            "rtmpdump's recording is unreadable: {e}\n{}\n{}",
            dump.describe(),
            server.describe()
        )
    });
    let video = probe
        .video()
        .expect("a video stream in rtmpdump's recording");
    assert_eq!(video.codec_name, "h264");
    assert_eq!((video.width, video.height), (640, 360));
    let audio = probe
        .audio()
        .expect("an audio stream in rtmpdump's recording");
    assert_eq!(audio.codec_name, "aac");
    // Five seconds of playing from the latest keyframe: well over 2.5 s of 25 fps video.
    let packets = video.nb_read_packets.unwrap_or(0);
    assert!(
        packets >= 62,
        "only {packets} video packets recorded\n{}",
        dump.describe()
    );
    server.assert_alive("after rtmpdump");
}
