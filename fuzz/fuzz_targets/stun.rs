//! Fuzzes the STUN codec, the `a=candidate` parser and the ICE agent's packet handling:
//! nothing may panic, and the agent must keep its invariants whatever arrives.
//!
//! The first byte picks a mode:
//! - even: the rest is one datagram, parsed and handed to a full and a lite agent;
//! - 1 mod 4: the rest is a list of attributes (type, length byte, value) written into a Binding
//!   request that carries the agents' right USERNAME and is sealed with their password, so the
//!   authenticated paths (roles, nomination, peer-reflexive learning) get exercised;
//! - 3 mod 4: the rest is an `a=candidate` value.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rtpbridge::ice::stun::{Class, Message, MessageWriter, TransactionId, METHOD_BINDING};
use rtpbridge::ice::{Candidate, Credentials, IceAgent, IceConfig};

const UFRAG: &str = "fuzzufrg";
const PWD: &str = "fuzzpasswordfuzzpassword12";

fn agent(lite: bool, controlling: bool) -> IceAgent {
    let mut a = IceAgent::new(IceConfig {
        lite,
        controlling,
        components: 2,
        seed: Some(1),
        local_credentials: Some(Credentials {
            ufrag: UFRAG.into(),
            pwd: PWD.into(),
        }),
        ..IceConfig::default()
    });
    let _ = a.add_local_candidate("203.0.113.1:10000".parse().unwrap(), 1);
    let _ = a.add_local_candidate("[2001:db8::1]:10000".parse().unwrap(), 1);
    let _ = a.add_local_candidate("203.0.113.1:10001".parse().unwrap(), 2);
    let _ = a.set_remote_credentials("peer", "peerpasswordpeerpassword");
    let _ = a.add_remote_candidate_sdp("candidate:1 1 UDP 2130706431 198.51.100.2 20000 typ host");
    a
}

fn drive(packet: &[u8], from: SocketAddr) {
    let start = Instant::now();
    for (lite, controlling) in [(false, true), (false, false), (true, false)] {
        let mut a = agent(lite, controlling);
        a.handle_timeout(start);
        let local: SocketAddr = "203.0.113.1:10000".parse().unwrap();
        let _ = a.handle_packet(start, local, from, packet);
        let _ = a.handle_packet(start + Duration::from_millis(1), local, from, packet);
        let mut now = start;
        for _ in 0..50 {
            while let Some(t) = a.poll_transmit() {
                let m = Message::parse(&t.bytes).expect("the agent sends valid STUN");
                assert!(m.verify_fingerprint());
            }
            while a.poll_event().is_some() {}
            match a.poll_timeout() {
                Some(t) if t > now => now = t,
                Some(_) => now += Duration::from_millis(1),
                None => break,
            }
            a.handle_timeout(now);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(m) = Message::parse(rest) {
            let _ = m.verify_integrity(PWD.as_bytes());
            let _ = m.verify_fingerprint();
        }
        drive(rest, "198.51.100.2:20000".parse().unwrap());
    } else if mode % 4 == 1 {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            METHOD_BINDING,
            TransactionId([7; 12]),
        );
        let _ = w.username(&format!("{UFRAG}:peer"));
        let mut r = rest;
        while r.len() >= 3 {
            let typ = u16::from_be_bytes([r[0], r[1]]);
            let len = usize::from(r[2]).min(r.len() - 3);
            let _ = w.attribute(typ, &r[3..3 + len]);
            r = &r[3 + len..];
        }
        let _ = w.message_integrity(PWD.as_bytes());
        let _ = w.fingerprint();
        let from = if mode & 0x10 != 0 {
            "[2001:db8::9]:4000".parse().unwrap()
        } else {
            "192.0.2.9:4000".parse().unwrap()
        };
        drive(&buf, from);
    } else if let Ok(s) = std::str::from_utf8(rest) {
        if let Ok(Some(c)) = Candidate::parse(s) {
            let again = Candidate::parse(&c.to_string()).expect("written candidate parses");
            assert_eq!(again, Some(c));
        }
    }
});
