//! Command line and config file, compatible with rtpengine's (`[rtpengine]` ini section, same
//! long option names). Owns parsing only; it never opens sockets or starts threads.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// One `-i/--interface` entry: `ADDR`, `NAME/ADDR`, `ADDR!ADVERTISED`, `NAME/ADDR!ADVERTISED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Logical name (`default` when none given).
    pub name: String,
    /// Local address media sockets bind to.
    pub address: IpAddr,
    /// Address written into SDP instead of `address` (behind 1:1 NAT).
    pub advertised: Option<IpAddr>,
}

impl Interface {
    /// The address that goes into SDP.
    pub fn sdp_address(&self) -> IpAddr {
        self.advertised.unwrap_or(self.address)
    }
}

/// How a stream learns the remote endpoint it sends to (rtpengine's `--endpoint-learning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointLearning {
    #[default]
    Delayed,
    Immediate,
    Off,
    Heuristic,
}

/// The daemon's configuration after command line and config file are merged.
#[derive(Debug, Clone)]
pub struct Config {
    pub interfaces: Vec<Interface>,
    pub listen_ng: SocketAddr,
    pub listen_cli: Option<SocketAddr>,
    pub listen_udp: Option<SocketAddr>,
    pub port_min: u16,
    pub port_max: u16,
    pub foreground: bool,
    pub log_stderr: bool,
    pub log_level: u8,
    pub table: i32,
    /// Seconds without media before a call is torn down.
    pub timeout: u32,
    /// Seconds without media on a call that is on hold / one-way before it is torn down.
    pub silent_timeout: u32,
    /// Absolute call lifetime limit in seconds (0 = none).
    pub final_timeout: u32,
    /// Seconds a deleted call lingers (answers retransmits, keeps stats) before it is freed.
    pub delete_delay: u32,
    pub endpoint_learning: EndpointLearning,
    pub pidfile: Option<PathBuf>,
    /// Media worker threads (0 = one per core).
    pub num_threads: usize,
    /// One line per accepted-but-unimplemented option, logged at start-up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interfaces: vec![Interface {
                name: "default".into(),
                address: IpAddr::V4(Ipv4Addr::LOCALHOST),
                advertised: None,
            }],
            listen_ng: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2223),
            listen_cli: None,
            listen_udp: None,
            port_min: 30000,
            port_max: 40000,
            foreground: false,
            log_stderr: false,
            log_level: 5,
            table: -1,
            timeout: 60,
            silent_timeout: 3600,
            final_timeout: 0,
            delete_delay: 30,
            endpoint_learning: EndpointLearning::Delayed,
            pidfile: None,
            num_threads: 0,
            warnings: Vec::new(),
        }
    }
}
