//! ICE (RFC 8445). For now only what the plain relay needs: recognising and removing ICE
//! attributes from SDP (`ICE=remove`). The sans-IO agent arrives with the WebRTC leg.

/// SDP attribute names that belong to ICE and are removed by `ICE=remove`.
pub const ICE_ATTRIBUTES: &[&str] = &[
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "candidate",
    "remote-candidates",
    "end-of-candidates",
];

/// Whether an SDP attribute name is ICE-specific.
pub fn is_ice_attribute(name: &str) -> bool {
    ICE_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name))
}
