//! Deciding one request: the CORS preflight, the token, the route lookup and the body limit, then
//! the route's operation on the hub (or the proxies) and its answer.

use crate::http::json;
use std::sync::Arc;

use serde_json::{json, Value};

use super::auth::authorized;
use super::fields::{create_limits, Fields};
use super::render::{no_channel, no_stream, not_found, ApiError};
use super::routes::{openapi_value, resolve, Op, Resolved};
use super::{ApiRequest, Body, Reply, MAX_BODY};
use crate::hub::Hub;

/// The API: the hub it steers and the token it requires.
pub struct Api {
    pub(super) hub: Arc<Hub>,
    token: Option<String>,
}

impl Api {
    pub fn new(hub: Arc<Hub>, api_token: Option<String>) -> Api {
        Api {
            hub,
            token: api_token.filter(|t| !t.is_empty()),
        }
    }

    /// Decide the answer to one request.
    pub fn handle(&self, req: &ApiRequest<'_>) -> Reply {
        let path = req.url.split(['?', '#']).next().unwrap_or_default();
        // A CORS preflight carries no credentials: answer it without the token.
        if req.method == "OPTIONS" {
            return match resolve("OPTIONS", path) {
                Resolved::NotFound => not_found(path).into_reply(None),
                Resolved::WrongMethod(allow) => Reply {
                    status: 200,
                    body: json!({}),
                    allow: Some(allow),
                },
                Resolved::Found(..) => unreachable!("no route is OPTIONS"),
            };
        }
        if let Some(token) = &self.token {
            if !authorized(req.authorization, token) {
                let detail = if req.authorization.is_some() {
                    "the Authorization header does not carry the API token"
                } else {
                    "this API needs an 'Authorization: Bearer TOKEN' header"
                };
                return ApiError::new(401, "Unauthorized", detail).into_reply(None);
            }
        }
        let (route, param) = match resolve(req.method, path) {
            Resolved::Found(route, param) => (route, param),
            Resolved::NotFound => return not_found(path).into_reply(None),
            Resolved::WrongMethod(allow) => {
                let detail = format!("{path} answers {allow}, not {}", req.method);
                return ApiError::new(405, "MethodNotAllowed", detail).into_reply(Some(allow));
            }
        };
        let body = match req.body {
            Body::Complete(bytes) => bytes,
            Body::TooLarge => {
                let detail = format!("the request body is over {MAX_BODY} bytes");
                return ApiError::new(413, "BodyTooLarge", detail).into_reply(None);
            }
        };
        match self.run(route.op, param, body) {
            Ok(value) => Reply::ok(value),
            Err(e) => {
                debug_assert!(
                    route.errors.contains(&e.err),
                    "{} answered {}, which ROUTES does not list",
                    route.path,
                    e.err
                );
                e.into_reply(None)
            }
        }
    }

    fn run(&self, op: Op, param: Option<String>, body: &[u8]) -> Result<Value, ApiError> {
        let hub = &self.hub;
        let param = param.unwrap_or_default();
        let fields = || Fields::parse(body);
        match op {
            Op::StatStreams => Ok(json::streams_json(&hub.stream_stats())),
            Op::StatStream => hub
                .stream(&param)
                .map(|s| json::stream_json(&s.stats()))
                .ok_or_else(|| no_stream(&param)),
            Op::StatChannels => Ok(json::channels_json(&hub.channel_stats())),
            Op::StatChannel => hub
                .channel(&param)
                .map(|c| json::channel_json(&c.stats()))
                .ok_or_else(|| no_channel(&param)),
            Op::ChannelCreate => {
                let f = fields()?;
                let id = f.id("id")?;
                let limits = create_limits(&f, hub.settings.limits)?;
                hub.create_channel(&id, limits)?;
                Ok(json!({}))
            }
            Op::ChannelSetPublisher => {
                let f = fields()?;
                let (id, stream_id) = (f.id("id")?, f.id("streamId")?);
                let replace = f.opt_bool("replace")?.unwrap_or(true);
                hub.set_publisher(&id, &stream_id, replace)?;
                Ok(json!({}))
            }
            Op::ChannelAddSubscriber => {
                let f = fields()?;
                let (id, stream_id) = (f.id("id")?, f.id("streamId")?);
                let cursor = f.opt_str("cursor")?.unwrap_or("latest");
                hub.add_subscriber(&id, &stream_id, cursor)?;
                Ok(json!({}))
            }
            Op::ChannelClose => {
                hub.close_channel(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamClose => {
                hub.close_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamAccept => {
                hub.accept_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamReject => {
                hub.reject_stream(&fields()?.id("id")?)?;
                Ok(json!({}))
            }
            Op::StreamChangeId => {
                let f = fields()?;
                let (id, new_id) = (f.id("id")?, f.id("newid")?);
                hub.change_stream_id(&id, &new_id)?;
                Ok(json!({}))
            }
            Op::StreamNew => self.stream_new(body),
            Op::OpenApi => Ok(openapi_value().clone()),
        }
    }

    /// `POST /stream/new {id?, url, channel?, push?}`: start a pull or push proxy.
    fn stream_new(&self, body: &[u8]) -> Result<Value, ApiError> {
        let body = Fields::parse(body)?.into_json();
        let id = crate::relay::new_stream(&self.hub, &body)
            .map_err(|e| ApiError::new(400, e.name(), e.detail()))?;
        Ok(json!({ "id": id }))
    }
}
