//! A sans-IO ICE agent (RFC 8445) for one media stream, full or lite, with consent freshness
//! (RFC 7675).
//!
//! The caller owns the sockets and the clock. It registers its local socket addresses as host
//! candidates, hands over the peer's credentials and candidates from SDP, feeds every STUN
//! datagram to [`IceAgent::handle_packet`], calls [`IceAgent::handle_timeout`] when
//! [`IceAgent::poll_timeout`] says so, and sends whatever [`IceAgent::poll_transmit`] yields
//! from the socket it names. [`IceAgent::poll_event`] reports the selected pair per component.
//! Methods that change what there is to do without being given the time (candidates,
//! credentials, restart) schedule the work for "the last instant seen": call
//! `handle_timeout(now)` after them (the worker does so after every control command).
//!
//! Choices worth knowing:
//! - Incoming requests that fail authentication get the RFC 8489 answer (400 when USERNAME or
//!   MESSAGE-INTEGRITY is missing, 401 when the user name is not ours or the integrity check
//!   fails), without MESSAGE-INTEGRITY since there is no key to use; [`IceConfig::reply_errors`]
//!   turns this off (then they are dropped silently). Either way `handle_packet` returns the
//!   error so the caller can count it. Responses that fail authentication are dropped: they
//!   must not end a transaction a real response may still answer.
//! - A valid pair is the pair that was checked (sending always happens from the base, so a
//!   peer-reflexive local candidate would add nothing for a relay with public addresses).
//! - The controlled agent (and a lite agent) selects the highest-priority pair the peer has
//!   nominated; the controlling agent uses regular nomination: it nominates the best valid pair
//!   once no better pair is still pending, or after [`IceConfig::nomination_delay`].
//! - Consent: a full agent sends one Binding request every 4-6 s on each selected pair (fresh
//!   transaction, no retransmission; each interval is the next attempt) and reports
//!   [`IceEvent::ConsentLost`] when no authenticated response arrived for 30 s. A lite agent
//!   sends nothing; it reports the same event when the peer's checks on the selected pair stop
//!   for 30 s, which is how browsers behave towards a lite peer.
//! - A remote ICE restart (new ufrag/pwd) flushes the remote candidates and the checklist and
//!   regenerates our credentials (RFC 8839: the answer to a restart carries new ones);
//!   the old selected pair stays in use, with consent, until a new one is selected. Requests
//!   that still use our previous credentials are answered until then.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::stun::{self, Class, Message, MessageWriter, StunError, TransactionId};

pub use super::candidate::{rtpengine_priority, Candidate, CandidateType};

/// Most remote candidates kept per agent (signalled plus peer-reflexive).
pub const MAX_REMOTE_CANDIDATES: usize = 64;
/// Most local candidates per agent.
pub const MAX_LOCAL_CANDIDATES: usize = 16;
/// Most candidate pairs per agent.
pub const MAX_PAIRS: usize = 256;
/// Most remote addresses remembered as verified.
const MAX_VERIFIED: usize = 64;
/// Outstanding consent transactions remembered per component.
const MAX_CONSENT_PENDING: usize = 8;

const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Errors from feeding the agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    #[error(transparent)]
    Stun(#[from] StunError),
    #[error("STUN FINGERPRINT mismatch")]
    BadFingerprint,
    #[error("unsupported STUN method {0:#05x}")]
    UnsupportedMethod(u16),
    #[error("STUN request without USERNAME or MESSAGE-INTEGRITY")]
    MissingCredentials,
    #[error("STUN USERNAME is not for this agent")]
    WrongUsername,
    #[error("STUN MESSAGE-INTEGRITY check failed")]
    BadIntegrity,
    #[error("STUN request with unknown comprehension-required attributes")]
    UnknownAttributes,
    #[error("STUN response matches no transaction")]
    UnknownTransaction,
    #[error("packet on {0}, which is not a local candidate")]
    UnknownLocal(SocketAddr),
    #[error("component {0} does not exist in this stream")]
    BadComponent(u16),
    #[error("invalid ICE ufrag or pwd")]
    BadCredentials,
    #[error("malformed candidate: {0}")]
    BadCandidate(&'static str),
    #[error("too many candidates")]
    TooManyCandidates,
}

/// ICE user fragment and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub ufrag: String,
    pub pwd: String,
}

impl Credentials {
    /// Random credentials like rtpengine's: 8 and 26 alphanumeric characters.
    pub fn random(rng: &mut impl Rng) -> Self {
        Credentials {
            ufrag: random_string(rng, 8),
            pwd: random_string(rng, 26),
        }
    }
}

fn random_string(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// Agent configuration. `Default` gives a controlled full agent with RTCP multiplexed.
#[derive(Debug, Clone)]
pub struct IceConfig {
    /// ICE-lite: answer checks only, never send any; always controlled.
    pub lite: bool,
    /// Initial role (a lite agent is always controlled).
    pub controlling: bool,
    /// 1 with rtcp-mux (RTP only), 2 for RTP and RTCP.
    pub components: u16,
    /// Our ufrag/pwd; random when `None`.
    pub local_credentials: Option<Credentials>,
    /// Role-conflict tie-breaker; random when `None`.
    pub tie_breaker: Option<u64>,
    /// Seed for everything random (credentials, foundations, transaction IDs, consent jitter);
    /// from the OS when `None`.
    pub seed: Option<u64>,
    /// Pacing between new checks (Ta).
    pub ta: Duration,
    /// First retransmission timeout of a check.
    pub initial_rto: Duration,
    /// Cap for the doubling retransmission timeout.
    pub max_rto: Duration,
    /// Transmissions of a check before its pair fails.
    pub max_transmits: u32,
    /// Controlling agent: nominate the best valid pair at the latest this long after the first
    /// pair of a component became valid, even if better pairs are still being checked.
    pub nomination_delay: Duration,
    /// Mean interval of consent checks; each is randomised to 0.8-1.2 times this.
    pub consent_interval: Duration,
    /// Consent expires this long after the last authenticated response.
    pub consent_timeout: Duration,
    /// SOFTWARE attribute on what we send, if any.
    pub software: Option<String>,
    /// Answer unauthenticated requests with 400/401 (true) or drop them silently.
    pub reply_errors: bool,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            lite: false,
            controlling: false,
            components: 1,
            local_credentials: None,
            tie_breaker: None,
            seed: None,
            ta: Duration::from_millis(20),
            initial_rto: Duration::from_millis(500),
            max_rto: Duration::from_secs(3),
            max_transmits: 7,
            nomination_delay: Duration::from_secs(1),
            consent_interval: Duration::from_secs(5),
            consent_timeout: Duration::from_secs(30),
            software: None,
            reply_errors: true,
        }
    }
}

/// A datagram to send from one of our local candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub from_local: SocketAddr,
    pub to: SocketAddr,
    pub bytes: Vec<u8>,
}

/// What the agent reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IceEvent {
    /// The first selected pair of a component (media can flow).
    Connected {
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// A different pair was selected for a component that already had one.
    SelectedPairChanged {
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// The selected pair lost consent (RFC 7675); the component has no selected pair now.
    ConsentLost {
        component: u16,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// Every pair of a component failed after the peer signalled end-of-candidates.
    Failed { component: u16 },
    /// The peer restarted ICE; our credentials were regenerated (put them in the answer).
    RestartDetected,
    /// A role conflict (or an ICE-lite peer) switched our role.
    RoleChanged { controlling: bool },
}

/// Overall state, for queries and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IceState {
    /// Nothing to check yet.
    New,
    /// Checks under way (or awaited, for a lite agent).
    Checking,
    /// Every component has a selected pair.
    Connected,
    /// Some component failed or lost consent and has no selected pair.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PairState {
    Frozen,
    Waiting,
    InProgress,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
struct Txn {
    id: TransactionId,
    next_at: Instant,
    rto: Duration,
    transmits: u32,
    bytes: Vec<u8>,
    use_candidate: bool,
    sent_controlling: bool,
}

#[derive(Debug, Clone)]
struct Pair {
    local: usize,
    remote: usize,
    component: u16,
    priority: u64,
    state: PairState,
    txn: Option<Txn>,
    /// Controlling: the next check on this pair carries USE-CANDIDATE.
    nominate: bool,
    /// Controlled: the peer sent USE-CANDIDATE on this pair.
    remote_nominated: bool,
    nominated: bool,
}

#[derive(Debug, Clone)]
struct Local {
    cand: Candidate,
    /// Index of the address among our local addresses (rtpengine's local preference).
    ip_index: u32,
}

#[derive(Debug, Clone, Default)]
struct Component {
    /// (local, remote) of the selected pair; survives an ICE restart until replaced.
    selected: Option<(SocketAddr, SocketAddr)>,
    /// Pair priority of the selection (for "highest nominated wins").
    selected_priority: u64,
    first_valid_at: Option<Instant>,
    nominating: Option<usize>,
    failed_reported: bool,
    lost: bool,
    /// The selection predates an ICE restart: it carries media until a new pair is selected.
    stale: bool,
    consent_next: Option<Instant>,
    consent_expires: Option<Instant>,
    consent_pending: VecDeque<TransactionId>,
}

/// The ICE agent of one media stream.
pub struct IceAgent {
    cfg: IceConfig,
    rng: StdRng,
    local_creds: Credentials,
    prev_local_creds: Option<Credentials>,
    remote_creds: Option<Credentials>,
    local_restart_pending: bool,
    remote_lite: bool,
    controlling: bool,
    tie_breaker: u64,
    local_ips: Vec<(std::net::IpAddr, String)>,
    locals: Vec<Local>,
    local_list: Vec<Candidate>,
    remotes: Vec<Candidate>,
    remote_end_of_candidates: bool,
    pairs: Vec<Pair>,
    triggered: VecDeque<usize>,
    next_check_at: Option<Instant>,
    comps: Vec<Component>,
    verified: VecDeque<SocketAddr>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IceEvent>,
    prflx_count: u32,
    last_now: Option<Instant>,
}

impl IceAgent {
    pub fn new(config: IceConfig) -> Self {
        let mut rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        let local_creds = config
            .local_credentials
            .clone()
            .unwrap_or_else(|| Credentials::random(&mut rng));
        let tie_breaker = config.tie_breaker.unwrap_or_else(|| rng.random());
        let components = config.components.clamp(1, 2);
        let controlling = config.controlling && !config.lite;
        IceAgent {
            cfg: IceConfig {
                components,
                ..config
            },
            rng,
            local_creds,
            prev_local_creds: None,
            remote_creds: None,
            local_restart_pending: false,
            remote_lite: false,
            controlling,
            tie_breaker,
            local_ips: Vec::new(),
            locals: Vec::new(),
            local_list: Vec::new(),
            remotes: Vec::new(),
            remote_end_of_candidates: false,
            pairs: Vec::new(),
            triggered: VecDeque::new(),
            next_check_at: None,
            comps: vec![Component::default(); usize::from(components)],
            verified: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            prflx_count: 0,
            last_now: None,
        }
    }

    // ---- configuration and signalling ------------------------------------------------------

    pub fn local_credentials(&self) -> &Credentials {
        &self.local_creds
    }

    pub fn remote_credentials(&self) -> Option<&Credentials> {
        self.remote_creds.as_ref()
    }

    /// Our candidates, in the order they were added (the order to write them to SDP).
    pub fn local_candidates(&self) -> &[Candidate] {
        &self.local_list
    }

    /// The peer's candidates, signalled and peer-reflexive.
    pub fn remote_candidates(&self) -> &[Candidate] {
        &self.remotes
    }

    pub fn is_lite(&self) -> bool {
        self.cfg.lite
    }

    pub fn is_controlling(&self) -> bool {
        self.controlling
    }

    pub fn tie_breaker(&self) -> u64 {
        self.tie_breaker
    }

    pub fn components(&self) -> u16 {
        self.cfg.components
    }

    /// Adds a host candidate for one of our sockets. The priority follows rtpengine: type
    /// preference 126, local preference 65535 minus the index of the address among the ones
    /// added so far (IPv4 and IPv6 alike), 256 minus the component. Each local address gets one
    /// random 16-character foundation shared by its components. Adding the same address and
    /// component again returns the existing candidate.
    pub fn add_local_candidate(
        &mut self,
        addr: SocketAddr,
        component: u16,
    ) -> Result<Candidate, IceError> {
        self.add_local_candidate_of_type(addr, component, CandidateType::Host)
    }

    /// Like [`add_local_candidate`](Self::add_local_candidate) but advertised as another type
    /// (rtpengine's `ICE=force-relay` writes its own address as a relay candidate, type
    /// preference 0, with itself as `raddr`/`rport`).
    pub fn add_local_candidate_of_type(
        &mut self,
        addr: SocketAddr,
        component: u16,
        kind: CandidateType,
    ) -> Result<Candidate, IceError> {
        self.check_component(component)?;
        if let Some(l) = self
            .locals
            .iter()
            .find(|l| l.cand.addr == addr && l.cand.component == component)
        {
            return Ok(l.cand.clone());
        }
        if self.locals.len() >= MAX_LOCAL_CANDIDATES {
            return Err(IceError::TooManyCandidates);
        }
        let ip_index = match self.local_ips.iter().position(|(ip, _)| *ip == addr.ip()) {
            Some(i) => i,
            None => {
                let foundation = random_string(&mut self.rng, 16);
                self.local_ips.push((addr.ip(), foundation));
                self.local_ips.len() - 1
            }
        };
        let cand = Candidate {
            foundation: self.local_ips[ip_index].1.clone(),
            component,
            priority: rtpengine_priority(
                kind.type_preference(),
                ip_index as u32,
                u32::from(component),
            ),
            addr,
            kind,
            related: (kind != CandidateType::Host).then_some(addr),
        };
        self.locals.push(Local {
            cand: cand.clone(),
            ip_index: ip_index as u32,
        });
        self.local_list.push(cand.clone());
        let li = self.locals.len() - 1;
        for ri in 0..self.remotes.len() {
            self.form_pair(li, ri);
        }
        self.update_frozen();
        Ok(cand)
    }

    /// The peer's ufrag and pwd from SDP. Returns true if this is an ICE restart (they
    /// changed); then the remote candidates and checks are flushed, our own credentials are
    /// regenerated (unless we started the restart with [`restart`](Self::restart)) and
    /// [`IceEvent::RestartDetected`] is reported.
    pub fn set_remote_credentials(&mut self, ufrag: &str, pwd: &str) -> Result<bool, IceError> {
        let valid = |s: &str, min: usize| {
            (min..=256).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
        };
        // RFC 8839 wants 4 and 22 characters at least; SIP endpoints are not always that
        // careful, so accept anything non-empty without a colon in the ufrag.
        if !valid(ufrag, 1) || ufrag.contains(':') || !valid(pwd, 1) {
            return Err(IceError::BadCredentials);
        }
        let new = Credentials {
            ufrag: ufrag.to_owned(),
            pwd: pwd.to_owned(),
        };
        match &self.remote_creds {
            Some(old) if *old == new => {
                // An answer to our restart that kept its credentials: check with them.
                self.local_restart_pending = false;
                return Ok(false);
            }
            None => {
                self.remote_creds = Some(new);
                self.local_restart_pending = false;
                return Ok(false);
            }
            Some(_) => {}
        }
        self.remote_creds = Some(new);
        self.remotes.clear();
        self.flush_checks();
        self.remote_end_of_candidates = false;
        if self.local_restart_pending {
            self.local_restart_pending = false;
        } else {
            self.new_local_credentials();
            self.events.push_back(IceEvent::RestartDetected);
        }
        Ok(true)
    }

    /// Restarts ICE from our side: new local credentials and a fresh checklist. The peer's new
    /// credentials (from its answer) then do not regenerate ours again.
    pub fn restart(&mut self) {
        self.new_local_credentials();
        self.local_restart_pending = true;
        self.flush_checks();
        for li in 0..self.locals.len() {
            for ri in 0..self.remotes.len() {
                self.form_pair(li, ri);
            }
        }
        self.update_frozen();
    }

    /// Restarts ICE from our side with credentials the caller chose (the control plane writes
    /// them into SDP before the worker's agent learns them). Same credentials: nothing happens.
    pub fn set_local_credentials(&mut self, creds: Credentials) {
        if creds == self.local_creds {
            return;
        }
        let old = std::mem::replace(&mut self.local_creds, creds);
        self.prev_local_creds = self
            .comps
            .iter()
            .any(|c| c.selected.is_some())
            .then_some(old);
        self.local_restart_pending = true;
        self.flush_checks();
        for li in 0..self.locals.len() {
            for ri in 0..self.remotes.len() {
                self.form_pair(li, ri);
            }
        }
        self.update_frozen();
    }

    /// Fixes the foundation of the host candidates on `ip` before they are added, so that
    /// a caller that advertises candidates itself (in SDP) and the agent agree on it.
    pub fn preset_foundation(&mut self, ip: std::net::IpAddr, foundation: &str) {
        if !self.local_ips.iter().any(|(i, _)| *i == ip) {
            self.local_ips.push((ip, foundation.to_owned()));
        }
    }

    /// New local credentials. While a pair selected before is still in use, requests with the
    /// previous ones keep being answered (the peer may not have our new SDP yet).
    fn new_local_credentials(&mut self) {
        let fresh = Credentials::random(&mut self.rng);
        let old = std::mem::replace(&mut self.local_creds, fresh);
        self.prev_local_creds = self
            .comps
            .iter()
            .any(|c| c.selected.is_some())
            .then_some(old);
    }

    fn flush_checks(&mut self) {
        self.pairs.clear();
        self.triggered.clear();
        self.next_check_at = None;
        for c in &mut self.comps {
            c.first_valid_at = None;
            c.nominating = None;
            c.failed_reported = false;
            // The selection and its consent continue until a new pair is selected.
            c.stale = c.selected.is_some();
        }
    }

    /// The peer announced `a=ice-lite`: we must be controlling (RFC 8445 6.1.1).
    pub fn set_remote_lite(&mut self, lite: bool) {
        self.remote_lite = lite;
        if lite && !self.cfg.lite && !self.controlling {
            self.switch_role(true);
        }
    }

    /// Sets the role (the offerer of a full/full session is controlling). Ignored for a lite
    /// agent, which is always controlled.
    pub fn set_controlling(&mut self, controlling: bool) {
        if !self.cfg.lite && controlling != self.controlling {
            self.switch_role(controlling);
        }
    }

    /// Adds a candidate from SDP or trickle. Candidates of a component this stream does not
    /// have (RTCP ones under rtcp-mux) are ignored. A candidate for an address already learned
    /// as peer-reflexive replaces it (type, priority, foundation).
    pub fn add_remote_candidate(&mut self, cand: Candidate) -> Result<(), IceError> {
        if cand.component == 0 || cand.component > self.cfg.components {
            return Ok(());
        }
        if let Some(ri) = self
            .remotes
            .iter()
            .position(|r| r.addr == cand.addr && r.component == cand.component)
        {
            if self.remotes[ri].kind == CandidateType::PeerReflexive
                && cand.kind != CandidateType::PeerReflexive
            {
                self.remotes[ri] = cand;
                self.recompute_priorities();
            }
            return Ok(());
        }
        if self.remotes.len() >= MAX_REMOTE_CANDIDATES {
            return Err(IceError::TooManyCandidates);
        }
        self.remotes.push(cand);
        let ri = self.remotes.len() - 1;
        for li in 0..self.locals.len() {
            self.form_pair(li, ri);
        }
        self.update_frozen();
        Ok(())
    }

    /// Parses an `a=candidate` value and adds it; TCP and host-name candidates are skipped.
    pub fn add_remote_candidate_sdp(&mut self, value: &str) -> Result<(), IceError> {
        match Candidate::parse(value)? {
            Some(c) => self.add_remote_candidate(c),
            None => Ok(()),
        }
    }

    /// The peer signalled `a=end-of-candidates`: a component whose pairs all failed now fails.
    pub fn end_of_remote_candidates(&mut self) {
        self.remote_end_of_candidates = true;
    }

    // ---- queries ---------------------------------------------------------------------------

    /// The selected pair of a component: (our local address, the peer's address).
    pub fn selected(&self, component: u16) -> Option<(SocketAddr, SocketAddr)> {
        self.comps
            .get(usize::from(component).wrapping_sub(1))
            .and_then(|c| c.selected)
    }

    /// Whether `addr` has passed a check: an authenticated request came from it, or it
    /// answered one of our checks with an authenticated response. DTLS from any other source
    /// is to be ignored.
    pub fn is_verified_remote(&self, addr: SocketAddr) -> bool {
        self.verified.contains(&addr)
    }

    pub fn state(&self) -> IceState {
        if self.comps.iter().all(|c| c.selected.is_some()) {
            IceState::Connected
        } else if self.comps.iter().any(|c| c.failed_reported || c.lost) {
            IceState::Failed
        } else if self.remote_creds.is_some() && (!self.pairs.is_empty() || self.cfg.lite) {
            IceState::Checking
        } else {
            IceState::New
        }
    }

    // ---- outputs ---------------------------------------------------------------------------

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |i: Option<Instant>| {
            if let Some(i) = i {
                t = Some(t.map_or(i, |t| t.min(i)));
            }
        };
        for p in &self.pairs {
            at(p.txn.as_ref().map(|x| x.next_at));
        }
        for c in &self.comps {
            at(c.consent_next);
            at(c.consent_expires);
        }
        if self.can_check() {
            if self.has_check_work() {
                // Nothing sent yet: as soon as possible, i.e. the last time we were given.
                at(self.next_check_at.or(self.last_now));
            }
            for ci in 0..self.comps.len() {
                match self.nomination_candidate(ci) {
                    Some((_, true)) => at(self.comps[ci]
                        .first_valid_at
                        .map(|v| v + self.cfg.nomination_delay)),
                    Some((_, false)) => at(self.last_now),
                    None => {}
                }
            }
        }
        t
    }

    // ---- inputs ----------------------------------------------------------------------------

    /// Drives timers: retransmissions, paced new checks, nomination, consent.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        self.retransmit(now);
        self.nominate(now);
        self.send_next_check(now);
        self.consent(now);
        self.check_failed();
    }

    /// Feeds one datagram received on our `local` address from `from`. Errors say why the
    /// datagram was not accepted (not STUN, failed authentication, unknown transaction...)
    /// so the caller can count them. A rejected packet changes no state; at most an error
    /// response is queued for it (400/401/420, see the module notes).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local: SocketAddr,
        from: SocketAddr,
        packet: &[u8],
    ) -> Result<(), IceError> {
        self.last_now = Some(now);
        let msg = Message::parse(packet)?;
        if msg.has_fingerprint() && !msg.verify_fingerprint() {
            return Err(IceError::BadFingerprint);
        }
        if msg.method() != stun::METHOD_BINDING {
            return Err(IceError::UnsupportedMethod(msg.method()));
        }
        let li = self
            .locals
            .iter()
            .position(|l| l.cand.addr == local)
            .ok_or(IceError::UnknownLocal(local))?;
        match msg.class() {
            Class::Request => self.handle_request(now, li, from, &msg),
            Class::Success | Class::Error => self.handle_response(now, li, from, &msg),
            // Binding indications are keepalives; nothing to do.
            Class::Indication => Ok(()),
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        li: usize,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), IceError> {
        let local = self.locals[li].cand.addr;
        let component = self.locals[li].cand.component;
        let (Some(username), true) = (msg.username(), msg.has_integrity()) else {
            self.reply_error(
                local,
                from,
                msg,
                stun::code::BAD_REQUEST,
                "Bad Request",
                None,
            );
            return Err(IceError::MissingCredentials);
        };
        let ours = username.split(':').next().unwrap_or("");
        let pwd = if ours == self.local_creds.ufrag {
            self.local_creds.pwd.clone()
        } else if let Some(prev) = self.prev_local_creds.as_ref().filter(|p| p.ufrag == ours) {
            prev.pwd.clone()
        } else {
            self.reply_error(
                local,
                from,
                msg,
                stun::code::UNAUTHORIZED,
                "Unauthorized",
                None,
            );
            return Err(IceError::WrongUsername);
        };
        if !msg.verify_integrity(pwd.as_bytes()) {
            self.reply_error(
                local,
                from,
                msg,
                stun::code::UNAUTHORIZED,
                "Unauthorized",
                None,
            );
            return Err(IceError::BadIntegrity);
        }
        if !msg.unknown_required().is_empty() {
            self.reply_error(
                local,
                from,
                msg,
                stun::code::UNKNOWN_ATTRIBUTE,
                "Unknown Attribute",
                Some(&pwd),
            );
            return Err(IceError::UnknownAttributes);
        }

        // Role conflict, RFC 8445 7.3.1.1.
        if self.cfg.lite {
            if msg.ice_controlled().is_some() {
                self.reply_error(
                    local,
                    from,
                    msg,
                    stun::code::ROLE_CONFLICT,
                    "Role Conflict",
                    Some(&pwd),
                );
                return Ok(());
            }
        } else if self.controlling {
            if let Some(theirs) = msg.ice_controlling() {
                if self.tie_breaker >= theirs {
                    self.reply_error(
                        local,
                        from,
                        msg,
                        stun::code::ROLE_CONFLICT,
                        "Role Conflict",
                        Some(&pwd),
                    );
                    return Ok(());
                }
                self.switch_role(false);
            }
        } else if let Some(theirs) = msg.ice_controlled() {
            if self.tie_breaker >= theirs {
                self.switch_role(true);
            } else {
                self.reply_error(
                    local,
                    from,
                    msg,
                    stun::code::ROLE_CONFLICT,
                    "Role Conflict",
                    Some(&pwd),
                );
                return Ok(());
            }
        }

        // Success response.
        let mut bytes = Vec::with_capacity(96);
        let mut w = MessageWriter::new(
            &mut bytes,
            Class::Success,
            stun::METHOD_BINDING,
            msg.transaction_id(),
        );
        let built = (|| {
            w.xor_mapped_address(from)?;
            if let Some(s) = &self.cfg.software {
                w.software(s)?;
            }
            w.message_integrity(pwd.as_bytes())?;
            w.fingerprint()?;
            Ok::<_, StunError>(())
        })();
        if built.is_ok() {
            self.transmits.push_back(Transmit {
                from_local: local,
                to: from,
                bytes,
            });
        }
        self.mark_verified(from);

        if self.cfg.lite {
            self.lite_request(now, li, from, msg);
            return Ok(());
        }

        // Full agent: the remote candidate (peer-reflexive if unknown), then the triggered check.
        let ri = match self
            .remotes
            .iter()
            .position(|r| r.addr == from && r.component == component)
        {
            Some(ri) => ri,
            None => {
                if self.remotes.len() >= MAX_REMOTE_CANDIDATES {
                    return Ok(());
                }
                self.prflx_count += 1;
                let priority = msg
                    .priority()
                    .unwrap_or_else(|| rtpengine_priority(110, 0, u32::from(component)));
                self.remotes.push(Candidate {
                    foundation: format!("prflx{}", self.prflx_count),
                    component,
                    priority,
                    addr: from,
                    kind: CandidateType::PeerReflexive,
                    related: None,
                });
                let ri = self.remotes.len() - 1;
                for l in 0..self.locals.len() {
                    self.form_pair(l, ri);
                }
                ri
            }
        };
        let Some(pi) = self
            .pairs
            .iter()
            .position(|p| p.local == li && p.remote == ri)
        else {
            return Ok(());
        };
        let nominate = msg.use_candidate() && !self.controlling;
        let p = &mut self.pairs[pi];
        match p.state {
            PairState::Succeeded => {
                if nominate {
                    p.remote_nominated = true;
                    p.nominated = true;
                    self.consider_selection(now, pi);
                }
            }
            PairState::InProgress => {
                if nominate {
                    p.remote_nominated = true;
                }
            }
            PairState::Frozen | PairState::Waiting | PairState::Failed => {
                if nominate {
                    p.remote_nominated = true;
                }
                p.state = PairState::Waiting;
                p.txn = None;
                if !self.triggered.contains(&pi) {
                    self.triggered.push_back(pi);
                }
            }
        }
        Ok(())
    }

    /// A lite agent's view of an authenticated request: the pair is valid; USE-CANDIDATE
    /// nominates it; any request on the selected pair keeps it alive.
    fn lite_request(&mut self, now: Instant, li: usize, from: SocketAddr, msg: &Message<'_>) {
        let local = &self.locals[li].cand;
        let ci = usize::from(local.component - 1);
        let local_addr = local.addr;
        let remote_prio = msg.priority().unwrap_or(0);
        // The peer is controlling: G is its priority, D ours.
        let prio = pair_priority(remote_prio, local.priority);
        let c = &mut self.comps[ci];
        let restarting = c.stale;
        if c.selected == Some((local_addr, from)) {
            c.consent_expires = Some(now + self.cfg.consent_timeout);
            if msg.use_candidate() {
                c.selected_priority = c.selected_priority.max(prio);
            }
            return;
        }
        if msg.use_candidate()
            && (c.selected.is_none() || c.lost || prio > c.selected_priority || restarting)
        {
            self.select(now, ci, local_addr, from, prio);
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        li: usize,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), IceError> {
        let tid = msg.transaction_id();
        let Some(pwd) = self.remote_creds.as_ref().map(|c| c.pwd.clone()) else {
            return Err(IceError::UnknownTransaction);
        };
        if let Some(pi) = self
            .pairs
            .iter()
            .position(|p| p.txn.as_ref().is_some_and(|t| t.id == tid))
        {
            if !msg.verify_integrity(pwd.as_bytes()) {
                return Err(IceError::BadIntegrity);
            }
            return self.check_response(now, pi, li, from, msg);
        }
        if let Some(ci) = self
            .comps
            .iter()
            .position(|c| c.consent_pending.contains(&tid))
        {
            if !msg.verify_integrity(pwd.as_bytes()) {
                return Err(IceError::BadIntegrity);
            }
            let c = &mut self.comps[ci];
            c.consent_pending.retain(|t| *t != tid);
            let on_selected = c.selected == Some((self.locals[li].cand.addr, from));
            if msg.class() == Class::Success && on_selected {
                c.consent_expires = Some(now + self.cfg.consent_timeout);
                self.mark_verified(from);
            } else if msg.class() == Class::Error
                && msg.error_code().map(|e| e.code) == Some(stun::code::ROLE_CONFLICT)
            {
                let was = self.controlling;
                self.switch_role(!was);
            }
            return Ok(());
        }
        Err(IceError::UnknownTransaction)
    }

    fn check_response(
        &mut self,
        now: Instant,
        pi: usize,
        li: usize,
        from: SocketAddr,
        msg: &Message<'_>,
    ) -> Result<(), IceError> {
        let Some(txn) = self.pairs[pi].txn.take() else {
            return Err(IceError::UnknownTransaction);
        };
        let component = self.pairs[pi].component;
        let ci = usize::from(component - 1);
        if msg.class() == Class::Error {
            let code = msg.error_code().map(|e| e.code);
            if code == Some(stun::code::ROLE_CONFLICT) {
                // RFC 8445 7.2.5.1: switch to the role opposite to the one we sent with, and
                // retry the check.
                if self.controlling == txn.sent_controlling {
                    self.switch_role(!txn.sent_controlling);
                }
                let p = &mut self.pairs[pi];
                if p.state != PairState::Succeeded {
                    p.state = PairState::Waiting;
                }
                if !self.triggered.contains(&pi) {
                    self.triggered.push_front(pi);
                }
            } else {
                self.fail_pair(pi);
            }
            return Ok(());
        }
        // Non-symmetric transport addresses fail the check (RFC 8445 7.2.5.2.1).
        let pair = &self.pairs[pi];
        if from != self.remotes[pair.remote].addr || li != pair.local {
            self.fail_pair(pi);
            return Ok(());
        }
        self.mark_verified(from);
        let p = &mut self.pairs[pi];
        p.state = PairState::Succeeded;
        if (txn.use_candidate && self.controlling) || (p.remote_nominated && !self.controlling) {
            p.nominated = true;
        }
        let nominated = p.nominated;
        self.comps[ci].first_valid_at.get_or_insert(now);
        if txn.use_candidate && self.comps[ci].nominating == Some(pi) {
            self.comps[ci].nominating = None;
        }
        // Unfreeze the pairs that share the foundation (RFC 8445 7.2.5.3.3).
        for i in 0..self.pairs.len() {
            if self.pairs[i].state == PairState::Frozen && self.same_foundation(i, pi) {
                self.pairs[i].state = PairState::Waiting;
            }
        }
        if nominated {
            self.consider_selection(now, pi);
        }
        self.update_frozen();
        Ok(())
    }

    // ---- internals -------------------------------------------------------------------------

    fn check_component(&self, component: u16) -> Result<(), IceError> {
        if component == 0 || component > self.cfg.components {
            Err(IceError::BadComponent(component))
        } else {
            Ok(())
        }
    }

    /// Checks need the peer's credentials; after our own restart, its new ones (the answer).
    fn can_check(&self) -> bool {
        !self.cfg.lite && self.remote_creds.is_some() && !self.local_restart_pending
    }

    fn has_check_work(&self) -> bool {
        !self.triggered.is_empty()
            || self.pairs.iter().any(|p| {
                p.state == PairState::Waiting
                    && !self.comps[usize::from(p.component - 1)].selected_is_current()
            })
    }

    fn same_foundation(&self, a: usize, b: usize) -> bool {
        let (p, q) = (&self.pairs[a], &self.pairs[b]);
        self.locals[p.local].cand.foundation == self.locals[q.local].cand.foundation
            && self.remotes[p.remote].foundation == self.remotes[q.remote].foundation
    }

    fn form_pair(&mut self, li: usize, ri: usize) {
        let l = &self.locals[li].cand;
        let r = &self.remotes[ri];
        if l.component != r.component
            || l.addr.is_ipv4() != r.addr.is_ipv4()
            || self.pairs.len() >= MAX_PAIRS
            || self.pairs.iter().any(|p| p.local == li && p.remote == ri)
        {
            return;
        }
        let priority = self.priority_of(l.priority, r.priority);
        self.pairs.push(Pair {
            local: li,
            remote: ri,
            component: l.component,
            priority,
            state: PairState::Frozen,
            txn: None,
            nominate: false,
            remote_nominated: false,
            nominated: false,
        });
    }

    fn priority_of(&self, local: u32, remote: u32) -> u64 {
        if self.controlling {
            pair_priority(local, remote)
        } else {
            pair_priority(remote, local)
        }
    }

    fn recompute_priorities(&mut self) {
        for i in 0..self.pairs.len() {
            let p = &self.pairs[i];
            let prio = self.priority_of(
                self.locals[p.local].cand.priority,
                self.remotes[p.remote].priority,
            );
            self.pairs[i].priority = prio;
        }
    }

    fn switch_role(&mut self, controlling: bool) {
        if self.controlling == controlling {
            return;
        }
        self.controlling = controlling;
        self.recompute_priorities();
        for c in &mut self.comps {
            c.nominating = None;
        }
        for p in &mut self.pairs {
            p.nominate = false;
        }
        self.events.push_back(IceEvent::RoleChanged { controlling });
    }

    /// Frozen pairs become Waiting when no pair of their foundation is Waiting or In-Progress:
    /// the best of each such foundation (lowest component, then highest priority) goes first.
    fn update_frozen(&mut self) {
        loop {
            let mut best: Option<usize> = None;
            for i in 0..self.pairs.len() {
                if self.pairs[i].state != PairState::Frozen {
                    continue;
                }
                let active = self.pairs.iter().enumerate().any(|(j, p)| {
                    matches!(p.state, PairState::Waiting | PairState::InProgress)
                        && self.same_foundation(i, j)
                });
                if active {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some(b) => {
                        let (p, q) = (&self.pairs[i], &self.pairs[b]);
                        (p.component, std::cmp::Reverse(p.priority))
                            < (q.component, std::cmp::Reverse(q.priority))
                    }
                };
                if better {
                    best = Some(i);
                }
            }
            match best {
                Some(b) => self.pairs[b].state = PairState::Waiting,
                None => break,
            }
        }
    }

    fn fail_pair(&mut self, pi: usize) {
        let p = &mut self.pairs[pi];
        p.state = PairState::Failed;
        p.txn = None;
        p.nominate = false;
        let ci = usize::from(p.component - 1);
        if self.comps[ci].nominating == Some(pi) {
            self.comps[ci].nominating = None;
        }
        self.update_frozen();
    }

    fn mark_verified(&mut self, addr: SocketAddr) {
        if self.verified.contains(&addr) {
            return;
        }
        if self.verified.len() >= MAX_VERIFIED {
            let selected: Vec<SocketAddr> = self
                .comps
                .iter()
                .filter_map(|c| c.selected.map(|s| s.1))
                .collect();
            if let Some(i) = self.verified.iter().position(|a| !selected.contains(a)) {
                self.verified.remove(i);
            } else {
                return;
            }
        }
        self.verified.push_back(addr);
    }

    /// A nominated pair: select it if it is the first or better than the current selection
    /// (the current one always loses to a pair of the checklist after a restart).
    fn consider_selection(&mut self, now: Instant, pi: usize) {
        let p = &self.pairs[pi];
        let ci = usize::from(p.component - 1);
        let local = self.locals[p.local].cand.addr;
        let remote = self.remotes[p.remote].addr;
        let c = &self.comps[ci];
        if c.selected == Some((local, remote)) && !c.stale {
            return;
        }
        let current = c.selected_is_current();
        if !current || p.priority > c.selected_priority || self.controlling {
            let prio = p.priority;
            self.select(now, ci, local, remote, prio);
        }
    }

    fn select(
        &mut self,
        now: Instant,
        ci: usize,
        local: SocketAddr,
        remote: SocketAddr,
        priority: u64,
    ) {
        let jitter = self.consent_jitter();
        let c = &mut self.comps[ci];
        let component = ci as u16 + 1;
        let event = match c.selected {
            None => IceEvent::Connected {
                component,
                local,
                remote,
            },
            Some(old) if old == (local, remote) => {
                // Same addresses re-selected after a restart: nothing changes for media.
                c.selected_priority = priority;
                c.lost = false;
                c.stale = false;
                c.consent_expires = Some(now + self.cfg.consent_timeout);
                self.finish_restart_if_done();
                return;
            }
            Some(_) => IceEvent::SelectedPairChanged {
                component,
                local,
                remote,
            },
        };
        c.selected = Some((local, remote));
        c.selected_priority = priority;
        c.lost = false;
        c.stale = false;
        c.consent_pending.clear();
        c.consent_expires = Some(now + self.cfg.consent_timeout);
        c.consent_next = if self.cfg.lite {
            None
        } else {
            Some(now + jitter)
        };
        self.events.push_back(event);
        self.cancel_other_checks(ci, local, remote);
        self.finish_restart_if_done();
    }

    /// The component is done: checks on its other pairs stop (RFC 8445 8.1.2 allows stopping
    /// the lower ones; the higher ones would only matter to a controlling agent that has
    /// already nominated). A later check from the peer on one of them triggers it again.
    fn cancel_other_checks(&mut self, ci: usize, local: SocketAddr, remote: SocketAddr) {
        let component = ci as u16 + 1;
        for i in 0..self.pairs.len() {
            let p = &self.pairs[i];
            if p.component != component
                || (self.locals[p.local].cand.addr == local
                    && self.remotes[p.remote].addr == remote)
                || !matches!(
                    p.state,
                    PairState::Frozen | PairState::Waiting | PairState::InProgress
                )
            {
                continue;
            }
            let p = &mut self.pairs[i];
            p.state = PairState::Failed;
            p.txn = None;
            p.nominate = false;
            self.triggered.retain(|&t| t != i);
        }
    }

    fn finish_restart_if_done(&mut self) {
        if self.comps.iter().all(|c| !c.stale) {
            self.prev_local_creds = None;
        }
    }

    fn consent_jitter(&mut self) -> Duration {
        let f: f64 = self.rng.random_range(0.8..1.2);
        self.cfg.consent_interval.mul_f64(f)
    }

    fn retransmit(&mut self, now: Instant) {
        for pi in 0..self.pairs.len() {
            let Some(txn) = self.pairs[pi].txn.as_mut() else {
                continue;
            };
            if now < txn.next_at {
                continue;
            }
            if txn.transmits >= self.cfg.max_transmits {
                self.fail_pair(pi);
                continue;
            }
            txn.transmits += 1;
            txn.rto = (txn.rto * 2).min(self.cfg.max_rto);
            txn.next_at = now + txn.rto;
            let bytes = txn.bytes.clone();
            let p = &self.pairs[pi];
            self.transmits.push_back(Transmit {
                from_local: self.locals[p.local].cand.addr,
                to: self.remotes[p.remote].addr,
                bytes,
            });
        }
    }

    /// Controlling agent, regular nomination.
    fn nominate(&mut self, now: Instant) {
        if !self.can_check() || !self.controlling {
            return;
        }
        for ci in 0..self.comps.len() {
            let Some((bi, better_pending)) = self.nomination_candidate(ci) else {
                continue;
            };
            let deadline = self.comps[ci]
                .first_valid_at
                .map(|v| v + self.cfg.nomination_delay);
            if better_pending && deadline.is_some_and(|d| now < d) {
                continue;
            }
            self.comps[ci].nominating = Some(bi);
            self.pairs[bi].nominate = true;
            self.triggered.retain(|&t| t != bi);
            self.triggered.push_front(bi);
        }
    }

    /// Controlling agent: the pair a component would nominate (its best valid pair) and
    /// whether a better pair is still being checked. None when there is nothing to nominate.
    fn nomination_candidate(&self, ci: usize) -> Option<(usize, bool)> {
        let c = &self.comps[ci];
        if !self.can_check()
            || !self.controlling
            || c.nominating.is_some()
            || c.first_valid_at.is_none()
            || c.selected_is_current()
        {
            return None;
        }
        let component = ci as u16 + 1;
        let (bi, best) = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.component == component && p.state == PairState::Succeeded)
            .max_by_key(|(_, p)| p.priority)?;
        let better_pending = self.pairs.iter().any(|p| {
            p.component == component
                && p.priority > best.priority
                && matches!(
                    p.state,
                    PairState::Frozen | PairState::Waiting | PairState::InProgress
                )
        });
        Some((bi, better_pending))
    }

    fn send_next_check(&mut self, now: Instant) {
        if !self.can_check() {
            return;
        }
        if self.next_check_at.is_some_and(|t| now < t) {
            return;
        }
        self.update_frozen();
        let pi = loop {
            match self.triggered.pop_front() {
                Some(pi) if pi < self.pairs.len() => {
                    let p = &self.pairs[pi];
                    if p.nominate || p.state == PairState::Waiting {
                        break Some(pi);
                    }
                }
                Some(_) => {}
                None => {
                    break self
                        .pairs
                        .iter()
                        .enumerate()
                        .filter(|(_, p)| {
                            p.state == PairState::Waiting
                                && !self.comps[usize::from(p.component - 1)].selected_is_current()
                        })
                        .max_by_key(|(_, p)| p.priority)
                        .map(|(i, _)| i)
                }
            }
        };
        let Some(pi) = pi else {
            return;
        };
        self.send_check(now, pi);
        self.next_check_at = Some(now + self.cfg.ta);
    }

    fn build_request(
        &mut self,
        li: usize,
        use_candidate: bool,
    ) -> Option<(TransactionId, Vec<u8>)> {
        let remote = self.remote_creds.as_ref()?;
        let local = &self.locals[li];
        let tid = TransactionId(self.rng.random());
        let username = format!("{}:{}", remote.ufrag, self.local_creds.ufrag);
        let prflx_priority = rtpengine_priority(
            CandidateType::PeerReflexive.type_preference(),
            local.ip_index,
            u32::from(local.cand.component),
        );
        let mut bytes = Vec::with_capacity(128);
        let mut w = MessageWriter::new(&mut bytes, Class::Request, stun::METHOD_BINDING, tid);
        let built = (|| {
            w.username(&username)?;
            w.priority(prflx_priority)?;
            if self.controlling {
                w.ice_controlling(self.tie_breaker)?;
            } else {
                w.ice_controlled(self.tie_breaker)?;
            }
            if use_candidate {
                w.use_candidate()?;
            }
            if let Some(s) = &self.cfg.software {
                w.software(s)?;
            }
            w.message_integrity(remote.pwd.as_bytes())?;
            w.fingerprint()?;
            Ok::<_, StunError>(())
        })();
        built.ok().map(|_| (tid, bytes))
    }

    fn send_check(&mut self, now: Instant, pi: usize) {
        let use_candidate = self.pairs[pi].nominate && self.controlling;
        let li = self.pairs[pi].local;
        let Some((tid, bytes)) = self.build_request(li, use_candidate) else {
            return;
        };
        let p = &mut self.pairs[pi];
        p.nominate = false;
        if p.state != PairState::Succeeded {
            p.state = PairState::InProgress;
        }
        p.txn = Some(Txn {
            id: tid,
            next_at: now + self.cfg.initial_rto,
            rto: self.cfg.initial_rto,
            transmits: 1,
            bytes: bytes.clone(),
            use_candidate,
            sent_controlling: self.controlling,
        });
        self.transmits.push_back(Transmit {
            from_local: self.locals[p.local].cand.addr,
            to: self.remotes[p.remote].addr,
            bytes,
        });
    }

    fn consent(&mut self, now: Instant) {
        for ci in 0..self.comps.len() {
            let c = &self.comps[ci];
            let Some((local, remote)) = c.selected else {
                continue;
            };
            if c.consent_expires.is_some_and(|t| now >= t) {
                let c = &mut self.comps[ci];
                c.selected = None;
                c.lost = true;
                c.stale = false;
                c.consent_next = None;
                c.consent_expires = None;
                c.consent_pending.clear();
                for i in 0..self.pairs.len() {
                    let p = &self.pairs[i];
                    if p.component == ci as u16 + 1
                        && self.locals[p.local].cand.addr == local
                        && self.remotes[p.remote].addr == remote
                    {
                        self.fail_pair(i);
                    }
                }
                self.events.push_back(IceEvent::ConsentLost {
                    component: ci as u16 + 1,
                    local,
                    remote,
                });
                self.finish_restart_if_done();
                continue;
            }
            if self.cfg.lite || c.consent_next.is_none_or(|t| now < t) {
                continue;
            }
            let jitter = self.consent_jitter();
            let Some(li) = self.locals.iter().position(|l| l.cand.addr == local) else {
                self.comps[ci].consent_next = Some(now + jitter);
                continue;
            };
            let Some((tid, bytes)) = self.build_request(li, false) else {
                // No remote credentials: try again later.
                self.comps[ci].consent_next = Some(now + jitter);
                continue;
            };
            let c = &mut self.comps[ci];
            c.consent_next = Some(now + jitter);
            if c.consent_pending.len() >= MAX_CONSENT_PENDING {
                c.consent_pending.pop_front();
            }
            c.consent_pending.push_back(tid);
            self.transmits.push_back(Transmit {
                from_local: local,
                to: remote,
                bytes,
            });
        }
    }

    fn check_failed(&mut self) {
        if !self.remote_end_of_candidates || self.cfg.lite {
            return;
        }
        for ci in 0..self.comps.len() {
            let component = ci as u16 + 1;
            if self.comps[ci].failed_reported || self.comps[ci].selected.is_some() {
                continue;
            }
            let mut any = false;
            let all_failed = self
                .pairs
                .iter()
                .filter(|p| p.component == component)
                .inspect(|_| any = true)
                .all(|p| p.state == PairState::Failed);
            if any && all_failed {
                self.comps[ci].failed_reported = true;
                self.events.push_back(IceEvent::Failed { component });
            }
        }
    }

    fn reply_error(
        &mut self,
        local: SocketAddr,
        to: SocketAddr,
        req: &Message<'_>,
        code: u16,
        reason: &str,
        key: Option<&str>,
    ) {
        if key.is_none() && !self.cfg.reply_errors {
            return;
        }
        let mut bytes = Vec::with_capacity(96);
        let mut w = MessageWriter::new(
            &mut bytes,
            Class::Error,
            stun::METHOD_BINDING,
            req.transaction_id(),
        );
        let built = (|| {
            w.error_code(code, reason)?;
            if code == stun::code::UNKNOWN_ATTRIBUTE {
                w.unknown_attributes(req.unknown_required())?;
            }
            if let Some(s) = &self.cfg.software {
                w.software(s)?;
            }
            if let Some(k) = key {
                w.message_integrity(k.as_bytes())?;
            }
            w.fingerprint()?;
            Ok::<_, StunError>(())
        })();
        if built.is_ok() {
            self.transmits.push_back(Transmit {
                from_local: local,
                to,
                bytes,
            });
        }
    }
}

impl Component {
    /// Whether the selection belongs to the current checklist generation (not a leftover from
    /// before an ICE restart).
    fn selected_is_current(&self) -> bool {
        self.selected.is_some() && !self.stale
    }
}

/// RFC 8445 section 6.1.2.3: `2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0)`.
pub fn pair_priority(controlling: u32, controlled: u32) -> u64 {
    let (g, d) = (u64::from(controlling), u64::from(controlled));
    (g.min(d) << 32) + 2 * g.max(d) + u64::from(g > d)
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
