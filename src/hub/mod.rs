//! Streams, channels and the fan-out between them. Knows nothing of sockets (a subscriber's
//! socket is a `Wire`) and renders nothing: it reports typed events and stats snapshots, which
//! the server layer turns into JSON.
//!
//! ```text
//! types, meter, headers     small vocabulary: states, close reasons, counters, codec facts
//! frame, buffer             a packet with its FLV and RTMP headers; the bounded GOP buffer
//! sink                      a subscriber's output: direct non-blocking writes, else a backlog
//! channel                   publisher switch, timeline, joins, the merge window and its flush
//! stream, handle, guard     the record of a connection, the handle its connection holds (the
//!                           record and its wiring), and the guard that finishes it however the
//!                           connection's thread ends
//! registry                  every stream and channel; publish/play wiring; control-plane ops;
//!                           shutdown
//! events, stats             what the hub reports; timer: flush deadlines and grace periods
//! counters, traffic         server-wide counters (bytes by protocol, closes, drops) and a
//!                           channel's own, which only grow
//! ```
pub mod buffer;
pub mod channel;
pub mod counters;
pub mod events;
pub mod frame;
mod guard;
pub mod handle;
pub mod headers;
pub mod meter;
pub mod registry;
pub mod sink;
pub mod stats;
pub mod stream;
pub mod timer;
pub mod traffic;
pub mod types;

pub use buffer::{BufferLimits, Cursor};
pub use channel::Channel;
pub use counters::{HlsRequestKind, Listener, ServerCounters};
pub use events::{EventSink, HubEvent, NoEvents, RecordDone};
pub use frame::Frame;
pub use guard::StreamGuard;
pub use handle::StreamHandle;
pub use headers::{Headers, MediaInfo};
pub use registry::{Hub, HubError, HubSettings};
pub use sink::{Format, QueueEnd, SharedBatch, Sink, Wire, GATHER_WAKE_FRAMES};
pub use stats::{ChannelStats, ChannelTotals, StreamStats};
pub use stream::{ReconnectAsk, Reconnector, Stream};
pub use traffic::{ChannelTraffic, Protocol, Traffic};
pub use types::{CloseReason, ConnectObject, Role, RtmpInfo, StreamState, StreamType};
/// What `Hub::start_play` returns: an in-process subscriber that takes frames with `next_batch`.
pub type PlayQueue = std::sync::Arc<Sink>;
