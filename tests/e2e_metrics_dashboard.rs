//! What an operator graphs: the live `/metrics` of a running joy4 (with a publisher, an HTTP-FLV
//! viewer and an HLS viewer, so labelled series exist), read by the Prometheus client library's
//! parser; its byte counters, which must only grow as viewers come and go; and
//! `docs/grafana-dashboard.json`, every query of which must name metrics that joy4 exports (and
//! take `rate()` only of counters).
mod support;

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use support::api::*;
use support::*;

const TOKEN: &str = "Authorization: Bearer d4shboard\r\n";

/// PromQL words that are not metric names: functions, aggregations and their modifiers.
const PROMQL_WORDS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "sum",
    "avg",
    "max",
    "min",
    "count",
    "topk",
    "by",
    "without",
    "on",
    "ignoring",
    "label_values",
    "histogram_quantile",
    "clamp_min",
    "delta",
    "deriv",
];

/// The metric names a PromQL expression reads: label matchers, ranges, `by (…)` lists, strings
/// and numbers taken out, what is left are function names and metric names.
fn metric_names(expr: &str) -> Vec<String> {
    let mut bare = String::new();
    let mut depth_braces = 0;
    let mut depth_brackets = 0;
    let mut in_string = false;
    for c in expr.chars() {
        match c {
            '"' if depth_braces > 0 || in_string => in_string = !in_string,
            _ if in_string => {}
            '{' => depth_braces += 1,
            '}' => depth_braces -= 1,
            '[' => depth_brackets += 1,
            ']' => depth_brackets -= 1,
            _ if depth_braces > 0 || depth_brackets > 0 => {}
            c => bare.push(c),
        }
    }
    // `by (a, b)` / `without (…)`: label names, not metrics.
    let mut words = Vec::new();
    let tokens: Vec<String> = bare
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .map(str::to_string)
        .collect();
    let mut skip_labels = false;
    let mut rest = bare.as_str();
    for token in tokens.iter().filter(|t| !t.is_empty()) {
        let at = rest.find(token.as_str()).unwrap();
        let after = &rest[at + token.len()..];
        rest = after;
        if skip_labels {
            if after.trim_start().starts_with(')') {
                skip_labels = false;
            }
            continue;
        }
        if token == "by" || token == "without" {
            skip_labels = true;
            continue;
        }
        if token.chars().next().unwrap().is_ascii_digit() {
            continue;
        }
        words.push(token.clone());
    }
    words
        .into_iter()
        .filter(|w| !PROMQL_WORDS.contains(&w.as_str()))
        .collect()
}

/// Every query of the dashboard (panel targets and template variables).
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut panels: Vec<&Value> = dashboard["panels"].as_array().unwrap().iter().collect();
    while let Some(panel) = panels.pop() {
        if let Some(inner) = panel["panels"].as_array() {
            panels.extend(inner);
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("?").to_string();
            out.push((title, target["expr"].as_str().unwrap().to_string()));
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if var["type"] == "query" {
            let query = var["query"]["query"].as_str().unwrap().to_string();
            out.push((format!("variable {}", var["name"]), query));
        }
    }
    out
}

#[test]
fn promql_names_are_read_apart_from_functions_labels_and_ranges() {
    assert_eq!(
        metric_names(
            r#"sum by (protocol, x) (rate(joy4_a_total{instance=~"$i",y="rate"}[$__rate_interval])) * 8"#
        ),
        vec!["joy4_a_total"]
    );
    assert_eq!(
        metric_names("joy4_channels / sum(joy4_channel_publisher{a=\"b\"})"),
        vec!["joy4_channels", "joy4_channel_publisher"]
    );
    assert_eq!(
        metric_names("label_values(joy4_uptime_seconds, instance)"),
        vec!["joy4_uptime_seconds", "instance"],
        "label_values' second argument is a label: checked apart"
    );
}

/// A sample's labels and value.
type Labelled = (HashMap<String, String>, f64);

/// The live samples by name, and the text they came from.
struct Scrape {
    samples: HashMap<String, Vec<Labelled>>,
    text: String,
}

impl Scrape {
    fn take(server: &Server) -> Scrape {
        let r = raw(server.api_addr, "GET", "/metrics", b"", TOKEN);
        assert_eq!(r.head.status, 200);
        let text = r.body_text();
        let (list, _) = prometheus_parse(&text);
        let mut samples: HashMap<String, Vec<_>> = HashMap::new();
        for (name, labels, value) in list {
            samples.entry(name).or_default().push((labels, value));
        }
        Scrape { samples, text }
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples.get(name)?.iter().find_map(|(l, v)| {
            let matches = labels
                .iter()
                .all(|(k, want)| l.get(*k).map(String::as_str) == Some(*want));
            matches.then_some(*v)
        })
    }
}

#[test]
fn the_dashboard_reads_only_metrics_a_live_joy4_exports_and_the_counters_only_grow() {
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .expect("read docs/grafana-dashboard.json"),
    )
    .expect("the dashboard is JSON");
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{} queries", queries.len());

    let cb = Callbacks::start(|_| "{}".into());
    let mut server = Server::start(&["-apitoken=d4shboard", &cb.flag()]);
    let _publisher = publish_loop(&mut server, &clip(), "live/dash");
    let mut flv_viewer = play_null(&server.flv_url("live/dash"), 30.0);
    cb.wait("streamConnected", secs(10.0), |_| true);
    let hls = wait_until(secs(20.0), || {
        HlsViewer::open(server.http_addr, "live/dash").ok()
    })
    .unwrap_or_else(|| panic!("no HLS session\n{}", server.describe()));
    let playlist = hls.media_playlist();
    let first = playlist
        .segments
        .first()
        .expect("a segment in the playlist");
    assert_eq!(hls.get_segment(first, "").head.status, 200);

    let dash = [("channel", "live/dash")];
    let flowing = wait_until(secs(15.0), || {
        let s = Scrape::take(&server);
        let ok = s.value(
            "joy4_channel_viewers",
            &[("channel", "live/dash"), ("protocol", "http-flv")],
        ) == Some(1.0)
            && s.value(
                "joy4_channel_viewers",
                &[("channel", "live/dash"), ("protocol", "hls")],
            ) == Some(1.0)
            && s.value("joy4_channel_sent_bytes_total", &dash)
                .is_some_and(|v| v > 100_000.0)
            && s.value("joy4_callbacks_sent_total", &[])
                .is_some_and(|v| v >= 1.0);
        ok.then_some(s)
    });
    let Some(before) = flowing else {
        panic!(
            "no viewers or no traffic in the metrics:\n{}\n{}",
            Scrape::take(&server).text,
            server.describe()
        );
    };

    // Every metric a query names is exported, with samples (labelled ones included).
    let mut missing = BTreeSet::new();
    let mut named = HashSet::new();
    for (title, expr) in &queries {
        let names = metric_names(expr);
        let names: Vec<_> = if expr.starts_with("label_values(") {
            names.into_iter().take(1).collect()
        } else {
            names
        };
        assert!(!names.is_empty(), "{title}: no metric in {expr}");
        for name in names {
            if !before.samples.contains_key(&name) {
                missing.insert(format!("{name} (panel {title})"));
            }
            named.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard reads metrics joy4 does not export: {missing:?}\n{}",
        before.text
    );
    // rate() and increase() only of counters, which alone are named _total.
    for (title, expr) in &queries {
        for part in expr
            .split("rate(")
            .skip(1)
            .chain(expr.split("increase(").skip(1))
        {
            let name = metric_names(part.split(')').next().unwrap());
            for n in name {
                assert!(
                    n.ends_with("_total"),
                    "{title}: rate of a gauge {n} in {expr}"
                );
                assert!(
                    before.text.contains(&format!("# TYPE {} counter", n)),
                    "{title}: {n} is not typed counter"
                );
            }
        }
    }
    for family in [
        "joy4_received_bytes_total",
        "joy4_sent_bytes_total",
        "joy4_channel_sent_bytes_total",
        "joy4_channel_viewers",
        "joy4_channel_dropped_packets_total",
        "joy4_callbacks_sent_total",
        "process_cpu_seconds_total",
    ] {
        assert!(
            named.contains(family),
            "the dashboard never graphs {family}"
        );
    }

    // Traffic by protocol reached the server-wide counters.
    let rtmp_in = before.value("joy4_received_bytes_total", &[("protocol", "rtmp")]);
    assert!(rtmp_in.is_some_and(|v| v > 100_000.0), "{}", before.text);
    for protocol in ["http-flv", "hls"] {
        let sent = before.value("joy4_sent_bytes_total", &[("protocol", protocol)]);
        assert!(sent.is_some_and(|v| v > 0.0), "{protocol}\n{}", before.text);
    }
    assert!(before.value("joy4_hls_requests_total", &[("kind", "segment")]) >= Some(1.0));
    assert!(before.value("joy4_accepted_connections_total", &[("protocol", "rtmp")]) >= Some(1.0));

    // A viewer leaving takes nothing from the counters (the old gauges fell here).
    flv_viewer.kill();
    let after = wait_until(secs(15.0), || {
        let s = Scrape::take(&server);
        (s.value(
            "joy4_channel_viewers",
            &[("channel", "live/dash"), ("protocol", "http-flv")],
        ) == Some(0.0))
        .then_some(s)
    })
    .unwrap_or_else(|| panic!("the HTTP-FLV viewer never left\n{}", server.describe()));
    for (name, labels) in [
        ("joy4_channel_sent_bytes_total", &dash[..]),
        ("joy4_channel_received_bytes_total", &dash[..]),
        ("joy4_sent_bytes_total", &[("protocol", "http-flv")][..]),
        ("joy4_received_bytes_total", &[("protocol", "rtmp")][..]),
    ] {
        let (was, is) = (before.value(name, labels), after.value(name, labels));
        assert!(is >= was, "{name}{labels:?} fell from {was:?} to {is:?}");
    }
    let closed: f64 = after.samples["joy4_closed_streams_total"]
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert!(
        closed >= 1.0,
        "the viewer's close was not counted\n{}",
        after.text
    );
}

/// An edge (`-origin`) counts what it pulls under `relay`, not `rtmp`; the origin counts the
/// pull as the RTMP player it is; the edge's channel counts what came in through the pull.
#[test]
fn relay_traffic_is_counted_under_relay() {
    let mut origin = Server::start(&["-apitoken=d4shboard"]);
    let edge = Server::start(&[
        "-apitoken=d4shboard",
        &format!("-origin=rtmp://{}", origin.rtmp_addr),
    ]);
    let _publisher = publish_loop(&mut origin, &clip(), "live/relayed");
    let _viewer = play_null(&edge.flv_url("live/relayed"), 30.0);
    let channel = [("channel", "live/relayed")];
    let counted = wait_until(secs(20.0), || {
        let s = Scrape::take(&edge);
        let pulled = s.value("joy4_received_bytes_total", &[("protocol", "relay")]);
        let into_channel = s.value("joy4_channel_received_bytes_total", &channel);
        (pulled.is_some_and(|v| v > 100_000.0) && into_channel.is_some_and(|v| v > 50_000.0))
            .then_some(s)
    });
    let Some(at_edge) = counted else {
        panic!(
            "the edge's pull is not counted:\n{}\n{}",
            Scrape::take(&edge).text,
            edge.describe()
        );
    };
    assert_eq!(
        at_edge.value("joy4_received_bytes_total", &[("protocol", "rtmp")]),
        Some(0.0),
        "nothing published to the edge over RTMP"
    );
    assert!(at_edge.value("joy4_sent_bytes_total", &[("protocol", "http-flv")]) > Some(0.0));
    let at_origin = Scrape::take(&origin);
    assert!(
        at_origin.value("joy4_sent_bytes_total", &[("protocol", "rtmp")]) > Some(100_000.0),
        "the origin sends the pull as an RTMP player\n{}",
        at_origin.text
    );
    assert_eq!(
        at_origin.value("joy4_received_bytes_total", &[("protocol", "relay")]),
        Some(0.0)
    );
}
