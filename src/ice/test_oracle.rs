//! `stun_codec`, an independent STUN implementation, as a test oracle: its attribute set for
//! ICE (RFC 5389 plus RFC 5245 attributes) and helpers.

use bytecodec::{DecodeExt, EncodeExt};
pub use stun_codec::rfc5245::attributes::{IceControlled, IceControlling, Priority, UseCandidate};
pub use stun_codec::rfc5389::attributes::{
    ErrorCode, Fingerprint, MessageIntegrity, Software, UnknownAttributes, Username,
    XorMappedAddress,
};
pub use stun_codec::{MessageClass, TransactionId};

stun_codec::define_attribute_enums!(
    Attr,
    AttrDecoder,
    AttrEncoder,
    [
        Username,
        MessageIntegrity,
        ErrorCode,
        UnknownAttributes,
        XorMappedAddress,
        Software,
        Fingerprint,
        Priority,
        UseCandidate,
        IceControlled,
        IceControlling
    ]
);

pub type OracleMessage = stun_codec::Message<Attr>;

/// Decodes with stun_codec (which also checks FINGERPRINT when present).
pub fn decode(bytes: &[u8]) -> OracleMessage {
    stun_codec::MessageDecoder::<Attr>::new()
        .decode_from_bytes(bytes)
        .expect("stun_codec decode")
        .expect("stun_codec: broken message")
}

/// Adds MESSAGE-INTEGRITY (short-term, `pwd`) and FINGERPRINT, then encodes.
pub fn seal(mut m: OracleMessage, pwd: &str) -> Vec<u8> {
    let mi = MessageIntegrity::new_short_term_credential(&m, pwd).unwrap();
    m.add_attribute(Attr::MessageIntegrity(mi));
    let fp = Fingerprint::new(&m).unwrap();
    m.add_attribute(Attr::Fingerprint(fp));
    stun_codec::MessageEncoder::new()
        .encode_into_bytes(m)
        .unwrap()
}
