//! Browser rules for the API: which pages may call it, and in what form.
//!
//! A state-changing route (every POST) needs `Content-Type: application/json`. A browser can only
//! send that cross-origin after a CORS preflight, so a foreign page cannot slip a "simple"
//! `text/plain` POST past the API. The preflight (and the POST itself) is allowed only for the
//! origins listed in `-apicors`; a POST that carries any other `Origin` is refused outright, so
//! even a browser that skips preflights cannot steer the server. `GET` answers (stats, metrics,
//! documents) stay readable from any origin: they change nothing, and the token still applies.

use super::render::ApiError;
use super::Cors;

/// The origins of `-apicors`.
#[derive(Debug, Clone, Default)]
pub(super) struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub(super) fn new(origins: Vec<String>) -> CorsPolicy {
        CorsPolicy { origins }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }

    /// The CORS answer for a state-changing route called with `origin`.
    pub(super) fn for_state_change(&self, origin: Option<&str>) -> Cors {
        match origin {
            Some(o) if self.allows(o) => Cors::Origin(o.to_string()),
            _ => Cors::Denied,
        }
    }

    /// Refuse a state-changing request from a page whose origin is not listed. Requests without an
    /// `Origin` header (curl, scripts, servers) are not from a browser page and pass.
    pub(super) fn check_origin(&self, origin: Option<&str>) -> Result<(), ApiError> {
        match origin {
            Some(o) if !self.allows(o) => Err(ApiError::new(
                403,
                "OriginNotAllowed",
                format!("pages from {o} may not change the server (see -apicors)"),
            )),
            _ => Ok(()),
        }
    }
}

/// A state-changing request must declare a JSON body (`application/json`, any parameters).
pub(super) fn check_json_content_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let media_type = content_type
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if media_type.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    let given = if media_type.is_empty() {
        "no Content-Type".to_string()
    } else {
        format!("Content-Type {media_type}")
    };
    Err(ApiError::new(
        415,
        "UnsupportedMediaType",
        format!("this route takes 'Content-Type: application/json', not {given}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_pass() {
        assert!(check_json_content_type(Some("application/json")).is_ok());
        assert!(check_json_content_type(Some("Application/JSON; charset=utf-8")).is_ok());
        for bad in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/jsonx"),
        ] {
            assert_eq!(check_json_content_type(bad).unwrap_err().status, 415);
        }
        assert!(check_json_content_type(Some("application/x-www-form-urlencoded")).is_err());
    }

    #[test]
    fn only_listed_origins_may_change_the_server() {
        let none = CorsPolicy::default();
        assert!(none.check_origin(None).is_ok());
        assert_eq!(
            none.check_origin(Some("http://evil.example"))
                .unwrap_err()
                .err,
            "OriginNotAllowed"
        );
        assert_eq!(none.for_state_change(Some("http://a")), Cors::Denied);
        let listed = CorsPolicy::new(vec!["https://ops.example".into()]);
        assert!(listed.check_origin(Some("https://ops.example")).is_ok());
        assert!(listed
            .check_origin(Some("https://ops.example.evil"))
            .is_err());
        assert!(listed.check_origin(Some("null")).is_err());
        assert_eq!(
            listed.for_state_change(Some("https://ops.example")),
            Cors::Origin("https://ops.example".into())
        );
        let any = CorsPolicy::new(vec!["*".into()]);
        assert!(any.check_origin(Some("http://x")).is_ok());
    }
}
