//! The recording flags (`-recorddir` and friends), read into plain values; `main` turns them
//! into the recorder's settings.

use std::path::PathBuf;
use std::time::Duration;

use super::{value, UsageError};
use crate::text::parse_duration;

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

pub(super) fn parse(args: &mut pico_args::Arguments) -> Result<RecordFlags, UsageError> {
    let mut flags = RecordFlags::default();
    flags.dir = value(args, "--recorddir", |s| {
        if s.is_empty() {
            Err("the folder is empty".to_string())
        } else {
            Ok(PathBuf::from(s))
        }
    })?;
    flags.all = value(args, "--recordall", |s| Ok(s == "true"))?.unwrap_or(false);
    if let Some(format) = value(args, "--recordformat", |s| match s {
        "fmp4" | "flv" => Ok(s.to_string()),
        other => Err(format!("{other:?} is not fmp4 or flv")),
    })? {
        flags.format = format;
    }
    let hours = Duration::from_secs(24 * 3600);
    if let Some(d) = value(
        args,
        "--recordsegment",
        bounded(Duration::from_secs(1), hours),
    )? {
        flags.segment = d;
    }
    let part = bounded(Duration::from_millis(100), Duration::from_secs(60));
    if let Some(d) = value(args, "--recordpart", part)? {
        flags.part = d;
    }
    if let Some(d) = value(args, "--recorddeleteafter", parse_duration)? {
        flags.delete_after = d;
    }
    if let Some(n) = value(args, "--recordmaxbytes", |s| {
        s.parse::<u64>()
            .map_err(|_| format!("{s:?} is not a byte count"))
    })? {
        flags.max_bytes = n;
    }
    if flags.all && flags.dir.is_none() {
        return Err(UsageError("flag -recordall: needs -recorddir".into()));
    }
    Ok(flags)
}
