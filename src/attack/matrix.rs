//! The behaviour matrix: every scenario x learning mode x strict-source against one relay
//! (or two, side by side), run in parallel, printed as a plain-text table.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use crate::config::EndpointLearning;

use super::daemon::{mode_name, Daemon, Target, TargetKind, MODES};
use super::scenario::{self, Outcome, RunConfig, Scenario, Timing};
use super::AttackError;

#[derive(Debug, Clone)]
pub struct MatrixConfig {
    pub scenarios: Vec<Scenario>,
    pub modes: Vec<EndpointLearning>,
    /// strict-source values to try.
    pub strict: Vec<bool>,
    pub victim_ip: IpAddr,
    pub attacker_ip: IpAddr,
    pub handover_ip: IpAddr,
    /// Media ports for the daemons we start (split between the modes).
    pub ports: (u16, u16),
    /// Scenario runs at once (0: all).
    pub parallel: usize,
    pub timing: Timing,
}

impl Default for MatrixConfig {
    fn default() -> Self {
        MatrixConfig {
            scenarios: Scenario::ALL.to_vec(),
            modes: MODES.to_vec(),
            strict: vec![false, true],
            victim_ip: [127, 0, 0, 1].into(),
            attacker_ip: [127, 0, 0, 66].into(),
            handover_ip: [127, 0, 0, 3].into(),
            ports: (34000, 35999),
            parallel: 0,
            timing: Timing::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub scenario: Scenario,
    pub mode: EndpointLearning,
    pub strict: bool,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub struct TargetResult {
    pub name: String,
    pub cells: Vec<Cell>,
}

impl TargetResult {
    pub fn get(&self, s: Scenario, m: EndpointLearning, strict: bool) -> Option<&Outcome> {
        self.cells
            .iter()
            .find(|c| c.scenario == s && c.mode == m && c.strict == strict)
            .map(|c| &c.outcome)
    }
}

/// Runs the matrix against `target`. A binary is started once per learning mode (each with
/// its own slice of `cfg.ports`) and stopped afterwards.
pub fn run_target(target: &Target, cfg: &MatrixConfig) -> Result<TargetResult, AttackError> {
    let mut daemons = Vec::new();
    let mut ngs: Vec<(EndpointLearning, SocketAddr, bool)> = Vec::new();
    match &target.kind {
        TargetKind::Ng(addr) => {
            for &m in &cfg.modes {
                ngs.push((m, *addr, true));
            }
        }
        TargetKind::Binary(path) => {
            let n = cfg.modes.len().max(1) as u32;
            let span = (u32::from(cfg.ports.1) - u32::from(cfg.ports.0) + 1) / n;
            if span < 20 {
                return Err(AttackError::Usage("port range too small".into()));
            }
            for (i, &m) in cfg.modes.iter().enumerate() {
                let lo = u32::from(cfg.ports.0) + i as u32 * span;
                let range = (lo as u16, (lo + span - 1) as u16);
                let d = Daemon::start(path, m, cfg.victim_ip, range)?;
                ngs.push((m, d.ng, false));
                daemons.push(d);
            }
        }
    }
    let mut jobs = VecDeque::new();
    for &(mode, ng, per_call) in &ngs {
        for &scenario in &cfg.scenarios {
            for &strict in &cfg.strict {
                jobs.push_back((scenario, mode, strict, ng, per_call));
            }
        }
    }
    let total = jobs.len();
    let threads = if cfg.parallel == 0 {
        total
    } else {
        cfg.parallel.min(total)
    };
    let queue = Mutex::new(jobs);
    let done = Mutex::new(Vec::with_capacity(total));
    let tag = format!("{}-{}", std::process::id(), rand::random::<u32>());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let job = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some((scenario, mode, strict, ng, per_call_mode)) = job else {
                    return;
                };
                let rc = RunConfig {
                    ng,
                    mode,
                    per_call_mode,
                    strict_source: strict,
                    call_id: format!(
                        "attack-{tag}-{}-{}-{}",
                        scenario.name(),
                        mode_name(mode),
                        if strict { "strict" } else { "loose" }
                    ),
                    victim_ip: cfg.victim_ip,
                    attacker_ip: cfg.attacker_ip,
                    handover_ip: cfg.handover_ip,
                    timing: cfg.timing,
                };
                let outcome = scenario::run(scenario, &rc);
                if let Ok(mut d) = done.lock() {
                    d.push(Cell {
                        scenario,
                        mode,
                        strict,
                        outcome,
                    });
                }
            });
        }
    });
    let mut cells = done.into_inner().unwrap_or_default();
    let order = |c: &Cell| {
        (
            cfg.scenarios.iter().position(|&s| s == c.scenario),
            cfg.modes.iter().position(|&m| m == c.mode),
            c.strict,
        )
    };
    cells.sort_by_key(order);
    drop(daemons);
    Ok(TargetResult {
        name: target.name.clone(),
        cells,
    })
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

/// Notes gathered while printing: a text, then the cells (and counts) it applies to.
#[derive(Default)]
struct Notes(Vec<(String, Vec<String>)>);

impl Notes {
    /// Adds `cell` under `text`; returns the note's number (1-based).
    fn add(&mut self, text: String, cell: String) -> usize {
        if let Some(i) = self.0.iter().position(|(t, _)| *t == text) {
            self.0[i].1.push(cell);
            return i + 1;
        }
        self.0.push((text, vec![cell]));
        self.0.len()
    }
}

/// One target's columns of one row.
fn columns(
    o: Option<&Outcome>,
    handover: bool,
    notes: &mut Notes,
    target: &str,
    cell: &str,
) -> String {
    let Some(o) = o else {
        return format!("{:<30}", "(not run)");
    };
    if let Some(e) = &o.error {
        let n = notes.add(format!("{target}: {e}"), cell.to_string());
        return format!("{:<30}", format!("ERR [{n}]"));
    }
    let (sw, lost) = if handover {
        (opt(o.switched_at), opt(o.lost))
    } else {
        ("-".to_string(), "-".to_string())
    };
    for (text, count) in &o.notes {
        notes.add(format!("{target}: {text}"), format!("{cell} ({count})"));
    }
    format!(
        "{:<5} {:<6} {:<6} {:<6} {:<5}",
        yes_no(o.call_kept),
        if handover {
            "-".into()
        } else {
            o.injected.to_string()
        },
        if handover {
            "-".into()
        } else {
            o.bled.to_string()
        },
        sw,
        lost
    )
}

/// The matrix as a plain-text table, targets side by side; notes and errors follow it.
pub fn table(cfg: &MatrixConfig, results: &[TargetResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kept: both victims hear each other after the attack (>= 80 %); inj: attacker \
         datagrams delivered to a victim;\nbled: victim packets delivered to the attacker; \
         switch: index of A's first packet from its new address that reached B\n(handover), \
         lost: A's packets from the new address that never arrived.\n"
    );
    let _ = write!(s, "{:<17} {:<10} {:<6}", "scenario", "learning", "strict");
    for r in results {
        let _ = write!(s, " | {:<30}", r.name);
    }
    let _ = writeln!(s);
    let _ = write!(s, "{:<35}", "");
    for _ in results {
        let _ = write!(
            s,
            " | {:<5} {:<6} {:<6} {:<6} {:<5}",
            "kept", "inj", "bled", "switch", "lost"
        );
    }
    let _ = writeln!(s);
    let mut notes = Notes::default();
    for &sc in &cfg.scenarios {
        for &m in &cfg.modes {
            for &strict in &cfg.strict {
                let _ = write!(
                    s,
                    "{:<17} {:<10} {:<6}",
                    sc.name(),
                    mode_name(m),
                    yes_no(strict)
                );
                let cell = format!(
                    "{}/{}{}",
                    sc.name(),
                    mode_name(m),
                    if strict { "/strict" } else { "" }
                );
                for r in results {
                    let c = columns(
                        r.get(sc, m, strict),
                        sc == Scenario::Handover,
                        &mut notes,
                        &r.name,
                        &cell,
                    );
                    let _ = write!(s, " | {c}");
                }
                let _ = writeln!(s);
            }
        }
    }
    if !notes.0.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for (i, (text, cells)) in notes.0.iter().enumerate() {
            let _ = writeln!(s, "  [{}] {text}:\n      {}", i + 1, cells.join(", "));
        }
    }
    s
}

/// One machine-readable line per cell.
pub fn result_lines(r: &TargetResult) -> String {
    let mut s = String::new();
    for c in &r.cells {
        let o = &c.outcome;
        let _ = writeln!(
            s,
            "RESULT target={} scenario={} learning={} strict={} up={} kept={} injected={} bled={} \
             attacker_sent={} switched_at={} lost={} error={:?}",
            r.name,
            c.scenario.name(),
            mode_name(c.mode),
            c.strict,
            o.call_up,
            o.call_kept,
            o.injected,
            o.bled,
            o.attacker_sent,
            opt(o.switched_at),
            opt(o.lost),
            o.error.as_deref().unwrap_or("")
        );
    }
    s
}
