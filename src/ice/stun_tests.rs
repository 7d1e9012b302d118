use super::*;

const RFC5769_PWD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";
const RFC5769_TID: [u8; 12] = [
    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
];

/// Reads a fixture of whitespace-separated hex bytes with `#` comment lines.
fn hex_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/ice/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect()
}

#[test]
fn rfc5769_sample_request() {
    let bytes = hex_fixture("rfc5769-request.hex");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::Request);
    assert_eq!(m.method(), METHOD_BINDING);
    assert_eq!(m.transaction_id(), TransactionId(RFC5769_TID));
    assert_eq!(m.software(), Some("STUN test client"));
    assert_eq!(m.priority(), Some(0x6e0001ff));
    assert_eq!(m.ice_controlled(), Some(0x932f_f9b1_5126_3b36));
    assert_eq!(m.ice_controlling(), None);
    assert!(!m.use_candidate());
    // The padding after the 9-byte USERNAME is spaces, which must not leak into the value.
    assert_eq!(m.username(), Some("evtj:h6vY"));
    assert!(m.unknown_required().is_empty());
    assert!(m.verify_integrity(RFC5769_PWD));
    assert!(!m.verify_integrity(b"VOkJxbRl1RmTxUk/WvJxBu"));
    assert!(m.verify_fingerprint());
}

#[test]
fn rfc5769_sample_ipv4_response() {
    let bytes = hex_fixture("rfc5769-response-ipv4.hex");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(m.method(), METHOD_BINDING);
    assert_eq!(m.software(), Some("test vector"));
    assert_eq!(
        m.xor_mapped_address(),
        Some("192.0.2.1:32853".parse().unwrap())
    );
    assert!(m.verify_integrity(RFC5769_PWD));
    assert!(m.verify_fingerprint());
}

#[test]
fn rfc5769_sample_ipv6_response() {
    let bytes = hex_fixture("rfc5769-response-ipv6.hex");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.class(), Class::Success);
    assert_eq!(
        m.xor_mapped_address(),
        Some(
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                .parse()
                .unwrap()
        )
    );
    assert!(m.verify_integrity(RFC5769_PWD));
    assert!(m.verify_fingerprint());
}

#[test]
fn rfc5769_long_term_request_reports_realm_and_nonce() {
    let bytes = hex_fixture("rfc5769-request-long-term.hex");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(
        m.username(),
        Some("\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}")
    );
    // REALM and NONCE are comprehension-required and not something ICE understands.
    assert_eq!(m.unknown_required(), &[attr::NONCE, attr::REALM]);
    assert!(!m.has_fingerprint());
    assert!(!m.verify_fingerprint());
    // MD5("username:example.org:TheMatrIX"), the long-term key the RFC derives.
    let key = [
        0xe8, 0xca, 0x7a, 0xd5, 0x9d, 0x5e, 0xb0, 0x51, 0x8e, 0x31, 0x29, 0x11, 0xd2, 0xda, 0xb2,
        0xa9,
    ];
    assert!(m.verify_integrity(&key));
    assert!(!m.verify_integrity(RFC5769_PWD));
}

/// Our writer reproduces the RFC 5769 responses: identical except for padding bytes (the RFC
/// pads with spaces, we pad with zeros), so MESSAGE-INTEGRITY and FINGERPRINT differ and are
/// checked instead of compared.
#[test]
fn writer_reproduces_rfc5769_responses() {
    for (fixture, mapped) in [
        ("rfc5769-response-ipv4.hex", "192.0.2.1:32853"),
        (
            "rfc5769-response-ipv6.hex",
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ] {
        let expected = hex_fixture(fixture);
        let mut buf = vec![0xAA]; // the writer appends
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Success,
            METHOD_BINDING,
            TransactionId(RFC5769_TID),
        );
        w.software("test vector").unwrap();
        w.xor_mapped_address(mapped.parse().unwrap()).unwrap();
        w.message_integrity(RFC5769_PWD).unwrap();
        w.fingerprint().unwrap();
        let ours = &buf[1..];
        assert_eq!(ours.len(), expected.len());
        // Header, SOFTWARE (but its last padding byte), XOR-MAPPED-ADDRESS.
        let mi_at = expected.len() - 32;
        assert_eq!(ours[..35], expected[..35]);
        assert_eq!(ours[35], 0);
        assert_eq!(ours[36..mi_at + 4], expected[36..mi_at + 4]);
        let m = Message::parse(ours).unwrap();
        assert!(m.verify_integrity(RFC5769_PWD));
        assert!(m.verify_fingerprint());
    }
}

#[test]
fn message_type_encoding() {
    assert_eq!(message_type(Class::Request, METHOD_BINDING), 0x0001);
    assert_eq!(message_type(Class::Indication, METHOD_BINDING), 0x0011);
    assert_eq!(message_type(Class::Success, METHOD_BINDING), 0x0101);
    assert_eq!(message_type(Class::Error, METHOD_BINDING), 0x0111);
    for method in [0x001u16, 0x003, 0x00F, 0x010, 0x0FF, 0xFFF] {
        for class in [
            Class::Request,
            Class::Indication,
            Class::Success,
            Class::Error,
        ] {
            assert_eq!(split_type(message_type(class, method)), (class, method));
        }
    }
}

fn build_request(buf: &mut Vec<u8>, tid: [u8; 12], pwd: &[u8]) {
    let mut w = MessageWriter::new(buf, Class::Request, METHOD_BINDING, TransactionId(tid));
    w.username("abcd:efgh").unwrap();
    w.priority(1_845_501_695).unwrap();
    w.ice_controlling(0x0102_0304_0506_0708).unwrap();
    w.use_candidate().unwrap();
    w.message_integrity(pwd).unwrap();
    w.fingerprint().unwrap();
}

#[test]
fn round_trip_request() {
    let mut buf = Vec::new();
    build_request(&mut buf, [9; 12], b"secret");
    assert!(is_stun(&buf));
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.username(), Some("abcd:efgh"));
    assert_eq!(m.priority(), Some(1_845_501_695));
    assert_eq!(m.ice_controlling(), Some(0x0102_0304_0506_0708));
    assert!(m.use_candidate());
    assert!(m.verify_integrity(b"secret"));
    assert!(!m.verify_integrity(b"secreT"));
    assert!(m.verify_fingerprint());
}

#[test]
fn round_trip_error_response() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Error,
        METHOD_BINDING,
        TransactionId([1; 12]),
    );
    w.error_code(code::ROLE_CONFLICT, "Role Conflict").unwrap();
    w.unknown_attributes(&[0x0014, 0x0015]).unwrap();
    w.message_integrity(b"k").unwrap();
    w.fingerprint().unwrap();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.class(), Class::Error);
    let e = m.error_code().unwrap();
    assert_eq!((e.code, e.reason), (487, "Role Conflict"));
    assert!(m.verify_integrity(b"k") && m.verify_fingerprint());
    assert!(w_err_code_rejects_out_of_range());
}

fn w_err_code_rejects_out_of_range() -> bool {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Error,
        METHOD_BINDING,
        TransactionId([1; 12]),
    );
    w.error_code(299, "x").is_err() && w.error_code(700, "x").is_err()
}

#[test]
fn every_single_byte_change_is_caught() {
    let mut buf = Vec::new();
    build_request(&mut buf, [3; 12], b"pw");
    for i in 0..buf.len() {
        for flip in [0x01u8, 0x80] {
            let mut b = buf.clone();
            b[i] ^= flip;
            if let Ok(m) = Message::parse(&b) {
                assert!(
                    !(m.verify_integrity(b"pw") && m.verify_fingerprint()),
                    "byte {i} flip {flip:#x} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn truncations_are_errors() {
    let mut buf = Vec::new();
    build_request(&mut buf, [3; 12], b"pw");
    for n in 0..buf.len() {
        assert!(Message::parse(&buf[..n]).is_err(), "prefix {n}");
    }
    // A consistent length field pointing into a truncated attribute.
    let mut b = buf[..HEADER_LEN + 8].to_vec();
    b[2..4].copy_from_slice(&8u16.to_be_bytes());
    b[HEADER_LEN + 2..HEADER_LEN + 4].copy_from_slice(&100u16.to_be_bytes());
    assert_eq!(
        Message::parse(&b).unwrap_err(),
        StunError::BadAttribute(attr::USERNAME)
    );
}

#[test]
fn header_checks() {
    let mut buf = Vec::new();
    build_request(&mut buf, [3; 12], b"pw");
    // Trailing bytes after the message.
    let mut b = buf.clone();
    b.extend_from_slice(&[0; 4]);
    assert_eq!(Message::parse(&b).unwrap_err(), StunError::LengthMismatch);
    // Wrong cookie (RFC 3489 STUN).
    let mut b = buf.clone();
    b[4] = 0;
    assert_eq!(Message::parse(&b).unwrap_err(), StunError::NotStun);
    assert!(!is_stun(&b));
    // RTP-looking first byte.
    let mut b = buf.clone();
    b[0] = 0x80;
    assert_eq!(Message::parse(&b).unwrap_err(), StunError::NotStun);
    assert_eq!(Message::parse(&[]).unwrap_err(), StunError::NotStun);
    assert_eq!(Message::parse(&[0, 1]).unwrap_err(), StunError::Truncated);
    // Too long.
    let mut b = vec![0u8; MAX_MESSAGE_LEN + 4];
    b[..20].copy_from_slice(&buf[..20]);
    b[2..4].copy_from_slice(&((MAX_MESSAGE_LEN + 4 - 20) as u16).to_be_bytes());
    assert_eq!(Message::parse(&b).unwrap_err(), StunError::TooLong);
}

#[test]
fn attributes_after_integrity_are_ignored_and_after_fingerprint_rejected() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        METHOD_BINDING,
        TransactionId([5; 12]),
    );
    w.username("a:b").unwrap();
    w.message_integrity(b"pw").unwrap();
    w.priority(77).unwrap();
    w.attribute(0x0030, &[1, 2, 3]).unwrap(); // unknown, comprehension-required
    w.fingerprint().unwrap();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.priority(), None);
    assert!(m.unknown_required().is_empty());
    assert!(m.verify_integrity(b"pw"));
    assert!(m.verify_fingerprint());

    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        METHOD_BINDING,
        TransactionId([5; 12]),
    );
    w.fingerprint().unwrap();
    w.priority(1).unwrap();
    assert_eq!(
        Message::parse(&buf).unwrap_err(),
        StunError::AfterFingerprint
    );
}

#[test]
fn unknown_attributes_skipped_or_reported() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        METHOD_BINDING,
        TransactionId([5; 12]),
    );
    w.attribute(0xC057, &[0; 4]).unwrap(); // optional (Chrome's GOOG-NETWORK-INFO)
    w.attribute(0x7777, &[1]).unwrap(); // required
    w.attribute(0x7777, &[2]).unwrap(); // reported once
    w.username("x:y").unwrap();
    w.username("ignored:second").unwrap();
    let m = Message::parse(&buf).unwrap();
    assert_eq!(m.unknown_required(), &[0x7777]);
    assert_eq!(m.username(), Some("x:y"));
}

#[test]
fn malformed_known_attributes() {
    for (typ, value) in [
        (attr::PRIORITY, &[0u8; 3][..]),
        (attr::USE_CANDIDATE, &[0u8; 4][..]),
        (attr::ICE_CONTROLLING, &[0u8; 4][..]),
        (attr::ICE_CONTROLLED, &[0u8; 12][..]),
        (attr::MESSAGE_INTEGRITY, &[0u8; 16][..]),
        (attr::XOR_MAPPED_ADDRESS, &[0, 1, 0, 0][..]),
        (attr::XOR_MAPPED_ADDRESS, &[0, 3, 0, 0, 1, 2, 3, 4][..]),
        (attr::ERROR_CODE, &[0, 0, 2, 0][..]),
        (attr::USERNAME, &[0xff, 0xfe][..]),
    ] {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Request,
            METHOD_BINDING,
            TransactionId([5; 12]),
        );
        w.attribute(typ, value).unwrap();
        assert_eq!(
            Message::parse(&buf).unwrap_err(),
            StunError::BadAttribute(typ),
            "{typ:#x}"
        );
    }
}

#[test]
fn limits() {
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        METHOD_BINDING,
        TransactionId([5; 12]),
    );
    assert!(w.username(&"u".repeat(MAX_USERNAME_LEN)).is_err());
    assert!(w.software(&"s".repeat(MAX_TEXT_LEN + 1)).is_err());
    assert!(w.attribute(0x8001, &[0; MAX_MESSAGE_LEN]).is_err());
    for _ in 0..MAX_ATTRIBUTES + 1 {
        w.attribute(0x8001, &[]).unwrap();
    }
    assert_eq!(
        Message::parse(&buf).unwrap_err(),
        StunError::TooManyAttributes
    );
}

#[test]
fn long_keys_are_hashed_like_hmac_does() {
    // HMAC hashes keys longer than the block; check against the unprocessed-key path of the
    // `hmac` crate to make sure our block preparation matches.
    let key = [0x5a_u8; 100];
    let mut buf = Vec::new();
    build_request(&mut buf, [3; 12], &key);
    let m = Message::parse(&buf).unwrap();
    assert!(m.verify_integrity(&key));
    let mi_at = buf.len() - 8 - 24;
    let mut prefix = buf[..mi_at].to_vec();
    prefix[2..4].copy_from_slice(&((mi_at + 24 - 20) as u16).to_be_bytes());
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(&prefix);
    assert_eq!(
        &mac.finalize().into_bytes()[..],
        &buf[mi_at + 4..mi_at + 24]
    );
}

mod oracle {
    //! Cross-checks against `stun_codec`, an independent STUN implementation.
    use super::*;
    use crate::ice::test_oracle::*;
    use bytecodec::EncodeExt;
    use stun_codec::MessageEncoder;

    #[test]
    fn our_request_decodes_in_stun_codec() {
        let mut buf = Vec::new();
        build_request(&mut buf, [0x42; 12], b"pw-of-the-peer");
        // The decoder checks FINGERPRINT itself.
        let m = decode(&buf);
        assert_eq!(m.class(), MessageClass::Request);
        assert_eq!(m.transaction_id().as_bytes(), &[0x42; 12]);
        assert_eq!(m.get_attribute::<Username>().unwrap().name(), "abcd:efgh");
        assert_eq!(m.get_attribute::<Priority>().unwrap().prio(), 1_845_501_695);
        assert_eq!(
            m.get_attribute::<IceControlling>().unwrap().prio(),
            0x0102_0304_0506_0708
        );
        assert!(m.get_attribute::<UseCandidate>().is_some());
        let mi = m.get_attribute::<MessageIntegrity>().unwrap();
        assert!(mi.check_short_term_credential("pw-of-the-peer").is_ok());
        assert!(mi.check_short_term_credential("other").is_err());
    }

    #[test]
    fn our_responses_decode_in_stun_codec() {
        for mapped in ["198.51.100.7:40000", "[2001:db8::1:2]:9"] {
            let addr: SocketAddr = mapped.parse().unwrap();
            let mut buf = Vec::new();
            let mut w = MessageWriter::new(
                &mut buf,
                Class::Success,
                METHOD_BINDING,
                TransactionId([7; 12]),
            );
            w.xor_mapped_address(addr).unwrap();
            w.software("rtpbridge").unwrap();
            w.message_integrity(b"localpwd").unwrap();
            w.fingerprint().unwrap();
            let m = decode(&buf);
            assert_eq!(m.class(), MessageClass::SuccessResponse);
            assert_eq!(
                m.get_attribute::<XorMappedAddress>().unwrap().address(),
                addr
            );
            assert_eq!(
                m.get_attribute::<Software>().unwrap().description(),
                "rtpbridge"
            );
            let mi = m.get_attribute::<MessageIntegrity>().unwrap();
            assert!(mi.check_short_term_credential("localpwd").is_ok());
        }
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Error,
            METHOD_BINDING,
            TransactionId([8; 12]),
        );
        w.error_code(487, "Role Conflict").unwrap();
        w.ice_controlled(5).unwrap();
        w.message_integrity(b"localpwd").unwrap();
        w.fingerprint().unwrap();
        let m = decode(&buf);
        assert_eq!(m.class(), MessageClass::ErrorResponse);
        let e = m
            .get_attribute::<crate::ice::test_oracle::ErrorCode>()
            .unwrap();
        assert_eq!((e.code(), e.reason_phrase()), (487, "Role Conflict"));
        assert_eq!(m.get_attribute::<IceControlled>().unwrap().prio(), 5);
    }

    #[test]
    fn stun_codec_messages_parse_and_verify_here() {
        for (mapped, role) in [("192.0.2.33:5000", true), ("[2001:db8::77]:6000", false)] {
            let addr: SocketAddr = mapped.parse().unwrap();
            let tid = stun_codec::TransactionId::new([0x11; 12]);
            let mut m = stun_codec::Message::<Attr>::new(
                MessageClass::Request,
                stun_codec::rfc5389::methods::BINDING,
                tid,
            );
            m.add_attribute(Attr::Username(Username::new("rem:loc".into()).unwrap()));
            m.add_attribute(Attr::Priority(Priority::new(12345)));
            if role {
                m.add_attribute(Attr::IceControlling(IceControlling::new(99)));
                m.add_attribute(Attr::UseCandidate(UseCandidate::new()));
            } else {
                m.add_attribute(Attr::IceControlled(IceControlled::new(98)));
            }
            m.add_attribute(Attr::XorMappedAddress(XorMappedAddress::new(addr)));
            m.add_attribute(Attr::Software(Software::new("a-b-c-d-e".into()).unwrap()));
            let mi = MessageIntegrity::new_short_term_credential(&m, "the-password").unwrap();
            m.add_attribute(Attr::MessageIntegrity(mi));
            let fp = Fingerprint::new(&m).unwrap();
            m.add_attribute(Attr::Fingerprint(fp));
            let bytes = MessageEncoder::new().encode_into_bytes(m).unwrap();

            let ours = Message::parse(&bytes).unwrap();
            assert_eq!(ours.username(), Some("rem:loc"));
            assert_eq!(ours.priority(), Some(12345));
            assert_eq!(ours.xor_mapped_address(), Some(addr));
            assert_eq!(ours.software(), Some("a-b-c-d-e"));
            if role {
                assert_eq!(ours.ice_controlling(), Some(99));
                assert!(ours.use_candidate());
            } else {
                assert_eq!(ours.ice_controlled(), Some(98));
                assert!(!ours.use_candidate());
            }
            assert!(ours.verify_integrity(b"the-password"));
            assert!(!ours.verify_integrity(b"the-passwore"));
            assert!(ours.verify_fingerprint());
        }
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(m) = Message::parse(&bytes) {
                let _ = m.verify_integrity(b"x");
                let _ = m.verify_fingerprint();
            }
        }

        /// Valid header, random attribute area: exercises the attribute walk.
        #[test]
        fn attribute_walk_never_panics(body in proptest::collection::vec(any::<u8>(), 0..150)) {
            let mut bytes = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
            bytes.extend_from_slice(&[1; 12]);
            let n = body.len() & !3;
            bytes.extend_from_slice(&body[..n]);
            bytes[2..4].copy_from_slice(&(n as u16).to_be_bytes());
            if let Ok(m) = Message::parse(&bytes) {
                let _ = m.verify_integrity(b"x");
                let _ = m.verify_fingerprint();
            }
        }

        #[test]
        fn xor_address_round_trip(v6 in any::<bool>(), raw in any::<[u8; 16]>(), port in any::<u16>(), tid in any::<[u8; 12]>()) {
            let ip = if v6 {
                IpAddr::V6(Ipv6Addr::from(raw))
            } else {
                IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
            };
            let addr = SocketAddr::new(ip, port);
            let mut buf = Vec::new();
            let mut w = MessageWriter::new(&mut buf, Class::Success, METHOD_BINDING, TransactionId(tid));
            w.xor_mapped_address(addr).unwrap();
            prop_assert_eq!(Message::parse(&buf).unwrap().xor_mapped_address(), Some(addr));
        }
    }
}
