//! ICE (RFC 8445) and the STUN (RFC 8489) it runs on.
//!
//! - [`stun`]: an allocation-free STUN codec for Binding requests and responses with
//!   short-term credentials (MESSAGE-INTEGRITY, FINGERPRINT, the ICE attributes).
//! - [`agent`]: a sans-IO ICE agent per media stream, full or lite, with consent freshness
//!   (RFC 7675). The media worker feeds it packets and time and sends what it polls out.
//! - [`ICE_ATTRIBUTES`]: what `ICE=remove` strips from SDP.
//!
//! This module owns no sockets and reads no clock; RTP never passes through it.

pub mod agent;
pub mod candidate;
pub mod stun;
#[cfg(test)]
mod test_oracle;

pub use agent::{Credentials, IceAgent, IceConfig, IceError, IceEvent, IceState, Transmit};
pub use candidate::{Candidate, CandidateType};

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
