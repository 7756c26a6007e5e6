//! `joy4 -httpapi=:8080 -http=:8081 -rtmp=:1935`: parse flags, start logging, bind the three
//! listeners, serve.

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use joy4::config::{self, Command, Config, ListenAddr};
use joy4::http::api::{Api, ApiOptions, CallbackCounters};
use joy4::http::callback::CallbackSender;
use joy4::http::events::{EventBroadcaster, FanOut};
use joy4::hub::{BufferLimits, EventSink, Hub, HubSettings, ServerCounters};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match config::parse_args(args) {
        Err(e) => {
            eprintln!("joy4: {e}");
            eprint!("{}", config::usage());
            ExitCode::from(2)
        }
        Ok(Command::Help) => {
            print!("{}", config::usage());
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("joy4 {}", config::VERSION);
            ExitCode::SUCCESS
        }
        Ok(Command::Run(mut config)) => {
            if let Err(e) = config.apply_env(|name| std::env::var(name).ok()) {
                eprintln!("joy4: {e}");
                return ExitCode::from(2);
            }
            run(*config)
        }
    }
}

fn bind(flag: &str, addr: &ListenAddr) -> Result<TcpListener, ExitCode> {
    let listener = addr.bind().map_err(|e| {
        eprintln!("joy4: flag -{flag}: cannot listen on {addr}: {e}");
        ExitCode::from(1)
    })?;
    if let Err(e) = joy4::net::widen_backlog(&listener) {
        log::warn!("-{flag}: the listen queue stays at the default length: {e}");
    }
    Ok(listener)
}

fn run(config: Config) -> ExitCode {
    // Before any thread starts: every thread inherits the blocked signals, so only the wait at
    // the end of this function takes them.
    let signals = joy4::net::ShutdownSignals::block()
        .map_err(|e| {
            eprintln!("joy4: cannot block SIGTERM and SIGINT ({e}); they end joy4 at once")
        })
        .ok();
    let log_config = simplelog::ConfigBuilder::new()
        .set_thread_level(log::LevelFilter::Off)
        .set_target_level(log::LevelFilter::Off)
        .add_filter_ignore_str("tiny_http")
        .add_filter_ignore_str("ureq")
        .build();
    let _ =
        simplelog::WriteLogger::init(config.log_level.to_filter(), log_config, std::io::stderr());

    // One allocator heap per core (not glibc's eight), shared by all connection threads.
    joy4::net::limit_malloc_arenas(
        std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
    );

    // Every subscriber is a socket: take as many descriptors as the hard limit allows.
    let fd_limit = match joy4::net::raise_fd_limit() {
        Ok((n, _)) if n < 16_384 => {
            log::warn!(
                "open-file limit is {n} (hard limit); joy4 can serve about that many connections"
            );
            Some(n)
        }
        Ok((n, _)) => {
            log::debug!("open-file limit {n}");
            Some(n)
        }
        Err(e) => {
            log::warn!("cannot raise the open-file limit: {e}");
            None
        }
    };
    // A connection holds one descriptor, its socket (a viewer's wake-up is a signal, not an
    // eventfd); keep some for the API, callbacks, relays and files.
    let max_connections = config
        .max_connections
        .unwrap_or_else(|| fd_limit.map_or(10_000, |n| n.saturating_sub(256).max(64) as usize));

    let listeners = (|| {
        Ok::<_, ExitCode>((
            bind("rtmp", &config.rtmp)?,
            bind("http", &config.http)?,
            bind("httpapi", &config.httpapi)?,
        ))
    })();
    let (rtmp, http, api) = match listeners {
        Ok(l) => l,
        Err(code) => return code,
    };
    // Handles of the same three sockets, to stop them at shutdown.
    let stop_handles: Vec<TcpListener> = [&rtmp, &http, &api]
        .into_iter()
        .filter_map(|l| l.try_clone().ok())
        .collect();

    let callback = config.httpcallback.clone().map(CallbackSender::start);
    // Every event goes to the callback sender (if any) and to the readers of the API's /events.
    let broadcaster = Arc::new(EventBroadcaster::new());
    let mut sinks: Vec<Arc<dyn EventSink>> = vec![broadcaster.clone()];
    if let Some(sender) = &callback {
        sinks.insert(0, sender.clone());
    }
    // The recorder sends recordDone to the callbacks and /events, and hears of publishers as one
    // more sink of the hub's events.
    let recorder = config.record.dir.clone().map(|dir| {
        let recorder = joy4::record::Recorder::start(
            record_settings(&config.record, dir),
            Arc::new(FanOut(sinks.clone())),
        );
        sinks.push(recorder.clone());
        recorder
    });
    let events: Arc<dyn EventSink> = Arc::new(FanOut(sinks));
    let settings = HubSettings {
        limits: BufferLimits {
            max_bytes: Some(config.buffer_size),
            max_duration_ms: config
                .buffer_duration
                .map(|d| d.as_millis().min(u32::MAX as u128) as u32),
            max_gops: Some(config.buffer_gop_count),
        },
        check_params: config.rtmp_check_params,
        check_timeout: config.check_timeout,
        publisher_grace: config.publisher_grace,
        merge_window: config.merge_write,
        ..HubSettings::default()
    };
    let hub = Hub::new(settings, events);
    if !config.origins.is_empty() {
        joy4::relay::install_edge(&hub, config.origins.clone(), config.max_pulls);
        log::info!(
            "edge mode: unknown channels are pulled from {}",
            config.origins.join(", ")
        );
    }
    if let Some(sender) = &callback {
        sender.attach_hub(&hub);
    }
    if let Some(recorder) = &recorder {
        recorder.attach_hub(&hub);
    }

    let api_options = ApiOptions {
        token: config.api_token.clone(),
        cors_origins: config.api_cors.clone(),
        callback: callback
            .clone()
            .map(|sender| sender as Arc<dyn CallbackCounters>),
        events: Some(broadcaster),
        recorder: recorder.clone(),
    };
    let api_handler = Arc::new(Api::with_options(hub.clone(), api_options));

    // Tests and scripts read these lines to learn the ports (`:0` picks a free one).
    {
        let mut out = std::io::stdout().lock();
        for (name, listener) in [("rtmp", &rtmp), ("http", &http), ("httpapi", &api)] {
            if let Ok(addr) = listener.local_addr() {
                let _ = writeln!(out, "listening {name} {addr}");
            }
        }
        let _ = out.flush();
    }
    log::info!(
        "joy4 {} serving rtmp on {}, http-flv on {}, api on {}",
        config::VERSION,
        config.rtmp,
        config.http,
        config.httpapi
    );

    let refused_hub = hub.clone();
    let bad_proxy_hub = hub.clone();
    let proxy = config.proxy_protocol.clone().map(Arc::new);
    if let Some(trust) = &proxy {
        let ranges: Vec<String> = trust.ranges().iter().map(|r| r.to_string()).collect();
        log::info!(
            "peers in {} must open with a PROXY protocol header",
            ranges.join(", ")
        );
    }
    let policy = joy4::net::AcceptPolicy {
        limits: joy4::net::ConnectionLimits::new(max_connections, config.max_conn_per_ip),
        on_refused: Arc::new(move || {
            ServerCounters::add(&refused_hub.counters.refused_connections)
        }),
        proxy: proxy.clone(),
        on_bad_proxy_header: Arc::new(move || {
            ServerCounters::add(&bad_proxy_hub.counters.bad_proxy_headers)
        }),
    };
    log::info!(
        "at most {max_connections} media connections{}",
        match config.max_conn_per_ip {
            0 => String::new(),
            n => format!(", {n} per client address"),
        }
    );
    let connections = policy.limits.clone();
    let hls_settings = joy4::hls::SegmenterSettings {
        fragment_ms: config.hls_fragment.as_millis().min(u32::MAX as u128) as u32,
        window: config.hls_window,
        variant: config.hls_variant,
        part_ms: config.hls_part.as_millis().min(u32::MAX as u128) as u32,
    };
    let rtmp_hub = hub.clone();
    let flv_hub = hub.clone();
    let rtmp_policy = policy.clone();
    let started = joy4::net::spawn("rtmp-accept".into(), 256 * 1024, move || {
        joy4::rtmp_server::serve(rtmp, rtmp_hub, rtmp_policy)
    })
    .and_then(|_| {
        joy4::net::spawn("flv-accept".into(), 256 * 1024, move || {
            joy4::http::media_port::serve(http, flv_hub, policy, config.watch_page, hls_settings)
        })
    });
    if let Err(e) = started {
        eprintln!("joy4: cannot start listener threads: {e}");
        return ExitCode::from(1);
    }
    let api_thread = joy4::net::spawn("api".into(), 256 * 1024, move || {
        joy4::http::api::serve(api, api_handler, proxy)
    });
    let api_thread = match api_thread {
        Ok(t) => t,
        Err(e) => {
            eprintln!("joy4: cannot start the API thread: {e}");
            return ExitCode::from(1);
        }
    };
    let signal = match signals.as_ref().map(|s| s.wait()) {
        Some(Ok(signal)) => signal,
        Some(Err(e)) => {
            log::error!("cannot wait for signals: {e}; serving until killed");
            let _ = api_thread.join();
            return ExitCode::SUCCESS;
        }
        None => {
            let _ = api_thread.join();
            return ExitCode::SUCCESS;
        }
    };
    let shutdown = Shutdown {
        listeners: stop_handles,
        hub,
        recorder,
        connections,
        callback,
    };
    shutdown.run(signal, signals);
    ExitCode::SUCCESS
}

/// The recorder's settings from the recording flags.
fn record_settings(
    flags: &config::RecordFlags,
    dir: std::path::PathBuf,
) -> joy4::record::RecordSettings {
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    joy4::record::RecordSettings {
        all: flags.all,
        format: joy4::record::RecordFormat::parse(&flags.format)
            .unwrap_or(joy4::record::RecordFormat::Fmp4),
        segment: flags.segment,
        part: flags.part,
        delete_after: nonzero(flags.delete_after),
        max_bytes: (flags.max_bytes > 0).then_some(flags.max_bytes),
        ..joy4::record::RecordSettings::new(dir)
    }
}

/// The most a graceful shutdown takes: telling the clients, and delivering the close callbacks.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// What a graceful shutdown acts on.
struct Shutdown {
    /// Handles of the RTMP, media-port and API listening sockets.
    listeners: Vec<TcpListener>,
    hub: Arc<Hub>,
    recorder: Option<Arc<joy4::record::Recorder>>,
    /// Open media connections (RTMP and media port).
    connections: Arc<joy4::net::ConnectionLimits>,
    callback: Option<Arc<CallbackSender>>,
}

impl Shutdown {
    /// Stop accepting, close every stream and channel (clients get their goodbyes), deliver the
    /// close callbacks, all within `SHUTDOWN_LIMIT`. A second signal meanwhile exits at once,
    /// with status 128 + its number (143 for SIGTERM, 130 for SIGINT), as a shell reports a
    /// process killed by that signal.
    fn run(self, signal: libc::c_int, signals: Option<joy4::net::ShutdownSignals>) {
        use joy4::net::signals::signal_name;
        let deadline = Instant::now() + SHUTDOWN_LIMIT;
        log::info!(
            "{}: shutting down within {SHUTDOWN_LIMIT:?} (a second signal exits at once)",
            signal_name(signal)
        );
        if let Some(signals) = signals {
            let waiter = joy4::net::spawn("signals".into(), 64 * 1024, move || {
                if let Ok(second) = signals.wait() {
                    log::warn!("{}: exiting at once", signal_name(second));
                    std::process::exit(128 + second);
                }
            });
            if let Err(e) = waiter {
                log::warn!("cannot watch for a second signal: {e}");
            }
        }
        for listener in &self.listeners {
            if let Err(e) = joy4::net::stop_listener(listener) {
                log::warn!("cannot stop a listener: {e}");
            }
        }
        // Recordings close their files first (reason `shutdown`), so their recordDone events
        // are queued with the others.
        if let Some(recorder) = &self.recorder {
            recorder.shutdown();
        }
        let (streams, channels) = self.hub.shutdown();
        log::info!("shutdown: {streams} streams and {channels} channels closed");
        if let Some(recorder) = &self.recorder {
            match recorder.wait(deadline) {
                0 => log::info!("shutdown: recordings closed"),
                n => log::warn!("shutdown: {n} recordings still writing at the time limit"),
            }
        }
        // Every close event is queued by now: deliver them. Meanwhile each connection's thread
        // writes its goodbye and closes; then wait for those still at it, in the time left.
        if let Some(callback) = &self.callback {
            match callback.drain(deadline) {
                0 => log::info!("shutdown: callbacks delivered"),
                n => log::warn!("shutdown: {n} callback events not delivered in time"),
            }
        }
        while self.connections.open() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let open = self.connections.open();
        if open > 0 {
            log::warn!("shutdown: {open} connections still open at the time limit");
        }
        log::info!("shutdown complete");
    }
}
