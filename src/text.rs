//! Small text helpers shared by every room: percent-decoding, query strings, durations as users
//! write them, RFC 3339 timestamps, and log-safe rendering of names that came off the wire.

use std::time::{Duration, SystemTime};

/// How `percent_decode` treats its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decode {
    /// A URL path: `+` stays `+`; a malformed escape or a result that is not UTF-8 is an error.
    Path,
    /// A query component (`application/x-www-form-urlencoded`): `+` is a space; a malformed
    /// escape is kept as it is and bytes that are not UTF-8 become U+FFFD, so it never fails.
    Query,
}

/// Decode `%XX` escapes under `mode`'s rules; `None` only in `Decode::Path` mode.
pub fn percent_decode(text: &str, mode: Decode) -> Option<String> {
    if !text.contains(['%', '+']) {
        return Some(text.to_string());
    }
    fn hex(b: Option<&u8>) -> Option<u8> {
        b.and_then(|b| (*b as char).to_digit(16)).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if mode == Decode::Query => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ if mode == Decode::Path => return None,
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    match mode {
        Decode::Path => String::from_utf8(out).ok(),
        Decode::Query => Some(String::from_utf8_lossy(&out).into_owned()),
    }
}

/// `a=1&b=x%20y&flag` as decoded (name, value) pairs in order; a bare name has an empty value.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode(s, Decode::Query).unwrap_or_default();
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of the last `name=` in `pairs` (a repeated parameter's last value wins).
pub fn last_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parse a duration as users write it: `120s`, `1.5s`, `500ms`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (text, 1000.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s, 1.5s, 500ms or 2m"))?;
    if !value.is_finite() || value < 0.0 || value * unit_ms > 1e12 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_micros(
        (value * unit_ms * 1000.0).round() as u64
    ))
}

/// RFC 3339 in UTC with an explicit offset, e.g. `2026-11-24T06:19:27.123+00:00`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (the `civil_from_days` algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// What [`log_safe`] keeps of a name or value from the wire, in characters.
pub const LOG_TEXT_MAX: usize = 128;

/// A name or value that came off the wire, fit for a log line: control characters and quotes
/// escaped, at most `max` characters (then `…`).
pub fn log_safe(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 3);
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_malformed_escapes_and_turns_plus_into_space() {
        let d = |s| percent_decode(s, Decode::Query).unwrap();
        assert_eq!(d("a%20b+c"), "a b c");
        assert_eq!(d("%zz%4"), "%zz%4");
        assert_eq!(d("%a\u{e9}%41"), "%a\u{e9}A");
    }

    #[test]
    fn path_decoding_rejects_malformed_escapes_and_keeps_plus() {
        assert_eq!(
            percent_decode("live%2Fa+b", Decode::Path).as_deref(),
            Some("live/a+b")
        );
        assert_eq!(percent_decode("a%zz", Decode::Path), None);
        assert_eq!(percent_decode("a%ff", Decode::Path), None);
    }

    #[test]
    fn query_pairs_keep_order_and_bare_names() {
        let p = query_pairs("token=a%20b&cursor=5s&flag");
        assert_eq!(
            p,
            vec![
                ("token".into(), "a b".into()),
                ("cursor".into(), "5s".into()),
                ("flag".into(), String::new())
            ]
        );
    }

    #[test]
    fn durations_parse_as_users_write_them() {
        assert_eq!(parse_duration("120s").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000+00:00"
        );
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_990_767_250);
        assert_eq!(rfc3339(t), "2026-11-29T22:19:27.250+00:00");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000+00:00");
    }

    #[test]
    fn log_safe_escapes_and_caps() {
        assert_eq!(log_safe("a\nb\"", 10), "a\\nb\\\"");
        assert_eq!(log_safe("abcdef", 3), "abc…");
    }
}
