//! The WebRTC stages of one leg, as its worker runs them: the ICE agent (STUN on the leg's
//! sockets) and the DTLS-SRTP endpoints, one per remote address and port.
//!
//! Sans-IO like the pieces it holds: the worker hands it STUN and DTLS datagrams and the time,
//! then drains [`Output`]s (datagrams to send, a selected or lost ICE pair, SRTP contexts
//! keyed by a finished handshake). RTP never passes through here; only the keys it produces
//! end up on the packet path.
//!
//! Rules that protect a call (see the attack-hardening notes in README):
//! - a DTLS datagram from a remote without an endpoint is looked at only if the caller says the
//!   source is allowed (ICE-checked, or without ICE the SDP-named or latched address), and it
//!   opens an endpoint only if it is a ClientHello and we are not the DTLS client;
//! - each remote has its own endpoint, so a bad or spoofed hello ends only its own handshake;
//! - at most [`MAX_DTLS_PER_LEG`] endpoints exist per leg; a failed one makes room first.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use crate::dtls::dtls::{
    record, srtp_contexts, DtlsCert, DtlsEndpoint, DtlsError, DtlsEvent, DtlsRole, Fingerprint,
};
use crate::dtls::srtp::SrtpContext;
use crate::ice::{Candidate, Credentials, IceAgent, IceConfig, IceError, IceEvent};

/// DTLS handshakes (endpoints) a leg keeps at most.
pub const MAX_DTLS_PER_LEG: usize = 4;

/// ICE towards one party, as the control plane decided it from SDP and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceLegConfig {
    /// Our ufrag/pwd as written in the SDP sent to the party.
    pub local: Credentials,
    /// The foundation of our host candidates (as written in SDP).
    pub foundation: String,
    /// We are ICE-lite towards this party.
    pub lite: bool,
    /// We are the controlling agent (we sent the offer).
    pub controlling: bool,
    /// The party's ufrag/pwd and candidates (from its SDP; none yet before its answer).
    pub remote: Option<Credentials>,
    pub remote_candidates: Vec<Candidate>,
    pub remote_lite: bool,
    pub end_of_candidates: bool,
}

/// Our `a=setup` towards the party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsSetup {
    /// We send the ClientHello.
    Active,
    /// We wait for a ClientHello.
    Passive,
    /// We offered both and have no answer yet: a ClientHello that arrives makes us server.
    ActPass,
}

/// DTLS-SRTP towards one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsLegConfig {
    pub setup: DtlsSetup,
    /// The party's `a=fingerprint` (none yet before its answer).
    pub fingerprint: Option<Fingerprint>,
}

/// What the worker must do after feeding a [`LegWebrtc`].
pub enum Output {
    /// Send a datagram from the leg's socket bound to `from`.
    Transmit {
        from: SocketAddr,
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    /// ICE selected the pair (`local`, `remote`) for RTP (`rtcp` false) or RTCP.
    Selected {
        rtcp: bool,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// ICE lost consent with the selected address: stop sending there.
    Lost { rtcp: bool },
    /// A DTLS handshake with `remote` produced keys: `recv` decrypts what the party sends,
    /// `send` encrypts what goes to it.
    Keys {
        remote: SocketAddr,
        recv: Box<SrtpContext>,
        send: Box<SrtpContext>,
    },
    /// A DTLS handshake with `remote` failed.
    HandshakeFailed {
        remote: SocketAddr,
        error: DtlsError,
    },
}

/// Why a DTLS datagram was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsRefusal {
    /// The leg does not do DTLS.
    NoDtls,
    /// No endpoint for this remote, and it may not open one.
    Source,
    /// Not a ClientHello (or we are the client) and no endpoint for this remote.
    Unexpected,
    /// The per-leg endpoint cap is reached.
    Cap,
    /// The endpoint refused the datagram.
    Endpoint(DtlsError),
}

struct Peer {
    remote: SocketAddr,
    ep: DtlsEndpoint,
}

struct DtlsState {
    cfg: DtlsLegConfig,
    cert: DtlsCert,
    peers: Vec<Peer>,
    /// The remote whose keys are in use.
    keyed: Option<SocketAddr>,
}

/// ICE and DTLS state of one leg.
pub struct LegWebrtc {
    rtp_local: SocketAddr,
    rtcp_local: Option<SocketAddr>,
    /// The leg's sockets on other interface addresses (more host candidates).
    extra: Vec<(SocketAddr, Option<SocketAddr>)>,
    ice: Option<(IceAgent, IceLegConfig, u16)>,
    dtls: Option<DtlsState>,
    out: VecDeque<Output>,
}

impl LegWebrtc {
    /// `rtp_local`/`rtcp_local`: the addresses of the leg's sockets (our host candidates).
    pub fn new(rtp_local: SocketAddr, rtcp_local: Option<SocketAddr>) -> LegWebrtc {
        LegWebrtc {
            rtp_local,
            rtcp_local,
            extra: Vec::new(),
            ice: None,
            dtls: None,
            out: VecDeque::new(),
        }
    }

    /// Sockets of the leg on another address: host candidates there too.
    pub fn add_local(&mut self, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        if self.extra.iter().any(|(r, _)| *r == rtp) {
            return;
        }
        self.extra.push((rtp, rtcp));
        if let Some((agent, cfg, comps)) = &mut self.ice {
            agent.preset_foundation(rtp.ip(), &cfg.foundation);
            let _ = agent.add_local_candidate(rtp, 1);
            if *comps == 2 {
                if let Some(r) = rtcp {
                    let _ = agent.add_local_candidate(r, 2);
                }
            }
        }
    }

    pub fn is_active(&self) -> bool {
        self.ice.is_some() || self.dtls.is_some()
    }

    pub fn has_ice(&self) -> bool {
        self.ice.is_some()
    }

    pub fn has_dtls(&self) -> bool {
        self.dtls.is_some()
    }

    /// Whether `addr` passed an ICE check on this leg.
    pub fn ice_verified(&self, addr: SocketAddr) -> bool {
        self.ice
            .as_ref()
            .is_some_and(|(a, _, _)| a.is_verified_remote(addr))
    }

    /// The ICE-selected remote for RTP (component 1).
    pub fn selected(&self) -> Option<SocketAddr> {
        self.ice
            .as_ref()
            .and_then(|(a, _, _)| a.selected(1))
            .map(|(_, r)| r)
    }

    /// Applies the control plane's view. `mux`: RTCP rides on the RTP port (one ICE
    /// component). `target`: where a DTLS client connects without ICE (the SDP or latched
    /// address).
    pub fn configure(
        &mut self,
        now: Instant,
        ice: Option<&IceLegConfig>,
        dtls: Option<&DtlsLegConfig>,
        mux: bool,
        cert: Option<&DtlsCert>,
        target: Option<SocketAddr>,
    ) {
        self.configure_ice(now, ice, mux);
        match (dtls, cert) {
            (Some(cfg), Some(cert)) => {
                match &mut self.dtls {
                    Some(st) => {
                        if st.cfg.fingerprint != cfg.fingerprint {
                            if let Some(fp) = cfg.fingerprint {
                                for p in &mut st.peers {
                                    p.ep.set_expected_fingerprint(fp);
                                }
                            }
                        }
                        if st.cfg.setup != cfg.setup {
                            // A handshake we started in the role we no longer play goes,
                            // unless it already keyed the leg.
                            let keyed = st.keyed;
                            let client = cfg.setup == DtlsSetup::Active;
                            st.peers.retain(|p| {
                                Some(p.remote) == keyed
                                    || (p.ep.role() == DtlsRole::Client) == client
                            });
                        }
                        st.cfg = cfg.clone();
                    }
                    None => {
                        self.dtls = Some(DtlsState {
                            cfg: cfg.clone(),
                            cert: cert.clone(),
                            peers: Vec::new(),
                            keyed: None,
                        })
                    }
                }
                if self.ice.is_none() {
                    if let Some(t) = target {
                        self.start_client(now, t);
                    }
                } else if let Some(r) = self.selected() {
                    self.start_client(now, r);
                }
            }
            _ => self.dtls = None,
        }
        self.collect(now);
    }

    fn configure_ice(&mut self, now: Instant, cfg: Option<&IceLegConfig>, mux: bool) {
        let Some(cfg) = cfg else {
            self.ice = None;
            return;
        };
        let components = if mux || self.rtcp_local.is_none() {
            1
        } else {
            2
        };
        let rebuild = match &self.ice {
            None => true,
            Some((_, old, comps)) => *comps != components || old.lite != cfg.lite,
        };
        if rebuild {
            let mut agent = IceAgent::new(IceConfig {
                lite: cfg.lite,
                controlling: cfg.controlling,
                components,
                local_credentials: Some(cfg.local.clone()),
                ..IceConfig::default()
            });
            let locals = std::iter::once((self.rtp_local, self.rtcp_local))
                .chain(self.extra.iter().copied());
            for (rtp, rtcp) in locals {
                agent.preset_foundation(rtp.ip(), &cfg.foundation);
                let _ = agent.add_local_candidate(rtp, 1);
                if components == 2 {
                    if let Some(r) = rtcp {
                        let _ = agent.add_local_candidate(r, 2);
                    }
                }
            }
            self.ice = Some((agent, cfg.clone(), components));
            self.apply_remote_ice(cfg, true);
        } else if let Some((agent, old, _)) = &mut self.ice {
            agent.set_local_credentials(cfg.local.clone());
            agent.set_controlling(cfg.controlling);
            *old = cfg.clone();
            self.apply_remote_ice(cfg, false);
        }
        if let Some((agent, _, _)) = &mut self.ice {
            agent.handle_timeout(now);
        }
    }

    fn apply_remote_ice(&mut self, cfg: &IceLegConfig, fresh: bool) {
        let Some((agent, _, _)) = &mut self.ice else {
            return;
        };
        if let Some(r) = &cfg.remote {
            if let Err(e) = agent.set_remote_credentials(&r.ufrag, &r.pwd) {
                tracing::debug!("ICE: party's credentials refused: {e}");
            }
        }
        if fresh || cfg.remote_lite {
            agent.set_remote_lite(cfg.remote_lite);
        }
        for c in &cfg.remote_candidates {
            if let Err(e) = agent.add_remote_candidate(c.clone()) {
                tracing::debug!("ICE: party's candidate refused: {e}");
            }
        }
        if cfg.end_of_candidates {
            agent.end_of_remote_candidates();
        }
    }

    /// Feeds a STUN datagram that arrived on the leg's socket bound to `local`.
    pub fn on_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        src: SocketAddr,
        pkt: &[u8],
    ) -> Result<(), IceError> {
        let Some((agent, _, _)) = &mut self.ice else {
            return Err(IceError::UnknownLocal(local));
        };
        let r = agent.handle_packet(now, local, src, pkt);
        self.collect(now);
        r
    }

    /// Feeds a DTLS datagram from `src`. `allowed`: the source may open a handshake.
    pub fn on_dtls(
        &mut self,
        now: Instant,
        src: SocketAddr,
        pkt: &[u8],
        allowed: bool,
    ) -> Result<(), DtlsRefusal> {
        let Some(st) = &mut self.dtls else {
            return Err(DtlsRefusal::NoDtls);
        };
        let ice = self.ice.is_some();
        let hello = || {
            record::inspect(pkt)
                .map(|i| i.starts_with_client_hello())
                .unwrap_or(false)
        };
        let existing = match st.peers.iter().position(|p| p.remote == src) {
            Some(i) => Some(i),
            // Over ICE the association belongs to the ICE transport, not to one address:
            // a browser may move to another checked pair mid-handshake. A non-hello record
            // from a checked address goes to the one live association.
            None if ice && allowed && !hello() => {
                let live: Vec<usize> = (0..st.peers.len())
                    .filter(|&i| !st.peers[i].ep.is_failed())
                    .collect();
                match live.as_slice() {
                    [i] => {
                        let old = std::mem::replace(&mut st.peers[*i].remote, src);
                        if st.keyed == Some(old) {
                            st.keyed = Some(src);
                        }
                        Some(*i)
                    }
                    _ => None,
                }
            }
            None => None,
        };
        let r = match existing.map(|i| &mut st.peers[i]) {
            Some(p) => p.ep.handle_packet(now, pkt).map_err(DtlsRefusal::Endpoint),
            None => {
                if !allowed {
                    return Err(DtlsRefusal::Source);
                }
                let hello = hello();
                if !hello || st.cfg.setup == DtlsSetup::Active {
                    return Err(DtlsRefusal::Unexpected);
                }
                if st.peers.len() >= MAX_DTLS_PER_LEG {
                    // Room first from a failed handshake, never from the keyed one.
                    let keyed = st.keyed;
                    match st
                        .peers
                        .iter()
                        .position(|p| p.ep.is_failed() && Some(p.remote) != keyed)
                    {
                        Some(i) => {
                            st.peers.remove(i);
                        }
                        None => return Err(DtlsRefusal::Cap),
                    }
                }
                match DtlsEndpoint::new(now, DtlsRole::Server, &st.cert, st.cfg.fingerprint) {
                    Ok(mut ep) => {
                        let r = ep.handle_packet(now, pkt).map_err(DtlsRefusal::Endpoint);
                        st.peers.push(Peer { remote: src, ep });
                        r
                    }
                    Err(e) => Err(DtlsRefusal::Endpoint(e)),
                }
            }
        };
        self.collect(now);
        r
    }

    /// As DTLS client, opens a handshake with `remote` unless one exists.
    fn start_client(&mut self, now: Instant, remote: SocketAddr) {
        let Some(st) = &mut self.dtls else { return };
        if st.cfg.setup != DtlsSetup::Active || st.peers.iter().any(|p| p.remote == remote) {
            return;
        }
        if st.peers.len() >= MAX_DTLS_PER_LEG {
            return;
        }
        match DtlsEndpoint::new(now, DtlsRole::Client, &st.cert, st.cfg.fingerprint) {
            Ok(ep) => st.peers.push(Peer { remote, ep }),
            Err(e) => tracing::warn!("cannot start DTLS client: {e}"),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ice = self.ice.as_ref().and_then(|(a, _, _)| a.poll_timeout());
        let dtls = self
            .dtls
            .iter()
            .flat_map(|d| d.peers.iter())
            .filter_map(|p| p.ep.poll_timeout())
            .min();
        match (ice, dtls) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some((agent, _, _)) = &mut self.ice {
            agent.handle_timeout(now);
        }
        if let Some(st) = &mut self.dtls {
            for p in &mut st.peers {
                p.ep.handle_timeout(now);
            }
        }
        self.collect(now);
    }

    pub fn pop(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Moves what the agent and the endpoints produced into the output queue.
    fn collect(&mut self, now: Instant) {
        let mut start_client = None;
        if let Some((agent, _, _)) = &mut self.ice {
            while let Some(t) = agent.poll_transmit() {
                self.out.push_back(Output::Transmit {
                    from: t.from_local,
                    to: t.to,
                    bytes: t.bytes,
                });
            }
            while let Some(ev) = agent.poll_event() {
                match ev {
                    IceEvent::Connected {
                        component,
                        local,
                        remote,
                    }
                    | IceEvent::SelectedPairChanged {
                        component,
                        local,
                        remote,
                    } => {
                        tracing::debug!(component, %remote, "ICE pair selected");
                        if component == 1 {
                            start_client = Some(remote);
                        }
                        self.out.push_back(Output::Selected {
                            rtcp: component == 2,
                            local,
                            remote,
                        });
                    }
                    IceEvent::ConsentLost {
                        component, remote, ..
                    } => {
                        tracing::info!(component, %remote, "ICE consent lost");
                        self.out.push_back(Output::Lost {
                            rtcp: component == 2,
                        });
                    }
                    IceEvent::Failed { component } => {
                        tracing::info!(component, "ICE failed")
                    }
                    IceEvent::RestartDetected | IceEvent::RoleChanged { .. } => {}
                }
            }
        }
        if let Some(remote) = start_client {
            if self.dtls.as_ref().is_some_and(|d| d.keyed.is_none()) {
                self.start_client(now, remote);
            }
        }
        // DTLS leaves from where ICE selected (else the leg's own RTP socket).
        let from = self
            .ice
            .as_ref()
            .and_then(|(a, _, _)| a.selected(1))
            .map_or(self.rtp_local, |(l, _)| l);
        let Some(st) = &mut self.dtls else { return };
        for p in &mut st.peers {
            while let Some(bytes) = p.ep.poll_transmit() {
                self.out.push_back(Output::Transmit {
                    from,
                    to: p.remote,
                    bytes,
                });
            }
            while let Some(ev) = p.ep.poll_event() {
                match ev {
                    DtlsEvent::Connected {
                        profile,
                        client_key,
                        client_salt,
                        server_key,
                        server_salt,
                    } => {
                        let keys = srtp_contexts(
                            p.ep.role(),
                            profile,
                            (&client_key, &client_salt),
                            (&server_key, &server_salt),
                        );
                        match keys {
                            Ok((recv, send)) => {
                                st.keyed = Some(p.remote);
                                self.out.push_back(Output::Keys {
                                    remote: p.remote,
                                    recv: Box::new(recv),
                                    send: Box::new(send),
                                });
                            }
                            Err(error) => self.out.push_back(Output::HandshakeFailed {
                                remote: p.remote,
                                error,
                            }),
                        }
                    }
                    DtlsEvent::Failed(error) => self.out.push_back(Output::HandshakeFailed {
                        remote: p.remote,
                        error,
                    }),
                    DtlsEvent::Closed => {}
                }
            }
        }
    }
}
