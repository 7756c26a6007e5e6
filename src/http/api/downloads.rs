//! `GET /recordings/file` (one file, with HEAD and `Range`/206) and `GET /recordings/get` (a span
//! across files): answers with a body read from disk as it is written, so they are written
//! here rather than through the JSON reply. The connection closes after each.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::PathBuf;

use super::recordings::{param, record_error, recorder, span_params};
use super::render::ApiError;
use crate::record::SpanPlan;
use crate::text::query_pairs;

pub(super) enum Download {
    File {
        path: PathBuf,
        content_type: &'static str,
        /// The bytes to send (first, last) and the file's size; `partial`: a 206.
        first: u64,
        last: u64,
        total: u64,
        partial: bool,
    },
    /// 416: the range lies beyond the file.
    Unsatisfiable {
        total: u64,
    },
    Span(SpanPlan),
}

/// `bytes=A-B`, `bytes=A-`, `bytes=-N` against a file of `total` bytes; `None` for no range
/// (or one this server does not serve: several ranges), `Some(Err)` for an unsatisfiable one.
fn byte_range(header: Option<&str>, total: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => (first, last.min(total.saturating_sub(1))),
        (Ok(first), Err(_)) if b.is_empty() => (first, total.saturating_sub(1)),
        (Err(_), Ok(n)) if a.is_empty() && n > 0 => {
            (total.saturating_sub(n), total.saturating_sub(1))
        }
        _ => return None,
    };
    if total == 0 || range.0 >= total {
        return Some(Err(()));
    }
    Some(Ok(range))
}

/// Decide a download: which bytes, or an error answer.
pub(super) fn prepare(
    api: Option<&crate::record::Recorder>,
    path: &str,
    query: &str,
    range: Option<&str>,
) -> Result<Download, ApiError> {
    let recorder = recorder(api)?;
    let pairs = query_pairs(query);
    let channel = param(&pairs, "channel")?;
    if path == "/recordings/get" {
        let (start, duration) = span_params(&pairs)?;
        return recorder
            .span(channel, start, duration)
            .map(Download::Span)
            .map_err(record_error);
    }
    let name = param(&pairs, "name")?;
    let file_path = recorder.file_path(channel, name).map_err(record_error)?;
    let total = std::fs::metadata(&file_path)
        .map_err(|e| ApiError::new(500, "RecordingIoError", e.to_string()))?
        .len();
    let content_type = if name.ends_with(".flv") {
        "video/x-flv"
    } else {
        "video/mp4"
    };
    let (first, last, partial) = match byte_range(range, total) {
        Some(Err(())) => return Ok(Download::Unsatisfiable { total }),
        Some(Ok((first, last))) => (first, last, true),
        None => (0, total.saturating_sub(1), false),
    };
    Ok(Download::File {
        path: file_path,
        content_type,
        first,
        last,
        total,
        partial,
    })
}

fn head(status: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(concat!(
        "Server: joy4/",
        env!("CARGO_PKG_VERSION"),
        "\r\nAccess-Control-Allow-Origin: *\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
    ));
    out.into_bytes()
}

/// Write the answer (headers only for HEAD). Returns the status sent.
pub(super) fn write(
    download: &Download,
    mut socket: &TcpStream,
    head_only: bool,
) -> io::Result<u16> {
    match download {
        Download::Unsatisfiable { total } => {
            socket.write_all(&head(
                "416 Range Not Satisfiable",
                &[
                    ("Content-Range", format!("bytes */{total}")),
                    ("Content-Length", "0".into()),
                ],
            ))?;
            Ok(416)
        }
        Download::File {
            path,
            content_type,
            first,
            last,
            total,
            partial,
        } => {
            let len = if *total == 0 { 0 } else { last - first + 1 };
            let mut headers = vec![
                ("Content-Type", content_type.to_string()),
                ("Content-Length", len.to_string()),
            ];
            let status = if *partial {
                headers.push(("Content-Range", format!("bytes {first}-{last}/{total}")));
                "206 Partial Content"
            } else {
                "200 OK"
            };
            socket.write_all(&head(status, &headers))?;
            if !head_only && len > 0 {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(*first))?;
                io::copy(&mut io::Read::take(file, len), &mut socket)?;
            }
            Ok(if *partial { 206 } else { 200 })
        }
        Download::Span(plan) => {
            let headers = [
                ("Content-Type", "video/mp4".to_string()),
                ("Content-Length", plan.len.to_string()),
                (
                    "Content-Disposition",
                    "inline; filename=\"recording.mp4\"".to_string(),
                ),
            ];
            socket.write_all(&head("200 OK", &headers))?;
            if !head_only {
                let mut out = io::BufWriter::with_capacity(64 * 1024, socket);
                crate::record::span::write(plan, &mut out)?;
                out.flush()?;
            }
            Ok(200)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_are_read_as_rfc_9110_says() {
        assert_eq!(byte_range(Some("bytes=0-99"), 1000), Some(Ok((0, 99))));
        assert_eq!(byte_range(Some("bytes=900-"), 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range(Some("bytes=-100"), 1000), Some(Ok((900, 999))));
        assert_eq!(
            byte_range(Some("bytes=990-2000"), 1000),
            Some(Ok((990, 999)))
        );
        assert_eq!(byte_range(Some("bytes=1000-"), 1000), Some(Err(())));
        assert_eq!(byte_range(Some("bytes=0-1,5-6"), 1000), None);
        assert_eq!(byte_range(Some("items=0-1"), 1000), None);
        assert_eq!(byte_range(Some("bytes=5-1"), 1000), None);
        assert_eq!(byte_range(None, 1000), None);
    }
}
