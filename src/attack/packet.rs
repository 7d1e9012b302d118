//! What the victims and the attacker put on the wire, and how a receiver tells whose packet
//! it got. Every payload starts with a 4-byte tag, a side byte and a 32-bit index, so a
//! packet is recognised after the relay (plain) or after decryption (SRTP).

use crate::ice::stun::{Class, MessageWriter, TransactionId, METHOD_BINDING};

/// Payload tag of the victims' packets.
pub const VICTIM_TAG: [u8; 4] = *b"VICT";
/// Payload tag (and STUN transaction-ID prefix) of the attacker's packets.
pub const ATTACKER_TAG: [u8; 4] = *b"ATTK";
/// Voice payload size (20 ms of PCMU).
pub const PAYLOAD: usize = 160;

/// The header fields of an RTP packet we build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rtp {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
}

/// An RTP packet (PT 0) carrying `tag`, `side` and `index` at the start of its payload.
pub fn rtp(h: Rtp, tag: [u8; 4], side: u8, index: u32, payload: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.max(9) + 64);
    p.extend_from_slice(&[0x80, 0x00]);
    p.extend_from_slice(&h.seq.to_be_bytes());
    p.extend_from_slice(&h.ts.to_be_bytes());
    p.extend_from_slice(&h.ssrc.to_be_bytes());
    p.extend_from_slice(&tag);
    p.push(side);
    p.extend_from_slice(&index.to_be_bytes());
    p.resize(12 + payload.max(9), 0xd5);
    p
}

/// A minimal RTCP receiver report (no report blocks) from `ssrc`.
pub fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 201, 0x00, 0x01];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p
}

/// Who sent a packet, as far as its payload says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Victim {
        side: u8,
        index: u32,
    },
    Attacker,
    /// Not one of ours, or unreadable (e.g. SRTP we cannot decrypt).
    Unknown,
}

/// Reads the tag of a plain RTP packet (or a STUN message the attacker made).
pub fn origin(pkt: &[u8]) -> Origin {
    if pkt.len() >= 20 && pkt[0] < 4 && pkt[8..12] == ATTACKER_TAG {
        return Origin::Attacker;
    }
    if pkt.len() < 21 || pkt[0] >> 6 != 2 {
        return Origin::Unknown;
    }
    let body = &pkt[12..];
    if body[..4] == ATTACKER_TAG {
        Origin::Attacker
    } else if body[..4] == VICTIM_TAG {
        Origin::Victim {
            side: body[4],
            index: u32::from_be_bytes([body[5], body[6], body[7], body[8]]),
        }
    } else {
        Origin::Unknown
    }
}

/// The SSRC of an RTP packet (bytes 8..12) or RTCP packet (bytes 4..8), in the clear even
/// under SRTP.
pub fn ssrc_of(pkt: &[u8]) -> Option<u32> {
    if pkt.len() < 12 || pkt[0] >> 6 != 2 {
        return None;
    }
    let off = if (192..=223).contains(&pkt[1]) { 4 } else { 8 };
    Some(u32::from_be_bytes([
        pkt[off],
        pkt[off + 1],
        pkt[off + 2],
        pkt[off + 3],
    ]))
}

/// A forged ICE connectivity check: a Binding request naming the relay's and the victim's
/// ufrags (both public in the SDP), nominating (USE-CANDIDATE) the attacker's address as
/// the controlling agent, with a MESSAGE-INTEGRITY the attacker cannot compute (it lacks
/// the password) and a correct FINGERPRINT. The transaction ID starts with
/// [`ATTACKER_TAG`] so a victim that receives it can tell.
pub fn stun_spoof(username: &str, nonce: u64) -> Vec<u8> {
    let mut tid = [0u8; 12];
    tid[..4].copy_from_slice(&ATTACKER_TAG);
    tid[4..].copy_from_slice(&nonce.to_be_bytes());
    let mut buf = Vec::with_capacity(160);
    let mut w = MessageWriter::new(&mut buf, Class::Request, METHOD_BINDING, TransactionId(tid));
    // A username longer than STUN allows is cut; the message stays well-formed.
    let user: String = username.chars().take(200).collect();
    let forged = w
        .username(&user)
        .and_then(|w| w.priority(0x6e7f_00ff))
        .and_then(|w| w.use_candidate())
        .and_then(|w| w.ice_controlling(nonce))
        .and_then(|w| w.message_integrity(&nonce.to_le_bytes()))
        .and_then(|w| w.fingerprint())
        .is_ok();
    debug_assert!(forged);
    buf
}

/// Offset of the 32-byte client random in a DTLS ClientHello record: record header (13),
/// handshake header (12), client_version (2).
pub const CLIENT_HELLO_RANDOM: usize = 13 + 12 + 2;

/// The fixture ClientHello with a fresh client random (so each one looks like a new
/// handshake), or unchanged if it is too short to have one.
pub fn fresh_client_hello(fixture: &[u8], nonce: u64) -> Vec<u8> {
    let mut h = fixture.to_vec();
    if let Some(r) = h.get_mut(CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32) {
        for (i, chunk) in r.chunks_mut(8).enumerate() {
            let v = nonce
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .wrapping_add(i as u64);
            chunk.copy_from_slice(&v.to_be_bytes()[..chunk.len()]);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ice::stun::Message;

    #[test]
    fn tags_survive_a_round_trip() {
        let h = Rtp {
            ssrc: 7,
            seq: 9,
            ts: 160,
        };
        let p = rtp(h, VICTIM_TAG, b'A', 42, PAYLOAD);
        assert_eq!(p.len(), 12 + PAYLOAD);
        assert_eq!(
            origin(&p),
            Origin::Victim {
                side: b'A',
                index: 42
            }
        );
        assert_eq!(ssrc_of(&p), Some(7));
        assert_eq!(origin(&rtp(h, ATTACKER_TAG, 0, 0, 0)), Origin::Attacker);
        assert_eq!(origin(&rtcp_rr(5)), Origin::Unknown);
        assert_eq!(ssrc_of(&rtcp_rr(5)), None);
        let mut sr = rtcp_rr(5);
        sr.extend_from_slice(&[0; 4]);
        assert_eq!(ssrc_of(&sr), Some(5));
    }

    #[test]
    fn spoofed_check_parses_but_fails_integrity() {
        let m = stun_spoof("relay:victim", 99);
        assert_eq!(origin(&m), Origin::Attacker);
        let msg = Message::parse(&m).unwrap();
        assert!(msg.use_candidate() && msg.verify_fingerprint());
        assert_eq!(msg.username(), Some("relay:victim"));
        assert!(!msg.verify_integrity(b"the real password"));
    }

    #[test]
    fn client_hello_random_is_replaced() {
        let f = include_bytes!("../../tests/fixtures/attack/dtls-clienthello-valid.bin");
        let a = fresh_client_hello(f, 1);
        let b = fresh_client_hello(f, 2);
        assert_eq!(a.len(), f.len());
        assert_eq!(a[..CLIENT_HELLO_RANDOM], f[..CLIENT_HELLO_RANDOM]);
        assert_ne!(
            a[CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32],
            b[CLIENT_HELLO_RANDOM..CLIENT_HELLO_RANDOM + 32]
        );
        assert_eq!(a[CLIENT_HELLO_RANDOM + 32..], f[CLIENT_HELLO_RANDOM + 32..]);
    }
}
