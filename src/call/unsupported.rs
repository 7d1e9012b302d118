//! Options the NG parser understands but the call layer does not act on yet. Every one that a
//! request sets gets a warning line (logged with the call-id), so nothing is silently ignored.
//! Remove an entry here in the same change that makes it work.

use crate::ng::request::{IceMode, NgRequest};

/// Names of the options `req` sets that have no effect yet.
pub fn ignored_options(req: &NgRequest) -> Vec<&'static str> {
    let f = &req.flags;
    let mut v = Vec::new();
    let mut chk = |set: bool, name: &'static str| {
        if set {
            v.push(name);
        }
    };
    chk(f.unidirectional, "unidirectional");
    chk(f.no_port_latching, "no-port-latching");
    chk(f.generate_mid, "generate-mid");
    chk(f.asymmetric_codecs, "asymmetric-codecs");
    chk(f.allow_no_codec_media, "allow-no-codec-media");
    chk(f.allow_transcoding, "allow-transcoding");
    chk(f.force_transcoding, "force-transcoding");
    chk(f.reuse_codecs, "reuse-codecs");
    chk(f.static_codecs, "static-codecs");
    chk(f.reset, "reset");
    chk(f.no_jitter_buffer, "no-jitter-buffer");
    chk(f.trickle_ice, "trickle-ICE");
    chk(f.reject_ice, "reject-ICE");
    chk(f.inject_dtmf, "inject-DTMF");
    chk(f.detect_dtmf, "detect-DTMF");
    chk(f.block_dtmf, "block-DTMF");
    chk(f.block_egress, "block-egress");
    chk(f.block_short, "block-short");
    chk(f.passthrough, "passthrough");
    chk(f.no_passthrough, "no-passthrough");
    chk(f.pierce_nat, "pierce-NAT");
    chk(f.nat_wait, "NAT-wait");
    chk(f.directional, "directional");
    chk(f.bidirectional, "bidirectional");
    chk(f.inactive, "inactive");
    chk(f.early_media, "early-media");
    chk(f.fragment, "fragment");
    chk(f.new_branch, "new-branch");
    chk(f.no_tls_id, "no-TLS-ID");
    chk(f.provisional, "provisional");
    chk(f.recrypt, "recrypt");
    chk(f.rtcp_mirror, "RTCP-mirror");
    chk(f.discard_recording, "discard-recording");
    chk(f.exclude_recording, "exclude-recording");
    chk(f.skip_recording_db, "skip-recording-db");
    chk(f.egress, "egress");
    chk(f.webrtc, "webrtc");
    chk(
        matches!(
            req.ice,
            Some(IceMode::Force) | Some(IceMode::ForceRelay) | Some(IceMode::Optional)
        ),
        "ICE (only ICE=remove is implemented; ICE attributes are always removed)",
    );
    chk(req.ice_lite.is_some(), "ICE-lite");
    chk(req.dtls.is_some(), "DTLS");
    chk(
        req.osrtp.iter().any(|o| o.ends_with("-legacy")),
        "OSRTP offer-legacy/accept-legacy",
    );
    chk(req.tos.is_some(), "TOS");
    chk(req.output_destination.is_some(), "output-destination");
    chk(req.recording_dir.is_some(), "recording-dir");
    chk(req.recording_pattern.is_some(), "recording-pattern");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ng::bencode::decode;
    use crate::ng::request::parse_request;

    fn req(body: &[u8]) -> NgRequest {
        let v = decode(body).unwrap();
        parse_request(v.as_dict().unwrap()).unwrap()
    }

    #[test]
    fn plain_request_has_nothing_ignored() {
        let r = req(b"d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp3:v=05:flagsl13:trust-address9:symmetricee");
        assert!(ignored_options(&r).is_empty(), "{:?}", ignored_options(&r));
    }

    #[test]
    fn unimplemented_flags_are_named() {
        let r = req(b"d7:command5:offer7:call-id1:c8:from-tag1:f3:sdp3:v=03:ICE5:force5:flagsl10:pierce-NAT11:record-callee");
        let got = ignored_options(&r);
        assert!(got.iter().any(|g| g.starts_with("ICE")), "{got:?}");
        assert!(got.contains(&"pierce-NAT"), "{got:?}");
        // Recording is implemented.
        assert!(!got.iter().any(|g| g.starts_with("record-call")), "{got:?}");
    }
}
