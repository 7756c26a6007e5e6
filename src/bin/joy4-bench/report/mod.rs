//! The arithmetic and the rendering of bench reports, kept apart from sockets and threads so they
//! can be tested: nearest-rank percentiles over values and over a latency histogram, rates, server
//! CPU per subscriber-second, RSS growth per subscriber, each subscriber's share of the stream's
//! bitrate; the table of one run, and the side-by-side summary of several runs with its targets.

mod histogram;
mod rates;
mod row;
mod spread;
mod summary;
mod table;
mod targets;

pub use histogram::Histogram;
pub use rates::*;
pub use row::Row;
pub use spread::Spread;
pub use summary::summary_table;
pub use table::table;
pub use targets::{check_targets, Targets};

#[cfg(test)]
mod tests;
