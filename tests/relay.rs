//! Plain RTP relay through the real binary over real sockets: offer/answer/delete, media both
//! ways, latching, RTCP, rtcp-mux, re-INVITE, and ports freed (or kept for the next call) on
//! delete.

mod common;
use common::*;
use std::net::UdpSocket;
use std::time::Duration;

use common::plain_call as setup;

#[test]
fn offer_answer_relay_both_ways_and_delete() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let call = setup(&c, "relay-1", "", "", &[]);
    assert!(
        call.offer_sdp.contains("c=IN IP4 127.0.0.1"),
        "{}",
        call.offer_sdp
    );
    assert!(
        call.answer_sdp.contains("c=IN IP4 127.0.0.1"),
        "{}",
        call.answer_sdp
    );
    assert!((srv.port_min..=srv.port_max).contains(&call.to_a_side));
    assert!((srv.port_min..=srv.port_max).contains(&call.to_b_side));
    assert_ne!(call.to_a_side, call.to_b_side);

    relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 50, 0x1111);
    relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 50, 0x2222);
    // Plain calls never make the DTLS certificate (OpenSSL's key generation stays unloaded).
    assert!(!srv.log_contains("DTLS certificate made"));

    let q = c.ok(&[("command", s("query")), ("call-id", s("relay-1"))]);
    let totals = get(&q, "totals").unwrap();
    assert_eq!(get_int(get(totals, "RTP").unwrap(), "packets"), 100);

    let d = c.ok(&[
        ("command", s("delete")),
        ("call-id", s("relay-1")),
        ("from-tag", s("tag-a")),
        ("delete-delay", Value::Int(0)),
    ]);
    assert!(
        get(&d, "tags").is_some(),
        "delete with from-tag returns stats"
    );
    let q = c.request(&[("command", s("query")), ("call-id", s("relay-1"))]);
    assert_eq!(get_str(&q, "result"), "error");
    // The ports stay open for the next call (--warm-ports), and relay nothing: what the
    // parties send now is dropped there and counted.
    let idle = media_stat(&c, "idleport");
    // io_uring counts a relayed packet when its send completes, which can be after the
    // party has it: wait until all 100 are counted before taking the baseline.
    let relayed = await_media_stat(&c, "relayed", 100);
    assert_eq!(relayed, 100);
    call.a
        .send_to(&rtp(0x1111, 50, 1), ("127.0.0.1", call.to_a_side))
        .unwrap();
    call.b
        .send_to(&rtp(0x2222, 50, 2), ("127.0.0.1", call.to_b_side))
        .unwrap();
    call.a
        .send_to(&rtcp_rr(0x1111), ("127.0.0.1", call.to_a_side + 1))
        .unwrap();
    assert_eq!(await_media_stat(&c, "idleport", idle + 3), idle + 3);
    assert_eq!(media_stat(&c, "relayed"), relayed);
    for s in [&call.a, &call.b] {
        assert!(
            try_recv(s, Duration::from_millis(1)).is_none(),
            "nothing relayed after the delete"
        );
    }
}

#[test]
fn without_warm_ports_delete_closes_the_ports() {
    let srv = Server::start(&["--warm-ports=0"]);
    let c = srv.client();
    let call = setup(&c, "cold-1", "", "", &[]);
    relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 3, 0x1111);
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("cold-1")),
        ("delete-delay", Value::Int(0)),
    ]);
    // Closed before the reply, as rtpengine does: we can bind them ourselves.
    for p in [call.to_a_side, call.to_b_side] {
        UdpSocket::bind(("127.0.0.1", p)).expect("RTP port freed");
        UdpSocket::bind(("127.0.0.1", p + 1)).expect("RTCP port freed");
    }
}

#[test]
fn the_next_call_takes_over_a_deleted_calls_ports() {
    // One worker: each worker keeps its own ports, and calls go to workers in turn. Four kept
    // pairs: one is handed out again once more than one was kept after it.
    let srv = Server::start(&["--num-threads=1", "--warm-ports=4"]);
    let c = srv.client();
    let first = setup(&c, "warm-1", "", "", &[]);
    relay_check(
        &first.a,
        first.to_a_side,
        &first.b,
        first.to_b_side,
        5,
        0x1111,
    );
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("warm-1")),
        ("delete-delay", Value::Int(0)),
    ]);
    // The old parties keep sending: dropped at the idle ports.
    first
        .a
        .send_to(&rtp(0x1111, 5, 0), ("127.0.0.1", first.to_a_side))
        .unwrap();
    let idle = await_media_stat(&c, "idleport", 1);
    assert_eq!(idle, 1);
    let second = setup(&c, "warm-2", "", "", &[]);
    let old = [first.to_a_side, first.to_b_side];
    let new = [second.to_a_side, second.to_b_side];
    let reused: Vec<u16> = new.iter().copied().filter(|p| old.contains(p)).collect();
    assert_eq!(
        reused.len(),
        1,
        "one kept pair handed out again: {old:?} {new:?}"
    );
    // The new call relays both ways on them and learned nothing from the old call.
    relay_check(
        &second.a,
        second.to_a_side,
        &second.b,
        second.to_b_side,
        20,
        0x3333,
    );
    relay_check(
        &second.b,
        second.to_b_side,
        &second.a,
        second.to_a_side,
        20,
        0x4444,
    );
    assert!(
        try_recv(&first.b, Duration::from_millis(1)).is_none(),
        "nothing for the old party"
    );
    let q = c.ok(&[("command", s("query")), ("call-id", s("warm-2"))]);
    assert_eq!(
        get_int(get(get(&q, "totals").unwrap(), "RTP").unwrap(), "packets"),
        40
    );
}

#[test]
fn latching_follows_the_real_source() {
    let srv = Server::start(&["--endpoint-learning=immediate"]);
    let c = srv.client();
    let call = setup(&c, "latch-1", "", "", &[]);
    // A is behind NAT: it sends from another port than the one its SDP named.
    let nat = udp("127.0.0.2:0");
    let pkt = rtp(0xaaaa, 1, 1);
    nat.send_to(&pkt, ("127.0.0.1", call.to_a_side)).unwrap();
    assert_eq!(recv(&call.b).0, pkt);
    // B's media must now go to the learned address, not the SDP one.
    let back = rtp(0xbbbb, 1, 2);
    call.b
        .send_to(&back, ("127.0.0.1", call.to_b_side))
        .unwrap();
    let (got, src) = recv(&nat);
    assert_eq!(got, back);
    assert_eq!(src.port(), call.to_a_side);
}

#[test]
fn strict_source_drops_other_sources() {
    let srv = Server::start(&["--endpoint-learning=immediate"]);
    let c = srv.client();
    let call = setup(
        &c,
        "strict-1",
        "",
        "",
        &[("flags", list(&["strict-source"]))],
    );
    let first = rtp(0x1, 1, 1);
    call.a
        .send_to(&first, ("127.0.0.1", call.to_a_side))
        .unwrap();
    assert_eq!(recv(&call.b).0, first);
    let intruder = udp("127.0.0.9:0");
    intruder
        .send_to(&rtp(0x666, 1, 9), ("127.0.0.1", call.to_a_side))
        .unwrap();
    // The next legitimate packet is the next thing B sees.
    let second = rtp(0x1, 2, 2);
    call.a
        .send_to(&second, ("127.0.0.1", call.to_a_side))
        .unwrap();
    assert_eq!(
        recv(&call.b).0,
        second,
        "intruder's packet was not forwarded"
    );
}

#[test]
fn rtcp_is_relayed_on_the_rtcp_ports() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let a_rtcp = udp("127.0.0.2:0");
    let b_rtcp = udp("127.0.0.3:0");
    let a_extra = format!("a=rtcp:{}\r\n", a_rtcp.local_addr().unwrap().port());
    let b_extra = format!("a=rtcp:{}\r\n", b_rtcp.local_addr().unwrap().port());
    let call = setup(&c, "rtcp-1", &a_extra, &b_extra, &[]);
    let a_side_rtcp = rtcp_attr_port(&call.answer_sdp).expect("a=rtcp in answer");
    let b_side_rtcp = rtcp_attr_port(&call.offer_sdp).expect("a=rtcp in offer");
    assert_eq!(a_side_rtcp, call.to_a_side + 1);
    assert_eq!(b_side_rtcp, call.to_b_side + 1);
    let rr = rtcp_rr(0x1234);
    a_rtcp.send_to(&rr, ("127.0.0.1", a_side_rtcp)).unwrap();
    let (got, src) = recv(&b_rtcp);
    assert_eq!(got, rr);
    assert_eq!(src.port(), b_side_rtcp);
    let rr2 = rtcp_rr(0x5678);
    b_rtcp.send_to(&rr2, ("127.0.0.1", b_side_rtcp)).unwrap();
    let (got, src) = recv(&a_rtcp);
    assert_eq!(got, rr2);
    assert_eq!(src.port(), a_side_rtcp);
}

#[test]
fn rtcp_mux_both_sides() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let call = setup(&c, "mux-1", "a=rtcp-mux\r\n", "a=rtcp-mux\r\n", &[]);
    assert!(call.offer_sdp.contains("a=rtcp-mux"), "{}", call.offer_sdp);
    assert!(
        call.answer_sdp.contains("a=rtcp-mux"),
        "{}",
        call.answer_sdp
    );
    // RTCP on the RTP port goes to the other side's RTP port.
    let rr = rtcp_rr(0x99);
    call.a.send_to(&rr, ("127.0.0.1", call.to_a_side)).unwrap();
    let (got, src) = recv(&call.b);
    assert_eq!(got, rr);
    assert_eq!(src.port(), call.to_b_side);
    relay_check(&call.b, call.to_b_side, &call.a, call.to_a_side, 5, 0x77);
}

#[test]
fn rtcp_mux_demux_splits_rtcp_for_the_answerer() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let b_rtcp = udp("127.0.0.3:0");
    let b_extra = format!("a=rtcp:{}\r\n", b_rtcp.local_addr().unwrap().port());
    let call = setup(
        &c,
        "demux-1",
        "a=rtcp-mux\r\n",
        &b_extra,
        &[("rtcp-mux", list(&["demux"]))],
    );
    assert!(!call.offer_sdp.contains("a=rtcp-mux"), "{}", call.offer_sdp);
    assert!(
        call.answer_sdp.contains("a=rtcp-mux"),
        "demux accepts mux back: {}",
        call.answer_sdp
    );
    let rr = rtcp_rr(0x42);
    call.a.send_to(&rr, ("127.0.0.1", call.to_a_side)).unwrap();
    let (got, src) = recv(&b_rtcp);
    assert_eq!(got, rr);
    assert_eq!(src.port(), call.to_b_side + 1);
}

#[test]
fn reinvite_keeps_ports() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let call = setup(&c, "reinv-1", "", "", &[]);
    let a_port = call.a.local_addr().unwrap().port();
    let b_port = call.b.local_addr().unwrap().port();
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("reinv-1")),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
        ("sdp", s(&sdp("127.0.0.2", a_port, "a=sendonly\r\n"))),
    ]);
    assert_eq!(media_port(&get_str(&r, "sdp")), call.to_b_side);
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s("reinv-1")),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
        ("sdp", s(&sdp("127.0.0.3", b_port, ""))),
    ]);
    assert_eq!(media_port(&get_str(&r, "sdp")), call.to_a_side);
    // A re-INVITE from the callee (tags swapped) also keeps them.
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("reinv-1")),
        ("from-tag", s("tag-b")),
        ("to-tag", s("tag-a")),
        ("sdp", s(&sdp("127.0.0.3", b_port, ""))),
    ]);
    assert_eq!(media_port(&get_str(&r, "sdp")), call.to_a_side);
    relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 5, 0x31);
}

#[test]
fn many_calls_use_distinct_ports_and_delete_returns_them() {
    let srv = Server::start(&["--warm-ports=0"]);
    let c = srv.client();
    let mut ports = std::collections::HashSet::new();
    for i in 0..5 {
        let call = setup(&c, &format!("many-{i}"), "", "", &[]);
        assert!(ports.insert(call.to_a_side));
        assert!(ports.insert(call.to_b_side));
    }
    let l = c.ok(&[("command", s("list"))]);
    match get(&l, "calls") {
        Some(Value::List(v)) => assert_eq!(v.len(), 5),
        other => panic!("calls list: {other:?}"),
    }
    for i in 0..5 {
        c.ok(&[
            ("command", s("delete")),
            ("call-id", s(&format!("many-{i}"))),
            ("delete-delay", Value::Int(0)),
        ]);
    }
    let l = c.ok(&[("command", s("list"))]);
    assert_eq!(get(&l, "calls"), Some(&Value::List(vec![])));
    for p in ports {
        UdpSocket::bind(("127.0.0.1", p)).expect("port freed after delete");
    }
}

#[test]
fn delete_delay_keeps_call_until_it_expires() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let call = setup(&c, "dd-1", "", "", &[]);
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("dd-1")),
        ("delete-delay", Value::Int(1)),
    ]);
    // Still there right after the delete, and media still flows during the delay.
    c.ok(&[("command", s("query")), ("call-id", s("dd-1"))]);
    relay_check(&call.a, call.to_a_side, &call.b, call.to_b_side, 2, 0x5);
    // Gone once the delay has passed (the timer runs about once a second).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let q = c.request(&[("command", s("query")), ("call-id", s("dd-1"))]);
        if get_str(&q, "result") == "error" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "call not removed after delete-delay"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sip_source_address_uses_received_from() {
    // Learning off: where media goes is decided by signalling alone.
    let srv = Server::start(&["--endpoint-learning=off"]);
    let c = srv.client();
    let a = udp("127.0.0.2:0");
    let b = udp("127.0.0.3:0");
    let a_port = a.local_addr().unwrap().port();
    // A's SDP names an address A is not at; the SIP message really came from 127.0.0.2.
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("sipsrc-1")),
        ("from-tag", s("tag-a")),
        ("sdp", s(&sdp("127.0.0.99", a_port, ""))),
        ("received-from", list(&["IP4", "127.0.0.2"])),
        ("flags", list(&["SIP-source-address"])),
    ]);
    let to_b_side = media_port(&get_str(&r, "sdp"));
    c.ok(&[
        ("command", s("answer")),
        ("call-id", s("sipsrc-1")),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
        (
            "sdp",
            s(&sdp("127.0.0.3", b.local_addr().unwrap().port(), "")),
        ),
    ]);
    let pkt = rtp(0x77, 1, 7);
    b.send_to(&pkt, ("127.0.0.1", to_b_side)).unwrap();
    assert_eq!(recv(&a).0, pkt, "media went to the received-from address");
}

#[test]
fn calls_without_media_time_out_and_calls_with_media_stay() {
    let srv = Server::start(&["--timeout=2"]);
    let c = srv.client();
    let quiet = setup(&c, "quiet-1", "", "", &[]);
    let busy = setup(&c, "busy-1", "", "", &[]);
    // Keep media flowing on one call until the quiet one is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seq = 0u16;
    loop {
        busy.a
            .send_to(&rtp(0x9, seq, 1), ("127.0.0.1", busy.to_a_side))
            .unwrap();
        recv(&busy.b);
        seq += 1;
        let q = c.request(&[("command", s("query")), ("call-id", s("quiet-1"))]);
        if get_str(&q, "result") == "error" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "quiet call never timed out"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(quiet);
    c.ok(&[("command", s("query")), ("call-id", s("busy-1"))]);
    let st = c.ok(&[("command", s("statistics"))]);
    let total = get(get(&st, "statistics").unwrap(), "totalstatistics").unwrap();
    assert_eq!(get_int(total, "timeoutsessions"), 1);
}

#[test]
fn loop_protect_leaves_its_own_sdp_untouched() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let flags = ("flags", list(&["loop-protect"]));
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("loop-1")),
        ("from-tag", s("a")),
        ("sdp", s(&sdp("127.0.0.2", 7000, ""))),
        flags.clone(),
    ]);
    let first = get_str(&r, "sdp");
    assert!(first.contains("a=rtpengine:"), "{first}");
    // The same SDP comes back through a signalling loop: not processed again.
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("loop-2")),
        ("from-tag", s("b")),
        ("sdp", s(&first)),
        flags,
    ]);
    assert_eq!(get_str(&r, "sdp"), first);
    let l = c.ok(&[("command", s("list"))]);
    assert_eq!(
        get(&l, "calls"),
        Some(&Value::List(vec![s("loop-1")])),
        "no call set up for the loop"
    );
}

#[test]
fn forked_offer_each_branch_has_its_ports_and_the_answer_picks_its_branch() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let a = udp("127.0.0.2:0");
    let b1 = udp("127.0.0.3:0");
    let a_sdp = sdp(
        "127.0.0.2",
        a.local_addr().unwrap().port(),
        "a=rtcp-mux\r\n",
    );
    let offer = |branch: &str, mux: &str| {
        let r = c.ok(&[
            ("command", s("offer")),
            ("call-id", s("fork-1")),
            ("from-tag", s("tag-a")),
            ("via-branch", s(branch)),
            ("rtcp-mux", list(&[mux])),
            ("sdp", s(&a_sdp)),
        ]);
        get_str(&r, "sdp")
    };
    // The proxy forks the INVITE to two phones: each branch gets ports of its own.
    let to_b1 = offer("z9hG4bK-1", "demux");
    let to_b2 = offer("z9hG4bK-2", "offer");
    assert!(!to_b1.contains("a=rtcp-mux"), "demux on branch 1: {to_b1}");
    assert!(
        to_b2.contains("a=rtcp-mux"),
        "mux offered on branch 2: {to_b2}"
    );
    let (p1, p2) = (media_port(&to_b1), media_port(&to_b2));
    assert_ne!(p1, p2);
    // Branch 1 answers (without mux); the answer goes by branch 1's flags: demux accepts the
    // caller's rtcp-mux back.
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s("fork-1")),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b1")),
        ("via-branch", s("z9hG4bK-1")),
        (
            "sdp",
            s(&sdp("127.0.0.3", b1.local_addr().unwrap().port(), "")),
        ),
    ]);
    let to_a = get_str(&r, "sdp");
    assert!(to_a.contains("a=rtcp-mux"), "{to_a}");
    let to_a_side = media_port(&to_a);
    relay_check(&a, to_a_side, &b1, p1, 5, 0x41);
    relay_check(&b1, p1, &a, to_a_side, 5, 0x42);
    // The tags are what the query shows.
    let q = c.ok(&[("command", s("query")), ("call-id", s("fork-1"))]);
    let tags = get(&q, "tags").unwrap();
    assert!(
        get(tags, "tag-a").is_some() && get(tags, "tag-b1").is_some(),
        "{q:?}"
    );
}

#[test]
fn deleting_one_party_of_a_transferred_call_keeps_the_rest() {
    // The departed party's port must close (checked below by binding it).
    let srv = Server::start(&["--warm-ports=0"]);
    let c = srv.client();
    // A1 calls B; then A2 (another from-tag, as after a transfer) calls B too.
    let call1 = setup(&c, "xfer-1", "", "", &[]);
    let a2 = udp("127.0.0.4:0");
    let r = c.ok(&[
        ("command", s("offer")),
        ("call-id", s("xfer-1")),
        ("from-tag", s("tag-a2")),
        (
            "sdp",
            s(&sdp("127.0.0.4", a2.local_addr().unwrap().port(), "")),
        ),
    ]);
    let to_b = media_port(&get_str(&r, "sdp"));
    let r = c.ok(&[
        ("command", s("answer")),
        ("call-id", s("xfer-1")),
        ("from-tag", s("tag-a2")),
        ("to-tag", s("tag-b2")),
        (
            "sdp",
            s(&sdp("127.0.0.3", call1.b.local_addr().unwrap().port(), "")),
        ),
    ]);
    let to_a2 = media_port(&get_str(&r, "sdp"));
    // The first caller hangs up: only its pair goes, the new pair keeps talking.
    c.ok(&[
        ("command", s("delete")),
        ("call-id", s("xfer-1")),
        ("from-tag", s("tag-a")),
        ("to-tag", s("tag-b")),
    ]);
    let q = c.ok(&[("command", s("query")), ("call-id", s("xfer-1"))]);
    let tags = get(&q, "tags").unwrap();
    assert!(
        get(tags, "tag-a").is_none() && get(tags, "tag-a2").is_some(),
        "{q:?}"
    );
    relay_check(&a2, to_a2, &call1.b, to_b, 3, 0x51);
    UdpSocket::bind(("127.0.0.1", call1.to_a_side)).expect("the departed party's port is freed");
}
