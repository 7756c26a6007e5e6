//! A picture's size, and the cropping arithmetic the SPS parsers of every codec share.

use super::error::CodecError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSize {
    pub width: u32,
    pub height: u32,
}

/// (SubWidthC, SubHeightC); ChromaArrayType 0 (monochrome or separate planes) crops in luma samples.
pub(super) fn chroma_subsampling(chroma_array_type: u32) -> (u64, u64) {
    match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    }
}

pub(super) fn cropped_size(
    width: u64,
    height: u64,
    crop_x: u64,
    crop_y: u64,
) -> Result<VideoSize, CodecError> {
    if crop_x >= width || crop_y >= height {
        return Err(CodecError::Invalid("cropping larger than the picture"));
    }
    let too_large = || CodecError::Invalid("picture size beyond 32 bits");
    Ok(VideoSize {
        width: u32::try_from(width - crop_x).map_err(|_| too_large())?,
        height: u32::try_from(height - crop_y).map_err(|_| too_large())?,
    })
}
