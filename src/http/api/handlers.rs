//! Deciding one request: the CORS preflight, the token, the route lookup and the body limit, then
//! the route's operation on the hub (or the proxies) and its answer.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

use super::auth::authorized;
use super::cors::{check_json_content_type, CorsPolicy};
use super::fields::{create_limits, Fields};
use super::metrics::{self, CallbackCounters, RequestCounters};
use super::recordings;
use super::render::{no_channel, no_stream, not_found, ApiError};
use super::routes::{openapi_value, resolve, Method, Op, Resolved, Route};
use super::{ApiRequest, Body, Cors, Reply, MAX_BODY};
use crate::http::events::EventBroadcaster;
use crate::http::json;
use crate::hub::Hub;
use crate::record::Recorder;

/// What the API is started with besides the hub.
#[derive(Default)]
pub struct ApiOptions {
    /// `-apitoken` (an empty token counts as none).
    pub token: Option<String>,
    /// `-apicors`.
    pub cors_origins: Vec<String>,
    /// The callback sender's counters, for `/metrics` and `/stat`.
    pub callback: Option<Arc<dyn CallbackCounters>>,
    /// Where `/events` readers subscribe (a fresh one, fed by nothing, if absent).
    pub events: Option<Arc<EventBroadcaster>>,
    /// The recorder (`-recorddir`); without it the recording routes answer `RecordingDisabled`.
    pub recorder: Option<Arc<Recorder>>,
}

/// The API: the hub it steers, its token and origins, and what it counts.
pub struct Api {
    pub(super) hub: Arc<Hub>,
    token: Option<String>,
    cors: CorsPolicy,
    pub(super) callback: Option<Arc<dyn CallbackCounters>>,
    pub(super) events: Arc<EventBroadcaster>,
    pub(super) recorder: Option<Arc<Recorder>>,
    /// Answers sent, by status class.
    pub requests: RequestCounters,
    pub(super) started: Instant,
}

/// What the head of a request decides.
pub enum Admission {
    /// Answer now; the body (if any) is never read.
    Answer(Reply),
    /// Read the body, then [`Api::answer`].
    Proceed(Admitted),
}

/// A request whose head passed every check: its route and how browsers may read the answer.
pub struct Admitted {
    route: &'static Route,
    param: Option<String>,
    /// The query string (after `?`), for the routes that read one.
    query: String,
    cors: Cors,
}

impl Admitted {
    /// `GET /events`: the answer is a stream, written by the connection itself.
    pub fn is_event_stream(&self) -> bool {
        self.route.op == Op::Events
    }

    /// `GET /recordings/file` or `/recordings/get`: a body from disk, written by the connection.
    pub fn is_download(&self) -> bool {
        matches!(self.route.op, Op::RecordingFile | Op::RecordingSpan)
    }

    pub fn path(&self) -> &'static str {
        self.route.path
    }

    pub fn query(&self) -> &str {
        &self.query
    }
}

impl Api {
    /// What `/metrics` and `/stat` read.
    pub(super) fn metric_sources(&self) -> metrics::Sources<'_> {
        metrics::Sources {
            hub: &self.hub,
            callback: self.callback.as_deref(),
            events: &self.events,
            requests: &self.requests,
            started: self.started,
            recording: self.recorder.is_some(),
        }
    }

    pub fn new(hub: Arc<Hub>, api_token: Option<String>) -> Api {
        Api::with_options(
            hub,
            ApiOptions {
                token: api_token,
                ..ApiOptions::default()
            },
        )
    }

    pub fn with_options(hub: Arc<Hub>, options: ApiOptions) -> Api {
        Api {
            hub,
            token: options.token.filter(|t| !t.is_empty()),
            cors: CorsPolicy::new(options.cors_origins),
            callback: options.callback,
            events: options.events.unwrap_or_default(),
            recorder: options.recorder,
            requests: RequestCounters::default(),
            started: Instant::now(),
        }
    }

    /// Decide the answer to one complete request.
    pub fn handle(&self, req: &ApiRequest<'_>) -> Reply {
        match self.admit(req) {
            Admission::Answer(reply) => reply,
            Admission::Proceed(admitted) => self.answer(&admitted, req.body),
        }
    }

    /// Decide what the head alone decides: the CORS preflight, the token, the route, a body
    /// announced too large, and for state-changing routes the content type and the origin.
    /// `req.body` is only looked at for [`Body::TooLarge`].
    pub fn admit(&self, req: &ApiRequest<'_>) -> Admission {
        let path = req.url.split(['?', '#']).next().unwrap_or_default();
        // A CORS preflight carries no credentials: answer it without the token.
        if req.method == "OPTIONS" {
            let reply = match resolve("OPTIONS", path) {
                Resolved::NotFound => not_found(path).into_reply(None),
                Resolved::WrongMethod(allow) => Reply {
                    status: 200,
                    body: json!({}),
                    cors: if allow.contains("POST") {
                        self.cors.for_state_change(req.origin)
                    } else {
                        Cors::Any
                    },
                    allow: Some(allow),
                    text: None,
                },
                Resolved::Found(..) => unreachable!("no route is OPTIONS"),
            };
            return Admission::Answer(reply);
        }
        if let Some(token) = &self.token {
            if !authorized(req.authorization, token) {
                let detail = if req.authorization.is_some() {
                    "the Authorization header does not carry the API token"
                } else {
                    "this API needs an 'Authorization: Bearer TOKEN' header"
                };
                return Admission::Answer(
                    ApiError::new(401, "Unauthorized", detail).into_reply(None),
                );
            }
        }
        // HEAD is answered as GET (the connection sends the headers only).
        let method = if req.method == "HEAD" {
            "GET"
        } else {
            req.method
        };
        let (route, param) = match resolve(method, path) {
            Resolved::Found(route, param) => (route, param),
            Resolved::NotFound => return Admission::Answer(not_found(path).into_reply(None)),
            Resolved::WrongMethod(allow) => {
                let detail = format!("{path} answers {allow}, not {}", req.method);
                let reply = ApiError::new(405, "MethodNotAllowed", detail).into_reply(Some(allow));
                return Admission::Answer(reply);
            }
        };
        let admitted = Admitted {
            route,
            param,
            query: req
                .url
                .split_once('?')
                .map_or("", |(_, q)| q)
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string(),
            cors: match route.method {
                Method::Get => Cors::Any,
                Method::Post => self.cors.for_state_change(req.origin),
            },
        };
        if matches!(req.body, Body::TooLarge) {
            return Admission::Answer(self.answer(&admitted, req.body));
        }
        if route.method == Method::Post {
            let checked = check_json_content_type(req.content_type)
                .and_then(|()| self.cors.check_origin(req.origin));
            if let Err(e) = checked {
                return Admission::Answer(with_cors(e.into_reply(None), &admitted.cors));
            }
        }
        Admission::Proceed(admitted)
    }

    /// The answer to an admitted request, once its body is read.
    pub fn answer(&self, admitted: &Admitted, body: Body<'_>) -> Reply {
        let route = admitted.route;
        let body = match body {
            Body::Complete(bytes) => bytes,
            Body::TooLarge => {
                let detail = format!("the request body is over {MAX_BODY} bytes");
                let reply = ApiError::new(413, "BodyTooLarge", detail).into_reply(None);
                return with_cors(reply, &admitted.cors);
            }
        };
        let reply = match self.run(route.op, admitted.param.clone(), &admitted.query, body) {
            Ok(Answer::Json(value)) => Reply::ok(value),
            Ok(Answer::Text(content_type, text)) => Reply {
                text: Some((content_type, text)),
                ..Reply::ok(Value::Null)
            },
            Err(e) => {
                debug_assert!(
                    route.errors.contains(&e.err),
                    "{} answered {}, which ROUTES does not list",
                    route.path,
                    e.err
                );
                e.into_reply(None)
            }
        };
        with_cors(reply, &admitted.cors)
    }

    fn run(
        &self,
        op: Op,
        param: Option<String>,
        query: &str,
        body: &[u8],
    ) -> Result<Answer, ApiError> {
        match op {
            Op::Metrics => Ok(Answer::Text(
                metrics::CONTENT_TYPE,
                metrics::render(&self.metric_sources()),
            )),
            Op::Stat => Ok(Answer::Json(metrics::stat_json(&self.metric_sources()))),
            Op::Events => Err(ApiError::bad(
                "GET /events is a stream of Server-Sent Events: read it over HTTP",
            )),
            Op::ChannelRecord => {
                recordings::channel_record(self.recorder.as_deref(), body).map(Answer::Json)
            }
            Op::Recordings => recordings::list(self.recorder.as_deref(), query).map(Answer::Json),
            Op::RecordingDelete => {
                recordings::delete(self.recorder.as_deref(), body).map(Answer::Json)
            }
            Op::RecordingFile | Op::RecordingSpan => Err(ApiError::bad(
                "this route answers a file: read it over HTTP",
            )),
            op => self.run_json(op, param, body).map(Answer::Json),
        }
    }

    fn run_json(&self, op: Op, param: Option<String>, body: &[u8]) -> Result<Value, ApiError> {
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
                .map(|c| {
                    let mut stat = json::channel_json(&c.stats());
                    if let Some(recording) =
                        recordings::current_json(self.recorder.as_deref(), &param)
                    {
                        stat["recording"] = recording;
                    }
                    stat
                })
                .ok_or_else(|| no_channel(&param)),
            Op::ChannelCreate => {
                let f = fields()?;
                let id = f.id("id")?;
                let limits = create_limits(&f, hub.settings.limits)?;
                let record = f.opt_bool("record")?;
                if record == Some(true) {
                    recordings::recorder(self.recorder.as_deref())?;
                }
                hub.create_channel(&id, limits)?;
                if let Some(record) = record {
                    recordings::channel_created(self.recorder.as_deref(), &id, record)?;
                }
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
            Op::StreamReconnect => super::reconnect::reconnect(hub, body),
            Op::ServerDrain => super::reconnect::drain(hub, body),
            Op::OpenApi => Ok(openapi_value().clone()),
            // Answered by `run` before it comes here.
            Op::Metrics | Op::Stat | Op::Events => Ok(Value::Null),
            Op::ChannelRecord
            | Op::Recordings
            | Op::RecordingDelete
            | Op::RecordingFile
            | Op::RecordingSpan => Ok(Value::Null),
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

/// What a route answers: JSON, or text of a given content type.
enum Answer {
    Json(Value),
    Text(&'static str, String),
}

fn with_cors(mut reply: Reply, cors: &Cors) -> Reply {
    reply.cors = cors.clone();
    reply
}
