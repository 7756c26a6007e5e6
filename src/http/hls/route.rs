//! Which HLS resource a media-port path names.

/// What an HLS path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HlsRequest {
    Playlist {
        channel: String,
    },
    Segment {
        channel: String,
        run: u64,
        sequence: u64,
    },
}

fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && !name
            .split('/')
            .any(|seg| seg.is_empty() || seg == ".." || seg == ".")
}

/// `/live/abc.m3u8` and `/live/abc/RUN-SEQ.ts`; `None` for any other path.
pub fn route(path: &str) -> Option<HlsRequest> {
    let path = path.strip_prefix('/')?;
    if let Some(channel) = path.strip_suffix(".m3u8") {
        return valid_channel(channel).then(|| HlsRequest::Playlist {
            channel: channel.to_string(),
        });
    }
    let (channel, file) = path.strip_suffix(".ts")?.rsplit_once('/')?;
    let (run, sequence) = file.split_once('-')?;
    let (run, sequence) = (run.parse().ok()?, sequence.parse().ok()?);
    valid_channel(channel).then(|| HlsRequest::Segment {
        channel: channel.to_string(),
        run,
        sequence,
    })
}
