//! Streams, channels and the fan-out between them. Knows nothing of sockets: connections call in
//! with packets and read frames out of their queues.
pub mod buffer;
pub mod channel;
pub mod registry;
pub mod sink;
pub mod stream;

pub use buffer::{BufferLimits, Cursor, Frame};
pub use channel::Channel;
pub use sink::{Format, QueueEnd, SharedBatch, Sink, Wire};
/// What `Hub::start_play` returns: an in-process subscriber that takes frames with `next_batch`.
pub type PlayQueue = std::sync::Arc<Sink>;
pub use registry::{EventSink, Hub, HubError, HubSettings, NoEvents};
pub use stream::{CloseReason, Role, Stream, StreamState, StreamType};
