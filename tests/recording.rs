//! Call recording through the real binary: a call is recorded with `record-call=yes` or the
//! `start/stop/pause recording` commands, RTP and RTCP are played both ways, and the pcap is
//! read back with `tshark` (an independent reader): every packet of both directions, with
//! the real addresses, the payload bytes sent, and 0 lost in `-z rtp,streams`.
//! Also: rtpengine's spool layout, hostile Call-IDs, a full disk (a 64 KiB tmpfs; needs
//! root), delete-delay, final timeout and SIGTERM.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A fresh directory under the system temp dir, removed on drop (kept if the test failed).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "rtpbridge-rec-{name}-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tshark (Debian package `tshark`)");
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Leg {
    sock: UdpSocket,
    /// Where this party receives RTCP (`a=rtcp:` in its SDP).
    rtcp: UdpSocket,
    /// rtpbridge's port this party sends to.
    relay_port: u16,
}

struct RecCall {
    a: Leg,
    b: Leg,
    offer_reply: Value,
    answer_reply: Value,
}

fn recordings(reply: &Value) -> Vec<String> {
    match get(reply, "recordings") {
        Some(Value::List(l)) => l
            .iter()
            .map(|v| match v {
                Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("recording path not a string: {other:?}"),
            })
            .collect(),
        None => Vec::new(),
        other => panic!("recordings not a list: {other:?}"),
    }
}

/// Offer (A = 127.0.0.2) and answer (B = 127.0.0.3) with `flags` on both.
fn setup(c: &NgClient, call_id: &str, flags: &[(&str, Value)]) -> RecCall {
    setup_ip(c, call_id, flags, "127.0.0.2", "127.0.0.3")
}

fn sdp_for(ip: &str, port: u16, rtcp: u16) -> String {
    let fam = if ip.contains(':') { "IP6" } else { "IP4" };
    format!(
        "v=0\r\no=- 1545997027 1 IN {fam} {ip}\r\ns=tester\r\nc=IN {fam} {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtcp:{rtcp}\r\na=sendrecv\r\n"
    )
}

fn port_of(s: &UdpSocket) -> u16 {
    s.local_addr().unwrap().port()
}

fn setup_ip(
    c: &NgClient,
    call_id: &str,
    flags: &[(&str, Value)],
    a_ip: &str,
    b_ip: &str,
) -> RecCall {
    let a = udp(&format!("{}:0", bracket(a_ip)));
    let b = udp(&format!("{}:0", bracket(b_ip)));
    let a_rtcp = udp(&format!("{}:0", bracket(a_ip)));
    let b_rtcp = udp(&format!("{}:0", bracket(b_ip)));
    let mut offer = vec![
        ("command", s("offer")),
        ("call-id", s(call_id)),
        ("from-tag", s("tag-a")),
        ("label", s("caller")),
        ("sdp", s(&sdp_for(a_ip, port_of(&a), port_of(&a_rtcp)))),
    ];
    offer.extend(flags.iter().cloned());
    let offer_reply = c.ok(&offer);
    let mut answer = vec![
        ("command", s("answer")),
        ("call-id", s(call_id)),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
        ("sdp", s(&sdp_for(b_ip, port_of(&b), port_of(&b_rtcp)))),
    ];
    answer.extend(flags.iter().cloned());
    let answer_reply = c.ok(&answer);
    RecCall {
        a: Leg {
            sock: a,
            rtcp: a_rtcp,
            relay_port: media_port(&get_str(&answer_reply, "sdp")),
        },
        b: Leg {
            sock: b,
            rtcp: b_rtcp,
            relay_port: media_port(&get_str(&offer_reply, "sdp")),
        },
        offer_reply,
        answer_reply,
    }
}

fn bracket(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

fn relay_host(sock: &UdpSocket) -> String {
    if sock.local_addr().unwrap().is_ipv6() {
        "::1".into()
    } else {
        "127.0.0.1".into()
    }
}

/// RTP with PT 0, `ssrc`, `seq`, and 160 payload bytes that encode `(ssrc, seq)`.
fn rtp_pkt(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..160u32).map(|i| (i as u8) ^ (seq as u8) ^ (ssrc as u8)));
    p
}

/// Sends `seqs` from `from` through the relay to `to`, checking each arrives unchanged.
fn play(from: &Leg, to: &Leg, ssrc: u32, seqs: std::ops::Range<u16>) {
    let host = relay_host(&from.sock);
    for seq in seqs {
        let pkt = rtp_pkt(ssrc, seq);
        from.sock
            .send_to(&pkt, (host.as_str(), from.relay_port))
            .unwrap();
        let (got, _) = recv(&to.sock);
        assert_eq!(got, pkt, "packet {seq} of SSRC {ssrc:#x} relayed");
    }
}

fn rtcp_both_ways(call: &RecCall) {
    for (from, to, ssrc) in [(&call.a, &call.b, 0xA), (&call.b, &call.a, 0xB)] {
        let host = relay_host(&from.sock);
        let sr = rtcp_rr(ssrc);
        from.rtcp
            .send_to(&sr, (host.as_str(), from.relay_port + 1))
            .unwrap();
        let (got, _) = recv(&to.rtcp);
        assert_eq!(got, sr, "RTCP relayed");
    }
}

fn delete(c: &NgClient, call_id: &str) -> Value {
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s(call_id)),
        ("from-tag", s("tag-a")),
        ("delete-delay", Value::Int(0)),
    ])
}

/// The file name stem rtpengine uses: escaped Call-ID, `-`, 16 hex digits.
fn check_name(path: &str, dir: &Path, escaped: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert_eq!(p.parent().unwrap(), dir.join("pcaps"), "{path}");
    let name = p.file_name().unwrap().to_str().unwrap();
    let stem = name.strip_suffix(".pcap").expect(".pcap");
    let (esc, hex) = stem.rsplit_once('-').expect("random suffix");
    assert_eq!(esc, escaped);
    assert_eq!(hex.len(), 16);
    assert!(hex
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    p
}

/// `metadata/rtpengine-meta-<stem>.txt` for a pcap path.
fn metadata_for(pcap: &Path, dir: &Path) -> PathBuf {
    let stem = pcap.file_stem().unwrap().to_str().unwrap();
    dir.join("metadata")
        .join(format!("rtpengine-meta-{stem}.txt"))
}

/// Waits (polling) until `cond` holds.
fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One tshark field row per RTP packet of the file.
struct RtpRow {
    src: String,
    sport: u16,
    dst: String,
    dport: u16,
    ssrc: u32,
    seq: u16,
    payload: Vec<u8>,
    time: f64,
    checksums_good: bool,
}

fn hex_bytes(s: &str) -> Vec<u8> {
    let h: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..h.len() / 2)
        .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn decode_as(ports: &[u16], proto: &str) -> Vec<String> {
    ports
        .iter()
        .flat_map(|p| ["-d".to_string(), format!("udp.port=={p},{proto}")])
        .collect()
}

fn rtp_rows(file: &Path, ports: &[u16], v6: bool) -> Vec<RtpRow> {
    let (src, dst, ck) = if v6 {
        // (tshark leaves a field empty the first time when it is asked for twice)
        ("ipv6.src", "ipv6.dst", "ipv6.plen")
    } else {
        ("ip.src", "ip.dst", "ip.checksum.status")
    };
    let mut args: Vec<String> = vec!["-r".into(), file.display().to_string(), "-n".into()];
    args.extend(decode_as(ports, "rtp"));
    args.extend(
        [
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            src,
            "-e",
            "udp.srcport",
            "-e",
            dst,
            "-e",
            "udp.dstport",
            "-e",
            "rtp.ssrc",
            "-e",
            "rtp.seq",
            "-e",
            "rtp.payload",
            "-e",
            "frame.time_epoch",
            "-e",
            ck,
            "-e",
            "udp.checksum.status",
        ]
        .map(String::from),
    );
    let out = tshark(&args.iter().map(String::as_str).collect::<Vec<_>>());
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 10, "{l}");
            let ssrc = u32::from_str_radix(f[4].trim_start_matches("0x"), 16).unwrap();
            RtpRow {
                src: f[0].into(),
                sport: f[1].parse().unwrap(),
                dst: f[2].into(),
                dport: f[3].parse().unwrap(),
                ssrc,
                seq: f[5].parse().unwrap(),
                payload: hex_bytes(f[6]),
                time: f[7].parse().unwrap(),
                // ip.checksum.status / udp.checksum.status: 1 = good.
                checksums_good: (v6 || f[8] == "1") && f[9] == "1",
            }
        })
        .collect()
}

/// `tshark -z rtp,streams`: (SSRC -> (packets, lost)).
fn rtp_streams(file: &Path, ports: &[u16]) -> BTreeMap<u32, (u64, i64)> {
    let mut args: Vec<String> = vec![
        "-r".into(),
        file.display().to_string(),
        "-n".into(),
        "-q".into(),
        "-z".into(),
        "rtp,streams".into(),
    ];
    args.extend(decode_as(ports, "rtp"));
    let out = tshark(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let t: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = t.iter().position(|w| w.starts_with("0x")) else {
            continue;
        };
        // ... SSRC Payload Pkts Lost(pct) ...
        let ssrc = u32::from_str_radix(&t[i][2..], 16).unwrap();
        let pkts: u64 = t[i + 2].parse().unwrap_or_else(|_| panic!("{line}"));
        let lost: i64 = t[i + 3].parse().unwrap_or_else(|_| panic!("{line}"));
        m.insert(ssrc, (pkts, lost));
    }
    assert!(!m.is_empty(), "no RTP streams in:\n{out}");
    m
}

const SSRC_A: u32 = 0x1111_1111;
const SSRC_B: u32 = 0x2222_2222;

fn check_rows(rows: &[RtpRow], call: &RecCall, ssrc: u32, from_a: bool, seqs: &[u16]) {
    let (from, to) = if from_a {
        (&call.a, &call.b)
    } else {
        (&call.b, &call.a)
    };
    let _ = to;
    let mine: Vec<&RtpRow> = rows.iter().filter(|r| r.ssrc == ssrc).collect();
    let got: Vec<u16> = mine.iter().map(|r| r.seq).collect();
    assert_eq!(got, seqs, "sequence numbers of SSRC {ssrc:#x}");
    let sender = from.sock.local_addr().unwrap();
    for r in mine {
        assert_eq!(r.src, sender.ip().to_string());
        assert_eq!(r.sport, sender.port());
        assert_eq!(r.dst, relay_host(&from.sock));
        assert_eq!(r.dport, from.relay_port);
        assert_eq!(
            r.payload,
            rtp_pkt(ssrc, r.seq)[12..],
            "payload of {}",
            r.seq
        );
        assert!(r.checksums_good, "IP/UDP checksums of packet {}", r.seq);
    }
}

#[test]
fn recorded_call_holds_every_packet_of_both_directions() {
    let dir = TempDir::new("both");
    let srv = Server::start(&[&format!("--recording-dir={}", dir.0.display())]);
    let c = srv.client();
    let call_id = format!("rec-both-{}@127.0.0.2", std::process::id());
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let call = setup(&c, &call_id, &[("record-call", s("yes"))]);

    let paths = recordings(&call.offer_reply);
    assert_eq!(paths.len(), 1, "{:?}", call.offer_reply);
    assert_eq!(
        recordings(&call.answer_reply),
        paths,
        "same file for the call"
    );
    let escaped = call_id.replace('@', "%40");
    let pcap = check_name(&paths[0], &dir.0, &escaped);
    // While the call runs the metadata file is in tmp/.
    let meta = metadata_for(&pcap, &dir.0);
    let tmp_meta = dir
        .0
        .join("tmp")
        .join(meta.with_extension("tmp").file_name().unwrap());
    assert!(
        tmp_meta.is_file(),
        "{} while the call runs",
        tmp_meta.display()
    );
    assert!(!meta.exists());

    const N: u16 = 50;
    play(&call.a, &call.b, SSRC_A, 0..N);
    play(&call.b, &call.a, SSRC_B, 0..N);
    rtcp_both_ways(&call);
    delete(&c, &call_id);
    let t1 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    // Complete when the delete reply is there.
    assert!(meta.is_file(), "metadata moved to {}", meta.display());
    assert!(!tmp_meta.exists());
    let ports = [call.a.relay_port, call.b.relay_port];
    let rows = rtp_rows(&pcap, &ports, false);
    assert_eq!(
        rows.len(),
        2 * N as usize,
        "every RTP packet of both directions"
    );
    let all: Vec<u16> = (0..N).collect();
    check_rows(&rows, &call, SSRC_A, true, &all);
    check_rows(&rows, &call, SSRC_B, false, &all);
    for w in rows.windows(2) {
        assert!(w[0].time <= w[1].time, "arrival timestamps in order");
    }
    assert!(rows[0].time >= t0 - 0.001 && rows[rows.len() - 1].time <= t1 + 0.001);

    let streams = rtp_streams(&pcap, &ports);
    assert_eq!(
        streams,
        BTreeMap::from([(SSRC_A, (N as u64, 0)), (SSRC_B, (N as u64, 0))]),
        "tshark -z rtp,streams"
    );

    // RTCP of both directions, on the RTCP ports.
    let rtcp_ports = [call.a.relay_port + 1, call.b.relay_port + 1];
    let mut args = vec!["-r".to_string(), pcap.display().to_string(), "-n".into()];
    args.extend(decode_as(&rtcp_ports, "rtcp"));
    args.extend(
        [
            "-Y",
            "rtcp",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "udp.dstport",
            "-e",
            "rtcp.senderssrc",
        ]
        .map(String::from),
    );
    let rtcp = tshark(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let mut rtcp_rows: Vec<String> = rtcp.lines().map(|l| l.replace('\t', " ")).collect();
    rtcp_rows.sort();
    assert_eq!(
        rtcp_rows,
        vec![
            format!("127.0.0.2 {} 0x0000000a", rtcp_ports[0]),
            format!("127.0.0.3 {} 0x0000000b", rtcp_ports[1]),
        ]
    );

    // The metadata: pcap path, Call-ID, both SDPs, parties, streams, times.
    let text = fs::read_to_string(&meta).unwrap();
    assert!(
        text.starts_with(&format!("{}\n\nCall-ID: {call_id}\n", pcap.display())),
        "{text}"
    );
    let offer_sdp = get_str(&call.offer_reply, "sdp");
    let answer_sdp = get_str(&call.answer_reply, "sdp");
    assert!(text.contains("\nLabel: caller\nTag: tag-a\nTimestamp started ms: "));
    assert!(
        text.contains(&format!(
            "SDP mode: offer\nSDP before RTP packet: 1\n\n{offer_sdp}"
        )),
        "{text}"
    );
    assert!(text.contains("\nTag: tag-b\nTimestamp started ms: "));
    assert!(
        text.contains(&format!(
            "SDP mode: answer\nSDP before RTP packet: 1\n\n{answer_sdp}"
        )),
        "{text}"
    );
    assert!(
        text.contains("\nParty: tag tag-a label caller\nParty: tag tag-b\n"),
        "{text}"
    );
    let a_addr = call.a.sock.local_addr().unwrap();
    assert!(text.contains(&format!(
        "Stream: tag tag-a media 1 audio RTP/AVP local 127.0.0.1:{} rtcp 127.0.0.1:{} remote {a_addr} rtcp 127.0.0.2:{} label caller\n",
        call.a.relay_port,
        call.a.relay_port + 1,
        port_of(&call.a.rtcp)
    )), "{text}");
    assert!(
        text.contains(&format!(
            "Recorded packets: {}\nLost packets: 0\n",
            2 * N + 2
        )),
        "{text}"
    );
    assert!(text.contains("\ncall start time: ") && text.contains("\ncall end time: "));

    // rtpengine's layout and nothing else.
    let mut top: Vec<String> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["metadata", "pcaps", "tmp"]);
    assert!(srv.log_contains("recording finished: 102 packets written, 0 lost"));
}

#[test]
fn eth_format_over_ipv6() {
    let dir = TempDir::new("eth6");
    let srv = Server::start(&[
        "-i",
        "::1",
        &format!("--recording-dir={}", dir.0.display()),
        "--recording-method=pcap",
        "--recording-format=eth",
    ]);
    let c = srv.client();
    let call = setup_ip(&c, "rec-v6", &[("record-call", s("yes"))], "::1", "::1");
    let pcap = PathBuf::from(&recordings(&call.offer_reply)[0]);
    play(&call.a, &call.b, SSRC_A, 0..20);
    play(&call.b, &call.a, SSRC_B, 0..20);
    delete(&c, "rec-v6");
    let ports = [call.a.relay_port, call.b.relay_port];
    let rows = rtp_rows(&pcap, &ports, true);
    assert_eq!(rows.len(), 40);
    let all: Vec<u16> = (0..20).collect();
    check_rows(&rows, &call, SSRC_A, true, &all);
    check_rows(&rows, &call, SSRC_B, false, &all);
    let eth = tshark(&[
        "-r",
        pcap.to_str().unwrap(),
        "-T",
        "fields",
        "-e",
        "eth.type",
        "-e",
        "eth.src",
    ]);
    assert!(
        eth.lines().all(|l| l == "0x86dd\t00:00:00:00:00:00"),
        "{eth}"
    );
}

#[test]
fn stop_pause_and_start_append_to_the_same_file() {
    let dir = TempDir::new("pause");
    let srv = Server::start(&[&format!("--recording-dir={}", dir.0.display())]);
    let c = srv.client();
    let id = "rec-pause";
    let call = setup(&c, id, &[]);
    assert!(recordings(&call.offer_reply).is_empty(), "not recorded yet");
    let cmd = |name: &str| c.ok(&[("command", s(name)), ("call-id", s(id))]);

    cmd("start recording");
    play(&call.a, &call.b, SSRC_A, 0..10);
    cmd("pause recording");
    play(&call.a, &call.b, SSRC_A, 10..20);
    cmd("start recording");
    play(&call.a, &call.b, SSRC_A, 20..30);
    cmd("stop recording");
    play(&call.a, &call.b, SSRC_A, 30..40);
    // A re-INVITE reports the same file; `record-call=yes` resumes into it.
    let re = c.ok(&[
        ("command", s("offer")),
        ("call-id", s(id)),
        ("from-tag", s("tag-a")),
        ("label", s("caller")),
        ("record-call", s("yes")),
        (
            "sdp",
            s(&sdp_for(
                "127.0.0.2",
                port_of(&call.a.sock),
                port_of(&call.a.rtcp),
            )),
        ),
    ]);
    let paths = recordings(&re);
    assert_eq!(paths.len(), 1);
    play(&call.a, &call.b, SSRC_A, 40..50);
    c.ok(&[
        ("command", s("stop recording")),
        ("call-id", s(id)),
        ("flags", list(&["pause"])),
    ]);
    play(&call.a, &call.b, SSRC_A, 50..60);
    delete(&c, id);

    let pcap = PathBuf::from(&paths[0]);
    assert_eq!(
        fs::read_dir(dir.0.join("pcaps")).unwrap().count(),
        1,
        "one file per call"
    );
    let rows = rtp_rows(&pcap, &[call.a.relay_port], false);
    let want: Vec<u16> = (0..10).chain(20..30).chain(40..50).collect();
    check_rows(&rows, &call, SSRC_A, true, &want);
    let text = fs::read_to_string(metadata_for(&pcap, &dir.0)).unwrap();
    // Only SDPs seen while the call is recorded: the re-offer, after 20 recorded packets.
    assert_eq!(text.matches("SDP mode: offer").count(), 1, "{text}");
    assert!(text.contains("SDP before RTP packet: 21\n"), "{text}");
}

#[test]
fn hostile_call_ids_stay_inside_the_directory() {
    let dir = TempDir::new("hostile");
    let root = dir.0.join("spool");
    let srv = Server::start(&[&format!("--recording-dir={}", root.display())]);
    let c = srv.client();
    let long = "L".repeat(5000);
    for id in [
        "../../etc/x",
        long.as_str(),
        "nul\0and\nnewline\r/..",
        "..",
        "%2F",
    ] {
        let call = setup(&c, id, &[("record-call", s("yes"))]);
        let paths = recordings(&call.offer_reply);
        assert_eq!(paths.len(), 1);
        let p = PathBuf::from(&paths[0]);
        assert_eq!(p.parent().unwrap(), root.join("pcaps"), "{id:?}");
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= 255, "{} bytes", name.len());
        assert!(!name.bytes().any(|b| b.is_ascii_control()), "{name:?}");
        assert!(p.is_file(), "{}", p.display());
        play(&call.a, &call.b, SSRC_A, 0..3);
        delete(&c, id);
        assert!(metadata_for(&p, &root).is_file());
    }
    // Every file is in pcaps/ or metadata/; nothing escaped the spool directory.
    let mut files = Vec::new();
    let mut stack = vec![dir.0.clone()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    assert_eq!(files.len(), 10, "{files:?}");
    for f in &files {
        let parent = f.parent().unwrap();
        assert!(
            parent == root.join("pcaps") || parent == root.join("metadata"),
            "{}",
            f.display()
        );
    }
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("..%2F..%2Fetc%2Fx-")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("nul%00and%0Anewline%0D%2F..-")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("%252F-")), "{names:?}");
}

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(
            st.success(),
            "mounting a tmpfs failed: this test needs root (it simulates a full disk)"
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_disk_loses_recording_not_media() {
    let dir = TempDir::new("full");
    let spool = dir.0.join("tiny");
    let _fs = Tmpfs::mount(&spool, "64k");
    let srv = Server::start(&[&format!("--recording-dir={}", spool.display())]);
    let c = srv.client();
    let id = "rec-full-disk";
    let call = setup(&c, id, &[("record-call", s("yes"))]);
    let pcap = PathBuf::from(&recordings(&call.offer_reply)[0]);
    // 2 x 600 packets of 200 bytes: far more than 64 KiB. `play` checks each one arrives.
    const N: u16 = 600;
    play(&call.a, &call.b, SSRC_A, 0..N);
    play(&call.b, &call.a, SSRC_B, 0..N);
    delete(&c, id);
    wait_for("the recording summary", Duration::from_secs(5), || {
        srv.log_contains("recording finished:")
    });
    let log = srv.log.lock().unwrap().clone();
    let summary = log
        .iter()
        .find(|l| l.contains("recording finished:"))
        .unwrap();
    let nums: Vec<u64> = summary
        .split("recording finished: ")
        .nth(1)
        .unwrap()
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .take(2)
        .map(|w| w.parse().unwrap())
        .collect();
    let (written, lost) = (nums[0], nums[1]);
    eprintln!("full disk: {written} packets written, {lost} lost, media relayed 100%");
    assert!(lost > 0, "{summary}");
    assert_eq!(written + lost, 2 * N as u64, "{summary}");
    let warnings = log
        .iter()
        .filter(|l| l.contains("recording is losing packets"))
        .count();
    assert_eq!(warnings, 1, "logged once per call: {log:#?}");
    // What is in the file is a valid capture of exactly the packets counted as written.
    let rows = rtp_rows(&pcap, &[call.a.relay_port, call.b.relay_port], false);
    assert_eq!(rows.len() as u64, written);
    assert!(fs::metadata(&pcap).unwrap().len() <= 64 * 1024);
}

#[test]
fn files_complete_after_delete_delay_final_timeout_and_sigterm() {
    // delete-delay: the call (and its files) end when the delay has passed.
    let dir = TempDir::new("ends");
    let srv = Server::start(&[&format!("--recording-dir={}", dir.0.display())]);
    let c = srv.client();
    let call = setup(&c, "rec-delay", &[("record-call", s("yes"))]);
    let pcap = PathBuf::from(&recordings(&call.offer_reply)[0]);
    play(&call.a, &call.b, SSRC_A, 0..5);
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("rec-delay")),
        ("delete-delay", Value::Int(1)),
    ]);
    let meta = metadata_for(&pcap, &dir.0);
    assert!(!meta.exists(), "still running during delete-delay");
    wait_for("the delayed end", Duration::from_secs(5), || meta.is_file());
    assert_eq!(rtp_rows(&pcap, &[call.a.relay_port], false).len(), 5);
    drop(srv);

    // final-timeout
    let dir = TempDir::new("final");
    let srv = Server::start(&[
        &format!("--recording-dir={}", dir.0.display()),
        "--final-timeout=1",
    ]);
    let c = srv.client();
    let call = setup(&c, "rec-final", &[("record-call", s("yes"))]);
    let pcap = PathBuf::from(&recordings(&call.offer_reply)[0]);
    play(&call.b, &call.a, SSRC_B, 0..5);
    let meta = metadata_for(&pcap, &dir.0);
    wait_for("the final timeout", Duration::from_secs(5), || {
        meta.is_file()
    });
    assert_eq!(rtp_rows(&pcap, &[call.b.relay_port], false).len(), 5);
    drop(srv);

    // SIGTERM in the middle of a call.
    let dir = TempDir::new("term");
    let mut srv = Server::start(&[&format!("--recording-dir={}", dir.0.display())]);
    let c = srv.client();
    let call = setup(&c, "rec-term", &[("record-call", s("yes"))]);
    let pcap = PathBuf::from(&recordings(&call.offer_reply)[0]);
    play(&call.a, &call.b, SSRC_A, 0..30);
    play(&call.b, &call.a, SSRC_B, 0..30);
    // SAFETY: kill(2) on the child this test started.
    unsafe {
        libc::kill(srv.child.id() as i32, libc::SIGTERM);
    }
    let status = srv.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(metadata_for(&pcap, &dir.0).is_file());
    assert_eq!(fs::read_dir(dir.0.join("tmp")).unwrap().count(), 0);
    let rows = rtp_rows(&pcap, &[call.a.relay_port, call.b.relay_port], false);
    assert_eq!(rows.len(), 60);
}

#[test]
fn record_call_without_recording_dir_is_harmless() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let call = setup(&c, "rec-nodir", &[("record-call", s("yes"))]);
    assert!(recordings(&call.offer_reply).is_empty());
    play(&call.a, &call.b, SSRC_A, 0..3);
    delete(&c, "rec-nodir");
    assert!(srv.await_log("no recording directory is configured"));
}
