//! The text of a call's metadata file (the `pcap` method's layout of rtpengine, plus a few
//! lines of our own, see the module docs in `recording/mod.rs`).
//!
//! Every piece that comes from the network (Call-ID, tags, labels, `metadata`) goes through
//! [`escape_text`], so it cannot add lines of its own. SDP bodies are written as produced.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use super::name::escape_text;

/// Longest tag, label or Call-ID written to the metadata file, in bytes.
const MAX_FIELD: usize = 1024;
/// Longest `metadata` value written, in bytes.
const MAX_METADATA: usize = 16 * 1024;

/// One offer or answer, as the metadata file records it.
#[derive(Debug, Clone)]
pub struct SdpRecord {
    /// `offer` or `answer`.
    pub mode: &'static str,
    /// The SIP tag of the party that sent this SDP, and its label.
    pub tag: String,
    pub label: Option<String>,
    /// When that party's monologue started.
    pub started: SystemTime,
    /// The SDP rtpbridge sent on (the rewritten one).
    pub sdp: String,
}

/// One stream of the call at its end: which of our ports faced which party.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub tag: String,
    pub label: Option<String>,
    /// 1-based m= section index.
    pub index: usize,
    pub kind: String,
    pub protocol: String,
    pub local_rtp: SocketAddr,
    pub local_rtcp: Option<SocketAddr>,
    /// The party's address: learned from its packets, else what its SDP said.
    pub remote_rtp: Option<SocketAddr>,
    pub remote_rtcp: Option<SocketAddr>,
}

/// What the metadata file records when the call ends.
#[derive(Debug, Clone)]
pub struct CallEnd {
    pub call_start: SystemTime,
    /// When the first monologue was terminated (the `delete`, else the call's end).
    pub terminated: SystemTime,
    pub call_end: SystemTime,
    /// Every party: tag and label.
    pub parties: Vec<(String, Option<String>)>,
    pub streams: Vec<StreamRecord>,
    /// The `metadata` value given with the call's commands (the last one wins).
    pub metadata: Option<String>,
}

fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0)
}

/// `YYYY-MM-DDThh:mm:ss` in local time, as rtpengine prints call start and end.
pub fn local_datetime(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r only reads `secs` and writes the `tm` we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if !ok {
        return String::from("1970-01-01T00:00:00");
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// The start of the file: the pcap path, a blank line, and the Call-ID.
pub fn header(pcap_path: &Path, call_id: &str) -> String {
    format!(
        "{}\n\nCall-ID: {}\n",
        pcap_path.display(),
        escape_text(call_id, MAX_FIELD)
    )
}

/// One SDP block; `next_packet` is the 1-based number of the next packet in the pcap.
pub fn sdp_block(r: &SdpRecord, next_packet: u64) -> String {
    let mut s = String::with_capacity(r.sdp.len() + 160);
    if let Some(l) = r.label.as_deref().filter(|l| !l.is_empty()) {
        let _ = write!(s, "\nLabel: {}", escape_text(l, MAX_FIELD));
    }
    let _ = write!(s, "\nTag: {}", escape_text(&r.tag, MAX_FIELD));
    let _ = write!(s, "\nTimestamp started ms: {:.3}", unix_ms(r.started));
    let _ = write!(s, "\nSDP mode: {}", r.mode);
    let _ = write!(s, "\nSDP before RTP packet: {next_packet}\n\n");
    s.push_str(&r.sdp);
    s
}

fn addr(a: Option<SocketAddr>) -> String {
    a.map(|a| a.to_string()).unwrap_or_else(|| "-".into())
}

/// The end of the file: parties, streams, packet counts, then rtpengine's termination and
/// start/end times and the `metadata` value.
pub fn tail(e: &CallEnd, packets: u64, lost: u64) -> String {
    let mut s = String::new();
    s.push('\n');
    for (tag, label) in &e.parties {
        let _ = write!(s, "\nParty: tag {}", escape_text(tag, MAX_FIELD));
        if let Some(l) = label {
            let _ = write!(s, " label {}", escape_text(l, MAX_FIELD));
        }
    }
    for st in &e.streams {
        let _ = write!(
            s,
            "\nStream: tag {} media {} {} {} local {} rtcp {} remote {} rtcp {}",
            escape_text(&st.tag, MAX_FIELD),
            st.index,
            escape_text(&st.kind, MAX_FIELD),
            escape_text(&st.protocol, MAX_FIELD),
            st.local_rtp,
            addr(st.local_rtcp),
            addr(st.remote_rtp),
            addr(st.remote_rtcp),
        );
        if let Some(l) = &st.label {
            let _ = write!(s, " label {}", escape_text(l, MAX_FIELD));
        }
    }
    let _ = write!(s, "\nRecorded packets: {packets}\nLost packets: {lost}\n");
    let _ = write!(
        s,
        "\nTimestamp terminated ms(first monologue): {:.3}",
        unix_ms(e.terminated)
    );
    let _ = write!(
        s,
        "\n\ncall start time: {}\ncall end time: {}\n",
        local_datetime(e.call_start),
        local_datetime(e.call_end)
    );
    if let Some(m) = e.metadata.as_deref().filter(|m| !m.is_empty()) {
        let _ = write!(s, "\n\n{}\n", escape_text(m, MAX_METADATA));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn header_and_sdp_block() {
        let h = header(Path::new("/rec/pcaps/a%40b-00.pcap"), "a@b\nInjected: 1");
        assert_eq!(
            h,
            "/rec/pcaps/a%40b-00.pcap\n\nCall-ID: a@b%0AInjected: 1\n"
        );
        let b = sdp_block(
            &SdpRecord {
                mode: "offer",
                tag: "t1".into(),
                label: Some("caller".into()),
                started: at(1_700_000_000_123),
                sdp: "v=0\r\n".into(),
            },
            1,
        );
        assert_eq!(
            b,
            "\nLabel: caller\nTag: t1\nTimestamp started ms: 1700000000123.000\n\
             SDP mode: offer\nSDP before RTP packet: 1\n\nv=0\r\n"
        );
    }

    #[test]
    fn tail_lists_streams_and_times() {
        let e = CallEnd {
            call_start: at(1_700_000_000_000),
            terminated: at(1_700_000_005_500),
            call_end: at(1_700_000_006_000),
            parties: vec![("a".into(), Some("caller".into())), ("b".into(), None)],
            streams: vec![StreamRecord {
                tag: "a".into(),
                label: None,
                index: 1,
                kind: "audio".into(),
                protocol: "RTP/AVP".into(),
                local_rtp: "127.0.0.1:30000".parse().unwrap(),
                local_rtcp: Some("127.0.0.1:30001".parse().unwrap()),
                remote_rtp: Some("127.0.0.2:6000".parse().unwrap()),
                remote_rtcp: None,
            }],
            metadata: Some("k=v".into()),
        };
        let t = tail(&e, 10, 2);
        assert!(
            t.contains("\nParty: tag a label caller\nParty: tag b\n"),
            "{t}"
        );
        assert!(t.contains(
            "Stream: tag a media 1 audio RTP/AVP local 127.0.0.1:30000 rtcp 127.0.0.1:30001 \
             remote 127.0.0.2:6000 rtcp -\n"
        ));
        assert!(t.contains("Recorded packets: 10\nLost packets: 2\n"));
        assert!(t.contains("Timestamp terminated ms(first monologue): 1700000005500.000\n"));
        assert!(t.contains("\ncall start time: "));
        assert!(t.ends_with("\n\nk=v\n"), "{t}");
    }

    #[test]
    fn local_datetime_shape() {
        let s = local_datetime(at(1_700_000_000_000));
        assert_eq!(s.len(), 19, "{s}");
        assert_eq!(&s[4..5], "-");
        assert_eq!(&s[10..11], "T");
        assert!(s.starts_with("2023-11-1"), "{s}");
    }
}
