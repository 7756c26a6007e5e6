//! HTTP: HTTP-FLV play (our own response writer), the REST API and the callback sender.
pub mod amf_json;
pub mod api;
pub mod callback;
pub mod flv;
pub mod json;
pub mod request;
