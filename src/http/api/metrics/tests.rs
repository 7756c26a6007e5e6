use std::sync::Arc;

use super::*;
use crate::http::api::Api;
use crate::http::callback::{CallbackStats, EventCounts};
use crate::hub::{Hub, HubSettings, NoEvents, StreamType};

struct FixedCallbacks;

impl CallbackCounters for FixedCallbacks {
    fn stats(&self) -> CallbackStats {
        let mut events = std::collections::BTreeMap::new();
        events.insert(
            "streamClose",
            EventCounts {
                sent: 7,
                failed: 2,
                dropped: 1,
            },
        );
        CallbackStats {
            sent: 7,
            failed: 2,
            dropped: 1,
            queued: 3,
            events,
        }
    }
}

fn api() -> Api {
    let hub = Hub::new(HubSettings::default(), Arc::new(NoEvents));
    Api::with_options(
        hub,
        super::super::ApiOptions {
            callback: Some(Arc::new(FixedCallbacks)),
            ..Default::default()
        },
    )
}

/// The value of the sample whose name and labels are exactly `series` (`name{a="b"}`).
fn value_of(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
    assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
    assert_eq!(escape_label("live/abc"), "live/abc");
}

#[test]
fn every_family_is_typed_once_and_every_sample_belongs_to_the_family_above_it() {
    let api = api();
    api.hub
        .create_channel("live/\"odd\"", crate::hub::BufferLimits::default())
        .unwrap();
    api.hub.new_stream(StreamType::Rtmp, "127.0.0.1:1".into());
    let text = render(&api.metric_sources());
    let mut typed = std::collections::HashSet::new();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(typed.insert(name.clone()), "{name} typed twice");
            current = name;
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().unwrap();
            assert_eq!(name, current, "{line}");
            let kind_is_counter = text.contains(&format!("# TYPE {name} counter"));
            assert_eq!(kind_is_counter, name.ends_with("_total"), "{name}");
        }
    }
    assert!(text.contains(r#"joy4_channel_buffer_bytes{channel="live/\"odd\""} "#));
    assert_eq!(
        value_of(&text, r#"joy4_connections{protocol="rtmp"}"#),
        Some(1.0)
    );
    assert_eq!(value_of(&text, "joy4_callbacks_sent_total"), Some(7.0));
    assert_eq!(value_of(&text, "joy4_callbacks_queued"), Some(3.0));
    assert_eq!(
        value_of(&text, r#"joy4_channel_publisher{channel="live/\"odd\""}"#),
        Some(0.0)
    );
    assert!(value_of(&text, "process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    assert!(value_of(&text, "process_open_fds").is_some_and(|v| v > 0.0));
    assert!(value_of(&text, "process_max_fds").is_some_and(|v| v > 0.0));
}

#[test]
fn server_counters_are_rendered_by_protocol_reason_and_kind() {
    let api = api();
    let counters = &api.hub.counters;
    counters.traffic.add_sent(crate::hub::Protocol::Hls, 1234);
    counters
        .traffic
        .add_received(crate::hub::Protocol::Relay, 99);
    counters.accepted(crate::hub::Listener::Http);
    counters.hls_request(crate::hub::HlsRequestKind::Segment);
    let stream = api
        .hub
        .new_stream(StreamType::HttpFlv, "127.0.0.1:2".into());
    stream.add_dropped(3);
    api.hub
        .finish_stream(&stream, crate::hub::CloseReason::Timeout);
    let text = render(&api.metric_sources());
    for (series, want) in [
        (r#"joy4_sent_bytes_total{protocol="hls"}"#, 1234.0),
        (r#"joy4_sent_bytes_total{protocol="rtmp"}"#, 0.0),
        (r#"joy4_received_bytes_total{protocol="relay"}"#, 99.0),
        (r#"joy4_accepted_connections_total{protocol="http"}"#, 1.0),
        (r#"joy4_hls_requests_total{kind="segment"}"#, 1.0),
        (r#"joy4_hls_requests_total{kind="entry"}"#, 0.0),
        (r#"joy4_closed_streams_total{reason="timeout"}"#, 1.0),
        (r#"joy4_closed_streams_total{reason="error"}"#, 0.0),
        ("joy4_dropped_packets_total", 3.0),
    ] {
        assert_eq!(value_of(&text, series), Some(want), "{series}\n{text}");
    }
    let stat = stat_json(&api.metric_sources());
    assert_eq!(stat["sentBytes"]["hls"], 1234);
    assert_eq!(stat["droppedPackets"], 3);
}

#[test]
fn requests_are_counted_by_status_class() {
    let api = api();
    for status in [200, 200, 404, 503, 99, 600] {
        api.requests.record(status);
    }
    let text = render(&api.metric_sources());
    assert_eq!(
        value_of(&text, r#"joy4_api_requests_total{code="2xx"}"#),
        Some(2.0)
    );
    assert_eq!(
        value_of(&text, r#"joy4_api_requests_total{code="4xx"}"#),
        Some(1.0)
    );
    assert_eq!(
        value_of(&text, r#"joy4_api_requests_total{code="5xx"}"#),
        Some(1.0)
    );
    let stat = stat_json(&api.metric_sources());
    assert_eq!(stat["apiRequests"]["2xx"], 2);
    assert_eq!(stat["callbacks"]["failed"], 2);
    assert_eq!(stat["panics"], 0);
}
