//! `docs/joy4.service`: `systemd-analyze verify` accepts it (skipped, with the reason printed,
//! where systemd-analyze is missing); its descriptor and task limits fit its -maxconnections; its
//! system-call filter allows what joy4 calls; its flags start joy4.
mod support;

use std::path::Path;
use std::process::Command;

use support::*;

fn unit_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/joy4.service"))
        .expect("read docs/joy4.service")
}

/// Every value of `key=` in the unit, in order.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
        .collect()
}

fn one<'a>(unit: &'a str, key: &str) -> &'a str {
    match values(unit, key).as_slice() {
        [v] => v,
        other => panic!("{key}= should be set once, is {other:?}"),
    }
}

fn exec_args(unit: &str) -> Vec<String> {
    one(unit, "ExecStart")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn systemd_analyze() -> Option<&'static str> {
    let path = "/usr/bin/systemd-analyze";
    if Path::new(path).exists() {
        Some(path)
    } else {
        println!("skipped: {path} is missing (scripts/test.sh installs the systemd package)");
        None
    }
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let dir = TestDir::new();
    let unit = unit_text().replace("/usr/local/bin/joy4", BIN);
    let path = dir.file("joy4.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "warning")
        .output()
        .expect("run systemd-analyze verify");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Outside a booted systemd (a container, CI) verify cannot reach the manager's other units:
    // only what it says about this file counts.
    let about_unit: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("joy4.service"))
        .collect();
    assert!(
        out.status.success() && about_unit.is_empty(),
        "systemd-analyze verify: {:?}\n{stderr}",
        out.status
    );
}

#[test]
fn the_limits_fit_the_connections_and_the_sandbox_is_on() {
    let unit = unit_text();
    let max_connections: u64 = exec_args(&unit)
        .iter()
        .find_map(|a| a.strip_prefix("-maxconnections="))
        .expect("ExecStart sets -maxconnections")
        .parse()
        .unwrap();
    let nofile: u64 = one(&unit, "LimitNOFILE").parse().unwrap();
    // Two descriptors per media connection, 4096 API connections, 256 more (see the unit).
    assert!(
        nofile >= 2 * max_connections + 4096 + 256,
        "LimitNOFILE={nofile} for -maxconnections={max_connections}"
    );
    let tasks: u64 = one(&unit, "TasksMax").parse().unwrap();
    assert!(tasks >= max_connections + 4096 + 100, "TasksMax={tasks}");
    for (key, want) in [
        ("User", "joy4"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        ("EnvironmentFile", "/etc/joy4/joy4.env"),
        ("StateDirectory", "joy4"),
        ("CapabilityBoundingSet", ""),
    ] {
        assert_eq!(one(&unit, key), want, "{key}");
    }
    assert!(
        !one(&unit, "ExecStart").contains("apitoken"),
        "the token comes from the environment file, not the command line"
    );
}

/// The system calls in a `@group` (recursively) as systemd-analyze lists them.
fn expand(analyze: &str, group: &str, out: &mut std::collections::HashSet<String>) {
    let listing = Command::new(analyze)
        .args(["syscall-filter", group])
        .output()
        .expect("systemd-analyze syscall-filter");
    let text = String::from_utf8_lossy(&listing.stdout);
    for line in text.lines().skip(1) {
        let item = line.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            expand(analyze, item, out);
        } else {
            out.insert(item.to_string());
        }
    }
}

#[test]
fn the_system_call_filter_allows_what_joy4_calls() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let unit = unit_text();
    let mut allowed = std::collections::HashSet::new();
    let mut denied = std::collections::HashSet::new();
    for filter in values(&unit, "SystemCallFilter") {
        let (deny, list) = match filter.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, filter),
        };
        for item in list.split_whitespace() {
            let set = if deny { &mut denied } else { &mut allowed };
            if item.starts_with('@') {
                expand(analyze, item, set);
            } else {
                set.insert(item.to_string());
            }
        }
    }
    assert!(allowed.len() > 100, "{allowed:?}");
    // What joy4 calls beyond plain file and socket I/O: the zero-copy fan-out (pipe2, tee,
    // splice), a viewer's wake-ups (SIGURG sent with tgkill into ppoll), the relays' epoll,
    // raising its open-file limit (prlimit64 behind setrlimit), threads (clone3, prctl for their
    // names), the signals it waits for at shutdown.
    for call in [
        "pipe2",
        "tee",
        "splice",
        "tgkill",
        "rt_sigaction",
        "rt_sigprocmask",
        "prctl",
        "fcntl",
        "shutdown",
        "ppoll",
        "poll",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "prlimit64",
        "setrlimit",
        "clone3",
        "sendmsg",
        "writev",
        "setsockopt",
        "accept4",
        "rt_sigtimedwait",
        "sched_getaffinity",
        "getrandom",
    ] {
        assert!(
            allowed.contains(call) && !denied.contains(call),
            "{call} is not allowed by SystemCallFilter"
        );
    }
}

#[test]
fn the_units_flags_start_joy4() {
    // The listeners are the test's own (ephemeral ports); every other flag is the unit's.
    let args = exec_args(&unit_text());
    let rest: Vec<&str> = args[1..]
        .iter()
        .map(String::as_str)
        .filter(|a| {
            !["-rtmp=", "-http=", "-httpapi="]
                .iter()
                .any(|f| a.starts_with(f))
        })
        .collect();
    assert!(!rest.is_empty());
    let server = Server::start(&rest);
    let (status, _) = support::api::get(server.api_addr, "/stat");
    assert_eq!(status, 200, "{}", server.describe());
}
