//! SKELETON: being written.
pub fn video_is_keyframe(body: &[u8]) -> bool { let _ = body; todo!() }
pub fn video_is_sequence_header(body: &[u8]) -> bool { let _ = body; todo!() }
pub fn audio_is_sequence_header(body: &[u8]) -> bool { let _ = body; todo!() }
