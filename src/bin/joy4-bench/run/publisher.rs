//! The publisher thread: it sends the source in real time and logs when each message went out.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel as channel;
use joy4::media::{Packet, PacketKind};
use joy4::rtmp::client::{ClientOptions, RtmpClient};

use super::config::Config;
use super::shared::Shared;
use crate::stream::Source;

/// Connect, publish channel `k`, and send the source in real time until stopped (the project's
/// RTMP client; it answers pings and acknowledges between writes).
pub fn publisher(
    cfg: Arc<Config>,
    shared: Arc<Shared>,
    k: usize,
    mut source: Source,
    ready: channel::Sender<Result<(), String>>,
) {
    let url = cfg.publish_url(k);
    let published = &shared.channels[k];
    let options = ClientOptions {
        setup_timeout: cfg.timeout,
        read_timeout: None,
        write_timeout: Duration::from_secs(10),
    };
    let setup = RtmpClient::connect_with(&url, options).and_then(|mut c| {
        c.publish()?;
        Ok(c)
    });
    let mut client = match setup {
        Ok(c) => c,
        Err(e) => {
            let _ = ready.send(Err(format!("publisher ({url}): {e}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let start = Instant::now();
    let mut first_ts: Option<u32> = None;
    while !shared.stopping() {
        let msg = source.next_msg();
        let kind = match msg.type_id {
            8 => PacketKind::Audio,
            9 => PacketKind::Video,
            _ => PacketKind::Data,
        };
        let is_media = kind != PacketKind::Data;
        if is_media {
            let base = *first_ts.get_or_insert(msg.timestamp);
            let due = start + Duration::from_millis(u64::from(msg.timestamp.wrapping_sub(base)));
            loop {
                let now = Instant::now();
                if now >= due || shared.stopping() {
                    break;
                }
                thread::sleep((due - now).min(Duration::from_millis(100)));
            }
            if shared.stopping() {
                break;
            }
        }
        let len = msg.body.len() as u64;
        let packet = Packet::new(kind, msg.timestamp, msg.body.to_vec());
        let now = shared.now_us();
        if is_media {
            published.log.record(msg.type_id, msg.timestamp, now);
        }
        if let Err(e) = client.write_packet(&packet) {
            if !shared.stopping() {
                *shared.publisher_error.lock() = Some(format!("publisher: {e}"));
            }
            break;
        }
        if is_media {
            let w = shared.window();
            published.bytes.lock().add(now, len, w);
            published.frames.lock().add(now, 1, w);
        }
    }
    client.close();
}
