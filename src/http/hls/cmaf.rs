//! Serving the `fmp4` and `lowlatency` variants: the media playlist (blocking reload and delta
//! updates for LL-HLS), CMAF segments, parts (the hinted one waits until it is complete) and
//! init segments. A waiting request sleeps on its channel muxer's condvar, on its own
//! connection's thread; no other thread or timer works for it.
//!
//! What each answer sends:
//! ```text
//! media playlist          200  Cache-Control: public, max-age=1 (blocking or not)
//! segment, part, init     200/206  Cache-Control: public, max-age=86400, immutable
//! bad _HLS_* values       400  {"error": "BadDirective", "reason": …}   no-cache
//! blocked 3 targets       503  {"error": "NotYet", …}                   no-cache
//! ```

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::muxer::ChannelMuxer;
use super::response::{write_playlist, write_segment, Exchange, Refusal, MP4_TYPE};
use super::response::{CACHE_BLOCKING, CACHE_PLAYLIST};
use super::session::Session;
use crate::hls::blocking::{parse_directives, part_state, readiness, PartState, Readiness};
use crate::hls::cmaf_playlist::{cmaf_media_playlist, Uris};
use crate::hls::CmafSegmenter;

/// Stands for the viewer's session token in a shared playlist text (NULs are in no token, those
/// are hex, and in no channel name a playlist names).
const TOKEN_SLOT: &str = "\u{0}session\u{0}";

/// How long a blocked request waits at most: three target durations (then 503).
fn block_limit(muxer: &ChannelMuxer) -> Duration {
    muxer.target_duration() * 3
}

fn not_cmaf() -> Refusal {
    (
        404,
        "NotFound",
        "this server's HLS variant has no such file".into(),
    )
}

/// The media playlist of a CMAF variant for `session`, after a blocking reload's wait.
pub fn media_playlist(
    socket: &mut TcpStream,
    session: &Session,
    leaf: &str,
    params: &[(String, String)],
    x: Exchange,
) -> Result<bool, Refusal> {
    let muxer = &session.muxer;
    let low_latency = muxer.with_output(|o| {
        o.cmaf()
            .is_some_and(|c: &CmafSegmenter| c.settings().part_ms.is_some())
    });
    let directives = if low_latency {
        parse_directives(params).map_err(|reason| (400, "BadDirective", reason))?
    } else {
        Default::default() // without CAN-BLOCK-RELOAD the directives mean nothing
    };
    if let Some(block) = directives.block {
        let deadline = Instant::now() + block_limit(muxer);
        let answer = muxer.wait_for(deadline, |o| match readiness(o.cmaf()?, block) {
            Readiness::Ready => Some(Ok(())),
            Readiness::Refuse(reason) => Some(Err(reason)),
            Readiness::Wait => None,
        });
        session.touch();
        match answer {
            Some(Ok(())) => {}
            Some(Err(reason)) => return Err((400, "BadDirective", reason)),
            None => {
                return Err((
                    503,
                    "NotYet",
                    format!(
                        "segment {} part {:?} did not come within three target durations",
                        block.msn, block.part
                    ),
                ))
            }
        }
    }
    // One text for every viewer (rendered once per new part), the token filled in after.
    let run = muxer.run;
    let segment = |seq: u64| format!("{leaf}/{run}-{seq}.m4s?session={TOKEN_SLOT}");
    let part =
        |seq: u64, index: usize| format!("{leaf}/{run}-{seq}.{index}.m4s?session={TOKEN_SLOT}");
    let init = |id: u32| format!("{leaf}/{run}-init-{id}.mp4?session={TOKEN_SLOT}");
    let uris = Uris {
        segment: &segment,
        part: &part,
        init: &init,
    };
    let shared = muxer
        .rendered(usize::from(directives.skip), |o| {
            o.cmaf()
                .map(|c| cmaf_media_playlist(c, &uris, directives.skip))
        })
        .ok_or_else(not_cmaf)?;
    let text = shared.replace(TOKEN_SLOT, &session.token);
    let cache = if directives.block.is_some() {
        CACHE_BLOCKING
    } else {
        CACHE_PLAYLIST
    };
    Ok(session.respond(socket, |s| write_playlist(s, &text, cache, x)))
}

/// A complete CMAF segment.
pub fn segment(
    socket: &mut TcpStream,
    session: &Session,
    sequence: u64,
    range: Option<&str>,
    x: Exchange,
) -> Result<bool, Refusal> {
    let segment = session
        .muxer
        .with_output(|o| o.cmaf().and_then(|c| c.segment(sequence)))
        .ok_or_else(|| {
            (
                404,
                "SegmentNotFound",
                format!("segment {sequence} is not in the window"),
            )
        })?;
    let end_ts = segment.start_ts.wrapping_add(segment.duration_ms);
    Ok(session.send_segment(socket, MP4_TYPE, &segment.bytes, end_ts, range, x))
}

/// A part; the hinted one (or the next segment's first) is answered once it is complete.
pub fn part(
    socket: &mut TcpStream,
    session: &Session,
    sequence: u64,
    index: usize,
    range: Option<&str>,
    x: Exchange,
) -> Result<bool, Refusal> {
    let muxer = &session.muxer;
    let deadline = Instant::now() + block_limit(muxer);
    let found = muxer.wait_for(deadline, |o| {
        let c = o.cmaf()?;
        match part_state(c, sequence, index) {
            PartState::Ready => c.part(sequence, index).map(Ok),
            PartState::Gone => Some(Err(())),
            PartState::Coming => None,
        }
    });
    session.touch();
    let part = match found {
        Some(Ok(part)) => part,
        Some(Err(())) => {
            return Err((
                404,
                "PartNotFound",
                format!("part {sequence}.{index} is not in the window"),
            ))
        }
        None => {
            return Err((
                503,
                "NotYet",
                format!("part {sequence}.{index} did not come within three target durations"),
            ))
        }
    };
    Ok(session.respond(socket, |s| {
        write_segment(s, MP4_TYPE, &part.bytes, range, x)
    }))
}

/// An init segment still named by the window.
pub fn init(
    socket: &mut TcpStream,
    session: &Session,
    id: u32,
    range: Option<&str>,
    x: Exchange,
) -> Result<bool, Refusal> {
    let init = session
        .muxer
        .with_output(|o| o.cmaf().and_then(|c| c.init(id)))
        .ok_or_else(|| {
            (
                404,
                "InitNotFound",
                format!("init segment {id} is not in use"),
            )
        })?;
    Ok(session.respond(socket, |s| {
        write_segment(s, MP4_TYPE, &init.bytes, range, x)
    }))
}
