//! A small DTLS record-header reader (RFC 6347 section 4.1) for the data plane: demux,
//! counting, and telling a ClientHello from the rest before a datagram reaches OpenSSL.
//!
//! It reads only the cleartext framing: the 13-byte record header of each record in a
//! datagram and, for epoch-0 handshake records, the 12-byte handshake message header.
//! It never decrypts, never allocates, checks every length against the buffer and a
//! protocol limit, and returns an error instead of panicking on any input.

/// Record header length in DTLS 1.0/1.2.
pub const RECORD_HEADER_LEN: usize = 13;
/// Handshake message header length in DTLS 1.0/1.2.
pub const HANDSHAKE_HEADER_LEN: usize = 12;
/// Largest record body DTLS allows: 2^14 plaintext plus 2048 bytes of expansion.
pub const MAX_RECORD_BODY: usize = (1 << 14) + 2048;
/// The reader stops after this many records in one datagram (a 1500-byte datagram holds
/// at most 115 empty records; anything beyond this is hostile or broken).
pub const MAX_RECORDS_PER_DATAGRAM: usize = 128;

/// Record content types (RFC 5246 section 6.2.1, RFC 6520).
pub mod content_type {
    /// ChangeCipherSpec.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// Alert.
    pub const ALERT: u8 = 21;
    /// Handshake.
    pub const HANDSHAKE: u8 = 22;
    /// Application data.
    pub const APPLICATION_DATA: u8 = 23;
    /// Heartbeat.
    pub const HEARTBEAT: u8 = 24;
}

/// Handshake message types (RFC 5246 section 7.4, RFC 6347 section 4.2.2).
pub mod handshake_type {
    /// HelloRequest.
    pub const HELLO_REQUEST: u8 = 0;
    /// ClientHello.
    pub const CLIENT_HELLO: u8 = 1;
    /// ServerHello.
    pub const SERVER_HELLO: u8 = 2;
    /// HelloVerifyRequest (DTLS only).
    pub const HELLO_VERIFY_REQUEST: u8 = 3;
    /// Certificate.
    pub const CERTIFICATE: u8 = 11;
    /// ServerKeyExchange.
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// CertificateRequest.
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// ServerHelloDone.
    pub const SERVER_HELLO_DONE: u8 = 14;
    /// CertificateVerify.
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// ClientKeyExchange.
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    /// Finished.
    pub const FINISHED: u8 = 20;
}

/// Why a datagram is not a well-formed sequence of DTLS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than a record header.
    #[error("truncated DTLS record header ({0} bytes)")]
    TruncatedHeader(usize),
    /// The first byte is outside the DTLS range of RFC 7983 (20..=63).
    #[error("content type {0} is not DTLS")]
    NotDtls(u8),
    /// The version's major byte is not 0xFE (DTLS uses one's complement versions).
    #[error("record version {0:#06x} is not DTLS")]
    BadVersion(u16),
    /// The record length field exceeds the protocol limit.
    #[error("record length {0} exceeds the DTLS limit")]
    TooLong(usize),
    /// The record length field exceeds the bytes present.
    #[error("record length {declared} exceeds the {available} bytes left in the datagram")]
    TruncatedBody {
        /// Length field of the record.
        declared: usize,
        /// Bytes after the header.
        available: usize,
    },
    /// More records in one datagram than [`MAX_RECORDS_PER_DATAGRAM`].
    #[error("more than {MAX_RECORDS_PER_DATAGRAM} records in one datagram")]
    TooManyRecords,
}

/// The cleartext header of one DTLS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Content type (see [`content_type`]).
    pub content_type: u8,
    /// Protocol version on the wire: 0xFEFF is DTLS 1.0, 0xFEFD is DTLS 1.2.
    pub version: u16,
    /// Epoch: 0 until ChangeCipherSpec, then the records are encrypted.
    pub epoch: u16,
    /// 48-bit record sequence number.
    pub sequence: u64,
    /// Length of the record body.
    pub length: u16,
}

/// The header of a handshake message (only readable in epoch 0, where it is cleartext).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeHeader {
    /// Message type (see [`handshake_type`]).
    pub msg_type: u8,
    /// Length of the whole message (24 bits).
    pub length: u32,
    /// Handshake message sequence number.
    pub message_seq: u16,
    /// Offset of this fragment in the message (24 bits).
    pub fragment_offset: u32,
    /// Length of this fragment (24 bits).
    pub fragment_length: u32,
}

/// One record of a datagram: its header, its body, and the handshake header if the
/// record is a cleartext (epoch 0) handshake record with at least a full header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record header.
    pub header: RecordHeader,
    /// The record body (ciphertext in epochs above 0).
    pub body: &'a [u8],
    /// The first handshake message header, for epoch-0 handshake records.
    pub handshake: Option<HandshakeHeader>,
}

impl Record<'_> {
    /// Whether this record starts a ClientHello (epoch 0, first fragment).
    pub fn is_client_hello(&self) -> bool {
        self.handshake
            .is_some_and(|h| h.msg_type == handshake_type::CLIENT_HELLO && h.fragment_offset == 0)
    }

    /// The 32-byte client random of a ClientHello record (after the 2-byte
    /// client_version), if the fragment is long enough to hold it.
    pub fn client_random(&self) -> Option<[u8; 32]> {
        if !self.is_client_hello() {
            return None;
        }
        let start = HANDSHAKE_HEADER_LEN + 2;
        let random = self.body.get(start..start + 32)?;
        random.try_into().ok()
    }
}

fn be_u24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

/// Reads the record header at the start of `buf` and returns the record and the bytes after
/// it.
pub fn parse_record(buf: &[u8]) -> Result<(Record<'_>, &[u8]), RecordError> {
    let Some((head, rest)) = buf.split_first_chunk::<RECORD_HEADER_LEN>() else {
        return Err(RecordError::TruncatedHeader(buf.len()));
    };
    let content_type = head[0];
    if !(20..=63).contains(&content_type) {
        return Err(RecordError::NotDtls(content_type));
    }
    let version = u16::from_be_bytes([head[1], head[2]]);
    if head[1] != 0xfe {
        return Err(RecordError::BadVersion(version));
    }
    let epoch = u16::from_be_bytes([head[3], head[4]]);
    let sequence = head[5..11]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let length = u16::from_be_bytes([head[11], head[12]]);
    let len = usize::from(length);
    if len > MAX_RECORD_BODY {
        return Err(RecordError::TooLong(len));
    }
    if len > rest.len() {
        return Err(RecordError::TruncatedBody {
            declared: len,
            available: rest.len(),
        });
    }
    let (body, rest) = rest.split_at(len);
    let handshake = if content_type == content_type::HANDSHAKE && epoch == 0 {
        parse_handshake_header(body)
    } else {
        None
    };
    let header = RecordHeader {
        content_type,
        version,
        epoch,
        sequence,
        length,
    };
    Ok((
        Record {
            header,
            body,
            handshake,
        },
        rest,
    ))
}

/// Reads a handshake message header from the start of a cleartext handshake record body.
pub fn parse_handshake_header(body: &[u8]) -> Option<HandshakeHeader> {
    let (h, _) = body.split_first_chunk::<HANDSHAKE_HEADER_LEN>()?;
    Some(HandshakeHeader {
        msg_type: h[0],
        length: be_u24(&h[1..4]),
        message_seq: u16::from_be_bytes([h[4], h[5]]),
        fragment_offset: be_u24(&h[6..9]),
        fragment_length: be_u24(&h[9..12]),
    })
}

/// Iterates over the records of a datagram. It yields `Err` once for the first malformed
/// record and then stops; a datagram is valid only if every item is `Ok`.
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
    count: usize,
    done: bool,
}

/// The records of one datagram, in order.
pub fn records(datagram: &[u8]) -> Records<'_> {
    Records {
        rest: datagram,
        count: 0,
        done: false,
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        if self.count == MAX_RECORDS_PER_DATAGRAM {
            self.done = true;
            return Some(Err(RecordError::TooManyRecords));
        }
        match parse_record(self.rest) {
            Ok((record, rest)) => {
                self.rest = rest;
                self.count += 1;
                Some(Ok(record))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// What the data plane needs to know about a DTLS datagram without opening it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramInfo {
    /// Header of the first record.
    pub first: RecordHeader,
    /// Handshake header of the first record, if it is an epoch-0 handshake record.
    pub first_handshake: Option<HandshakeHeader>,
    /// Number of records in the datagram.
    pub records: usize,
    /// Whether any record starts a ClientHello.
    pub has_client_hello: bool,
    /// The client random of the first ClientHello, if its fragment holds it.
    pub client_random: Option<[u8; 32]>,
}

impl DatagramInfo {
    /// Whether the datagram opens with a ClientHello (a new or retransmitted handshake).
    pub fn starts_with_client_hello(&self) -> bool {
        self.first_handshake
            .is_some_and(|h| h.msg_type == handshake_type::CLIENT_HELLO && h.fragment_offset == 0)
    }
}

/// Checks that a whole datagram is a sequence of well-formed DTLS records and summarises
/// it. Trailing bytes that do not form a record make the datagram invalid.
pub fn inspect(datagram: &[u8]) -> Result<DatagramInfo, RecordError> {
    let mut iter = records(datagram);
    let first = match iter.next() {
        Some(r) => r?,
        None => return Err(RecordError::TruncatedHeader(0)),
    };
    let mut info = DatagramInfo {
        first: first.header,
        first_handshake: first.handshake,
        records: 1,
        has_client_hello: first.is_client_hello(),
        client_random: first.client_random(),
    };
    for record in iter {
        let record = record?;
        info.records += 1;
        info.has_client_hello |= record.is_client_hello();
        if info.client_random.is_none() {
            info.client_random = record.client_random();
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NULL_CIPHER_HELLO: &[u8] =
        include_bytes!("../../../tests/fixtures/dtls/dtls-clienthello-null-cipher.bin");
    const VALID_HELLO: &[u8] =
        include_bytes!("../../../tests/fixtures/dtls/dtls-clienthello-valid.bin");

    fn record(ct: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
        let mut v = vec![ct, 0xfe, 0xfd];
        v.extend_from_slice(&epoch.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes()[2..]);
        v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn fixtures_are_single_client_hellos() {
        for (data, body_len) in [(NULL_CIPHER_HELLO, 0x7c), (VALID_HELLO, 0xc9)] {
            let info = inspect(data).unwrap();
            assert_eq!(info.records, 1);
            assert_eq!(info.first.content_type, content_type::HANDSHAKE);
            assert_eq!(info.first.version, 0xfeff);
            assert_eq!(info.first.epoch, 0);
            assert_eq!(info.first.sequence, 0);
            assert_eq!(usize::from(info.first.length), body_len);
            assert!(info.starts_with_client_hello());
            let hs = info.first_handshake.unwrap();
            assert_eq!(hs.message_seq, 0);
            assert_eq!(hs.fragment_offset, 0);
            assert_eq!(hs.length, hs.fragment_length);
            assert_eq!(hs.length as usize + HANDSHAKE_HEADER_LEN, body_len);
            let random = info.client_random.unwrap();
            assert_eq!(&random[..], &data[13 + 12 + 2..13 + 12 + 2 + 32]);
        }
        assert_ne!(
            inspect(NULL_CIPHER_HELLO).unwrap().client_random,
            inspect(VALID_HELLO).unwrap().client_random
        );
    }

    #[test]
    fn several_records_and_fields() {
        let mut dgram = record(22, 0, 5, &[2, 0, 0, 1, 0, 7, 0, 0, 0, 0, 0, 1, 0xaa]);
        dgram.extend(record(20, 0, 6, &[1]));
        dgram.extend(record(22, 1, 0x0000_1234_5678, &[0x55; 40]));
        let all: Vec<_> = records(&dgram).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 3);
        let hs = all[0].handshake.unwrap();
        assert_eq!(hs.msg_type, handshake_type::SERVER_HELLO);
        assert_eq!(hs.length, 1);
        assert_eq!(hs.message_seq, 7);
        assert_eq!(all[1].header.content_type, content_type::CHANGE_CIPHER_SPEC);
        assert_eq!(all[1].body, &[1]);
        assert_eq!(all[2].header.epoch, 1);
        assert_eq!(all[2].header.sequence, 0x1234_5678);
        // Encrypted handshake records have no readable handshake header.
        assert_eq!(all[2].handshake, None);
        let info = inspect(&dgram).unwrap();
        assert_eq!(info.records, 3);
        assert!(!info.has_client_hello);
        assert!(!info.starts_with_client_hello());
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(inspect(&[]), Err(RecordError::TruncatedHeader(0)));
        assert_eq!(
            inspect(&[22, 0xfe, 0xfd]),
            Err(RecordError::TruncatedHeader(3))
        );
        let mut rtp = record(22, 0, 0, &[]);
        rtp[0] = 0x80;
        assert_eq!(inspect(&rtp), Err(RecordError::NotDtls(0x80)));
        let mut tls = record(22, 0, 0, &[]);
        tls[1] = 0x03;
        assert_eq!(inspect(&tls), Err(RecordError::BadVersion(0x03fd)));
        let mut long = record(23, 1, 0, &[]);
        long[11..13].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(inspect(&long), Err(RecordError::TooLong(0xffff)));
        let mut short = record(23, 1, 0, &[0; 4]);
        short.pop();
        assert_eq!(
            inspect(&short),
            Err(RecordError::TruncatedBody {
                declared: 4,
                available: 3
            })
        );
        // A valid record followed by garbage invalidates the datagram.
        let mut trailing = record(21, 1, 0, &[0; 4]);
        trailing.push(0);
        assert_eq!(inspect(&trailing), Err(RecordError::TruncatedHeader(1)));
        // A handshake record too short for a handshake header still parses as a record.
        let tiny = record(22, 0, 0, &[1, 0, 0]);
        let info = inspect(&tiny).unwrap();
        assert_eq!(info.first_handshake, None);
        assert!(!info.starts_with_client_hello());
    }

    #[test]
    fn record_count_is_capped() {
        let one = record(21, 1, 0, &[]);
        let dgram: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * (MAX_RECORDS_PER_DATAGRAM + 1))
            .collect();
        assert_eq!(inspect(&dgram), Err(RecordError::TooManyRecords));
        let ok: Vec<u8> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * MAX_RECORDS_PER_DATAGRAM)
            .collect();
        assert_eq!(inspect(&ok).unwrap().records, MAX_RECORDS_PER_DATAGRAM);
    }

    #[test]
    fn every_truncation_of_the_fixture_is_handled() {
        for n in 0..VALID_HELLO.len() {
            assert!(inspect(&VALID_HELLO[..n]).is_err(), "prefix {n}");
        }
    }
}
