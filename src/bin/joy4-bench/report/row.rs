//! One run read back from its JSON report, as a row of the side-by-side summary.

/// One row of the side-by-side table, read from a run's JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: String,
    pub protocol: String,
    pub subscribers: u64,
    /// How the non-probe subscribers read: `player` (woken for every write, like ffplay or VLC)
    /// or `lowat NK` (SO_RCVLOWAT of N KiB).
    pub readers: String,
    pub cpu_us: Option<f64>,
    pub rss_kib: Option<f64>,
    pub share_min: Option<f64>,
    pub share_median: Option<f64>,
    pub lat_p50: Option<f64>,
    pub lat_p99: Option<f64>,
    /// Time from a subscriber's connect to its first keyframe: median and maximum over subscribers.
    pub first_key_p50: Option<f64>,
    pub first_key_max: Option<f64>,
    pub failures: u64,
    pub bench_cpu_us: Option<f64>,
}

impl Row {
    pub fn from_json(v: &serde_json::Value) -> Row {
        let f = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_f64());
        let u = |ptr: &str| v.pointer(ptr).and_then(|x| x.as_u64()).unwrap_or(0);
        Row {
            label: v
                .pointer("/label")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            protocol: v
                .pointer("/config/protocol")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .to_string(),
            subscribers: u("/config/subscribers"),
            readers: readers_name(u("/config/rcvlowat")),
            cpu_us: f("/server/cpu_us_per_subscriber_second"),
            rss_kib: f("/server/rss_growth_per_subscriber_kib"),
            share_min: f("/per_subscriber/share/min"),
            share_median: f("/per_subscriber/share/median"),
            lat_p50: f("/latency_ms/p50"),
            lat_p99: f("/latency_ms/p99"),
            first_key_p50: f("/time_to_first_keyframe_ms/median"),
            first_key_max: f("/time_to_first_keyframe_ms/max"),
            failures: u("/subscribers/failed") + u("/subscribers/disconnected"),
            bench_cpu_us: f("/bench/cpu_us_per_subscriber_second"),
        }
    }
}

/// The readers column for a run's SO_RCVLOWAT setting.
pub fn readers_name(rcvlowat: u64) -> String {
    match rcvlowat {
        0 => "player".to_string(),
        n if n % 1024 == 0 => format!("lowat {}K", n / 1024),
        n => format!("lowat {n}"),
    }
}

/// The baseline row a row is compared with: the row whose label contains `baseline`, whose
/// protocol is RTMP (so that an HTTP-FLV row is compared with the baseline's RTMP figures too), and
/// whose subscriber count and readers are the row's.
pub fn baseline_row<'a>(row: &Row, rows: &'a [Row], baseline: &str) -> Option<&'a Row> {
    rows.iter().find(|b| {
        b.label.contains(baseline)
            && b.protocol == "rtmp"
            && b.subscribers == row.subscribers
            && b.readers == row.readers
    })
}

/// CPU ratio of a row to its baseline row (see `baseline_row`).
pub fn cpu_ratio(row: &Row, rows: &[Row], baseline: &str) -> Option<f64> {
    match (row.cpu_us, baseline_row(row, rows, baseline)?.cpu_us) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}
