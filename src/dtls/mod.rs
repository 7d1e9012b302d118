//! DTLS-SRTP, SRTP and SDES: the crypto stages of the WebRTC and SRTP legs. Each is a sans-IO
//! piece; the media worker drives them.
//!
//! - [`srtp`]: SRTP/SRTCP protect and unprotect, in place (RFC 3711, 6188, 7714).
//! - [`sdes`]: SDES `a=crypto` lines (RFC 4568) and rtpengine's offer/answer suite choice.
//! - [`dtls`]: DTLS-SRTP handshakes (sans-IO, OpenSSL), the daemon certificate, fingerprints.

#[allow(clippy::module_inception)]
pub mod dtls;
pub mod sdes;
pub mod srtp;

/// SDP attribute names that carry DTLS/SDES state.
pub const CRYPTO_ATTRIBUTES: &[&str] = &["fingerprint", "setup", "tls-id", "crypto"];
