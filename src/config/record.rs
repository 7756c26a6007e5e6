//! The recording flags (`-recorddir` and friends), read into plain values; `main` turns them
//! into the recorder's settings.

use std::path::PathBuf;
use std::time::Duration;

use crate::text::parse_duration;

/// Reads one flag's value: `get(name, parse)` is `Ok(None)` when the flag is absent.
pub(super) type Get<'a> = dyn FnMut(&'static str) -> Result<Option<String>, String> + 'a;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFlags {
    /// `-recorddir`: without it nothing is recorded.
    pub dir: Option<PathBuf>,
    pub all: bool,
    /// `fmp4` or `flv`.
    pub format: String,
    pub segment: Duration,
    pub part: Duration,
    /// `0`: keep.
    pub delete_after: Duration,
    /// `0`: no cap.
    pub max_bytes: u64,
}

impl Default for RecordFlags {
    fn default() -> RecordFlags {
        RecordFlags {
            dir: None,
            all: false,
            format: "fmp4".into(),
            segment: Duration::from_secs(3600),
            part: Duration::from_secs(1),
            delete_after: Duration::ZERO,
            max_bytes: 0,
        }
    }
}

fn bounded(lo: Duration, hi: Duration) -> impl Fn(&str) -> Result<Duration, String> {
    move |s| {
        let d = parse_duration(s)?;
        if d >= lo && d <= hi {
            Ok(d)
        } else {
            Err(format!("{s:?} is not a duration from {lo:?} to {hi:?}"))
        }
    }
}

/// Read the recording flags; an error names the flag.
pub(super) fn parse(get: &mut Get<'_>) -> Result<RecordFlags, String> {
    let mut flags = RecordFlags::default();
    fn named(name: &str) -> impl Fn(String) -> String + '_ {
        move |e| format!("flag -{name}: {e}")
    }
    if let Some(dir) = get("--recorddir")? {
        if dir.is_empty() {
            return Err("flag -recorddir: the folder is empty".into());
        }
        flags.dir = Some(PathBuf::from(dir));
    }
    flags.all = get("--recordall")?.is_some_and(|v| v == "true");
    if let Some(format) = get("--recordformat")? {
        if format != "fmp4" && format != "flv" {
            return Err(format!("flag -recordformat: {format:?} is not fmp4 or flv"));
        }
        flags.format = format;
    }
    let hours = Duration::from_secs(24 * 3600);
    if let Some(text) = get("--recordsegment")? {
        flags.segment =
            bounded(Duration::from_secs(1), hours)(&text).map_err(named("recordsegment"))?;
    }
    if let Some(text) = get("--recordpart")? {
        let part = bounded(Duration::from_millis(100), Duration::from_secs(60));
        flags.part = part(&text).map_err(named("recordpart"))?;
    }
    if let Some(text) = get("--recorddeleteafter")? {
        flags.delete_after = parse_duration(&text).map_err(named("recorddeleteafter"))?;
    }
    if let Some(text) = get("--recordmaxbytes")? {
        flags.max_bytes = text
            .parse::<u64>()
            .map_err(|_| format!("flag -recordmaxbytes: {text:?} is not a byte count"))?;
    }
    if flags.all && flags.dir.is_none() {
        return Err("flag -recordall: needs -recorddir".into());
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_of(args: &[(&'static str, &str)]) -> Result<RecordFlags, String> {
        let mut get = |name: &'static str| {
            Ok(args
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string()))
        };
        parse(&mut get)
    }

    #[test]
    fn recording_flags_have_their_defaults_and_bounds() {
        assert_eq!(parse_of(&[]).unwrap(), RecordFlags::default());
        let f = parse_of(&[
            ("--recorddir", "/tmp/r"),
            ("--recordall", "true"),
            ("--recordformat", "flv"),
            ("--recordsegment", "4s"),
            ("--recordpart", "250ms"),
            ("--recordmaxbytes", "1000"),
        ])
        .unwrap();
        assert_eq!(f.dir, Some(PathBuf::from("/tmp/r")));
        assert!(f.all);
        assert_eq!(
            (f.format.as_str(), f.segment, f.part),
            ("flv", Duration::from_secs(4), Duration::from_millis(250))
        );
        assert_eq!(f.max_bytes, 1000);
        assert!(parse_of(&[("--recordall", "true")])
            .unwrap_err()
            .contains("-recorddir"));
        assert!(parse_of(&[("--recordformat", "mkv")]).is_err());
        assert!(parse_of(&[("--recordpart", "10ms")]).is_err());
        assert!(parse_of(&[("--recordsegment", "0")]).is_err());
        assert!(parse_of(&[("--recordmaxbytes", "-1")]).is_err());
    }
}
