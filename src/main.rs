//! `joy4 -httpapi=:8080 -http=:8081 -rtmp=:1935`: parse flags, start logging, bind the three
//! listeners, serve.

use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

use joy4::config::{self, Command, Config, ListenAddr};
use joy4::http::callback::CallbackSender;
use joy4::hub::{BufferLimits, EventSink, Hub, HubSettings, NoEvents};

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
        Ok(Command::Run(config)) => run(*config),
    }
}

fn bind(flag: &str, addr: &ListenAddr) -> Result<TcpListener, ExitCode> {
    addr.bind().map_err(|e| {
        eprintln!("joy4: flag -{flag}: cannot listen on {addr}: {e}");
        ExitCode::from(1)
    })
}

fn run(config: Config) -> ExitCode {
    let log_config = simplelog::ConfigBuilder::new()
        .set_thread_level(log::LevelFilter::Off)
        .set_target_level(log::LevelFilter::Off)
        .add_filter_ignore_str("tiny_http")
        .add_filter_ignore_str("ureq")
        .build();
    let _ =
        simplelog::WriteLogger::init(config.log_level.to_filter(), log_config, std::io::stderr());

    // Every subscriber is a socket: take as many descriptors as the hard limit allows.
    match joy4::net::raise_fd_limit() {
        Ok((n, _)) if n < 16_384 => log::warn!(
            "open-file limit is {n} (hard limit); joy4 can serve about that many connections"
        ),
        Ok((n, _)) => log::debug!("open-file limit {n}"),
        Err(e) => log::warn!("cannot raise the open-file limit: {e}"),
    }

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

    let callback = config.httpcallback.clone().map(CallbackSender::start);
    let events: Arc<dyn EventSink> = match &callback {
        Some(sender) => sender.clone(),
        None => Arc::new(NoEvents),
    };
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
    if let Some(origin) = &config.origin {
        joy4::relay::install_edge(&hub, origin.clone());
        log::info!("edge mode: unknown channels are pulled from {origin}");
    }
    if let Some(sender) = &callback {
        sender.attach_hub(&hub);
    }

    let api_server = match tiny_http::Server::from_listener(api, None) {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "joy4: flag -httpapi: cannot serve on {}: {e}",
                config.httpapi
            );
            return ExitCode::from(1);
        }
    };

    // Tests and scripts read these lines to learn the ports (`:0` picks a free one).
    {
        let mut out = std::io::stdout().lock();
        for (name, listener) in [("rtmp", &rtmp), ("http", &http)] {
            if let Ok(addr) = listener.local_addr() {
                let _ = writeln!(out, "listening {name} {addr}");
            }
        }
        if let Some(addr) = api_server.server_addr().to_ip() {
            let _ = writeln!(out, "listening httpapi {addr}");
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

    let hls_settings = joy4::hls::SegmenterSettings {
        fragment_ms: config.hls_fragment.as_millis().min(u32::MAX as u128) as u32,
        window: config.hls_window,
    };
    let rtmp_hub = hub.clone();
    let flv_hub = hub.clone();
    let started = joy4::net::spawn("rtmp-accept".into(), 256 * 1024, move || {
        joy4::rtmp::conn::serve(rtmp, rtmp_hub)
    })
    .and_then(|_| {
        joy4::net::spawn("flv-accept".into(), 256 * 1024, move || {
            joy4::http::media_port::serve_with_hls(http, flv_hub, hls_settings)
        })
    });
    if let Err(e) = started {
        eprintln!("joy4: cannot start listener threads: {e}");
        return ExitCode::from(1);
    }
    joy4::http::api::serve(api_server, hub, config.api_token.clone());
    ExitCode::SUCCESS
}
