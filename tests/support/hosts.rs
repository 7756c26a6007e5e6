//! Test hosts on one machine: network namespaces, each with one veth link to a bridge in a
//! namespace of its own (the switch). Addresses are private (10.99.0.0/24) and exist only
//! inside the test's namespaces; the root namespace gets no address and no route. A host's
//! link can be taken down at the switch, which its peers see as silence (no FIN, no RST).
//! Everything is deleted when the [`Lan`] is dropped, a failed test included.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{Server, BIN};

/// The namespaces of one test: the switch and its hosts. Dropping it deletes them all.
pub struct Lan {
    switch: String,
    namespaces: Vec<String>,
}

/// One test host: a namespace with `eth0` at `ip`.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub ns: String,
    pub ip: Ipv4Addr,
    /// The switch side of its link.
    port: String,
    switch: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Lan {
    /// A switch and one host per name (10.99.0.1, .2, ...). `Err` says why namespaces cannot
    /// be made here (not root, no iproute2, no veth/bridge support): the caller skips.
    pub fn new(names: &[&str]) -> Result<(Lan, Vec<Host>), String> {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            RUN.fetch_add(1, Ordering::Relaxed)
        );
        let switch = format!("j4sw{tag}");
        let mut lan = Lan {
            switch: switch.clone(),
            namespaces: Vec::new(),
        };
        ip(&["netns", "add", &switch])?;
        lan.namespaces.push(switch.clone());
        ip(&["-n", &switch, "link", "set", "lo", "up"])?;
        ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        let mut hosts = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let ns = format!("j4{tag}{name}");
            ip(&["netns", "add", &ns])?;
            lan.namespaces.push(ns.clone());
            // Interface names are at most 15 bytes: short, unique within the run.
            let (inner, port) = (format!("j4h{tag}x{i}"), format!("j4s{tag}x{i}"));
            ip(&[
                "link", "add", &inner, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &switch,
            ])?;
            ip(&["-n", &switch, "link", "set", &port, "master", "br0", "up"])?;
            let addr = Ipv4Addr::new(10, 99, 0, i as u8 + 1);
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "link", "set", &inner, "name", "eth0"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            hosts.push(Host {
                name: name.to_string(),
                ns,
                ip: addr,
                port,
                switch: switch.clone(),
            });
        }
        Ok((lan, hosts))
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Hosts first (their links go with them), the switch last.
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

impl Host {
    /// `program` run inside this host.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, program]);
        cmd
    }

    /// joy4 on this host: RTMP on :1935, media on :8081, the API on :8080, at its address.
    pub fn start_joy4(&self, extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec![
            format!("-rtmp={}:1935", self.ip),
            format!("-http={}:8081", self.ip),
            format!("-httpapi={}:8080", self.ip),
            "-loglevel=debug".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = self.command(BIN);
        cmd.args(&args);
        Server::start_command(cmd, &args)
            .unwrap_or_else(|e| panic!("joy4 on host {}: {e}", self.name))
    }

    /// Take the host's link down at the switch: its peers hear nothing more from it, and it
    /// from them (no FIN, no RST).
    pub fn cut_link(&self) {
        ip(&["-n", &self.switch, "link", "set", &self.port, "down"]).expect("link down");
    }

    /// `curl` from this host: the body, if the request succeeded within `timeout`.
    pub fn curl(&self, url: &str, timeout: Duration) -> Option<String> {
        let out = self
            .command("curl")
            .args([
                "-sf",
                "--max-time",
                &format!("{:.1}", timeout.as_secs_f64()),
                url,
            ])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A GET of a JSON document from this host.
    pub fn get_json(&self, url: &str) -> Option<Value> {
        serde_json::from_str(&self.curl(url, Duration::from_secs(5))?).ok()
    }

    /// A POST of a JSON body from this host: the answer's body.
    pub fn post_json(&self, url: &str, body: &Value, timeout: Duration) -> Option<Value> {
        let out = self
            .command("curl")
            .args(["-s", "--max-time", &format!("{:.1}", timeout.as_secs_f64())])
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string())
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        serde_json::from_str(&String::from_utf8_lossy(&out.stdout)).ok()
    }
}
