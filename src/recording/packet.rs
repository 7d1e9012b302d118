//! Synthesized link, IP and UDP headers around a recorded payload, so that a capture tool
//! sees the datagram as it travelled: from the sender's address to the relay's socket.
//!
//! IPv4: 20-byte header (DF, TTL 64), header checksum. IPv6: 40-byte header, hop limit 64.
//! UDP: length and checksum (also for IPv4, so Wireshark's checksum check passes).
//! `eth` format: a 14-byte Ethernet header with zero MAC addresses and the EtherType, as
//! rtpengine writes it.

use std::net::{IpAddr, SocketAddr};

/// The link layer written in front of each packet (`--recording-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Bare IP packets (pcap link type 101, `LINKTYPE_RAW`).
    Raw,
    /// Ethernet frames (pcap link type 1).
    Eth,
}

impl Format {
    /// Parses rtpengine's `--recording-format` value.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "raw" => Some(Format::Raw),
            "eth" => Some(Format::Eth),
            _ => None,
        }
    }

    pub fn link_header_len(self) -> usize {
        match self {
            Format::Raw => 0,
            Format::Eth => 14,
        }
    }
}

/// Largest header we put in front of a payload (Ethernet + IPv6 + UDP).
pub const MAX_HEADER_LEN: usize = 14 + 40 + 8;

const UDP: u8 = 17;

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Ones' complement sum of 16-bit big-endian words (odd trailing byte padded with zero).
fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Builds the frame for `payload` sent from `src` to `dst` into `out` (cleared first).
/// `None` when the addresses are of different families or the payload cannot fit one
/// IP datagram.
pub fn build_frame(
    out: &mut Vec<u8>,
    format: Format,
    src: SocketAddr,
    dst: SocketAddr,
    payload: &[u8],
) -> Option<()> {
    out.clear();
    let udp_len = u16::try_from(8 + payload.len()).ok()?;
    let (sip, dip) = (canonical(src.ip()), canonical(dst.ip()));
    // Pseudo-header sum for the UDP checksum.
    let mut pseudo = 0u32;
    match (sip, dip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + usize::from(udp_len)).ok()?;
            if format == Format::Eth {
                out.extend_from_slice(&[0u8; 12]);
                out.extend_from_slice(&0x0800u16.to_be_bytes());
            }
            let start = out.len();
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0x40, 0, 64, UDP, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let ck = fold(sum16(&out[start..start + 20], 0));
            out[start + 10..start + 12].copy_from_slice(&ck.to_be_bytes());
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            if format == Format::Eth {
                out.extend_from_slice(&[0u8; 12]);
                out.extend_from_slice(&0x86ddu16.to_be_bytes());
            }
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&udp_len.to_be_bytes());
            out.extend_from_slice(&[UDP, 64]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            pseudo = sum16(&s.octets(), pseudo);
            pseudo = sum16(&d.octets(), pseudo);
        }
        _ => return None,
    }
    pseudo += u32::from(UDP) + u32::from(udp_len);
    let udp_start = out.len();
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let mut ck = fold(sum16(&out[udp_start..], pseudo));
    if ck == 0 {
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        ck = 0xffff;
    }
    out[udp_start + 6..udp_start + 8].copy_from_slice(&ck.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A checksum over data that includes a correct checksum field sums to zero.
    fn verifies(data: &[u8], pseudo: u32) -> bool {
        fold(sum16(data, pseudo)) == 0
    }

    #[test]
    fn ipv4_known_answer() {
        let mut out = Vec::new();
        build_frame(
            &mut out,
            Format::Raw,
            sa("192.0.2.1:6000"),
            sa("198.51.100.2:30000"),
            b"\x80\x00\x00\x01",
        )
        .unwrap();
        assert_eq!(out.len(), 20 + 8 + 4);
        assert_eq!(&out[..4], &[0x45, 0, 0, 32]);
        assert_eq!(out[9], 17);
        assert_eq!(&out[12..16], &[192, 0, 2, 1]);
        assert_eq!(&out[16..20], &[198, 51, 100, 2]);
        assert!(verifies(&out[..20], 0), "IPv4 header checksum");
        // UDP: ports, length 12
        assert_eq!(&out[20..26], &[0x17, 0x70, 0x75, 0x30, 0, 12]);
        let pseudo = sum16(&out[12..20], 17 + 12);
        assert!(verifies(&out[20..], pseudo), "UDP checksum");
        // Recompute the header checksum from scratch with the field zeroed.
        let mut h = out[..20].to_vec();
        let got = u16::from_be_bytes([h[10], h[11]]);
        h[10] = 0;
        h[11] = 0;
        let mut s: u32 = h
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        assert_eq!(got, !(s as u16));
    }

    #[test]
    fn ipv6_and_eth() {
        let mut out = Vec::new();
        let payload = [0x80u8, 0, 0, 7, 1, 2, 3];
        build_frame(
            &mut out,
            Format::Eth,
            sa("[2001:db8::1]:5004"),
            sa("[2001:db8::2]:30002"),
            &payload,
        )
        .unwrap();
        assert_eq!(out.len(), 14 + 40 + 8 + payload.len());
        assert_eq!(&out[..12], &[0u8; 12]);
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
        let ip = &out[14..];
        assert_eq!(ip[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 8 + payload.len() as u16);
        assert_eq!(ip[6], 17);
        let pseudo = sum16(&ip[8..40], 17 + 8 + payload.len() as u32);
        assert!(verifies(&ip[40..], pseudo), "UDP checksum over IPv6");
        assert_eq!(&ip[48..], &payload);
    }

    #[test]
    fn mapped_v4_is_v4_and_mixed_families_are_refused() {
        let mut out = Vec::new();
        build_frame(
            &mut out,
            Format::Raw,
            sa("[::ffff:192.0.2.1]:1"),
            sa("192.0.2.2:2"),
            b"x",
        )
        .unwrap();
        assert_eq!(out[0], 0x45);
        assert!(build_frame(
            &mut out,
            Format::Raw,
            sa("[2001:db8::1]:1"),
            sa("192.0.2.2:2"),
            b"x"
        )
        .is_none());
    }

    #[test]
    fn oversized_payload_is_refused() {
        let mut out = Vec::new();
        let big = vec![0u8; 65_536];
        assert!(build_frame(
            &mut out,
            Format::Raw,
            sa("192.0.2.1:1"),
            sa("192.0.2.2:2"),
            &big
        )
        .is_none());
        // The largest IPv4 UDP payload fits.
        let max = vec![0u8; 65_507];
        assert!(build_frame(
            &mut out,
            Format::Raw,
            sa("192.0.2.1:1"),
            sa("192.0.2.2:2"),
            &max
        )
        .is_some());
    }
}
