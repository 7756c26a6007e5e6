//! The recording lines of `/metrics` (only with `-recorddir`).

use super::text::Text;
use crate::record::counters::{
    get, BYTES_WRITTEN, FILES_DELETED, FILES_DONE, TOO_SLOW, WRITE_ERRORS,
};

pub(super) fn render(t: &mut Text, recording: bool) {
    if !recording {
        return;
    }
    let lines = [
        (
            "joy4_record_bytes_written_total",
            "Bytes written to recording files.",
            &BYTES_WRITTEN,
        ),
        (
            "joy4_record_files_total",
            "Recording files completed.",
            &FILES_DONE,
        ),
        (
            "joy4_record_write_errors_total",
            "Recordings ended by a write error (disk full, I/O error, permissions).",
            &WRITE_ERRORS,
        ),
        (
            "joy4_record_too_slow_total",
            "Recordings ended because the disk could not keep up.",
            &TOO_SLOW,
        ),
        (
            "joy4_record_files_deleted_total",
            "Recording files deleted by retention.",
            &FILES_DELETED,
        ),
    ];
    for (name, help, counter) in lines {
        t.single(name, "counter", help, get(counter));
    }
}
