//! `joy4-bench`: publish a stream to an RTMP server, open N subscribers over RTMP or HTTP-FLV, and
//! report what they got and what it cost the server. `joy4-bench summary FILE.json…` prints the
//! side-by-side table of several runs.
//!
//! `run` drives one run (threads and the measurement window), `stream` is what gets published,
//! `skim` reads what subscribers receive, `sendlog` matches arrivals to send times, `report` holds
//! the arithmetic and the tables, `target` the URLs and socket setup. The Linux calls (`/proc`,
//! epoll, `SO_RCVLOWAT`) are the library's `net::sys`. It uses joy4 through the library's public
//! API only (`rtmp::{chunk, client, handshake}`, `flv`, `amf0`, `media`, `net`, `text`).
#![forbid(unsafe_code)]

mod hls;
mod report;
mod run;
mod sendlog;
mod skim;
mod stream;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::report::Row;
use crate::run::{Config, SourceSpec};
use crate::stream::Synthetic;
use crate::target::Target;
use joy4::rtmp::client::RtmpUrl;
use joy4::text::parse_duration;

const USAGE: &str = "\
joy4-bench: load and measure a live-streaming server (joy4, nginx-rtmp, SRS)

USAGE:
  joy4-bench --publish rtmp://HOST:PORT/APP/STREAM [--play URL] [OPTIONS]
  joy4-bench summary [--baseline LABEL [--targets WINDOW_MS]] FILE.json...
  joy4-bench hls --play http://HOST:PORT/PATH.m3u8 [-n N] [--duration DUR] [--pid PID] [--ll]

Publishes one real-time stream over RTMP, opens N subscribers over RTMP (rtmp://…) or HTTP-FLV
(http://…/x.flv), ramping at --ramp per second, then measures for --duration and stops.

OPTIONS:
  --publish URL       where to publish (rtmp:// only)                       [required]
  --play URL          what subscribers open                        [default: --publish]
  -n, --subscribers N number of subscribers, 1..=10000                   [default: 100]
  --channels K        publish K channels at once, each its own publisher; subscriber i
                      plays channel i % K, named the stream name plus -k      [default: 1]
  --poll URL          fetch this http:// URL (a server's API) every 100 ms during the run
                      and report how long it took to answer
  --ramp R            subscribers opened per second                      [default: 200]
  --duration DUR      measured time after the ramp (10s, 500ms, 2m)       [default: 20s]
  --warmup DUR        publishing before the first subscriber                [default: 3s]
  --settle DUR        pause between the end of the ramp and the window      [default: 1s]
  --input FILE        loop this FLV file in real time instead of the synthetic stream
  --bitrate KBPS      synthetic stream bitrate, kbit/s                  [default: 1000]
  --gop SECONDS       synthetic keyframe interval                          [default: 2]
  --fps N             synthetic frame rate                                [default: 25]
  --pid PID           server process: report its CPU and RSS from /proc
  --json FILE         write every figure as JSON
  --label TEXT        name of this run in JSON and summaries        [default: the host]
  --probes K          subscribers that read without SO_RCVLOWAT; latency comes from them
                                                                            [default: 50]
  --rcvlowat BYTES    SO_RCVLOWAT of the other subscribers after their first keyframe
                      (0 = none: every subscriber is a latency probe)    [default: 16384]
  --readers R         reader threads (epoll)                                [default: 2]
  --connectors C      threads that connect and set up subscribers          [default: 32]
  --timeout DUR       connect/setup timeout per subscriber                 [default: 10s]
  -q, --quiet         no progress lines on stderr
  -h, --help          this text

OUTPUT: one progress line per second on stderr; a table on stdout; --json FILE for machines.
summary: one row per JSON file; --baseline LABEL adds each row's CPU relative to the RTMP run of
the run labelled LABEL with the same N and readers; --targets WINDOW_MS then checks every joy4 row
against that RTMP run and prints met / NOT MET for each target:
  RSS growth   <= 16 KiB per subscriber from N = 1000
  share        min >= 95 %, and no subscriber failed or disconnected
  CPU          N >= 1000: <= 0.35x the baseline's with player readers, <= 0.45x with lowat
               readers; 200 <= N < 1000: <= 0.5x; N < 200: no target (small audiences get a
               write per message, as nginx-rtmp does)
  latency p99  N <= 20: <= the baseline's p99 at the same N and readers + 20 ms;
               N >= 200: <= WINDOW_MS + 30 ms; 20 < N < 200: no target (the merge window grows
               with the audience there)
A joy4 run at an N the baseline has no run at (a scale run) is held to RSS, share and failures.
";

fn main() -> ExitCode {
    let mut args = pico_args::Arguments::from_env();
    if args.contains(["-h", "--help"]) {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = match args.subcommand() {
        Ok(Some(cmd)) if cmd == "summary" => summary(args),
        Ok(Some(cmd)) if cmd == "hls" => hls_viewers(args),
        Ok(Some(other)) => Err(Failure::Usage(format!("unknown command {other:?}"))),
        Ok(None) => bench(args),
        Err(e) => Err(Failure::Usage(e.to_string())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("joy4-bench: {e}\n(joy4-bench --help for usage)");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("joy4-bench: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Run(String),
}

impl From<String> for Failure {
    fn from(e: String) -> Failure {
        Failure::Usage(e)
    }
}

fn opt<T>(
    args: &mut pico_args::Arguments,
    key: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    args.opt_value_from_fn(key, parse)
        .map_err(|e| format!("{key}: {e}"))
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not a valid number"))
}

fn bench(mut args: pico_args::Arguments) -> Result<(), Failure> {
    let publish = opt(&mut args, "--publish", |s| {
        RtmpUrl::parse(s).map_err(|e| e.to_string())
    })?
    .ok_or_else(|| "--publish rtmp://HOST:PORT/APP/STREAM is required".to_string())?;
    let play =
        opt(&mut args, "--play", Target::parse)?.unwrap_or_else(|| Target::Rtmp(publish.clone()));
    let subscribers: usize = match opt(&mut args, "-n", number)? {
        Some(n) => n,
        None => opt(&mut args, "--subscribers", number)?.unwrap_or(100),
    };
    if subscribers > run::MAX_SUBSCRIBERS {
        return Err(format!(
            "{subscribers} subscribers is more than this tool opens (at most {})",
            run::MAX_SUBSCRIBERS
        )
        .into());
    }
    let ramp: f64 = opt(&mut args, "--ramp", number)?.unwrap_or(200.0);
    let duration = opt(&mut args, "--duration", parse_duration)?.unwrap_or(Duration::from_secs(20));
    let warmup = opt(&mut args, "--warmup", parse_duration)?.unwrap_or(Duration::from_secs(3));
    let settle = opt(&mut args, "--settle", parse_duration)?.unwrap_or(Duration::from_secs(1));
    let input: Option<PathBuf> = opt(&mut args, "--input", |s| Ok(PathBuf::from(s)))?;
    let kbps: u32 = opt(&mut args, "--bitrate", number)?.unwrap_or(1000);
    let gop_s: f64 = opt(&mut args, "--gop", number)?.unwrap_or(2.0);
    let fps: u32 = opt(&mut args, "--fps", number)?.unwrap_or(25);
    let pid: Option<u32> = opt(&mut args, "--pid", number)?;
    let json: Option<PathBuf> = opt(&mut args, "--json", |s| Ok(PathBuf::from(s)))?;
    let label: Option<String> = opt(&mut args, "--label", |s| Ok(s.to_string()))?;
    let probes: usize = opt(&mut args, "--probes", number)?.unwrap_or(50);
    let rcvlowat: usize = opt(&mut args, "--rcvlowat", number)?.unwrap_or(16 * 1024);
    let readers: usize = opt(&mut args, "--readers", number)?.unwrap_or(2);
    let connectors: usize = opt(&mut args, "--connectors", number)?.unwrap_or(32);
    let timeout = opt(&mut args, "--timeout", parse_duration)?.unwrap_or(Duration::from_secs(10));
    let channels: usize = opt(&mut args, "--channels", number)?.unwrap_or(1);
    let poll: Option<Target> = opt(&mut args, "--poll", Target::parse)?;
    let quiet = args.contains(["-q", "--quiet"]);
    let rest = args.finish();
    if !rest.is_empty() {
        return Err(format!("unexpected arguments: {rest:?}").into());
    }
    let valid =
        (1..=100_000).contains(&kbps) && gop_s > 0.0 && gop_s <= 60.0 && (1..=240).contains(&fps);
    if !valid {
        return Err(
            "--bitrate is 1..=100000 kbit/s, --gop 0..=60 s, --fps 1..=240"
                .to_string()
                .into(),
        );
    }
    if let Some(pid) = pid {
        if !std::path::Path::new(&format!("/proc/{pid}/stat")).exists() {
            return Err(format!("--pid {pid}: no such process").into());
        }
    }
    let cfg = Config {
        label: label.unwrap_or_else(|| play.host().to_string()),
        publish,
        play,
        channels,
        subscribers,
        poll,
        ramp,
        duration,
        warmup,
        settle,
        source: match input {
            Some(path) => SourceSpec::File(path),
            None => SourceSpec::Synthetic(Synthetic { kbps, gop_s, fps }),
        },
        pid,
        probes,
        rcvlowat,
        readers,
        connectors,
        timeout,
        quiet,
    };
    cfg.check()?;
    let outcome = run::run(cfg).map_err(Failure::Run)?;
    print!("{}", outcome.table);
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&outcome.json).expect("JSON");
        std::fs::write(&path, text + "\n")
            .map_err(|e| Failure::Run(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

fn hls_viewers(mut args: pico_args::Arguments) -> Result<(), Failure> {
    if args.contains(["-h", "--help"]) {
        print!("{}", hls::USAGE);
        return Ok(());
    }
    let play: String = opt(&mut args, "--play", |s| Ok(s.to_string()))?
        .ok_or_else(|| "--play http://HOST:PORT/PATH.m3u8 is required".to_string())?;
    let (host, path) = play
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(_, path)| path.ends_with(".m3u8"))
        .ok_or_else(|| format!("--play {play:?} is not http://HOST:PORT/PATH.m3u8"))?;
    let viewers: usize = match opt(&mut args, "-n", number)? {
        Some(n) => n,
        None => opt(&mut args, "--subscribers", number)?.unwrap_or(100),
    };
    let ramp: f64 = opt(&mut args, "--ramp", number)?.unwrap_or(50.0);
    let duration = opt(&mut args, "--duration", parse_duration)?.unwrap_or(Duration::from_secs(20));
    let pid: Option<u32> = opt(&mut args, "--pid", number)?;
    let json: Option<PathBuf> = opt(&mut args, "--json", |s| Ok(PathBuf::from(s)))?;
    let ll = args.contains("--ll");
    let rest = args.finish();
    if !rest.is_empty() {
        return Err(format!("unexpected arguments: {rest:?}").into());
    }
    let valid = (1..=5000).contains(&viewers)
        && ramp.is_finite()
        && ramp > 0.0
        && !duration.is_zero()
        && duration <= Duration::from_secs(3600);
    if !valid {
        return Err("-n is 1..=5000, --ramp above 0, --duration up to 1h"
            .to_string()
            .into());
    }
    let cfg = hls::HlsConfig {
        host: host.to_string(),
        path: format!("/{path}"),
        viewers,
        ramp,
        duration,
        pid,
        ll,
    };
    let (line, figures) = hls::run(cfg).map_err(Failure::Run)?;
    print!("{line}");
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&figures).expect("JSON");
        std::fs::write(&path, text + "\n")
            .map_err(|e| Failure::Run(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

fn summary(mut args: pico_args::Arguments) -> Result<(), Failure> {
    let baseline: Option<String> = opt(&mut args, "--baseline", |s| Ok(s.to_string()))?;
    let targets_window: Option<u64> = opt(&mut args, "--targets", number)?;
    let files = args.finish();
    if files.is_empty() {
        return Err("summary needs at least one JSON file".to_string().into());
    }
    let mut rows = Vec::new();
    for f in files {
        let path = PathBuf::from(&f);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::Run(format!("{}: {e}", path.display())))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Failure::Run(format!("{}: {e}", path.display())))?;
        rows.push(Row::from_json(&v));
    }
    print!("{}", report::summary_table(&rows, baseline.as_deref()));
    if let (Some(window_ms), Some(base)) = (targets_window, baseline.as_deref()) {
        let targets = report::Targets {
            window_ms: window_ms as f64,
        };
        println!();
        println!(
            "Targets (joy4 rows against {base}'s RTMP row with the same N and readers): {}.",
            targets.describe(base)
        );
        // One verdict per readers model: players are the reference (they are what viewers are).
        let mut models: Vec<&str> = Vec::new();
        for row in &rows {
            if !models.contains(&row.readers.as_str()) {
                models.push(&row.readers);
            }
        }
        for model in models {
            let group: Vec<Row> = rows
                .iter()
                .filter(|r| r.readers == model)
                .cloned()
                .collect();
            let (text, missed) = report::check_targets(&group, "joy4", base, &targets);
            if text.is_empty() {
                continue;
            }
            print!("{text}");
            let what = if model == "player" {
                "player readers (the reference: real viewers are woken for every write)"
            } else {
                "these readers"
            };
            if missed == 0 {
                println!("=> {model}: all targets met for {what}.");
            } else {
                println!("=> {model}: {missed} target(s) not met for {what}.");
            }
        }
    }
    Ok(())
}
