//! One test per playlist rule of the `fmp4` and `lowlatency` variants, and of the delivery
//! directives (`hls::blocking`).

use super::*;
use crate::hls::blocking::{parse_directives, part_state, readiness, Block, PartState, Readiness};
use crate::hls::cmaf::tests::{feed, segmenter};

fn render(s: &CmafSegmenter, skip: bool) -> String {
    let segment = |seq: u64| format!("s{seq}.m4s");
    let part = |seq: u64, i: usize| format!("s{seq}.{i}.m4s");
    let init = |id: u32| format!("init{id}.mp4");
    cmaf_media_playlist(
        s,
        &Uris {
            segment: &segment,
            part: &part,
            init: &init,
        },
        skip,
    )
}

fn tag_value<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(tag))
}

fn attribute<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    attrs
        .split(',')
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

fn low_latency() -> CmafSegmenter {
    let mut s = segmenter(Some(200), 6);
    feed(&mut s, 0, 9, 25);
    s
}

#[test]
fn fmp4_is_version_7_with_ext_x_map_and_m4s_segments_and_no_parts() {
    let mut s = segmenter(None, 6);
    feed(&mut s, 0, 7, 25);
    let text = render(&s, false);
    assert_eq!(tag_value(&text, "#EXT-X-VERSION:"), Some("7"));
    assert_eq!(tag_value(&text, "#EXT-X-MAP:"), Some("URI=\"init0.mp4\""));
    assert!(text.lines().any(|l| l.ends_with(".m4s")));
    assert!(!text.contains("#EXT-X-PART"));
    assert!(!text.contains("#EXT-X-PRELOAD-HINT"));
    assert!(!text.contains("#EXT-X-SERVER-CONTROL"));
    // The MAP comes before the first segment.
    assert!(text.find("#EXT-X-MAP").unwrap() < text.find("#EXTINF").unwrap());
}

#[test]
fn ext_x_program_date_time_precedes_every_segment_in_every_variant() {
    let ll = render(&low_latency(), false);
    let segments = ll.matches("#EXTINF").count();
    // Each complete segment, and the one being written (listed by its parts).
    assert_eq!(
        ll.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        segments + 1
    );
    let first = tag_value(&ll, "#EXT-X-PROGRAM-DATE-TIME:").unwrap();
    assert_eq!(first, "2023-11-14T22:13:20.000+00:00"); // 1_700_000_000_000 ms, segment 0 at 0
    let mut ts = crate::hls::Segmenter::new(crate::hls::SegmenterSettings::default());
    let mut cmaf = segmenter(None, 6);
    feed(&mut cmaf, 0, 5, 25);
    let fmp4 = render(&cmaf, false);
    assert_eq!(
        fmp4.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        fmp4.matches("#EXTINF").count()
    );
    let header = crate::hls::cmaf::tests::video_header(&crate::hls::cmaf::tests::AVC_RECORD);
    ts.push(&header, false, 0).unwrap();
    for i in 0..125u32 {
        let frame = crate::hls::cmaf::tests::frame(i * 40, i % 25 == 0);
        ts.push(&frame, false, 1_700_000_000_000 + u64::from(i * 40))
            .unwrap();
    }
    let mpegts = crate::hls::playlist::media_playlist(&ts, |s| format!("{}.ts", s.sequence));
    assert!(mpegts.matches("#EXTINF").count() >= 2);
    assert_eq!(
        mpegts.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        mpegts.matches("#EXTINF").count()
    );
}

#[test]
fn ext_x_part_inf_part_target_is_the_part_duration_and_no_part_is_longer() {
    let s = low_latency();
    let text = render(&s, false);
    assert_eq!(
        tag_value(&text, "#EXT-X-PART-INF:"),
        Some("PART-TARGET=0.200")
    );
    for line in text.lines().filter(|l| l.starts_with("#EXT-X-PART:")) {
        let d: f64 = attribute(&line[12..], "DURATION").unwrap().parse().unwrap();
        assert!(d > 0.0 && d <= 0.200, "{line}");
    }
}

#[test]
fn ext_x_part_lists_the_parts_of_the_last_segments_with_independent_yes_at_keyframes() {
    let s = low_latency();
    let text = render(&s, false);
    let parts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("#EXT-X-PART:"))
        .collect();
    assert!(parts.len() >= 20, "{text}");
    // A keyframe every second: segments start with one, and another lies mid-segment.
    for seg in s.segments().iter().rev().take(PART_SEGMENTS) {
        let first = format!("URI=\"s{}.0.m4s\",INDEPENDENT=YES", seg.sequence);
        assert!(text.contains(&first), "{first} in\n{text}");
    }
    let independent = parts
        .iter()
        .filter(|l| l.contains("INDEPENDENT=YES"))
        .count();
    assert!(independent >= 2 * PART_SEGMENTS, "{text}");
    assert!(parts.iter().any(|l| !l.contains("INDEPENDENT")));
    // Older segments are listed whole only.
    let oldest = s.segments()[0].sequence;
    assert!(!text.contains(&format!("s{oldest}.0.m4s")));
    // Parts of a segment come before its EXTINF.
    let last = s.segments().back().unwrap().sequence;
    let part_at = text.find(&format!("s{last}.0.m4s")).unwrap();
    let segment_at = text.find(&format!("\ns{last}.m4s")).unwrap();
    assert!(part_at < segment_at);
}

#[test]
fn ext_x_preload_hint_type_part_names_the_next_part_last() {
    let s = low_latency();
    let text = render(&s, false);
    let b = s.building().unwrap();
    let hint = format!(
        "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"s{}.{}.m4s\"",
        b.sequence,
        b.parts.len()
    );
    assert_eq!(text.lines().last(), Some(hint.as_str()), "{text}");
}

#[test]
fn ext_x_server_control_can_block_reload_with_part_hold_back_at_least_three_part_targets() {
    let text = render(&low_latency(), false);
    let control = tag_value(&text, "#EXT-X-SERVER-CONTROL:").unwrap();
    assert_eq!(attribute(control, "CAN-BLOCK-RELOAD"), Some("YES"));
    let hold: f64 = attribute(control, "PART-HOLD-BACK")
        .unwrap()
        .parse()
        .unwrap();
    assert!(hold >= 3.0 * 0.200 - 1e-9, "{control}");
    let target: f64 = tag_value(&text, "#EXT-X-TARGETDURATION:")
        .unwrap()
        .parse()
        .unwrap();
    let skip: f64 = attribute(control, "CAN-SKIP-UNTIL")
        .unwrap()
        .parse()
        .unwrap();
    assert!(skip >= 6.0 * target, "{control}");
}

#[test]
fn can_skip_until_and_hls_skip_yes_give_a_version_9_delta_update_with_ext_x_skip() {
    let mut s = segmenter(Some(200), 12);
    feed(&mut s, 0, 26, 25);
    let full = render(&s, false);
    let delta = render(&s, true);
    assert_eq!(tag_value(&full, "#EXT-X-VERSION:"), Some("7"));
    assert_eq!(tag_value(&delta, "#EXT-X-VERSION:"), Some("9"));
    let skipped: usize = tag_value(&delta, "#EXT-X-SKIP:SKIPPED-SEGMENTS=")
        .unwrap()
        .parse()
        .unwrap();
    assert!(skipped >= 1);
    assert_eq!(
        delta.matches("#EXTINF").count() + skipped,
        full.matches("#EXTINF").count()
    );
    // What is left covers at least CAN-SKIP-UNTIL (12 s) from the end.
    let listed: f64 = delta
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    assert!(listed >= 12.0 - 2.0, "{listed}");
    // The media sequence still names the first segment of the whole playlist.
    assert_eq!(
        tag_value(&delta, "#EXT-X-MEDIA-SEQUENCE:"),
        tag_value(&full, "#EXT-X-MEDIA-SEQUENCE:")
    );
    assert!(delta.contains("#EXT-X-MAP:"));
    // A short playlist has nothing to skip: the full one is the answer.
    let short = low_latency();
    assert_eq!(render(&short, true), render(&short, false));
}

#[test]
fn an_ended_channel_lists_ext_x_endlist_and_no_hint() {
    let mut s = low_latency();
    s.end();
    let text = render(&s, false);
    assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    assert!(!text.contains("PRELOAD-HINT"));
}

#[test]
fn hls_part_without_hls_msn_is_refused() {
    let q = crate::text::query_pairs("_HLS_part=2");
    assert!(parse_directives(&q).unwrap_err().contains("_HLS_msn"));
}

#[test]
fn malformed_or_absurd_directives_are_refused() {
    for query in [
        "_HLS_msn=-1",
        "_HLS_msn=abc",
        "_HLS_msn=",
        "_HLS_msn=1e3",
        "_HLS_msn=99999999999999999999",
        "_HLS_msn=3&_HLS_part=x",
        "_HLS_skip=maybe",
    ] {
        let q = crate::text::query_pairs(query);
        assert!(parse_directives(&q).is_err(), "{query}");
    }
    let s = low_latency();
    let last = s.building().unwrap().sequence;
    let absurd = Block {
        msn: last,
        part: Some(100_000),
    };
    assert!(matches!(readiness(&s, absurd), Readiness::Refuse(_)));
}

#[test]
fn hls_msn_beyond_the_last_segment_plus_two_is_refused() {
    let s = low_latency();
    let last = s.building().unwrap().sequence;
    let at = |msn| readiness(&s, Block { msn, part: None });
    assert_eq!(at(last + 2), Readiness::Wait);
    assert!(matches!(at(last + 3), Readiness::Refuse(r) if r.contains("+ 2")));
}

#[test]
fn a_blocking_reload_is_ready_once_the_segment_or_part_exists() {
    let s = low_latency();
    let b = s.building().unwrap();
    let (seq, have) = (b.sequence, b.parts.len());
    let at = |msn, part| readiness(&s, Block { msn, part });
    assert_eq!(at(seq - 1, None), Readiness::Ready, "a complete segment");
    assert_eq!(at(seq, None), Readiness::Wait, "the segment being written");
    assert_eq!(at(seq, Some(have - 1)), Readiness::Ready, "its last part");
    assert_eq!(at(seq, Some(have)), Readiness::Wait, "the hinted part");
    assert_eq!(at(seq + 1, Some(0)), Readiness::Wait);
    let q = crate::text::query_pairs("_HLS_msn=7&_HLS_part=2&_HLS_skip=YES");
    let d = parse_directives(&q).unwrap();
    assert_eq!(
        d.block,
        Some(Block {
            msn: 7,
            part: Some(2)
        })
    );
    assert!(d.skip);
}

#[test]
fn the_hinted_part_is_coming_and_an_old_one_is_gone() {
    let s = low_latency();
    let b = s.building().unwrap();
    assert_eq!(part_state(&s, b.sequence, 0), PartState::Ready);
    assert_eq!(part_state(&s, b.sequence, b.parts.len()), PartState::Coming);
    assert_eq!(part_state(&s, b.sequence + 1, 0), PartState::Coming);
    assert_eq!(
        part_state(&s, b.sequence, b.parts.len() + 1),
        PartState::Gone
    );
    assert_eq!(part_state(&s, s.segments()[0].sequence, 0), PartState::Gone);
}
