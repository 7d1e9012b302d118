//! DTLS-SRTP and SRTP. Not implemented yet: the plain relay only needs to know which SDP
//! attributes belong here so that it can pass them through or strip them like rtpengine.
//! - [`dtls`]: DTLS-SRTP handshakes (sans-IO, OpenSSL), the daemon certificate, fingerprints.

#[allow(clippy::module_inception)]
pub mod dtls;

/// SDP attribute names that carry DTLS/SDES state.
pub const CRYPTO_ATTRIBUTES: &[&str] = &["fingerprint", "setup", "tls-id", "crypto"];
