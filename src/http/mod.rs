//! HTTP: the media port (HTTP-FLV play, with our own response writer; the watch page), the REST
//! API, the callback
//! sender, and the hub's stats and events as JSON.
pub mod amf_json;
pub mod api;
pub mod callback;
pub mod events;
pub mod exchange;
pub mod flv;
pub mod hls;
pub mod json;
pub mod media_port;
pub mod page;
pub mod request;
