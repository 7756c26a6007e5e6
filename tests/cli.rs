//! The command line: help, version, flag forms, and the errors for bad flags and busy ports.
mod support;

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use support::*;

const FLAGS: &[&str] = &[
    "rtmp",
    "http",
    "httpapi",
    "httpcallback",
    "rtmpcheckparams",
    "watchpage",
    "loglevel",
];

/// `text` mentions `-NAME` as a whole flag (so `-http` does not match inside `-httpapi`).
fn mentions_flag(text: &str, name: &str) -> bool {
    let needle = format!("-{name}");
    text.match_indices(&needle).any(|(i, _)| {
        let after = text[i + needle.len()..].chars().next();
        !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '_')
    })
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
}

#[test]
fn help_lists_every_flag_with_its_default_and_exits_0() {
    for arg in ["-h", "--help"] {
        let out = run_joy4(&[arg], Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(0), "joy4 {arg}: {out:?}");
        for flag in FLAGS {
            assert!(
                mentions_flag(&out.stdout, flag),
                "joy4 {arg} does not mention -{flag} on stdout:\n{}",
                out.stdout
            );
        }
        for default in [":1935", ":8081", ":8080"] {
            assert!(
                out.stdout.contains(default),
                "joy4 {arg} does not show the default {default}:\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn version_prints_name_and_version() {
    let out = run_joy4(&["--version"], Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        out.stdout.trim(),
        format!("joy4 {}", env!("CARGO_PKG_VERSION")),
        "{out:?}"
    );
}

#[test]
fn unknown_flag_exits_2_with_a_one_line_error_and_usage() {
    for args in [
        &["-bogus=1"][..],
        &["--nosuchflag"][..],
        &["-rtmp=127.0.0.1:0", "-frobnicate"][..],
    ] {
        let out = run_joy4(args, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "joy4 {args:?}: {out:?}");
        let name = args
            .last()
            .unwrap()
            .trim_start_matches('-')
            .split('=')
            .next()
            .unwrap();
        assert!(
            first_line(&out.stderr).contains(name),
            "joy4 {args:?}: first stderr line should name {name}:\n{}",
            out.stderr
        );
        assert!(
            mentions_flag(&out.stderr, "rtmp"),
            "joy4 {args:?}: no usage on stderr:\n{}",
            out.stderr
        );
    }
}

#[test]
fn bad_address_exits_2_naming_the_flag() {
    for (args, flag) in [
        (&["-rtmp=nonsense"][..], "rtmp"),
        (&["-http=:99999"][..], "http"),
        (&["-httpapi=127.0.0.1"][..], "httpapi"),
        (&["--rtmp", "nonsense"][..], "rtmp"),
    ] {
        let out = run_joy4(args, Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "joy4 {args:?}: {out:?}");
        assert!(
            mentions_flag(first_line(&out.stderr), flag),
            "joy4 {args:?}: first stderr line should name -{flag}:\n{}",
            out.stderr
        );
        assert!(
            mentions_flag(&out.stderr, "httpcallback"),
            "joy4 {args:?}: no usage on stderr:\n{}",
            out.stderr
        );
    }
}

#[test]
fn port_in_use_exits_1_naming_the_flag_and_address() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    for flag in ["rtmp", "http", "httpapi"] {
        let mut args: Vec<String> = ["rtmp", "http", "httpapi"]
            .iter()
            .map(|f| format!("-{f}=127.0.0.1:0"))
            .collect();
        for a in args.iter_mut() {
            if a.starts_with(&format!("-{flag}=")) {
                *a = format!("-{flag}={addr}");
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_joy4(&refs, Duration::from_secs(10));
        assert_eq!(
            out.status.code(),
            Some(1),
            "joy4 {args:?} with {addr} taken: {out:?}"
        );
        let line = first_line(&out.stderr);
        assert!(
            mentions_flag(line, flag) && line.contains(&addr),
            "first stderr line should name -{flag} and {addr}:\n{}",
            out.stderr
        );
    }
    drop(busy);
}

#[test]
fn double_dash_flags_with_equals_and_with_space_work() {
    let args: Vec<String> = [
        "--rtmp",
        "127.0.0.1:0",
        "--http=127.0.0.1:0",
        "--httpapi",
        "127.0.0.1:0",
        "--loglevel=debug",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"));
    for (kind, addr) in &server.listening {
        assert!(
            addr.ip().is_loopback() && addr.port() != 0,
            "{kind} listening on {addr}"
        );
    }
    for addr in [server.rtmp_addr, server.http_addr, server.api_addr] {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    }
}

#[test]
fn colon_port_binds_all_interfaces() {
    let args: Vec<String> = ["-rtmp=:0", "-http=:0", "-httpapi=:0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let server = Server::start_args(&args).unwrap_or_else(|e| panic!("{e}"));
    for (kind, addr) in &server.listening {
        assert!(
            addr.ip().is_unspecified(),
            "{kind} given as :0 listens on {addr}, not on all interfaces"
        );
        assert_ne!(addr.port(), 0);
    }
    TcpStream::connect_timeout(&server.rtmp_addr, Duration::from_secs(2))
        .expect("connect to rtmp via loopback");
    let r = http_get(server.http_addr, "/nothing.flv").expect("HTTP via loopback");
    assert_eq!(r.head.status, 404);
}

#[test]
fn flags_of_later_features_are_accepted() {
    let mut server = Server::start(&["-httpcallback=http://127.0.0.1:9/cb", "-rtmpcheckparams"]);
    server.assert_alive("with -httpcallback and -rtmpcheckparams");
    let r = http_get(server.http_addr, "/nothing.flv").expect("HTTP listener answers");
    assert_eq!(r.head.status, 404);
}
