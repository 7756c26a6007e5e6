//! What the recorder is started with (`-recorddir`, `-recordall`, `-recordformat`,
//! `-recordsegment`, `-recordpart`, `-recorddeleteafter`, `-recordmaxbytes`).

use std::path::PathBuf;
use std::time::Duration;

use super::paths::RecordFormat;

#[derive(Debug, Clone)]
pub struct RecordSettings {
    pub dir: PathBuf,
    /// Record every channel that gets a publisher (unless `/channel/create` said otherwise).
    pub all: bool,
    pub format: RecordFormat,
    /// A new file starts at the first keyframe after this much media.
    pub segment: Duration,
    /// Each part is written at most this long after its first frame arrived.
    pub part: Duration,
    /// Completed files older than this are deleted (`None`: kept).
    pub delete_after: Option<Duration>,
    /// The recordings' total size; the oldest completed files go first (`None`: no cap).
    pub max_bytes: Option<u64>,
}

impl RecordSettings {
    pub fn new(dir: PathBuf) -> RecordSettings {
        RecordSettings {
            dir,
            all: false,
            format: RecordFormat::Fmp4,
            segment: Duration::from_secs(3600),
            part: Duration::from_secs(1),
            delete_after: None,
            max_bytes: None,
        }
    }
}
