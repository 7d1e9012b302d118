//! The NG control path on arbitrary bytes: datagram framing, bencode decoding and
//! request parsing must never panic, and a decoded value must re-encode to its input.
//!
//! Run: `cargo +nightly fuzz run bencode fuzz/corpus/bencode fuzz/seeds/bencode`
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtpbridge::ng::{bencode, message, request};

fuzz_target!(|data: &[u8]| {
    // As a datagram: `<cookie> <body>`.
    if let Ok((cookie, body)) = message::split_datagram(data) {
        let reply = match message::decode_body(body) {
            Ok(dict) => match request::parse_request(&dict) {
                Ok(req) => message::ok_reply().with("command", req.command.name()),
                Err(e) => e.to_reply(),
            },
            Err(e) => e.to_reply(),
        };
        let datagram = message::encode_reply(cookie, &reply);
        assert!(datagram.starts_with(cookie));
    }

    // As a bare body: the codec accepts only canonical bencode, so re-encoding is exact.
    if let Ok(value) = bencode::decode(data) {
        let mut out = Vec::new();
        value.encode(&mut out);
        assert_eq!(out, data);
        // Exact too when every key is UTF-8 (OwnedValue keys are Strings, converted lossily).
        let owned = value.to_owned_value().to_bytes();
        assert!(owned == data || String::from_utf8(data.to_vec()).is_err());
        if let Some(dict) = value.as_dict() {
            let _ = request::parse_request(dict);
        }
    }
});
