//! Replies that describe calls: `query`, the statistics part of `delete`, and `statistics`,
//! in the shape rtpengine uses (see its ng_control_protocol documentation).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::model::{Call, MediaSide};
use super::Registry;
use crate::media::stats::Counters;
use crate::ng::bencode::OwnedValue;

fn int(v: u64) -> OwnedValue {
    OwnedValue::Int(v.min(i64::MAX as u64) as i64)
}

/// A formatted value, without copying the text once more.
fn text(v: impl ToString) -> OwnedValue {
    OwnedValue::bytes(v.to_string())
}

fn endpoint(a: SocketAddr) -> OwnedValue {
    OwnedValue::dict_with_capacity(3)
        .with(
            "family",
            OwnedValue::lit(if a.is_ipv4() { "IPv4" } else { "IPv6" }),
        )
        .with("address", text(a.ip()))
        .with("port", int(a.port() as u64))
}

fn counters(c: &Counters) -> OwnedValue {
    let s = c.snapshot();
    OwnedValue::dict_with_capacity(3)
        .with("packets", int(s.packets))
        .with("bytes", int(s.bytes))
        .with("errors", int(s.errors))
}

fn stream(side: &MediaSide, rtcp: bool, totals: &mut [u64; 6]) -> Option<OwnedValue> {
    let leg = side.leg.as_ref()?;
    let (learned_rtp, learned_rtcp) = leg.stats.learned();
    let advertised = if rtcp {
        side.desc.rtcp_endpoint()
    } else {
        side.desc.rtp_endpoint()
    };
    let current = if rtcp { learned_rtcp } else { learned_rtp }.or(advertised);
    let c = if rtcp {
        &leg.stats.rtcp
    } else {
        &leg.stats.rtp
    };
    let snap = c.snapshot();
    let base = if rtcp { 3 } else { 0 };
    totals[base] += snap.packets;
    totals[base + 1] += snap.bytes;
    totals[base + 2] += snap.errors;
    let mut d = OwnedValue::dict_with_capacity(9)
        .with(
            "local port",
            int(if rtcp { leg.rtcp_port } else { leg.port } as u64),
        )
        .with("local address", text(leg.address))
        .with(
            "family",
            OwnedValue::lit(if leg.address.is_ipv4() {
                "IPv4"
            } else {
                "IPv6"
            }),
        );
    if let Some(e) = current {
        d.push("endpoint", endpoint(e));
    }
    if let Some(e) = advertised {
        d.push("advertised endpoint", endpoint(e));
    }
    d.push("last packet", int(snap.last_packet));
    let mut flags = vec![OwnedValue::lit(if rtcp { "RTCP" } else { "RTP" })];
    if current.is_some() {
        flags.push(OwnedValue::lit("filled"));
    }
    if !rtcp && leg.stats.confirmed.load(Relaxed) {
        flags.push(OwnedValue::lit("confirmed"));
    }
    d.push("flags", OwnedValue::List(flags));
    if !rtcp && leg.stats.has_ssrc.load(Relaxed) {
        d.push("SSRC", int(leg.stats.ssrc.load(Relaxed) as u64));
    }
    d.push("stats", counters(c));
    Some(d)
}

/// The `query` reply body (also returned by `delete` when a from-tag is given).
pub fn call_stats(call: &Call) -> OwnedValue {
    let mut totals = [0u64; 6];
    let mut tags = OwnedValue::dict();
    for m in call.monologues.iter().filter(|m| !m.deleted) {
        let peer_tag = m
            .peer
            .and_then(|p| call.monologues.get(p))
            .map(|p| p.tag_str().to_string());
        let mut medias = Vec::new();
        for (i, side) in m.medias.iter().enumerate() {
            let mut streams = Vec::new();
            if let Some(s) = stream(side, false, &mut totals) {
                streams.push(s);
            }
            if !side.rtcp_mux {
                if let Some(s) = stream(side, true, &mut totals) {
                    streams.push(s);
                }
            }
            let mut md = OwnedValue::dict_with_capacity(6)
                .with("index", int(i as u64 + 1))
                .with("type", OwnedValue::str(&side.desc.kind))
                .with("protocol", OwnedValue::str(&side.desc.protocol));
            if let Some(c) = &side.desc.codec {
                md.push("codec", OwnedValue::str(c));
            }
            md.push("streams", OwnedValue::List(streams));
            let mut flags = vec![OwnedValue::lit("initialized")];
            let dir = side.desc.direction.as_deref().unwrap_or("sendrecv");
            if dir == "sendrecv" || dir == "sendonly" {
                flags.push(OwnedValue::lit("send"));
            }
            if dir == "sendrecv" || dir == "recvonly" {
                flags.push(OwnedValue::lit("recv"));
            }
            if side.rtcp_mux {
                flags.push(OwnedValue::lit("RTCP-mux"));
            }
            md.push("flags", OwnedValue::List(flags));
            medias.push(md);
        }
        let mut td = OwnedValue::dict_with_capacity(6)
            .with("tag", OwnedValue::str(m.tag_str()))
            .with("created", int(m.created));
        if let Some(l) = &m.label {
            td.push("label", OwnedValue::str(l));
        }
        if let Some(p) = peer_tag {
            let sub = OwnedValue::List(vec![OwnedValue::dict()
                .with("tag", OwnedValue::str(&p))
                .with("type", OwnedValue::lit("offer/answer"))]);
            td.push("subscriptions", sub.clone());
            td.push("subscribers", sub);
        }
        td.push("medias", OwnedValue::List(medias));
        tags.push(m.tag_str().to_string(), td);
    }
    let part = |b: usize| {
        OwnedValue::dict()
            .with("packets", int(totals[b]))
            .with("bytes", int(totals[b + 1]))
            .with("errors", int(totals[b + 2]))
    };
    OwnedValue::dict()
        .with("created", int(call.created))
        .with("created_us", int(call.created_us as u64))
        .with("last signal", int(call.last_signal))
        .with("SSRC", OwnedValue::dict())
        .with("tags", tags)
        .with(
            "totals",
            OwnedValue::dict()
                .with("RTP", part(0))
                .with("RTCP", part(3)),
        )
}

/// The `statistics` reply.
pub fn statistics(reg: &Registry, uptime: Duration) -> OwnedValue {
    let t = &reg.totals;
    let w = reg.media().totals();
    let sessions = reg.call_count() as u64;
    let current = OwnedValue::dict()
        .with("sessionsown", int(sessions))
        .with("sessionsforeign", int(0))
        .with("sessionstotal", int(sessions))
        .with("transcodedmedia", int(0))
        .with("packetrate", int(0))
        .with("byterate", int(0))
        .with("errorrate", int(0));
    let total = OwnedValue::dict()
        .with("uptime", OwnedValue::str(&uptime.as_secs().to_string()))
        .with("managedsessions", int(t.managed))
        .with("rejectedsessions", int(t.rejected))
        .with("timeoutsessions", int(t.timeout))
        .with("silenttimeoutsessions", int(t.silent_timeout))
        .with("finaltimeoutsessions", int(t.final_timeout))
        .with("offertimeoutsessions", int(0))
        .with("regularterminatedsessions", int(t.regular_terminated))
        .with("forcedterminatedsessions", int(t.forced_terminated))
        .with("relayedpackets", int(w.relayed))
        .with("relayedpacketerrors", int(w.send_errors))
        .with("zerowaystreams", int(0))
        .with("onewaystreams", int(0));
    let mut control = OwnedValue::dict();
    for (name, n) in [
        ("pingcount", "ping"),
        ("offercount", "offer"),
        ("answercount", "answer"),
        ("deletecount", "delete"),
        ("querycount", "query"),
        ("listcount", "list"),
        ("startreccount", "start recording"),
        ("stopreccount", "stop recording"),
        ("statistics", "statistics"),
    ] {
        control.push(name, int(t.commands.get(n).copied().unwrap_or(0)));
    }
    control.push("errorcount", int(t.errors));
    let drops = OwnedValue::dict()
        .with("received", int(w.received))
        .with("relayed", int(w.relayed))
        .with("relayedbytes", int(w.relayed_bytes))
        .with("malformed", int(w.dropped_malformed))
        .with("payloadtype", int(w.dropped_payload_type))
        .with("nodestination", int(w.dropped_no_destination))
        .with("sourcerejected", int(w.dropped_source))
        .with("loopprotect", int(w.dropped_loop))
        .with("idleport", int(w.dropped_idle_port))
        .with("srtpauth", int(w.dropped_srtp_auth))
        .with("srtpnokeys", int(w.dropped_no_keys))
        .with("stunreceived", int(w.stun_received))
        .with("stunrejected", int(w.dropped_stun))
        .with("dtlsreceived", int(w.dtls_received))
        .with("dtlssourcerejected", int(w.dropped_dtls_source))
        .with("dtlsrejected", int(w.dropped_dtls))
        .with("dtlsconnected", int(w.dtls_connected))
        .with("dtlsfailed", int(w.dtls_failed))
        .with("senderrors", int(w.send_errors));
    OwnedValue::dict()
        .with(
            "statistics",
            OwnedValue::dict()
                .with("currentstatistics", current)
                .with("totalstatistics", total)
                .with("controlstatistics", control)
                .with("mediastatistics", drops),
        )
        .with("result", OwnedValue::lit("ok"))
}
