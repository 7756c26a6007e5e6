//! What a recording must hold, checked with ffprobe.

use std::path::Path;
use std::time::Duration;

use super::{
    backward_steps, ffprobe, largest_step, packet_dts, record, Count, Proc, Server, TestDir, FPS,
};

/// The recorded file holds H.264 640x360 + AAC 44.1 kHz stereo, lasts at least `min_secs`, and the
/// number of decoded video (and audio) frames is within 10 % of what that duration should hold.
pub fn check_h264_aac_recording(file: &Path, min_secs: f64) -> Result<(), String> {
    let p = ffprobe(file, Count::Frames)?;
    let (v, a) = p.video_and_audio()?;
    if v.codec_name != "h264" || (v.width, v.height) != (640, 360) {
        return Err(format!(
            "video is {} {}x{}, want h264 640x360",
            v.codec_name, v.width, v.height
        ));
    }
    if a.codec_name != "aac" || a.sample_rate != 44100 || a.channels != 2 {
        return Err(format!(
            "audio is {} {} Hz {} ch, want aac 44100 Hz 2 ch",
            a.codec_name, a.sample_rate, a.channels
        ));
    }
    let dur = p.duration_at_least(min_secs)?;
    let frames = v.nb_read_frames.ok_or("no decoded video frame count")? as f64;
    let expected = FPS * dur;
    if (frames - expected).abs() > 0.10 * expected {
        return Err(format!(
            "decoded {frames} video frames in {dur:.2} s, expected {expected:.0} ± 10 %"
        ));
    }
    let aframes = a.nb_read_frames.ok_or("no decoded audio frame count")? as f64;
    let aexpected = 44100.0 / 1024.0 * dur;
    if (aframes - aexpected).abs() > 0.10 * aexpected {
        return Err(format!(
            "decoded {aframes} AAC frames in {dur:.2} s, expected {aexpected:.0} ± 10 %"
        ));
    }
    eprintln!(
        "{}: {dur:.2} s, {frames} video frames (expected {expected:.0}), {aframes} AAC frames \
         (expected {aexpected:.0})",
        file.display()
    );
    Ok(())
}

/// Video and audio are present, the file lasts at least `min_secs`, and no video frame is missing
/// (packet count within 10 % of 25 fps over the duration). Packet counting only: no decoding.
pub fn check_received_media(file: &Path, min_secs: f64, vcodec: &str) -> Result<(), String> {
    let p = ffprobe(file, Count::Packets)?;
    let (v, a) = p.video_and_audio()?;
    if v.codec_name != vcodec {
        return Err(format!("video codec {}, want {vcodec}", v.codec_name));
    }
    let dur = p.duration_at_least(min_secs)?;
    let packets = v.nb_read_packets.ok_or("no video packet count")? as f64;
    if (packets - FPS * dur).abs() > 0.10 * FPS * dur {
        return Err(format!(
            "{packets} video packets in {dur:.2} s, expected {:.0} ± 10 %",
            FPS * dur
        ));
    }
    if a.nb_read_packets.unwrap_or(0) < (20.0 * dur) as u64 {
        return Err(format!(
            "only {:?} audio packets in {dur:.2} s",
            a.nb_read_packets
        ));
    }
    Ok(())
}

pub fn assert_recorded(player: &mut Proc, server: &Server, what: &str, result: Result<(), String>) {
    if let Err(e) = result {
        panic!("{what}: {e}\n{}\n{}", player.describe(), server.describe());
    }
}

/// A recording that continues across a change of source: duration at least `min_secs`, DTS
/// never decreasing per stream, no step over `max_step` seconds between consecutive video or audio
/// packets (a new source continues "just after the last timestamp sent, plus one frame").
pub fn check_continuous_recording(
    file: &Path,
    min_secs: f64,
    max_step: f64,
) -> Result<f64, String> {
    let probe = ffprobe(file, Count::Nothing)?;
    let dur = probe.duration_at_least(min_secs)?;
    let (video, audio) = packet_dts(file);
    if video.len() < (FPS * min_secs * 0.9) as usize {
        return Err(format!("only {} video packets in {dur:.2} s", video.len()));
    }
    if audio.len() < (40.0 * min_secs) as usize {
        return Err(format!("only {} audio packets in {dur:.2} s", audio.len()));
    }
    for (kind, times) in [("video", &video), ("audio", &audio)] {
        let back = backward_steps(times);
        if !back.is_empty() {
            return Err(format!(
                "{kind} DTS goes backwards {} times: {:?}",
                back.len(),
                &back[..back.len().min(10)]
            ));
        }
        let (step, at) = largest_step(times);
        if step > max_step {
            return Err(format!(
                "{kind} has a {step:.3} s gap between packets at {at:.3} s"
            ));
        }
    }
    Ok(dur)
}

/// Record `secs` of `url` and check that it decodes as the clip (H.264 640x360 + AAC, most
/// frames there).
pub fn record_and_decode(url: &str, secs: f64, label: &str) {
    let dir = TestDir::new();
    let out = dir.file(&format!("{label}.flv"));
    let mut rec = record(url, &out, secs);
    let st = rec.expect_exit(Duration::from_secs_f64(secs + 20.0), label);
    assert!(
        st.success(),
        "{label}: recorder failed ({st})\n{}",
        rec.describe()
    );
    let probe = ffprobe(&out, Count::Frames).unwrap_or_else(|e| panic!("{label}: {e}"));
    let video = probe
        .video()
        .unwrap_or_else(|| panic!("{label}: no video in {probe:?}"));
    assert_eq!(
        (video.codec_name.as_str(), video.width, video.height),
        ("h264", 640, 360),
        "{label}"
    );
    let frames = video.nb_read_frames.unwrap_or(0) as f64;
    assert!(
        frames >= secs * FPS * 0.8,
        "{label}: only {frames} video frames decoded in {secs} s"
    );
    let audio = probe
        .audio()
        .unwrap_or_else(|| panic!("{label}: no audio in {probe:?}"));
    assert_eq!(audio.codec_name, "aac", "{label}");
}
