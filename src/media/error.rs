//! The error of the codec parsers: which structure was short or wrong.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The named structure ended early.
    Truncated(&'static str),
    /// A NAL unit given as an SPS has another type (the type found).
    NotSps(u8),
    /// A field holds a value the specification does not allow.
    Invalid(&'static str),
    /// Valid, but a variant we do not parse.
    Unsupported(&'static str),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Truncated(what) => write!(f, "{what} is truncated"),
            CodecError::NotSps(t) => write!(f, "NAL unit type {t} is not a sequence parameter set"),
            CodecError::Invalid(what) => write!(f, "invalid {what}"),
            CodecError::Unsupported(what) => write!(f, "unsupported {what}"),
        }
    }
}

impl std::error::Error for CodecError {}
