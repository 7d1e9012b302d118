//! The WebRTC test peer and call driver shared by tests/webrtc_leg.rs and
//! tests/uring_engine.rs: a browser-like party built from the project's sans-IO ICE agent,
//! OpenSSL DTLS endpoint and SRTP, calling a plain RTP endpoint through the real binary.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::*;
use rtpbridge::attack::spray::{HelloSpray, LOOPBACK_SOURCES};
use rtpbridge::dtls::dtls::{
    srtp_contexts, CertKind, DtlsCert, DtlsEndpoint, DtlsEvent, DtlsRole, Fingerprint,
};
use rtpbridge::dtls::srtp::SrtpContext;
use rtpbridge::ice::{Candidate, Credentials, IceAgent, IceConfig, IceEvent};

/// A browser-like party: ICE (optional), DTLS-SRTP, rtcp-mux, one socket.
pub struct WebPeer {
    pub sock: UdpSocket,
    pub local: SocketAddr,
    pub cert: DtlsCert,
    pub ice: Option<IceAgent>,
    pub creds: Credentials,
    pub dtls: Option<DtlsEndpoint>,
    pub dtls_remote: Option<SocketAddr>,
    pub selected: Option<SocketAddr>,
    pub recv_ctx: Option<SrtpContext>,
    pub send_ctx: Option<SrtpContext>,
    /// Decrypted RTP received.
    pub media: Vec<Vec<u8>>,
}

pub fn attr<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(&format!("a={name}:")))
}

impl WebPeer {
    pub fn new(with_ice: bool, bind: &str) -> WebPeer {
        let sock = UdpSocket::bind(bind).unwrap();
        let local = sock.local_addr().unwrap();
        let creds = Credentials {
            ufrag: "peerUfrag".into(),
            pwd: "peerPasswordOf22Chars+x".into(),
        };
        let ice = with_ice.then(|| {
            let mut a = IceAgent::new(IceConfig {
                controlling: true,
                local_credentials: Some(creds.clone()),
                nomination_delay: Duration::from_millis(100),
                ..IceConfig::default()
            });
            a.add_local_candidate(local, 1).unwrap();
            a
        });
        WebPeer {
            sock,
            local,
            cert: DtlsCert::generate(CertKind::EcdsaP256).unwrap(),
            ice,
            creds,
            dtls: None,
            dtls_remote: None,
            selected: None,
            recv_ctx: None,
            send_ctx: None,
            media: Vec::new(),
        }
    }

    /// The peer's SDP (offer or answer) in Chrome's shape.
    pub fn sdp(&self, setup: &str) -> String {
        let mut s = format!(
            "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
             m=audio {port} UDP/TLS/RTP/SAVPF 0\r\nc=IN {fam} {ip}\r\na=rtcp:9 IN IP4 0.0.0.0\r\n",
            port = self.local.port(),
            fam = if self.local.is_ipv6() { "IP6" } else { "IP4" },
            ip = self.local.ip(),
        );
        if let Some(a) = &self.ice {
            let c = &a.local_candidates()[0];
            s += &format!(
                "a=candidate:{c}\r\na=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
                self.creds.ufrag, self.creds.pwd
            );
        }
        s += &format!(
            "a=fingerprint:{}\r\na=setup:{setup}\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\n",
            self.cert.fingerprint()
        );
        s
    }

    /// Takes rtpbridge's SDP: ICE credentials and candidates, fingerprint, and our DTLS role.
    pub fn take_remote(&mut self, sdp: &str, now: Instant) {
        let fp = Fingerprint::parse(attr(sdp, "fingerprint").expect("a=fingerprint")).unwrap();
        let setup = attr(sdp, "setup").expect("a=setup");
        let port = media_port(sdp);
        if let Some(a) = &mut self.ice {
            a.set_remote_credentials(
                attr(sdp, "ice-ufrag").expect("ice-ufrag"),
                attr(sdp, "ice-pwd").expect("ice-pwd"),
            )
            .unwrap();
            for l in sdp
                .lines()
                .filter_map(|l| l.trim_end().strip_prefix("a=candidate:"))
            {
                if let Some(c) = Candidate::parse(l).unwrap() {
                    a.add_remote_candidate(c).unwrap();
                }
            }
            a.handle_timeout(now);
        }
        let remote: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let role = if setup == "active" {
            DtlsRole::Server
        } else {
            DtlsRole::Client
        };
        self.dtls_remote = Some(remote);
        self.dtls = Some(DtlsEndpoint::new(now, role, &self.cert, Some(fp)).unwrap());
        if role == DtlsRole::Client && self.ice.is_none() {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        if let Some(a) = &mut self.ice {
            while let Some(t) = a.poll_transmit() {
                self.sock.send_to(&t.bytes, t.to).unwrap();
            }
            while let Some(ev) = a.poll_event() {
                if let IceEvent::Connected { remote, .. }
                | IceEvent::SelectedPairChanged { remote, .. } = ev
                {
                    self.selected = Some(remote);
                }
            }
        }
        // DTLS goes where ICE selected (or to the SDP address without ICE).
        let to = if self.ice.is_some() {
            self.selected
        } else {
            self.dtls_remote
        };
        if let (Some(d), Some(to)) = (&mut self.dtls, to) {
            while let Some(b) = d.poll_transmit() {
                self.sock.send_to(&b, to).unwrap();
            }
            while let Some(ev) = d.poll_event() {
                match ev {
                    DtlsEvent::Connected {
                        profile,
                        client_key,
                        client_salt,
                        server_key,
                        server_salt,
                    } => {
                        let (r, w) = srtp_contexts(
                            d.role(),
                            profile,
                            (&client_key, &client_salt),
                            (&server_key, &server_salt),
                        )
                        .expect("SRTP contexts from the DTLS keys");
                        self.recv_ctx = Some(r);
                        self.send_ctx = Some(w);
                    }
                    DtlsEvent::Failed(e) => panic!("peer DTLS failed: {e}"),
                    DtlsEvent::Closed => {}
                }
            }
        }
    }

    /// Runs the peer until `done` holds or the deadline passes.
    pub fn pump(&mut self, deadline: Duration, mut done: impl FnMut(&WebPeer) -> bool) -> bool {
        let end = Instant::now() + deadline;
        let mut buf = vec![0u8; 4096];
        while Instant::now() < end {
            self.flush();
            if done(self) {
                return true;
            }
            let now = Instant::now();
            let next = [
                self.ice.as_ref().and_then(|a| a.poll_timeout()),
                self.dtls.as_ref().and_then(|d| d.poll_timeout()),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_millis(20));
            let wait = next
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(1), Duration::from_millis(20));
            self.sock.set_read_timeout(Some(wait)).unwrap();
            if let Ok((n, from)) = self.sock.recv_from(&mut buf) {
                let now = Instant::now();
                let pkt = &mut buf[..n];
                match pkt[0] {
                    0..=3 => {
                        if let Some(a) = &mut self.ice {
                            let _ = a.handle_packet(now, self.local, from, pkt);
                        }
                    }
                    20..=63 => {
                        if let Some(d) = &mut self.dtls {
                            let _ = d.handle_packet(now, pkt);
                        }
                    }
                    128..=191 => {
                        if let Some(ctx) = &mut self.recv_ctx {
                            if (192..=223).contains(&pkt[1]) {
                                let _ = ctx.unprotect_rtcp(pkt);
                            } else if let Ok(len) = ctx.unprotect_rtp(pkt) {
                                self.media.push(pkt[..len].to_vec());
                            }
                        }
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if let Some(a) = &mut self.ice {
                if a.poll_timeout().is_some_and(|t| t <= now) {
                    a.handle_timeout(now);
                }
            }
            if let Some(d) = &mut self.dtls {
                if d.poll_timeout().is_some_and(|t| t <= now) {
                    d.handle_timeout(now);
                }
            }
        }
        self.flush();
        done(self)
    }

    pub fn send_rtp(&mut self, pkt: &[u8]) {
        let to = self.selected.or(self.dtls_remote).unwrap();
        let mut buf = pkt.to_vec();
        buf.resize(pkt.len() + 64, 0);
        let n = self
            .send_ctx
            .as_mut()
            .unwrap()
            .protect_rtp(&mut buf, pkt.len())
            .unwrap();
        self.sock.send_to(&buf[..n], to).unwrap();
    }
}

/// The plain SIP-side endpoint.
pub fn plain_sdp(port: u16) -> String {
    sdp("127.0.0.1", port, "")
}

#[derive(Clone)]
pub struct Case {
    pub ice: bool,
    /// rtpbridge answers the browser: DTLS option on the answer.
    pub dtls_flag: Option<&'static str>,
    /// The SIP side offers (rtpbridge offers to the browser).
    pub reverse: bool,
    /// Record the call into this directory and check the PCAP holds the decrypted media.
    pub record: Option<std::path::PathBuf>,
    /// rtpbridge has an IPv4 and an IPv6 interface; the peer is on IPv6.
    pub v6_peer: bool,
    /// A stranger sprays ClientHellos at rtpbridge's peer-side port from the moment that port
    /// is known until the media has gone both ways (see [`SPRAY_EVERY`]).
    pub spray: bool,
}

/// The plain case: one call, the peer offers, no recording, no spray.
pub const CASE: Case = Case {
    ice: true,
    dtls_flag: None,
    reverse: false,
    record: None,
    v6_peer: false,
    spray: false,
};

/// One ClientHello (the advisory's NULL-cipher one, then a valid one, from each of
/// [`LOOPBACK_SOURCES`] in turn) every this long.
pub const SPRAY_EVERY: Duration = Duration::from_millis(2);
/// Hellos the spray sends before the call goes on (the attacker is first): before the peer
/// takes rtpbridge's answer, or before it answers rtpbridge's offer.
pub const SPRAY_FIRST: u64 = 24;

pub fn run(case: Case) {
    run_with(case, &[]);
}

/// [`run`] with more daemon arguments; returns the server (still running) for its log.
pub fn run_with(case: Case, extra: &[&str]) -> Server {
    let rec_arg = case
        .record
        .as_ref()
        .map(|d| format!("--recording-dir={}", d.display()));
    let mut args: Vec<&str> = extra.to_vec();
    if case.v6_peer {
        args.extend(["-i", "::1"]);
    }
    if let Some(a) = &rec_arg {
        args.push(a.as_str());
        args.push("--recording-method=pcap");
    }
    let server = Server::start(&args);
    run_on(&server, &case);
    server
}

/// What a call under spray measured.
#[derive(Debug, Default)]
pub struct SprayCount {
    pub sent: u64,
    /// Growth of `mediastatistics.dtlssourcerejected` during the call.
    pub source_rejected: i64,
}

pub fn dtls_source_rejected(ng: &NgClient) -> i64 {
    media_stat(ng, "dtlssourcerejected")
}

pub fn start_spray(port: u16) -> HelloSpray {
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let spray = HelloSpray::start(&LOOPBACK_SOURCES, to, SPRAY_EVERY).expect("start the spray");
    assert!(spray.wait_sent(SPRAY_FIRST, Duration::from_secs(5)));
    spray
}

/// One call through `server` as `case` says; with `case.spray`, what the spray did.
pub fn run_on(server: &Server, case: &Case) -> Option<SprayCount> {
    let record = if case.record.is_some() { "yes" } else { "no" };
    let ng = server.client();
    let plain = udp("127.0.0.1:0");
    let plain_port = plain.local_addr().unwrap().port();
    let mut peer = WebPeer::new(
        case.ice,
        if case.v6_peer {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        },
    );
    let call = format!("webrtc-{}", plain_port);
    let ice_force = if case.ice { "force" } else { "remove" };
    let now = Instant::now();
    let (peer_side_port, plain_side_port);
    let mut spray = None;
    let counted_before = case.spray.then(|| dtls_source_rejected(&ng));
    if !case.reverse {
        let r = ng.ok(&[
            ("command", s("offer")),
            ("call-id", s(&call)),
            ("from-tag", s("browser")),
            ("sdp", s(&peer.sdp("actpass"))),
            ("ICE", s("remove")),
            ("transport-protocol", s("RTP/AVP")),
            ("rtcp-mux", list(&["demux"])),
            ("record-call", s(record)),
            // The SIP side stays on IPv4 when the browser is on IPv6.
            ("address-family", s("IP4")),
        ]);
        let to_plain = get_str(&r, "sdp");
        assert!(to_plain.contains("RTP/AVP 0"), "{to_plain}");
        assert!(
            !to_plain.contains("a=ice-") && !to_plain.contains("a=fingerprint"),
            "{to_plain}"
        );
        plain_side_port = media_port(&to_plain);
        let mut items = vec![
            ("command", s("answer")),
            ("call-id", s(&call)),
            ("from-tag", s("browser")),
            ("to-tag", s("phone")),
            ("sdp", s(&plain_sdp(plain_port))),
            ("ICE", s(ice_force)),
            ("transport-protocol", s("UDP/TLS/RTP/SAVPF")),
        ];
        if let Some(d) = case.dtls_flag {
            items.push(("DTLS", s(d)));
        }
        let r = ng.ok(&items);
        let to_peer = get_str(&r, "sdp");
        assert!(to_peer.contains("UDP/TLS/RTP/SAVPF 0"), "{to_peer}");
        assert!(to_peer.contains("a=rtcp-mux"), "{to_peer}");
        assert!(
            to_peer.contains("a=group:BUNDLE 0") && to_peer.contains("a=mid:0"),
            "{to_peer}"
        );
        let want_setup = if case.dtls_flag == Some("passive") {
            "passive"
        } else {
            "active"
        };
        assert_eq!(attr(&to_peer, "setup"), Some(want_setup), "{to_peer}");
        assert_eq!(to_peer.contains("a=ice-ufrag:"), case.ice, "{to_peer}");
        if case.v6_peer {
            // Host candidates on both interfaces: the leg's own (IPv6, facing the browser)
            // first, as rtpengine orders them.
            let cands: Vec<&str> = to_peer
                .lines()
                .filter(|l| l.starts_with("a=candidate:"))
                .collect();
            assert_eq!(cands.len(), 2, "{to_peer}");
            assert!(cands[0].contains(" 2130706431 ::1 "), "{to_peer}");
            assert!(cands[1].contains(" 2130706175 127.0.0.1 "), "{to_peer}");
        }
        peer_side_port = media_port(&to_peer);
        if case.spray {
            spray = Some(start_spray(peer_side_port));
        }
        peer.take_remote(&to_peer, now);
    } else {
        let r = ng.ok(&[
            ("command", s("offer")),
            ("call-id", s(&call)),
            ("from-tag", s("phone")),
            ("sdp", s(&plain_sdp(plain_port))),
            ("ICE", s(ice_force)),
            ("transport-protocol", s("UDP/TLS/RTP/SAVPF")),
            ("rtcp-mux", list(&["require"])),
        ]);
        let to_peer = get_str(&r, "sdp");
        assert_eq!(attr(&to_peer, "setup"), Some("actpass"), "{to_peer}");
        peer_side_port = media_port(&to_peer);
        if case.spray {
            spray = Some(start_spray(peer_side_port));
        }
        // The peer answers active, as browsers do: rtpbridge is the DTLS server.
        let fp = Fingerprint::parse(attr(&to_peer, "fingerprint").unwrap()).unwrap();
        if let Some(a) = &mut peer.ice {
            a.set_controlling(false);
        }
        let answer = peer.sdp("active");
        let r = ng.ok(&[
            ("command", s("answer")),
            ("call-id", s(&call)),
            ("from-tag", s("phone")),
            ("to-tag", s("browser")),
            ("sdp", s(&answer)),
            ("ICE", s("remove")),
            ("transport-protocol", s("RTP/AVP")),
        ]);
        let to_plain = get_str(&r, "sdp");
        assert!(!to_plain.contains("a=fingerprint"), "{to_plain}");
        plain_side_port = media_port(&to_plain);
        // Take rtpbridge's offer as the peer's remote description, as the DTLS client.
        let remote: SocketAddr = format!("127.0.0.1:{peer_side_port}").parse().unwrap();
        if let Some(a) = &mut peer.ice {
            a.set_remote_credentials(
                attr(&to_peer, "ice-ufrag").unwrap(),
                attr(&to_peer, "ice-pwd").unwrap(),
            )
            .unwrap();
            for l in to_peer
                .lines()
                .filter_map(|l| l.trim_end().strip_prefix("a=candidate:"))
            {
                a.add_remote_candidate(Candidate::parse(l).unwrap().unwrap())
                    .unwrap();
            }
            a.handle_timeout(now);
        }
        peer.dtls_remote = Some(remote);
        peer.dtls = Some(DtlsEndpoint::new(now, DtlsRole::Client, &peer.cert, Some(fp)).unwrap());
    }
    let connected = peer.pump(Duration::from_secs(10), |p| p.send_ctx.is_some());
    let log_tail = || {
        server
            .log
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(
        connected,
        "DTLS did not connect; server log: {:#?}",
        log_tail()
    );
    if case.ice {
        assert!(peer.selected.is_some(), "ICE selected a pair");
    }

    // Media both ways: 50 packets from the peer (SRTP) reach the plain endpoint decrypted;
    // 50 from the plain endpoint reach the peer encrypted.
    let to_rtpbridge_plain: SocketAddr = format!("127.0.0.1:{plain_side_port}").parse().unwrap();
    for i in 0..50u16 {
        peer.send_rtp(&rtp(0x1111, 100 + i, i as u8));
        plain
            .send_to(&rtp(0x2222, 500 + i, 0xAB), to_rtpbridge_plain)
            .unwrap();
    }
    let mut got_plain = Vec::new();
    while let Some((p, _)) = try_recv(&plain, Duration::from_millis(500)) {
        got_plain.push(p);
        if got_plain.len() == 50 {
            break;
        }
    }
    assert_eq!(
        got_plain.len(),
        50,
        "plain endpoint got the peer's RTP decrypted; log {:#?}",
        log_tail()
    );
    for (i, p) in got_plain.iter().enumerate() {
        assert_eq!(
            p,
            &rtp(0x1111, 100 + i as u16, i as u8),
            "packet {i} arrives as sent"
        );
    }
    assert!(peer.pump(Duration::from_secs(5), |p| p.media.len() >= 50));
    assert_eq!(peer.media.len(), 50);
    for (i, p) in peer.media.iter().enumerate() {
        assert_eq!(
            p,
            &rtp(0x2222, 500 + i as u16, 0xAB),
            "packet {i} decrypts to what was sent"
        );
    }
    let sprayed = spray.map(|sp| SprayCount {
        sent: sp.finish(),
        source_rejected: dtls_source_rejected(&ng) - counted_before.unwrap_or(0),
    });
    if let Some(dir) = &case.record {
        ng.ok(&[
            ("command", s("delete")),
            ("call-id", s(&call)),
            ("delete-delay", Value::Int(0)),
        ]);
        check_recording(dir, &call, &[peer_side_port, plain_side_port]);
    } else {
        // No delete-delay: a series of calls on one server must not run out of ports.
        ng.ok(&[
            ("command", s("delete")),
            ("call-id", s(&call)),
            ("delete-delay", Value::Int(0)),
        ]);
    }
    sprayed
}

/// The call's PCAP, read by tshark: both directions, decrypted, byte for byte.
pub fn check_recording(dir: &std::path::Path, call: &str, ports: &[u16]) {
    let meta = dir.join("metadata");
    let deadline = Instant::now() + Duration::from_secs(5);
    let pcap = loop {
        let done = std::fs::read_dir(&meta)
            .map(|d| d.filter_map(|e| e.ok()).any(|e| e.path().is_file()))
            .unwrap_or(false);
        let pcaps: Vec<_> = std::fs::read_dir(dir.join("pcaps"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        if done && pcaps.len() == 1 {
            break pcaps[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "recording of {call} did not complete"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(pcap
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(call));
    let mut args = vec!["-r".to_string(), pcap.display().to_string(), "-n".into()];
    for p in ports {
        args.extend(["-d".into(), format!("udp.port=={p},rtp")]);
    }
    args.extend(
        [
            "-Y",
            "rtp",
            "-T",
            "fields",
            "-e",
            "rtp.ssrc",
            "-e",
            "rtp.seq",
            "-e",
            "rtp.payload",
        ]
        .map(String::from),
    );
    let out = std::process::Command::new("tshark")
        .args(&args)
        .output()
        .expect("run tshark (Debian package `tshark`)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut from_peer = 0;
    let mut from_plain = 0;
    for l in text.lines() {
        let f: Vec<&str> = l.split('\t').collect();
        let ssrc = u32::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap();
        let seq: u16 = f[1].parse().unwrap();
        let hex: String = f[2].chars().filter(|c| c.is_ascii_hexdigit()).collect();
        let payload: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        match ssrc {
            0x1111 => {
                assert_eq!(
                    payload,
                    vec![(seq - 100) as u8; 160],
                    "peer packet {seq} decrypted"
                );
                from_peer += 1;
            }
            0x2222 => {
                assert_eq!(payload, vec![0xAB; 160], "plain packet {seq}");
                from_plain += 1;
            }
            other => panic!("unexpected SSRC {other:#x} in the recording"),
        }
    }
    assert_eq!((from_peer, from_plain), (50, 50), "{text}");
}
