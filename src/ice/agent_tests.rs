use super::*;
use crate::ice::stun::{self, Class, Message, MessageWriter, TransactionId};
use std::collections::HashMap;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

// ---- an in-memory network with synthetic time ----------------------------------------------

#[derive(Debug, Clone)]
struct Packet {
    at: Instant,
    from_node: usize,
    from_local: SocketAddr,
    /// Source address as the receiver sees it (after NAT).
    from_public: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl Packet {
    fn msg(&self) -> Message<'_> {
        Message::parse(&self.bytes).unwrap()
    }
    fn is_request(&self) -> bool {
        self.msg().class() == Class::Request
    }
}

type DropFn = Box<dyn FnMut(&Packet, Duration) -> bool>;

struct Net {
    start: Instant,
    now: Instant,
    agents: [IceAgent; 2],
    /// local address -> public address, per node (a NAT in front of it).
    nat: [HashMap<SocketAddr, SocketAddr>; 2],
    latency: Duration,
    in_flight: Vec<(Instant, usize, SocketAddr, Packet)>,
    drop: DropFn,
    /// Whether a node is being driven at all (a "silent" peer is not).
    alive: [bool; 2],
    sent: Vec<Packet>,
    events: [Vec<(Duration, IceEvent)>; 2],
    errors: [Vec<IceError>; 2],
    stalled: u32,
}

impl Net {
    fn new(a: IceAgent, b: IceAgent) -> Self {
        let start = Instant::now();
        Net {
            start,
            now: start,
            agents: [a, b],
            nat: [HashMap::new(), HashMap::new()],
            latency: Duration::from_millis(5),
            in_flight: Vec::new(),
            drop: Box::new(|_, _| false),
            alive: [true, true],
            sent: Vec::new(),
            events: [Vec::new(), Vec::new()],
            errors: [Vec::new(), Vec::new()],
            stalled: 0,
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn public(&self, node: usize, local: SocketAddr) -> SocketAddr {
        self.nat[node].get(&local).copied().unwrap_or(local)
    }

    /// Which node and local address receive a packet sent to `to`.
    fn route(&self, to: SocketAddr) -> Option<(usize, SocketAddr)> {
        for n in 0..2 {
            for c in self.agents[n].local_candidates() {
                if self.public(n, c.addr) == to {
                    return Some((n, c.addr));
                }
            }
        }
        None
    }

    fn collect(&mut self) {
        for n in 0..2 {
            while let Some(t) = self.agents[n].poll_transmit() {
                let p = Packet {
                    at: self.now,
                    from_node: n,
                    from_local: t.from_local,
                    from_public: self.public(n, t.from_local),
                    to: t.to,
                    bytes: t.bytes,
                };
                self.sent.push(p.clone());
                let elapsed = self.elapsed();
                if (self.drop)(&p, elapsed) {
                    continue;
                }
                if let Some((dst, local)) = self.route(p.to) {
                    self.in_flight
                        .push((self.now + self.latency, dst, local, p));
                }
            }
            while let Some(e) = self.agents[n].poll_event() {
                let at = self.elapsed();
                self.events[n].push((at, e));
            }
        }
    }

    /// Advances to the next thing that happens. False when nothing is scheduled.
    fn step(&mut self) -> bool {
        self.collect();
        let mut next: Option<Instant> = self.in_flight.iter().map(|f| f.0).min();
        for n in 0..2 {
            if let (true, Some(t)) = (self.alive[n], self.agents[n].poll_timeout()) {
                next = Some(next.map_or(t, |x| x.min(t)));
            }
        }
        let Some(next) = next else {
            return false;
        };
        if next <= self.now {
            self.stalled += 1;
            assert!(
                self.stalled < 1000,
                "agents keep asking for the same instant"
            );
        } else {
            self.stalled = 0;
        }
        self.now = self.now.max(next);
        let now = self.now;
        let due: Vec<_> = {
            let (due, rest) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|f| f.0 <= now);
            self.in_flight = rest;
            due
        };
        for (_, dst, local, p) in due {
            if !self.alive[dst] {
                continue;
            }
            if let Err(e) = self.agents[dst].handle_packet(now, local, p.from_public, &p.bytes) {
                self.errors[dst].push(e);
            }
        }
        for n in 0..2 {
            if self.alive[n] && self.agents[n].poll_timeout().is_some_and(|t| t <= now) {
                self.agents[n].handle_timeout(now);
            }
        }
        self.collect();
        true
    }

    fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Net) -> bool) -> bool {
        let end = self.start + limit;
        for n in 0..2 {
            if self.alive[n] {
                self.agents[n].handle_timeout(self.now);
            }
        }
        while self.now < end {
            if cond(self) {
                return true;
            }
            if !self.step() {
                break;
            }
        }
        cond(self)
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        self.run_until(end - self.start, |n| n.now >= end);
    }

    fn connected(&self) -> bool {
        (0..2).all(|n| {
            (1..=self.agents[n].components()).all(|c| self.agents[n].selected(c).is_some())
        })
    }

    fn connected_events(&self, n: usize) -> Vec<(u16, SocketAddr, SocketAddr)> {
        self.events[n]
            .iter()
            .filter_map(|(_, e)| match e {
                IceEvent::Connected {
                    component,
                    local,
                    remote,
                } => Some((*component, *local, *remote)),
                _ => None,
            })
            .collect()
    }

    fn has_event(&self, n: usize, f: impl Fn(&IceEvent) -> bool) -> Option<Duration> {
        self.events[n].iter().find(|(_, e)| f(e)).map(|(t, _)| *t)
    }
}

fn config(seed: u64, controlling: bool, lite: bool, components: u16) -> IceConfig {
    IceConfig {
        seed: Some(seed),
        controlling,
        lite,
        components,
        ..IceConfig::default()
    }
}

/// Gives each agent the other's credentials and candidates, going through the SDP
/// `a=candidate` text both ways.
fn signal(net: &mut Net) {
    for (from, to) in [(0, 1), (1, 0)] {
        let creds = net.agents[from].local_credentials().clone();
        let lines: Vec<String> = net.agents[from]
            .local_candidates()
            .iter()
            .map(|c| c.sdp_line())
            .collect();
        let lite = net.agents[from].is_lite();
        let dst = &mut net.agents[to];
        dst.set_remote_credentials(&creds.ufrag, &creds.pwd)
            .unwrap();
        for l in lines {
            dst.add_remote_candidate_sdp(&l).unwrap();
        }
        dst.end_of_remote_candidates();
        if lite {
            dst.set_remote_lite(true);
        }
    }
}

fn pair_net(a: IceAgent, b: IceAgent, a_addrs: &[&str], b_addrs: &[&str], comps: u16) -> Net {
    let mut net = Net::new(a, b);
    for (n, addrs) in [(0, a_addrs), (1, b_addrs)] {
        for comp in 1..=comps {
            for addr in addrs.iter() {
                let mut s = sa(addr);
                s.set_port(s.port() + comp - 1);
                net.agents[n].add_local_candidate(s, comp).unwrap();
            }
        }
    }
    net
}

const LIMIT: Duration = Duration::from_secs(60);

// ---- connectivity --------------------------------------------------------------------------

#[test]
fn full_controlling_and_full_controlled_connect() {
    let a = IceAgent::new(config(1, true, false, 1));
    let b = IceAgent::new(config(2, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    assert_eq!(net.agents[0].state(), IceState::New);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    assert!(
        net.elapsed() < Duration::from_millis(200),
        "{:?}",
        net.elapsed()
    );
    let (a_addr, b_addr) = (sa("203.0.113.1:10000"), sa("198.51.100.2:20000"));
    assert_eq!(net.agents[0].selected(1), Some((a_addr, b_addr)));
    assert_eq!(net.agents[1].selected(1), Some((b_addr, a_addr)));
    assert_eq!(net.connected_events(0), vec![(1, a_addr, b_addr)]);
    assert_eq!(net.connected_events(1), vec![(1, b_addr, a_addr)]);
    assert!(net.agents[0].is_verified_remote(b_addr));
    assert!(net.agents[1].is_verified_remote(a_addr));
    assert!(!net.agents[0].is_verified_remote(sa("198.51.100.2:20001")));
    assert_eq!(net.agents[0].state(), IceState::Connected);
    // Only the controlling agent nominates.
    let nominations: Vec<usize> = net
        .sent
        .iter()
        .filter(|p| p.is_request() && p.msg().use_candidate())
        .map(|p| p.from_node)
        .collect();
    assert!(!nominations.is_empty() && nominations.iter().all(|n| *n == 0));
    // Every request carried the right USERNAME, role and a PRIORITY of type prflx.
    for p in net.sent.iter().filter(|p| p.is_request()) {
        let m = p.msg();
        let (me, peer) = (p.from_node, 1 - p.from_node);
        let expect = format!(
            "{}:{}",
            net.agents[peer].local_credentials().ufrag,
            net.agents[me].local_credentials().ufrag
        );
        assert_eq!(m.username(), Some(expect.as_str()));
        assert_eq!(m.priority().map(|p| p >> 24), Some(110));
        assert_eq!(me == 0, m.ice_controlling().is_some());
        assert_eq!(me == 1, m.ice_controlled().is_some());
        assert!(m.verify_fingerprint());
        assert!(m.verify_integrity(net.agents[peer].local_credentials().pwd.as_bytes()));
    }
    assert!(net.errors.iter().all(|e| e.is_empty()), "{:?}", net.errors);
}

#[test]
fn two_components_without_rtcp_mux() {
    let a = IceAgent::new(config(3, true, false, 2));
    let b = IceAgent::new(config(4, false, false, 2));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 2);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    assert_eq!(
        net.agents[0].selected(2),
        Some((sa("203.0.113.1:10001"), sa("198.51.100.2:20001")))
    );
    assert_eq!(
        net.agents[1].selected(2),
        Some((sa("198.51.100.2:20001"), sa("203.0.113.1:10001")))
    );
    assert_eq!(net.connected_events(0).len(), 2);
    assert_eq!(net.connected_events(1).len(), 2);
    assert_eq!(net.agents[0].selected(3), None);
    assert_eq!(net.agents[0].selected(0), None);
}

#[test]
fn ipv4_and_ipv6_candidates_pair_within_their_family() {
    let a = IceAgent::new(config(5, true, false, 1));
    let b = IceAgent::new(config(6, false, false, 1));
    let mut net = pair_net(
        a,
        b,
        &["203.0.113.1:10000", "[2001:db8:4321::1]:10000"],
        &["198.51.100.2:20000", "[2001:db8:abcd::2]:20000"],
        1,
    );
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    net.run_for(Duration::from_secs(2));
    // IPv4 comes first (local preference 65535 against 65534) and wins.
    assert_eq!(
        net.agents[0].selected(1),
        Some((sa("203.0.113.1:10000"), sa("198.51.100.2:20000")))
    );
    // Both families were checked, never across families.
    let requests: Vec<&Packet> = net.sent.iter().filter(|p| p.is_request()).collect();
    assert!(requests
        .iter()
        .all(|p| p.from_local.is_ipv4() == p.to.is_ipv4()));
    assert!(requests.iter().any(|p| p.to.is_ipv6()));
}

#[test]
fn ipv6_only_peer() {
    let a = IceAgent::new(config(7, true, false, 1));
    let b = IceAgent::new(config(8, false, false, 1));
    let mut net = pair_net(
        a,
        b,
        &["203.0.113.1:10000", "[2001:db8:4321::1]:10000"],
        &["[2001:db8:abcd::2]:20000"],
        1,
    );
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    assert_eq!(
        net.agents[0].selected(1),
        Some((
            sa("[2001:db8:4321::1]:10000"),
            sa("[2001:db8:abcd::2]:20000")
        ))
    );
}

#[test]
fn paced_by_ta() {
    let a = IceAgent::new(config(9, true, false, 1));
    let b = IceAgent::new(config(10, false, false, 1));
    // Only A's checks reach nowhere, so every pair of A stays in the checklist for a while.
    let mut net = pair_net(
        a,
        b,
        &[
            "203.0.113.1:10000",
            "203.0.113.2:10000",
            "203.0.113.3:10000",
        ],
        &[
            "198.51.100.2:20000",
            "198.51.100.3:20000",
            "198.51.100.4:20000",
        ],
        1,
    );
    net.alive[1] = false;
    signal(&mut net);
    net.run_for(Duration::from_millis(400));
    let firsts: Vec<Instant> = {
        let mut seen = std::collections::HashSet::new();
        net.sent
            .iter()
            .filter(|p| p.from_node == 0 && seen.insert(p.msg().transaction_id()))
            .map(|p| p.at)
            .collect()
    };
    assert_eq!(firsts.len(), 9, "one check per pair");
    for w in firsts.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(20),
            "{:?}",
            w[1] - w[0]
        );
    }
}

// ---- lite ----------------------------------------------------------------------------------

#[test]
fn full_against_lite() {
    // A is configured controlled but learns the peer is lite, so it takes control.
    let a = IceAgent::new(config(11, false, false, 1));
    let b = IceAgent::new(config(12, true, true, 1));
    assert!(!net_agent_controlling(&b));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.agents[0].is_controlling());
    assert!(net.run_until(LIMIT, Net::connected));
    net.collect();
    assert!(net
        .has_event(0, |e| *e == IceEvent::RoleChanged { controlling: true })
        .is_some());
    // The lite agent never sends a request.
    assert!(net
        .sent
        .iter()
        .filter(|p| p.from_node == 1)
        .all(|p| !p.is_request()));
    assert!(net.sent.iter().any(|p| p.from_node == 1));
    assert_eq!(
        net.agents[1].selected(1),
        Some((sa("198.51.100.2:20000"), sa("203.0.113.1:10000")))
    );
    // Keeps going with consent checks from the full side only.
    net.run_for(Duration::from_secs(40));
    assert!(net.events[1]
        .iter()
        .all(|(_, e)| !matches!(e, IceEvent::ConsentLost { .. })));
    assert!(net.agents[0].selected(1).is_some() && net.agents[1].selected(1).is_some());
}

fn net_agent_controlling(a: &IceAgent) -> bool {
    a.is_controlling()
}

#[test]
fn lite_agent_loses_consent_when_checks_stop() {
    let a = IceAgent::new(config(13, true, false, 1));
    let b = IceAgent::new(config(14, false, true, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let silent_from = net.elapsed();
    net.alive[0] = false;
    net.run_for(Duration::from_secs(40));
    let lost = net
        .has_event(1, |e| matches!(e, IceEvent::ConsentLost { .. }))
        .expect("consent lost");
    let after = lost - silent_from;
    assert!(
        after >= Duration::from_secs(24) && after <= Duration::from_secs(31),
        "{after:?}"
    );
    assert_eq!(net.agents[1].selected(1), None);
    assert_eq!(net.agents[1].state(), IceState::Failed);
}

// ---- roles ---------------------------------------------------------------------------------

fn role_conflict(both_controlling: bool, a_wins: bool) {
    let (ta, tb) = if a_wins { (900, 100) } else { (100, 900) };
    let a = IceAgent::new(IceConfig {
        tie_breaker: Some(ta),
        ..config(15, both_controlling, false, 1)
    });
    let b = IceAgent::new(IceConfig {
        tie_breaker: Some(tb),
        ..config(16, both_controlling, false, 1)
    });
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    // The larger tie-breaker is controlling in the end, the other one switched.
    assert_eq!(net.agents[0].is_controlling(), a_wins);
    assert_eq!(net.agents[1].is_controlling(), !a_wins);
    let switched = |n: usize| {
        net.events[n]
            .iter()
            .filter(|(_, e)| matches!(e, IceEvent::RoleChanged { .. }))
            .count()
    };
    // Exactly one side changed role, exactly once.
    assert_eq!(switched(0) + switched(1), 1, "{:?}", net.events);
    let loser = if both_controlling {
        usize::from(a_wins)
    } else {
        usize::from(!a_wins)
    };
    assert_eq!(switched(loser), 1);
    // A 487 went over the wire, authenticated.
    let conflicts: Vec<&Packet> = net
        .sent
        .iter()
        .filter(|p| p.msg().error_code().map(|e| e.code) == Some(487))
        .collect();
    assert!(!conflicts.is_empty());
    for p in conflicts {
        let pwd = &net.agents[p.from_node].local_credentials().pwd;
        assert!(p.msg().verify_integrity(pwd.as_bytes()));
    }
    assert_eq!(
        net.agents[0].selected(1).map(|s| s.1),
        Some(sa("198.51.100.2:20000"))
    );
}

#[test]
fn role_conflict_both_controlling() {
    role_conflict(true, true);
    role_conflict(true, false);
}

#[test]
fn role_conflict_both_controlled() {
    role_conflict(false, true);
    role_conflict(false, false);
}

// ---- trickle and peer-reflexive ------------------------------------------------------------

#[test]
fn trickled_candidates_arriving_late() {
    let a = IceAgent::new(config(17, true, false, 1));
    let b = IceAgent::new(config(18, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    // Credentials only; no candidates yet.
    for (from, to) in [(0, 1), (1, 0)] {
        let c = net.agents[from].local_credentials().clone();
        net.agents[to]
            .set_remote_credentials(&c.ufrag, &c.pwd)
            .unwrap();
    }
    net.run_for(Duration::from_secs(1));
    assert!(net.sent.is_empty());
    assert!(!net.connected());
    // A's candidate trickles to B after 1 s, B's to A after 2 s.
    let line = net.agents[0].local_candidates()[0].sdp_line();
    net.agents[1].add_remote_candidate_sdp(&line).unwrap();
    net.agents[1].handle_timeout(net.now);
    net.run_for(Duration::from_secs(1));
    // Meanwhile A learned B as peer-reflexive from B's checks and may have connected.
    assert_eq!(
        net.agents[0].remote_candidates()[0].kind,
        CandidateType::PeerReflexive
    );
    let line = net.agents[1].local_candidates()[0].sdp_line();
    net.agents[0].add_remote_candidate_sdp(&line).unwrap();
    net.agents[0].end_of_remote_candidates();
    assert!(net.run_until(LIMIT, Net::connected));
    // The signalled candidate replaced the peer-reflexive one.
    let remotes = net.agents[0].remote_candidates();
    assert_eq!(remotes.len(), 1);
    assert_eq!(remotes[0].kind, CandidateType::Host);
    assert_eq!(remotes[0].priority, 2130706431);
}

#[test]
fn trickle_only_at_the_controlling_side() {
    // B never learns A's candidates: A's checks make A known to B as peer-reflexive.
    let a = IceAgent::new(config(19, true, false, 1));
    let b = IceAgent::new(config(20, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    for (from, to) in [(0, 1), (1, 0)] {
        let c = net.agents[from].local_credentials().clone();
        net.agents[to]
            .set_remote_credentials(&c.ufrag, &c.pwd)
            .unwrap();
    }
    let line = net.agents[1].local_candidates()[0].sdp_line();
    net.agents[0].add_remote_candidate_sdp(&line).unwrap();
    assert!(net.run_until(LIMIT, Net::connected));
    assert_eq!(
        net.agents[1].remote_candidates()[0].kind,
        CandidateType::PeerReflexive
    );
    assert_eq!(
        net.agents[1].selected(1),
        Some((sa("198.51.100.2:20000"), sa("203.0.113.1:10000")))
    );
}

#[test]
fn peer_reflexive_learning_behind_nat() {
    let a = IceAgent::new(config(21, true, false, 1));
    let b = IceAgent::new(config(22, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["10.0.0.2:5000"], 1);
    // B sits behind a NAT: its host candidate is unreachable from A.
    net.nat[1].insert(sa("10.0.0.2:5000"), sa("198.51.100.20:40000"));
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let public_b = sa("198.51.100.20:40000");
    assert_eq!(
        net.agents[0].selected(1),
        Some((sa("203.0.113.1:10000"), public_b))
    );
    assert_eq!(
        net.agents[1].selected(1),
        Some((sa("10.0.0.2:5000"), sa("203.0.113.1:10000")))
    );
    let prflx = net.agents[0]
        .remote_candidates()
        .iter()
        .find(|c| c.addr == public_b)
        .unwrap();
    assert_eq!(prflx.kind, CandidateType::PeerReflexive);
    // Its priority is what B put in PRIORITY: type preference 110.
    assert_eq!(prflx.priority >> 24, 110);
    assert!(net.agents[0].is_verified_remote(public_b));
    assert!(!net.agents[0].is_verified_remote(sa("10.0.0.2:5000")));
    // B saw its server-reflexive address in XOR-MAPPED-ADDRESS.
    let mapped: Vec<SocketAddr> = net
        .sent
        .iter()
        .filter(|p| p.from_node == 0 && p.msg().class() == Class::Success)
        .filter_map(|p| p.msg().xor_mapped_address())
        .collect();
    assert!(!mapped.is_empty() && mapped.iter().all(|m| *m == public_b));
    // The unreachable host pair fails eventually; no Failed event since a pair was selected.
    net.run_for(Duration::from_secs(30));
    assert!(net
        .has_event(0, |e| matches!(e, IceEvent::Failed { .. }))
        .is_none());
}

#[test]
fn all_pairs_failing_reports_failed() {
    let a = IceAgent::new(config(23, true, false, 1));
    let b = IceAgent::new(config(24, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    net.drop = Box::new(|_, _| true);
    signal(&mut net);
    net.run_for(Duration::from_secs(40));
    let t = net
        .has_event(0, |e| *e == IceEvent::Failed { component: 1 })
        .expect("failed");
    // 7 transmissions: 0.5 + 1 + 2 + 3 + 3 + 3 s apart, then 3 s more.
    assert!(
        t >= Duration::from_millis(15_500) && t < Duration::from_secs(16),
        "{t:?}"
    );
    let tx: Vec<&Packet> = net.sent.iter().filter(|p| p.from_node == 0).collect();
    assert_eq!(tx.len(), 7);
    assert!(tx.iter().all(|p| p.bytes == tx[0].bytes));
    assert_eq!(net.agents[0].state(), IceState::Failed);
}

// ---- restart -------------------------------------------------------------------------------

#[test]
fn ice_restart() {
    let a = IceAgent::new(config(25, true, false, 1));
    let b = IceAgent::new(config(26, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let old_a = net.agents[0].local_credentials().clone();
    let old_b = net.agents[1].local_credentials().clone();
    let selected_a = net.agents[0].selected(1);

    // A re-offers with new credentials; B sees the restart and answers with new ones too.
    net.agents[0].restart();
    let new_a = net.agents[0].local_credentials().clone();
    assert_ne!(new_a, old_a);
    assert_eq!(new_a.ufrag.len(), 8);
    assert!(net.agents[1]
        .set_remote_credentials(&new_a.ufrag, &new_a.pwd)
        .unwrap());
    net.collect();
    assert!(net
        .has_event(1, |e| *e == IceEvent::RestartDetected)
        .is_some());
    let new_b = net.agents[1].local_credentials().clone();
    assert_ne!(new_b, old_b);
    assert!(net.agents[1].remote_candidates().is_empty());
    // Media keeps flowing on the old pair meanwhile.
    assert_eq!(net.agents[0].selected(1), selected_a);
    for c in net.agents[0].local_candidates().to_vec() {
        net.agents[1].add_remote_candidate(c).unwrap();
    }
    // The answer reaches A: A started the restart, so it keeps its new credentials.
    assert!(net.agents[0]
        .set_remote_credentials(&new_b.ufrag, &new_b.pwd)
        .unwrap());
    assert_eq!(*net.agents[0].local_credentials(), new_a);
    for c in net.agents[1].local_candidates().to_vec() {
        net.agents[0].add_remote_candidate(c).unwrap();
    }
    net.collect();
    assert!(net
        .has_event(0, |e| *e == IceEvent::RestartDetected)
        .is_none());
    let before = net.sent.len();
    let restart_at = net.elapsed();
    net.run_for(Duration::from_secs(2));
    // New checks with the new credentials were exchanged and succeeded, on the same pair.
    let new_user = format!("{}:{}", new_b.ufrag, new_a.ufrag);
    let checks: Vec<&Packet> = net.sent[before..]
        .iter()
        .filter(|p| p.is_request() && p.from_node == 0)
        .collect();
    assert!(!checks.is_empty());
    assert!(checks
        .iter()
        .all(|p| p.msg().username() == Some(new_user.as_str())));
    assert!(checks.iter().any(|p| p.msg().use_candidate()));
    assert_eq!(net.agents[0].selected(1), selected_a);
    assert!(net.events[0]
        .iter()
        .all(|(t, e)| *t < restart_at || !matches!(e, IceEvent::ConsentLost { .. })));
    assert!(net.errors.iter().all(|e| e.is_empty()), "{:?}", net.errors);

    // The old credentials are no longer accepted.
    let mut req = Vec::new();
    let mut w = MessageWriter::new(
        &mut req,
        Class::Request,
        stun::METHOD_BINDING,
        TransactionId([1; 12]),
    );
    w.username(&format!("{}:{}", old_a.ufrag, old_b.ufrag))
        .unwrap();
    w.ice_controlling(1).unwrap();
    w.message_integrity(old_a.pwd.as_bytes()).unwrap();
    w.fingerprint().unwrap();
    let now = net.now;
    assert_eq!(
        net.agents[0].handle_packet(now, sa("203.0.113.1:10000"), sa("198.51.100.2:20000"), &req),
        Err(IceError::WrongUsername)
    );
}

// ---- consent -------------------------------------------------------------------------------

#[test]
fn consent_checks_every_four_to_six_seconds() {
    let a = IceAgent::new(config(27, true, false, 1));
    let b = IceAgent::new(config(28, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let from = net.sent.len();
    net.run_for(Duration::from_secs(120));
    for node in 0..2 {
        let times: Vec<Instant> = net.sent[from..]
            .iter()
            .filter(|p| p.from_node == node && p.is_request())
            .map(|p| p.at)
            .collect();
        assert!(times.len() >= 20, "{}", times.len());
        for w in times.windows(2) {
            let d = w[1] - w[0];
            assert!(
                d >= Duration::from_secs(4) && d <= Duration::from_secs(6),
                "{d:?}"
            );
        }
    }
    assert!(net
        .events
        .iter()
        .flatten()
        .all(|(_, e)| !matches!(e, IceEvent::ConsentLost { .. })));
    assert!(net.connected());
}

#[test]
fn consent_lost_after_peer_goes_silent() {
    let a = IceAgent::new(config(29, true, false, 1));
    let b = IceAgent::new(config(30, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    net.run_for(Duration::from_secs(10));
    let silent_from = net.elapsed();
    net.alive[1] = false;
    net.run_for(Duration::from_secs(40));
    let (a_addr, b_addr) = (sa("203.0.113.1:10000"), sa("198.51.100.2:20000"));
    let lost = net
        .has_event(0, |e| {
            *e == IceEvent::ConsentLost {
                component: 1,
                local: a_addr,
                remote: b_addr,
            }
        })
        .expect("consent lost");
    let after = lost - silent_from;
    // Last response at most ~6 s before the silence; consent lasts 30 s after it.
    assert!(
        after >= Duration::from_secs(24) && after <= Duration::from_secs(30),
        "{after:?}"
    );
    assert_eq!(net.agents[0].selected(1), None);
    assert_eq!(net.agents[0].state(), IceState::Failed);
    // And nothing more is sent to the lost peer after that.
    let lost_at = net.start + lost;
    assert!(net.sent.iter().all(|p| p.at <= lost_at || p.from_node != 0));
}

// ---- authentication ------------------------------------------------------------------------

#[test]
fn wrong_password_is_rejected() {
    let a = IceAgent::new(config(31, true, false, 1));
    let b = IceAgent::new(config(32, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    let b_ufrag = net.agents[1].local_credentials().ufrag.clone();
    // A's idea of B's password is wrong (not a restart: set before anything was checked).
    let mut a2 = IceAgent::new(config(31, true, false, 1));
    a2.add_local_candidate(sa("203.0.113.1:10000"), 1).unwrap();
    a2.set_remote_credentials(&b_ufrag, "WrongPasswordWrongPassword")
        .unwrap();
    for c in net.agents[1].local_candidates().to_vec() {
        a2.add_remote_candidate(c).unwrap();
    }
    net.agents[0] = a2;
    let a_creds = net.agents[0].local_credentials().clone();
    net.agents[1]
        .set_remote_credentials(&a_creds.ufrag, &a_creds.pwd)
        .unwrap_or(true);
    net.run_for(Duration::from_secs(20));
    // B answered A's checks with 401 and no MESSAGE-INTEGRITY.
    let unauthorized: Vec<&Packet> = net
        .sent
        .iter()
        .filter(|p| p.from_node == 1 && p.msg().error_code().map(|e| e.code) == Some(401))
        .collect();
    assert!(!unauthorized.is_empty());
    assert!(unauthorized.iter().all(|p| !p.msg().has_integrity()));
    assert!(net.errors[1].contains(&IceError::BadIntegrity));
    // A cannot authenticate B's answers: no valid pair, no nomination, nothing selected.
    assert!(net.errors[0].contains(&IceError::BadIntegrity));
    assert_eq!(net.agents[0].selected(1), None);
    assert_eq!(net.agents[1].selected(1), None);
    // B's own checks carry A's right password, so A answered them and B counts A as
    // verified (and A counts B: B proved it knows A's password).
    assert!(net.agents[1].is_verified_remote(sa("203.0.113.1:10000")));
}

fn request_to(agent: &IceAgent, username: &str, pwd: Option<&str>) -> Vec<u8> {
    let _ = agent;
    let mut buf = Vec::new();
    let mut w = MessageWriter::new(
        &mut buf,
        Class::Request,
        stun::METHOD_BINDING,
        TransactionId([3; 12]),
    );
    w.username(username).unwrap();
    w.priority(1_862_270_975).unwrap();
    w.ice_controlling(42).unwrap();
    if let Some(p) = pwd {
        w.message_integrity(p.as_bytes()).unwrap();
    }
    w.fingerprint().unwrap();
    buf
}

#[test]
fn unauthenticated_requests_get_400_or_401() {
    let local = sa("203.0.113.1:10000");
    let from = sa("192.0.2.9:1234");
    let mut a = IceAgent::new(config(33, false, false, 1));
    a.add_local_candidate(local, 1).unwrap();
    let creds = a.local_credentials().clone();
    let now = Instant::now();

    let cases = [
        (
            request_to(&a, &format!("{}:x", creds.ufrag), None),
            IceError::MissingCredentials,
            400,
        ),
        (
            request_to(&a, "nope:x", Some(&creds.pwd)),
            IceError::WrongUsername,
            401,
        ),
        (
            request_to(&a, &format!("{}:x", creds.ufrag), Some("not-the-password")),
            IceError::BadIntegrity,
            401,
        ),
    ];
    for (req, err, code) in cases {
        assert_eq!(a.handle_packet(now, local, from, &req), Err(err));
        let t = a.poll_transmit().expect("error response");
        assert_eq!((t.from_local, t.to), (local, from));
        let m = Message::parse(&t.bytes).unwrap();
        assert_eq!(m.class(), Class::Error);
        assert_eq!(m.transaction_id(), TransactionId([3; 12]));
        assert_eq!(m.error_code().unwrap().code, code);
        assert!(!m.has_integrity() && m.verify_fingerprint());
        assert!(!a.is_verified_remote(from));
    }
    assert!(a.remote_candidates().is_empty());

    // Silently dropped when configured so.
    let mut quiet = IceAgent::new(IceConfig {
        reply_errors: false,
        ..config(34, false, false, 1)
    });
    quiet.add_local_candidate(local, 1).unwrap();
    let req = request_to(&quiet, "nope:x", Some("pw"));
    assert_eq!(
        quiet.handle_packet(now, local, from, &req),
        Err(IceError::WrongUsername)
    );
    assert_eq!(quiet.poll_transmit(), None);
}

#[test]
fn unknown_comprehension_required_attribute_gets_420() {
    let local = sa("203.0.113.1:10000");
    let from = sa("192.0.2.9:1234");
    let mut a = IceAgent::new(config(35, false, false, 1));
    a.add_local_candidate(local, 1).unwrap();
    let creds = a.local_credentials().clone();
    let mut req = Vec::new();
    let mut w = MessageWriter::new(
        &mut req,
        Class::Request,
        stun::METHOD_BINDING,
        TransactionId([4; 12]),
    );
    w.username(&format!("{}:peer", creds.ufrag)).unwrap();
    w.attribute(0x0033, &[1, 2, 3, 4]).unwrap();
    w.message_integrity(creds.pwd.as_bytes()).unwrap();
    w.fingerprint().unwrap();
    assert_eq!(
        a.handle_packet(Instant::now(), local, from, &req),
        Err(IceError::UnknownAttributes)
    );
    let t = a.poll_transmit().unwrap();
    let m = Message::parse(&t.bytes).unwrap();
    assert_eq!(m.error_code().unwrap().code, 420);
    assert!(m.verify_integrity(creds.pwd.as_bytes()));
    let o = crate::ice::test_oracle::decode(&t.bytes);
    let ua = o
        .get_attribute::<crate::ice::test_oracle::UnknownAttributes>()
        .unwrap();
    assert_eq!(
        ua.unknowns().iter().map(|t| t.as_u16()).collect::<Vec<_>>(),
        vec![0x0033]
    );
}

#[test]
fn rejects_what_is_not_for_it() {
    let local = sa("203.0.113.1:10000");
    let from = sa("192.0.2.9:1234");
    let mut a = IceAgent::new(config(36, true, false, 1));
    a.add_local_candidate(local, 1).unwrap();
    let now = Instant::now();
    assert_eq!(
        a.handle_packet(now, local, from, &[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(IceError::Stun(stun::StunError::NotStun))
    );
    let creds = a.local_credentials().clone();
    let mut req = request_to(&a, &format!("{}:x", creds.ufrag), Some(&creds.pwd));
    assert_eq!(
        a.handle_packet(now, sa("203.0.113.1:9"), from, &req),
        Err(IceError::UnknownLocal(sa("203.0.113.1:9")))
    );
    let n = req.len();
    req[n - 1] ^= 1;
    assert_eq!(
        a.handle_packet(now, local, from, &req),
        Err(IceError::BadFingerprint)
    );
    // A success response to a transaction we never started.
    a.set_remote_credentials("peer", "peerpasswordpeerpassword")
        .unwrap();
    let mut resp = Vec::new();
    let mut w = MessageWriter::new(
        &mut resp,
        Class::Success,
        stun::METHOD_BINDING,
        TransactionId([9; 12]),
    );
    w.xor_mapped_address(local).unwrap();
    w.message_integrity(b"peerpasswordpeerpassword").unwrap();
    w.fingerprint().unwrap();
    assert_eq!(
        a.handle_packet(now, local, from, &resp),
        Err(IceError::UnknownTransaction)
    );
    assert_eq!(a.poll_transmit(), None);
    assert_eq!(
        a.add_local_candidate(local, 2),
        Err(IceError::BadComponent(2))
    );
    assert_eq!(
        a.set_remote_credentials("a:b", "pw"),
        Err(IceError::BadCredentials)
    );
}

// ---- loss ----------------------------------------------------------------------------------

#[test]
fn retransmission_after_loss_of_first_check() {
    let a = IceAgent::new(config(37, true, false, 1));
    let b = IceAgent::new(config(38, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    // Lose the first request each side sends.
    let mut dropped = [false, false];
    net.drop = Box::new(move |p, _| {
        if p.is_request() && !dropped[p.from_node] {
            dropped[p.from_node] = true;
            return true;
        }
        false
    });
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let t = net.elapsed();
    assert!(
        t >= Duration::from_millis(500) && t < Duration::from_millis(700),
        "{t:?}"
    );
    // The retransmission is the same transaction, byte for byte.
    let a_req: Vec<&Packet> = net
        .sent
        .iter()
        .filter(|p| p.from_node == 0 && p.is_request())
        .collect();
    assert_eq!(a_req[0].bytes, a_req[1].bytes);
    assert_eq!(a_req[1].at - a_req[0].at, Duration::from_millis(500));
}

// ---- independent oracle --------------------------------------------------------------------

/// stun_codec builds a browser-like check; the agent's answer decodes in stun_codec with the
/// right XOR-MAPPED-ADDRESS and a MESSAGE-INTEGRITY that stun_codec verifies with our pwd.
#[test]
fn binding_response_verified_by_stun_codec() {
    use crate::ice::test_oracle::*;
    for (local, from) in [
        ("203.0.113.1:10000", "198.51.100.7:51234"),
        ("[2001:db8:4321::1]:10000", "[2001:db8::7]:51234"),
    ] {
        let (local, from) = (sa(local), sa(from));
        let mut a = IceAgent::new(IceConfig {
            software: Some("rtpbridge".into()),
            ..config(39, false, false, 1)
        });
        a.add_local_candidate(local, 1).unwrap();
        let creds = a.local_credentials().clone();
        let mut m = OracleMessage::new(
            MessageClass::Request,
            stun_codec::rfc5389::methods::BINDING,
            TransactionId::new([0x5a; 12]),
        );
        m.add_attribute(Attr::Username(
            Username::new(format!("{}:brwsr", creds.ufrag)).unwrap(),
        ));
        m.add_attribute(Attr::Priority(Priority::new(1_845_501_695)));
        m.add_attribute(Attr::IceControlling(IceControlling::new(77)));
        m.add_attribute(Attr::UseCandidate(UseCandidate::new()));
        let req = seal(m, &creds.pwd);
        a.handle_packet(Instant::now(), local, from, &req).unwrap();
        let t = a.poll_transmit().unwrap();
        assert_eq!((t.from_local, t.to), (local, from));
        let r = decode(&t.bytes);
        assert_eq!(r.class(), MessageClass::SuccessResponse);
        assert_eq!(r.transaction_id().as_bytes(), &[0x5a; 12]);
        assert_eq!(
            r.get_attribute::<XorMappedAddress>().unwrap().address(),
            from
        );
        assert_eq!(
            r.get_attribute::<Software>().unwrap().description(),
            "rtpbridge"
        );
        let mi = r.get_attribute::<MessageIntegrity>().unwrap();
        assert!(mi.check_short_term_credential(&creds.pwd).is_ok());
        assert!(r.get_attribute::<Fingerprint>().is_some());
        assert!(a.is_verified_remote(from));
        // The controlled agent learned the browser as peer-reflexive and checks it back.
        assert_eq!(a.remote_candidates()[0].kind, CandidateType::PeerReflexive);
        assert_eq!(a.remote_candidates()[0].priority, 1_845_501_695);
    }
}

/// The agent's own checks decode in stun_codec, and a stun_codec-built response completes
/// them: a lite-peer exchange where the peer side is entirely the independent codec.
#[test]
fn checks_answered_by_stun_codec_peer() {
    use crate::ice::test_oracle::*;
    let local = sa("203.0.113.1:10000");
    let peer = sa("198.51.100.7:51234");
    let mut a = IceAgent::new(config(40, true, false, 1));
    a.add_local_candidate(local, 1).unwrap();
    a.set_remote_credentials("peerufrag", "peerpasswordpeerpassword")
        .unwrap();
    a.set_remote_lite(true);
    a.add_remote_candidate_sdp("candidate:1 1 udp 2130706431 198.51.100.7 51234 typ host")
        .unwrap();
    let mut now = Instant::now();
    let end = now + Duration::from_secs(5);
    while a.selected(1).is_none() && now < end {
        a.handle_timeout(now);
        while let Some(t) = a.poll_transmit() {
            assert_eq!((t.from_local, t.to), (local, peer));
            let m = decode(&t.bytes);
            assert_eq!(m.class(), MessageClass::Request);
            let user = m.get_attribute::<Username>().unwrap().name().to_owned();
            assert_eq!(user, format!("peerufrag:{}", a.local_credentials().ufrag));
            let mi = m.get_attribute::<MessageIntegrity>().unwrap();
            assert!(mi
                .check_short_term_credential("peerpasswordpeerpassword")
                .is_ok());
            assert!(m.get_attribute::<IceControlling>().is_some());
            let mut r = OracleMessage::new(
                MessageClass::SuccessResponse,
                stun_codec::rfc5389::methods::BINDING,
                m.transaction_id(),
            );
            r.add_attribute(Attr::XorMappedAddress(XorMappedAddress::new(local)));
            let resp = seal(r, "peerpasswordpeerpassword");
            a.handle_packet(now, local, peer, &resp).unwrap();
        }
        now = a.poll_timeout().unwrap_or(end).max(now);
    }
    assert_eq!(a.selected(1), Some((local, peer)));
}

// ---- candidates and credentials ------------------------------------------------------------

#[test]
fn local_candidates_like_rtpengine() {
    let mut a = IceAgent::new(config(41, false, false, 2));
    for comp in 1..=2 {
        a.add_local_candidate(sa(&format!("203.0.113.1:{}", 30000 + comp - 1)), comp)
            .unwrap();
        a.add_local_candidate(
            sa(&format!("[2001:db8:4321::1]:{}", 30000 + comp - 1)),
            comp,
        )
        .unwrap();
    }
    let lines: Vec<String> = a.local_candidates().iter().map(|c| c.sdp_line()).collect();
    let f = &a.local_candidates()[0].foundation;
    let g = &a.local_candidates()[1].foundation;
    assert_eq!(f.len(), 16);
    assert!(f.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(f, g);
    // 'ICE SDP with ICE force' in rtpengine's auto-daemon-tests.pl.
    assert_eq!(
        lines,
        vec![
            format!("a=candidate:{f} 1 UDP 2130706431 203.0.113.1 30000 typ host"),
            format!("a=candidate:{g} 1 UDP 2130706175 2001:db8:4321::1 30000 typ host"),
            format!("a=candidate:{f} 2 UDP 2130706430 203.0.113.1 30001 typ host"),
            format!("a=candidate:{g} 2 UDP 2130706174 2001:db8:4321::1 30001 typ host"),
        ]
    );
    // Adding again is idempotent.
    a.add_local_candidate(sa("203.0.113.1:30000"), 1).unwrap();
    assert_eq!(a.local_candidates().len(), 4);

    // ICE=force-relay: type preference 0, raddr/rport pointing at itself.
    let mut r = IceAgent::new(config(42, false, false, 1));
    r.add_local_candidate_of_type(sa("203.0.113.1:30000"), 1, CandidateType::Relayed)
        .unwrap();
    r.add_local_candidate_of_type(sa("[2001:db8:4321::1]:30002"), 1, CandidateType::Relayed)
        .unwrap();
    let c = r.local_candidates();
    assert_eq!(
        c[0].to_string(),
        format!(
            "{} 1 UDP 16777215 203.0.113.1 30000 typ relay raddr 203.0.113.1 rport 30000",
            c[0].foundation
        )
    );
    assert_eq!(
        c[1].to_string(),
        format!(
            "{} 1 UDP 16776959 2001:db8:4321::1 30002 typ relay raddr 2001:db8:4321::1 rport 30002",
            c[1].foundation
        )
    );
    // rtpengine's passthrough arithmetic wraps past local index 65535.
    assert_eq!(rtpengine_priority(125, 65536, 1), 4294967295);
    assert_eq!(rtpengine_priority(125, 65535, 1), 2097152255);
    assert_eq!(rtpengine_priority(125, 65535, 2), 2097152254);
}

#[test]
fn credentials_are_random_alphanumeric_and_seeded() {
    let a = IceAgent::new(config(43, false, false, 1));
    let b = IceAgent::new(config(43, false, false, 1));
    let c = IceAgent::new(config(44, false, false, 1));
    let creds = a.local_credentials();
    assert_eq!(creds.ufrag.len(), 8);
    assert_eq!(creds.pwd.len(), 26);
    assert!(creds
        .ufrag
        .chars()
        .chain(creds.pwd.chars())
        .all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(a.local_credentials(), b.local_credentials());
    assert_eq!(a.tie_breaker(), b.tie_breaker());
    assert_ne!(a.local_credentials(), c.local_credentials());
    let given = Credentials {
        ufrag: "abcd".into(),
        pwd: "0123456789012345678901".into(),
    };
    let d = IceAgent::new(IceConfig {
        local_credentials: Some(given.clone()),
        ..IceConfig::default()
    });
    assert_eq!(*d.local_credentials(), given);
}

#[test]
fn parses_browser_and_sip_candidates() {
    let chrome = "candidate:1467250027 1 udp 2122262783 2001:db8:2200:205:fd25:1ca1:96cd:8c2e 61773 typ host generation 0 network-id 2 network-cost 10";
    let c = Candidate::parse(chrome).unwrap().unwrap();
    assert_eq!(c.foundation, "1467250027");
    assert_eq!(c.component, 1);
    assert_eq!(c.priority, 2122262783);
    assert_eq!(c.addr, sa("[2001:db8:2200:205:fd25:1ca1:96cd:8c2e]:61773"));
    assert_eq!(c.kind, CandidateType::Host);
    assert_eq!(c.related, None);

    let srflx = "a=candidate:842163049 1 udp 1685987071 192.168.1.1 5308 typ srflx raddr 192.168.1.54 rport 52949 generation 0 network-id 1 network-cost 10\r\n";
    let c = Candidate::parse(srflx).unwrap().unwrap();
    assert_eq!(c.kind, CandidateType::ServerReflexive);
    assert_eq!(c.related, Some(sa("192.168.1.54:52949")));
    assert_eq!(
        c.to_string(),
        "842163049 1 UDP 1685987071 192.168.1.1 5308 typ srflx raddr 192.168.1.54 rport 52949"
    );

    let relay = Candidate::parse(
        "3 2 UDP 16777214 203.0.113.1 4000 typ relay raddr 203.0.113.1 rport 4000",
    )
    .unwrap()
    .unwrap();
    assert_eq!((relay.component, relay.kind), (2, CandidateType::Relayed));
    let prflx =
        Candidate::parse("x+/9 1 UDP 1845501695 198.51.100.1 4 typ prflx raddr 0.0.0.0 rport 0")
            .unwrap()
            .unwrap();
    assert_eq!(prflx.kind, CandidateType::PeerReflexive);

    // Ignored on purpose: TCP and mDNS host names.
    assert_eq!(
        Candidate::parse(
            "candidate:1 1 tcp 1518283007 2001:db8::1 9 typ host tcptype active generation 0"
        )
        .unwrap(),
        None
    );
    assert_eq!(
        Candidate::parse("candidate:1 1 udp 2122262783 3f4a6c2e-1b7d-4e8f-9a0b-1c2d3e4f5a6b.local 54400 typ host")
            .unwrap(),
        None
    );

    for bad in [
        "",
        "candidate:",
        "candidate:1 1 UDP",
        "candidate:1 0 UDP 1 1.2.3.4 5 typ host",
        "candidate:1 257 UDP 1 1.2.3.4 5 typ host",
        "candidate:1 1 UDP 0 1.2.3.4 5 typ host",
        "candidate:1 1 UDP x 1.2.3.4 5 typ host",
        "candidate:1 1 UDP 1 1.2.3.4 70000 typ host",
        "candidate:1 1 UDP 1 1.2.3.4 5 type host",
        "candidate:1 1 UDP 1 1.2.3.4 5 typ nat",
        "candidate:1 1 UDP 1 1.2.3.4 5 typ host generation",
        "candidate:a$b 1 UDP 1 1.2.3.4 5 typ host",
        "candidate:012345678901234567890123456789012 1 UDP 1 1.2.3.4 5 typ host",
    ] {
        assert!(Candidate::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Candidate::parse(&format!(
        "1 1 UDP 1 1.2.3.4 5 typ host {}",
        "x ".repeat(600)
    ))
    .is_err());
}

#[test]
fn rtcp_candidates_ignored_under_rtcp_mux() {
    let mut a = IceAgent::new(config(45, true, false, 1));
    a.add_remote_candidate_sdp("candidate:1 2 UDP 2130706430 198.51.100.4 2413 typ host")
        .unwrap();
    assert!(a.remote_candidates().is_empty());
    a.add_remote_candidate_sdp("candidate:1 1 TCP 2130706430 198.51.100.4 2413 typ host")
        .unwrap();
    assert!(a.remote_candidates().is_empty());
    for i in 0..MAX_REMOTE_CANDIDATES {
        a.add_remote_candidate_sdp(&format!(
            "candidate:1 1 UDP 1 10.0.{}.{} 9 typ host",
            i / 200,
            i % 200
        ))
        .unwrap();
    }
    assert_eq!(
        a.add_remote_candidate_sdp("candidate:1 1 UDP 1 10.9.9.9 9 typ host"),
        Err(IceError::TooManyCandidates)
    );
}

#[test]
fn pair_priority_formula() {
    // RFC 8445 6.1.2.3 with G = 2130706431, D = 1694498815.
    let (g, d) = (2_130_706_431u64, 1_694_498_815u64);
    assert_eq!(pair_priority(g as u32, d as u32), (d << 32) + 2 * g + 1);
    assert_eq!(pair_priority(d as u32, g as u32), (d << 32) + 2 * g);
    assert_eq!(pair_priority(5, 5), (5 << 32) + 10);
}

#[test]
fn restart_moves_to_a_new_address() {
    // B's network changes (Wi-Fi to mobile): B restarts ICE from a new address; the old one
    // goes dark.
    let a = IceAgent::new(config(46, false, false, 1));
    let b = IceAgent::new(config(47, true, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    let old_b = sa("198.51.100.2:20000");
    let new_b = sa("192.0.2.50:30000");
    net.drop = Box::new(move |p, _| p.from_local == old_b || p.to == old_b);
    net.agents[1].restart();
    net.agents[1].add_local_candidate(new_b, 1).unwrap();
    // B's re-offer carries the new credentials and only the new candidate.
    let creds = net.agents[1].local_credentials().clone();
    assert!(net.agents[0]
        .set_remote_credentials(&creds.ufrag, &creds.pwd)
        .unwrap());
    let line = net.agents[1].local_candidates()[1].sdp_line();
    net.agents[0].add_remote_candidate_sdp(&line).unwrap();
    // Until A's answer arrives, B sends no new checks (its consent may continue).
    net.run_for(Duration::from_millis(300));
    let restarted_at = net.elapsed();
    let a_creds = net.agents[0].local_credentials().clone();
    net.agents[1]
        .set_remote_credentials(&a_creds.ufrag, &a_creds.pwd)
        .unwrap();
    for c in net.agents[0].local_candidates().to_vec() {
        net.agents[1].add_remote_candidate(c).unwrap();
    }
    let a_addr = sa("203.0.113.1:10000");
    assert!(net.run_until(LIMIT, |n| {
        n.agents[0].selected(1) == Some((a_addr, new_b))
            && n.agents[1].selected(1) == Some((new_b, a_addr))
    }));
    // B's old address still ranks higher and its check is pending (lost), so B nominates the
    // new pair when the nomination delay (1 s) runs out.
    let took = net.elapsed() - restarted_at;
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(1200),
        "{took:?}"
    );
    let changed = net
        .has_event(0, |e| {
            *e == IceEvent::SelectedPairChanged {
                component: 1,
                local: a_addr,
                remote: new_b,
            }
        })
        .unwrap();
    assert!(changed >= restarted_at);
    assert_eq!(net.agents[1].selected(1), Some((new_b, a_addr)));
    // The old path is no longer checked and no consent is lost on the new one.
    net.run_for(Duration::from_secs(40));
    assert!(net
        .events
        .iter()
        .flatten()
        .all(|(_, e)| !matches!(e, IceEvent::ConsentLost { .. })));
    let late = net.start + changed + Duration::from_secs(1);
    assert!(net
        .sent
        .iter()
        .filter(|p| p.at > late)
        .all(|p| p.to != old_b && p.from_local != old_b));
}

#[test]
fn local_restart_waits_for_the_answer() {
    let a = IceAgent::new(config(48, true, false, 1));
    let b = IceAgent::new(config(49, false, false, 1));
    let mut net = pair_net(a, b, &["203.0.113.1:10000"], &["198.51.100.2:20000"], 1);
    signal(&mut net);
    assert!(net.run_until(LIMIT, Net::connected));
    net.agents[0].restart();
    let from = net.sent.len();
    net.run_for(Duration::from_secs(3));
    // Only consent checks (at most one in 3 s), no new connectivity checks.
    let a_requests = net.sent[from..]
        .iter()
        .filter(|p| p.from_node == 0 && p.is_request())
        .count();
    assert!(a_requests <= 1, "{a_requests}");
    assert!(net.connected());
    // The peer answers keeping its credentials (not RFC-conformant but seen): checks resume.
    let b_creds = net.agents[1].local_credentials().clone();
    assert!(!net.agents[0]
        .set_remote_credentials(&b_creds.ufrag, &b_creds.pwd)
        .unwrap());
    let a_creds = net.agents[0].local_credentials().clone();
    assert!(net.agents[1]
        .set_remote_credentials(&a_creds.ufrag, &a_creds.pwd)
        .unwrap());
    for c in net.agents[0].local_candidates().to_vec() {
        net.agents[1].add_remote_candidate(c).unwrap();
    }
    let from = net.sent.len();
    net.run_for(Duration::from_secs(1));
    assert!(net.sent[from..]
        .iter()
        .any(|p| p.from_node == 0 && p.is_request() && p.msg().use_candidate()));
    assert!(net.connected());
    assert!(net.errors.iter().all(|e| e.is_empty()), "{:?}", net.errors);
}

/// A browser-like controlling peer (played by stun_codec) nominates right away with its first
/// check: our controlled agent learns it as peer-reflexive, checks back, and selects it once
/// its own check succeeds.
#[test]
fn controlled_agent_accepts_the_peers_nomination() {
    use crate::ice::test_oracle::*;
    let local = sa("203.0.113.1:10000");
    let browser = sa("198.51.100.77:61000");
    let mut b = IceAgent::new(config(50, false, false, 1));
    b.add_local_candidate(local, 1).unwrap();
    b.set_remote_credentials("brws", "browserpasswordbrowserpw")
        .unwrap();
    let creds = b.local_credentials().clone();
    let mut m = OracleMessage::new(
        MessageClass::Request,
        stun_codec::rfc5389::methods::BINDING,
        TransactionId::new([0x11; 12]),
    );
    m.add_attribute(Attr::Username(
        Username::new(format!("{}:brws", creds.ufrag)).unwrap(),
    ));
    m.add_attribute(Attr::Priority(Priority::new(1_853_824_767)));
    m.add_attribute(Attr::IceControlling(IceControlling::new(1)));
    m.add_attribute(Attr::UseCandidate(UseCandidate::new()));
    let now = Instant::now();
    b.handle_packet(now, local, browser, &seal(m, &creds.pwd))
        .unwrap();
    let resp = decode(&b.poll_transmit().unwrap().bytes);
    assert_eq!(resp.class(), MessageClass::SuccessResponse);
    assert_eq!(b.selected(1), None, "not before our own check succeeded");
    b.handle_timeout(now);
    let check = b.poll_transmit().expect("triggered check");
    assert_eq!((check.from_local, check.to), (local, browser));
    let c = decode(&check.bytes);
    assert_eq!(
        c.get_attribute::<Username>().unwrap().name(),
        format!("brws:{}", creds.ufrag)
    );
    assert!(c.get_attribute::<IceControlled>().is_some());
    assert!(c.get_attribute::<UseCandidate>().is_none());
    let mut r = OracleMessage::new(
        MessageClass::SuccessResponse,
        stun_codec::rfc5389::methods::BINDING,
        c.transaction_id(),
    );
    r.add_attribute(Attr::XorMappedAddress(XorMappedAddress::new(local)));
    b.handle_packet(now, local, browser, &seal(r, "browserpasswordbrowserpw"))
        .unwrap();
    assert_eq!(b.selected(1), Some((local, browser)));
    assert_eq!(
        b.poll_event(),
        Some(IceEvent::Connected {
            component: 1,
            local,
            remote: browser
        })
    );
    // A forged response (wrong key) to a later consent check is dropped, not fatal.
    let t = b.poll_timeout().unwrap();
    b.handle_timeout(t);
    let consent = decode(&b.poll_transmit().expect("consent check").bytes);
    let mut forged = OracleMessage::new(
        MessageClass::SuccessResponse,
        stun_codec::rfc5389::methods::BINDING,
        consent.transaction_id(),
    );
    forged.add_attribute(Attr::XorMappedAddress(XorMappedAddress::new(local)));
    assert_eq!(
        b.handle_packet(t, local, browser, &seal(forged, "guess")),
        Err(IceError::BadIntegrity)
    );
}
