//! DTLS-SRTP and SRTP. Not implemented yet: the plain relay only needs to know which SDP
//! attributes belong here so that it can pass them through or strip them like rtpengine.
//!
//! - [`srtp`]: SRTP/SRTCP protect and unprotect, in place (RFC 3711, 6188, 7714).
//! - [`sdes`]: SDES `a=crypto` lines (RFC 4568) and rtpengine's offer/answer suite choice.

pub mod sdes;
pub mod srtp;

/// SDP attribute names that carry DTLS/SDES state.
pub const CRYPTO_ATTRIBUTES: &[&str] = &["fingerprint", "setup", "tls-id", "crypto"];
