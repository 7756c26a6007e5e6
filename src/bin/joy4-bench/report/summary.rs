//! The side-by-side table of several runs.

use std::fmt::Write as _;

use super::row::{cpu_ratio, Row};

/// The side-by-side table, Markdown-compatible so it can go into the README as it is; runs of
/// many channels get a table of their own, per channel.
pub fn summary_table(rows: &[Row], baseline: Option<&str>) -> String {
    let (channel_rows, rows): (Vec<Row>, Vec<Row>) =
        rows.iter().cloned().partition(Row::is_channels_run);
    let mut out = subscriber_table(&rows, baseline);
    if !channel_rows.is_empty() {
        out.push('\n');
        out.push_str(&channel_table(&channel_rows, baseline));
    }
    out
}

/// Per channel: CPU per channel-second (and its ratio to the baseline's RTMP run of as many
/// channels), memory per channel, and whether every viewer was served.
fn channel_table(rows: &[Row], baseline: Option<&str>) -> String {
    let opt =
        |x: Option<f64>, digits: usize| x.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    let base_of = |row: &Row| baseline.and_then(|b| super::row::baseline_row(row, rows, b));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_string(),
    };
    let header = [
        "server",
        "protocol",
        "channels",
        "viewers",
        "CPU µs/channel·s",
        "CPU vs base",
        "KiB/channel",
        "memory vs base",
        "share min %",
        "failed",
    ];
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let base = base_of(row);
            vec![
                row.label.clone(),
                row.protocol.clone(),
                row.channels.to_string(),
                row.subscribers.to_string(),
                opt(row.cpu_us_per_channel, 0),
                ratio(
                    row.cpu_us_per_channel,
                    base.and_then(|b| b.cpu_us_per_channel),
                ),
                opt(row.rss_kib_per_channel, 0),
                ratio(
                    row.rss_kib_per_channel,
                    base.and_then(|b| b.rss_kib_per_channel),
                ),
                row.share_min
                    .map_or("-".into(), |s| format!("{:.1}", s * 100.0)),
                row.failures.to_string(),
            ]
        })
        .collect();
    markdown(&header.map(String::from), &lines, 2)
}

fn subscriber_table(rows: &[Row], baseline: Option<&str>) -> String {
    let opt = |x: Option<f64>, digits: usize| match x {
        Some(x) => format!("{x:.digits$}"),
        None => "-".to_string(),
    };
    let pct = |x: Option<f64>| match x {
        Some(x) => format!("{:.1}", x * 100.0),
        None => "-".to_string(),
    };
    let mut header = vec![
        "server",
        "protocol",
        "readers",
        "N",
        "CPU µs/sub·s",
        "RSS KiB/sub",
        "share min %",
        "share med %",
        "lat p50 ms",
        "lat p99 ms",
        "1st key p50/max ms",
        "failed",
        "bench µs/sub·s",
    ];
    if baseline.is_some() {
        header.insert(5, "CPU vs base");
    }
    let mut lines: Vec<Vec<String>> = Vec::new();
    for row in rows {
        let mut cells = vec![
            row.label.clone(),
            row.protocol.clone(),
            row.readers.clone(),
            if row.is_storm() {
                format!("{} storm {:.0}/s", row.subscribers, row.ramp)
            } else {
                row.subscribers.to_string()
            },
            opt(row.cpu_us, 0),
            opt(row.rss_kib, 1),
            pct(row.share_min),
            pct(row.share_median),
            opt(row.lat_p50, 1),
            opt(row.lat_p99, 1),
            format!(
                "{}/{}",
                opt(row.first_key_p50, 0),
                opt(row.first_key_max, 0)
            ),
            row.failures.to_string(),
            opt(row.bench_cpu_us, 0),
        ];
        if let Some(b) = baseline {
            cells.insert(
                5,
                match cpu_ratio(row, rows, b) {
                    Some(r) => format!("{r:.2}x"),
                    None => "-".to_string(),
                },
            );
        }
        lines.push(cells);
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    markdown(&header, &lines, 3)
}

/// A Markdown table: the first `text_columns` columns left-aligned, the rest right-aligned.
fn markdown(header: &[String], lines: &[Vec<String>], text_columns: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        out.push('|');
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i < text_columns {
                let _ = write!(out, " {c}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{c} |", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(&mut out, header);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i < text_columns {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    line(&mut out, &rule);
    for l in lines {
        line(&mut out, l);
    }
    out
}
