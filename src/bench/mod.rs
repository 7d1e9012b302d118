//! `rtpbridge-bench`: a load generator and measuring tool for NG-driven media relays
//! (rtpbridge, rtpengine, or anything else that speaks the NG protocol), plus a minimal
//! relay ("floor") to compare against.
//!
//! - [`ng`]: a pipelining NG client (a window of outstanding requests, matched by cookie),
//!   plain calls and SDES calls (the caller's leg RTP/SAVP with an `a=crypto` key, the
//!   callee's plain RTP/AVP).
//! - [`load`]: the traffic engine: two UDP sockets shared by all calls, `sendmmsg` /
//!   `recvmmsg` batches, a send schedule spread evenly over the packet period, SRTP on the
//!   SDES leg (`crate::dtls::srtp`), and loss / reordering / latency accounting.
//! - [`floor`]: a single-threaded relay that answers offer/answer/delete and relays with
//!   symmetric latching and nothing else, on epoll or io_uring (optionally with batched
//!   wake-ups): what any relay has to pay the kernel, to compare against.
//! - [`histogram`], [`procstat`]: latency histograms and `/proc` CPU / RSS readings.
//! - [`cli`]: the command line of the `rtpbridge-bench` binary.
//!
//! The bench is a tool, not part of the relay: it may allocate freely outside its send and
//! receive loops.

pub mod cli;
pub mod floor;
pub mod histogram;
pub mod load;
pub mod ng;
pub mod procstat;

use std::io;

/// Everything that can stop a bench run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("usage: {0}")]
    Usage(String),
    #[error("NG: {0}")]
    Ng(String),
    #[error("NG request timed out after {0} tries")]
    NgTimeout(u32),
    #[error("server replied error: {0}")]
    ServerError(String),
    #[error("SDP in the reply: {0}")]
    Sdp(String),
    #[error("/proc: {0}")]
    Proc(String),
}
