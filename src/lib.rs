//! rtpbridge: a media relay driven by rtpengine's NG control protocol.
//!
//! The crate layout follows the packet and command pipeline:
//! - [`config`]: command line and rtpengine-compatible ini config file.
//! - [`ng`]: the NG control protocol (bencode codec, messages, flags, UDP transport).
//! - [`sdp`]: a line-preserving SDP model and the rewriting rtpengine does.
//! - [`call`]: the call registry and offer/answer model (monologues, medias, tags).
//! - [`media`]: port pool, worker threads that own the sockets, the relay pipeline.
//! - [`ice`], [`dtls`], [`codec`], [`recording`]: stages a packet or command passes through.

pub mod attack;
pub mod bench;
pub mod call;
pub mod codec;
pub mod config;
pub mod dtls;
pub mod ice;
pub mod media;
pub mod ng;
pub mod recording;
pub mod sdp;
