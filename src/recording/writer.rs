//! The recording thread: takes packets from the bounded queue the media workers fill and
//! control messages from the control plane, and owns every open pcap and metadata file.
//!
//! Packets are taken in batches (up to [`MAX_BATCH`]); each file touched by a batch gets one
//! write, after which it is a complete pcap.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::SystemTime;

use crossbeam_channel::{select, Receiver, Sender};

use super::file::PcapFile;
use super::meta::{self, CallEnd, SdpRecord};
use super::packet::Format;
use super::Shared;

/// Most packets taken off the queue before the files are written.
pub const MAX_BATCH: usize = 512;
/// Buffers larger than this are freed instead of going back to the pool.
const MAX_POOLED_CAPACITY: usize = 4096;

/// A packet handed over by a media worker.
pub(crate) struct Packet {
    pub shared: Arc<Shared>,
    /// Capture time since the Unix epoch.
    pub ts: std::time::Duration,
    pub src: std::net::SocketAddr,
    pub dst: std::net::SocketAddr,
    pub data: Vec<u8>,
}

pub(crate) enum Ctl {
    /// Create the files (if not yet done); then answer.
    Open(Arc<Shared>, Sender<()>),
    /// An SDP, and how many packets of the call were queued before it.
    Sdp(Arc<Shared>, SdpRecord, u64),
    /// Write what is queued for it, finish the metadata and move it in place; then answer.
    Close(Arc<Shared>, Box<CallEnd>, Sender<()>),
    Shutdown,
}

struct Open {
    shared: Arc<Shared>,
    pcap: Option<PcapFile<File>>,
    meta: Option<File>,
    /// Packets in the pcap file.
    in_file: u64,
    meta_error_logged: bool,
}

impl Open {
    fn create(shared: Arc<Shared>, format: Format) -> Open {
        let opts = || {
            let mut o = OpenOptions::new();
            o.append(true).create_new(true);
            o
        };
        let pcap = match opts().open(&shared.pcap_path) {
            Ok(f) => Some(PcapFile::new(f, format)),
            Err(e) => {
                tracing::error!(
                    call_id = &*shared.log_id,
                    path = %shared.pcap_path.display(),
                    "cannot create recording file: {e}"
                );
                None
            }
        };
        let meta = match opts().open(&shared.meta_tmp) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(
                    call_id = &*shared.log_id,
                    path = %shared.meta_tmp.display(),
                    "cannot create recording metadata file: {e}"
                );
                None
            }
        };
        let mut o = Open {
            shared,
            pcap,
            meta,
            in_file: 0,
            meta_error_logged: false,
        };
        if o.pcap.is_some() {
            tracing::info!(call_id = &*o.shared.log_id, path = %o.shared.pcap_path.display(), "recording call");
        }
        // The global header, so that the file is a valid (empty) capture right away.
        o.commit();
        let h = meta::header(&o.shared.pcap_path, &o.shared.call_id);
        o.write_meta(&h);
        o
    }

    fn write_meta(&mut self, text: &str) {
        let Some(f) = self.meta.as_mut() else { return };
        if let Err(e) = f.write_all(text.as_bytes()) {
            if !self.meta_error_logged {
                self.meta_error_logged = true;
                tracing::warn!(
                    call_id = &*self.shared.log_id,
                    "cannot write recording metadata: {e}"
                );
            }
        }
    }

    fn commit(&mut self) {
        let Some(p) = self.pcap.as_mut() else { return };
        match p.commit() {
            Ok(n) => {
                self.in_file += n as u64;
                self.shared.written.fetch_add(n as u64, Relaxed);
            }
            Err(e) => self.shared.note_loss(e.lost as u64, &e.to_string()),
        }
    }

    fn finish(mut self, end: &CallEnd) {
        self.commit();
        let written = self.shared.written.load(Relaxed);
        let lost = self.shared.lost.load(Relaxed);
        let t = meta::tail(end, written, lost);
        self.write_meta(&t);
        self.pcap = None;
        if self.meta.take().is_some() {
            if let Err(e) = std::fs::rename(&self.shared.meta_tmp, &self.shared.meta_final) {
                tracing::error!(
                    call_id = &*self.shared.log_id,
                    "cannot move recording metadata to {}: {e}",
                    self.shared.meta_final.display()
                );
            }
        }
        self.shared.closed.store(true, Relaxed);
        tracing::info!(
            call_id = &*self.shared.log_id,
            path = %self.shared.pcap_path.display(),
            packets = written,
            lost,
            "recording finished: {written} packets written, {lost} lost"
        );
    }
}

pub(crate) struct Writer {
    format: Format,
    ctl: Receiver<Ctl>,
    pkts: Receiver<Packet>,
    free: Sender<Vec<u8>>,
    open: HashMap<u64, Open>,
    /// Recordings with packets queued since the last commit.
    touched: Vec<u64>,
}

impl Writer {
    pub fn new(
        format: Format,
        ctl: Receiver<Ctl>,
        pkts: Receiver<Packet>,
        free: Sender<Vec<u8>>,
    ) -> Writer {
        Writer {
            format,
            ctl,
            pkts,
            free,
            open: HashMap::new(),
            touched: Vec::new(),
        }
    }

    pub fn run(mut self) {
        loop {
            select! {
                recv(self.ctl) -> m => match m {
                    Ok(Ctl::Shutdown) | Err(_) => break,
                    Ok(m) => self.control(m),
                },
                recv(self.pkts) -> p => {
                    if let Ok(p) = p {
                        if !self.batch(p) {
                            break;
                        }
                    }
                },
            }
        }
        // Shutdown: everything queued, then every file still open.
        while let Ok(p) = self.pkts.try_recv() {
            self.take(p);
        }
        self.commit_touched();
        while let Ok(m) = self.ctl.try_recv() {
            if !matches!(m, Ctl::Shutdown) {
                self.control(m);
            }
        }
        let now = SystemTime::now();
        for (_, o) in self.open.drain() {
            o.finish(&CallEnd {
                call_start: now,
                terminated: now,
                call_end: now,
                parties: Vec::new(),
                streams: Vec::new(),
                metadata: None,
            });
        }
    }

    /// Takes `first` and what else is queued (up to [`MAX_BATCH`]), then writes each touched
    /// file once. Control messages are handled as they come; an SDP's position among the
    /// packets comes with it (counted by the taps), not from this order. False on shutdown.
    fn batch(&mut self, first: Packet) -> bool {
        let mut next = Some(first);
        let mut n = 0;
        while let Some(p) = next {
            let mut held = Some(p);
            while let Ok(m) = self.ctl.try_recv() {
                match m {
                    Ctl::Shutdown => {
                        if let Some(p) = held.take() {
                            self.take(p);
                        }
                        self.commit_touched();
                        return false;
                    }
                    // The packet in hand was sent before the call ended: it goes first.
                    m @ Ctl::Close(..) => {
                        if let Some(p) = held.take() {
                            self.take(p);
                        }
                        self.control(m);
                    }
                    m => self.control(m),
                }
            }
            if let Some(p) = held {
                self.take(p);
            }
            n += 1;
            next = if n < MAX_BATCH {
                self.pkts.try_recv().ok()
            } else {
                None
            };
        }
        self.commit_touched();
        true
    }

    fn ensure_open(&mut self, shared: &Arc<Shared>) -> Option<&mut Open> {
        if shared.closed.load(Relaxed) {
            return None;
        }
        let format = self.format;
        Some(
            self.open
                .entry(shared.id)
                .or_insert_with(|| Open::create(shared.clone(), format)),
        )
    }

    fn control(&mut self, m: Ctl) {
        match m {
            Ctl::Open(s, done) => {
                self.ensure_open(&s);
                let _ = done.send(());
            }
            Ctl::Sdp(s, rec, queued_before) => {
                if let Some(o) = self.ensure_open(&s) {
                    let text = meta::sdp_block(&rec, queued_before + 1);
                    o.write_meta(&text);
                }
            }
            Ctl::Close(s, end, done) => {
                // The control plane sends this after the call's legs are gone from their
                // worker, so the call's last packets are already in the queue: write them.
                let queued = self.pkts.len();
                for _ in 0..queued {
                    match self.pkts.try_recv() {
                        Ok(p) => self.take(p),
                        Err(_) => break,
                    }
                }
                self.commit_touched();
                // A call that never got its files (e.g. recording requested and ended before
                // anything was written) still gets them, so the reply's path exists.
                self.ensure_open(&s);
                if let Some(o) = self.open.remove(&s.id) {
                    o.finish(&end);
                }
                let _ = done.send(());
            }
            Ctl::Shutdown => {}
        }
    }

    fn take(&mut self, p: Packet) {
        let Packet {
            shared,
            ts,
            src,
            dst,
            mut data,
        } = p;
        let outcome = match self.ensure_open(&shared) {
            Some(o) => match o.pcap.as_mut() {
                Some(f) => {
                    let was_idle = f.pending() == 0;
                    if f.push(ts, src, dst, &data) {
                        Ok(was_idle)
                    } else {
                        Err("packet cannot be framed")
                    }
                }
                None => Err("recording file could not be created"),
            },
            None => Err("recording already closed"),
        };
        match outcome {
            Ok(true) => self.touched.push(shared.id),
            Ok(false) => {}
            Err(why) => shared.note_loss(1, why),
        }
        if data.capacity() <= MAX_POOLED_CAPACITY {
            data.clear();
            let _ = self.free.try_send(data);
        }
    }

    fn commit_touched(&mut self) {
        for id in self.touched.drain(..) {
            if let Some(o) = self.open.get_mut(&id) {
                o.commit();
            }
        }
    }
}
