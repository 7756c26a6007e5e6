//! The files in the recording folder: listed by channel with their media durations, repaired
//! at start-up (a torn tail cut back to the last whole fragment), found and deleted by name.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::index::{flv_duration_secs, read_mp4_index};
use super::paths::{channel_dir, parse_file_name, RecordFormat};

/// Folders deeper than this are not looked into.
const MAX_DEPTH: usize = 32;

/// One recording file.
#[derive(Debug, Clone)]
pub struct FileEntry {
    pub channel: String,
    pub name: String,
    /// Relative to the recording folder, with `/`.
    pub rel_path: String,
    pub path: PathBuf,
    pub start: SystemTime,
    pub format: RecordFormat,
    pub bytes: u64,
    pub modified: Option<SystemTime>,
}

/// Every recording file under `dir` (of `channel` only, if given), by channel, oldest first.
pub fn scan(dir: &Path, channel: Option<&str>) -> BTreeMap<String, Vec<FileEntry>> {
    let mut out: BTreeMap<String, Vec<FileEntry>> = BTreeMap::new();
    let root = match channel.map(channel_dir) {
        Some(Ok(sub)) => dir.join(sub),
        Some(Err(_)) => return out,
        None => dir.to_path_buf(),
    };
    let mut todo = vec![(root, 0usize)];
    while let Some((folder, depth)) = todo.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() && depth < MAX_DEPTH && channel.is_none() {
                todo.push((path, depth + 1));
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((start, format)) = parse_file_name(&name) else {
                continue;
            };
            let Ok(rel_dir) = folder.strip_prefix(dir) else {
                continue;
            };
            let channel_id = rel_dir.to_string_lossy().replace('\\', "/");
            if channel_id.is_empty() {
                continue;
            }
            let meta = entry.metadata().ok();
            out.entry(channel_id.clone()).or_default().push(FileEntry {
                rel_path: format!("{channel_id}/{name}"),
                channel: channel_id,
                name,
                path,
                start,
                format,
                bytes: meta.as_ref().map_or(0, |m| m.len()),
                modified: meta.and_then(|m| m.modified().ok()),
            });
        }
    }
    for files in out.values_mut() {
        files.sort_by_key(|f| f.start);
    }
    out
}

/// Media seconds in a file, from its timestamps.
pub fn duration_secs(file: &FileEntry) -> f64 {
    match file.format {
        RecordFormat::Fmp4 => read_mp4_index(&file.path).map_or(0.0, |i| i.duration_secs()),
        RecordFormat::Flv => flv_duration_secs(&file.path).unwrap_or(0.0),
    }
}

/// The path of `channel`'s file `name`, refusing anything but a recording name in a safe
/// channel folder.
pub fn file_path(dir: &Path, channel: &str, name: &str) -> Option<PathBuf> {
    let sub = channel_dir(channel).ok()?;
    parse_file_name(name)?;
    Some(dir.join(sub).join(name))
}

/// At start-up: cut every fMP4 file back to its last whole fragment, and remove files without
/// a whole init segment (they hold no media). FLV files are left as they are (players read an
/// FLV file up to a torn tag). Returns (files cut, files removed).
pub fn repair_all(dir: &Path) -> (usize, usize) {
    let (mut cut, mut removed) = (0, 0);
    for file in scan(dir, None).into_values().flatten() {
        if file.format != RecordFormat::Fmp4 {
            continue;
        }
        match repair(&file.path) {
            Ok(Repair::Cut(from, to)) => {
                log::warn!(
                    "record: {} had a torn tail: cut from {from} to {to} bytes",
                    file.rel_path
                );
                cut += 1;
            }
            Ok(Repair::Removed) => {
                log::warn!(
                    "record: {} held no whole init segment: removed",
                    file.rel_path
                );
                removed += 1;
            }
            Ok(Repair::Whole) => {}
            Err(e) => log::warn!("record: cannot check {}: {e}", file.rel_path),
        }
    }
    (cut, removed)
}

pub enum Repair {
    Whole,
    Cut(u64, u64),
    Removed,
}

pub fn repair(path: &Path) -> io::Result<Repair> {
    let index = read_mp4_index(path)?;
    if index.good_len == index.file_len {
        return Ok(Repair::Whole);
    }
    if index.good_len == 0 {
        fs::remove_file(path)?;
        return Ok(Repair::Removed);
    }
    let file = fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(index.good_len)?;
    file.sync_data()?;
    Ok(Repair::Cut(index.file_len, index.good_len))
}

/// Remove `path`, then its folders up to `dir` that are left empty.
pub fn remove_file(dir: &Path, path: &Path) -> io::Result<()> {
    fs::remove_file(path)?;
    let mut folder = path.parent();
    while let Some(f) = folder {
        if f == dir || !f.starts_with(dir) || fs::remove_dir(f).is_err() {
            break;
        }
        folder = f.parent();
    }
    Ok(())
}
