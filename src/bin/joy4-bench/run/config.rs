//! What one run is asked to do, and the bounds every run respects.

use std::path::PathBuf;
use std::time::Duration;

use joy4::rtmp::client::RtmpUrl;

use crate::stream::Synthetic;
use crate::target::Target;

pub const MAX_SUBSCRIBERS: usize = 10_000;
pub const MAX_CHANNELS: usize = 1000;
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
    /// Channels published at once, each its own publisher; subscriber `i` plays channel
    /// `i % channels`. With several, channel `k` is the base URL's stream name plus `-k`.
    pub channels: usize,
    pub subscribers: usize,
    /// An HTTP URL fetched every 100 ms during the run (a server's API), to see whether it
    /// stays answering under the load.
    pub poll: Option<Target>,
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
        if self.channels == 0 || self.channels > MAX_CHANNELS {
            return Err(format!(
                "channels must be 1..={MAX_CHANNELS}, not {}",
                self.channels
            ));
        }
        if !matches!(self.poll, None | Some(Target::Http { .. })) {
            return Err("--poll takes an http:// URL".into());
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

impl Config {
    /// The channel subscriber `id` plays.
    pub fn channel_of(&self, id: usize) -> usize {
        id % self.channels
    }

    /// Where channel `k`'s publisher publishes.
    pub fn publish_url(&self, k: usize) -> RtmpUrl {
        let mut url = self.publish.clone();
        url.name = channel_name(&url.name, k, self.channels);
        url
    }

    /// What subscribers of channel `k` open.
    pub fn play_target(&self, k: usize) -> Target {
        match &self.play {
            Target::Rtmp(url) => {
                let mut url = url.clone();
                url.name = channel_name(&url.name, k, self.channels);
                Target::Rtmp(url)
            }
            Target::Http { host, port, path } => {
                let (file, query) = path.split_at(path.find('?').unwrap_or(path.len()));
                let (stem, ext) = match file.strip_suffix(".flv") {
                    Some(stem) => (stem, ".flv"),
                    None => (file, ""),
                };
                Target::Http {
                    host: host.clone(),
                    port: *port,
                    path: format!("{}{ext}{query}", channel_name(stem, k, self.channels)),
                }
            }
        }
    }
}

/// `name` itself with one channel; `name-k` (before any `?query`) with several.
fn channel_name(name: &str, k: usize, channels: usize) -> String {
    if channels <= 1 {
        return name.to_string();
    }
    let (stem, query) = name.split_at(name.find('?').unwrap_or(name.len()));
    format!("{stem}-{k}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(play: &str, channels: usize) -> Config {
        Config {
            publish: RtmpUrl::parse("rtmp://h:1935/live/bench?k=1").unwrap(),
            play: Target::parse(play).unwrap(),
            channels,
            subscribers: 10,
            poll: None,
            ramp: 100.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            settle: Duration::ZERO,
            source: SourceSpec::Synthetic(Synthetic {
                kbps: 100,
                gop_s: 1.0,
                fps: 25,
            }),
            pid: None,
            probes: 1,
            rcvlowat: 0,
            readers: 1,
            connectors: 1,
            timeout: Duration::from_secs(1),
            label: "t".into(),
            quiet: true,
        }
    }

    #[test]
    fn several_channels_are_the_base_name_with_a_number() {
        let c = config("http://h:8081/live/bench.flv?x=1", 3);
        assert_eq!(c.publish_url(2).name, "bench-2?k=1");
        assert_eq!(
            c.play_target(2).to_string(),
            "http://h:8081/live/bench-2.flv?x=1"
        );
        assert_eq!(c.channel_of(7), 1);
        let r = config("rtmp://h:1935/live/bench", 3);
        assert_eq!(r.play_target(0).to_string(), "rtmp://h/live/bench-0");
    }

    #[test]
    fn one_channel_is_the_urls_as_given() {
        let c = config("http://h:8081/live/bench.flv", 1);
        assert_eq!(c.publish_url(0), c.publish);
        assert_eq!(c.play_target(0), c.play);
    }
}
