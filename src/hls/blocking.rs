//! LL-HLS delivery directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) read from a playlist
//! request's query, and whether a segmenter already holds what a blocking request waits for.

use super::cmaf::CmafSegmenter;

/// What a blocking playlist reload waits for: segment `msn` complete, or with `part`, that
/// part of it (or anything later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub msn: u64,
    pub part: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Directives {
    pub block: Option<Block>,
    /// `_HLS_skip=YES` (or `v2`): a delta update.
    pub skip: bool,
}

/// Decimal digits only, at most this many: a sequence number or part index beyond is absurd.
const MAX_DIGITS: usize = 12;

fn number(name: &str, value: &str) -> Result<u64, String> {
    if value.is_empty() || value.len() > MAX_DIGITS || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{name} must be a decimal number of at most {MAX_DIGITS} digits"
        ));
    }
    value.parse().map_err(|_| format!("{name} is not a number"))
}

/// The directives of a query; an error (for a 400) names what is wrong.
pub fn parse_directives(params: &[(String, String)]) -> Result<Directives, String> {
    let mut msn = None;
    let mut part = None;
    let mut skip = false;
    for (name, value) in params {
        match name.as_str() {
            "_HLS_msn" => msn = Some(number("_HLS_msn", value)?),
            "_HLS_part" => part = Some(number("_HLS_part", value)?),
            "_HLS_skip" => match value.as_str() {
                "YES" | "v2" => skip = true,
                _ => return Err("_HLS_skip must be YES or v2".into()),
            },
            _ => {}
        }
    }
    let block = match (msn, part) {
        (None, Some(_)) => return Err("_HLS_part without _HLS_msn".into()),
        (None, None) => None,
        (Some(msn), part) => Some(Block {
            msn,
            part: part.map(|p| p as usize),
        }),
    };
    Ok(Directives { block, skip })
}

/// Where a blocking request stands against the segmenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The playlist already holds it: answer now.
    Ready,
    /// Not yet: wait for the next part.
    Wait,
    /// It can never come in time: 400 with this reason.
    Refuse(String),
}

/// Whether `s` holds what `block` asks for. The last segment of the playlist is the one being
/// written (it is listed by its parts); asking beyond it + 2 is refused, as is a part index no
/// segment of this channel could reach.
pub fn readiness(s: &CmafSegmenter, block: Block) -> Readiness {
    if s.is_ended() {
        return Readiness::Ready;
    }
    let part_ms = s.settings().part_ms.unwrap_or(1000).max(1);
    // A segment has about target / part parts (more after keyframes that come early).
    let most_parts = (u64::from(s.target_duration_secs()) * 1000 / u64::from(part_ms)) * 4 + 16;
    if let Some(part) = block.part {
        if part as u64 > most_parts {
            return Readiness::Refuse(format!(
                "_HLS_part={part} is more parts than a segment has (at most {most_parts})"
            ));
        }
    }
    let last = s.next_sequence().checked_sub(1);
    let Some(last) = last else {
        return Readiness::Wait; // nothing yet: the first segment is on its way
    };
    if block.msn > last + 2 {
        return Readiness::Refuse(format!(
            "_HLS_msn={} is beyond the last segment ({last}) + 2",
            block.msn
        ));
    }
    let complete = s.segments().back().map(|seg| seg.sequence);
    if complete.is_some_and(|c| c >= block.msn) {
        return Readiness::Ready;
    }
    match (s.building(), block.part) {
        (Some(b), Some(part)) if b.sequence == block.msn && b.parts.len() > part => {
            Readiness::Ready
        }
        (Some(b), _) if b.sequence > block.msn => Readiness::Ready,
        _ => Readiness::Wait,
    }
}

/// Where a part request stands: the part exists, will come (the hinted part, or one after it in
/// the segment being written), or never will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    Ready,
    Coming,
    Gone,
}

/// Whether part `index` of segment `sequence` exists or is yet to come. A request may wait for
/// the hinted part (the next of the segment being written) and the next segment's first part.
pub fn part_state(s: &CmafSegmenter, sequence: u64, index: usize) -> PartState {
    if s.part(sequence, index).is_some() {
        return PartState::Ready;
    }
    if s.is_ended() {
        return PartState::Gone;
    }
    match s.building() {
        Some(b) if b.sequence == sequence && index == b.parts.len() => PartState::Coming,
        Some(b) if b.sequence + 1 == sequence && index == 0 => PartState::Coming,
        None if s.next_sequence() == sequence && index == 0 => PartState::Coming,
        _ => PartState::Gone,
    }
}
