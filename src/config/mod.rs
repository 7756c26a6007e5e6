//! Command-line flags -> `Config`.
//!
//! Flags are Go-style as users type them today (`-rtmp=:1935`); `--rtmp=:1935` and `--rtmp :1935` work
//! too. Arguments are normalised to the double-dash form and then read with pico-args.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::hls::HlsVariant;
use crate::net::proxied::ProxyTrust;
use crate::text::parse_duration;

mod flags;
mod listen;
mod record;

use flags::BOOL_FLAGS;
pub use flags::{usage, FLAGS};
pub use listen::{ListenAddr, LogLevel};
pub use record::RecordFlags;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything the server needs to start. Defaults match the documented command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub rtmp: ListenAddr,
    pub http: ListenAddr,
    pub httpapi: ListenAddr,
    pub httpcallback: Option<String>,
    pub rtmp_check_params: bool,
    pub check_timeout: Duration,
    pub api_token: Option<String>,
    /// Origins whose pages may call the API's state-changing routes (`*`: any).
    pub api_cors: Vec<String>,
    pub log_level: LogLevel,
    pub buffer_size: usize,
    pub buffer_duration: Option<Duration>,
    pub buffer_gop_count: usize,
    pub publisher_grace: Duration,
    pub merge_write: Duration,
    /// Edge mode: the origins to pull unknown channels from, tried in order (`-origin=A,B`).
    pub origins: Vec<String>,
    /// Peers that must open with a PROXY protocol header (`-proxyprotocol`).
    pub proxy_protocol: Option<ProxyTrust>,
    /// Serve the watch page (`/`, `/channels.json`) on the media port.
    pub watch_page: bool,
    /// Open media connections (RTMP and HTTP-FLV together); `None`: sized from the fd limit.
    pub max_connections: Option<usize>,
    /// Open media connections per client address; 0 = no limit.
    pub max_conn_per_ip: usize,
    /// On-demand pulls edge mode runs at once.
    pub max_pulls: usize,
    /// HLS: complete segments listed in a playlist.
    pub hls_window: usize,
    /// HLS: the least media time before a segment is cut at the next keyframe.
    pub hls_fragment: Duration,
    /// `-recorddir` and the other recording flags.
    pub record: RecordFlags,
    /// HLS: segments and playlists (`mpegts`, `fmp4`, `lowlatency`).
    pub hls_variant: HlsVariant,
    /// HLS `lowlatency`: the part duration.
    pub hls_part: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            rtmp: ListenAddr::AllInterfaces(1935),
            http: ListenAddr::AllInterfaces(8081),
            // The API steers the server: loopback unless an address is asked for.
            httpapi: ListenAddr::Specific(SocketAddr::from(([127, 0, 0, 1], 8080))),
            httpcallback: None,
            rtmp_check_params: false,
            check_timeout: Duration::from_secs(10),
            api_token: None,
            api_cors: Vec::new(),
            log_level: LogLevel::Info,
            buffer_size: 16 * 1024 * 1024,
            buffer_duration: None,
            buffer_gop_count: 1,
            publisher_grace: Duration::from_secs(10),
            merge_write: Duration::from_millis(100),
            origins: Vec::new(),
            proxy_protocol: None,
            watch_page: true,
            max_connections: None,
            max_conn_per_ip: 0,
            max_pulls: 64,
            hls_window: 6,
            hls_fragment: Duration::from_secs(2),
            record: RecordFlags::default(),
            hls_variant: HlsVariant::Mpegts,
            hls_part: Duration::from_millis(200),
        }
    }
}

/// What the command line asked for.
#[derive(Debug)]
pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

/// A command-line mistake: the message names the flag; the caller prints it with the usage, exit 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Turn `-name` / `-name=value` into `--name` / `--name=value`; write every boolean flag as
/// `--bool=true` or `--bool=false`.
fn normalise(args: Vec<String>) -> Result<Vec<std::ffi::OsString>, UsageError> {
    let mut out = Vec::new();
    for arg in args {
        let long = if arg == "-h" || arg == "--" || !arg.starts_with('-') || arg.starts_with("--") {
            arg
        } else {
            format!("-{arg}")
        };
        if let Some(body) = long.strip_prefix("--") {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            if BOOL_FLAGS.contains(&name) {
                match value {
                    None | Some("true") | Some("1") => out.push(format!("--{name}=true").into()),
                    Some("false") | Some("0") => out.push(format!("--{name}=false").into()),
                    Some(other) => {
                        return Err(UsageError(format!(
                            "flag -{name}: {other:?} is not true or false"
                        )))
                    }
                }
                continue;
            }
        }
        out.push(long.into());
    }
    Ok(out)
}

/// A boolean flag's value after `normalise`, which writes every boolean as `=true` or `=false`.
fn parse_bool(text: &str) -> Result<bool, String> {
    Ok(text == "true")
}

fn value<T>(
    args: &mut pico_args::Arguments,
    name: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, UsageError> {
    let flag = format!("-{}", &name[2..]);
    let raw: Option<String> = args
        .opt_value_from_str(name)
        .map_err(|e| UsageError(format!("flag {flag}: {e}")))?;
    match raw {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .map_err(|e| UsageError(format!("flag {flag}: {e}"))),
    }
}

/// The environment variable that carries the API token, so that it need not show in `ps`.
pub const API_TOKEN_ENV: &str = "JOY4_API_TOKEN";

fn api_token(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("the API token is empty (leave the flag out to run without a token)".into())
    } else {
        Ok(text.to_string())
    }
}

impl Config {
    /// Settings read from the environment (`lookup` is `std::env::var` outside tests): the API
    /// token from `JOY4_API_TOKEN` when `-apitoken` is not given.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), UsageError> {
        if self.api_token.is_none() {
            if let Some(text) = lookup(API_TOKEN_ENV) {
                self.api_token = Some(
                    api_token(&text).map_err(|e| UsageError(format!("{API_TOKEN_ENV}: {e}")))?,
                );
            }
        }
        Ok(())
    }
}

/// Parse the arguments after the program name.
pub fn parse_args(args: Vec<String>) -> Result<Command, UsageError> {
    let mut args = pico_args::Arguments::from_vec(normalise(args)?);
    if args.contains(["-h", "--help"]) {
        return Ok(Command::Help);
    }
    if args.contains("--version") {
        return Ok(Command::Version);
    }
    let mut config = Config::default();
    let addr = |s: &str| ListenAddr::parse(s);
    if let Some(a) = value(&mut args, "--rtmp", addr)? {
        config.rtmp = a;
    }
    if let Some(a) = value(&mut args, "--http", addr)? {
        config.http = a;
    }
    if let Some(a) = value(&mut args, "--httpapi", addr)? {
        config.httpapi = a;
    }
    config.httpcallback = value(&mut args, "--httpcallback", |s| {
        // Callbacks go to a controller beside the server; TLS would need crates we keep out.
        if s.starts_with("http://") {
            Ok(s.trim_end_matches('/').to_string())
        } else {
            Err(format!(
                "{s:?} is not an http:// URL (https is not supported)"
            ))
        }
    })?;
    config.rtmp_check_params = value(&mut args, "--rtmpcheckparams", parse_bool)?.unwrap_or(false);
    config.watch_page = value(&mut args, "--watchpage", parse_bool)?.unwrap_or(true);
    if let Some(d) = value(&mut args, "--checktimeout", parse_duration)? {
        config.check_timeout = d;
    }
    config.api_token = value(&mut args, "--apitoken", api_token)?;
    if let Some(origins) = value(&mut args, "--apicors", |s| {
        Ok(s.split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect::<Vec<_>>())
    })? {
        config.api_cors = origins;
    }
    if let Some(level) = value(&mut args, "--loglevel", |s| match s {
        "error" => Ok(LogLevel::Error),
        "warn" => Ok(LogLevel::Warn),
        "info" => Ok(LogLevel::Info),
        "debug" => Ok(LogLevel::Debug),
        other => Err(format!("{other:?} is not error, warn, info or debug")),
    })? {
        config.log_level = level;
    }
    if let Some(n) = value(&mut args, "--buffersize", |s| {
        s.parse::<usize>()
            .map_err(|_| format!("{s:?} is not a byte count"))
    })? {
        config.buffer_size = n;
    }
    config.buffer_duration = value(&mut args, "--bufferduration", parse_duration)?;
    if let Some(n) = value(&mut args, "--buffergopcount", |s| {
        match s.parse::<usize>() {
            Ok(n) => Ok(n),
            _ => Err(format!("{s:?} is not a GOP count")),
        }
    })? {
        config.buffer_gop_count = n;
    }
    if let Some(d) = value(&mut args, "--publishergrace", parse_duration)? {
        config.publisher_grace = d;
    }
    if let Some(d) = value(&mut args, "--mergewrite", parse_duration)? {
        config.merge_write = d;
    }
    if let Some(n) = value(&mut args, "--hlswindow", |s| match s.parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a segment count from 1 to 1000")),
    })? {
        config.hls_window = n;
    }
    if let Some(d) = value(&mut args, "--hlsfragment", |s| {
        let d = parse_duration(s)?;
        if d >= Duration::from_millis(100) && d <= Duration::from_secs(60) {
            Ok(d)
        } else {
            Err(format!("{s:?} is not a duration from 100ms to 60s"))
        }
    })? {
        config.hls_fragment = d;
    }
    if let Some(v) = value(&mut args, "--hlsvariant", |s| s.parse::<HlsVariant>())? {
        config.hls_variant = v;
    }
    if let Some(d) = value(&mut args, "--hlspart", |s| {
        let d = parse_duration(s)?;
        if d >= Duration::from_millis(50) && d <= Duration::from_secs(5) {
            Ok(d)
        } else {
            Err(format!("{s:?} is not a part duration from 50ms to 5s"))
        }
    })? {
        config.hls_part = d;
    }
    if config.hls_variant == HlsVariant::LowLatency && config.hls_part > config.hls_fragment {
        return Err(UsageError(format!(
            "-hlspart ({:?}) is longer than -hlsfragment ({:?})",
            config.hls_part, config.hls_fragment
        )));
    }
    config.origins = value(&mut args, "--origin", |s| {
        let origins: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        match origins.iter().find(|o| !o.starts_with("rtmp://")) {
            Some(bad) => Err(format!("{bad:?} is not an rtmp:// URL")),
            None if origins.is_empty() => Err("no origin given".to_string()),
            None => Ok(origins),
        }
    })?
    .unwrap_or_default();
    config.proxy_protocol = value(&mut args, "--proxyprotocol", ProxyTrust::parse_list)?;
    let count = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("{s:?} is not a count"))
    };
    config.max_connections = value(&mut args, "--maxconnections", |s| match count(s)? {
        0 => Err("must be 1 or more".to_string()),
        n => Ok(n),
    })?;
    if let Some(n) = value(&mut args, "--maxconnperip", count)? {
        config.max_conn_per_ip = n;
    }
    if let Some(n) = value(&mut args, "--maxpulls", count)? {
        config.max_pulls = n;
    }
    config.record = record::parse(&mut |name| {
        args.opt_value_from_str::<_, String>(name)
            .map_err(|e| format!("flag -{}: {e}", &name[2..]))
    })
    .map_err(UsageError)?;
    let rest = args.finish();
    if let Some(first) = rest.first() {
        let text = first.to_string_lossy();
        return Err(UsageError(if text.starts_with('-') {
            format!(
                "unknown flag {}",
                text.trim_start_matches('-')
                    .split('=')
                    .next()
                    .map(|n| format!("-{n}"))
                    .unwrap_or_default()
            )
        } else {
            format!("unexpected argument {text:?}")
        }));
    }
    Ok(Command::Run(Box::new(config)))
}

#[cfg(test)]
mod tests;
