//! One channel's HLS muxer: an in-process subscriber of the channel whose thread feeds the
//! segmenter of the server's variant (`hls::HlsOutput`), once for every viewer. Requests that
//! wait (the first segment, a blocking playlist reload, the hinted part) sleep on its condvar,
//! woken at each new part or segment. It starts from the channel's buffered GOPs, so the first
//! viewer has a segment as soon as a keyframe follows, and stops once nobody asked for the
//! channel's HLS for `MUXER_IDLE`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

use crate::hls::{HlsOutput, Segment, SegmenterSettings};
use crate::hub::{Channel, CloseReason, Cursor, Sink, Stream, StreamType};
use crate::net;

/// A muxer nobody has asked for this long stops (and frees its segments).
pub const MUXER_IDLE: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(250);

/// Muxer records take keys from the top of the key space, apart from the registry's streams.
static NEXT_MUXER_KEY: AtomicU64 = AtomicU64::new(u64::MAX);
/// Muxers started in this process (each channel's HLS is muxed once, however many watch).
pub static MUXERS_STARTED: AtomicU64 = AtomicU64::new(0);

struct MuxState {
    output: HlsOutput,
    /// The channel has no HLS: why.
    unsupported: Option<String>,
    /// The muxer's thread has ended (channel closed, idle, or unsupported).
    stopped: bool,
    /// Counts the changes of `output` a request may see (a part, a segment, the end).
    version: u64,
    /// Playlist texts made of `output` at a version, shared by every viewer (see `rendered`).
    rendered: [Option<(u64, Arc<String>)>; 2],
}

pub struct ChannelMuxer {
    pub channel: Arc<Channel>,
    /// Names this run's segments, so a later muxer of the same channel never reuses a URL.
    pub run: u64,
    record: Arc<Stream>,
    state: Mutex<MuxState>,
    changed: Condvar,
    last_request: Mutex<Instant>,
}

impl ChannelMuxer {
    /// Subscribe to `channel` and start the muxer's thread.
    pub fn start(channel: Arc<Channel>, settings: SegmenterSettings) -> Arc<ChannelMuxer> {
        let key = NEXT_MUXER_KEY.fetch_sub(1, Ordering::Relaxed);
        let record = Arc::new(Stream::new(
            key,
            format!("hls:{}", channel.id),
            StreamType::HlsMem,
            "in-process".into(),
        ));
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let muxer = Arc::new(ChannelMuxer {
            channel,
            run,
            record,
            state: Mutex::new(MuxState {
                output: HlsOutput::new(settings),
                unsupported: None,
                stopped: false,
                version: 0,
                rendered: [None, None],
            }),
            changed: Condvar::new(),
            last_request: Mutex::new(Instant::now()),
        });
        MUXERS_STARTED.fetch_add(1, Ordering::Relaxed);
        let runner = muxer.clone();
        let name = format!("hls-{}", muxer.channel.id);
        if let Err(e) = net::spawn(name, net::WRITER_STACK, move || runner.run()) {
            log::error!("hls: cannot start the muxer of {}: {e}", muxer.channel.id);
            muxer.finish(None);
        }
        muxer
    }

    /// A request for this channel's HLS: keeps the muxer running.
    pub fn touch(&self) {
        *self.last_request.lock() = Instant::now();
    }

    pub fn idle_for(&self) -> Duration {
        self.last_request.lock().elapsed()
    }

    pub fn is_stopped(&self) -> bool {
        self.state.lock().stopped
    }

    /// The channel ended: the playlist has `#EXT-X-ENDLIST`.
    pub fn is_ended(&self) -> bool {
        self.state.lock().output.is_ended()
    }

    pub fn unsupported(&self) -> Option<String> {
        self.state.lock().unsupported.clone()
    }

    /// Read the output under the muxer's lock (keep it short: no I/O in `f`).
    pub fn with_output<T>(&self, f: impl FnOnce(&HlsOutput) -> T) -> T {
        f(&self.state.lock().output)
    }

    /// An MPEG-TS segment of the window.
    pub fn segment(&self, sequence: u64) -> Option<Arc<Segment>> {
        self.state.lock().output.ts()?.segment(sequence)
    }

    pub fn target_duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.state.lock().output.target_duration_secs()))
    }

    /// The text `render` makes of the output, made once per change of the output and shared by
    /// every request until the next (`slot` keeps renderings apart: a full playlist, a delta
    /// update). Viewers that wake at the same part render it once, not once each, under the lock.
    pub fn rendered(
        &self,
        slot: usize,
        render: impl FnOnce(&HlsOutput) -> Option<String>,
    ) -> Option<Arc<String>> {
        let mut st = self.state.lock();
        let version = st.version;
        if let Some(Some((at, text))) = st.rendered.get(slot) {
            if *at == version {
                return Some(text.clone());
            }
        }
        let text = Arc::new(render(&st.output)?);
        if let Some(kept) = st.rendered.get_mut(slot) {
            *kept = Some((version, text.clone()));
        }
        Some(text)
    }

    /// Sleep until `check` finds what a request waits for (`Some`), woken at each new part or
    /// segment; `None` once `deadline` passes or the muxer stops without it.
    pub fn wait_for<T>(
        &self,
        deadline: Instant,
        mut check: impl FnMut(&HlsOutput) -> Option<T>,
    ) -> Option<T> {
        let mut st = self.state.lock();
        loop {
            if let Some(found) = check(&st.output) {
                return Some(found);
            }
            if st.stopped || self.changed.wait_until(&mut st, deadline).timed_out() {
                return check(&st.output);
            }
        }
    }

    /// Wait up to `timeout` until the window holds a segment, or the muxer stopped or failed.
    /// Returns whether there is a segment.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock();
        loop {
            if st.output.has_segment() {
                return true;
            }
            if st.stopped || st.unsupported.is_some() {
                return false;
            }
            if self.changed.wait_until(&mut st, deadline).timed_out() {
                return st.output.has_segment();
            }
        }
    }

    fn run(self: Arc<Self>) {
        let sink = Sink::queue(self.record.clone());
        if self.channel.add_subscriber(&sink, Cursor::Oldest).is_err() {
            self.finish(None);
            return;
        }
        log::info!("hls: muxing channel {}", self.channel.id);
        let mut frames = Vec::with_capacity(64);
        let why = loop {
            match sink.next_batch(TICK, &mut frames) {
                Ok(_) => {}
                Err(_) => {
                    let mut st = self.state.lock();
                    st.output.end();
                    st.version += 1;
                    drop(st);
                    break "the channel ended";
                }
            }
            if !frames.is_empty() {
                let mut st = self.state.lock();
                let mut completed = false;
                for frame in frames.drain(..) {
                    let pushed =
                        st.output
                            .push(&frame.packet, frame.starts_source(), frame.received_ms());
                    match pushed {
                        Ok(done) => completed |= done,
                        Err(what) => {
                            st.unsupported = Some(format!("no HLS for this codec: {}", what.0));
                            break;
                        }
                    }
                }
                let failed = st.unsupported.is_some();
                if completed {
                    st.version += 1;
                }
                drop(st);
                if completed || failed {
                    self.changed.notify_all();
                }
                if failed {
                    frames.clear();
                    break "its codec has no HLS";
                }
            }
            if self.idle_for() > MUXER_IDLE {
                break "nobody asked for it";
            }
        };
        log::info!("hls: muxer of channel {} stopped: {why}", self.channel.id);
        self.channel.remove_subscriber(&self.record);
        self.finish(Some(&sink));
    }

    fn finish(&self, sink: Option<&Sink>) {
        if let Some(sink) = sink {
            sink.end(CloseReason::PeerClosed);
        }
        self.state.lock().stopped = true;
        self.changed.notify_all();
    }
}
