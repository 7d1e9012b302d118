//! Codec negotiation through the real binary: the SDP it writes over NG, the codec options,
//! and the payload types it lets through (and renumbers) on real sockets.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/codec");

fn fixture(name: &str) -> String {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture");
    crlf(&text)
}

fn crlf(text: &str) -> String {
    text.lines().map(|l| format!("{l}\r\n")).collect()
}

/// The SDP with every `m=` and `a=rtcp:` port replaced by `PORT`, like rtpengine's tests.
fn ports_masked(sdp: &str) -> String {
    sdp.split("\r\n")
        .map(|l| {
            if let Some(rest) = l.strip_prefix("m=") {
                let mut f: Vec<&str> = rest.split(' ').collect();
                if f.len() > 1 && f[1] != "0" {
                    f[1] = "PORT";
                }
                format!("m={}", f.join(" "))
            } else if let Some(rest) = l.strip_prefix("a=rtcp:") {
                let tail = rest.split_once(' ').map(|(_, t)| t);
                match tail {
                    Some(t) => format!("a=rtcp:PORT {t}"),
                    None => "a=rtcp:PORT".into(),
                }
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn offer(c: &NgClient, call_id: &str, sdp: &str, extra: &[(&str, Value)]) -> Value {
    let mut req = vec![
        ("command", s("offer")),
        ("call-id", s(call_id)),
        ("from-tag", s("caller")),
        ("sdp", s(sdp)),
    ];
    req.extend(extra.iter().cloned());
    c.request(&req)
}

fn answer(c: &NgClient, call_id: &str, sdp: &str, extra: &[(&str, Value)]) -> Value {
    let mut req = vec![
        ("command", s("answer")),
        ("call-id", s(call_id)),
        ("from-tag", s("caller")),
        ("to-tag", s("callee")),
        ("sdp", s(sdp)),
    ];
    req.extend(extra.iter().cloned());
    c.request(&req)
}

fn m_line(sdp: &str) -> String {
    let m = sdp
        .lines()
        .find(|l| l.starts_with("m="))
        .expect("an m= line");
    // "m=audio PORT RTP/AVP 0 8" -> "RTP/AVP 0 8"
    m.splitn(3, ' ').nth(2).unwrap_or("").to_string()
}

fn sdp_with(ip: &str, port: u16, media: &str) -> String {
    let mut out = format!("v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
    for l in media.split('|') {
        out.push_str(&l.replace("PORT", &port.to_string()));
        out.push_str("\r\n");
    }
    out
}

#[test]
fn unknown_fmtp_parameter_does_not_remove_pcmu() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let r = offer(&c, "fmtp-1", &fixture("unknown-fmtp-offer.sdp"), &[]);
    assert_eq!(get_str(&r, "result"), "ok", "{r:?}");
    assert_eq!(
        ports_masked(&get_str(&r, "sdp")),
        ports_masked(&fixture("unknown-fmtp-offer-relayed.sdp"))
    );
    let r = answer(&c, "fmtp-1", &fixture("unknown-fmtp-answer.sdp"), &[]);
    assert_eq!(get_str(&r, "result"), "ok", "{r:?}");
    assert!(get(&r, "warning").is_none(), "{r:?}");
    assert_eq!(
        ports_masked(&get_str(&r, "sdp")),
        ports_masked(&fixture("unknown-fmtp-answer-relayed.sdp"))
    );
}

/// An RTP packet with the given payload type and marker bit.
fn rtp_pt(pt: u8, marker: bool, ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(seq as u32 * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(seq as u8, 40));
    p
}

/// Sends `pkt` to rtpbridge's `port` and returns what `to` receives next, skipping late
/// copies of the sequence-number-0 probes sent while waiting for the answer to apply.
fn through(from: &UdpSocket, port: u16, to: &UdpSocket, pkt: &[u8]) -> Vec<u8> {
    from.send_to(pkt, ("127.0.0.1", port)).unwrap();
    loop {
        let got = recv(to).0;
        if got.get(2..4) != Some(&[0, 0]) {
            return got;
        }
    }
}

#[test]
fn payload_types_are_renumbered_and_filtered_on_the_wire() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let a = udp("127.0.0.2:0");
    let b = udp("127.0.0.3:0");
    let a_port = a.local_addr().unwrap().port();
    let b_port = b.local_addr().unwrap().port();
    let b_rtcp = udp("127.0.0.3:0");
    // The caller numbers opus 96 and telephone-event 101; the callee 111 and 97.
    let o = offer(
        &c,
        "pt-1",
        &sdp_with(
            "127.0.0.2",
            a_port,
            "m=audio PORT RTP/AVP 96 0 101|a=rtpmap:96 opus/48000/2|a=fmtp:96 useinbandfec=1|\
             a=rtpmap:101 telephone-event/48000|a=fmtp:101 0-15|a=sendrecv",
        ),
        &[],
    );
    assert_eq!(m_line(&get_str(&o, "sdp")), "RTP/AVP 96 0 101");
    let to_b_side = media_port(&get_str(&o, "sdp"));
    let r = answer(
        &c,
        "pt-1",
        &sdp_with(
            "127.0.0.3",
            b_port,
            &format!(
                "m=audio PORT RTP/AVP 111 0 97|a=rtpmap:111 opus/48000/2|\
                 a=rtpmap:97 telephone-event/48000|a=fmtp:97 0-16|a=rtcp:{}|a=sendrecv",
                b_rtcp.local_addr().unwrap().port()
            ),
        ),
        &[],
    );
    let ans = get_str(&r, "sdp");
    // The caller gets the callee's codecs in its own numbering.
    assert_eq!(m_line(&ans), "RTP/AVP 96 0 101", "{ans}");
    assert!(ans.contains("a=rtpmap:96 opus/48000/2\r\n"), "{ans}");
    assert!(ans.contains("a=fmtp:101 0-16\r\n"), "{ans}");
    let to_a_side = media_port(&ans);

    // PCMU is numbered alike on both legs. The first packet that reaches the callee proves the
    // worker applied the answer's configuration (it names the callee's address); until then
    // a packet may find no destination yet, so it is repeated.
    let first = rtp_pt(0, false, 0xa, 0);
    let arrived = (0..50).any(|_| {
        a.send_to(&first, ("127.0.0.1", to_a_side)).unwrap();
        try_recv(&b, Duration::from_millis(100)).is_some_and(|(got, _)| got == first)
    });
    assert!(arrived, "media reaches the callee after the answer");
    for seq in 1..3 {
        let p = rtp_pt(0, false, 0xa, seq);
        assert_eq!(through(&a, to_a_side, &b, &p), p);
        let p = rtp_pt(0, false, 0xb, seq);
        assert_eq!(through(&b, to_b_side, &a, &p), p);
    }
    // Caller -> callee: 96 -> 111, 101 -> 97 (marker kept); the rest of the packet unchanged.
    let p = rtp_pt(96, true, 0xa, 10);
    let got = through(&a, to_a_side, &b, &p);
    assert_eq!(got[1], 0x80 | 111);
    assert_eq!((&got[..1], &got[2..]), (&p[..1], &p[2..]));
    let got = through(&a, to_a_side, &b, &rtp_pt(101, false, 0xa, 11));
    assert_eq!(got[1], 97);
    // Callee -> caller: 111 -> 96, 97 -> 101.
    assert_eq!(
        through(&b, to_b_side, &a, &rtp_pt(111, false, 0xb, 10))[1],
        96
    );
    assert_eq!(
        through(&b, to_b_side, &a, &rtp_pt(97, true, 0xb, 11))[1],
        0x80 | 101
    );
    // Payload types nobody negotiated are dropped: the next packet through is the good one.
    for bad in [8u8, 13, 127] {
        b.send_to(&rtp_pt(bad, false, 0xb, 20), ("127.0.0.1", to_b_side))
            .unwrap();
    }
    a.send_to(&rtp_pt(9, false, 0xa, 20), ("127.0.0.1", to_a_side))
        .unwrap();
    let good = rtp_pt(0, false, 0xb, 21);
    assert_eq!(through(&b, to_b_side, &a, &good), good);
    let good = rtp_pt(0, false, 0xa, 21);
    assert_eq!(through(&a, to_a_side, &b, &good), good);
    // RTCP carries no codec payload type and is never filtered.
    let rr = rtcp_rr(0xa);
    let a_side_rtcp = rtcp_attr_port(&ans).expect("a=rtcp in the answer");
    a.send_to(&rr, ("127.0.0.1", a_side_rtcp)).unwrap();
    assert_eq!(recv(&b_rtcp).0, rr);
}

#[test]
fn codec_options_shape_the_offer() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let media = "m=audio 2000 RTP/AVP 0 8 9 101|a=rtpmap:101 telephone-event/8000";
    let cases: &[(&[(&str, Value)], &str)] = &[
        (
            &[("codec", dict(&[("mask", list(&["PCMA"]))]))],
            "RTP/AVP 0 9 101",
        ),
        (
            &[("codec", dict(&[("strip", list(&["pcmu", "G722"]))]))],
            "RTP/AVP 8 101",
        ),
        (
            &[("flags", list(&["codec-strip-all", "codec-offer-PCMA"]))],
            "RTP/AVP 8",
        ),
        (
            &[(
                "flags",
                list(&[
                    "codec-mask-all",
                    "codec-except-G722",
                    "codec-offer-telephone-event",
                ]),
            )],
            "RTP/AVP 9 101",
        ),
        (
            &[(
                "codec",
                dict(&[
                    ("strip", list(&["all"])),
                    ("offer", list(&["G722", "PCMU"])),
                ]),
            )],
            "RTP/AVP 9 0",
        ),
        // Every voice codec stripped: telephone-event/8000 would go with them, leaving no
        // format at all; the offer goes on unchanged (rtpengine writes an empty m= list).
        (
            &[(
                "flags",
                list(&["codec-strip-PCMU", "codec-strip-PCMA", "codec-strip-G722"]),
            )],
            "RTP/AVP 0 8 9 101",
        ),
        // transcode= of codecs that are offered needs no transcoding.
        (
            &[("codec", dict(&[("transcode", list(&["PCMA"]))]))],
            "RTP/AVP 0 8 9 101",
        ),
    ];
    for (i, (flags, want)) in cases.iter().enumerate() {
        let r = offer(
            &c,
            &format!("opt-{i}"),
            &sdp_with("127.0.0.2", 0, media),
            flags,
        );
        assert_eq!(get_str(&r, "result"), "ok", "case {i}: {r:?}");
        assert_eq!(m_line(&get_str(&r, "sdp")), *want, "case {i}");
    }
}

fn dict(items: &[(&str, Value)]) -> Value {
    let mut m = std::collections::HashMap::new();
    for (k, v) in items {
        m.insert(k.as_bytes().to_vec(), v.clone());
    }
    Value::Dict(m)
}

#[test]
fn what_needs_transcoding_is_refused_with_a_reason() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let media = "m=audio 2000 RTP/AVP 0 8";
    for (i, flags) in [
        vec![("codec", dict(&[("transcode", list(&["G722"]))]))],
        vec![("flags", list(&["codec-transcode-opus"]))],
        vec![("ptime", Value::Int(30))],
    ]
    .iter()
    .enumerate()
    {
        let id = format!("tc-{i}");
        let r = offer(&c, &id, &sdp_with("127.0.0.2", 0, media), flags);
        assert_eq!(get_str(&r, "result"), "error", "{r:?}");
        let reason = get_str(&r, "error-reason");
        assert!(reason.contains("needs transcoding"), "{reason}");
        // Nothing was set up for the refused offer.
        let q = c.request(&[("command", s("query")), ("call-id", s(&id))]);
        assert_eq!(get_str(&q, "result"), "error");
    }
}

#[test]
fn telephone_event_only_answer_gets_a_voice_codec_and_a_warning() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let te = "|a=rtpmap:101 telephone-event/8000|a=fmtp:101 0-15";
    let r = offer(
        &c,
        "te-1",
        &sdp_with(
            "127.0.0.2",
            2000,
            &format!("m=audio PORT RTP/AVP 0 8 101{te}"),
        ),
        &[],
    );
    assert_eq!(get_str(&r, "result"), "ok");
    let r = answer(
        &c,
        "te-1",
        &sdp_with("127.0.0.3", 3000, &format!("m=audio PORT RTP/AVP 101{te}")),
        &[],
    );
    assert_eq!(get_str(&r, "result"), "ok");
    assert_eq!(m_line(&get_str(&r, "sdp")), "RTP/AVP 0 101");
    assert!(get_str(&r, "warning").contains("no media codec"), "{r:?}");
}

#[test]
fn single_codec_answer_and_renumbered_answer_codec() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let r = offer(
        &c,
        "sc-1",
        &sdp_with(
            "127.0.0.2",
            2000,
            "m=audio PORT RTP/AVP 0 8 101|a=rtpmap:101 telephone-event/8000",
        ),
        &[],
    );
    assert_eq!(get_str(&r, "result"), "ok");
    let r = answer(
        &c,
        "sc-1",
        &sdp_with(
            "127.0.0.3",
            3000,
            "m=audio PORT RTP/AVP 8 0 96|a=rtpmap:96 telephone-event/8000",
        ),
        &[("flags", list(&["single codec"]))],
    );
    let sdp = get_str(&r, "sdp");
    assert_eq!(m_line(&sdp), "RTP/AVP 8 101", "{sdp}");
    assert!(
        sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{sdp}"
    );
}
