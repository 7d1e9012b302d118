//! The table of every option rtpengine 10.5 knows, with its value syntax.
//!
//! The list and the value kinds were taken from rtpengine 10.5's `--help` output (the
//! authoritative source: the man page has a few wrong short letters, e.g. `--tos` is `-T` and
//! `--listen-tcp-ng` is `-N`). Options we implement are marked `implemented`; every other one is
//! accepted with the same syntax and reported as a warning.

/// What kind of value an option takes (glib's `G_OPTION_ARG_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Present or not; `true`/`false` in the config file.
    Flag,
    /// 32-bit signed integer.
    Int,
    /// 64-bit signed integer.
    Int64,
    /// Floating point number.
    Double,
    /// Free-form string (trailing blanks are dropped, as rtpengine does).
    Str,
    /// Repeatable on the command line; `a;b;c` in the config file.
    List,
}

impl Kind {
    /// Placeholder shown in `--help`.
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Flag => "",
            Kind::Int | Kind::Int64 => "INT",
            Kind::Double => "FLOAT",
            Kind::Str => "STRING",
            Kind::List => "VALUE",
        }
    }
}

/// One option: long name, optional short letter, value kind, whether rtpbridge acts on it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OptSpec {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    pub implemented: bool,
}

const fn imp(long: &'static str, short: Option<char>, kind: Kind) -> OptSpec {
    OptSpec {
        long,
        short,
        kind,
        implemented: true,
    }
}

const fn ign(long: &'static str, short: Option<char>, kind: Kind) -> OptSpec {
    OptSpec {
        long,
        short,
        kind,
        implemented: false,
    }
}

use Kind::{Double, Flag, Int, Int64, List, Str};

/// Every option of rtpengine 10.5, in the order of its `--help` output. Where rtpengine gives the
/// same short letter to two options (`-F`, `-y`), the first one wins, as in glib's lookup.
pub(crate) static OPTIONS: &[OptSpec] = &[
    // Options shared by all rtpengine programs.
    imp("version", Some('v'), Flag),
    imp("config-file", None, Str),
    imp("config-section", None, Str),
    ign("log-facility", None, Str),
    imp("log-level", Some('L'), Int),
    ign("log-level-core", None, Int),
    ign("log-level-spandsp", None, Int),
    ign("log-level-ffmpeg", None, Int),
    ign("log-level-transcoding", None, Int),
    ign("log-level-codec", None, Int),
    ign("log-level-rtcp", None, Int),
    ign("log-level-ice", None, Int),
    ign("log-level-crypto", None, Int),
    ign("log-level-srtp", None, Int),
    ign("log-level-internals", None, Int),
    ign("log-level-http", None, Int),
    ign("log-level-control", None, Int),
    ign("log-level-dtx", None, Int),
    imp("log-stderr", Some('E'), Flag),
    ign("split-logs", None, Flag),
    ign("max-log-line-length", None, Int),
    ign("no-log-timestamps", None, Flag),
    ign("log-mark-prefix", None, Str),
    ign("log-mark-suffix", None, Str),
    imp("pidfile", Some('p'), Str),
    imp("foreground", Some('f'), Flag),
    ign("thread-stack", None, Int),
    // The daemon's own options.
    imp("table", Some('t'), Int),
    ign("no-fallback", Some('F'), Flag),
    imp("interface", Some('i'), List),
    ign("save-interface-ports", Some('S'), Flag),
    ign("subscribe-keyspace", Some('k'), List),
    ign("listen-tcp", Some('l'), Str),
    imp("listen-udp", Some('u'), Str),
    imp("listen-ng", Some('n'), Str),
    ign("listen-tcp-ng", Some('N'), Str),
    imp("listen-cli", Some('c'), Str),
    ign("graphite", Some('g'), Str),
    ign("graphite-interval", Some('G'), Int),
    ign("graphite-prefix", None, Str),
    ign("graphite-timeout", None, Int),
    ign("tos", Some('T'), Int),
    ign("control-tos", None, Int),
    imp("timeout", Some('o'), Int),
    imp("silent-timeout", Some('s'), Int),
    imp("final-timeout", Some('a'), Int),
    ign("offer-timeout", None, Int),
    imp("port-min", Some('m'), Int),
    imp("port-max", Some('M'), Int),
    ign("redis", Some('r'), Str),
    ign("redis-write", Some('w'), Str),
    ign("redis-num-threads", None, Int),
    ign("redis-expires", None, Int),
    ign("no-redis-required", Some('q'), Flag),
    ign("redis-allowed-errors", None, Int),
    ign("redis-disable-time", None, Int),
    ign("redis-cmd-timeout", None, Int),
    ign("redis-connect-timeout", None, Int),
    ign("redis-delete-async", Some('y'), Int),
    ign("redis-delete-async-interval", Some('y'), Int),
    ign("active-switchover", None, Flag),
    ign("b2b-url", Some('b'), Str),
    ign("log-facility-cdr", None, Str),
    ign("log-facility-rtcp", None, Str),
    ign("log-facility-dtmf", None, Str),
    ign("dtmf-log-dest", None, Str),
    ign("dtmf-log-ng-tcp", None, Flag),
    ign("dtmf-no-suppress", None, Flag),
    ign("dtmf-digit-delay", None, Int),
    ign("log-format", None, Str),
    ign("xmlrpc-format", Some('x'), Int),
    imp("num-threads", None, Int),
    // rtpbridge's own: media workers wait this long after a busy wake-up before the next one.
    imp("wakeup-batch-us", None, Int),
    // rtpbridge's own: port pairs kept open between calls.
    imp("warm-ports", None, Int),
    // rtpbridge's own: the media workers' I/O engine.
    imp("io-engine", None, Str),
    ign("media-num-threads", None, Int),
    imp("delete-delay", Some('d'), Int),
    ign("sip-source", None, Flag),
    ign("dtls-passive", None, Flag),
    ign("max-sessions", None, Int),
    ign("max-load", None, Double),
    ign("max-cpu", None, Double),
    ign("max-bandwidth", None, Int64),
    ign("homer", None, Str),
    ign("homer-protocol", None, Str),
    ign("homer-id", None, Int),
    // Recording: `pcap` is implemented; `--recording-method=proc` is warned about.
    imp("recording-dir", None, Str),
    imp("recording-method", None, Str),
    imp("recording-format", None, Str),
    ign("iptables-chain", None, Str),
    ign("codecs", None, Flag),
    ign("scheduling", None, Str),
    ign("priority", None, Int),
    ign("idle-scheduling", None, Str),
    ign("idle-priority", None, Int),
    ign("log-srtp-keys", Some('F'), Flag),
    ign("mysql-host", None, Str),
    ign("mysql-port", None, Int),
    ign("mysql-user", None, Str),
    ign("mysql-pass", None, Str),
    ign("mysql-query", None, Str),
    imp("endpoint-learning", None, Str),
    ign("jitter-buffer", None, Int),
    ign("jb-clock-drift", None, Flag),
    ign("debug-srtp", None, Flag),
    ign("reject-invalid-sdp", None, Flag),
    imp("dtls-rsa-key-size", None, Int),
    imp("dtls-cert-cipher", None, Str),
    ign("dtls-mtu", None, Int),
    ign("dtls-ciphers", None, Str),
    ign("dtls-signature", None, Str),
    ign("listen-http", None, List),
    ign("listen-https", None, List),
    ign("https-cert", None, Str),
    ign("https-key", None, Str),
    ign("http-threads", None, Int),
    ign("software-id", None, Str),
    ign("poller-per-thread", None, Flag),
    ign("dtx-delay", None, Int),
    ign("max-dtx", None, Int),
    ign("dtx-buffer", None, Int),
    ign("dtx-lag", None, Int),
    ign("dtx-shift", None, Int),
    ign("dtx-cn-params", None, List),
    ign("amr-dtx", None, Str),
    ign("silence-detect", None, Double),
    ign("cn-payload", None, List),
    ign("mqtt-host", None, Str),
    ign("mqtt-port", None, Int),
    ign("mqtt-id", None, Str),
    ign("mqtt-keepalive", None, Int),
    ign("mqtt-user", None, Str),
    ign("mqtt-pass", None, Str),
    ign("mqtt-cafile", None, Str),
    ign("mqtt-capath", None, Str),
    ign("mqtt-certfile", None, Str),
    ign("mqtt-keyfile", None, Str),
    ign("mqtt-publish-qos", None, Int),
    ign("mqtt-publish-topic", None, Str),
    ign("mqtt-publish-interval", None, Int),
    ign("mqtt-publish-scope", None, Str),
    ign("mos", None, Str),
    ign("socket-cpu-affinity", None, Int),
    ign("janus-secret", None, Str),
];

/// Look an option up by its long name (without the leading `--`).
pub(crate) fn by_long(name: &str) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.long == name)
}

/// Look an option up by its short letter; the first entry with that letter wins.
pub(crate) fn by_short(c: char) -> Option<&'static OptSpec> {
    OPTIONS.iter().find(|o| o.short == Some(c))
}

/// Long names that only steer the parser itself and are meaningless inside the config file.
pub(crate) fn is_parser_control(spec: &OptSpec) -> bool {
    matches!(spec.long, "version" | "config-file" | "config-section")
}

/// What each implemented option does, for `--help` (our own wording).
const IMPLEMENTED_HELP: &[(&str, &str, &str)] = &[
    (
        "config-file",
        "FILE|none",
        "read this ini file (default /etc/rtpbridge/rtpbridge.conf if it exists)",
    ),
    (
        "config-section",
        "NAME",
        "section of the config file to use (default: rtpengine)",
    ),
    (
        "interface",
        "[NAME/]ADDR[!ADVERTISED]",
        "local address for media; repeatable",
    ),
    ("listen-ng", "[ADDR:]PORT", "NG control protocol (UDP)"),
    (
        "listen-udp",
        "[ADDR:]PORT",
        "legacy rtpproxy UDP control protocol",
    ),
    ("listen-cli", "[ADDR:]PORT", "CLI control socket"),
    ("port-min", "INT", "lowest media port (default 30000)"),
    ("port-max", "INT", "highest media port (default 40000)"),
    (
        "table",
        "INT",
        "kernel forwarding table (always userspace here; -1 is fine)",
    ),
    (
        "timeout",
        "SECS",
        "drop a call after this long without media (default 60)",
    ),
    (
        "silent-timeout",
        "SECS",
        "same for muted/held calls (default 3600)",
    ),
    (
        "final-timeout",
        "SECS",
        "absolute call lifetime, 0 = unlimited",
    ),
    (
        "delete-delay",
        "SECS",
        "keep a deleted call around this long (default 30)",
    ),
    (
        "endpoint-learning",
        "delayed|immediate|off|heuristic",
        "how the remote media address is learned",
    ),
    (
        "num-threads",
        "INT",
        "media worker threads (default: one per core)",
    ),
    (
        "warm-ports",
        "INT",
        "rtpbridge only: port pairs per media worker kept open after their call ends, reused once a quarter as many were kept after them (default 256; 0 = close at delete)",
    ),
    (
        "wakeup-batch-us",
        "USECS",
        "rtpbridge only: a busy media worker gathers packets this long between wake-ups (default 0 = off)",
    ),
    (
        "dtls-cert-cipher",
        "prime256v1|RSA",
        "key type of the DTLS certificate (default prime256v1)",
    ),
    (
        "dtls-rsa-key-size",
        "BITS",
        "RSA key size with --dtls-cert-cipher=RSA (default 2048)",
    ),
    (
        "io-engine",
        "epoll|uring",
        "rtpbridge only: how media workers do I/O (default epoll; uring falls back to epoll if refused)",
    ),
    (
        "recording-dir",
        "DIR",
        "spool directory for call recordings (pcaps/, metadata/, tmp/)",
    ),
    (
        "recording-method",
        "pcap",
        "how calls are recorded (only pcap; proc is not implemented)",
    ),
    (
        "recording-format",
        "raw|eth",
        "link layer of recorded packets (default raw)",
    ),
    ("pidfile", "FILE", "write the process id to this file"),
    ("foreground", "", "do not daemonize"),
    ("log-stderr", "", "log to stderr instead of syslog"),
    ("log-level", "0-7", "syslog-style log level"),
    ("version", "", "print the version and exit"),
];

/// The text printed for `--help`.
pub(crate) fn help_text() -> String {
    let mut out = String::new();
    out.push_str("Usage: rtpbridge [OPTION...]\n");
    out.push_str(
        "Media relay driven by rtpengine's NG protocol. Accepts rtpengine 10.5's command line\n\
         and config file; options marked as compatibility-only are accepted and ignored.\n\n",
    );
    out.push_str("Options:\n");
    out.push_str(&format!(
        "  {:<46} {}\n",
        "-h, --help", "show this help and exit"
    ));
    for (long, arg, descr) in IMPLEMENTED_HELP {
        let Some(spec) = by_long(long) else { continue };
        let mut left = match spec.short {
            Some(c) => format!("-{c}, --{long}"),
            None => format!("--{long}"),
        };
        if !arg.is_empty() {
            left.push('=');
            left.push_str(arg);
        }
        if left.len() >= 46 {
            out.push_str(&format!("  {left}\n  {:<46} {descr}\n", ""));
        } else {
            out.push_str(&format!("  {left:<46} {descr}\n"));
        }
    }
    out.push_str(
        "\nAccepted for compatibility with rtpengine, not implemented (a warning is logged):\n",
    );
    let mut line = String::from(" ");
    for spec in OPTIONS.iter().filter(|o| !o.implemented) {
        let mut item = match spec.short {
            Some(c) if by_short(c).map(|s| s.long) == Some(spec.long) => {
                format!("-{c}|--{}", spec.long)
            }
            _ => format!("--{}", spec.long),
        };
        if spec.kind != Kind::Flag {
            item.push('=');
            item.push_str(spec.kind.placeholder());
        }
        if line.len() + item.len() + 1 > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from(" ");
        }
        line.push(' ');
        line.push_str(&item);
    }
    if line.trim().is_empty() {
        return out;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn long_names_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for o in OPTIONS {
            assert!(seen.insert(o.long), "duplicate --{}", o.long);
            assert!(!o.long.is_empty() && !o.long.contains('='), "{}", o.long);
        }
        // rtpengine 10.5's `--help` lists 141 options besides `--help` itself; rtpbridge adds
        // --wakeup-batch-us, --io-engine and --warm-ports.
        assert_eq!(OPTIONS.len(), 144);
    }

    #[test]
    fn short_letters_match_rtpengine() {
        let table = [
            ('v', "version"),
            ('L', "log-level"),
            ('E', "log-stderr"),
            ('p', "pidfile"),
            ('f', "foreground"),
            ('t', "table"),
            ('F', "no-fallback"),
            ('i', "interface"),
            ('S', "save-interface-ports"),
            ('k', "subscribe-keyspace"),
            ('l', "listen-tcp"),
            ('u', "listen-udp"),
            ('n', "listen-ng"),
            ('N', "listen-tcp-ng"),
            ('c', "listen-cli"),
            ('g', "graphite"),
            ('G', "graphite-interval"),
            ('T', "tos"),
            ('o', "timeout"),
            ('s', "silent-timeout"),
            ('a', "final-timeout"),
            ('m', "port-min"),
            ('M', "port-max"),
            ('r', "redis"),
            ('w', "redis-write"),
            ('q', "no-redis-required"),
            ('y', "redis-delete-async"),
            ('b', "b2b-url"),
            ('x', "xmlrpc-format"),
            ('d', "delete-delay"),
        ];
        for (c, long) in table {
            assert_eq!(by_short(c).map(|o| o.long), Some(long), "-{c}");
        }
        assert!(by_short('h').is_none());
        assert!(by_short('z').is_none());
    }

    #[test]
    fn help_mentions_every_option() {
        let help = help_text();
        for o in OPTIONS {
            assert!(
                help.contains(&format!("--{}", o.long)),
                "--{} missing",
                o.long
            );
        }
    }
}
