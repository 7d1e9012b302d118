//! Command line and config file, compatible with rtpengine's (`[rtpengine]` ini section, same
//! long option names). Owns parsing only; it never opens sockets or starts threads. The few
//! things it needs from the system (reading the config file, listing interface addresses for
//! `-i any` / `-i NAME/eth0`, resolving host names) go through [`ConfigEnv`].
//!
//! Entry point: [`parse_args`] (or [`parse_args_with`] with another [`ConfigEnv`]).
//!
//! Precedence follows rtpengine: built-in defaults, then the config file section, then the
//! command line. A repeatable option given on the command line replaces the file's list.
//! Every rtpengine 10.5 option is accepted; the ones rtpbridge does not implement add one line
//! each to [`Config::warnings`].
//!
//! The parser is hand-written rather than built on `clap`: rtpengine uses glib's option syntax
//! (a value option swallows the next argument even when it starts with `-`, as in `-t -1`;
//! grouped short options take their values from the following arguments, `-Lf 7`), the config
//! file must map onto the same option table with per-kind value rules, and ~140 options only
//! need to be recognised and reported. A table plus a small tokenizer does this exactly.

mod cli;
mod env;
mod ini;
mod options;
#[cfg(test)]
mod test_env;
mod values;

pub use env::{ConfigEnv, SystemAddress, SystemEnv, DEFAULT_CONFIG_FILE};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use options::{Kind, OptSpec};

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

/// How a media worker waits for and moves packets (`--io-engine`, rtpbridge only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoEngine {
    /// mio readiness (epoll), one `recvfrom` and one `sendto` per packet.
    Epoll,
    /// io_uring: multishot receives and batched sends (falls back to epoll where the
    /// kernel refuses io_uring). The default.
    #[default]
    Uring,
}

/// The daemon's configuration after command line and config file are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub interfaces: Vec<Interface>,
    pub listen_ng: SocketAddr,
    /// Second NG socket rtpengine also binds: `[::]:PORT` when only a port was given (bind it
    /// with IPV6_V6ONLY next to `0.0.0.0:PORT`), or a host name's second address.
    pub listen_ng_alt: Option<SocketAddr>,
    pub listen_cli: Option<SocketAddr>,
    /// Second CLI socket, same rules as `listen_ng_alt`.
    pub listen_cli_alt: Option<SocketAddr>,
    pub listen_udp: Option<SocketAddr>,
    /// Second legacy-UDP socket, same rules as `listen_ng_alt`.
    pub listen_udp_alt: Option<SocketAddr>,
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
    /// `--wakeup-batch-us`: after a wake-up that handled packets, a media worker waits this
    /// many microseconds before it polls again, so that each wake-up handles a batch (fewer
    /// wake-ups per packet, at most this much added latency). Only a wake-up that found more
    /// than one socket ready counts as busy (io_uring: the kernel's minimum wait; epoll: a
    /// sleep). Unset: off for both engines; neither saved CPU in the measurements, and both
    /// raised latency (see README, Performance).
    pub wakeup_batch_us: Option<u32>,
    /// `--warm-ports`: port pairs per media worker (and local address) whose sockets stay
    /// open after their call ends, taken first by the next calls. 0 closes every port at
    /// delete, as rtpengine does.
    pub warm_ports: u32,
    /// `--dtls-cert-cipher=RSA` (else ECDSA P-256) and `--dtls-rsa-key-size`.
    pub dtls_cert_rsa: bool,
    pub dtls_rsa_bits: u32,
    /// `--io-engine`: epoll (default) or io_uring media workers.
    pub io_engine: IoEngine,
    /// `--recording-dir`: call recording is on when set (see `recording`).
    pub recording_dir: Option<PathBuf>,
    /// `--recording-method` (`pcap`/`proc`), kept as given.
    pub recording_method: Option<String>,
    /// `--recording-format` (`raw`/`eth`), kept as given.
    pub recording_format: Option<String>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// One line per accepted-but-unimplemented option, logged at start-up (plus a line per
    /// ignored config file key or stray argument, which rtpengine ignores silently).
    pub warnings: Vec<String>,
}

impl Config {
    /// The key type of the daemon's DTLS certificate.
    pub fn dtls_cert_kind(&self) -> crate::dtls::dtls::CertKind {
        if self.dtls_cert_rsa {
            crate::dtls::dtls::CertKind::Rsa(self.dtls_rsa_bits)
        } else {
            crate::dtls::dtls::CertKind::EcdsaP256
        }
    }
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
            listen_ng_alt: None,
            listen_cli: None,
            listen_cli_alt: None,
            listen_udp: None,
            listen_udp_alt: None,
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
            wakeup_batch_us: None,
            warm_ports: crate::media::WARM_PAIRS as u32,
            dtls_cert_rsa: false,
            dtls_rsa_bits: 2048,
            io_engine: IoEngine::Uring,
            recording_dir: None,
            recording_method: None,
            recording_format: None,
            config_file: None,
            warnings: Vec::new(),
        }
    }
}

/// Why no [`Config`] came out. `Help` and `Version` are not failures: print the text to stdout
/// and exit 0 (see [`ConfigError::is_exit_success`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// `-h`/`--help`: the usage text.
    #[error("{0}")]
    Help(String),
    /// `-v`/`--version`: the version line.
    #[error("{0}")]
    Version(String),
    /// An option rtpengine 10.5 does not have (as spelled on the command line).
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("option --{option} requires a value")]
    MissingValue { option: String },
    /// A flag given a value that is not a boolean.
    #[error("option --{option} takes no value (got '{value}')")]
    UnexpectedValue { option: String, value: String },
    #[error("invalid value '{value}' for option --{option}: {reason}")]
    InvalidValue {
        option: String,
        value: String,
        reason: String,
    },
    #[error("--port-min ({min}) is greater than --port-max ({max})")]
    PortRange { min: u16, max: u16 },
    #[error("too many command line arguments (more than {0})")]
    TooManyArguments(usize),
    #[error("cannot read config file {}: {reason}", path.display())]
    ConfigFileRead { path: PathBuf, reason: String },
    #[error("config file {}, line {line}: {reason}", path.display())]
    ConfigFileSyntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("config file {} has no [{section}] section", path.display())]
    MissingSection { path: PathBuf, section: String },
}

impl ConfigError {
    /// `true` for `Help` and `Version`: print and exit with status 0.
    pub fn is_exit_success(&self) -> bool {
        matches!(self, ConfigError::Help(_) | ConfigError::Version(_))
    }
}

/// The version line printed for `-v`.
pub fn version_text() -> String {
    format!(
        "rtpbridge {} (rtpengine 10.5 compatible)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Parse the command line (`args` without the program name) and the config file it selects,
/// using the real system (see [`SystemEnv`]).
pub fn parse_args<I, S>(args: I) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    parse_args_with(args, &SystemEnv)
}

/// [`parse_args`] with the system access supplied by the caller.
pub fn parse_args_with<I, S>(args: I, env: &dyn ConfigEnv) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let cli = cli::tokenize(args)?;
    if cli.help {
        return Err(ConfigError::Help(options::help_text()));
    }
    if cli.flag("version") {
        return Err(ConfigError::Version(version_text()));
    }

    let mut settings = Settings::default();
    let mut warnings = Vec::new();

    // The config file: `--config-file` (must exist, `none` = no file) or the default one (read
    // only if it exists).
    let section = cli.last_value("config-section").unwrap_or("rtpengine");
    let (path, required) = match cli.last_value("config-file") {
        Some("none") => (None, false),
        Some(p) => (Some(PathBuf::from(p)), true),
        None => (env.default_config_file(), false),
    };
    let mut config_file = None;
    if let Some(path) = path {
        match env.read_file(&path) {
            Ok(text) => {
                load_file(&text, &path, section, &mut settings, &mut warnings)?;
                config_file = Some(path);
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConfigError::ConfigFileRead {
                    path,
                    reason: e.to_string(),
                })
            }
        }
    }

    // The command line overrides the file; a list given on the command line replaces the file's.
    let mut cli_lists: Vec<&'static str> = Vec::new();
    for opt in &cli.opts {
        let spec = opt.spec;
        let value = match (spec.kind, opt.value.as_deref()) {
            (Kind::Flag, _) => Value::Flag(opt.flag),
            (_, None) => {
                return Err(ConfigError::MissingValue {
                    option: spec.long.to_string(),
                })
            }
            (Kind::List, Some(v)) => {
                let item = v.trim_end_matches(' ').to_string();
                if cli_lists.contains(&spec.long) {
                    settings.push_item(spec, item);
                } else {
                    cli_lists.push(spec.long);
                    settings.set(spec, Value::List(vec![item]));
                }
                continue;
            }
            (Kind::Int, Some(v)) => {
                Value::Int(cli_int(spec, v, i64::from(i32::MIN), i64::from(i32::MAX))?)
            }
            (Kind::Int64, Some(v)) => Value::Int(cli_int(spec, v, i64::MIN, i64::MAX)?),
            (Kind::Double, Some(v)) => Value::Double(
                values::parse_double(v).ok_or_else(|| invalid(spec, v, "not a number"))?,
            ),
            (Kind::Str, Some(v)) => Value::Str(v.trim_end_matches(' ').to_string()),
        };
        settings.set(spec, value);
    }

    let mut cfg = build(&settings, env, &mut warnings)?;
    for p in &cli.positional {
        warnings.push(format!(
            "ignoring command line argument '{p}' (not an option)"
        ));
    }
    cfg.config_file = config_file;
    cfg.warnings = warnings;
    Ok(cfg)
}

/// A typed option value.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Flag(bool),
    Int(i64),
    Double(f64),
    Str(String),
    List(Vec<String>),
}

/// The merged settings: one value per option, in order of first appearance.
#[derive(Debug, Default)]
struct Settings {
    entries: Vec<(&'static OptSpec, Value)>,
}

impl Settings {
    fn set(&mut self, spec: &'static OptSpec, value: Value) {
        match self.entries.iter_mut().find(|(s, _)| s.long == spec.long) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((spec, value)),
        }
    }

    fn push_item(&mut self, spec: &'static OptSpec, item: String) {
        match self.entries.iter_mut().find(|(s, _)| s.long == spec.long) {
            Some((_, Value::List(items))) => items.push(item),
            _ => self.set(spec, Value::List(vec![item])),
        }
    }
}

fn invalid(spec: &OptSpec, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        option: spec.long.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn cli_int(spec: &OptSpec, v: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    let n = values::parse_cli_int(v).ok_or_else(|| invalid(spec, v, "not an integer"))?;
    if n < min || n > max {
        return Err(invalid(spec, v, "integer out of range"));
    }
    Ok(n)
}

/// Read the chosen section of a config file into `settings`.
fn load_file(
    text: &str,
    path: &std::path::Path,
    section: &str,
    settings: &mut Settings,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let file = ini::IniFile::parse(text).map_err(|e| ConfigError::ConfigFileSyntax {
        path: path.to_path_buf(),
        line: e.line,
        reason: e.reason,
    })?;
    let entries = file
        .section(section)
        .ok_or_else(|| ConfigError::MissingSection {
            path: path.to_path_buf(),
            section: section.to_string(),
        })?;
    for e in entries {
        let Some(spec) = options::by_long(&e.key) else {
            warnings.push(format!(
                "config file key '{}' (line {}) is not an rtpengine option; ignored",
                e.key, e.line
            ));
            continue;
        };
        if options::is_parser_control(spec) {
            continue;
        }
        let bad = |reason: &str| ConfigError::InvalidValue {
            option: spec.long.to_string(),
            value: e.value.clone(),
            reason: format!("{reason} (config file {}, line {})", path.display(), e.line),
        };
        let value = match spec.kind {
            Kind::Flag => Value::Flag(
                ini::parse_bool(&e.value).ok_or_else(|| bad("not a boolean (true/false)"))?,
            ),
            Kind::Int => {
                let n = ini::parse_int(&e.value).ok_or_else(|| bad("not an integer"))?;
                if i32::try_from(n).is_err() {
                    return Err(bad("integer out of range"));
                }
                Value::Int(n)
            }
            Kind::Int64 => {
                Value::Int(ini::parse_int(&e.value).ok_or_else(|| bad("not an integer"))?)
            }
            Kind::Double => {
                Value::Double(values::parse_double(&e.value).ok_or_else(|| bad("not a number"))?)
            }
            Kind::Str => Value::Str(
                ini::unescape(&e.value)
                    .map_err(|r| bad(&r))?
                    .trim_end_matches(' ')
                    .to_string(),
            ),
            Kind::List => Value::List(ini::split_list(&e.value).map_err(|r| bad(&r))?),
        };
        settings.set(spec, value);
    }
    Ok(())
}

fn int_in(spec: &OptSpec, n: i64, lo: i64, hi: i64) -> Result<i64, ConfigError> {
    if n < lo || n > hi {
        return Err(invalid(
            spec,
            &n.to_string(),
            format!("must be between {lo} and {hi}"),
        ));
    }
    Ok(n)
}

fn port(spec: &OptSpec, n: i64) -> Result<u16, ConfigError> {
    let p = int_in(spec, n, 1, 65535)?;
    u16::try_from(p).map_err(|_| invalid(spec, &n.to_string(), "not a port number"))
}

/// Turn the merged settings into a `Config`.
fn build(
    settings: &Settings,
    env: &dyn ConfigEnv,
    warnings: &mut Vec<String>,
) -> Result<Config, ConfigError> {
    let mut cfg = Config::default();
    for (spec, value) in &settings.entries {
        let spec: &OptSpec = spec;
        match (spec.long, value) {
            ("version" | "config-file" | "config-section", _) => {}
            ("table", Value::Int(n)) => {
                cfg.table = int_in(spec, *n, i64::from(i32::MIN), i64::from(i32::MAX))? as i32
            }
            ("interface", Value::List(items)) => {
                let mut list = Vec::new();
                for item in items {
                    list.extend(
                        values::parse_interface(item, env).map_err(|r| invalid(spec, item, r))?,
                    );
                }
                if list.is_empty() {
                    return Err(invalid(spec, "", "no interface given"));
                }
                cfg.interfaces = list;
            }
            ("listen-ng", Value::Str(s)) => {
                let (a, b) = values::parse_listen(s, env).map_err(|r| invalid(spec, s, r))?;
                cfg.listen_ng = a;
                cfg.listen_ng_alt = b;
            }
            ("listen-cli", Value::Str(s)) => {
                let (a, b) = values::parse_listen(s, env).map_err(|r| invalid(spec, s, r))?;
                cfg.listen_cli = Some(a);
                cfg.listen_cli_alt = b;
            }
            ("listen-udp", Value::Str(s)) => {
                let (a, b) = values::parse_listen(s, env).map_err(|r| invalid(spec, s, r))?;
                cfg.listen_udp = Some(a);
                cfg.listen_udp_alt = b;
            }
            ("port-min", Value::Int(n)) => cfg.port_min = port(spec, *n)?,
            ("port-max", Value::Int(n)) => cfg.port_max = port(spec, *n)?,
            ("foreground", Value::Flag(b)) => cfg.foreground = *b,
            ("log-stderr", Value::Flag(b)) => cfg.log_stderr = *b,
            ("log-level", Value::Int(n)) => cfg.log_level = int_in(spec, *n, 0, 7)? as u8,
            // rtpengine replaces non-positive timeouts by their defaults.
            ("timeout", Value::Int(n)) => cfg.timeout = if *n <= 0 { 60 } else { clamp_u32(*n) },
            ("silent-timeout", Value::Int(n)) => {
                cfg.silent_timeout = if *n <= 0 { 3600 } else { clamp_u32(*n) }
            }
            ("final-timeout", Value::Int(n)) => cfg.final_timeout = clamp_u32((*n).max(0)),
            ("delete-delay", Value::Int(n)) => {
                cfg.delete_delay = int_in(spec, *n, 0, i64::from(i32::MAX))? as u32
            }
            ("endpoint-learning", Value::Str(s)) => {
                cfg.endpoint_learning = match s.to_ascii_lowercase().as_str() {
                    "delayed" => EndpointLearning::Delayed,
                    "immediate" => EndpointLearning::Immediate,
                    "off" => EndpointLearning::Off,
                    "heuristic" => EndpointLearning::Heuristic,
                    _ => {
                        return Err(invalid(
                            spec,
                            s,
                            "expected delayed, immediate, off or heuristic",
                        ))
                    }
                }
            }
            ("pidfile", Value::Str(s)) => {
                if s.is_empty() {
                    return Err(invalid(spec, s, "empty file name"));
                }
                cfg.pidfile = Some(PathBuf::from(s));
            }
            // rtpengine: zero or negative means "one per core".
            ("num-threads", Value::Int(n)) => cfg.num_threads = usize::try_from(*n).unwrap_or(0),
            ("dtls-cert-cipher", Value::Str(s)) => {
                cfg.dtls_cert_rsa = match s.to_ascii_lowercase().as_str() {
                    "prime256v1" => false,
                    "rsa" => true,
                    _ => return Err(invalid(spec, s, "prime256v1 or RSA")),
                };
            }
            ("dtls-rsa-key-size", Value::Int(n)) => {
                cfg.dtls_rsa_bits = u32::try_from(*n)
                    .ok()
                    .filter(|b| (1024..=8192).contains(b))
                    .ok_or_else(|| invalid(spec, &n.to_string(), "1024 to 8192 bits"))?;
            }
            ("wakeup-batch-us", Value::Int(n)) => {
                cfg.wakeup_batch_us = Some(
                    u32::try_from(*n)
                        .ok()
                        .filter(|n| *n <= 10_000)
                        .ok_or_else(|| invalid(spec, &n.to_string(), "0 to 10000 microseconds"))?,
                );
            }
            ("warm-ports", Value::Int(n)) => {
                cfg.warm_ports = u32::try_from(*n)
                    .ok()
                    .filter(|n| *n <= 32_768)
                    .ok_or_else(|| invalid(spec, &n.to_string(), "0 to 32768 port pairs"))?;
            }
            ("io-engine", Value::Str(s)) => {
                cfg.io_engine = match s.to_ascii_lowercase().as_str() {
                    "epoll" => IoEngine::Epoll,
                    "uring" | "io_uring" | "io-uring" => IoEngine::Uring,
                    _ => return Err(invalid(spec, s, "expected epoll or uring")),
                }
            }
            ("recording-dir", Value::Str(s)) => {
                cfg.recording_dir = (!s.is_empty()).then(|| PathBuf::from(s));
            }
            ("recording-method", Value::Str(s)) => {
                cfg.recording_method = (!s.is_empty()).then(|| s.clone());
                // Only `pcap` is implemented (`proc` needs rtpengine's kernel module).
                if !s.is_empty() && s != "pcap" {
                    warnings.push(not_implemented(spec));
                }
            }
            ("recording-format", Value::Str(s)) => {
                // Checked (raw|eth) when the recorder starts, as rtpengine does.
                cfg.recording_format = (!s.is_empty()).then(|| s.clone());
            }
            // Kinds always match for implemented options; nothing else to do.
            _ if spec.implemented => {}
            (_, Value::Flag(false)) => {}
            _ => warnings.push(not_implemented(spec)),
        }
    }
    if cfg.port_min > cfg.port_max {
        return Err(ConfigError::PortRange {
            min: cfg.port_min,
            max: cfg.port_max,
        });
    }
    Ok(cfg)
}

fn clamp_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn not_implemented(spec: &OptSpec) -> String {
    format!(
        "option --{} is accepted for compatibility but not implemented; ignored",
        spec.long
    )
}

#[cfg(test)]
mod tests {
    use super::test_env::{fixture, FakeEnv};
    use super::*;
    use std::net::Ipv6Addr;

    fn sa(s: &str) -> SocketAddr {
        s.parse().expect("test socket address")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn iface(name: &str, addr: &str, adv: Option<&str>) -> Interface {
        Interface {
            name: name.into(),
            address: ip(addr),
            advertised: adv.map(ip),
        }
    }

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        parse_args_with(args, &FakeEnv::new())
    }

    fn ok(args: &[&str]) -> Config {
        match parse(args) {
            Ok(c) => c,
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    fn warned_options(cfg: &Config) -> Vec<String> {
        cfg.warnings
            .iter()
            .filter_map(|w| {
                w.strip_prefix("option --")
                    .and_then(|r| {
                        r.strip_suffix(
                            " is accepted for compatibility but not implemented; ignored",
                        )
                    })
                    .map(str::to_string)
            })
            .collect()
    }

    const RTPENGINE_TEST_LINE: &str =
        "--config-file=none -t -1 -i 203.0.113.1 -i 2001:db8:4321::1 \
        -n 2223 -c 12345 -f -L 7 -E -u 2222 --silence-detect=1 --log-level-internals=7";

    #[test]
    fn no_arguments_gives_defaults() {
        assert_eq!(ok(&[]), Config::default());
        let d = Config::default();
        assert_eq!(d.interfaces, vec![iface("default", "127.0.0.1", None)]);
        assert_eq!(d.listen_ng, sa("127.0.0.1:2223"));
        assert_eq!((d.port_min, d.port_max), (30000, 40000));
    }

    #[test]
    fn rtpengine_test_suite_command_line() {
        let args: Vec<&str> = RTPENGINE_TEST_LINE.split_whitespace().collect();
        let cfg = ok(&args);
        assert_eq!(cfg.table, -1);
        assert_eq!(
            cfg.interfaces,
            vec![
                iface("default", "203.0.113.1", None),
                iface("default", "2001:db8:4321::1", None)
            ]
        );
        assert_eq!(cfg.listen_ng, sa("0.0.0.0:2223"));
        assert_eq!(cfg.listen_ng_alt, Some(sa("[::]:2223")));
        assert_eq!(cfg.listen_cli, Some(sa("0.0.0.0:12345")));
        assert_eq!(cfg.listen_udp, Some(sa("0.0.0.0:2222")));
        assert!(cfg.foreground && cfg.log_stderr);
        assert_eq!(cfg.log_level, 7);
        assert_eq!(cfg.config_file, None);
        assert_eq!(
            warned_options(&cfg),
            vec!["silence-detect", "log-level-internals"]
        );
        assert_eq!(cfg.warnings.len(), 2);
    }

    #[test]
    fn rtpengine_test_suite_variants() {
        let base = "--config-file=none -t -1 -n 2223 -c 12345 -f -L 7 -E -u 2222";
        let cases: &[(&str, &[&str])] = &[
            (
                "-i foo/203.0.113.1 -i bar/2001:db8:4321::1 --silence-detect=1",
                &["silence-detect"],
            ),
            (
                "-i foo/203.0.113.1 -i foo/2001:db8:4321::1 -i bar/203.0.113.2 \
                 -i bar/2001:db8:4321::2 --silence-detect=1",
                &["silence-detect"],
            ),
            (
                "-i 203.0.113.1 --silence-detect=1 --dtx-delay=10 --dtx-cn-params=10",
                &["silence-detect", "dtx-delay", "dtx-cn-params"],
            ),
            (
                "-i 203.0.113.1 --dtx-delay=10 --dtx-cn-params=10 --jitter-buffer=10",
                &["dtx-delay", "dtx-cn-params", "jitter-buffer"],
            ),
            ("-i 203.0.113.1", &[]),
        ];
        for (extra, want) in cases {
            let line = format!("{base} {extra}");
            let args: Vec<&str> = line.split_whitespace().collect();
            let cfg = ok(&args);
            assert_eq!(warned_options(&cfg), *want, "{line}");
            assert_eq!(cfg.warnings.len(), want.len(), "{line}");
        }
        let cfg = ok(&["-i", "foo/203.0.113.1", "-i", "bar/2001:db8:4321::1"]);
        assert_eq!(
            cfg.interfaces,
            vec![
                iface("foo", "203.0.113.1", None),
                iface("bar", "2001:db8:4321::1", None)
            ]
        );
    }

    #[test]
    fn implemented_option_forms() {
        type Check = fn(&Config) -> bool;
        let cases: &[(&[&str], Check)] = &[
            (&["-t", "-1"], |c| c.table == -1),
            (&["--table=-1"], |c| c.table == -1),
            (&["--table", "-1"], |c| c.table == -1),
            (&["-t-1"], |c| c.table == -1),
            (&["-t", "0"], |c| c.table == 0),
            (&["--table=0x10"], |c| c.table == 16),
            (&["-L7"], |c| c.log_level == 7),
            (&["-L", "0"], |c| c.log_level == 0),
            (&["--log-level=3"], |c| c.log_level == 3),
            (&["--log-level", "6"], |c| c.log_level == 6),
            (&["-n2223"], |c| {
                c.listen_ng == "0.0.0.0:2223".parse::<SocketAddr>().unwrap()
            }),
            (&["-n", "127.0.0.1:2224"], |c| {
                c.listen_ng == "127.0.0.1:2224".parse::<SocketAddr>().unwrap()
                    && c.listen_ng_alt.is_none()
            }),
            (&["--listen-ng=[::1]:2225"], |c| {
                c.listen_ng == "[::1]:2225".parse::<SocketAddr>().unwrap()
            }),
            (&["--listen-ng", "::1:2226"], |c| {
                c.listen_ng == "[::1]:2226".parse::<SocketAddr>().unwrap()
            }),
            (&["-m", "1000", "-M", "2000"], |c| {
                (c.port_min, c.port_max) == (1000, 2000)
            }),
            (&["--port-min=1000", "--port-max=1000"], |c| {
                c.port_min == 1000 && c.port_max == 1000
            }),
            (&["-m030000"], |c| c.port_min == 0o30000),
            (&["-f"], |c| c.foreground),
            (&["--foreground"], |c| c.foreground),
            (&["--foreground=false"], |c| !c.foreground),
            (&["-E"], |c| c.log_stderr),
            (&["--log-stderr"], |c| c.log_stderr),
            (&["-fE"], |c| c.foreground && c.log_stderr),
            (&["-c", "9900"], |c| {
                c.listen_cli == Some("0.0.0.0:9900".parse::<SocketAddr>().unwrap())
            }),
            (&["--listen-cli=127.0.0.1:9900"], |c| {
                c.listen_cli == Some("127.0.0.1:9900".parse::<SocketAddr>().unwrap())
                    && c.listen_cli_alt.is_none()
            }),
            (&["-u", "2222"], |c| {
                c.listen_udp == Some("0.0.0.0:2222".parse::<SocketAddr>().unwrap())
                    && c.listen_udp_alt == Some("[::]:2222".parse::<SocketAddr>().unwrap())
            }),
            (&["--listen-udp=localhost:2222"], |c| {
                c.listen_udp == Some("127.0.0.1:2222".parse::<SocketAddr>().unwrap())
                    && c.listen_udp_alt == Some("[::1]:2222".parse::<SocketAddr>().unwrap())
            }),
            (&["--timeout=30"], |c| c.timeout == 30),
            (&["-o", "45"], |c| c.timeout == 45),
            (&["--timeout=0"], |c| c.timeout == 60),
            (&["--timeout=-5"], |c| c.timeout == 60),
            (&["--silent-timeout=100"], |c| c.silent_timeout == 100),
            (&["-s", "0"], |c| c.silent_timeout == 3600),
            (&["--final-timeout=10800"], |c| c.final_timeout == 10800),
            (&["-a", "-1"], |c| c.final_timeout == 0),
            (&["--delete-delay=0"], |c| c.delete_delay == 0),
            (&["-d", "12"], |c| c.delete_delay == 12),
            (&["--endpoint-learning=delayed"], |c| {
                c.endpoint_learning == EndpointLearning::Delayed
            }),
            (&["--endpoint-learning=immediate"], |c| {
                c.endpoint_learning == EndpointLearning::Immediate
            }),
            (&["--endpoint-learning", "off"], |c| {
                c.endpoint_learning == EndpointLearning::Off
            }),
            (&["--endpoint-learning=Heuristic"], |c| {
                c.endpoint_learning == EndpointLearning::Heuristic
            }),
            (&["--io-engine=uring"], |c| c.io_engine == IoEngine::Uring),
            (&[], |c| c.io_engine == IoEngine::Uring),
            (&["--io-engine", "epoll"], |c| {
                c.io_engine == IoEngine::Epoll
            }),
            (&["--pidfile=/run/x.pid"], |c| {
                c.pidfile == Some(PathBuf::from("/run/x.pid"))
            }),
            (&["-p", "/run/y.pid"], |c| {
                c.pidfile == Some(PathBuf::from("/run/y.pid"))
            }),
            (&["--num-threads=4"], |c| c.num_threads == 4),
            (&["--wakeup-batch-us=150"], |c| {
                c.wakeup_batch_us == Some(150)
            }),
            (&["--wakeup-batch-us=0"], |c| c.wakeup_batch_us == Some(0)),
            (&[], |c| c.wakeup_batch_us.is_none() && !c.dtls_cert_rsa),
            (&["--warm-ports=0"], |c| c.warm_ports == 0),
            (&[], |c| c.warm_ports == 256),
            (
                &["--dtls-rsa-key-size=4096", "--dtls-cert-cipher=RSA"],
                |c| c.dtls_cert_kind() == crate::dtls::dtls::CertKind::Rsa(4096),
            ),
            (&["--dtls-cert-cipher=prime256v1"], |c| {
                c.dtls_cert_kind() == crate::dtls::dtls::CertKind::EcdsaP256
            }),
            (&["--num-threads=0"], |c| c.num_threads == 0),
            (&["--num-threads=-2"], |c| c.num_threads == 0),
            (&["-L", "3", "-L", "5"], |c| c.log_level == 5),
            (&["stray"], |c| {
                c.warnings == ["ignoring command line argument 'stray' (not an option)"]
            }),
        ];
        for (args, check) in cases {
            let cfg = ok(args);
            assert!(check(&cfg), "{args:?} -> {cfg:?}");
            if !args.contains(&"stray") {
                assert!(cfg.warnings.is_empty(), "{args:?}: {:?}", cfg.warnings);
            }
        }
    }

    #[test]
    fn interface_forms() {
        type Expected<'a> = &'a [(&'a str, &'a str, Option<&'a str>)];
        let cases: &[(&str, Expected)] = &[
            ("203.0.113.1", &[("default", "203.0.113.1", None)]),
            ("2001:db8:4321::1", &[("default", "2001:db8:4321::1", None)]),
            ("[2001:db8::7]", &[("default", "2001:db8::7", None)]),
            ("pub/192.0.2.67", &[("pub", "192.0.2.67", None)]),
            ("pub:1/192.0.2.67", &[("pub:1", "192.0.2.67", None)]),
            (
                "10.65.76.2!192.0.2.4",
                &[("default", "10.65.76.2", Some("192.0.2.4"))],
            ),
            (
                "ext/10.0.0.1!2001:db8::4",
                &[("ext", "10.0.0.1", Some("2001:db8::4"))],
            ),
            (
                "ext/10.0.0.1!media.example.net",
                &[("ext", "10.0.0.1", Some("192.0.2.50"))],
            ),
            (
                "int/eth0",
                &[("int", "192.0.2.10", None), ("int", "2001:db8::10", None)],
            ),
            (
                "eth1!203.0.113.7",
                &[("default", "198.51.100.20", Some("203.0.113.7"))],
            ),
            (
                "any",
                &[
                    ("default", "192.0.2.10", None),
                    ("default", "2001:db8::10", None),
                    ("default", "198.51.100.20", None),
                ],
            ),
            (
                "media.example.net",
                &[
                    ("default", "192.0.2.50", None),
                    ("default", "2001:db8::50", None),
                ],
            ),
            ("  192.0.2.1 ", &[("default", "192.0.2.1", None)]),
        ];
        for (spec, want) in cases {
            let cfg = ok(&["-i", spec]);
            let want: Vec<Interface> = want.iter().map(|(n, a, v)| iface(n, a, *v)).collect();
            assert_eq!(cfg.interfaces, want, "{spec}");
        }
        // Repeatable, order kept.
        let cfg = ok(&[
            "-i",
            "a/192.0.2.1",
            "--interface=b/192.0.2.2",
            "-ic/192.0.2.3",
        ]);
        let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(cfg.interfaces[0].sdp_address(), ip("192.0.2.1"));
        let nat = ok(&["-i", "10.0.0.1!192.0.2.9"]);
        assert_eq!(nat.interfaces[0].sdp_address(), ip("192.0.2.9"));
    }

    #[test]
    fn bad_interfaces() {
        for spec in [
            "",
            "300.1.2.3",
            "foo/",
            "/192.0.2.1",
            "0.0.0.0",
            "::",
            "192.0.2.1!",
            "192.0.2.1!0.0.0.0",
            "192.0.2.1!nowhere.invalid",
            "eth2",
            "no-such-if",
            "2001:db8::zz",
        ] {
            match parse(&["-i", spec]) {
                Err(ConfigError::InvalidValue { option, value, .. }) => {
                    assert_eq!(option, "interface", "{spec}");
                    assert_eq!(value, spec, "{spec}");
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
        let mut env = FakeEnv::new();
        env.ifaces.retain(|a| a.loopback);
        assert!(matches!(
            parse_args_with(["-i", "any"], &env),
            Err(ConfigError::InvalidValue { .. })
        ));
    }

    #[test]
    fn listen_forms() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("2223", "0.0.0.0:2223", Some("[::]:2223")),
            ("127.0.0.1:2223", "127.0.0.1:2223", None),
            ("0.0.0.0:2223", "0.0.0.0:2223", None),
            ("[::1]:2223", "[::1]:2223", None),
            ("[2001:db8::1]:5060", "[2001:db8::1]:5060", None),
            ("localhost:2223", "127.0.0.1:2223", Some("[::1]:2223")),
            ("v4only.example.net:2223", "192.0.2.60:2223", None),
            ("65535", "0.0.0.0:65535", Some("[::]:65535")),
        ];
        for (value, primary, alt) in cases {
            let cfg = ok(&["-n", value]);
            assert_eq!(cfg.listen_ng, sa(primary), "{value}");
            assert_eq!(cfg.listen_ng_alt, alt.map(sa), "{value}");
        }
        for bad in [
            "0",
            "65536",
            "abc",
            "1.2.3.4",
            "127.0.0.1:0",
            "127.0.0.1:",
            ":2223",
            "127.0.0.1:http",
            "nowhere.invalid:2223",
            "",
        ] {
            match parse(&["--listen-ng", bad]) {
                Err(ConfigError::InvalidValue { option, value, .. }) => {
                    assert_eq!((option.as_str(), value.as_str()), ("listen-ng", bad));
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    /// A value of the right syntax for each kind, for the exhaustive tests.
    fn sample_value(kind: Kind) -> &'static str {
        match kind {
            Kind::Flag => "",
            Kind::Int | Kind::Int64 => "10",
            Kind::Double => "0.5",
            Kind::Str => "something",
            Kind::List => "10",
        }
    }

    #[test]
    fn every_unimplemented_option_is_accepted_with_one_warning() {
        for spec in options::OPTIONS.iter().filter(|o| !o.implemented) {
            let long_forms: Vec<Vec<String>> = if spec.kind == Kind::Flag {
                vec![vec![format!("--{}", spec.long)]]
            } else {
                let v = sample_value(spec.kind);
                vec![
                    vec![format!("--{}={v}", spec.long)],
                    vec![format!("--{}", spec.long), v.to_string()],
                    // Given twice: still one warning.
                    vec![
                        format!("--{}={v}", spec.long),
                        format!("--{}={v}", spec.long),
                    ],
                ]
            };
            for args in long_forms {
                let cfg = parse(&args.iter().map(String::as_str).collect::<Vec<_>>())
                    .unwrap_or_else(|e| panic!("{args:?}: {e}"));
                assert_eq!(warned_options(&cfg), vec![spec.long], "{args:?}");
                assert_eq!(cfg.warnings.len(), 1, "{args:?}");
            }
        }
    }

    #[test]
    fn unimplemented_short_options() {
        let cases: &[(&[&str], &str)] = &[
            (&["-F"], "no-fallback"),
            (&["-S"], "save-interface-ports"),
            (&["-k", "3"], "subscribe-keyspace"),
            (&["-l", "25060"], "listen-tcp"),
            (&["-N", "2224"], "listen-tcp-ng"),
            (&["-g", "127.0.0.1:9006"], "graphite"),
            (&["-G", "60"], "graphite-interval"),
            (&["-T", "184"], "tos"),
            (&["-r", "127.0.0.1:6379/5"], "redis"),
            (&["-w", "pw@127.0.0.1:6379/6"], "redis-write"),
            (&["-q"], "no-redis-required"),
            (&["-y", "1"], "redis-delete-async"),
            (&["-b", "http://127.0.0.1:8090/"], "b2b-url"),
            (&["-x", "2"], "xmlrpc-format"),
            (&["-T184"], "tos"),
        ];
        for (args, long) in cases {
            let cfg = ok(args);
            assert_eq!(warned_options(&cfg), vec![*long], "{args:?}");
        }
    }

    #[test]
    fn flags_set_to_false_do_not_warn() {
        let cfg = ok(&["--no-fallback=false", "--codecs=0"]);
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    }

    #[test]
    fn recording_options_are_kept() {
        let cfg = ok(&[
            "--recording-dir=/var/spool/rtpbridge",
            "--recording-method",
            "pcap",
            "--recording-format=eth",
        ]);
        assert_eq!(
            cfg.recording_dir,
            Some(PathBuf::from("/var/spool/rtpbridge"))
        );
        assert_eq!(cfg.recording_method.as_deref(), Some("pcap"));
        assert_eq!(cfg.recording_format.as_deref(), Some("eth"));
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        // `proc` is not implemented.
        let cfg = ok(&["--recording-method=proc"]);
        assert_eq!(warned_options(&cfg), vec!["recording-method"]);
    }

    #[test]
    fn errors() {
        fn invalid_for(opt: &str) -> impl Fn(&ConfigError) -> bool + '_ {
            move |e| matches!(e, ConfigError::InvalidValue { option, .. } if option == opt)
        }
        type Check = Box<dyn Fn(&ConfigError) -> bool>;
        let cases: Vec<(&[&str], Check)> = vec![
            (
                &["--bogus"],
                Box::new(|e| *e == ConfigError::UnknownOption("--bogus".into())),
            ),
            (
                &["--interfaces-config=x"],
                Box::new(|e| matches!(e, ConfigError::UnknownOption(_))),
            ),
            (
                &["-Z"],
                Box::new(|e| *e == ConfigError::UnknownOption("-Z".into())),
            ),
            (
                &["-t"],
                Box::new(|e| {
                    *e == ConfigError::MissingValue {
                        option: "table".into(),
                    }
                }),
            ),
            (&["--table=abc"], Box::new(invalid_for("table"))),
            (
                &["--dtls-cert-cipher=DSA"],
                Box::new(invalid_for("dtls-cert-cipher")),
            ),
            (
                &["--dtls-rsa-key-size=100"],
                Box::new(invalid_for("dtls-rsa-key-size")),
            ),
            (
                &["--wakeup-batch-us=99999"],
                Box::new(invalid_for("wakeup-batch-us")),
            ),
            (&["--warm-ports=-1"], Box::new(invalid_for("warm-ports"))),
            (&["--table="], Box::new(invalid_for("table"))),
            (&["-t=-1"], Box::new(invalid_for("table"))),
            (&["--table=99999999999"], Box::new(invalid_for("table"))),
            (&["-L", "8"], Box::new(invalid_for("log-level"))),
            (&["-L", "-1"], Box::new(invalid_for("log-level"))),
            // `x` is itself a short option, so glib's reading applies: -L takes the next argument.
            (
                &["-Lx"],
                Box::new(|e| {
                    *e == ConfigError::MissingValue {
                        option: "log-level".into(),
                    }
                }),
            ),
            (&["-Lz"], Box::new(invalid_for("log-level"))),
            (&["-m", "0"], Box::new(invalid_for("port-min"))),
            (&["-M", "65536"], Box::new(invalid_for("port-max"))),
            (&["-m", "-5"], Box::new(invalid_for("port-min"))),
            (
                &["-m", "40001"],
                Box::new(|e| {
                    *e == ConfigError::PortRange {
                        min: 40001,
                        max: 40000,
                    }
                }),
            ),
            (
                &["-m", "5000", "-M", "4000"],
                Box::new(|e| {
                    *e == ConfigError::PortRange {
                        min: 5000,
                        max: 4000,
                    }
                }),
            ),
            (
                &["--endpoint-learning=sometimes"],
                Box::new(invalid_for("endpoint-learning")),
            ),
            (
                &["--delete-delay=-1"],
                Box::new(invalid_for("delete-delay")),
            ),
            (&["--pidfile="], Box::new(invalid_for("pidfile"))),
            (&["--timeout=1.5"], Box::new(invalid_for("timeout"))),
            (&["--dtx-delay=abc"], Box::new(invalid_for("dtx-delay"))),
            (
                &["--silence-detect=loud"],
                Box::new(invalid_for("silence-detect")),
            ),
            (
                &["--max-bandwidth=lots"],
                Box::new(invalid_for("max-bandwidth")),
            ),
            (
                &["--foreground=maybe"],
                Box::new(|e| {
                    *e == ConfigError::UnexpectedValue {
                        option: "foreground".into(),
                        value: "maybe".into(),
                    }
                }),
            ),
            (
                &["--config-file=/nonexistent.conf"],
                Box::new(|e| matches!(e, ConfigError::ConfigFileRead { .. })),
            ),
        ];
        for (args, check) in cases {
            match parse(args) {
                Err(e) => assert!(check(&e), "{args:?}: {e:?}"),
                Ok(cfg) => panic!("{args:?} parsed: {cfg:?}"),
            }
        }
        // The one 64-bit option takes values beyond 32 bits.
        assert_eq!(
            warned_options(&ok(&["--max-bandwidth=10000000000"])),
            vec!["max-bandwidth"]
        );
    }

    #[test]
    fn error_messages_name_option_and_value() {
        let e = parse(&["--port-min=abc"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value 'abc' for option --port-min: not an integer"
        );
        let e = parse(&["-i", "300.1.2.3"]).unwrap_err().to_string();
        assert!(e.contains("--interface") && e.contains("300.1.2.3"), "{e}");
        assert_eq!(
            parse(&["--nope"]).unwrap_err().to_string(),
            "unknown option --nope"
        );
        assert!(!e.is_empty());
    }

    #[test]
    fn help_and_version() {
        for args in [&["-h"][..], &["--help"], &["-f", "--help", "--bogus"]] {
            match parse(args) {
                Err(e @ ConfigError::Help(_)) => {
                    assert!(e.is_exit_success());
                    assert!(e.to_string().contains("--listen-ng"));
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        for args in [&["-v"][..], &["--version"], &["-fv"]] {
            match parse(args) {
                Err(e @ ConfigError::Version(_)) => {
                    assert!(e.is_exit_success());
                    assert!(e.to_string().starts_with("rtpbridge "));
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert!(!ConfigError::UnknownOption("-x".into()).is_exit_success());
    }

    #[test]
    fn config_file_basic() {
        let path = fixture("basic.conf");
        let arg = format!("--config-file={}", path.display());
        let cfg = ok(&[&arg]);
        assert_eq!(cfg.config_file, Some(path.clone()));
        assert_eq!(cfg.table, 0);
        assert_eq!(
            cfg.interfaces,
            vec![
                iface("internal", "10.0.0.5", None),
                iface("external", "192.0.2.5", Some("203.0.113.5")),
            ]
        );
        assert_eq!(cfg.listen_ng, sa("127.0.0.1:22222"));
        assert_eq!(cfg.listen_cli, Some(sa("127.0.0.1:9900")));
        assert_eq!(cfg.listen_udp, None);
        assert_eq!(
            (
                cfg.timeout,
                cfg.silent_timeout,
                cfg.final_timeout,
                cfg.delete_delay
            ),
            (90, 1800, 7200, 5)
        );
        assert_eq!((cfg.port_min, cfg.port_max), (20000, 29999));
        assert_eq!(cfg.endpoint_learning, EndpointLearning::Heuristic);
        assert_eq!(cfg.log_level, 6);
        assert!(cfg.foreground);
        assert!(!cfg.log_stderr);
        assert_eq!(cfg.pidfile, Some(PathBuf::from("/run/rtpbridge.pid")));
        assert_eq!(cfg.num_threads, 8);
        assert_eq!(warned_options(&cfg), vec!["tos"]);

        // Another section.
        let cfg = ok(&[&arg, "--config-section=testing"]);
        assert_eq!(cfg.table, -1);
        assert_eq!(cfg.interfaces, vec![iface("default", "203.0.113.1", None)]);
        assert_eq!(cfg.listen_ng, sa("0.0.0.0:2223"));
        assert!(cfg.foreground && cfg.log_stderr);
        assert_eq!(cfg.log_level, 7);
        assert!(cfg.warnings.is_empty());

        // `--config-file PATH` form.
        let cfg = ok(&["--config-file", path.to_str().unwrap()]);
        assert_eq!(cfg.port_min, 20000);
    }

    #[test]
    fn command_line_overrides_file() {
        let path = fixture("basic.conf");
        let arg = format!("--config-file={}", path.display());
        let cfg = ok(&[
            &arg,
            "-i",
            "198.51.100.1",
            "-i",
            "x/198.51.100.2",
            "-m",
            "21000",
            "-L",
            "2",
            "--endpoint-learning=off",
            "-n",
            "2223",
            "--tos=0",
        ]);
        // The command line list replaces the file list entirely.
        assert_eq!(
            cfg.interfaces,
            vec![
                iface("default", "198.51.100.1", None),
                iface("x", "198.51.100.2", None)
            ]
        );
        assert_eq!(cfg.port_min, 21000);
        assert_eq!(cfg.port_max, 29999, "not overridden, from the file");
        assert_eq!(cfg.log_level, 2);
        assert_eq!(cfg.endpoint_learning, EndpointLearning::Off);
        assert_eq!(cfg.listen_ng, sa("0.0.0.0:2223"));
        assert_eq!(cfg.timeout, 90, "from the file");
        // tos from file and from command line: one warning.
        assert_eq!(warned_options(&cfg), vec!["tos"]);
        // The merged port range is what is checked.
        assert_eq!(
            parse(&[&arg, "-M", "19999"]).unwrap_err(),
            ConfigError::PortRange {
                min: 20000,
                max: 19999
            }
        );
    }

    #[test]
    fn config_file_escapes_lists_and_unknown_keys() {
        let arg = format!("--config-file={}", fixture("escapes.conf").display());
        let cfg = ok(&[&arg]);
        assert_eq!(
            cfg.interfaces,
            vec![iface("a", "192.0.2.1", None), iface("b", "192.0.2.2", None)]
        );
        assert_eq!(cfg.table, 5);
        assert_eq!(
            warned_options(&cfg),
            vec![
                "cn-payload",
                "log-mark-prefix",
                "mysql-query",
                "save-interface-ports"
            ]
        );
        assert_eq!(cfg.warnings.len(), 5, "{:?}", cfg.warnings);
        assert!(
            cfg.warnings[0].contains("'not-an-option'"),
            "{:?}",
            cfg.warnings
        );
    }

    #[test]
    fn config_file_like_the_packaged_one() {
        let arg = format!("--config-file={}", fixture("sample-like.conf").display());
        let cfg = ok(&[&arg]);
        assert_eq!(
            cfg.interfaces,
            vec![
                iface("default", "192.0.2.10", None),
                iface("default", "2001:db8::10", None),
                iface("default", "198.51.100.20", None),
            ]
        );
        assert_eq!(cfg.listen_ng, sa("127.0.0.1:2223"));
        assert_eq!(
            cfg.listen_ng_alt,
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 2223))
        );
        assert_eq!(cfg.listen_cli, Some(sa("127.0.0.1:2224")));
        assert_eq!(
            cfg.recording_dir,
            Some(PathBuf::from("/var/spool/rtpengine"))
        );
        assert_eq!(cfg.recording_method.as_deref(), Some("proc"));
        assert_eq!(
            warned_options(&cfg),
            vec!["listen-http", "tos", "recording-method"]
        );
    }

    #[test]
    fn config_file_errors() {
        let syntax = fixture("bad-syntax.conf");
        match parse(&[&format!("--config-file={}", syntax.display())]) {
            Err(ConfigError::ConfigFileSyntax { path, line, .. }) => {
                assert_eq!((path, line), (syntax, 3));
            }
            other => panic!("{other:?}"),
        }
        let value = fixture("bad-value.conf");
        match parse(&[&format!("--config-file={}", value.display())]) {
            Err(ConfigError::InvalidValue {
                option,
                value,
                reason,
            }) => {
                assert_eq!((option.as_str(), value.as_str()), ("port-min", "lots"));
                assert!(reason.contains("line 3"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // A bad file value is an error even when the command line overrides it (as rtpengine).
        assert!(parse(&[&format!("--config-file={}", value.display()), "-m", "1000"]).is_err());
        // Missing section.
        let basic = fixture("basic.conf");
        assert_eq!(
            parse(&[
                &format!("--config-file={}", basic.display()),
                "--config-section=nope"
            ])
            .unwrap_err(),
            ConfigError::MissingSection {
                path: basic,
                section: "nope".into()
            }
        );
        let env = FakeEnv::new()
            .with_file("/etc/x.conf", "[rtpengine]\nforeground = sometimes\n")
            .with_file("/etc/y.conf", "[rtpengine]\ninterface = 192.0.2.1;bogus!\n")
            .with_file("/etc/z.conf", "[rtpengine]\nlog-mark-prefix = a\\qb\n")
            .with_file("/etc/w.conf", "[rtpengine]\ntable = 99999999999\n");
        for (file, option) in [
            ("/etc/x.conf", "foreground"),
            ("/etc/y.conf", "interface"),
            ("/etc/z.conf", "log-mark-prefix"),
            ("/etc/w.conf", "table"),
        ] {
            match parse_args_with([format!("--config-file={file}")], &env) {
                Err(ConfigError::InvalidValue { option: o, .. }) => assert_eq!(o, option),
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn default_config_file_is_optional() {
        let text = "[rtpengine]\nport-min = 31000\nforeground = true\n";
        let env = FakeEnv::new()
            .with_default("/etc/rtpengine/rtpengine.conf")
            .with_file("/etc/rtpengine/rtpengine.conf", text);
        let cfg = parse_args_with(Vec::<String>::new(), &env).unwrap();
        assert_eq!(cfg.port_min, 31000);
        assert!(cfg.foreground);
        assert_eq!(
            cfg.config_file,
            Some(PathBuf::from("/etc/rtpengine/rtpengine.conf"))
        );
        // `none` suppresses it.
        let cfg = parse_args_with(["--config-file=none"], &env).unwrap();
        assert_eq!(cfg, Config::default());
        // A default file that does not exist is not an error.
        let env = FakeEnv::new().with_default("/etc/rtpengine/rtpengine.conf");
        assert_eq!(
            parse_args_with(Vec::<String>::new(), &env).unwrap(),
            Config::default()
        );
        // A named file that does not exist is.
        assert!(matches!(
            parse_args_with(["--config-file=/etc/rtpengine/rtpengine.conf"], &env),
            Err(ConfigError::ConfigFileRead { .. })
        ));
        // The default file must still have the section.
        let env = FakeEnv::new()
            .with_default("/d.conf")
            .with_file("/d.conf", "[other]\n");
        assert!(matches!(
            parse_args_with(Vec::<String>::new(), &env),
            Err(ConfigError::MissingSection { .. })
        ));
    }

    #[test]
    fn file_flags_and_cli_flags() {
        let env = FakeEnv::new().with_file(
            "/f.conf",
            "[rtpengine]\nforeground = true\nlog-stderr = 1\nno-fallback = true\n",
        );
        let cfg = parse_args_with(["--config-file=/f.conf"], &env).unwrap();
        assert!(cfg.foreground && cfg.log_stderr);
        assert_eq!(warned_options(&cfg), vec!["no-fallback"]);
        // `--flag=false` on the command line turns a file's `true` off.
        let cfg = parse_args_with(
            [
                "--config-file=/f.conf",
                "--foreground=false",
                "--no-fallback=false",
            ],
            &env,
        )
        .unwrap();
        assert!(!cfg.foreground);
        assert!(cfg.warnings.is_empty());
    }

    #[test]
    fn file_keys_that_steer_the_parser_are_ignored() {
        let env = FakeEnv::new().with_file(
            "/g.conf",
            "[rtpengine]\nconfig-file = /elsewhere\nconfig-section = x\nversion = true\n",
        );
        let cfg = parse_args_with(["--config-file=/g.conf"], &env).unwrap();
        assert!(cfg.warnings.is_empty());
    }
}
