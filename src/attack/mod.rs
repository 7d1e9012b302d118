//! `rtpbridge-attack`: an attack bench for NG-driven media relays (rtpbridge, rtpengine, ...).
//!
//! Each scenario sets up a call of its own through NG with two victim endpoints, lets them
//! talk, attacks the relay ports the SDP named from another source address, and measures
//! whether the call survived, how many attacker datagrams reached a victim (injected) and
//! how many victim packets reached the attacker (bled). [`matrix`] runs every scenario in
//! every learning mode with and without strict-source, against one relay or two side by
//! side.
//!
//! - [`packet`]: what victims and attacker send, and telling them apart on receipt.
//! - [`victim`]: a victim endpoint (plain RTP, DTLS-SRTP without ICE, or ICE-lite).
//! - [`scenario`]: one scenario run (setup, phases, measurement).
//! - [`daemon`]: starting rtpbridge or rtpengine per learning mode.
//! - [`matrix`]: the matrix and its table; [`cli`]: the binary's command line.
//! - [`spray`]: a ClientHello spray for tests whose call someone else drives (a browser).
//!
//! A tool, not part of the relay: it allocates freely.

pub mod cli;
pub mod daemon;
pub mod matrix;
pub mod packet;
pub mod scenario;
pub mod spray;
pub mod victim;

use std::io;

use crate::bench::BenchError;

#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("NG: {0}")]
    Ng(#[from] BenchError),
    #[error("daemon: {0}")]
    Daemon(String),
    #[error("call setup: {0}")]
    Setup(String),
    #[error("DTLS: {0}")]
    Dtls(String),
}
