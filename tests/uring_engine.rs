//! The media workers' io_uring engine (`--io-engine=uring`) through the real binary over real
//! sockets: a plain relay (with the ports freed on delete, i.e. the receives cancelled), an
//! SDES-SRTP relay checked against webrtc-srtp, and WebRTC legs (ICE + DTLS-SRTP) with the
//! project's own ICE/DTLS test peer. The helpers are copies of those in tests/relay.rs,
//! tests/sdes.rs and tests/webrtc_leg.rs (every one of those suites also passes with uring
//! made the default).

mod common;
use common::*;

/// A server whose media workers run io_uring.
fn uring_server(extra: &[&str]) -> Server {
    let mut args = vec!["--io-engine=uring"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// The workers really ran io_uring (or, on a kernel that refuses it, said they fell back).
fn check_engine(srv: &Server) {
    if srv.log_contains("io_uring unavailable") {
        eprintln!("io_uring refused by this kernel: the epoll fallback was tested");
        return;
    }
    assert!(
        srv.log_contains("media worker uses io_uring"),
        "{:?}",
        srv.log.lock().unwrap()
    );
}

mod plain {
    use crate::common::*;
    use std::net::UdpSocket;

    struct Call {
        a: UdpSocket,
        b: UdpSocket,
        /// rtpbridge's ports: where A sends, where B sends.
        to_a_side: u16,
        to_b_side: u16,
    }

    fn setup(
        c: &NgClient,
        call_id: &str,
        a_extra: &str,
        b_extra: &str,
        flags: &[(&str, Value)],
    ) -> Call {
        let a = udp("127.0.0.2:0");
        let b = udp("127.0.0.3:0");
        let a_port = a.local_addr().unwrap().port();
        let b_port = b.local_addr().unwrap().port();
        let mut offer = vec![
            ("command", s("offer")),
            ("call-id", s(call_id)),
            ("from-tag", s("tag-a")),
            ("sdp", s(&sdp("127.0.0.2", a_port, a_extra))),
        ];
        offer.extend(flags.iter().cloned());
        let r = c.ok(&offer);
        let offer_sdp = get_str(&r, "sdp");
        let mut answer = vec![
            ("command", s("answer")),
            ("call-id", s(call_id)),
            ("from-tag", s("tag-a")),
            ("to-tag", s("tag-b")),
            ("sdp", s(&sdp("127.0.0.3", b_port, b_extra))),
        ];
        answer.extend(flags.iter().cloned());
        let r = c.ok(&answer);
        let answer_sdp = get_str(&r, "sdp");
        Call {
            a,
            b,
            to_b_side: media_port(&offer_sdp),
            to_a_side: media_port(&answer_sdp),
        }
    }

    fn relay_check(
        from: &UdpSocket,
        to_port: u16,
        to: &UdpSocket,
        from_port_seen: u16,
        n: u16,
        ssrc: u32,
    ) {
        for seq in 0..n {
            let pkt = rtp(ssrc, seq, seq as u8);
            from.send_to(&pkt, ("127.0.0.1", to_port)).unwrap();
            let (got, src) = recv(to);
            assert_eq!(got, pkt, "packet {seq} relayed unchanged");
            assert_eq!(src.port(), from_port_seen, "relayed from rtpbridge's port");
        }
    }

    #[test]
    fn relay_both_ways_delete_and_churn() {
        let srv = crate::uring_server(&[]);
        let c = srv.client();
        let call = setup(&c, "uring-1", "", "", &[]);
        for _ in 0..3 {
            relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 50, 0x1111);
            relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 50, 0x2222);
        }
        crate::check_engine(&srv);

        let q = c.ok(&[("command", s("query")), ("call-id", s("uring-1"))]);
        let totals = get(&q, "totals").unwrap();
        assert_eq!(get_int(get(totals, "RTP").unwrap(), "packets"), 300);

        c.ok(&[
            ("command", s("delete")),
            ("call-id", s("uring-1")),
            ("from-tag", s("tag-a")),
            ("delete-delay", Value::Int(0)),
        ]);
        let q = c.request(&[("command", s("query")), ("call-id", s("uring-1"))]);
        assert_eq!(get_str(&q, "result"), "error");
        // The receives were cancelled: the ports are closed and can be bound again.
        UdpSocket::bind(("127.0.0.1", call.to_a_side)).expect("RTP port freed");
        UdpSocket::bind(("127.0.0.1", call.to_b_side + 1)).expect("RTCP port freed");

        // Many calls set up and torn down: slab slots are reused, late completions of the old
        // legs must not reach the new ones.
        for i in 0..20 {
            let id = format!("uring-churn-{i}");
            let call = setup(&c, &id, "", "", &[]);
            relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 5, 0x3333);
            relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 5, 0x4444);
            c.ok(&[
                ("command", s("delete")),
                ("call-id", s(&id)),
                ("delete-delay", Value::Int(0)),
            ]);
        }
    }
}

mod sdes {
    use crate::common::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    use rtpbridge::dtls::sdes::CryptoAttribute;
    use webrtc_srtp::context::Context;
    use webrtc_srtp::protection_profile::ProtectionProfile;
    /// The SDES party's own key (AES_CM_128_HMAC_SHA1_80, 30 bytes of key and salt).
    const PARTY_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    fn srtp_sdp(ip: &str, port: u16, crypto: &str) -> String {
        format!(
            "v=0\r\no=- 1545997027 1 IN IP4 {ip}\r\ns=tester\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/SAVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n{crypto}"
        )
    }

    fn m_protocol(sdp: &str) -> String {
        sdp.lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|r| r.split(' ').nth(1))
            .expect("m=audio protocol")
            .to_string()
    }

    fn crypto_lines(sdp: &str) -> Vec<CryptoAttribute> {
        sdp.lines()
            .filter_map(|l| l.trim_end().strip_prefix("a=crypto:"))
            .map(|v| CryptoAttribute::parse(v).expect("our a=crypto parses"))
            .collect()
    }

    /// A webrtc-srtp context for one AES_CM_128_HMAC_SHA1_80 or _32 line.
    fn ctx(line: &CryptoAttribute) -> Context {
        let profile = match line.suite.sdes_name() {
            "AES_CM_128_HMAC_SHA1_80" => ProtectionProfile::Aes128CmHmacSha1_80,
            "AES_CM_128_HMAC_SHA1_32" => ProtectionProfile::Aes128CmHmacSha1_32,
            other => panic!("no test context for {other}"),
        };
        Context::new(line.master_key(), line.master_salt(), profile, None, None)
            .expect("webrtc-srtp context")
    }

    fn party_line() -> CryptoAttribute {
        CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}")).unwrap()
    }

    /// An RTCP sender report from `ssrc` (28 bytes).
    fn rtcp_sr(ssrc: u32, n: u8) -> Vec<u8> {
        let mut p = vec![0x80, 200, 0x00, 0x06];
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[n; 20]);
        p
    }

    struct Legs {
        plain: UdpSocket,
        plain_rtcp: UdpSocket,
        srtp: UdpSocket,
        srtp_rtcp: UdpSocket,
        /// rtpbridge's ports facing each party.
        to_plain: u16,
        to_srtp: u16,
        /// Encrypts what the SRTP party sends, decrypts what it receives.
        party_tx: Context,
        party_rx: Context,
    }

    /// Plain RTP one way, SRTP the other: 50 RTP packets each way and RTCP both ways, checked
    /// byte for byte after decryption. `seq0` lets a re-INVITE continue the streams.
    fn exchange(l: &mut Legs, seq0: u16) {
        for i in 0..50u16 {
            let seq = seq0 + i;
            let pkt = rtp(0x1111, seq, seq as u8);
            l.plain.send_to(&pkt, ("127.0.0.1", l.to_plain)).unwrap();
            let (got, _) = recv(&l.srtp);
            assert_eq!(got.len(), pkt.len() + 10, "SRTP adds the 80-bit tag");
            assert_ne!(got[12..], pkt[12..], "payload is encrypted");
            let plain = l
                .party_rx
                .decrypt_rtp(&got)
                .expect("rtpbridge's SRTP decrypts");
            assert_eq!(&plain[..], &pkt[..], "packet {seq} to the SRTP party");

            let pkt = rtp(0x2222, seq, !(seq as u8));
            let enc = l.party_tx.encrypt_rtp(&pkt).unwrap();
            l.srtp.send_to(&enc, ("127.0.0.1", l.to_srtp)).unwrap();
            let (got, _) = recv(&l.plain);
            assert_eq!(got, pkt, "packet {seq} to the plain party, decrypted");
        }
        // RTCP both ways, on the RTCP ports (no rtcp-mux).
        let rr = rtcp_sr(0x1111, seq0 as u8);
        l.plain_rtcp
            .send_to(&rr, ("127.0.0.1", l.to_plain + 1))
            .unwrap();
        let (got, _) = recv(&l.srtp_rtcp);
        let plain = l
            .party_rx
            .decrypt_rtcp(&got)
            .expect("rtpbridge's SRTCP decrypts");
        assert_eq!(&plain[..], &rr[..]);

        let sr = rtcp_sr(0x2222, seq0 as u8);
        let enc = l.party_tx.encrypt_rtcp(&sr).unwrap();
        l.srtp_rtcp
            .send_to(&enc, ("127.0.0.1", l.to_srtp + 1))
            .unwrap();
        let (got, _) = recv(&l.plain_rtcp);
        assert_eq!(got, sr, "SRTCP decrypted for the plain party");
    }

    /// Two sockets on consecutive ports (RTP, RTCP) on `ip`.
    fn pair(ip: &str) -> (UdpSocket, UdpSocket) {
        loop {
            let s = udp(&format!("{ip}:0"));
            let p = s.local_addr().unwrap().port();
            if p < 65535 {
                if let Ok(r) = UdpSocket::bind((ip, p + 1)) {
                    r.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    return (s, r);
                }
            }
        }
    }

    fn rtp_errors(c: &NgClient, call_id: &str) -> i64 {
        let r = c.ok(&[("command", s("query")), ("call-id", s(call_id))]);
        get_int(get(get(&r, "totals").unwrap(), "RTP").unwrap(), "errors")
    }

    /// A plain offerer (127.0.0.2) and an SDES answerer (127.0.0.3) set up through NG, with `extra`
    /// keys on the offer.
    fn plain_to_sdes(c: &NgClient, call_id: &str, extra: &[(&str, Value)]) -> Legs {
        let (plain, plain_rtcp) = pair("127.0.0.2");
        let (srtp, srtp_rtcp) = pair("127.0.0.3");
        let (pp, sp) = (
            plain.local_addr().unwrap().port(),
            srtp.local_addr().unwrap().port(),
        );
        let mut offer_req = vec![
            ("command", s("offer")),
            ("call-id", s(call_id)),
            ("from-tag", s("plain")),
            ("transport-protocol", s("RTP/SAVP")),
            ("sdp", s(&sdp("127.0.0.2", pp, ""))),
        ];
        offer_req.extend(extra.iter().cloned());
        let r = c.ok(&offer_req);
        let offer = get_str(&r, "sdp");
        assert_eq!(m_protocol(&offer), "RTP/SAVP");
        let ours = crypto_lines(&offer);
        assert_eq!(ours.len(), 12, "rtpengine's twelve suites: {offer}");
        let chosen = ours
            .iter()
            .find(|l| l.suite.sdes_name() == "AES_CM_128_HMAC_SHA1_80")
            .unwrap()
            .clone();
        let mut party = party_line();
        party.tag = chosen.tag;
        let answer_crypto = format!(
            "a=crypto:{} AES_CM_128_HMAC_SHA1_80 inline:{PARTY_KEY}\r\n",
            chosen.tag
        );
        let r = c.ok(&[
            ("command", s("answer")),
            ("call-id", s(call_id)),
            ("from-tag", s("plain")),
            ("to-tag", s("srtp")),
            ("sdp", s(&srtp_sdp("127.0.0.3", sp, &answer_crypto))),
        ]);
        let answer = get_str(&r, "sdp");
        assert_eq!(
            m_protocol(&answer),
            "RTP/AVP",
            "the plain offerer gets RTP/AVP"
        );
        assert!(crypto_lines(&answer).is_empty(), "{answer}");
        Legs {
            plain,
            plain_rtcp,
            srtp,
            srtp_rtcp,
            to_plain: media_port(&answer),
            to_srtp: media_port(&offer),
            party_tx: ctx(&party),
            party_rx: ctx(&chosen),
        }
    }

    #[test]
    fn plain_offer_to_sdes_answerer() {
        let srv = crate::uring_server(&[]);
        let c = srv.client();
        let mut l = plain_to_sdes(&c, "uring-sdes", &[]);
        exchange(&mut l, 1);
        exchange(&mut l, 100);
        // A tampered packet is dropped; the next good one is what the plain party gets.
        let good = rtp(0x2222, 160, 1);
        let mut bad = l
            .party_tx
            .encrypt_rtp(&rtp(0x2222, 159, 2))
            .unwrap()
            .to_vec();
        bad[20] ^= 0x01;
        l.srtp.send_to(&bad, ("127.0.0.1", l.to_srtp)).unwrap();
        let enc = l.party_tx.encrypt_rtp(&good).unwrap();
        l.srtp.send_to(&enc, ("127.0.0.1", l.to_srtp)).unwrap();
        let (got, _) = recv(&l.plain);
        assert_eq!(got, good, "the tampered packet was not forwarded");
        assert_eq!(rtp_errors(&c, "uring-sdes"), 1);
        crate::check_engine(&srv);
    }
}

mod webrtc {
    use std::net::{SocketAddr, UdpSocket};
    use std::time::{Duration, Instant};

    use crate::common::*;
    use rtpbridge::dtls::dtls::{
        CertKind, DtlsCert, DtlsEndpoint, DtlsEvent, DtlsRole, Fingerprint,
    };
    use rtpbridge::dtls::srtp::{SrtpContext, SrtpProfile};
    use rtpbridge::ice::{Candidate, Credentials, IceAgent, IceConfig, IceEvent};

    /// A browser-like party: ICE (optional), DTLS-SRTP, rtcp-mux, one socket.
    struct WebPeer {
        sock: UdpSocket,
        local: SocketAddr,
        cert: DtlsCert,
        ice: Option<IceAgent>,
        creds: Credentials,
        dtls: Option<DtlsEndpoint>,
        dtls_remote: Option<SocketAddr>,
        selected: Option<SocketAddr>,
        recv_ctx: Option<SrtpContext>,
        send_ctx: Option<SrtpContext>,
        /// Decrypted RTP received.
        media: Vec<Vec<u8>>,
    }

    fn attr<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
        sdp.lines()
            .find_map(|l| l.trim_end().strip_prefix(&format!("a={name}:")))
    }

    impl WebPeer {
        fn new(with_ice: bool, bind: &str) -> WebPeer {
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
        fn sdp(&self, setup: &str) -> String {
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
        fn take_remote(&mut self, sdp: &str, now: Instant) {
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

        fn flush(&mut self) {
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
                            let p = SrtpProfile::from_dtls_id(profile).unwrap();
                            let c = SrtpContext::new(p, &client_key, &client_salt).unwrap();
                            let s = SrtpContext::new(p, &server_key, &server_salt).unwrap();
                            let (r, w) = match d.role() {
                                DtlsRole::Client => (s, c),
                                DtlsRole::Server => (c, s),
                            };
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
        fn pump(&mut self, deadline: Duration, mut done: impl FnMut(&WebPeer) -> bool) -> bool {
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

        fn send_rtp(&mut self, pkt: &[u8]) {
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
    fn plain_sdp(port: u16) -> String {
        sdp("127.0.0.1", port, "")
    }

    struct Case {
        ice: bool,
        /// rtpbridge answers the browser: DTLS option on the answer.
        dtls_flag: Option<&'static str>,
        /// The SIP side offers (rtpbridge offers to the browser).
        reverse: bool,
        /// Record the call into this directory and check the PCAP holds the decrypted media.
        record: Option<std::path::PathBuf>,
        /// rtpbridge has an IPv4 and an IPv6 interface; the peer is on IPv6.
        v6_peer: bool,
    }

    fn run(case: Case) {
        let rec_arg = case
            .record
            .as_ref()
            .map(|d| format!("--recording-dir={}", d.display()));
        let mut args = vec![];
        if case.v6_peer {
            args.extend(["-i", "::1"]);
        }
        if let Some(a) = &rec_arg {
            args.push(a.as_str());
            args.push("--recording-method=pcap");
        }
        let server = crate::uring_server(&args);
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
                // Host candidates on both interfaces, the leg's own (IPv6) first.
                let cands: Vec<&str> = to_peer
                    .lines()
                    .filter(|l| l.starts_with("a=candidate:"))
                    .collect();
                assert_eq!(cands.len(), 2, "{to_peer}");
                assert!(cands[0].contains(" 2130706431 ::1 "), "{to_peer}");
                assert!(cands[1].contains(" 2130706175 127.0.0.1 "), "{to_peer}");
            }
            peer_side_port = media_port(&to_peer);
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
            peer.dtls =
                Some(DtlsEndpoint::new(now, DtlsRole::Client, &peer.cert, Some(fp)).unwrap());
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
        let to_rtpbridge_plain: SocketAddr =
            format!("127.0.0.1:{plain_side_port}").parse().unwrap();
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
        crate::check_engine(&server);
        if let Some(dir) = &case.record {
            ng.ok(&[
                ("command", s("delete")),
                ("call-id", s(&call)),
                ("delete-delay", Value::Int(0)),
            ]);
            check_recording(dir, &call, &[peer_side_port, plain_side_port]);
        }
    }

    /// The call's PCAP, read by tshark: both directions, decrypted, byte for byte.
    fn check_recording(dir: &std::path::Path, call: &str, ports: &[u16]) {
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

    #[test]
    fn browser_offer_ice_dtls() {
        run(Case {
            ice: true,
            dtls_flag: None,
            reverse: false,
            record: None,
            v6_peer: false,
        });
    }

    #[test]
    fn plain_offer_to_browser_answerer() {
        run(Case {
            ice: true,
            dtls_flag: None,
            reverse: true,
            record: None,
            v6_peer: false,
        });
    }

    #[test]
    fn dtls_srtp_peer_without_ice_rtpbridge_server() {
        run(Case {
            ice: false,
            dtls_flag: Some("passive"),
            reverse: false,
            record: None,
            v6_peer: false,
        });
    }

    #[test]
    fn ice_host_candidates_on_every_interface_and_an_ipv6_browser() {
        run(Case {
            ice: true,
            dtls_flag: None,
            reverse: false,
            record: None,
            v6_peer: true,
        });
    }
}
