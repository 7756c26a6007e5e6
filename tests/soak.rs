//! The long churn soak, run by `scripts/soak.sh` (`cargo test --release --test soak -- --ignored`):
//! `SOAK_CYCLES` short connections (default 10,000), flat out or paced at `SOAK_RATE` cycles a
//! second, by `SOAK_WORKERS` threads (default 8). It checks what `tests/e2e_soak.rs` checks and
//! prints cycles per second and the peaks of threads, descriptors and RSS.
mod support;

use support::soak::{run_soak, SoakOptions};

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
#[ignore = "long: run by scripts/soak.sh"]
fn churn_soak() {
    let options = SoakOptions {
        cycles: env("SOAK_CYCLES").unwrap_or(10_000),
        rate: env("SOAK_RATE"),
        workers: env("SOAK_WORKERS").unwrap_or(8),
    };
    run_soak(&options);
}
