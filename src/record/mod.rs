//! Recording: channels to disk as fragmented MP4 (or FLV as received) that survives a crash,
//! cut into segments, with retention, listings, playback of a span, and `recordDone` events.
//!
//! A connection room above the hub, as the HLS muxer: each recording is an in-process
//! subscriber of its channel with a writer thread of its own.
//!
//! ```text
//! recorder    starting and stopping recordings, the API's operations, shutdown
//! recording   what the recorder and the writers share (running recordings, settings, events)
//! session     a writer thread: frames -> files, parts, segments, errors, recordDone
//! file        one file being written (fMP4 through media::mp4, or FLV), fsync on close
//! index       reading a file back: whole fragments, torn tail, media times
//! listing     the folder's files by channel; start-up repair; delete
//! retention   -recorddeleteafter and -recordmaxbytes (the janitor thread)
//! span        one playable MP4 of a time span, across files
//! paths       channel folders (names that could leave the folder refused) and START file names
//! settings, counters
//! ```

pub mod counters;
mod file;
mod index;
mod listing;
pub mod paths;
mod recorder;
mod recording;
mod retention;
mod session;
pub mod settings;
pub mod span;

pub use listing::FileEntry;
pub use paths::RecordFormat;
pub use recorder::{ListedFile, RecordError, Recorder};
pub use recording::CurrentFile;
pub use settings::RecordSettings;
pub use span::SpanPlan;
