//! The `rtpbridge-attack` command line (parsed by hand: `--key value` or `--key=value`).

use std::net::IpAddr;
use std::time::Duration;

use super::daemon::{parse_mode, Target};
use super::matrix::{self, MatrixConfig};
use super::scenario::Scenario;
use super::AttackError;

pub const HELP: &str = "\
rtpbridge-attack: attack an NG-driven media relay's calls and print what got through

USAGE:
  rtpbridge-attack [--target [NAME=]PATH|ADDR] [--compare [NAME=]PATH|ADDR] [OPTIONS]

Each scenario sets up its own call through NG (victims A and B on --victim-ip, RTP both
ways at 50 pps), waits until both hear each other, attacks from --attacker-ip, lets the
victims talk on, and reports: call kept, attacker datagrams injected into the call, victim
packets bled to the attacker, and for the handover the packet at which the relay switched
and the packets lost.

A target that is a binary (rtpbridge, /usr/bin/rtpengine) is started once per learning
mode (--endpoint-learning=MODE, --table=-1, --interface=VICTIM-IP, a private NG port and
a slice of --ports). A target that is an address is a running daemon: the mode is then
asked for per call (NG key endpoint-learning). --compare runs the same matrix against a
second target and prints both side by side.

OPTIONS:
  --target T        relay under test                          [rtpbridge next to this binary]
  --compare T       second relay, e.g. /usr/bin/rtpengine
  --scenarios LIST  comma-separated, or all                   [all]
                    dtls-hello-null dtls-hello-valid dtls-flood early-dtls rtp-inject
                    rtp-bleed stun-spoof handover rtp-race early-rtp
  --modes LIST      off,immediate,delayed,heuristic           [all four]
  --strict LIST     no,yes (strict-source per call)           [no,yes]
  --ports MIN-MAX   media ports for started daemons            [34000-35999]
  --victim-ip IP                                              [127.0.0.1]
  --attacker-ip IP                                            [127.0.0.66]
  --handover-ip IP  victim A's address after the handover     [127.0.0.3]
  --parallel N      scenario runs at once (0: all)            [0]
  --attack-ms MS    length of the attack phase                [4000]
";

#[derive(Debug, Clone)]
pub struct Args {
    pub target: Target,
    pub compare: Option<Target>,
    pub matrix: MatrixConfig,
}

fn list<T>(v: &str, f: impl Fn(&str) -> Option<T>, what: &str) -> Result<Vec<T>, AttackError> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| f(s).ok_or_else(|| AttackError::Usage(format!("unknown {what} {s:?}"))))
        .collect()
}

fn ip(v: &str) -> Result<IpAddr, AttackError> {
    v.parse()
        .map_err(|_| AttackError::Usage(format!("bad address {v:?}")))
}

/// The rtpbridge binary next to this one (both are built into the same directory).
fn default_target() -> Target {
    let path = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.join("rtpbridge")))
        .unwrap_or_else(|| "rtpbridge".into());
    Target::parse(&format!("rtpbridge={}", path.display()))
}

pub fn parse(args: &[String]) -> Result<Args, AttackError> {
    let mut a = Args {
        target: default_target(),
        compare: None,
        matrix: MatrixConfig::default(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        if key == "--help" || key == "-h" {
            return Err(AttackError::Usage(String::new()));
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| AttackError::Usage(format!("{key} needs a value")))
        };
        let m = &mut a.matrix;
        match key {
            "--target" => a.target = Target::parse(&value()?),
            "--compare" => a.compare = Some(Target::parse(&value()?)),
            "--scenarios" => {
                let v = value()?;
                m.scenarios = if v == "all" {
                    Scenario::ALL.to_vec()
                } else {
                    list(&v, Scenario::parse, "scenario")?
                };
            }
            "--modes" => m.modes = list(&value()?, parse_mode, "learning mode")?,
            "--strict" => {
                m.strict = list(
                    &value()?,
                    |s| match s {
                        "no" | "off" | "false" => Some(false),
                        "yes" | "on" | "true" => Some(true),
                        _ => None,
                    },
                    "strict value",
                )?
            }
            "--ports" => {
                let v = value()?;
                let bad = || AttackError::Usage(format!("bad port range {v:?}"));
                let (lo, hi) = v.split_once('-').ok_or_else(bad)?;
                let (lo, hi): (u16, u16) = (
                    lo.parse().map_err(|_| bad())?,
                    hi.parse().map_err(|_| bad())?,
                );
                if lo >= hi {
                    return Err(bad());
                }
                m.ports = (lo, hi);
            }
            "--victim-ip" => m.victim_ip = ip(&value()?)?,
            "--attacker-ip" => m.attacker_ip = ip(&value()?)?,
            "--handover-ip" => m.handover_ip = ip(&value()?)?,
            "--parallel" => {
                m.parallel = value()?
                    .parse()
                    .map_err(|_| AttackError::Usage("bad --parallel".into()))?
            }
            "--attack-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|_| AttackError::Usage("bad --attack-ms".into()))?;
                m.timing.attack_ticks = (ms / m.timing.tick.as_millis().max(1) as u64) as u32;
            }
            _ => return Err(AttackError::Usage(format!("unknown option {arg:?}"))),
        }
    }
    if a.matrix.scenarios.is_empty() || a.matrix.modes.is_empty() || a.matrix.strict.is_empty() {
        return Err(AttackError::Usage("nothing to run".into()));
    }
    Ok(a)
}

/// Runs the command line; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(AttackError::Usage(m)) => {
            if !m.is_empty() {
                eprintln!("error: {m}\n");
            }
            eprint!("{HELP}");
            return 2;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let mut results = Vec::new();
    for t in std::iter::once(&a.target).chain(a.compare.as_ref()) {
        eprintln!("running the matrix against {} ...", t.name);
        let started = std::time::Instant::now();
        match matrix::run_target(t, &a.matrix) {
            Ok(r) => {
                eprintln!("  done in {:.1} s", started.elapsed().as_secs_f64());
                print!("{}", matrix::result_lines(&r));
                results.push(r);
            }
            Err(e) => {
                eprintln!("error: {}: {e}", t.name);
                return 1;
            }
        }
        // Let the first target's ports close before the second one binds its own.
        std::thread::sleep(Duration::from_millis(100));
    }
    println!();
    print!("{}", matrix::table(&a.matrix, &results));
    0
}
