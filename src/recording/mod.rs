//! Call recording to PCAP (`--recording-method=pcap`), in rtpengine's spool layout:
//!
//! ```text
//! <recording-dir>/pcaps/<call-id>-<16 hex>.pcap                 one capture per call
//! <recording-dir>/tmp/rtpengine-meta-<call-id>-<16 hex>.tmp     metadata while the call runs
//! <recording-dir>/metadata/rtpengine-meta-<call-id>-<16 hex>.txt   ... moved here at its end
//! ```
//!
//! The Call-ID is percent-escaped (see [`name`]). Each recorded packet is the datagram a party
//! sent, as it arrived (after SRTP decryption once that exists), with synthesized IP/UDP
//! headers from the party's address to our socket and the arrival time as its timestamp.
//!
//! Threads: the media workers hold a [`LegTap`] per recorded leg and hand each accepted
//! packet to one recording thread over a bounded queue (`try_send`: a full queue drops and
//! counts, never blocks). Packet buffers come from a pool the recording thread refills, so a
//! recorded call allocates nothing per packet once warm; an unrecorded leg costs one branch.
//! The control plane holds the [`Recorder`] and one [`CallRecording`] per recorded call and
//! sends file-level commands (open, SDP, close) over an unbounded channel.
//!
//! Owns: the spool directory and its files. Must not touch: sockets or call state.

pub mod file;
pub mod meta;
pub mod name;
pub mod packet;
mod writer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};

pub use meta::{CallEnd, SdpRecord, StreamRecord};
pub use packet::Format;

use writer::{Ctl, Packet, Writer};

/// Packets waiting for the recording thread, across all calls (about 0.5 s of 50 calls'
/// G.711 both ways). Beyond this, packets are dropped and counted.
pub const QUEUE_LEN: usize = 4096;

/// How long [`Recorder::begin`] waits for the call's files to be created.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("recording method '{0}' is not supported (only 'pcap')")]
    Method(String),
    #[error("invalid recording format '{0}' (expected 'raw' or 'eth')")]
    Format(String),
    #[error("cannot set up recording directory {path}: {source}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the recording thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// What the recorder needs from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    pub format: Format,
}

impl Settings {
    /// From `--recording-dir`, `--recording-method` (default `pcap`) and
    /// `--recording-format` (default `raw`); `None` without a directory (recording off).
    pub fn from_options(
        dir: Option<&Path>,
        method: Option<&str>,
        format: Option<&str>,
    ) -> Result<Option<Settings>, RecordingError> {
        let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) else {
            return Ok(None);
        };
        let method = method.unwrap_or("pcap");
        if method != "pcap" {
            return Err(RecordingError::Method(method.to_string()));
        }
        let format = format.unwrap_or("raw");
        let format = Format::parse(format).ok_or_else(|| RecordingError::Format(format.into()))?;
        // rtpengine drops one trailing slash; paths are built as `<dir>/pcaps/...`.
        let s = dir.to_string_lossy();
        let trimmed = s.strip_suffix('/').filter(|t| !t.is_empty()).unwrap_or(&s);
        Ok(Some(Settings {
            dir: PathBuf::from(trimmed),
            format,
        }))
    }
}

/// State of one recorded call shared by the control plane, the workers' taps and the
/// recording thread.
pub(crate) struct Shared {
    id: u64,
    /// The Call-ID (capped), for the metadata file, which escapes it.
    call_id: Arc<str>,
    /// The Call-ID for log lines, control characters escaped.
    log_id: Arc<str>,
    pcap_path: PathBuf,
    meta_tmp: PathBuf,
    meta_final: PathBuf,
    /// Packets are recorded (not stopped or paused).
    active: AtomicBool,
    /// The recording thread has finished the files; later packets are lost.
    closed: AtomicBool,
    written: AtomicU64,
    lost: AtomicU64,
    /// Packets the taps have queued for this call. Read by the control plane when it records
    /// an SDP, so the SDP's place among the packets is exact however far the writer lags.
    queued: AtomicU64,
    loss_logged: AtomicBool,
    pkts: Sender<Packet>,
    free_tx: Sender<Vec<u8>>,
    free_rx: Receiver<Vec<u8>>,
}

impl Shared {
    /// Counts lost packets; the first loss of a call is logged, later ones only counted.
    fn note_loss(&self, n: u64, why: &str) {
        if n == 0 {
            return;
        }
        self.lost.fetch_add(n, Relaxed);
        if !self.loss_logged.swap(true, Relaxed) {
            tracing::warn!(
                call_id = &*self.log_id,
                "recording is losing packets ({why}); the call continues, losses are counted"
            );
        }
    }
}

/// A media worker's handle on one recorded leg.
#[derive(Clone)]
pub struct LegTap {
    shared: Arc<Shared>,
    rtp_local: SocketAddr,
    rtcp_local: SocketAddr,
}

impl std::fmt::Debug for LegTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegTap")
            .field("recording", &self.shared.id)
            .field("rtp_local", &self.rtp_local)
            .field("rtcp_local", &self.rtcp_local)
            .finish()
    }
}

impl LegTap {
    /// Hands a copy of an accepted packet (plain RTP/RTCP) that `src` sent to this leg's RTP
    /// socket (or RTCP socket, `rtcp_sock`) to the recording thread. Never blocks.
    #[inline]
    pub fn record(&self, data: &[u8], src: SocketAddr, rtcp_sock: bool) {
        let s = &*self.shared;
        if !s.active.load(Relaxed) {
            return;
        }
        let mut buf = s.free_rx.try_recv().unwrap_or_default();
        buf.extend_from_slice(data);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let p = Packet {
            shared: self.shared.clone(),
            ts,
            src,
            dst: if rtcp_sock {
                self.rtcp_local
            } else {
                self.rtp_local
            },
            data: buf,
        };
        match s.pkts.try_send(p) {
            Ok(()) => {
                s.queued.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Full(p)) => {
                let mut data = p.data;
                data.clear();
                let _ = s.free_tx.try_send(data);
                s.note_loss(1, "recording queue full");
            }
            Err(TrySendError::Disconnected(_)) => s.note_loss(1, "recording thread gone"),
        }
    }
}

/// The control plane's handle on one recorded call.
pub struct CallRecording {
    shared: Arc<Shared>,
    ctl: Sender<Ctl>,
}

impl CallRecording {
    /// The call's pcap file (the path the offer/answer reply reports).
    pub fn pcap_path(&self) -> &Path {
        &self.shared.pcap_path
    }

    /// Where the metadata file lands when the call ends.
    pub fn metadata_path(&self) -> &Path {
        &self.shared.meta_final
    }

    /// Starts (true) or stops/pauses (false) writing packets; the file stays open.
    pub fn set_active(&self, on: bool) {
        self.shared.active.store(on, Relaxed);
    }

    pub fn is_active(&self) -> bool {
        self.shared.active.load(Relaxed)
    }

    /// A tap for a leg whose RTP and RTCP sockets are `rtp_local` and `rtcp_local`.
    pub fn leg_tap(&self, rtp_local: SocketAddr, rtcp_local: SocketAddr) -> LegTap {
        LegTap {
            shared: self.shared.clone(),
            rtp_local,
            rtcp_local,
        }
    }

    /// Appends an offer's or answer's SDP to the metadata file.
    pub fn sdp(&self, rec: SdpRecord) {
        let before = self.shared.queued.load(Relaxed);
        let _ = self.ctl.send(Ctl::Sdp(self.shared.clone(), rec, before));
    }

    /// Packets written so far, and packets lost (queue full, disk full, ...).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.shared.written.load(Relaxed),
            self.shared.lost.load(Relaxed),
        )
    }

    /// Ends the recording: the packets already queued are written, the metadata file is
    /// completed and moved to `metadata/`. Call after the call's legs left their workers.
    /// The returned channel receives `()` once the files are complete.
    pub fn finish(self, end: CallEnd) -> Receiver<()> {
        self.set_active(false);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = self
            .ctl
            .send(Ctl::Close(self.shared.clone(), Box::new(end), tx));
        rx
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cap(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The recorder: the recording thread and the spool directory.
pub struct Recorder {
    settings: Settings,
    ctl: Sender<Ctl>,
    pkts: Sender<Packet>,
    free_tx: Sender<Vec<u8>>,
    free_rx: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
    next_id: u64,
}

impl Recorder {
    /// Creates the spool directories (like rtpengine: the main one and `metadata`, `pcaps`,
    /// `tmp`) and starts the recording thread.
    pub fn start(settings: Settings) -> Result<Recorder, RecordingError> {
        Self::start_with_queue(settings, QUEUE_LEN)
    }

    /// [`Recorder::start`] with a given queue length (tests).
    pub fn start_with_queue(settings: Settings, queue: usize) -> Result<Recorder, RecordingError> {
        for sub in ["", "metadata", "pcaps", "tmp"] {
            let path = if sub.is_empty() {
                settings.dir.clone()
            } else {
                settings.dir.join(sub)
            };
            std::fs::create_dir_all(&path).map_err(|source| RecordingError::Dir {
                path: path.clone(),
                source,
            })?;
        }
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let (pkt_tx, pkt_rx) = crossbeam_channel::bounded(queue.max(1));
        let (free_tx, free_rx) = crossbeam_channel::bounded(queue.max(1));
        let (format, pool) = (settings.format, free_tx.clone());
        let thread = std::thread::Builder::new()
            .name("recording".into())
            .spawn(move || Writer::new(format, ctl_rx, pkt_rx, pool).run())
            .map_err(RecordingError::Thread)?;
        tracing::info!(dir = %settings.dir.display(), format = ?settings.format, "call recording enabled");
        Ok(Recorder {
            settings,
            ctl: ctl_tx,
            pkts: pkt_tx,
            free_tx,
            free_rx,
            thread: Some(thread),
            next_id: 1,
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts a call's recording (active) with fresh file names and creates its files.
    pub fn begin(&mut self, call_id: &str) -> CallRecording {
        let prefix = name::file_prefix(call_id, rand::random::<u64>());
        let dir = &self.settings.dir;
        let id = self.next_id;
        self.next_id += 1;
        let shared = Arc::new(Shared {
            id,
            call_id: Arc::from(cap(call_id, 4096)),
            log_id: Arc::from(name::escape_text(call_id, 256)),
            pcap_path: dir.join("pcaps").join(format!("{prefix}.pcap")),
            meta_tmp: dir.join("tmp").join(format!("rtpengine-meta-{prefix}.tmp")),
            meta_final: dir
                .join("metadata")
                .join(format!("rtpengine-meta-{prefix}.txt")),
            active: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            written: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            loss_logged: AtomicBool::new(false),
            pkts: self.pkts.clone(),
            free_tx: self.free_tx.clone(),
            free_rx: self.free_rx.clone(),
        });
        // The files exist when the reply naming them goes out, unless the disk is so slow
        // that we stop waiting (they are then created in the background).
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = self.ctl.send(Ctl::Open(shared.clone(), tx));
        if rx.recv_timeout(OPEN_WAIT).is_err() {
            tracing::warn!(
                call_id = &*shared.log_id,
                "recording files not created in time"
            );
        }
        CallRecording {
            shared,
            ctl: self.ctl.clone(),
        }
    }

    /// Writes everything queued, finishes the files still open and stops the thread.
    pub fn shutdown(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = self.ctl.send(Ctl::Shutdown);
            let _ = t.join();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests;
