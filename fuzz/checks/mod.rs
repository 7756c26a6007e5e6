//! The properties the fuzz targets check, one function per target, shared by the libFuzzer targets
//! (`fuzz/fuzz_targets/*.rs`, nightly) and the corpus replay (`tests/fuzz_corpus.rs`, stable), which
//! both include this directory with `#[path]`. Each function takes the raw input and panics when a
//! property fails; it never returns an error, so a crash is always a finding.
//!
//! Inputs are plain byte streams as they arrive on a socket (a client's chunk stream, an HTTP-FLV
//! body, a tag body), so captures of real sessions are corpus files as they are. Where a property
//! needs a second fragmentation of the same bytes, [`split::pieces`] derives it from the input.
#![allow(dead_code)]

pub mod amf;
pub mod codec;
pub mod http;
pub mod proxy;
pub mod rtmp;
pub mod session;
pub mod split;

/// A target's check: panics when a property fails.
pub type Check = fn(&[u8]);

/// Every target: its name (also its corpus directory, `fuzz/corpus/<name>/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("rtmp_handshake", rtmp::handshake),
    ("chunk_reader", rtmp::chunk_reader),
    ("message_decode", rtmp::message_decode),
    ("amf0", amf::amf0),
    ("amf3", amf::amf3),
    ("server_session", session::server_session),
    ("client_session", session::client_session),
    ("flv_reader", codec::flv_reader),
    ("codec_headers", codec::codec_headers),
    ("http_head", http::http_head),
    ("api_body", http::api_body),
    ("proxy_header", proxy::proxy_header),
];
