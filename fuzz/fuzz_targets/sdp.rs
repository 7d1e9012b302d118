//! Fuzzes the SDP parser and rewriter: neither may panic, whatever the input; a parsed SDP
//! must write back to text that parses to the same model; a rewrite must give valid SDP.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use rtpbridge::sdp::{rewrite, MediaRewrite, Session, SessionRewrite};

fuzz_target!(|data: &[u8]| {
    let Ok(session) = Session::parse_bytes(data) else {
        return;
    };
    let text = session.to_string();
    let again = Session::parse(&text).expect("written SDP must parse");
    assert_eq!(again, session);
    assert_eq!(again.to_string(), text);

    let ours = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
    let flags = data.first().copied().unwrap_or(0);
    let rw = SessionRewrite {
        origin_address: (flags & 1 != 0).then_some(ours),
        replace_session_connection: flags & 2 != 0,
        remove_ice: flags & 4 != 0,
        strip_extmap: flags & 8 != 0,
        media: session
            .media()
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let port = 30000 + 2 * i as u16;
                let mut r = MediaRewrite::from_input(m, ours, port);
                r.rtcp_port = (flags & 16 != 0).then_some(port + 1);
                r.rtcp_mux = flags & 32 != 0;
                r.zero_address = flags & 64 != 0;
                r
            })
            .collect(),
        ..Default::default()
    };
    if let Ok(out) = rewrite(&session, &rw) {
        Session::parse(&out).expect("rewritten SDP must parse");
    }
});
