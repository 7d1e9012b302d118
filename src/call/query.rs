//! Replies that describe calls: `query`, the statistics part of `delete`, and `statistics`,
//! in the shape rtpengine uses (see its ng_control_protocol documentation).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::model::{Call, MediaSide};
use super::Registry;
use crate::ng::bencode::{OwnedValue, Writer};
use crate::sdp::Direction;

fn int(v: u64) -> OwnedValue {
    OwnedValue::Int(v.min(i64::MAX as u64) as i64)
}

fn endpoint(w: &mut Writer, a: SocketAddr) {
    w.dict()
        .key("family")
        .str(if a.is_ipv4() { "IPv4" } else { "IPv6" })
        .key("address")
        .ip(a.ip())
        .key("port")
        .uint(u64::from(a.port()))
        .end();
}

/// A `{packets, bytes, errors}` dictionary (a stream's counters, or a total).
fn counters(w: &mut Writer, [packets, bytes, errors]: [u64; 3]) {
    w.dict()
        .key("packets")
        .uint(packets)
        .key("bytes")
        .uint(bytes)
        .key("errors")
        .uint(errors)
        .end();
}

/// Writes one stream (the RTP or RTCP half of a media side) of a `query` reply, if the side
/// has a leg, and adds its counters to `totals`.
fn stream(w: &mut Writer, side: &MediaSide, rtcp: bool, totals: &mut [u64; 6]) {
    let Some(leg) = side.leg.as_ref() else {
        return;
    };
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
    w.dict()
        .key("local port")
        .uint(u64::from(if rtcp { leg.rtcp_port } else { leg.port }))
        .key("local address")
        .ip(leg.address)
        .key("family")
        .str(if leg.address.is_ipv4() {
            "IPv4"
        } else {
            "IPv6"
        });
    if let Some(e) = current {
        endpoint(w.key("endpoint"), e);
    }
    if let Some(e) = advertised {
        endpoint(w.key("advertised endpoint"), e);
    }
    w.key("last packet").uint(snap.last_packet);
    w.key("flags").list().str(if rtcp { "RTCP" } else { "RTP" });
    if current.is_some() {
        w.str("filled");
    }
    if !rtcp && leg.stats.confirmed.load(Relaxed) {
        w.str("confirmed");
    }
    w.end();
    if !rtcp && leg.stats.has_ssrc.load(Relaxed) {
        w.key("SSRC").uint(u64::from(leg.stats.ssrc.load(Relaxed)));
    }
    counters(w.key("stats"), [snap.packets, snap.bytes, snap.errors]);
    w.end();
}

/// The `query` reply body (also returned by `delete` when a from-tag is given). Written
/// straight as bencode: built as a tree, its hundred-odd nodes were a tenth of the
/// control plane's time in offer+answer+delete cycles.
pub fn call_stats(call: &Call) -> OwnedValue {
    let mut totals = [0u64; 6];
    let mut w = Writer::with_capacity(1024);
    w.dict();
    for m in call.monologues.iter().filter(|m| !m.deleted) {
        w.key(m.tag_str())
            .dict()
            .key("tag")
            .str(m.tag_str())
            .key("created")
            .uint(m.created);
        if let Some(l) = &m.label {
            w.key("label").str(l);
        }
        if let Some(p) = m.peer.and_then(|p| call.monologues.get(p)) {
            for key in ["subscriptions", "subscribers"] {
                w.key(key)
                    .list()
                    .dict()
                    .key("tag")
                    .str(p.tag_str())
                    .key("type")
                    .str("offer/answer")
                    .end()
                    .end();
            }
        }
        w.key("medias").list();
        for (i, side) in m.medias.iter().enumerate() {
            w.dict()
                .key("index")
                .uint(i as u64 + 1)
                .key("type")
                .str(&side.desc.kind)
                .key("protocol")
                .str(&side.desc.protocol);
            if let Some(c) = &side.desc.codec {
                w.key("codec").str(c);
            }
            w.key("streams").list();
            stream(&mut w, side, false, &mut totals);
            if !side.rtcp_mux {
                stream(&mut w, side, true, &mut totals);
            }
            w.end();
            w.key("flags").list().str("initialized");
            let dir = side.desc.direction.map_or("sendrecv", Direction::as_str);
            if dir == "sendrecv" || dir == "sendonly" {
                w.str("send");
            }
            if dir == "sendrecv" || dir == "recvonly" {
                w.str("recv");
            }
            if side.rtcp_mux {
                w.str("RTCP-mux");
            }
            w.end().end();
        }
        w.end().end();
    }
    w.end();
    let tags = w.finish();
    let mut w = Writer::with_capacity(128);
    w.dict();
    for (name, b) in [("RTP", 0), ("RTCP", 3)] {
        counters(w.key(name), [totals[b], totals[b + 1], totals[b + 2]]);
    }
    w.end();
    let totals = w.finish();
    // `tags` is written before `totals` because it sums them; the reply keeps rtpengine's
    // key order all the same.
    OwnedValue::dict_with_capacity(7)
        .with("created", int(call.created))
        .with("created_us", int(call.created_us as u64))
        .with("last signal", int(call.last_signal))
        .with("SSRC", OwnedValue::dict())
        .with("tags", tags)
        .with("totals", totals)
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
