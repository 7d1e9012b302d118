//! The recorder with its thread, on a real directory.

use super::*;
use pcap_file::pcap::PcapReader;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "rtpbridge-rec-unit-{name}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn end() -> CallEnd {
    let now = SystemTime::now();
    CallEnd {
        call_start: now,
        terminated: now,
        call_end: now,
        parties: vec![("from".into(), None), ("to".into(), Some("callee".into()))],
        streams: Vec::new(),
        metadata: None,
    }
}

fn packets(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut r = PcapReader::new(&data[..]).unwrap();
    let mut v = Vec::new();
    while let Some(p) = r.next_packet() {
        v.push(p.unwrap().data.into_owned());
    }
    v
}

#[test]
fn settings_from_options() {
    assert_eq!(
        Settings::from_options(None, Some("pcap"), None).unwrap(),
        None
    );
    let s = Settings::from_options(Some(Path::new("/var/spool/x/")), None, None)
        .unwrap()
        .unwrap();
    assert_eq!(s.dir, PathBuf::from("/var/spool/x"));
    assert_eq!(s.format, Format::Raw);
    let s = Settings::from_options(Some(Path::new("d")), Some("pcap"), Some("eth"))
        .unwrap()
        .unwrap();
    assert_eq!(s.format, Format::Eth);
    assert!(matches!(
        Settings::from_options(Some(Path::new("d")), Some("proc"), None),
        Err(RecordingError::Method(_))
    ));
    assert!(matches!(
        Settings::from_options(Some(Path::new("d")), None, Some("pcapng")),
        Err(RecordingError::Format(_))
    ));
}

#[test]
fn records_both_legs_and_moves_metadata() {
    let d = Dir::new("both");
    let mut r = Recorder::start(Settings {
        dir: d.0.clone(),
        format: Format::Raw,
    })
    .unwrap();
    let call = r.begin("abc@host");
    let name = call
        .pcap_path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("abc%40host-") && name.ends_with(".pcap"),
        "{name}"
    );
    assert_eq!(name.len(), "abc%40host-".len() + 16 + 5);
    assert_eq!(call.pcap_path().parent().unwrap(), d.0.join("pcaps"));
    let a = call.leg_tap(sa("127.0.0.1:30000"), sa("127.0.0.1:30001"));
    let b = call.leg_tap(sa("127.0.0.1:30002"), sa("127.0.0.1:30003"));
    call.sdp(SdpRecord {
        mode: "offer",
        tag: "from".into(),
        label: None,
        started: SystemTime::now(),
        sdp: "v=0\r\nm=audio 30002 RTP/AVP 0\r\n".into(),
    });
    for i in 0..10u8 {
        a.record(&[0x80, 0, 0, i], sa("127.0.0.2:6000"), false);
        b.record(&[0x80, 0, 0, 100 + i], sa("127.0.0.3:7000"), false);
    }
    a.record(&[0x80, 201, 0, 1], sa("127.0.0.2:6001"), true);
    // Paused: nothing written; resumed: appended to the same file.
    call.set_active(false);
    a.record(&[0x80, 0, 0, 200], sa("127.0.0.2:6000"), false);
    call.set_active(true);
    a.record(&[0x80, 0, 0, 201], sa("127.0.0.2:6000"), false);
    let pcap = call.pcap_path().to_path_buf();
    let meta = call.metadata_path().to_path_buf();
    call.finish(end())
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("files finished");
    r.shutdown();

    let pkts = packets(&pcap);
    assert_eq!(pkts.len(), 22);
    // Leg A's packets go from the caller to port 30000, leg B's from the callee to 30002.
    let first_a = &pkts.iter().find(|p| p[31] == 0).unwrap();
    assert_eq!(&first_a[12..16], &[127, 0, 0, 2]);
    assert_eq!(u16::from_be_bytes([first_a[22], first_a[23]]), 30000);
    let first_b = &pkts.iter().find(|p| p[31] == 100).unwrap();
    assert_eq!(&first_b[12..16], &[127, 0, 0, 3]);
    assert_eq!(u16::from_be_bytes([first_b[22], first_b[23]]), 30002);
    let rtcp = pkts.iter().find(|p| p[29] == 201).unwrap();
    assert_eq!(u16::from_be_bytes([rtcp[22], rtcp[23]]), 30001);
    assert!(pkts.iter().all(|p| p[31] != 200), "paused packet written");
    assert!(pkts.iter().any(|p| p[31] == 201), "resumed packet missing");

    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.starts_with(&format!("{}\n\nCall-ID: abc@host\n", pcap.display())));
    assert!(text.contains("\nSDP mode: offer\nSDP before RTP packet: 1\n\nv=0\r\n"));
    assert!(
        text.contains("Recorded packets: 22\nLost packets: 0\n"),
        "{text}"
    );
    assert!(text.contains("call end time: "));
    assert_eq!(std::fs::read_dir(d.0.join("tmp")).unwrap().count(), 0);
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    // A tap whose queue nobody drains.
    let (pkts, _keep) = crossbeam_channel::bounded(3);
    let (free_tx, free_rx) = crossbeam_channel::bounded(8);
    let shared = Arc::new(Shared {
        id: 1,
        call_id: Arc::from("c"),
        log_id: Arc::from("c"),
        pcap_path: PathBuf::new(),
        meta_tmp: PathBuf::new(),
        meta_final: PathBuf::new(),
        active: AtomicBool::new(true),
        closed: AtomicBool::new(false),
        written: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        queued: AtomicU64::new(0),
        loss_logged: AtomicBool::new(false),
        pkts,
        free_tx,
        free_rx: free_rx.clone(),
    });
    let tap = LegTap {
        shared: shared.clone(),
        rtp_local: sa("127.0.0.1:1"),
        rtcp_local: sa("127.0.0.1:2"),
    };
    for _ in 0..10 {
        tap.record(&[0x80; 20], sa("127.0.0.2:3"), false);
    }
    assert_eq!(shared.lost.load(Relaxed), 7);
    assert!(shared.loss_logged.load(Relaxed));
    // The dropped packets' buffers went back to the pool.
    assert_eq!(
        free_rx.len(),
        1,
        "one buffer recycled, then reused for each drop"
    );
}

#[test]
fn call_ended_without_packets_still_gets_valid_files() {
    let d = Dir::new("empty");
    let mut r = Recorder::start(Settings {
        dir: d.0.clone(),
        format: Format::Eth,
    })
    .unwrap();
    let call = r.begin("../../etc/passwd\n");
    let pcap = call.pcap_path().to_path_buf();
    let meta = call.metadata_path().to_path_buf();
    assert_eq!(pcap.parent().unwrap(), d.0.join("pcaps"));
    assert_eq!(meta.parent().unwrap(), d.0.join("metadata"));
    call.finish(end())
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("files finished");
    r.shutdown();
    assert!(packets(&pcap).is_empty());
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("Call-ID: ../../etc/passwd%0A\n"), "{text}");
}

#[test]
fn shutdown_finishes_open_recordings() {
    let d = Dir::new("shutdown");
    let mut r = Recorder::start(Settings {
        dir: d.0.clone(),
        format: Format::Raw,
    })
    .unwrap();
    let call = r.begin("x");
    let tap = call.leg_tap(sa("[::1]:30000"), sa("[::1]:30001"));
    for i in 0..100u16 {
        let mut p = vec![0x80, 0];
        p.extend_from_slice(&i.to_be_bytes());
        tap.record(&p, sa("[::1]:5000"), false);
    }
    let pcap = call.pcap_path().to_path_buf();
    let meta = call.metadata_path().to_path_buf();
    r.shutdown();
    let pkts = packets(&pcap);
    assert_eq!(pkts.len() as u64 + call.counts().1, 100);
    assert_eq!(pkts.len(), 100, "nothing lost with an idle disk");
    assert_eq!(pkts[5][0] >> 4, 6, "IPv6");
    assert!(meta.exists());
    // The thread is gone: further packets are counted as lost, nothing blocks.
    tap.record(&[0x80, 0, 0, 0], sa("[::1]:5000"), false);
    assert_eq!(call.counts(), (100, 1));
}
