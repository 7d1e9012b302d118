//! Tests of the SDP model: parsing, accessors, exact reproduction, malformed input.

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

/// An SDP with a bit of everything rtpengine passes through untouched.
const KITCHEN_SINK: &str = "v=0
o=alice 2890844526 2890844527 IN IP4 192.0.2.10
s=Talk
i=A short talk
u=http://example.com/talk
e=alice@example.com
p=+1 555 0100
c=IN IP4 192.0.2.10
b=AS:256
t=0 0
r=604800 3600 0 90000
z=2882844526 -1h
k=prompt
a=tool:hand-written
a=group:BUNDLE a v
a=ice-ufrag:F7gI
a=ice-pwd:x9cml/YzichV2+XlhiMu8g
a=recvonly
m=audio 49170 RTP/AVP 0 8 97 101
i=voice
c=IN IP4 192.0.2.11
b=TIAS:64000
a=mid:a
a=rtpmap:97 iLBC/8000
a=fmtp:97 mode=30
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp-fb:97 nack
a=rtcp-fb:* ccm fir
a=rtcp:49171 IN IP4 192.0.2.11
a=ptime:20
a=sendonly
a=candidate:1 1 UDP 2130706431 192.0.2.11 49170 typ host
a=end-of-candidates
a=x-unknown-flag
a=weird:value with:colons and  double  spaces
m=video 0 RTP/AVPF 96
a=mid:v
a=rtpmap:96 VP8/90000
m=image 49172/2 udptl t38
c=IN IP6 2001:db8::11
a=T38FaxVersion:0
m=message 2855 TCP/MSRP *
a=accept-types:text/plain
";

#[test]
fn reproduces_input_exactly() {
    let text = crlf(KITCHEN_SINK);
    let s = Session::parse(&text).unwrap();
    assert_eq!(s.to_string(), text);
}

#[test]
fn lf_and_crlf_give_the_same_model() {
    let a = Session::parse(KITCHEN_SINK).unwrap();
    let text = crlf(KITCHEN_SINK);
    let b = Session::parse(&text).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), text);
}

#[test]
fn missing_final_newline_is_accepted() {
    let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0";
    let s = Session::parse(text).unwrap();
    assert_eq!(s.to_string(), format!("{text}\r\n"));
}

#[test]
fn parsing_stops_at_the_first_empty_line() {
    let text = "v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n\r\nthis is not SDP\r\n";
    let s = Session::parse(text).unwrap();
    assert_eq!(s.to_string(), "v=0\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\n");
}

#[test]
fn session_accessors() {
    let s = Session::parse(KITCHEN_SINK).unwrap();
    let o = s.origin().unwrap();
    assert_eq!(o.username, "alice");
    assert_eq!(o.session_id, "2890844526");
    assert_eq!(o.version, "2890844527");
    assert_eq!(o.version_num(), 2890844527);
    assert_eq!(
        (o.nettype, o.addrtype, o.address),
        ("IN", "IP4", "192.0.2.10")
    );
    assert_eq!(o.ip(), Some("192.0.2.10".parse().unwrap()));
    assert_eq!(s.session_name(), Some("Talk"));
    let c = s.connection().unwrap();
    assert_eq!(c.ip, "192.0.2.10".parse::<IpAddr>().unwrap());
    assert!(!c.is_unspecified());
    assert_eq!(s.attr("tool"), Some("hand-written"));
    assert_eq!(s.attr("group"), Some("BUNDLE a v"));
    assert_eq!(s.attr("nope"), None);
    assert_eq!(s.direction(), Some(Direction::RecvOnly));
    assert_eq!(s.description_count(), 1);
    assert_eq!(s.lines().len(), 18);
    assert_eq!(s.lines()[0], Line::new('v', "0"));
    assert_eq!(s.media().len(), 4);
    assert!(!s.ice_lite());
}

#[test]
fn media_accessors() {
    let s = Session::parse(KITCHEN_SINK).unwrap();
    let a = &s.media()[0];
    assert_eq!(a.index(), 0);
    assert_eq!(a.media_type(), "audio");
    assert_eq!(a.port(), 49170);
    assert_eq!(a.port_count(), None);
    assert_eq!(a.protocol(), "RTP/AVP");
    assert_eq!(a.formats(), ["0", "8", "97", "101"]);
    assert!(a.is_rtp());
    assert_eq!(a.m_line(), "audio 49170 RTP/AVP 0 8 97 101");
    assert_eq!(a.connection().unwrap().address, "192.0.2.11");
    assert_eq!(
        a.rtcp(),
        Some(RtcpAttr {
            port: 49171,
            address: Some("192.0.2.11".parse().unwrap())
        })
    );
    assert!(!a.rtcp_mux());
    assert_eq!(a.direction(), Some(Direction::SendOnly));
    assert_eq!(a.mid(), Some("a"));
    assert_eq!(a.ptime(), Some(20));
    assert_eq!(a.candidates().count(), 1);
    assert!(a.end_of_candidates());
    assert_eq!(a.ice_ufrag(), None);
    assert_eq!(s.media_attr(0, "ice-ufrag"), Some("F7gI"));
    assert_eq!(a.attr("x-unknown-flag"), Some(""));
    assert_eq!(
        a.attr("weird"),
        Some("value with:colons and  double  spaces")
    );
    assert_eq!(
        a.attrs("rtcp-fb").collect::<Vec<_>>(),
        ["97 nack", "* ccm fir"]
    );

    let image = &s.media()[2];
    assert_eq!(image.port_count(), Some(2));
    assert_eq!(image.protocol(), "udptl");
    assert!(!image.is_rtp());
    assert_eq!(image.formats(), ["t38"]);
    assert_eq!(image.connection().unwrap().addrtype, "IP6");
    assert!(s.media()[3].is_message());
    assert_eq!(s.media_connection(3).unwrap().address, "192.0.2.10");
}

#[test]
fn direction_follows_rtpengine_precedence() {
    // recvonly anywhere beats sendonly, which beats inactive; levels don't matter.
    let cases = [
        ("", "", Direction::SendRecv),
        ("a=sendrecv\n", "", Direction::SendRecv),
        ("", "a=sendonly\n", Direction::SendOnly),
        ("a=inactive\n", "", Direction::Inactive),
        ("a=recvonly\n", "a=sendonly\n", Direction::RecvOnly),
        ("a=sendonly\n", "a=recvonly\n", Direction::RecvOnly),
        ("a=inactive\n", "a=sendonly\n", Direction::SendOnly),
        ("a=sendrecv\n", "a=inactive\n", Direction::Inactive),
    ];
    for (session, media, want) in cases {
        let text = format!("v=0\ns=-\nc=IN IP4 192.0.2.1\n{session}m=audio 1 RTP/AVP 0\n{media}");
        let s = Session::parse(&text).unwrap();
        assert_eq!(
            s.media_direction(0),
            want,
            "session {session:?} media {media:?}"
        );
    }
}

#[test]
fn codecs_from_formats_and_attributes() {
    let text = "v=0
s=-
c=IN IP4 192.0.2.1
m=audio 1 RTP/AVP 0 96 97 98 99 100 18
a=rtpmap:96 opus/48000/2
a=rtpmap:97 opus/48000/1
a=rtpmap:98 L16/8000
a=rtpmap:98 L16/16000
a=fmtp:98 first
a=fmtp:98 second
a=rtpmap:99 PCMU/8000/1
a=rtcp-fb:96 nack
a=rtcp-fb:96 transport-cc
a=rtcp-fb:* ccm fir
a=rtpmap:0 PCMU/8000
a=rtpmap:18 G729/8000/x
";
    let s = Session::parse(text).unwrap();
    let c = s.media()[0].codecs().unwrap();
    let summary: Vec<(u8, Option<&str>, Option<&str>, usize)> = c
        .iter()
        .map(|c| {
            (
                c.payload_type,
                c.encoding.as_deref(),
                c.fmtp.as_deref(),
                c.rtcp_fb.len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, Some("PCMU/8000"), None, 0),
            (96, Some("opus/48000/2"), None, 2),
            (97, Some("opus/48000"), None, 0),
            (98, Some("L16/16000"), Some("second"), 0),
            (99, Some("PCMU/8000"), None, 0),
            (100, None, None, 0),
            (18, Some("G729/8000"), None, 0),
        ]
    );
    assert_eq!(c[1].rtcp_fb, ["nack", "transport-cc"]);
    assert_eq!(s.media()[0].first_codec().unwrap().as_ref(), c.first());
}

#[test]
fn rtpmap_encoding_is_borrowed_only_when_written_as_we_write_it() {
    use crate::sdp::parse::parse_rtpmap;
    use std::borrow::Cow;
    let cases = [
        ("0 PCMU/8000", "PCMU/8000", true),
        ("96 opus/48000/2", "opus/48000/2", true),
        ("96 opus/16000/2", "opus/48000/2", false),
        ("97 L16/8000/1", "L16/8000", false),
        ("97 L16/8000/0", "L16/8000", false),
        ("97 L16/08000", "L16/8000", false),
        ("97 L16/8000/02", "L16/8000/2", false),
        ("97 L16/0/2", "L16/0/2", true),
        ("18 G729/8000/x", "G729/8000", false),
    ];
    for (value, want, borrowed) in cases {
        let (_, enc) = parse_rtpmap(value).unwrap();
        assert_eq!(enc, want, "{value}");
        assert_eq!(matches!(enc, Cow::Borrowed(_)), borrowed, "{value}");
    }
    assert!(parse_rtpmap("97 L16/80a0").is_none());
}

#[test]
fn codecs_reject_bad_payload_types() {
    for fmt in ["128", "abc", "-1"] {
        let text = format!("v=0\ns=-\nc=IN IP4 192.0.2.1\nm=audio 1 RTP/AVP 0 {fmt}\n");
        let s = Session::parse(&text).unwrap();
        assert!(s.media()[0].first_codec().unwrap().is_some(), "{fmt}");
        assert!(
            matches!(
                s.media()[0].codecs(),
                Err(SdpError::InvalidPayloadType { index: 0, .. })
            ),
            "{fmt}"
        );
    }
    // Non-RTP formats are not payload types.
    let s = Session::parse("v=0\ns=-\nm=image 1 udptl t38\n").unwrap();
    assert_eq!(s.media()[0].codecs().unwrap(), []);
    assert_eq!(s.media()[0].first_codec().unwrap(), None);
}

#[test]
fn rtcp_attribute_forms() {
    let cases: &[(&str, Option<RtcpAttr>)] = &[
        (
            "a=rtcp:5001",
            Some(RtcpAttr {
                port: 5001,
                address: None,
            }),
        ),
        (
            "a=rtcp:9 IN IP6 ::",
            Some(RtcpAttr {
                port: 9,
                address: Some("::".parse().unwrap()),
            }),
        ),
        ("a=rtcp:0", None),
        ("a=rtcp:70000", None),
        ("a=rtcp:abc", None),
        ("a=rtcp:5001 IN IP4 nonsense", None),
    ];
    for (line, want) in cases {
        let text = format!("v=0\ns=-\nm=audio 1 RTP/AVP 0\n{line}\n");
        let s = Session::parse(&text).unwrap();
        assert_eq!(s.media()[0].rtcp(), *want, "{line}");
    }
}

#[test]
fn several_session_descriptions() {
    let text = "v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 1000 RTP/AVP 0
v=0
o=- 2 7 IN IP4 192.0.2.2
s=-
c=IN IP4 192.0.2.2
t=0 0
m=audio 2000 RTP/AVP 8
m=audio 3000 RTP/AVP 9
";
    let s = Session::parse(text).unwrap();
    assert_eq!(s.description_count(), 2);
    assert_eq!(s.media().len(), 3);
    assert_eq!(s.media()[1].description_index(), 1);
    assert_eq!(s.media()[2].index(), 2);
    assert_eq!(s.media_connection(2).unwrap().address, "192.0.2.2");
    assert_eq!(s.origin().unwrap().version, "1");
    assert_eq!(s.to_string(), crlf(text));
}

#[test]
fn session_name_and_origin_are_optional() {
    let s = Session::parse("v=0\nc=IN IP4 192.0.2.1\nm=audio 1 RTP/AVP 0\n").unwrap();
    assert_eq!(s.session_name(), None);
    assert_eq!(s.origin(), None);
}

#[test]
fn origin_tolerates_a_bad_address_and_extra_fields() {
    let s = Session::parse("v=0\no=- 1 2 IN IP4 not-an-address extra\ns=-\n").unwrap();
    let o = s.origin().unwrap();
    assert_eq!(o.address, "not-an-address");
    assert_eq!(o.ip(), None);
    let s = Session::parse("v=0\no=- 1 x IN IP4 192.0.2.1\n").unwrap();
    assert_eq!(s.origin().unwrap().version_num(), 0);
    let s = Session::parse("v=0\no=- 1 99999999999999999999999 IN IP4 192.0.2.1\n").unwrap();
    assert_eq!(s.origin().unwrap().version_num(), u64::MAX);
}

#[test]
fn connection_forms() {
    let ok = [
        "IN IP4 192.0.2.1",
        "in IP4 192.0.2.1",
        "IN IP6 2001:db8::1",
        "IN IP6 [2001:db8::1]",
        "IN IP4 0.0.0.0",
        "IN IP4 192.0.2.1 trailing",
    ];
    for c in ok {
        let text = format!("v=0\nc={c}\n");
        assert!(Session::parse(&text).is_ok(), "{c}");
    }
    let bad = [
        "IN IP4",
        "IN IP4 ",
        "IN IP4 2001:db8::1",
        "IN IP6 192.0.2.1",
        "IN IP4 224.2.1.1/127",
        "ATM NSAP 47.0005.80.ffe100.0000.f21a.01.0000",
        "IN ip4 192.0.2.1",
        "IN IP4 example.com",
    ];
    for c in bad {
        let text = format!("v=0\nc={c}\n");
        assert!(
            matches!(
                Session::parse(&text),
                Err(SdpError::BadConnection { line: 2 })
            ),
            "{c}"
        );
    }
}

#[test]
fn malformed_input_gives_clear_errors() {
    use SdpError as E;
    type Check = fn(&SdpError) -> bool;
    let cases: &[(&str, Check)] = &[
        ("", |e| *e == E::Empty),
        ("\r\n", |e| *e == E::Empty),
        ("s=-\nv=0\n", |e| *e == E::MissingVersion),
        ("v=1\n", |e| *e == E::BadVersion { line: 1 }),
        ("v=0 \n", |e| *e == E::BadVersion { line: 1 }),
        ("v=0\nx\n", |e| *e == E::MissingEquals { line: 2 }),
        ("v=0\ns-\n", |e| *e == E::MissingEquals { line: 2 }),
        ("v=0\n=x\n", |e| *e == E::MissingEquals { line: 2 }),
        ("v=0\nq=1\n", |e| {
            *e == E::UnknownLineType { line: 2, kind: 'q' }
        }),
        ("v=0\nA=1\n", |e| {
            *e == E::UnknownLineType { line: 2, kind: 'A' }
        }),
        ("v=0\né=1\n", |e| matches!(e, E::MissingEquals { line: 2 })),
        ("v=0\na=x\ry\n", |e| *e == E::BadCharacter { line: 2 }),
        ("v=0\na=x\0\n", |e| *e == E::BadCharacter { line: 2 }),
        ("v=0\no=- 1 2 IN IP4\n", |e| *e == E::BadOrigin { line: 2 }),
        ("v=0\no=- 1 2 IN IP4 \n", |e| *e == E::BadOrigin { line: 2 }),
        (
            "v=0\no=- 1 1 IN IP4 192.0.2.1\no=- 1 1 IN IP4 192.0.2.1\n",
            |e| *e == E::DuplicateOrigin { line: 3 },
        ),
        ("v=0\nc=IN IP4 192.0.2.1\nc=IN IP4 192.0.2.1\n", |e| {
            *e == E::DuplicateConnection { line: 3 }
        }),
        (
            "v=0\nm=audio 1 RTP/AVP 0\nc=IN IP4 192.0.2.1\nc=IN IP4 192.0.2.1\n",
            |e| *e == E::DuplicateConnection { line: 4 },
        ),
        (
            "v=0\nm=audio 1 RTP/AVP 0\no=- 1 1 IN IP4 192.0.2.1\n",
            |e| *e == E::SessionLineInMedia { line: 3, kind: 'o' },
        ),
        ("v=0\nm=audio 1 RTP/AVP 0\ns=-\n", |e| {
            *e == E::SessionLineInMedia { line: 3, kind: 's' }
        }),
        ("v=0\nm=audio\n", |e| {
            matches!(e, E::BadMedia { line: 2, .. })
        }),
        ("v=0\nm=audio 1000\n", |e| {
            matches!(e, E::BadMedia { line: 2, .. })
        }),
        ("v=0\nm=audio 1000 \n", |e| {
            matches!(e, E::BadMedia { line: 2, .. })
        }),
        ("v=0\nm=audio x RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { line: 2, .. })
        }),
        ("v=0\nm=audio -1 RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio 65536 RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio 1000x RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio 1000/0 RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio 1000/11 RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio 1000/ RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
        ("v=0\nm=audio  1000 RTP/AVP 0\n", |e| {
            matches!(e, E::BadMedia { .. })
        }),
    ];
    for (text, check) in cases {
        match Session::parse(text) {
            Ok(s) => panic!("{text:?} parsed: {s:?}"),
            Err(e) => {
                assert!(check(&e), "{text:?} gave {e:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn limits() {
    let big = format!("v=0\na={}\n", "x".repeat(MAX_SDP_BYTES));
    assert!(matches!(Session::parse(&big), Err(SdpError::TooLarge(_))));
    assert!(matches!(
        Session::parse_bytes(big.as_bytes()),
        Err(SdpError::TooLarge(_))
    ));

    let many_lines = format!("v=0\n{}", "a=x\n".repeat(MAX_SDP_LINES));
    assert_eq!(Session::parse(&many_lines), Err(SdpError::TooManyLines));
    let just_enough = format!("v=0\n{}", "a=x\n".repeat(MAX_SDP_LINES - 1));
    assert!(Session::parse(&just_enough).is_ok());

    let many_media = format!(
        "v=0\n{}",
        "m=audio 1 RTP/AVP 0\n".repeat(MAX_MEDIA_SECTIONS + 1)
    );
    assert_eq!(Session::parse(&many_media), Err(SdpError::TooManyMedia));
    let many_sessions = "v=0\n".repeat(MAX_SESSION_DESCRIPTIONS + 1);
    assert_eq!(
        Session::parse(&many_sessions),
        Err(SdpError::TooManySessions)
    );
}

#[test]
fn bytes_must_be_utf8() {
    assert_eq!(
        Session::parse_bytes(b"v=0\r\ns=caf\xe9\r\n"),
        Err(SdpError::NotUtf8)
    );
    assert!(Session::parse_bytes("v=0\r\ns=café\r\n".as_bytes()).is_ok());
}

#[test]
fn odd_but_accepted_m_lines() {
    let cases = [
        ("application 0 *", "*", 0),
        ("application 0 * ", "*", 0),
        ("audio 1000 RTP/AVP 0 8 ", "RTP/AVP", 2),
        ("audio 1000/1 RTP/AVP 0", "RTP/AVP", 1),
        ("audio 1000 rtp/avp 0", "rtp/avp", 1),
    ];
    for (m, proto, nformats) in cases {
        let text = format!("v=0\nm={m}\n");
        let s = Session::parse(&text).unwrap();
        assert_eq!(s.media()[0].protocol(), proto);
        assert_eq!(s.media()[0].formats().len(), nformats);
        assert_eq!(s.to_string(), crlf(&text), "{m:?}");
    }
}

/// Real SDPs: a Chrome offer and what SIPp and rtpengine sent through OpenSIPS.
const FIXTURES: &[(&str, &str)] = &[
    (
        "chrome-156-offer-pcmu",
        include_str!("../../tests/fixtures/sdp/chrome-156-offer-pcmu.sdp"),
    ),
    (
        "sipp-offer",
        include_str!("../../tests/fixtures/sdp/sipp-offer.sdp"),
    ),
    (
        "sipp-offer-relayed",
        include_str!("../../tests/fixtures/sdp/sipp-offer-relayed.sdp"),
    ),
    (
        "sipp-offer-relayed-keep-origin",
        include_str!("../../tests/fixtures/sdp/sipp-offer-relayed-keep-origin.sdp"),
    ),
    (
        "sipp-answer",
        include_str!("../../tests/fixtures/sdp/sipp-answer.sdp"),
    ),
    (
        "sipp-answer-relayed",
        include_str!("../../tests/fixtures/sdp/sipp-answer-relayed.sdp"),
    ),
    (
        "sipp-webrtc-answer",
        include_str!("../../tests/fixtures/sdp/sipp-webrtc-answer.sdp"),
    ),
    (
        "sipp-webrtc-answer-relayed",
        include_str!("../../tests/fixtures/sdp/sipp-webrtc-answer-relayed.sdp"),
    ),
    (
        "sipp-pcmu-answer",
        include_str!("../../tests/fixtures/sdp/sipp-pcmu-answer.sdp"),
    ),
    (
        "sipp-pcmu-answer-relayed",
        include_str!("../../tests/fixtures/sdp/sipp-pcmu-answer-relayed.sdp"),
    ),
];

#[test]
fn real_sdps_round_trip() {
    for (name, text) in FIXTURES {
        assert!(text.contains("\r\n"), "{name} should be stored with CRLF");
        let s = Session::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(s.to_string(), *text, "{name}");
        assert_eq!(
            Session::parse(&text.replace("\r\n", "\n")).unwrap(),
            s,
            "{name} with LF"
        );
    }
}

#[test]
fn chrome_offer_details() {
    let s = Session::parse(FIXTURES[0].1).unwrap();
    let m = &s.media()[0];
    assert_eq!(m.protocol(), "UDP/TLS/RTP/SAVPF");
    assert!(m.rtcp_mux());
    assert_eq!(m.mid(), Some("0"));
    assert_eq!(m.ice_ufrag(), Some("30wr"));
    assert_eq!(m.candidates().count(), 2);
    assert_eq!(m.rtcp().unwrap().address, Some("0.0.0.0".parse().unwrap()));
    assert_eq!(s.attr("group"), Some("BUNDLE 0"));
    assert_eq!(s.media_direction(0), Direction::SendRecv);
}

/// What a successful parse must write back: the text up to the first empty line, every
/// line ending in CRLF.
fn normalized(x: &str) -> String {
    let mut out = String::new();
    for raw in x.split('\n') {
        let l = raw.strip_suffix('\r').unwrap_or(raw);
        if l.is_empty() {
            break;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out
}

/// SDP-looking text: mostly well-formed lines with random values, some junk.
fn sdp_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("v=0".to_owned()),
        "[a-z0-9 ./:*-]{0,30}".prop_map(|v| format!("a={v}")),
        "[a-zA-Z0-9 -]{0,12}".prop_map(|v| format!("s={v}")),
        "[0-9 ]{0,12}".prop_map(|v| format!("t={v}")),
        "[A-Z]{2}:[0-9]{1,4}".prop_map(|v| format!("b={v}")),
        (0u32..70000, "[a-zA-Z/]{1,9}", "[0-9a-z* ]{0,12}")
            .prop_map(|(p, proto, f)| format!("m=audio {p} {proto} {f}")),
        (0u8..4, 0u8..=255).prop_map(|(k, o)| match k {
            0 => format!("c=IN IP4 192.0.2.{o}"),
            1 => format!("c=IN IP6 2001:db8::{o:x}"),
            2 => "c=IN IP4 0.0.0.0".to_owned(),
            _ => format!("o=- {o} {o} IN IP4 198.51.100.{o}"),
        }),
        "[ -~]{0,20}",
    ];
    (
        prop::collection::vec(line, 0..25),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(lines, with_v, crlf)| {
            let sep = if crlf { "\r\n" } else { "\n" };
            let mut s = if with_v {
                format!("v=0{sep}")
            } else {
                String::new()
            };
            for l in lines {
                s.push_str(&l);
                s.push_str(sep);
            }
            s
        })
}

proptest! {
    #[test]
    fn parse_never_panics_and_reproduces_input(x in "(?s).{0,400}") {
        if let Ok(s) = Session::parse(&x) {
            prop_assert_eq!(s.to_string(), normalized(&x));
        }
    }

    #[test]
    fn sdp_like_text_reproduces(x in sdp_like()) {
        if let Ok(s) = Session::parse(&x) {
            let text = s.to_string();
            prop_assert_eq!(&text, &normalized(&x));
            // Writing is stable: what we write parses to the same thing.
            prop_assert_eq!(Session::parse(&text).unwrap(), s);
        }
    }

    #[test]
    fn parse_bytes_never_panics(x in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Session::parse_bytes(&x);
    }
}
