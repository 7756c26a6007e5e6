//! What one run is asked to do, and the bounds every run respects.

use std::path::PathBuf;
use std::time::Duration;

use joy4::rtmp::client::RtmpUrl;

use crate::stream::Synthetic;
use crate::target::Target;

pub const MAX_SUBSCRIBERS: usize = 10_000;
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Longest ramp accepted (N / ramp rate).
pub const MAX_RAMP: Duration = Duration::from_secs(1800);

#[derive(Debug, Clone)]
pub enum SourceSpec {
    Synthetic(Synthetic),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub publish: RtmpUrl,
    pub play: Target,
    pub subscribers: usize,
    /// Subscribers opened per second.
    pub ramp: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub settle: Duration,
    pub source: SourceSpec,
    pub pid: Option<u32>,
    /// Subscribers that never set SO_RCVLOWAT, so their arrival times are exact; latency figures
    /// come from them.
    pub probes: usize,
    /// SO_RCVLOWAT for the other subscribers once they have their first keyframe (0 = never).
    pub rcvlowat: usize,
    pub readers: usize,
    pub connectors: usize,
    pub timeout: Duration,
    pub label: String,
    pub quiet: bool,
}

impl Config {
    /// Bounds every run respects, whoever built the config.
    pub fn check(&self) -> Result<(), String> {
        if self.subscribers == 0 || self.subscribers > MAX_SUBSCRIBERS {
            return Err(format!(
                "subscribers must be 1..={MAX_SUBSCRIBERS}, not {}",
                self.subscribers
            ));
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err("ramp must be a positive number of subscribers per second".into());
        }
        if Duration::from_secs_f64(self.subscribers as f64 / self.ramp) > MAX_RAMP {
            return Err(format!(
                "the ramp would take longer than {} s",
                MAX_RAMP.as_secs()
            ));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return Err(format!(
                "duration must be above 0 and at most {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if self.warmup > Duration::from_secs(120) || self.settle > Duration::from_secs(60) {
            return Err("warmup is at most 120 s and settle at most 60 s".into());
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(120) {
            return Err("timeout must be above 0 and at most 120 s".into());
        }
        if self.readers == 0 || self.readers > 16 || self.connectors == 0 || self.connectors > 64 {
            return Err("readers must be 1..=16 and connectors 1..=64".into());
        }
        Ok(())
    }
}
