//! Retention: completed files older than `-recorddeleteafter` are deleted, and while the
//! recordings' total size is over `-recordmaxbytes` the oldest completed files go. A file
//! being written is never deleted. Runs on the janitor thread: after each completed file and
//! every minute.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::counters::{self, FILES_DELETED};
use super::listing::{remove_file, scan, FileEntry};

pub const JANITOR_TICK: Duration = Duration::from_secs(60);

/// Apply the limits; `in_progress` are the relative paths of files being written. Returns how
/// many files were deleted.
pub fn enforce(
    dir: &Path,
    delete_after: Option<Duration>,
    max_bytes: Option<u64>,
    in_progress: &[String],
) -> usize {
    if delete_after.is_none() && max_bytes.is_none() {
        return 0;
    }
    let mut files: Vec<FileEntry> = scan(dir, None).into_values().flatten().collect();
    files.sort_by_key(|f| f.start);
    let mut total: u64 = files.iter().map(|f| f.bytes).sum();
    let now = SystemTime::now();
    let mut deleted = 0;
    for file in files {
        if in_progress.contains(&file.rel_path) {
            continue;
        }
        let too_old = delete_after.is_some_and(|limit| {
            file.modified
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > limit)
        });
        let over_cap = max_bytes.is_some_and(|cap| total > cap);
        if !too_old && !over_cap {
            continue;
        }
        match remove_file(dir, &file.path) {
            Ok(()) => {
                log::info!(
                    "record: deleted {} ({})",
                    file.rel_path,
                    if too_old {
                        "older than -recorddeleteafter"
                    } else {
                        "over -recordmaxbytes"
                    }
                );
                total = total.saturating_sub(file.bytes);
                deleted += 1;
                counters::add(&FILES_DELETED, 1);
            }
            Err(e) => log::warn!("record: cannot delete {}: {e}", file.rel_path),
        }
    }
    deleted
}
