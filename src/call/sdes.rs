//! SDES-SRTP in offer/answer: which `a=crypto` lines each party gets, and which keys each
//! leg decrypts and encrypts with.
//!
//! A party speaks SRTP when its section's protocol is `RTP/SAVP` or `RTP/SAVPF`. In an
//! offer, the lines going to the answerer are the offerer's own (same keys, so SRTP between
//! two SDES parties needs no new keys) plus rtpengine's other suites with fresh keys
//! ([`sdes::build_offer`]); an offer going out as plain RTP carries none. In the answer, the
//! answerer's accepted line settles the keys of its leg ([`sdes::accepted_offer`]), and the
//! line answered to an SRTP offerer is one of its own suites, with the answerer's key when
//! the suites match ([`sdes::build_answer`]).
//!
//! Re-offers keep keys: the line the party accepted (or, before any answer, the lines we
//! offered) is the `previous` of the next offer, and the answer we gave before is the
//! `previous` of the next answer.

use crate::dtls::sdes::{self, AnswerInput, CryptoAttribute, FormatOptions, SdesFlags};
use crate::ng::request::NgRequest;
use crate::sdp::Media;

use super::model::MediaSide;

/// Whether a transport protocol is SDES-SRTP (RTP/SAVP, RTP/SAVPF).
pub fn is_sdes_protocol(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("RTP/SAVP") || protocol.eq_ignore_ascii_case("RTP/SAVPF")
}

/// Whether a transport protocol is plain RTP (RTP/AVP, RTP/AVPF), where `a=crypto` lines
/// make an OSRTP (RFC 8643) offer or answer.
pub fn is_plain_rtp_protocol(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("RTP/AVP") || protocol.eq_ignore_ascii_case("RTP/AVPF")
}

/// The request's `OSRTP` options that rtpbridge acts on.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsrtpFlags {
    /// `offer`: turn a plain offer into an OSRTP offer.
    pub offer: bool,
    /// `accept` / `accept-RFC`: accept an OSRTP offer even when the answerer did not.
    pub accept: bool,
}

impl OsrtpFlags {
    pub fn from_request(req: &NgRequest) -> OsrtpFlags {
        let has = |n: &str| req.osrtp.iter().any(|o| o == n);
        OsrtpFlags {
            offer: has("offer"),
            accept: has("accept") || has("accept-RFC"),
        }
    }
}

/// The SDES flags of a request.
pub fn flags(req: &NgRequest) -> SdesFlags {
    let mut f = SdesFlags::from_options(&req.sdes);
    if req.flags.pad_crypto {
        f.pad = true;
    }
    f
}

/// The `a=crypto` lines of a section whose protocol makes them meaningful (SRTP, or plain
/// RTP for OSRTP).
fn party_lines(m: &Media) -> Vec<CryptoAttribute> {
    if !is_sdes_protocol(m.protocol()) && !is_plain_rtp_protocol(m.protocol()) {
        return Vec::new();
    }
    let (lines, errors) = sdes::parse_all(m.attrs("crypto"));
    for e in errors {
        tracing::debug!("ignored a=crypto line: {e}");
    }
    lines
}

/// The offer step of one section: `a` offered `m`; the offer goes to `b` with `out_protocol`
/// (`protocol_forced`: the request's transport-protocol set it).
pub fn on_offer(
    a: &mut MediaSide,
    b: &mut MediaSide,
    m: &Media,
    out_protocol: &str,
    protocol_forced: bool,
    f: &SdesFlags,
    osrtp: OsrtpFlags,
) {
    let lines = party_lines(m);
    if let Some(sdes) = a.sdes.allocated_mut() {
        sdes.party_offer = lines;
    } else if !lines.is_empty() {
        a.sdes.party_offer = lines;
    }
    // OSRTP goes on as OSRTP (unless a transport-protocol says otherwise), or is made up
    // with OSRTP=offer.
    let osrtp_out = is_plain_rtp_protocol(out_protocol)
        && (osrtp.offer || (!protocol_forced && !a.sdes.party_offer.is_empty()));
    if (is_sdes_protocol(out_protocol) || osrtp_out) && m.port() != 0 {
        // A re-offer keeps the line the party accepted (first, with its tag and key); before
        // any answer, the lines we offered last time keep their keys.
        let previous = match &b.sdes.send {
            Some(accepted) => vec![accepted.clone()],
            None => std::mem::take(&mut b.sdes.our_offer),
        };
        b.sdes.our_offer = sdes::build_offer(&a.sdes.party_offer, &previous, f, &mut rand::rng());
    } else if let Some(sdes) = b.sdes.allocated_mut() {
        sdes.our_offer.clear();
    }
    if b.sdes.offer_flags != *f {
        b.sdes.offer_flags = f.clone();
    }
}

/// The answer step of one section: `b` answered `m` to `a`'s offer.
pub fn on_answer(
    a: &mut MediaSide,
    b: &mut MediaSide,
    m: &Media,
    answer_flags: &SdesFlags,
    osrtp: OsrtpFlags,
) {
    let b_lines = party_lines(m);
    let accepted = sdes::accepted_offer(&b.sdes.our_offer, &b_lines, &b.sdes.offer_flags);
    match accepted {
        Some(i) => {
            let sdes = &mut *b.sdes;
            let ours = &sdes.our_offer[i];
            sdes.send = Some(ours.clone());
            sdes.recv = b_lines
                .iter()
                .find(|l| l.tag == ours.tag && l.suite == ours.suite)
                .cloned();
        }
        None => {
            if let Some(sdes) = b.sdes.allocated_mut() {
                sdes.send = None;
                sdes.recv = None;
            }
        }
    }
    // An OSRTP offer stays plain RTP unless the answerer took SRTP or OSRTP=accept says so.
    let osrtp_declined =
        !is_sdes_protocol(&a.desc.protocol) && b.sdes.recv.is_none() && !osrtp.accept;
    if a.sdes.party_offer.is_empty() || m.port() == 0 || osrtp_declined {
        if let Some(sdes) = a.sdes.allocated_mut() {
            sdes.send = None;
            sdes.recv = None;
        }
        return;
    }
    let input = AnswerInput {
        offered: &a.sdes.party_offer,
        peer_answer: b.sdes.recv.as_ref(),
        previous: a.sdes.send.as_ref(),
    };
    let ours = sdes::build_answer(&input, &b.sdes.offer_flags, answer_flags, &mut rand::rng());
    a.sdes.recv = ours.as_ref().and_then(|o| {
        a.sdes
            .party_offer
            .iter()
            .find(|l| l.tag == o.tag && l.suite == o.suite)
            .cloned()
    });
    a.sdes.send = ours;
}

/// The `a=crypto` attribute values to write to the party of `side`: our offer's lines in an
/// offer, our chosen line in an answer.
pub fn attributes(side: &MediaSide, is_offer: bool, fmt: FormatOptions) -> Vec<String> {
    if is_offer {
        side.sdes
            .our_offer
            .iter()
            .map(|c| c.to_attribute(fmt))
            .collect()
    } else if side.sdes.party_offer.is_empty() {
        Vec::new()
    } else {
        side.sdes.send.iter().map(|c| c.to_attribute(fmt)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdp::Session;

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    /// A one-section SDP's text.
    fn sdp(proto: &str, crypto: &str) -> String {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 {proto} 0\r\n{crypto}"
        )
    }

    fn side(proto: &str) -> MediaSide {
        let mut s = MediaSide::default();
        s.desc.protocol = proto.to_string();
        s
    }

    #[test]
    fn plain_call_allocates_no_sdes_state() {
        let (mut a, mut b) = (side("RTP/AVP"), side(""));
        let f = SdesFlags::default();
        let offer = sdp("RTP/AVP", "");
        let offer = Session::parse(&offer).unwrap();
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/AVP",
            false,
            &f,
            Default::default(),
        );
        on_answer(
            &mut a,
            &mut b,
            &Session::parse(&sdp("RTP/AVP", "")).unwrap().media()[0],
            &f,
            Default::default(),
        );
        assert!(!a.sdes.is_allocated() && !b.sdes.is_allocated());
        assert!(attributes(&b, true, FormatOptions::default()).is_empty());
        // SDES flags alone are kept (the answer's choice reads them), so they allocate.
        let f = SdesFlags {
            pad: true,
            ..SdesFlags::default()
        };
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/AVP",
            false,
            &f,
            Default::default(),
        );
        assert!(b.sdes.is_allocated() && b.sdes.offer_flags.pad);
    }

    #[test]
    fn plain_to_savp_offers_all_suites_and_takes_the_accepted_key() {
        let (mut a, mut b) = (side("RTP/AVP"), side(""));
        let offer = sdp("RTP/AVP", "");
        let offer = Session::parse(&offer).unwrap();
        let f = SdesFlags::default();
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/SAVP",
            true,
            &f,
            Default::default(),
        );
        assert_eq!(b.sdes.our_offer.len(), 12);
        let line = b.sdes.our_offer[6].clone();
        assert_eq!(line.suite.sdes_name(), "AES_CM_128_HMAC_SHA1_80");
        let answer = sdp(
            "RTP/SAVP",
            &format!(
                "a=crypto:{} AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n",
                line.tag
            ),
        );
        let answer = Session::parse(&answer).unwrap();
        on_answer(&mut a, &mut b, &answer.media()[0], &f, Default::default());
        assert_eq!(
            b.sdes.send.as_ref(),
            Some(&line),
            "we encrypt with the accepted line"
        );
        assert_eq!(b.sdes.recv.as_ref().unwrap().inline_key(false), KEY);
        assert!(
            a.sdes.send.is_none() && a.sdes.recv.is_none(),
            "A stays plain"
        );
        assert!(attributes(&a, false, FormatOptions::default()).is_empty());

        // A re-offer puts the accepted line first, same tag and key.
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/SAVP",
            true,
            &f,
            Default::default(),
        );
        assert_eq!(b.sdes.our_offer[0], line);
    }

    #[test]
    fn savp_offer_to_plain_gets_our_own_key_and_keeps_it() {
        let (mut a, mut b) = (side("RTP/SAVP"), side(""));
        let offer = sdp(
            "RTP/SAVP",
            &format!("a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"),
        );
        let offer = Session::parse(&offer).unwrap();
        let f = SdesFlags::default();
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/AVP",
            true,
            &f,
            Default::default(),
        );
        assert!(
            b.sdes.our_offer.is_empty(),
            "nothing offered to the plain side"
        );
        let answer = sdp("RTP/AVP", "");
        let answer = Session::parse(&answer).unwrap();
        on_answer(&mut a, &mut b, &answer.media()[0], &f, Default::default());
        let ours = a.sdes.send.clone().expect("our key to the SRTP offerer");
        assert_eq!(ours.tag, 3);
        assert_ne!(ours.inline_key(false), KEY);
        assert_eq!(a.sdes.recv.as_ref().unwrap().inline_key(false), KEY);
        assert!(b.sdes.send.is_none() && b.sdes.recv.is_none());
        // Re-INVITE: the same answer key.
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/AVP",
            true,
            &f,
            Default::default(),
        );
        on_answer(&mut a, &mut b, &answer.media()[0], &f, Default::default());
        assert_eq!(a.sdes.send.as_ref(), Some(&ours));
    }

    #[test]
    fn osrtp_offer_declined_unless_accept() {
        let offer = sdp(
            "RTP/AVP",
            &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"),
        );
        let offer = Session::parse(&offer).unwrap();
        let answer = sdp("RTP/AVP", "");
        let answer = Session::parse(&answer).unwrap();
        let f = SdesFlags::default();
        for accept in [false, true] {
            let (mut a, mut b) = (side("RTP/AVP"), side(""));
            on_offer(
                &mut a,
                &mut b,
                &offer.media()[0],
                "RTP/AVP",
                false,
                &f,
                Default::default(),
            );
            assert_eq!(
                b.sdes.our_offer.len(),
                12,
                "OSRTP passes on with all suites"
            );
            let osrtp = OsrtpFlags {
                offer: false,
                accept,
            };
            on_answer(&mut a, &mut b, &answer.media()[0], &f, osrtp);
            assert_eq!(a.sdes.send.is_some(), accept);
            assert_eq!(
                attributes(&a, false, FormatOptions::default()).len(),
                accept as usize
            );
        }
        // With a transport-protocol of RTP/AVP, OSRTP is dropped.
        let (mut a, mut b) = (side("RTP/AVP"), side(""));
        on_offer(
            &mut a,
            &mut b,
            &offer.media()[0],
            "RTP/AVP",
            true,
            &f,
            Default::default(),
        );
        assert!(b.sdes.our_offer.is_empty());
    }
}
