//! The side-by-side table of several runs.

use std::fmt::Write as _;

use super::row::{cpu_ratio, Row};

/// The side-by-side table, Markdown-compatible so it can go into the README as it is.
pub fn summary_table(rows: &[Row], baseline: Option<&str>) -> String {
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
            row.subscribers.to_string(),
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
            if i < 3 {
                let _ = write!(out, " {c}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{c} |", " ".repeat(pad));
            }
        }
        out.push('\n');
    };
    line(
        &mut out,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    );
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i < 3 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w.saturating_sub(1)))
            }
        })
        .collect();
    line(&mut out, &rule);
    for l in &lines {
        line(&mut out, l);
    }
    out
}
