use super::row::{cpu_ratio, readers_name};
use super::spread::{nearest_rank, percentile};
use super::*;

mod targets;

#[test]
fn percentile_of_no_values_is_none() {
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(percentile(&[], 0.0), None);
    assert!(Spread::of(vec![]).is_none());
}

#[test]
fn percentile_of_one_value_is_that_value_for_every_p() {
    for p in [0.0, 1.0, 50.0, 99.0, 100.0] {
        assert_eq!(percentile(&[7.5], p), Some(7.5));
    }
}

#[test]
fn p99_of_a_hundred_values_is_the_ninety_ninth() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 99.0), Some(99.0));
    assert_eq!(percentile(&v, 50.0), Some(50.0));
    assert_eq!(percentile(&v, 95.0), Some(95.0));
    assert_eq!(percentile(&v, 100.0), Some(100.0));
    assert_eq!(percentile(&v, 0.0), Some(1.0));
    // Just above a rank boundary moves to the next value.
    assert_eq!(percentile(&v, 99.5), Some(100.0));
}

#[test]
fn nearest_rank_rounds_up() {
    // 10 values: p50 -> rank 5, p51 -> rank 6, p95 -> rank 10 (9.5 rounds up).
    assert_eq!(nearest_rank(10, 50.0), Some(5));
    assert_eq!(nearest_rank(10, 51.0), Some(6));
    assert_eq!(nearest_rank(10, 95.0), Some(10));
    assert_eq!(nearest_rank(3, 50.0), Some(2));
    assert_eq!(nearest_rank(2, 50.0), Some(1));
    assert_eq!(nearest_rank(0, 50.0), None);
    // Out-of-range p is clamped.
    assert_eq!(nearest_rank(4, 150.0), Some(4));
    assert_eq!(nearest_rank(4, -3.0), Some(1));
    assert_eq!(nearest_rank(4, f64::NAN), Some(1));
}

#[test]
fn spread_sorts_its_input() {
    let s = Spread::of(vec![5.0, 1.0, 3.0, 2.0, 4.0]).unwrap();
    assert_eq!((s.count, s.min, s.median, s.max), (5, 1.0, 3.0, 5.0));
    assert_eq!(s.p99, 5.0);
}

#[test]
fn histogram_percentiles_agree_with_nearest_rank_within_a_bucket() {
    let mut h = Histogram::new();
    assert_eq!(h.percentile_us(50.0), None);
    assert_eq!(h.max_us(), None);
    // 1 ms .. 100 ms in 1 ms steps.
    for ms in 1..=100u64 {
        h.record(ms * 1000);
    }
    assert_eq!(h.count(), 100);
    // Bucket upper edges: value 99 ms sits in bucket [99.0, 99.1) ms -> 99.1 ms.
    assert_eq!(h.percentile_us(99.0), Some(99_100));
    assert_eq!(h.percentile_us(50.0), Some(50_100));
    // Never above the exact maximum.
    assert_eq!(h.percentile_us(100.0), Some(100_000));
    assert_eq!(h.max_us(), Some(100_000));
    assert_eq!(h.mean_us(), Some(50_500.0));
}

#[test]
fn histogram_overflow_answers_the_maximum() {
    let mut h = Histogram::new();
    h.record(500);
    h.record(20_000_000);
    h.record(30_000_000);
    // Rank 1 of 3: the first bucket's upper edge.
    assert_eq!(h.percentile_us(33.0), Some(600));
    // Rank 2 is in the overflow bucket, where only the maximum is known.
    assert_eq!(h.percentile_us(50.0), Some(30_000_000));
    assert_eq!(h.max_us(), Some(30_000_000));
}

#[test]
fn histograms_merge_and_clear() {
    let mut a = Histogram::new();
    let mut b = Histogram::new();
    a.record(1_000);
    b.record(3_000);
    b.record(2_000);
    a.merge(&b);
    assert_eq!(a.count(), 3);
    assert_eq!(a.percentile_us(50.0), Some(2_100));
    assert_eq!(a.max_us(), Some(3_000));
    a.clear();
    assert_eq!(a.count(), 0);
    assert_eq!(a.percentile_us(50.0), None);
    a.record(100);
    assert_eq!(a.percentile_us(50.0), Some(100));
}

#[test]
fn rates_divide_by_the_interval_and_refuse_an_empty_one() {
    assert_eq!(rate_per_second(100.0, 4.0), Some(25.0));
    assert_eq!(rate_per_second(100.0, 0.0), None);
    assert_eq!(kbit_per_second(125_000, 1.0), Some(1000.0));
    assert_eq!(kbit_per_second(2_500_000, 20.0), Some(1000.0));
    assert_eq!(kbit_per_second(1, -1.0), None);
}

#[test]
fn cpu_per_subscriber_second() {
    // 5 CPU seconds over 1000 subscribers x 20 s = 250 µs per subscriber-second.
    assert_eq!(
        cpu_us_per_subscriber_second(5.0, 1000.0 * 20.0),
        Some(250.0)
    );
    assert_eq!(cpu_us_per_subscriber_second(0.0, 10.0), Some(0.0));
    assert_eq!(cpu_us_per_subscriber_second(1.0, 0.0), None);
    assert_eq!(ticks_to_seconds(250, 100), 2.5);
    assert_eq!(ticks_to_seconds(250, 0), 0.0);
}

#[test]
fn subscriber_seconds_are_clipped_to_the_window() {
    assert_eq!(overlap(0.0, 100.0, 10.0, 30.0), 20.0);
    assert_eq!(overlap(15.0, 100.0, 10.0, 30.0), 15.0);
    assert_eq!(overlap(0.0, 12.5, 10.0, 30.0), 2.5);
    assert_eq!(overlap(0.0, 5.0, 10.0, 30.0), 0.0);
    assert_eq!(overlap(40.0, 50.0, 10.0, 30.0), 0.0);
}

#[test]
fn rss_growth_is_per_subscriber_and_may_be_negative() {
    assert_eq!(
        rss_growth_per_subscriber_kib(10_000, 30_000, 1000),
        Some(20.0)
    );
    assert_eq!(
        rss_growth_per_subscriber_kib(10_000, 9_000, 100),
        Some(-10.0)
    );
    assert_eq!(rss_growth_per_subscriber_kib(1, 2, 0), None);
}

#[test]
fn bitrate_share_is_received_over_published() {
    assert_eq!(bitrate_share(950, 1000), Some(0.95));
    assert_eq!(bitrate_share(0, 1000), Some(0.0));
    assert_eq!(bitrate_share(10, 0), None);
    // Latency at the window edges can make it slightly above one.
    assert_eq!(bitrate_share(1010, 1000), Some(1.01));
}

fn row(label: &str, protocol: &str, n: u64, cpu: f64) -> Row {
    Row {
        label: label.into(),
        protocol: protocol.into(),
        subscribers: n,
        readers: "player".into(),
        cpu_us: Some(cpu),
        rss_kib: Some(12.0),
        share_min: Some(0.99),
        share_median: Some(1.0),
        lat_p50: Some(100.0),
        lat_p99: Some(140.0),
        first_key_p50: Some(30.0),
        first_key_max: Some(95.0),
        failures: 0,
        bench_cpu_us: Some(20.0),
        channels: 1,
        ramp: 200.0,
        cpu_us_per_channel: None,
        rss_kib_per_channel: None,
        first_key_p99: Some(60.0),
        poll_p99: None,
        poll_max: None,
        poll_failures: 0,
    }
}

#[test]
fn cpu_ratio_compares_with_the_baselines_rtmp_row_of_the_same_n() {
    let rows = vec![
        row("joy4", "rtmp", 1000, 100.0),
        row("joy4", "http-flv", 1000, 80.0),
        row("nginx-rtmp", "rtmp", 1000, 200.0),
        row("nginx-rtmp", "rtmp", 200, 400.0),
    ];
    assert_eq!(cpu_ratio(&rows[0], &rows, "nginx"), Some(0.5));
    assert_eq!(cpu_ratio(&rows[1], &rows, "nginx"), Some(0.4));
    assert_eq!(cpu_ratio(&rows[2], &rows, "nginx"), Some(1.0));
    assert_eq!(cpu_ratio(&rows[0], &rows, "srs"), None);
    let table = summary_table(&rows, Some("nginx"));
    assert!(table.contains("0.50x"), "{table}");
    assert_eq!(table.lines().count(), 2 + rows.len());
    // Runs with other readers are not compared with each other.
    let mut lowat = rows[2].clone();
    lowat.readers = "lowat 16K".into();
    assert_eq!(
        cpu_ratio(&rows[0], &[rows[0].clone(), lowat], "nginx"),
        None
    );
}

#[test]
fn summary_shows_first_keyframe_median_and_max_for_every_row() {
    let mut slow = row("nginx-rtmp", "rtmp", 200, 300.0);
    slow.first_key_p50 = Some(1500.4);
    slow.first_key_max = Some(2012.6);
    let mut unknown = row("joy4", "http-flv", 200, 90.0);
    unknown.first_key_max = None;
    let rows = vec![row("joy4", "rtmp", 200, 100.0), unknown, slow];
    let table = summary_table(&rows, Some("nginx"));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("| 1st key p50/max ms |"), "{table}");
    assert!(lines[2].contains(" 30/95 |"), "{table}");
    assert!(lines[3].contains(" 30/- |"), "{table}");
    assert!(lines[4].contains(" 1500/2013 |"), "{table}");
}

#[test]
fn storms_are_marked_and_channel_runs_get_a_table_per_channel() {
    let mut storm = row("joy4", "rtmp", 10_000, 50.0);
    storm.ramp = 2000.0;
    let mut channels = row("joy4", "rtmp", 400, 600.0);
    channels.channels = 200;
    channels.cpu_us_per_channel = Some(1200.0);
    channels.rss_kib_per_channel = Some(350.0);
    let mut base = row("nginx-rtmp", "rtmp", 400, 500.0);
    base.channels = 200;
    base.cpu_us_per_channel = Some(1000.0);
    base.rss_kib_per_channel = Some(100.0);
    let table = summary_table(
        &[row("joy4", "rtmp", 10_000, 50.0), storm, channels, base],
        Some("nginx"),
    );
    assert!(table.contains("| 10000 storm 2000/s |"), "{table}");
    assert!(
        !table.lines().next().unwrap().contains("channels"),
        "{table}"
    );
    let per_channel = table.split("\n\n").nth(1).expect("a second table");
    assert!(per_channel.contains("CPU µs/channel·s"), "{table}");
    let joy4 = per_channel
        .lines()
        .find(|l| l.starts_with("| joy4"))
        .unwrap();
    assert!(
        joy4.contains(" 1.20x |") && joy4.contains(" 3.50x |"),
        "{table}"
    );
}

#[test]
fn readers_are_named_by_their_rcvlowat() {
    assert_eq!(readers_name(0), "player");
    assert_eq!(readers_name(16384), "lowat 16K");
    assert_eq!(readers_name(1000), "lowat 1000");
}

#[test]
fn rows_read_back_from_report_json() {
    let v = serde_json::json!({
        "label": "joy4",
        "config": {"protocol": "rtmp", "subscribers": 200},
        "server": {"cpu_us_per_subscriber_second": 95.5, "rss_growth_per_subscriber_kib": 3.25},
        "per_subscriber": {"share": {"min": 0.97, "median": 0.99}},
        "latency_ms": {"p50": 101.0, "p99": 130.0},
        "time_to_first_keyframe_ms": {"min": 4.0, "median": 12.5, "max": 840.2},
        "subscribers": {"failed": 1, "disconnected": 2},
        "bench": {"cpu_us_per_subscriber_second": 12.0},
    });
    let r = Row::from_json(&v);
    assert_eq!(r.label, "joy4");
    assert_eq!(r.subscribers, 200);
    assert_eq!(r.cpu_us, Some(95.5));
    assert_eq!(r.failures, 3);
    assert_eq!(r.lat_p99, Some(130.0));
    assert_eq!(
        (r.first_key_p50, r.first_key_max),
        (Some(12.5), Some(840.2))
    );
    let empty = Row::from_json(&serde_json::json!({}));
    assert_eq!(empty.cpu_us, None);
    assert_eq!(empty.first_key_max, None);
    assert_eq!(empty.label, "?");
}
