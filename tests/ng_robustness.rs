//! The NG control socket under retransmissions and hostile input.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn retransmitted_cookie_gets_cached_reply_and_runs_once() {
    let srv = Server::start(&[]);
    let c = srv.client();
    let a_port = 7000;
    let body = NgClient::encode(&[
        ("command", s("offer")),
        ("call-id", s("retrans-1")),
        ("from-tag", s("ft")),
        ("sdp", s(&sdp("127.0.0.2", a_port, ""))),
    ]);
    let (_, r1) = c.raw_with_cookie("cookie-1", &body).unwrap();
    let (_, r2) = c.raw_with_cookie("cookie-1", &body).unwrap();
    assert_eq!(r1, r2, "the retransmit gets the same reply (same ports)");
    // Even a different body under the same cookie is not executed: it is a retransmit.
    let other = NgClient::encode(&[
        ("command", s("offer")),
        ("call-id", s("retrans-2")),
        ("from-tag", s("x")),
        ("sdp", s(&sdp("127.0.0.2", 7002, ""))),
    ]);
    let (_, r3) = c.raw_with_cookie("cookie-1", &other).unwrap();
    assert_eq!(r3, r1);
    let st = c.ok(&[("command", s("statistics"))]);
    let control = get(get(&st, "statistics").unwrap(), "controlstatistics").unwrap();
    assert_eq!(
        get_int(control, "offercount"),
        1,
        "offer executed exactly once"
    );
    let l = c.ok(&[("command", s("list"))]);
    assert_eq!(get(&l, "calls"), Some(&Value::List(vec![s("retrans-1")])));
}

#[test]
fn errors_are_replies_not_crashes() {
    let srv = Server::start(&[]);
    let c = srv.client();
    for (body, reason_part) in [
        (&b"i42e"[..], "dictionary"),
        (&b"d7:command"[..], "bencode"),
        (&b"d3:foo3:bare"[..], "command"),
        (&b"d3:sdp3:v=07:command5:offere"[..], "call-id"),
        (&b"d7:command8:frobnicae"[..], "frobnica"),
        (&b"d7:command4:pinge trailing"[..], "bencode"),
    ] {
        // Distinct cookies so the cache does not answer.
        let (_, r) = c
            .raw_with_cookie(&format!("err-{}", reason_part), body)
            .unwrap();
        assert_eq!(
            get_str(&r, "result"),
            "error",
            "{:?}",
            String::from_utf8_lossy(body)
        );
        let reason = get_str(&r, "error-reason").to_lowercase();
        assert!(
            reason.contains(&reason_part.to_lowercase()),
            "reason {reason:?} for {:?}",
            String::from_utf8_lossy(body)
        );
    }
    // An answer for a call that does not exist.
    let r = c.request(&[
        ("command", s("answer")),
        ("call-id", s("nope")),
        ("from-tag", s("a")),
        ("to-tag", s("b")),
        ("sdp", s(&sdp("127.0.0.2", 7000, ""))),
    ]);
    assert_eq!(get_str(&r, "result"), "error");
    // Garbage SDP.
    let r = c.request(&[
        ("command", s("offer")),
        ("call-id", s("badsdp")),
        ("from-tag", s("a")),
        ("sdp", s("this is not sdp")),
    ]);
    assert_eq!(get_str(&r, "result"), "error");
}

/// A tiny deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn a_thousand_malformed_datagrams() {
    let srv = Server::start(&[]);
    let c = srv.client();
    c.sock
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rng = Lcg(0x5eed);
    let mut expect_reply = 0;
    let mut sent = 0;
    for i in 0..1000u32 {
        let cookie = format!("m{i}");
        let body: Vec<u8> = match i % 8 {
            // Random bytes after a valid cookie.
            0 => (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect(),
            // Deep nesting.
            1 => {
                let depth = 1000 + (rng.next() % 60_000) as usize;
                let mut v = b"d3:key".to_vec();
                v.extend(std::iter::repeat_n(b'l', depth));
                v
            }
            // Huge declared lengths.
            2 => format!("d7:command{}:offer", 1u64 << (20 + rng.next() % 43)).into_bytes(),
            // Integers out of range and malformed.
            3 => b"d12:delete-delayi99999999999999999999999ee".to_vec(),
            4 => b"d7:commandi-0ee".to_vec(),
            // A valid offer with a hostile SDP.
            5 => {
                let junk: String = (0..(rng.next() % 200))
                    .map(|_| (b'!' + (rng.next() % 90) as u8) as char)
                    .collect();
                let sdp = format!("v=0\r\nm=audio {junk}\r\nc=IN IP4 {junk}\r\n");
                NgClient::encode(&[
                    ("command", s("offer")),
                    ("call-id", s(&format!("x{i}"))),
                    ("from-tag", s("f")),
                    ("sdp", s(&sdp)),
                ])
            }
            // Wrong types for every key.
            6 => b"d7:commandl5:offere7:call-idi5e8:from-tagd1:ai1ee3:sdpi0ee".to_vec(),
            // Truncated valid request.
            _ => {
                let full = NgClient::encode(&[("command", s("ping"))]);
                full[..(rng.next() as usize % full.len())].to_vec()
            }
        };
        let mut d = cookie.into_bytes();
        d.push(b' ');
        d.extend_from_slice(&body);
        c.sock.send_to(&d, c.server).unwrap();
        sent += 1;
        expect_reply += 1;
        // Keep the socket buffers from overflowing: collect replies as we go.
        let mut buf = vec![0u8; 65536];
        let (n, _) = c.sock.recv_from(&mut buf).unwrap_or_else(|e| {
            panic!(
                "no reply to datagram {i} ({:?}...): {e}",
                String::from_utf8_lossy(&d[..d.len().min(80)])
            )
        });
        let sp = buf[..n].iter().position(|&b| b == b' ').unwrap();
        let v: Value = serde_bencode::from_bytes(&buf[sp + 1..n]).unwrap();
        let res = get_str(&v, "result");
        assert!(res == "error" || res == "pong" || res == "ok", "{res}");
        // Datagrams without a cookie are dropped silently.
        let junk: Vec<u8> = (0..(rng.next() % 64))
            .map(|_| (rng.next() as u8) | 0x80)
            .collect();
        c.sock.send_to(&junk, c.server).unwrap();
        sent += 1;
    }
    assert_eq!(sent, 2000);
    assert_eq!(expect_reply, 1000);
    // Still alive and serving.
    let r = c.request(&[("command", s("ping"))]);
    assert_eq!(get_str(&r, "result"), "pong");
}
