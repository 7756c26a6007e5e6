//! AMF values rendered as JSON, for the API and the callbacks (e.g. a publisher's `connect` object).

use serde_json::Value;

use crate::amf0::Amf0Value;

/// A JSON rendering of an AMF value: objects and ECMA arrays as JSON objects, strict
/// arrays as JSON arrays, Null and Undefined as null, a Date as its milliseconds.
pub fn amf_to_json(value: &Amf0Value) -> Value {
    match value {
        Amf0Value::Number(n) => number_to_json(*n),
        Amf0Value::Boolean(b) => Value::Bool(*b),
        Amf0Value::String(s) => Value::String(s.clone()),
        Amf0Value::Object(pairs) | Amf0Value::EcmaArray(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), amf_to_json(v)))
                .collect(),
        ),
        Amf0Value::Null | Amf0Value::Undefined => Value::Null,
        Amf0Value::StrictArray(items) => Value::Array(items.iter().map(amf_to_json).collect()),
        Amf0Value::Date { millis, .. } => number_to_json(*millis),
    }
}

/// Integers stay integers (AMF0 has only doubles, but `width: 1920` should not print as `1920.0`);
/// NaN and infinities have no JSON form and become null.
fn number_to_json(n: f64) -> Value {
    // 2^53: beyond it not every integer is exact, so keep the float form.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.is_finite() && n.fract() == 0.0 && n.abs() <= EXACT {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rendering_keeps_integers_integral_and_nulls_non_finite_numbers() {
        let v = Amf0Value::object([
            ("width", Amf0Value::Number(1920.0)),
            ("fps", Amf0Value::Number(29.97)),
            ("bad", Amf0Value::Number(f64::NAN)),
            ("inf", Amf0Value::Number(f64::INFINITY)),
            ("u", Amf0Value::Undefined),
            (
                "list",
                Amf0Value::StrictArray(vec![Amf0Value::Boolean(true), Amf0Value::string("s")]),
            ),
            (
                "when",
                Amf0Value::Date {
                    millis: 1000.0,
                    time_zone: 0,
                },
            ),
            (
                "meta",
                Amf0Value::EcmaArray(vec![("k".into(), Amf0Value::Null)]),
            ),
        ]);
        assert_eq!(
            amf_to_json(&v),
            serde_json::json!({
                "width": 1920, "fps": 29.97, "bad": null, "inf": null, "u": null,
                "list": [true, "s"], "when": 1000, "meta": {"k": null}
            })
        );
        assert_eq!(amf_to_json(&v)["width"].to_string(), "1920");
    }
}
