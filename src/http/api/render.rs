//! Error answers: `{"err": Name, "detail": sentence}` with their status, and the API's name and
//! status for each refusal of the hub.

use serde_json::json;

use super::{Cors, Reply};
use crate::hub::HubError;

/// An error answer: `{"err": name, "detail": sentence}` with its status.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ApiError {
    pub(super) status: u16,
    pub(super) err: &'static str,
    pub(super) detail: String,
}

impl ApiError {
    pub(super) fn new(status: u16, err: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            err,
            detail: detail.into(),
        }
    }

    /// 400 `BadRequest`: the body or one of its fields is unusable.
    pub(super) fn bad(detail: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", detail)
    }

    pub(super) fn into_reply(self, allow: Option<String>) -> Reply {
        Reply {
            status: self.status,
            body: json!({ "err": self.err, "detail": self.detail }),
            allow,
            cors: Cors::Any,
            text: None,
        }
    }
}

/// The API's status and `err` name for a refusal of a hub operation. The names are the API's
/// contract (`docs/openapi.json`), so they are spelled here rather than taken from the variants.
fn hub_error(e: HubError) -> (u16, &'static str, &'static str) {
    match e {
        HubError::StreamNotExists => (400, "StreamNotExists", "no stream has that id"),
        HubError::StreamExists => (400, "StreamExists", "a stream with that id already exists"),
        HubError::ChannelNotExists => (400, "ChannelNotExists", "no channel has that id"),
        HubError::ChannelExists => (
            400,
            "ChannelExists",
            "a channel with that id already exists",
        ),
        HubError::ChannelAlreadyHasPublisher => (
            400,
            "ChannelAlreadyHasPublisher",
            "the channel already has a publisher",
        ),
        HubError::StreamStateInvalid => (
            400,
            "StreamStateInvalid",
            "the stream is not in a state that allows this",
        ),
        HubError::BadCursor => (
            400,
            "BadCursor",
            "cursor must be latest, oldest, next or a duration like 5s",
        ),
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> ApiError {
        let (status, err, detail) = hub_error(e);
        ApiError::new(status, err, detail)
    }
}

/// 404 for a stat lookup of a stream id that does not exist.
pub(super) fn no_stream(id: &str) -> ApiError {
    ApiError::new(
        404,
        "StreamNotExists",
        format!("no stream has the id {id:?}"),
    )
}

/// 404 for a stat lookup of a channel id that does not exist.
pub(super) fn no_channel(id: &str) -> ApiError {
    ApiError::new(
        404,
        "ChannelNotExists",
        format!("no channel has the id {id:?}"),
    )
}

/// 404 for a path no route matches.
pub(super) fn not_found(path: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("no endpoint {path}; GET /openapi.json lists them"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::routes::ROUTES;
    use super::*;

    const HUB_ERRORS: [HubError; 7] = [
        HubError::StreamNotExists,
        HubError::StreamExists,
        HubError::ChannelNotExists,
        HubError::ChannelExists,
        HubError::ChannelAlreadyHasPublisher,
        HubError::StreamStateInvalid,
        HubError::BadCursor,
    ];

    #[test]
    fn every_hub_refusal_is_a_400_with_a_name_some_route_answers() {
        for e in HUB_ERRORS {
            let a = ApiError::from(e);
            assert_eq!(a.status, 400, "{e:?}");
            assert!(
                ROUTES.iter().any(|r| r.errors.contains(&a.err)),
                "{e:?} maps to {}, which no route lists",
                a.err
            );
            assert!(!a.detail.is_empty());
        }
    }

    #[test]
    fn an_error_reply_is_err_and_detail() {
        let reply = ApiError::bad("field 'id' is missing").into_reply(None);
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.body,
            json!({"err": "BadRequest", "detail": "field 'id' is missing"})
        );
        assert_eq!(reply.err(), Some("BadRequest"));
        assert_eq!(no_stream("7").status, 404);
        assert_eq!(no_channel("c").err, "ChannelNotExists");
    }
}
