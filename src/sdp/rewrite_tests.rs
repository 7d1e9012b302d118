//! Tests of the rewrite: hand-written SDPs whose expected output follows the rules written
//! at the top of rewrite.rs, and real SDPs relayed by rtpengine 10.5 (tests/fixtures/sdp).

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn ours() -> IpAddr {
    "203.0.113.7".parse().unwrap()
}

fn ours6() -> IpAddr {
    "2001:db8:ffff::7".parse().unwrap()
}

/// The plan of a plain relay: our IPv4 address, RTP ports 40000, 40002, ... with RTCP one
/// above, mid and ptime as in the input, ICE removed.
fn plain(s: &Session) -> SessionRewrite {
    SessionRewrite {
        remove_ice: true,
        media: s
            .media()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let port = 40000 + 2 * i as u16;
                let mut r = MediaRewrite::from_input(m, ours(), port);
                r.rtcp_port = Some(port + 1);
                r
            })
            .collect(),
        ..Default::default()
    }
}

/// Rewrites `input` (LF line endings) with the plain plan changed by `tweak`; returns the
/// output with LF line endings, after checking that it used CRLF throughout.
fn run(input: &str, tweak: impl FnOnce(&mut SessionRewrite)) -> String {
    let s = Session::parse(input).unwrap();
    let mut rw = plain(&s);
    tweak(&mut rw);
    let out = rewrite(&s, &rw).unwrap();
    assert!(out.ends_with("\r\n"));
    assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
    // What we send must be valid SDP itself.
    Session::parse(&out).unwrap();
    out.replace("\r\n", "\n")
}

struct Case {
    name: &'static str,
    input: &'static str,
    tweak: fn(&mut SessionRewrite),
    want: &'static str,
}

fn nothing(_: &mut SessionRewrite) {}

const CASES: &[Case] = &[
    Case {
        name: "plain relay: rtpmap added for static types, generated block at the end",
        input: "v=0
o=bob 100 200 IN IP4 198.51.100.5
s=call
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0 96 101
a=rtpmap:96 speex/16000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv
",
        tweak: nothing,
        want: "v=0
o=bob 100 200 IN IP4 198.51.100.5
s=call
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0 96 101
a=rtpmap:0 PCMU/8000
a=rtpmap:96 speex/16000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
a=rtcp:40001
a=ptime:20
",
    },
    Case {
        name: "media-level c= only, direction always written",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 7000 RTP/AVP 8
c=IN IP4 198.51.100.6
b=AS:64
a=sendonly
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 40000 RTP/AVP 8
c=IN IP4 203.0.113.7
b=AS:64
a=rtpmap:8 PCMA/8000
a=sendonly
a=rtcp:40001
",
    },
    Case {
        name: "session c= kept when every section has its own",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 8
c=IN IP4 198.51.100.6
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 40000 RTP/AVP 8
c=IN IP4 203.0.113.7
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "replace-session-connection rewrites it anyway",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 8
c=IN IP4 198.51.100.6
",
        tweak: |rw| rw.replace_session_connection = true,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 8
c=IN IP4 203.0.113.7
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "session c= takes the first section's address when one section relies on it",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 8
m=audio 7002 RTP/AVP 0
c=IN IP4 198.51.100.6
",
        tweak: |rw| rw.media[1].address = "203.0.113.8".parse().unwrap(),
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
m=audio 40002 RTP/AVP 0
c=IN IP4 203.0.113.8
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40003
",
    },
    Case {
        name: "hold: zero address kept in c=, real address in full rtcp attribute",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 7000 RTP/AVP 8
",
        tweak: |rw| {
            rw.media[0].zero_address = true;
            rw.media[0].direction = Some(Direction::SendOnly);
            rw.media[0].rtcp_attribute = RtcpAttribute::Full;
        },
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 40000 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendonly
a=rtcp:40001 IN IP4 203.0.113.7
",
    },
    Case {
        name: "IPv6 zero address",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 7000 RTP/AVP 8
c=IN IP6 ::
",
        tweak: |rw| {
            rw.media[0].address = ours6();
            rw.media[0].zero_address = true;
        },
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 40000 RTP/AVP 8
c=IN IP6 ::
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "address family change in c= and o=",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 8
",
        tweak: |rw| {
            rw.media[0].address = ours6();
            rw.origin_address = Some(ours6());
        },
        want: "v=0
o=- 1 1 IN IP6 2001:db8:ffff::7
s=-
c=IN IP6 2001:db8:ffff::7
t=0 0
m=audio 40000 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "IPv6 to IPv4",
        input: "v=0
o=- 1 1 IN IP6 2001:db8::5
s=-
c=IN IP6 2001:db8::5
t=0 0
m=audio 7000 RTP/AVP 8
",
        tweak: |rw| rw.origin_address = Some(ours()),
        want: "v=0
o=- 1 1 IN IP4 203.0.113.7
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "rejected section keeps port 0 and gets only its mid",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
a=mid:1
a=sendrecv
m=video 0 RTP/AVP 96
a=mid:2
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=42e01f
a=inactive
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=mid:1
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
m=video 0 RTP/AVP 96
a=mid:2
",
    },
    Case {
        name: "section rejected by the caller",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
m=application 7002 RTP/AVP 100
a=rtpmap:100 x-data/1000
",
        tweak: |rw| rw.media[1].port = 0,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
m=application 0 RTP/AVP 100
",
    },
    Case {
        name: "odd rejected sections are left as written",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
m=application 0 * 
m=application 0 *
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
m=application 0 * 
m=application 0 *
",
    },
    Case {
        name: "T.38: formats kept, direction but no rtcp",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=image 7002 udptl t38
a=T38FaxVersion:0
a=T38FaxRateManagement:transferredTCF
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=image 40000 udptl t38
a=T38FaxVersion:0
a=T38FaxRateManagement:transferredTCF
a=sendrecv
",
    },
    Case {
        name: "other non-RTP protocol: rtpmap kept in place",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=application 7004 TCP/BFCP *
a=rtpmap:96 foo/8000
a=ptime:20
a=floorctrl:c-s
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=application 40000 TCP/BFCP *
a=rtpmap:96 foo/8000
a=floorctrl:c-s
a=sendrecv
",
    },
    Case {
        name: "MSRP left untouched, with a copy of the original session c=",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
m=message 7010 TCP/MSRP *
i=chat
a=path:msrp://198.51.100.5:7010/abc;tcp
a=setup:active
m=message 7012 TCP/MSRP *
c=IN IP4 198.51.100.9
a=sendonly
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
m=message 7010 TCP/MSRP *
i=chat
c=IN IP4 198.51.100.5
a=path:msrp://198.51.100.5:7010/abc;tcp
a=setup:active
m=message 7012 TCP/MSRP *
c=IN IP4 198.51.100.9
a=sendonly
",
    },
    Case {
        name: "caller-requested passthrough of a section",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 7000 RTP/AVP 0
c=IN IP4 198.51.100.5
a=sendonly
",
        tweak: |rw| rw.media[0].passthrough = true,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
m=audio 7000 RTP/AVP 0
c=IN IP4 198.51.100.5
a=sendonly
",
    },
    Case {
        name: "ICE, DTLS, SDES and BUNDLE removed; mid and end-of-candidates regenerated",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
a=ice-lite
a=ice-options:trickle
a=fingerprint:sha-256 AA:BB
a=setup:actpass
a=group:BUNDLE 0
a=group:LS 0
a=msid-semantic: WMS *
m=audio 7000 RTP/SAVPF 0
c=IN IP4 198.51.100.5
a=mid:0
a=ice-ufrag:abcd
a=ice-pwd:0123456789abcdefghijkl
a=candidate:1 1 udp 2130706431 198.51.100.5 7000 typ host
a=end-of-candidates
a=rtcp-mux
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz
a=ssrc:1 cname:x
a=sendrecv
",
        tweak: |rw| rw.media[0].protocol = Some("RTP/AVP".into()),
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
a=group:LS 0
a=msid-semantic: WMS *
m=audio 40000 RTP/AVP 0
c=IN IP4 203.0.113.7
a=ssrc:1 cname:x
a=mid:0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
a=end-of-candidates
",
    },
    Case {
        name: "ICE kept (ICE=optional)",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
a=ice-options:trickle
m=audio 7000 RTP/AVP 0
c=IN IP4 198.51.100.5
a=ice-ufrag:abcd
a=ice-pwd:0123456789abcdefghijkl
a=candidate:1 1 udp 2130706431 198.51.100.5 7000 typ host
a=end-of-candidates
",
        tweak: |rw| rw.remove_ice = false,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
t=0 0
a=ice-options:trickle
m=audio 40000 RTP/AVP 0
c=IN IP4 203.0.113.7
a=ice-ufrag:abcd
a=ice-pwd:0123456789abcdefghijkl
a=candidate:1 1 udp 2130706431 198.51.100.5 7000 typ host
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
a=end-of-candidates
",
    },
    Case {
        name: "unknown lines keep their place",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
i=session info
c=IN IP4 198.51.100.5
b=CT:128
t=0 0
a=x-session:1
m=audio 7000 RTP/AVP 0
i=media info
b=AS:80
k=prompt
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=x-foo:bar
a=direction:both
a=sendrecv
a=x-after
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
i=session info
c=IN IP4 203.0.113.7
b=CT:128
t=0 0
a=x-session:1
m=audio 40000 RTP/AVP 0
i=media info
b=AS:80
k=prompt
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=x-foo:bar
a=direction:both
a=x-after
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "strip-extmap at both levels",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
a=extmap:2 urn:example
m=audio 7000 RTP/AVP 0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
",
        tweak: |rw| rw.strip_extmap = true,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "origin address, username, version and session name",
        input: "v=0
o=bob 100 200 IN IP4 198.51.100.5
s=call
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
",
        tweak: |rw| {
            rw.origin_address = Some(ours());
            rw.username = Some("alice".into());
            rw.sdp_version = Some(7);
            rw.session_name = Some("relayed".into());
        },
        want: "v=0
o=alice 100 7 IN IP4 203.0.113.7
s=relayed
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "original-sendrecv keeps direction attributes and writes none",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
a=sendonly
m=audio 7000 RTP/AVP 0
a=recvonly
",
        tweak: |rw| rw.original_sendrecv = true,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
a=sendonly
m=audio 40000 RTP/AVP 0
a=recvonly
a=rtpmap:0 PCMU/8000
a=rtcp:40001
",
    },
    Case {
        name: "session-level direction moves to the media section",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
a=inactive
m=audio 7000 RTP/AVP 0
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=inactive
a=rtcp:40001
",
    },
    Case {
        name: "protocol written in canonical spelling, explicit port count kept",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 rtp/avp 0
m=video 7002/2 RTP/AVP 96
a=rtpmap:96 VP8/90000
m=audio 7006/1 RTP/AVP 8
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
m=video 40002/2 RTP/AVP 96
a=rtpmap:96 VP8/90000
a=sendrecv
a=rtcp:40003
m=audio 40004 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40005
",
    },
    Case {
        name: "rtcp-fb regenerated after fmtp; the wildcard one stays",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=video 7000 RTP/AVPF 96 97
a=rtcp-fb:96 nack
a=rtcp-fb:* ccm fir
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 nack pli
a=fmtp:96 max-fr=30
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=rtcp-fb:98 goog-remb
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=video 40000 RTP/AVPF 96 97
a=rtcp-fb:* ccm fir
a=rtpmap:96 VP8/90000
a=fmtp:96 max-fr=30
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "unparsable attributes are passed through",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
a=rtcp:0
a=rtcp:7001
m=audio 7000 RTP/AVP 96
a=rtpmap:96 nonsense
a=fmtp:x y
a=rtcp:7001 IN IP4 nonsense
a=rtcp:abc
a=ptime:fast
",
        tweak: nothing,
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
a=rtcp:7001
m=audio 40000 RTP/AVP 96
a=rtpmap:96 nonsense
a=fmtp:x y
a=rtcp:7001 IN IP4 nonsense
a=ptime:fast
a=sendrecv
a=rtcp:40001
",
    },
    Case {
        name: "ptime: the caller's value replaces the input's; without one the input's stays",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
a=ptime:20
a=maxptime:40
m=audio 7002 RTP/AVP 8
a=ptime:20
",
        tweak: |rw| {
            rw.media[0].ptime = Some(30);
            rw.media[1].ptime = None;
        },
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=maxptime:40
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
a=ptime:30
m=audio 40002 RTP/AVP 8
a=ptime:20
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40003
",
    },
    Case {
        name: "caller-supplied codecs, mid and attributes in rtpengine's order",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0 8 9
a=rtpmap:9 G722/8000
",
        tweak: |rw| {
            let m = &mut rw.media[0];
            m.codecs = Some(vec![
                Codec {
                    payload_type: 8,
                    encoding: Some("PCMA/8000".into()),
                    fmtp: None,
                    rtcp_fb: vec![],
                },
                Codec {
                    payload_type: 101,
                    encoding: Some("telephone-event/8000".into()),
                    fmtp: Some("0-15".into()),
                    rtcp_fb: vec![],
                },
            ]);
            m.mid = Some("audio".into());
            m.protocol = Some("RTP/SAVP".into());
            m.ptime = Some(20);
            m.rtcp_mux = true;
            m.extra_attributes = vec!["label:1".into()];
            m.crypto_attributes = vec!["crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY".into()];
            m.dtls_attributes = vec!["setup:actpass".into()];
            m.ice_attributes = vec!["ice-ufrag:UFRAG".into()];
        },
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/SAVP 8 101
a=mid:audio
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=label:1
a=sendrecv
a=rtcp:40001
a=rtcp-mux
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY
a=setup:actpass
a=ptime:20
a=ice-ufrag:UFRAG
",
    },
    Case {
        name: "two session descriptions",
        input: "v=0
o=- 1 5 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
v=0
o=- 2 6 IN IP4 198.51.100.6
s=-
c=IN IP4 198.51.100.6
t=0 0
m=audio 7002 RTP/AVP 8
",
        tweak: |rw| {
            rw.media[1].address = ours6();
            rw.sdp_version = Some(9);
        },
        want: "v=0
o=- 1 9 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
v=0
o=- 2 9 IN IP4 198.51.100.6
s=-
c=IN IP6 2001:db8:ffff::7
t=0 0
m=audio 40002 RTP/AVP 8
a=rtpmap:8 PCMA/8000
a=sendrecv
a=rtcp:40003
",
    },
    Case {
        name: "loop protection marker after the session lines",
        input: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
a=tool:x
m=audio 7000 RTP/AVP 0
",
        tweak: |rw| rw.loop_protect = Some("0123456789ab".into()),
        want: "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
a=tool:x
a=rtpengine:0123456789ab
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=rtcp:40001
",
    },
];

#[test]
fn rewrite_cases() {
    for case in CASES {
        let got = run(case.input, case.tweak);
        assert_eq!(got, case.want, "case: {}", case.name);
    }
}

#[test]
fn rtcp_variants() {
    let input = "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 198.51.100.5
t=0 0
m=audio 7000 RTP/AVP 0
a=rtcp:7001
a=rtcp-mux
";
    let head = "v=0
o=- 1 1 IN IP4 198.51.100.5
s=-
c=IN IP4 203.0.113.7
t=0 0
m=audio 40000 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
";
    let cases: &[(Option<u16>, bool, RtcpAttribute, &str)] = &[
        (None, false, RtcpAttribute::Normal, ""),
        (Some(40001), false, RtcpAttribute::Normal, "a=rtcp:40001\n"),
        (
            Some(40001),
            true,
            RtcpAttribute::Normal,
            "a=rtcp:40001\na=rtcp-mux\n",
        ),
        (
            None,
            true,
            RtcpAttribute::Normal,
            "a=rtcp:40000\na=rtcp-mux\n",
        ),
        (
            Some(40001),
            false,
            RtcpAttribute::Full,
            "a=rtcp:40001 IN IP4 203.0.113.7\n",
        ),
        (None, true, RtcpAttribute::Omit, "a=rtcp-mux\n"),
        (Some(40001), false, RtcpAttribute::Omit, ""),
    ];
    for (port, mux, attr, tail) in cases {
        let got = run(input, |rw| {
            rw.media[0].rtcp_port = *port;
            rw.media[0].rtcp_mux = *mux;
            rw.media[0].rtcp_attribute = *attr;
        });
        assert_eq!(got, format!("{head}{tail}"), "{port:?} {mux} {attr:?}");
    }
}

#[test]
fn rewrite_errors() {
    let no_media = Session::parse("v=0\ns=-\nc=IN IP4 198.51.100.5\n").unwrap();
    assert_eq!(
        rewrite(&no_media, &SessionRewrite::default()),
        Err(SdpError::NoMedia)
    );

    let two = Session::parse(
        "v=0\ns=-\nc=IN IP4 198.51.100.5\nm=audio 1 RTP/AVP 0\nm=audio 3 RTP/AVP 0\n",
    )
    .unwrap();
    let mut rw = plain(&two);
    rw.media.pop();
    assert_eq!(
        rewrite(&two, &rw),
        Err(SdpError::MediaCountMismatch {
            expected: 2,
            given: 1
        })
    );

    let msrp = Session::parse(
        "v=0\ns=-\nm=audio 1 RTP/AVP 0\nc=IN IP4 198.51.100.5\nm=message 2 TCP/MSRP *\n",
    )
    .unwrap();
    assert_eq!(
        rewrite(&msrp, &plain(&msrp)),
        Err(SdpError::NoSessionConnection { index: 1 })
    );

    let bad_pt =
        Session::parse("v=0\ns=-\nc=IN IP4 198.51.100.5\nm=audio 1 RTP/AVP 0 x\n").unwrap();
    assert!(matches!(
        rewrite(&bad_pt, &plain(&bad_pt)),
        Err(SdpError::InvalidPayloadType { index: 0, .. })
    ));

    // Caller-supplied text cannot inject lines or break fields.
    let one = Session::parse("v=0\ns=-\nc=IN IP4 198.51.100.5\nm=audio 1 RTP/AVP 0\n").unwrap();
    type Tweak = fn(&mut SessionRewrite);
    let tweaks: &[(Tweak, &str)] = &[
        (
            |rw| rw.session_name = Some("x\r\na=evil".into()),
            "session name",
        ),
        (|rw| rw.username = Some("two words".into()), "username"),
        (
            |rw| rw.media[0].protocol = Some("RTP/AVP 8".into()),
            "protocol",
        ),
        (|rw| rw.media[0].mid = Some("0\n".into()), "mid"),
        (
            |rw| rw.media[0].extra_attributes = vec!["x\ry".into()],
            "attribute",
        ),
    ];
    for (tweak, what) in tweaks {
        let mut rw = plain(&one);
        tweak(&mut rw);
        assert_eq!(rewrite(&one, &rw), Err(SdpError::InvalidValue { what }));
    }

    // A description without media cannot be rewritten (rtpengine rejects it too).
    let empty_second =
        Session::parse("v=0\ns=-\nc=IN IP4 198.51.100.5\nm=audio 1 RTP/AVP 0\nv=0\ns=-\n").unwrap();
    assert_eq!(
        rewrite(&empty_second, &plain(&empty_second)),
        Err(SdpError::NoMedia)
    );
}

const SIPP_OFFER: &str = include_str!("../../tests/fixtures/sdp/sipp-offer.sdp");
const SIPP_ANSWER: &str = include_str!("../../tests/fixtures/sdp/sipp-answer.sdp");

fn loopback() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

/// The plan rtpengine followed for the captured calls: one audio section on 127.0.0.1.
fn captured_plan(s: &Session, port: u16, replace: bool) -> SessionRewrite {
    let mut m = MediaRewrite::from_input(&s.media()[0], loopback(), port);
    m.rtcp_port = Some(port + 1);
    SessionRewrite {
        origin_address: replace.then(loopback),
        replace_session_connection: replace,
        remove_ice: true,
        media: vec![m],
        ..Default::default()
    }
}

#[test]
fn matches_rtpengine_on_captured_calls() {
    let cases: &[(&str, &str, u16, bool)] = &[
        (
            SIPP_OFFER,
            include_str!("../../tests/fixtures/sdp/sipp-offer-relayed.sdp"),
            30000,
            true,
        ),
        (
            SIPP_OFFER,
            include_str!("../../tests/fixtures/sdp/sipp-offer-relayed-keep-origin.sdp"),
            30114,
            false,
        ),
        (
            SIPP_ANSWER,
            include_str!("../../tests/fixtures/sdp/sipp-answer-relayed.sdp"),
            30016,
            true,
        ),
        (
            include_str!("../../tests/fixtures/sdp/sipp-pcmu-answer.sdp"),
            include_str!("../../tests/fixtures/sdp/sipp-pcmu-answer-relayed.sdp"),
            30102,
            false,
        ),
    ];
    for (input, want, port, replace) in cases {
        let s = Session::parse(input).unwrap();
        let out = rewrite(&s, &captured_plan(&s, *port, *replace)).unwrap();
        assert_eq!(out, *want);
    }
}

#[test]
fn matches_rtpengine_on_webrtc_answer_to_plain_caller() {
    // ICE=remove, rtcp-mux-demux, RTP/AVP towards a caller whose offer had no mid.
    let input = include_str!("../../tests/fixtures/sdp/sipp-webrtc-answer.sdp");
    let want = include_str!("../../tests/fixtures/sdp/sipp-webrtc-answer-relayed.sdp");
    let s = Session::parse(input).unwrap();
    let mut rw = captured_plan(&s, 30080, false);
    rw.media[0].protocol = Some("RTP/AVP".into());
    rw.media[0].mid = None;
    assert_eq!(rewrite(&s, &rw).unwrap(), want);
}

#[test]
fn chrome_offer_to_plain_rtp() {
    let input = include_str!("../../tests/fixtures/sdp/chrome-156-offer-pcmu.sdp");
    let s = Session::parse(input).unwrap();
    let mut rw = plain(&s);
    rw.media[0].protocol = Some("RTP/AVP".into());
    let out = rewrite(&s, &rw).unwrap();
    let reparsed = Session::parse(&out).unwrap();
    let m = &reparsed.media()[0];
    assert_eq!(m.m_line(), "audio 40000 RTP/AVP 0");
    assert!(m.candidates().next().is_none());
    assert!(m.ice_ufrag().is_none());
    assert!(!m.has_attr("fingerprint") && !m.has_attr("setup") && !m.rtcp_mux());
    assert_eq!(m.rtcp().unwrap().port, 40001);
    assert_eq!(m.mid(), Some("0"));
    // Chrome's own attributes survive.
    assert_eq!(m.attrs("ssrc").count(), 2);
    assert_eq!(m.attrs("extmap").count(), 4);
    assert!(m.has_attr("msid") && m.has_attr("rtcp-rsize"));
    assert_eq!(reparsed.attr("group"), None);
    assert_eq!(
        reparsed.attr("msid-semantic"),
        Some(" WMS 5bf25313-d163-4d6f-961f-c7989713c17c")
    );
}

/// An offer's text; [`tracked`] parses it.
fn offer(port: u16, version: u32, user: &str) -> String {
    format!(
        "v=0\no={user} 42 {version} IN IP4 198.51.100.5\ns=s-{user}\nc=IN IP4 198.51.100.5\nt=0 0\nm=audio {port} RTP/AVP 0\n"
    )
}

fn tracked(t: &mut OriginTracker, sdp: &str, our_port: u16, flags: ReplaceFlags) -> String {
    let s = Session::parse(sdp).unwrap();
    let mut rw = plain(&s);
    rw.media[0].port = our_port;
    t.rewrite(&s, rw, flags, || 777).unwrap()
}

fn origin_line(out: &str) -> &str {
    out.lines().nth(1).unwrap()
}

#[test]
fn sdp_version_tracking() {
    let flags = ReplaceFlags {
        sdp_version: true,
        ..Default::default()
    };
    let mut t = OriginTracker::new();
    // The first version seen is kept while our output doesn't change ...
    let out = tracked(&mut t, &offer(7000, 3, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 3 IN IP4 198.51.100.5");
    let out = tracked(&mut t, &offer(7000, 4, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 3 IN IP4 198.51.100.5");
    // ... and bumped by one when it does.
    let out = tracked(&mut t, &offer(7000, 5, "a"), 40010, flags);
    assert_eq!(origin_line(&out), "o=a 42 4 IN IP4 198.51.100.5");
    let out = tracked(&mut t, &offer(7000, 1, "a"), 40010, flags);
    assert_eq!(origin_line(&out), "o=a 42 4 IN IP4 198.51.100.5");
    assert_eq!(t.version(), Some(4));
    // Without the flag the version is the input's.
    let out = tracked(&mut t, &offer(7000, 1, "a"), 40010, ReplaceFlags::default());
    assert_eq!(origin_line(&out), "o=a 42 1 IN IP4 198.51.100.5");

    // A version of 0 is replaced by a fresh one.
    let mut t = OriginTracker::new();
    let out = tracked(&mut t, &offer(7000, 0, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 777 IN IP4 198.51.100.5");
}

#[test]
fn sdp_version_bumps_when_the_peer_changes_its_sdp() {
    let flags = ReplaceFlags {
        sdp_version: true,
        ..Default::default()
    };
    let mut t = OriginTracker::new();
    let out = tracked(&mut t, &offer(7000, 1, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 1 IN IP4 198.51.100.5");
    // The peer moved its port; ours stays: still a change.
    let out = tracked(&mut t, &offer(7002, 1, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 2 IN IP4 198.51.100.5");
    // Only the peer's version moved: not a change.
    let out = tracked(&mut t, &offer(7002, 9, "a"), 40000, flags);
    assert_eq!(origin_line(&out), "o=a 42 2 IN IP4 198.51.100.5");
}

#[test]
fn username_and_session_name_tracking() {
    let flags = ReplaceFlags {
        username: true,
        session_name: true,
        ..Default::default()
    };
    let mut t = OriginTracker::new();
    // The first SDP is only remembered.
    let out = tracked(&mut t, &offer(7000, 1, "first"), 40000, flags);
    assert!(out.starts_with("v=0\r\no=first 42 1 IN IP4 198.51.100.5\r\ns=s-first\r\n"));
    // Later ones get the remembered values with the flags ...
    let out = tracked(&mut t, &offer(7000, 1, "second"), 40000, flags);
    assert!(out.starts_with("v=0\r\no=first 42 1 IN IP4 198.51.100.5\r\ns=s-first\r\n"));
    // ... and keep their own without.
    let out = tracked(
        &mut t,
        &offer(7000, 1, "third"),
        40000,
        ReplaceFlags::default(),
    );
    assert!(out.starts_with("v=0\r\no=third 42 1 IN IP4 198.51.100.5\r\ns=s-third\r\n"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn rewrite_never_panics_and_gives_valid_sdp(
        lines in prop::collection::vec(prop_oneof![
            "a=[a-z-]{1,12}(:[0-9a-z /*:.-]{0,20})?",
            "(c=IN IP4 (0\\.0\\.0\\.0|192\\.0\\.2\\.[0-9]{1,2}))",
            "(c=IN IP6 (::|2001:db8::[0-9]))",
            "m=(audio|video|image|message|application) (0|[1-9][0-9]{0,4}) (RTP/AVP|RTP/SAVPF|udptl|TCP/MSRP|\\*)( [0-9]{1,3}){0,4}",
            "(b=AS:[0-9]{1,3}|i=[a-z ]{0,8}|t=0 0|s=[a-z]{0,5})",
            "a=(rtpmap|fmtp|rtcp-fb):[0-9]{1,3} [a-zA-Z0-9/=;-]{0,12}",
            "a=(rtcp|ptime|mid):[0-9a-z]{0,6}",
        ], 1..20),
        zero in any::<bool>(),
        six in any::<bool>(),
        mux in any::<bool>(),
    ) {
        let text = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n{}\r\n", lines.join("\r\n"));
        if let Ok(s) = Session::parse(&text) {
            let mut rw = plain(&s);
            for m in &mut rw.media {
                m.zero_address = zero;
                m.rtcp_mux = mux;
                if six {
                    m.address = ours6();
                }
            }
            if let Ok(out) = rewrite(&s, &rw) {
                prop_assert!(Session::parse(&out).is_ok(), "unparsable output:\n{}", out);
            }
        }
    }
}
