//! Reading a request body: a JSON object whose fields become typed values (ids, flags, sizes,
//! durations, buffer bounds), each refusal a `BadRequest` that names the field.

use std::time::Duration;

use serde_json::{Map, Value};

use super::render::ApiError;
use crate::hub::BufferLimits;

/// The fields of a JSON object body, read leniently (unknown fields are ignored, `null` counts as
/// absent) with messages that name the field.
pub(super) struct Fields(Map<String, Value>);

impl Fields {
    pub(super) fn parse(body: &[u8]) -> Result<Fields, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad("body is empty: expected a JSON object"));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad(format!("body is not valid JSON: {e}")))?;
        match value {
            Value::Object(map) => Ok(Fields(map)),
            other => Err(ApiError::bad(format!(
                "body must be a JSON object, not {}",
                json_kind(&other)
            ))),
        }
    }

    /// The whole body as a JSON object, for readers that take the fields themselves.
    pub(super) fn into_json(self) -> Value {
        Value::Object(self.0)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A required id: a non-empty string, or a non-negative integer (taken as its decimal form).
    pub(super) fn id(&self, name: &str) -> Result<String, ApiError> {
        let value = self
            .get(name)
            .ok_or_else(|| ApiError::bad(format!("field '{name}' is missing")))?;
        let id = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_u64() => n.to_string(),
            _ => {
                return Err(ApiError::bad(format!(
                    "field '{name}' must be a string or a non-negative integer, not {}",
                    json_kind(value)
                )))
            }
        };
        if id.is_empty() {
            return Err(ApiError::bad(format!("field '{name}' must not be empty")));
        }
        Ok(id)
    }

    pub(super) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(ApiError::bad(format!(
                "field '{name}' must be true or false, not {}",
                json_kind(v)
            ))),
        }
    }

    pub(super) fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(ApiError::bad(format!(
                "field '{name}' must be a string, not {}",
                json_kind(v)
            ))),
        }
    }

    pub(super) fn opt_positive(&self, name: &str) -> Result<Option<usize>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|&n| n > 0)
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| ApiError::bad(format!("field '{name}' must be a positive integer"))),
        }
    }

    /// A duration string (`"120s"`, `"1.5s"`, `"500ms"`, `"2m"`) or a number of seconds, in ms.
    pub(super) fn opt_duration_ms(&self, name: &str) -> Result<Option<u32>, ApiError> {
        let bad = || {
            ApiError::bad(format!(
                "field '{name}' must be a positive duration like \"120s\", \"1.5s\", \"500ms\" or \"2m\""
            ))
        };
        let duration = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) => crate::text::parse_duration(s).map_err(|_| bad())?,
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(bad)?,
            Some(_) => return Err(bad()),
        };
        let ms = duration.as_millis();
        if ms == 0 {
            return Err(bad());
        }
        u32::try_from(ms).map(Some).map_err(|_| {
            ApiError::bad(format!(
                "field '{name}' is too long (at most {} ms)",
                u32::MAX
            ))
        })
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Buffer bounds for `/channel/create`. With none of the three fields, the server's defaults
/// apply. Naming any of them sets exactly the named bounds; the unnamed ones are unbounded, except
/// `bufferSize`, which falls back to the server default so memory always stays bounded.
/// (So `{"bufferDuration": "4s"}` keeps 4 s of media, not the default single GOP.)
pub(super) fn create_limits(f: &Fields, defaults: BufferLimits) -> Result<BufferLimits, ApiError> {
    let size = f.opt_positive("bufferSize")?;
    let duration = f.opt_duration_ms("bufferDuration")?;
    let gops = f.opt_positive("bufferGopCount")?;
    if size.is_none() && duration.is_none() && gops.is_none() {
        return Ok(defaults);
    }
    Ok(BufferLimits {
        max_bytes: size.or(defaults.max_bytes),
        max_duration_ms: duration,
        max_gops: gops,
    })
}
