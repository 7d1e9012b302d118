//! Starting an NG daemon (rtpbridge, or rtpengine for comparison) for one learning mode,
//! with rtpengine's command-line options, which rtpbridge accepts too.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bench::ng::NgClient;
use crate::config::EndpointLearning;
use crate::ng::bencode::OwnedValue;

use super::AttackError;

/// How many of the daemon's last log lines are kept for error messages.
const LOG_LINES: usize = 50;

/// The learning modes in matrix order.
pub const MODES: [EndpointLearning; 4] = [
    EndpointLearning::Off,
    EndpointLearning::Immediate,
    EndpointLearning::Delayed,
    EndpointLearning::Heuristic,
];

pub fn mode_name(m: EndpointLearning) -> &'static str {
    match m {
        EndpointLearning::Off => "off",
        EndpointLearning::Immediate => "immediate",
        EndpointLearning::Delayed => "delayed",
        EndpointLearning::Heuristic => "heuristic",
    }
}

pub fn parse_mode(s: &str) -> Option<EndpointLearning> {
    MODES.into_iter().find(|m| mode_name(*m) == s)
}

/// A relay under test: a binary we start per learning mode, or a running daemon's NG
/// address (its learning mode is then asked for per call, with the NG `endpoint-learning`
/// key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    Binary(PathBuf),
    Ng(SocketAddr),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
}

impl Target {
    /// `[NAME=]PATH|ADDR`: an address is a running daemon, anything else a binary. Without a
    /// name, the file name (or the address).
    pub fn parse(s: &str) -> Target {
        let (name, spec) = match s.split_once('=') {
            Some((n, rest)) if !n.contains('/') => (Some(n.to_string()), rest),
            _ => (None, s),
        };
        let kind = match spec.parse::<SocketAddr>() {
            Ok(a) => TargetKind::Ng(a),
            Err(_) => TargetKind::Binary(PathBuf::from(spec)),
        };
        let name = name.unwrap_or_else(|| match &kind {
            TargetKind::Ng(a) => a.to_string(),
            TargetKind::Binary(p) => p
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| spec.to_string()),
        });
        Target { name, kind }
    }
}

/// A daemon we started; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    pub ng: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Daemon {
    /// Starts `binary` listening for NG on a free port of `ip`, media on `ip` within
    /// `ports`, learning with `mode`, and waits until it answers `ping`.
    pub fn start(
        binary: &Path,
        mode: EndpointLearning,
        ip: IpAddr,
        ports: (u16, u16),
    ) -> Result<Daemon, AttackError> {
        let ng = SocketAddr::new(ip, UdpSocket::bind((ip, 0))?.local_addr()?.port());
        let args = [
            "--config-file=none".to_string(),
            "--foreground".into(),
            "--table=-1".into(),
            "--log-stderr".into(),
            "--log-level=5".into(),
            format!("--interface={ip}"),
            format!("--listen-ng={ng}"),
            format!("--port-min={}", ports.0),
            format!("--port-max={}", ports.1),
            format!("--endpoint-learning={}", mode_name(mode)),
        ];
        let mut child = Command::new(binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| AttackError::Daemon(format!("cannot start {}: {e}", binary.display())))?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        if l.len() == LOG_LINES {
                            l.pop_front();
                        }
                        l.push_back(line);
                    }
                }
            });
        }
        let d = Daemon { child, ng, log };
        d.wait_ready()?;
        Ok(d)
    }

    /// The last lines the daemon logged.
    pub fn log_tail(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Waits for the first `pong` (the event that it serves), at most 10 s.
    fn wait_ready(&self) -> Result<(), AttackError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut c = NgClient::connect(self.ng)?;
        c.retransmit_after = Duration::from_millis(100);
        let ping = OwnedValue::dict().with("command", "ping");
        while Instant::now() < deadline {
            if c.request(&ping).is_ok() {
                return Ok(());
            }
        }
        Err(AttackError::Daemon(format!(
            "no pong from {} within 10 s; log: {:?}",
            self.ng,
            self.log_tail()
        )))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child we started and have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = Target::parse("/usr/bin/rtpengine");
        assert_eq!(t.name, "rtpengine");
        assert_eq!(t.kind, TargetKind::Binary("/usr/bin/rtpengine".into()));
        let t = Target::parse("ours=127.0.0.1:2223");
        assert_eq!(t.name, "ours");
        assert_eq!(t.kind, TargetKind::Ng("127.0.0.1:2223".parse().unwrap()));
        assert_eq!(
            Target::parse("./x=y/rtpb").name,
            "x=y/rtpb".rsplit('/').next().unwrap()
        );
        for m in MODES {
            assert_eq!(parse_mode(mode_name(m)), Some(m));
        }
    }
}
