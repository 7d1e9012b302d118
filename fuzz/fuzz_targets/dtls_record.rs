//! Fuzzes the DTLS record-header reader: it may not panic, whatever the input; the record
//! iterator and `inspect` must agree, and the records of a valid datagram must tile it
//! exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtpbridge::dtls::dtls::record;

fuzz_target!(|data: &[u8]| {
    let mut consumed = 0;
    let mut count = 0;
    let mut all_ok = true;
    let mut first_random = None;
    for item in record::records(data) {
        match item {
            Ok(rec) => {
                assert_eq!(rec.body.len(), usize::from(rec.header.length));
                assert!(rec.body.len() <= record::MAX_RECORD_BODY);
                assert_eq!(rec.header.version >> 8, 0xfe);
                assert!(rec.header.sequence < 1 << 48);
                if rec.handshake.is_some() {
                    assert_eq!(rec.header.content_type, record::content_type::HANDSHAKE);
                    assert_eq!(rec.header.epoch, 0);
                }
                if first_random.is_none() {
                    first_random = rec.client_random();
                }
                consumed += record::RECORD_HEADER_LEN + rec.body.len();
                count += 1;
            }
            Err(_) => all_ok = false,
        }
    }
    assert!(count <= record::MAX_RECORDS_PER_DATAGRAM);
    match record::inspect(data) {
        Ok(info) => {
            assert!(all_ok);
            assert_eq!(consumed, data.len());
            assert_eq!(info.records, count);
            assert_eq!(info.client_random, first_random);
            if info.starts_with_client_hello() {
                assert!(info.has_client_hello);
            }
        }
        Err(_) => assert!(!all_ok || data.is_empty()),
    }
});
