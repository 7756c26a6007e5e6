//! [`RtmpUrl`]: where a client connects, and which app and stream it asks for.

use std::fmt;

/// Default RTMP port.
pub const DEFAULT_PORT: u16 = 1935;

/// `rtmp://host[:port]/app/name?query`, split as ffmpeg splits it: the app is the first path
/// segment and the stream name is the rest (query included); a path of one segment
/// (`rtmp://host/1`) names both the app and the stream (`1`, `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or address, without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
    pub app: String,
    /// The name sent in play/publish, query string included (`abc?token=x`).
    pub name: String,
    /// `rtmp://host[:port]/app`, sent in connect.
    pub tc_url: String,
}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad URL {:?}: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

/// A URL's host and port: `host`, `host:port`, `[v6]`, `[v6]:port`. Used for rtmp:// and
/// http:// URLs alike.
pub fn parse_authority(authority: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in the host".to_string())?;
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("bad IPv6 host [{host}]"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the host"))?,
            ),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".into());
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(format!("bad host {host:?}"));
    }
    let port = match port {
        None => default_port,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => return Err(format!("bad port {p:?} (1 to 65535)")),
        },
    };
    Ok((host.to_string(), port))
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<RtmpUrl, UrlError> {
        let bad = |reason: String| UrlError {
            url: url.to_string(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected rtmp://host[:port]/app/name".into()))?;
        if !scheme.eq_ignore_ascii_case("rtmp") {
            return Err(bad(format!(
                "scheme {scheme:?} is not supported (only rtmp://)"
            )));
        }
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, port) = parse_authority(authority, DEFAULT_PORT).map_err(bad)?;
        let path = path.trim_start_matches('/');
        let (app, name) = match path.split_once('/') {
            Some((app, name)) => (app.to_string(), name.to_string()),
            // ffmpeg: a single segment is the app (without its query) and the stream name.
            None => (
                path.split('?').next().unwrap_or_default().to_string(),
                path.to_string(),
            ),
        };
        if app.is_empty() {
            return Err(bad("the app (first path segment) is missing".into()));
        }
        if name.split('?').next().unwrap_or_default().is_empty() {
            return Err(bad("the stream name is missing".into()));
        }
        let host_part = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let tc_url = if port == DEFAULT_PORT {
            format!("rtmp://{host_part}/{app}")
        } else {
            format!("rtmp://{host_part}:{port}/{app}")
        };
        Ok(RtmpUrl {
            host,
            port,
            app,
            name,
            tc_url,
        })
    }

    /// Where a ReconnectRequest's `tcUrl` sends this stream: absent, the same URL; absolute
    /// (`rtmp://host[:port]/app`); scheme-relative (`//host[:port]/app`); a path (`/app`, same
    /// host and port); or a bare app name. The stream name stays. Any scheme but rtmp:// is
    /// refused.
    pub fn reconnect_target(&self, tc_url: Option<&str>) -> Result<RtmpUrl, UrlError> {
        let tc_url = tc_url.map(str::trim).filter(|t| !t.is_empty());
        let Some(tc_url) = tc_url else {
            return Ok(self.clone());
        };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let base = if tc_url.contains("://") {
            tc_url.to_string()
        } else if let Some(rest) = tc_url.strip_prefix("//") {
            format!("rtmp://{rest}")
        } else {
            let path = tc_url.trim_start_matches('/');
            format!("rtmp://{host}:{}/{path}", self.port)
        };
        RtmpUrl::parse(&format!("{}/{}", base.trim_end_matches('/'), self.name))
    }

    /// The stream name without its query string.
    pub fn stream_name(&self) -> &str {
        self.name.split('?').next().unwrap_or_default()
    }

    /// The query string after the stream name, possibly empty.
    pub fn query(&self) -> &str {
        self.name.split_once('?').map(|(_, q)| q).unwrap_or("")
    }
}

impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tc_url, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::session::channel_path;

    #[test]
    fn a_reconnect_target_is_absolute_relative_or_the_same_and_only_rtmp() {
        let url = RtmpUrl::parse("rtmp://a:1936/live/cam?k=1").unwrap();
        let target = |t: Option<&str>| url.reconnect_target(t).map(|u| u.to_string());
        assert_eq!(target(None).unwrap(), "rtmp://a:1936/live/cam?k=1");
        assert_eq!(target(Some("")).unwrap(), "rtmp://a:1936/live/cam?k=1");
        assert_eq!(
            target(Some("rtmp://b/live")).unwrap(),
            "rtmp://b/live/cam?k=1"
        );
        assert_eq!(
            target(Some("//b:2000/app2/")).unwrap(),
            "rtmp://b:2000/app2/cam?k=1"
        );
        assert_eq!(target(Some("/app2")).unwrap(), "rtmp://a:1936/app2/cam?k=1");
        assert_eq!(target(Some("app2")).unwrap(), "rtmp://a:1936/app2/cam?k=1");
        for refused in ["http://b/live", "rtmps://b/live", "file:///etc"] {
            assert!(target(Some(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn urls_split_like_ffmpeg() {
        let u = RtmpUrl::parse("rtmp://example.com/live/abc?token=x").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.app.as_str(), u.name.as_str()),
            ("example.com", 1935, "live", "abc?token=x")
        );
        assert_eq!(u.tc_url, "rtmp://example.com/live");
        assert_eq!((u.stream_name(), u.query()), ("abc", "token=x"));

        let u = RtmpUrl::parse("rtmp://127.0.0.1:19350/1").unwrap();
        assert_eq!((u.app.as_str(), u.name.as_str()), ("1", "1"));
        assert_eq!(u.tc_url, "rtmp://127.0.0.1:19350/1");
        assert_eq!(
            channel_path(&u.app, u.stream_name()),
            "1",
            "joy4 maps app == name to the channel of that name"
        );

        let u = RtmpUrl::parse("RTMP://[::1]:1936/app/a/b").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1936));
        assert_eq!((u.app.as_str(), u.name.as_str()), ("app", "a/b"));
        assert_eq!(u.tc_url, "rtmp://[::1]:1936/app");
        assert_eq!(u.to_string(), "rtmp://[::1]:1936/app/a/b");
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for (url, why) in [
            ("http://host/live/abc", "scheme"),
            ("rtmps://host/live/abc", "scheme"),
            ("host/live/abc", "expected"),
            ("rtmp:///live/abc", "host"),
            ("rtmp://:1935/live/abc", "host"),
            ("rtmp://host:0/live/abc", "port"),
            ("rtmp://host:70000/live/abc", "port"),
            ("rtmp://host:12a/live/abc", "port"),
            ("rtmp://host:/live/abc", "port"),
            ("rtmp://ho st/live/abc", "host"),
            ("rtmp://[::1/live/abc", "unclosed"),
            ("rtmp://host", "app"),
            ("rtmp://host/", "app"),
            ("rtmp://host/live/", "name"),
            ("rtmp://host/live/?x=1", "name"),
        ] {
            let err = RtmpUrl::parse(url).expect_err(url);
            assert!(err.reason.contains(why), "{url}: {err}");
        }
    }
}
