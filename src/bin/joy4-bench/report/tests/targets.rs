//! Each target rule, met at its bound and not met just past it.

use super::super::targets::LatencyRule;
use super::row;
use crate::report::{check_targets, Row, Targets};

const WINDOW: Targets = Targets { window_ms: 100.0 };

/// A joy4 RTMP row and nginx-rtmp's RTMP row at `n` with these readers: joy4 at `ratio` x the
/// baseline's CPU, meeting every other target (p99 120 ms; the baseline's is 140 ms).
fn pair(n: u64, readers: &str, ratio: f64) -> Vec<Row> {
    let mut joy4 = row("joy4", "rtmp", n, 100.0 * ratio);
    let mut base = row("nginx-rtmp", "rtmp", n, 100.0);
    joy4.readers = readers.into();
    base.readers = readers.into();
    joy4.lat_p99 = Some(120.0);
    vec![joy4, base]
}

fn check(rows: &[Row]) -> (String, usize) {
    check_targets(rows, "joy4", "nginx", &WINDOW)
}

#[test]
fn cpu_bounds_step_with_the_audience_and_the_readers() {
    assert_eq!(WINDOW.max_cpu_ratio(5, "player"), None);
    assert_eq!(WINDOW.max_cpu_ratio(199, "lowat 16K"), None);
    assert_eq!(WINDOW.max_cpu_ratio(200, "player"), Some(0.5));
    assert_eq!(WINDOW.max_cpu_ratio(999, "lowat 16K"), Some(0.5));
    assert_eq!(WINDOW.max_cpu_ratio(1000, "player"), Some(0.35));
    assert_eq!(WINDOW.max_cpu_ratio(2000, "player"), Some(0.35));
    assert_eq!(WINDOW.max_cpu_ratio(1000, "lowat 16K"), Some(0.45));
    assert_eq!(WINDOW.max_cpu_ratio(1000, "lowat 8000"), Some(0.45));
}

#[test]
fn latency_rules_step_with_the_audience() {
    assert_eq!(WINDOW.latency_rule(5), LatencyRule::BaselinePlus(20.0));
    assert_eq!(WINDOW.latency_rule(20), LatencyRule::BaselinePlus(20.0));
    assert_eq!(WINDOW.latency_rule(21), LatencyRule::Free);
    assert_eq!(WINDOW.latency_rule(199), LatencyRule::Free);
    assert_eq!(WINDOW.latency_rule(200), LatencyRule::AtMost(130.0));
    let wide = Targets { window_ms: 250.0 };
    assert_eq!(wide.latency_rule(1000), LatencyRule::AtMost(280.0));
}

#[test]
fn a_row_meeting_every_target_misses_none() {
    for (n, readers, ratio) in [
        (5, "player", 3.0),
        (50, "lowat 16K", 3.0),
        (200, "player", 0.5),
        (1000, "player", 0.35),
        (1000, "lowat 16K", 0.45),
    ] {
        let (text, missed) = check(&pair(n, readers, ratio));
        assert_eq!(missed, 0, "N={n} {readers}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("NOT MET"), "{text}");
    }
}

#[test]
fn cpu_over_its_bound_is_not_met() {
    for (n, readers, ratio, bound) in [
        (200, "player", 0.51, "0.50x"),
        (1000, "player", 0.36, "0.35x"),
        (1000, "lowat 16K", 0.46, "0.45x"),
    ] {
        let (text, missed) = check(&pair(n, readers, ratio));
        assert_eq!(missed, 1, "N={n} {readers}: {text}");
        assert!(
            text.contains(&format!("CPU {ratio:.2}x <= {bound}: NOT MET")),
            "{text}"
        );
    }
    // A lowat bound is not a player bound.
    let (text, _) = check(&pair(1000, "lowat 16K", 0.40));
    assert!(text.contains("CPU 0.40x <= 0.45x: met"), "{text}");
}

#[test]
fn below_two_hundred_cpu_is_shown_but_has_no_target() {
    for n in [5, 20, 50, 199] {
        let (text, missed) = check(&pair(n, "player", 4.0));
        assert_eq!(missed, 0, "{text}");
        assert!(
            text.contains("(CPU 4.00x: no target below N = 200)"),
            "{text}"
        );
    }
}

#[test]
fn cpu_without_the_baselines_rtmp_run_is_not_met() {
    let mut rows = pair(1000, "player", 0.3);
    rows[1].protocol = "http-flv".into();
    let (text, missed) = check(&rows);
    assert!(text.contains("CPU - <= 0.35x: NOT MET"), "{text}");
    assert_eq!(missed, 1, "{text}");
}

#[test]
fn small_audiences_latency_is_held_to_the_baselines_plus_20_ms() {
    for n in [5, 20] {
        let mut rows = pair(n, "player", 1.0);
        rows[1].lat_p99 = Some(40.0);
        rows[0].lat_p99 = Some(60.0);
        let (text, missed) = check(&rows);
        assert!(
            text.contains("latency p99 60.0 ms <= 60.0 ms (nginx's 40.0 ms + 20 ms): met"),
            "{text}"
        );
        assert_eq!(missed, 0, "{text}");
        rows[0].lat_p99 = Some(60.1);
        let (text, missed) = check(&rows);
        assert!(text.contains("latency p99 60.1 ms <= 60.0 ms"), "{text}");
        assert!(text.contains("NOT MET"), "{text}");
        assert_eq!(missed, 1, "{text}");
    }
    // Without the baseline's p99 the target is not met.
    let mut rows = pair(5, "player", 1.0);
    rows[1].lat_p99 = None;
    let (text, missed) = check(&rows);
    assert!(text.contains("<= - (nginx's - + 20 ms): NOT MET"), "{text}");
    assert_eq!(missed, 1);
}

#[test]
fn large_audiences_latency_is_held_to_the_window_plus_30_ms() {
    for n in [200, 1000] {
        let mut rows = pair(n, "player", 0.3);
        rows[0].lat_p99 = Some(130.0);
        // The baseline's latency does not matter here.
        rows[1].lat_p99 = Some(10.0);
        let (text, missed) = check(&rows);
        assert!(
            text.contains("latency p99 130.0 ms <= 130 ms: met"),
            "{text}"
        );
        assert_eq!(missed, 0, "{text}");
        rows[0].lat_p99 = Some(130.1);
        let (text, missed) = check(&rows);
        assert!(
            text.contains("latency p99 130.1 ms <= 130 ms: NOT MET"),
            "{text}"
        );
        assert_eq!(missed, 1, "{text}");
    }
}

#[test]
fn between_20_and_200_latency_is_shown_but_has_no_target() {
    for n in [21, 50, 199] {
        let mut rows = pair(n, "player", 1.0);
        rows[0].lat_p99 = Some(900.0);
        let (text, missed) = check(&rows);
        assert_eq!(missed, 0, "{text}");
        assert!(
            text.contains("(latency p99 900.0 ms: no target for 20 < N < 200)"),
            "{text}"
        );
    }
}

#[test]
fn rss_over_16_kib_per_subscriber_or_unknown_is_not_met_from_1000() {
    let mut rows = pair(1000, "player", 0.3);
    rows[0].rss_kib = Some(16.0);
    let (text, missed) = check(&rows);
    assert!(text.contains("RSS 16.0 KiB <= 16 KiB: met"), "{text}");
    assert_eq!(missed, 0);
    rows[0].rss_kib = Some(16.1);
    let (text, missed) = check(&rows);
    assert!(text.contains("RSS 16.1 KiB <= 16 KiB: NOT MET"), "{text}");
    assert_eq!(missed, 1);
    rows[0].rss_kib = None;
    assert_eq!(check(&rows).1, 1);
    let mut few = pair(999, "player", 0.3);
    few[0].rss_kib = Some(40.0);
    let (text, missed) = check(&few);
    assert_eq!(missed, 0, "{text}");
    assert!(
        text.contains("(RSS 40.0 KiB: no target below N = 1000)"),
        "{text}"
    );
}

#[test]
fn a_short_share_or_a_failed_subscriber_is_not_met() {
    let mut rows = pair(200, "player", 0.4);
    rows[0].share_min = Some(0.95);
    let (text, missed) = check(&rows);
    assert!(text.contains("share min 95.0% >= 95%: met"), "{text}");
    assert_eq!(missed, 0);
    rows[0].share_min = Some(0.949);
    let (text, missed) = check(&rows);
    assert!(text.contains("share min 94.9% >= 95%: NOT MET"), "{text}");
    assert_eq!(missed, 1);
    rows[0].share_min = None;
    rows[0].failures = 2;
    let (text, missed) = check(&rows);
    assert!(
        text.contains("failed/disconnected 2 = 0: NOT MET"),
        "{text}"
    );
    assert_eq!(missed, 2);
}

#[test]
fn only_candidate_rows_are_checked_and_their_misses_summed() {
    let mut rows = pair(1000, "player", 0.4);
    rows.push(row("joy4", "http-flv", 1000, 50.0));
    rows[0].rss_kib = Some(20.0);
    let (text, missed) = check(&rows);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text
        .lines()
        .next()
        .unwrap()
        .starts_with("- joy4 rtmp N=1000 readers=player: "));
    // joy4 RTMP: CPU 0.40x and RSS; joy4 HTTP-FLV (0.50x, p99 140 ms): CPU and latency.
    assert_eq!(missed, 4, "{text}");
}

#[test]
fn a_scale_run_without_a_baseline_run_is_held_to_share_failures_and_memory() {
    let mut scale = row("joy4", "rtmp", 5000, 40.0);
    scale.lat_p99 = Some(900.0);
    let (text, missed) = check(std::slice::from_ref(&scale));
    assert!(text.contains("scale run"), "{text}");
    assert!(!text.contains("CPU -"), "{text}");
    assert!(!text.contains("latency p99 900.0 ms <="), "{text}");
    assert_eq!(missed, 0);
    scale.share_min = Some(0.9);
    assert_eq!(check(&[scale]).1, 1);
}

#[test]
fn the_description_says_every_bound() {
    let text = WINDOW.describe("nginx-rtmp");
    for part in [
        "RSS <= 16 KiB per subscriber",
        "share min >= 95 %, none failed",
        "CPU <= 0.35x nginx-rtmp (player readers) or 0.45x (lowat readers) for N >= 1000",
        "<= 0.5x for N >= 200, none below",
        "latency p99 <= nginx-rtmp's p99 + 20 ms for N <= 20",
        "<= 100 ms merge window + 30 ms for N >= 200, none between",
    ] {
        assert!(text.contains(part), "{part:?} not in {text}");
    }
}

/// joy4 and the baseline over `channels` channels of two viewers each: joy4 at `cpu` and `kib`
/// per channel, the baseline at 1000 µs and 100 KiB.
fn channels_pair(channels: u64, cpu: f64, kib: f64) -> Vec<Row> {
    let shaped = |label: &str, cpu: f64, kib: f64| {
        let mut r = row(label, "rtmp", channels * 2, 100.0);
        r.channels = channels;
        r.cpu_us_per_channel = Some(cpu);
        r.rss_kib_per_channel = Some(kib);
        r
    };
    vec![
        shaped("joy4", cpu, kib),
        shaped("nginx-rtmp", 1000.0, 100.0),
    ]
}

#[test]
fn a_channels_run_is_held_to_cpu_and_memory_per_channel() {
    let (text, missed) = check(&channels_pair(200, 600.0, 100.0));
    assert_eq!(missed, 0, "{text}");
    assert!(text.contains("channels=200"), "{text}");
    let (text, missed) = check(&channels_pair(200, 601.0, 100.0));
    assert_eq!(missed, 1, "CPU just past 0.6x: {text}");
    let (text, missed) = check(&channels_pair(200, 600.0, 101.0));
    assert_eq!(missed, 1, "memory just past the baseline's: {text}");
    // A single-channel baseline row of the same N is not its baseline.
    let mut rows = channels_pair(200, 600.0, 100.0);
    rows.truncate(1);
    rows.push(row("nginx-rtmp", "rtmp", 400, 100.0));
    let (_, missed) = check(&rows);
    assert_eq!(missed, 2, "no baseline: both figures count as not met");
}

#[test]
fn a_storm_is_held_to_serving_everyone_and_an_api_answering_within_50_ms() {
    let storm = |label: &str, poll_max: Option<f64>| {
        let mut r = row(label, "rtmp", 10_000, 100.0);
        r.ramp = 2000.0;
        r.poll_max = poll_max;
        r
    };
    let rows = vec![storm("joy4", Some(49.0)), storm("nginx-rtmp", None)];
    let (text, missed) = check(&rows);
    assert_eq!(missed, 0, "{text}");
    assert!(
        text.contains("storm=2000/s") && text.contains("1st key p50/p99 30/60 ms"),
        "{text}"
    );
    let rows = vec![storm("joy4", Some(50.0)), storm("nginx-rtmp", None)];
    let (text, missed) = check(&rows);
    assert_eq!(missed, 1, "API at 50 ms: {text}");
    let mut failed = storm("joy4", Some(10.0));
    failed.failures = 1;
    let (_, missed) = check(&[failed, storm("nginx-rtmp", None)]);
    assert_eq!(missed, 1);
}
