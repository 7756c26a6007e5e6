//! The recording routes: `POST /channel/record`, `GET /recordings`, `POST /recordings/delete`,
//! and the checks of `GET /recordings/file` and `GET /recordings/get` (their bodies are written
//! by `downloads`). Every one answers 400 `RecordingDisabled` without `-recorddir`.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::fields::Fields;
use super::render::ApiError;
use crate::record::{CurrentFile, RecordError, Recorder};
use crate::text::{last_value, parse_duration, parse_rfc3339, query_pairs, rfc3339};

/// The longest span `GET /recordings/get` answers.
pub const MAX_SPAN: Duration = Duration::from_secs(24 * 3600);

/// The recorder, or 400 `RecordingDisabled`.
pub(super) fn recorder(recorder: Option<&Recorder>) -> Result<&Recorder, ApiError> {
    recorder.ok_or_else(|| {
        ApiError::new(
            400,
            "RecordingDisabled",
            "recording is off: start joy4 with -recorddir",
        )
    })
}

pub(super) fn record_error(e: RecordError) -> ApiError {
    match e {
        RecordError::RecordingDisabled => {
            ApiError::new(400, "RecordingDisabled", "recording is off")
        }
        RecordError::ChannelNotExists => {
            ApiError::new(400, "ChannelNotExists", "no channel has that id")
        }
        RecordError::BadChannelName(why) => ApiError::bad(why),
        RecordError::NotFound => {
            ApiError::new(404, "RecordingNotFound", "nothing is recorded there")
        }
        RecordError::Busy => ApiError::new(409, "RecordingBusy", "the file is being written"),
        RecordError::Io(e) => ApiError::new(500, "RecordingIoError", e),
    }
}

/// `POST /channel/record {"id", "record"}`.
pub(super) fn channel_record(api: Option<&Recorder>, body: &[u8]) -> Result<Value, ApiError> {
    let f = Fields::parse(body)?;
    let id = f.id("id")?;
    let on = f
        .opt_bool("record")?
        .ok_or_else(|| ApiError::bad("field 'record' is missing"))?;
    let recorder = recorder(api)?;
    recorder.set_recording(&id, on).map_err(record_error)?;
    Ok(json!({}))
}

/// `"record"` of `POST /channel/create`, once the channel exists.
pub(super) fn channel_created(
    api: Option<&Recorder>,
    id: &str,
    record: bool,
) -> Result<(), ApiError> {
    match (api, record) {
        (Some(recorder), _) => recorder.channel_created(id, record).map_err(record_error),
        (None, true) => recorder(api).map(|_| ()),
        (None, false) => Ok(()),
    }
}

/// `GET /recordings[?channel=C]`.
pub(super) fn list(api: Option<&Recorder>, query: &str) -> Result<Value, ApiError> {
    let recorder = recorder(api)?;
    let pairs = query_pairs(query);
    let channel = last_value(&pairs, "channel");
    let mut out = Map::new();
    for (id, files) in recorder.list(channel) {
        let files: Vec<Value> = files
            .iter()
            .map(|f| {
                json!({
                    "name": f.entry.name,
                    "start": rfc3339(f.entry.start),
                    "duration": f.duration_secs,
                    "bytes": f.entry.bytes,
                    "recording": f.recording,
                })
            })
            .collect();
        out.insert(id, Value::Array(files));
    }
    Ok(Value::Object(out))
}

/// `POST /recordings/delete {"channel", "name"}`.
pub(super) fn delete(api: Option<&Recorder>, body: &[u8]) -> Result<Value, ApiError> {
    let f = Fields::parse(body)?;
    let (channel, name) = (f.id("channel")?, f.id("name")?);
    recorder(api)?
        .delete(&channel, &name)
        .map_err(record_error)?;
    Ok(json!({}))
}

/// `"recording"` of `/stat/channel/ID`.
pub(super) fn current_json(api: Option<&Recorder>, channel: &str) -> Option<Value> {
    let current: CurrentFile = api?.current(channel)?;
    Some(json!({
        "name": current.name,
        "bytes": current.bytes,
        "duration": current.duration_secs,
    }))
}

/// A required query parameter.
pub(super) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Result<&'a str, ApiError> {
    last_value(pairs, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad(format!("query parameter '{name}' is missing")))
}

/// `start` and `duration` of `GET /recordings/get`.
pub(super) fn span_params(
    pairs: &[(String, String)],
) -> Result<(std::time::SystemTime, Duration), ApiError> {
    let start = param(pairs, "start")?;
    let start = parse_rfc3339(start).ok_or_else(|| {
        ApiError::bad("'start' must be an RFC 3339 time like 2026-12-05T16:30:00Z")
    })?;
    let duration = parse_duration(param(pairs, "duration")?)
        .map_err(|e| ApiError::bad(format!("'duration': {e}")))?;
    if duration.is_zero() || duration > MAX_SPAN {
        return Err(ApiError::bad("'duration' must be above 0 and at most 24h"));
    }
    Ok((start, duration))
}
