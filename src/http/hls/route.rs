//! Which HLS resource a media-port path names.

/// What an HLS path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlsRequest {
    Playlist {
        channel: String,
    },
    /// `RUN-SEQ.ts`: an MPEG-TS segment.
    Segment {
        channel: String,
        run: u64,
        sequence: u64,
    },
    /// `RUN-SEQ.m4s`: a CMAF segment.
    CmafSegment {
        channel: String,
        run: u64,
        sequence: u64,
    },
    /// `RUN-SEQ.INDEX.m4s`: a part of a CMAF segment (LL-HLS).
    Part {
        channel: String,
        run: u64,
        sequence: u64,
        index: usize,
    },
    /// `RUN-init-ID.mp4`: an init segment.
    Init {
        channel: String,
        run: u64,
        id: u32,
    },
}

fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && !name
            .split('/')
            .any(|seg| seg.is_empty() || seg == ".." || seg == ".")
}

/// A number of decimal digits only (no sign, no spaces).
fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `/live/abc.m3u8`, `/live/abc/RUN-SEQ.ts`, `/live/abc/RUN-SEQ.m4s`,
/// `/live/abc/RUN-SEQ.INDEX.m4s` and `/live/abc/RUN-init-ID.mp4`; `None` for any other path.
pub fn route(path: &str) -> Option<HlsRequest> {
    let path = path.strip_prefix('/')?;
    if let Some(channel) = path.strip_suffix(".m3u8") {
        return valid_channel(channel).then(|| HlsRequest::Playlist {
            channel: channel.to_string(),
        });
    }
    let (stem, extension) = path.rsplit_once('.')?;
    let (channel, file) = stem.rsplit_once('/')?;
    if !valid_channel(channel) {
        return None;
    }
    let channel = channel.to_string();
    let (run, rest) = file.split_once('-')?;
    let run = digits(run)?;
    match extension {
        "ts" => Some(HlsRequest::Segment {
            channel,
            run,
            sequence: digits(rest)?,
        }),
        "m4s" => match rest.split_once('.') {
            None => Some(HlsRequest::CmafSegment {
                channel,
                run,
                sequence: digits(rest)?,
            }),
            Some((sequence, index)) => Some(HlsRequest::Part {
                channel,
                run,
                sequence: digits(sequence)?,
                index: digits(index)?,
            }),
        },
        "mp4" => Some(HlsRequest::Init {
            channel,
            run,
            id: digits(rest.strip_prefix("init-")?)?,
        }),
        _ => None,
    }
}
