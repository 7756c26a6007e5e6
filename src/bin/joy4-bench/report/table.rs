//! The table of one run for people, rendered from its JSON report.

/// The table for people, from the JSON (so it shows exactly what the file holds).
pub fn table(j: &serde_json::Value) -> String {
    let f = |p: &str| j.pointer(p).and_then(|v| v.as_f64());
    let u = |p: &str| j.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
    let s = |p: &str| {
        j.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let num = |x: Option<f64>, d: usize| match x {
        Some(x) => format!("{x:.d$}"),
        None => "-".into(),
    };
    let row = |name: &str, p: &str, scale: f64, d: usize| {
        let g = |k: &str| f(&format!("{p}/{k}")).map(|x| x * scale);
        format!(
            "  {name:<30} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
            num(g("min"), d),
            num(g("median"), d),
            num(g("p95"), d),
            num(g("p99"), d),
            num(g("max"), d)
        )
    };
    let mut out = String::new();
    out.push_str(&format!(
        "joy4-bench {} — {} {} subscribers of {} (published to {})\n",
        s("/label"),
        u("/config/subscribers"),
        s("/config/protocol"),
        s("/config/play_url"),
        s("/config/publish_url"),
    ));
    out.push_str(&format!(
        "  window {} s after the ramp; stream {} kbit/s published; subscribers {} connected, {} failed, {} disconnected\n",
        num(f("/window/seconds"), 1),
        num(f("/stream/published_kbps"), 0),
        u("/subscribers/connected"),
        u("/subscribers/failed"),
        u("/subscribers/disconnected"),
    ));
    if let Some(reasons) = j
        .pointer("/subscribers/reasons")
        .and_then(|v| v.as_object())
    {
        for (reason, n) in reasons {
            out.push_str(&format!("    {n} × {reason}\n"));
        }
    }
    if let Some(e) = j
        .pointer("/stream/publisher_error")
        .and_then(|v| v.as_str())
    {
        out.push_str(&format!("  publisher: {e}\n"));
    }
    out.push_str(&format!(
        "  {:<30} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "", "min", "median", "p95", "p99", "max"
    ));
    out.push_str(&row(
        "kB per subscriber (window)",
        "/per_subscriber/bytes",
        1e-3,
        0,
    ));
    out.push_str(&row(
        "frames per subscriber (window)",
        "/per_subscriber/frames",
        1.0,
        0,
    ));
    out.push_str(&row(
        "share of stream bitrate %",
        "/per_subscriber/share",
        100.0,
        1,
    ));
    out.push_str(&row("setup ms", "/setup_ms", 1.0, 1));
    out.push_str(&row(
        "time to first byte ms",
        "/time_to_first_byte_ms",
        1.0,
        1,
    ));
    out.push_str(&row(
        "time to first keyframe ms",
        "/time_to_first_keyframe_ms",
        1.0,
        1,
    ));
    out.push_str(&format!(
        "  {:<30} {:>10} {:>10} {:>10} {:>10} {:>10}   ({} probes, {} samples)\n",
        "server-added latency ms",
        "",
        num(f("/latency_ms/p50"), 1),
        num(f("/latency_ms/p95"), 1),
        num(f("/latency_ms/p99"), 1),
        num(f("/latency_ms/max"), 1),
        u("/latency_ms/probes"),
        u("/latency_ms/samples"),
    ));
    if u("/latency_ms/unmatched_messages") > 0 {
        out.push_str(&format!(
            "  note: {} received messages had no matching send time (timestamps rewritten by the server?)\n",
            u("/latency_ms/unmatched_messages")
        ));
    }
    if j.pointer("/server/cpu_seconds").is_some() {
        out.push_str(&format!(
            "  server pid {}: CPU {} s ({} % of a core) = {} µs per subscriber-second\n",
            u("/server/pid"),
            num(f("/server/cpu_seconds"), 2),
            num(f("/server/cpu_percent"), 1),
            num(f("/server/cpu_us_per_subscriber_second"), 1),
        ));
        out.push_str(&format!(
            "  server RSS: {} MiB before, {} MiB after the ramp, peak {} MiB = {} KiB per subscriber; {} threads max\n",
            num(f("/server/rss_before_kib").map(|k| k / 1024.0), 1),
            num(f("/server/rss_after_ramp_kib").map(|k| k / 1024.0), 1),
            num(f("/server/peak_rss_kib").map(|k| k / 1024.0), 1),
            num(f("/server/rss_growth_per_subscriber_kib"), 1),
            u("/server/max_threads"),
        ));
        if u("/config/channels") > 1 {
            out.push_str(&format!(
                "  {} channels: {} µs of server CPU per channel-second; {} KiB per channel (RSS {} MiB before the publishers)\n",
                u("/config/channels"),
                num(f("/server/cpu_us_per_channel_second"), 1),
                num(f("/server/rss_growth_per_channel_kib"), 1),
                num(f("/server/rss_before_publishers_kib").map(|k| k / 1024.0), 1),
            ));
        }
    }
    if j.pointer("/poll_ms/url").is_some() {
        out.push_str(&format!(
            "  {} answered in {} ms median, {} ms p99, {} ms max ({} answers, {} failed)\n",
            s("/poll_ms/url"),
            num(f("/poll_ms/p50"), 1),
            num(f("/poll_ms/p99"), 1),
            num(f("/poll_ms/max"), 1),
            u("/poll_ms/answers"),
            u("/poll_ms/failures"),
        ));
    }
    out.push_str(&format!(
        "  bench itself: CPU {} s = {} µs per subscriber-second\n",
        num(f("/bench/cpu_seconds"), 2),
        num(f("/bench/cpu_us_per_subscriber_second"), 1),
    ));
    out
}
