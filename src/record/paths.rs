//! Where a recording lives: `DIR/CHANNEL/START.mp4`. CHANNEL is the channel path as folders;
//! START the UTC time of the file's first frame without colons (`2026-12-05T16-30-00.123Z`).
//!
//! Nothing a client names may leave DIR: a channel name that is not a plain relative path
//! (empty, absolute, a `.` or `..` or empty segment, a segment starting with `.`, a backslash,
//! NUL or any control character, a segment over 255 bytes) is **refused**, not escaped: that
//! channel is not recorded (and the API answers 400). A file name must be exactly a START name
//! with a known extension.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::text::{parse_rfc3339, rfc3339};

/// The longest channel name recorded (bytes).
pub const MAX_CHANNEL_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFormat {
    Fmp4,
    Flv,
}

impl RecordFormat {
    pub fn extension(self) -> &'static str {
        match self {
            RecordFormat::Fmp4 => "mp4",
            RecordFormat::Flv => "flv",
        }
    }

    pub fn parse(text: &str) -> Option<RecordFormat> {
        match text {
            "fmp4" | "mp4" => Some(RecordFormat::Fmp4),
            "flv" => Some(RecordFormat::Flv),
            _ => None,
        }
    }
}

/// The folder of `channel` relative to DIR, or why it cannot be one.
pub fn channel_dir(channel: &str) -> Result<PathBuf, &'static str> {
    if channel.is_empty() || channel.len() > MAX_CHANNEL_LEN {
        return Err("the channel name is empty or too long for a recording path");
    }
    if channel.chars().any(|c| c.is_control() || c == '\\') {
        return Err("the channel name holds a control character or a backslash");
    }
    if channel.starts_with('/') {
        return Err("the channel name is an absolute path");
    }
    let mut dir = PathBuf::new();
    for segment in channel.split('/') {
        if segment.is_empty() || segment.starts_with('.') || segment.len() > 255 {
            return Err("the channel name has an empty, dot or overlong path segment");
        }
        dir.push(segment);
    }
    Ok(dir)
}

/// `2026-12-05T16-30-00.123Z.mp4` for a file whose first frame came at `start`.
pub fn file_name(start: SystemTime, format: RecordFormat) -> String {
    let text = rfc3339(start); // 2026-12-05T16:30:00.123+00:00
    format!("{}Z.{}", text[..23].replace(':', "-"), format.extension())
}

/// The start time and format a file name says; `None` for any other name.
pub fn parse_file_name(name: &str) -> Option<(SystemTime, RecordFormat)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let format = match ext {
        "mp4" => RecordFormat::Fmp4,
        "flv" => RecordFormat::Flv,
        _ => return None,
    };
    // 2026-12-05T16-30-00.123Z
    let b = stem.as_bytes();
    if b.len() != 24 || b[13] != b'-' || b[16] != b'-' || b[23] != b'Z' {
        return None;
    }
    let text = format!("{}:{}:{}", &stem[..13], &stem[14..16], &stem[17..]);
    let start = parse_rfc3339(&text)?;
    (file_name(start, format) == name).then_some((start, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn channel_names_that_would_leave_the_folder_are_refused() {
        assert_eq!(channel_dir("live/abc").unwrap(), PathBuf::from("live/abc"));
        assert_eq!(channel_dir("cam 1").unwrap(), PathBuf::from("cam 1"));
        for bad in [
            "",
            "/etc",
            "..",
            "live/../../etc",
            "live/./x",
            "live//x",
            "live/",
            ".hidden",
            "a\\b",
            "a\0b",
            "a\nb",
            "a\u{7f}b",
        ] {
            assert!(channel_dir(bad).is_err(), "{bad:?}");
        }
        assert!(channel_dir(&"a".repeat(300)).is_err());
    }

    #[test]
    fn file_names_carry_the_start_time_without_colons_and_read_back() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_000_123_456);
        let name = file_name(t, RecordFormat::Fmp4);
        assert!(!name.contains(':'));
        assert!(name.ends_with("Z.mp4"), "{name}");
        assert_eq!(parse_file_name(&name), Some((t, RecordFormat::Fmp4)));
        let flv = file_name(t, RecordFormat::Flv);
        assert_eq!(parse_file_name(&flv), Some((t, RecordFormat::Flv)));
        for bad in [
            "../x.mp4",
            "x.mp4",
            "2026-12-05T16-30-00.123Z.txt",
            "2026-12-05T16:30:00.123Z.mp4",
            "2026-12-05T16-30-00.123Z.mp4/..",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }
}
