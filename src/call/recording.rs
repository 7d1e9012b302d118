//! Call recording as the control plane drives it: the `record-call` key/flag of offer and
//! answer, the `start`/`stop`/`pause recording` commands, the `recordings` reply key, the
//! metadata (SDPs, parties, streams, `metadata` key) and the end of the recording when the
//! call ends (delete, after `delete-delay`; timeouts; shutdown).
//!
//! Stopping or pausing keeps the call's file open; starting again appends to it. Every leg of
//! a recorded call gets a tap on its worker (also legs a re-INVITE adds); the tap checks the
//! recording's active flag per packet, so pausing needs no worker command.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::model::Call;
use super::{CallError, Registry};
use crate::media::LegId;
use crate::ng::bencode::OwnedValue;
use crate::ng::request::{Command, NgRequest};
use crate::recording::{CallEnd, CallRecording, Recorder, SdpRecord, StreamRecord};

/// How long the end of a call waits for its recording files to be complete.
const FINISH_WAIT: Duration = Duration::from_millis(500);

/// Recording state of the control plane.
#[derive(Default)]
pub(super) struct Recordings {
    recorder: Option<Recorder>,
    calls: HashMap<String, CallRec>,
}

/// Per call (only for calls that asked for recording or sent `metadata`).
#[derive(Default)]
struct CallRec {
    rec: Option<CallRecording>,
    /// Legs that have a tap on their worker.
    tapped: HashSet<LegId>,
    metadata: Option<String>,
    /// When the call was deleted (its end may come later, after `delete-delay`).
    terminated: Option<SystemTime>,
    warned_no_dir: bool,
}

/// What a request asks for: Some(true) start, Some(false) stop, None leave as is.
fn record_call_wish(req: &NgRequest) -> Option<bool> {
    match req.record_call {
        Some(v) => Some(v),
        None if req.flags.record_call => Some(true),
        None => None,
    }
}

fn unix(secs: u64, us: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(u64::from(us))
}

impl Registry {
    /// Enables call recording (`--recording-dir`); without it, `record-call` only logs.
    pub fn set_recorder(&mut self, recorder: Recorder) {
        self.recordings.recorder = Some(recorder);
    }

    pub fn recorder(&self) -> Option<&Recorder> {
        self.recordings.recorder.as_ref()
    }

    /// The pcap file of a recorded call.
    pub fn recording_path(&self, call_id: &str) -> Option<&std::path::Path> {
        self.recordings
            .calls
            .get(call_id)
            .and_then(|c| c.rec.as_ref())
            .map(|r| r.pcap_path())
    }

    /// Starts (or resumes) recording `call_id`; false when recording is not configured.
    fn rec_start(&mut self, call_id: &str) -> bool {
        let Recordings { recorder, calls } = &mut self.recordings;
        let entry = calls.entry(call_id.to_string()).or_default();
        match (&entry.rec, recorder.as_mut()) {
            (Some(r), _) => r.set_active(true),
            (None, Some(rec)) => entry.rec = Some(rec.begin(call_id)),
            (None, None) => {
                if !entry.warned_no_dir {
                    entry.warned_no_dir = true;
                    tracing::warn!(
                        call_id,
                        "call recording requested, but no recording directory is configured"
                    );
                }
                return false;
            }
        }
        if let Some(call) = self.calls.get_mut(call_id) {
            call.record_call = true;
        }
        true
    }

    fn rec_stop(&mut self, call_id: &str) {
        if let Some(r) = self
            .recordings
            .calls
            .get(call_id)
            .and_then(|c| c.rec.as_ref())
        {
            r.set_active(false);
        }
        if let Some(call) = self.calls.get_mut(call_id) {
            call.record_call = false;
        }
    }

    /// Gives every leg of a recorded call that has none yet a tap on its worker.
    fn rec_tap_legs(&mut self, call_id: &str) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let Some(entry) = self.recordings.calls.get_mut(call_id) else {
            return;
        };
        let Some(rec) = entry.rec.as_ref() else {
            return;
        };
        let current: HashSet<LegId> = call.legs().map(|l| l.id).collect();
        entry.tapped.retain(|id| current.contains(id));
        for leg in call.legs() {
            if entry.tapped.insert(leg.id) {
                let tap = rec.leg_tap(
                    SocketAddr::new(leg.address, leg.port),
                    SocketAddr::new(leg.address, leg.rtcp_port),
                );
                self.media.set_recording(leg, Some(tap));
            }
        }
    }

    fn rec_metadata(&mut self, req: &NgRequest) {
        if let (Some(call_id), Some(m)) = (req.call_id.as_deref(), req.metadata.as_ref()) {
            self.recordings
                .calls
                .entry(call_id.to_string())
                .or_default()
                .metadata = Some(m.clone());
        }
    }

    /// After an offer (`mode` "offer") or answer: applies `record-call`, records the SDP we
    /// send on (from the party `sender`, a monologue index) and adds `recordings` to the
    /// reply.
    pub(super) fn rec_after_sdp(
        &mut self,
        req: &NgRequest,
        mode: &'static str,
        sender: usize,
        sdp_out: &str,
        reply: &mut OwnedValue,
    ) {
        let Some(call_id) = req.call_id.as_deref() else {
            return;
        };
        self.rec_metadata(req);
        match record_call_wish(req) {
            Some(true) => {
                self.rec_start(call_id);
            }
            Some(false) => self.rec_stop(call_id),
            None => {}
        }
        let Some(rec) = self
            .recordings
            .calls
            .get(call_id)
            .and_then(|c| c.rec.as_ref())
        else {
            return;
        };
        if let Some(m) = self
            .calls
            .get(call_id)
            .and_then(|c| c.monologues.get(sender))
        {
            rec.sdp(SdpRecord {
                mode,
                tag: m.tag_str().to_string(),
                label: m.label.clone(),
                started: unix(m.created, 0),
                sdp: sdp_out.to_string(),
            });
        }
        let path = rec.pcap_path().to_string_lossy().into_owned();
        reply.push("recordings", OwnedValue::List(vec![OwnedValue::str(&path)]));
        self.rec_tap_legs(call_id);
    }

    /// `start recording`, `stop recording`, `pause recording`.
    pub(super) fn rec_command(&mut self, req: &NgRequest) -> Result<OwnedValue, CallError> {
        let call_id = req.call_id.as_deref().ok_or(CallError::NoCallId)?;
        if !self.calls.contains_key(call_id) {
            return Err(CallError::UnknownCall);
        }
        self.rec_metadata(req);
        match req.command {
            Command::StartRecording => {
                if self.rec_start(call_id) {
                    self.rec_tap_legs(call_id);
                }
            }
            _ => self.rec_stop(call_id),
        }
        Ok(OwnedValue::dict().with("result", OwnedValue::lit("ok")))
    }

    /// A `delete` for the whole call: its end time for the metadata, even if `delete-delay`
    /// keeps it a while longer.
    pub(super) fn rec_deleted(&mut self, call_id: &str) {
        if let Some(e) = self.recordings.calls.get_mut(call_id) {
            e.terminated.get_or_insert_with(SystemTime::now);
        }
    }

    /// The call is gone (its legs already left their worker): finish its recording.
    pub(super) fn rec_call_ended(&mut self, call: &Call) {
        let Some(entry) = self.recordings.calls.remove(&call.id) else {
            return;
        };
        let Some(rec) = entry.rec else { return };
        let now = SystemTime::now();
        let mut streams = Vec::new();
        for m in &call.monologues {
            for (i, side) in m.medias.iter().enumerate() {
                let Some(leg) = &side.leg else { continue };
                let (learned_rtp, learned_rtcp) =
                    leg.stats.learned.lock().map(|g| *g).unwrap_or((None, None));
                streams.push(StreamRecord {
                    tag: m.tag_str().to_string(),
                    label: m.label.clone(),
                    index: i + 1,
                    kind: side.desc.kind.clone(),
                    protocol: side.desc.protocol.clone(),
                    local_rtp: SocketAddr::new(leg.address, leg.port),
                    local_rtcp: (!side.rtcp_mux)
                        .then(|| SocketAddr::new(leg.address, leg.rtcp_port)),
                    remote_rtp: learned_rtp.or(side.desc.rtp_endpoint()),
                    remote_rtcp: if side.rtcp_mux {
                        None
                    } else {
                        learned_rtcp.or(side.desc.rtcp_endpoint())
                    },
                });
            }
        }
        let (written, lost) = rec.counts();
        tracing::debug!(call_id = %call.id, written, lost, "finishing call recording");
        let done = rec.finish(CallEnd {
            call_start: unix(call.created, call.created_us),
            terminated: entry.terminated.unwrap_or(now),
            call_end: now,
            parties: call
                .monologues
                .iter()
                .map(|m| (m.tag_str().to_string(), m.label.clone()))
                .collect(),
            streams,
            metadata: entry.metadata,
        });
        // The files are complete when the reply (e.g. to `delete`) goes out, unless the disk
        // is so slow that we stop waiting for it.
        if done.recv_timeout(FINISH_WAIT).is_err() {
            tracing::warn!(call_id = %call.id, "recording files not finished in time; finishing in the background");
        }
    }

    /// Writes what is queued and stops the recording thread (after every call has ended).
    pub(super) fn rec_shutdown(&mut self) {
        if let Some(r) = self.recordings.recorder.as_mut() {
            r.shutdown();
        }
    }
}
