//! A short churn soak in the suite, so that a leak (threads, descriptors, memory, streams,
//! callbacks) fails CI: 2,000 short connections of every kind against one server with a steady
//! publisher, flat out, then back to the baseline. `scripts/soak.sh` runs the long one
//! (`tests/soak.rs`).
mod support;

use support::soak::{run_soak, SoakOptions};

#[test]
fn two_thousand_short_connections_leave_nothing_behind() {
    let options = SoakOptions {
        cycles: 2000,
        rate: None,
        workers: 8,
    };
    let report = run_soak(&options);
    assert!(report.streams > 0);
}
