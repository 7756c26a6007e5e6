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

/// Parse RFC 3339 (`2026-12-05T16:30:00Z`, `…00.123+02:00`) to a time; `None` if malformed or
/// before 1970.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = text.get(from..from + len)?;
        digits
            .bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0u64;
    if b[at] == b'.' {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 {
            return None;
        }
        let frac = &text[at + 1..at + 1 + digits.min(9)];
        nanos = frac.parse::<u64>().ok()? * 10u64.pow(9 - frac.len() as u32);
        at += 1 + digits;
    }
    let offset_secs = match text.get(at..)? {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (num(at + 1, 2)? * 3600 + num(at + 4, 2)? * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos as u32))
}

/// (year, month, day) to days since 1970-01-01 (the inverse of `civil_from_days`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn rfc3339_reads_back_what_it_writes_and_refuses_the_malformed() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_796_000_123_456);
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        let z = parse_rfc3339("2026-12-05T16:30:00Z").unwrap();
        assert_eq!(rfc3339(z), "2026-12-05T16:30:00.000+00:00");
        assert_eq!(
            parse_rfc3339("2026-12-05T18:30:00.5+02:00"),
            Some(z + std::time::Duration::from_millis(500))
        );
        for bad in [
            "",
            "2026-12-05",
            "2026-13-05T16:30:00Z",
            "2026-12-05T16:30:00",
            "2026-12-05T16:30:00.Z",
            "1969-12-31T23:59:59Z",
            "2026-12-05T16:30:00+2:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

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
