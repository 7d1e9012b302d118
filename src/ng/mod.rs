//! The NG control protocol: `<cookie> <bencoded dict>` datagrams from the SIP proxy.
//! Owns the wire format, the request model and command dispatch; never touches media sockets.
//!
//! - [`bencode`]: zero-copy codec; dictionaries keep arrival order and duplicate keys.
//! - [`message`]: datagram framing (cookie, body), reply encoding, [`NgError`].
//! - [`cookie_cache`]: replies kept by cookie, to answer retransmissions without re-running them.
//! - [`request`]: a decoded dictionary turned into a typed [`NgRequest`] (keys, `flags`,
//!   `rtpp-flags`), with warnings for unknown or unsupported options.
//!
//! A datagram goes `split_datagram` → `decode_body` → `parse_request`; every step is
//! sans-IO and never panics on input.

pub mod bencode;
pub mod cookie_cache;
pub mod message;
pub mod mmsg;
pub mod request;
pub mod udp;

pub use message::NgError;
pub use request::{parse_request, NgRequest};
