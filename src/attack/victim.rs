//! A victim endpoint: sends a 50 pps RTP stream to its relay port and counts what comes
//! back, by origin. Plain RTP, or DTLS-SRTP without ICE (the project's own
//! [`DtlsEndpoint`] as the client, [`SrtpContext`] both ways), or plain RTP with an
//! ICE-lite responder that answers the relay's connectivity checks.

use std::net::SocketAddr;
use std::time::Instant;

use crate::dtls::dtls::{srtp_contexts, DtlsCert, DtlsEndpoint, DtlsEvent, DtlsRole, Fingerprint};
use crate::dtls::srtp::SrtpContext;
use crate::ice::stun::{self, Class, Message, MessageWriter, METHOD_BINDING};

use super::packet::{self, Origin, Rtp, VICTIM_TAG};
use super::AttackError;

/// ICE-lite credentials of a victim (`a=ice-ufrag`, `a=ice-pwd`).
#[derive(Debug, Clone)]
pub struct IceLite {
    pub ufrag: String,
    pub pwd: String,
    /// Checks from the relay that we answered.
    pub answered: u32,
}

/// DTLS-SRTP state of a victim.
pub struct Dtls {
    pub endpoint: DtlsEndpoint,
    pub tx: Option<SrtpContext>,
    pub rx: Option<SrtpContext>,
    pub failed: Option<String>,
}

impl Dtls {
    pub fn client(now: Instant, cert: &DtlsCert, relay: Fingerprint) -> Result<Dtls, AttackError> {
        let endpoint = DtlsEndpoint::new(now, DtlsRole::Client, cert, Some(relay))
            .map_err(|e| AttackError::Dtls(e.to_string()))?;
        Ok(Dtls {
            endpoint,
            tx: None,
            rx: None,
            failed: None,
        })
    }

    pub fn connected(&self) -> bool {
        self.tx.is_some() && self.rx.is_some()
    }

    /// Drains the endpoint's events: keys become SRTP contexts (we are the client: we send
    /// with the client key).
    fn events(&mut self) {
        while let Some(ev) = self.endpoint.poll_event() {
            match ev {
                DtlsEvent::Connected {
                    profile,
                    client_key,
                    client_salt,
                    server_key,
                    server_salt,
                } => {
                    match srtp_contexts(
                        self.endpoint.role(),
                        profile,
                        (&client_key, &client_salt),
                        (&server_key, &server_salt),
                    ) {
                        Ok((rx, tx)) => {
                            self.tx = Some(tx);
                            self.rx = Some(rx);
                        }
                        Err(e) => self.failed = Some(e.to_string()),
                    }
                }
                DtlsEvent::Failed(e) => self.failed = Some(e.to_string()),
                DtlsEvent::Closed => self.failed = Some("closed by the relay".into()),
            }
        }
    }
}

/// What one receiving socket of a victim got.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Indices of the other victim's packets, as received (duplicates included).
    pub from_victim: Vec<u32>,
    pub from_attacker: u64,
    /// Datagrams that were none of ours (or failed SRTP).
    pub other: u64,
}

pub struct Victim {
    pub side: u8,
    /// Where we send: the relay port our SDP answer/offer reply named.
    pub dest: SocketAddr,
    pub ssrc: u32,
    seq: u16,
    ts: u32,
    /// Packets sent so far (the next index).
    pub sent: u32,
    pub dtls: Option<Dtls>,
    pub ice: Option<IceLite>,
}

impl Victim {
    pub fn new(side: u8, dest: SocketAddr, ssrc: u32) -> Victim {
        Victim {
            side,
            dest,
            ssrc,
            seq: (ssrc >> 16) as u16,
            ts: ssrc,
            sent: 0,
            dtls: None,
            ice: None,
        }
    }

    /// Whether media can flow (DTLS, if any, is up).
    pub fn ready(&self) -> bool {
        self.dtls.as_ref().is_none_or(Dtls::connected)
    }

    /// The next packet of the stream (SRTP-protected on a DTLS leg); `None` before DTLS is
    /// up.
    pub fn next_packet(&mut self) -> Option<Vec<u8>> {
        if !self.ready() {
            return None;
        }
        let h = Rtp {
            ssrc: self.ssrc,
            seq: self.seq,
            ts: self.ts,
        };
        let mut p = packet::rtp(h, VICTIM_TAG, self.side, self.sent, packet::PAYLOAD);
        if let Some(ctx) = self.dtls.as_mut().and_then(|d| d.tx.as_mut()) {
            let len = p.len();
            p.resize(len + ctx.rtp_overhead(), 0);
            match ctx.protect_rtp(&mut p, len) {
                Ok(n) => p.truncate(n),
                Err(_) => return None,
            }
        }
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        self.sent += 1;
        Some(p)
    }

    /// Handles one datagram that arrived on one of our sockets; DTLS and STUN replies to
    /// send go into `out`.
    pub fn on_datagram(
        &mut self,
        now: Instant,
        data: &mut [u8],
        from: SocketAddr,
        rx: &mut Received,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        let Some(&first) = data.first() else { return };
        if first < 4 && stun::is_stun(data) {
            self.on_stun(data, from, rx, out);
            return;
        }
        if (20..64).contains(&first) {
            // DTLS from the relay. A forwarded ClientHello is the attacker's.
            if data.len() > 13 && first == 22 && data[13] == 1 {
                rx.from_attacker += 1;
                return;
            }
            if let Some(d) = self.dtls.as_mut() {
                let _ = d.endpoint.handle_packet(now, data);
                d.events();
                while let Some(t) = d.endpoint.poll_transmit() {
                    out.push((t, self.dest));
                }
            } else {
                rx.other += 1;
            }
            return;
        }
        let len = match self.dtls.as_mut().and_then(|d| d.rx.as_mut()) {
            Some(ctx) => {
                let rtcp = data.len() > 1 && (192..=223).contains(&data[1]);
                let r = if rtcp {
                    ctx.unprotect_rtcp(data)
                } else {
                    ctx.unprotect_rtp(data)
                };
                match r {
                    Ok(n) => n,
                    Err(_) => {
                        rx.other += 1;
                        return;
                    }
                }
            }
            None => data.len(),
        };
        match packet::origin(&data[..len]) {
            Origin::Victim { side, index } if side != self.side => rx.from_victim.push(index),
            Origin::Attacker => rx.from_attacker += 1,
            _ => rx.other += 1,
        }
    }

    /// ICE-lite: answers a check that carries our password; anything else is counted.
    fn on_stun(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        rx: &mut Received,
        out: &mut Vec<(Vec<u8>, SocketAddr)>,
    ) {
        if packet::origin(data) == Origin::Attacker {
            rx.from_attacker += 1;
            return;
        }
        let (Some(ice), Ok(msg)) = (self.ice.as_mut(), Message::parse(data)) else {
            rx.other += 1;
            return;
        };
        if msg.class() != Class::Request
            || msg.method() != METHOD_BINDING
            || !msg.verify_integrity(ice.pwd.as_bytes())
        {
            rx.other += 1;
            return;
        }
        let mut buf = Vec::with_capacity(128);
        let mut w = MessageWriter::new(
            &mut buf,
            Class::Success,
            METHOD_BINDING,
            msg.transaction_id(),
        );
        let ok = w
            .xor_mapped_address(from)
            .and_then(|w| w.message_integrity(ice.pwd.as_bytes()))
            .and_then(|w| w.fingerprint())
            .is_ok();
        if ok {
            ice.answered += 1;
            out.push((buf, from));
        }
    }

    /// DTLS retransmissions that are due, into `out`.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<(Vec<u8>, SocketAddr)>) {
        if let Some(d) = self.dtls.as_mut() {
            if d.endpoint.poll_timeout().is_some_and(|t| t <= now) {
                d.endpoint.handle_timeout(now);
            }
            d.events();
            while let Some(t) = d.endpoint.poll_transmit() {
                out.push((t, self.dest));
            }
        }
    }
}
