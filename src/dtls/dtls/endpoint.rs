//! [`DtlsEndpoint`]: one DTLS-SRTP association with one remote address and port, as a
//! sans-IO state machine over an OpenSSL `Ssl` whose BIO is an in-memory datagram pipe.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::raw::{c_int, c_long, c_uint, c_void};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{ErrorCode, Ssl, SslContext, SslRef, SslStream, SslVerifyMode};
use openssl_sys as ffi;

use super::cert::{DtlsCert, Fingerprint};
use super::record;
use super::{
    DtlsConfig, DtlsError, DtlsEvent, DtlsRole, SrtpProfile, DEFAULT_INITIAL_RTO, MAX_DATAGRAM,
    MAX_RTO,
};

/// RFC 5764 section 4.2 exporter label.
const EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";
/// Datagrams waiting for `poll_transmit` beyond this are dropped (a flight is 1-6).
const MAX_QUEUED_TRANSMITS: usize = 64;
/// Events waiting for `poll_event` beyond this are dropped.
const MAX_QUEUED_EVENTS: usize = 16;

// From <openssl/ssl.h>: the DTLSv1_get_timeout / DTLSv1_handle_timeout macros.
const DTLS_CTRL_GET_TIMEOUT: c_int = 73;
const DTLS_CTRL_HANDLE_TIMEOUT: c_int = 74;

extern "C" {
    // OpenSSL >= 1.1.1; openssl-sys does not bind it.
    fn DTLS_set_timer_cb(
        s: *mut ffi::SSL,
        cb: Option<unsafe extern "C" fn(*mut ffi::SSL, c_uint) -> c_uint>,
    );
}

/// Ex-data slot holding a connection's initial retransmission timeout in microseconds.
static RTO_INDEX: OnceLock<Index<Ssl, u32>> = OnceLock::new();

fn rto_index() -> Result<Index<Ssl, u32>, DtlsError> {
    if let Some(index) = RTO_INDEX.get() {
        return Ok(*index);
    }
    let index = Ssl::new_ex_index::<u32>().map_err(ossl)?;
    Ok(*RTO_INDEX.get_or_init(|| index))
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// OpenSSL's DTLS timer callback: the first timeout comes from the connection's config,
/// each retransmission doubles it up to [`MAX_RTO`].
unsafe extern "C" fn dtls_timer_cb(ssl: *mut ffi::SSL, previous_us: c_uint) -> c_uint {
    if previous_us == 0 {
        // SAFETY: OpenSSL passes the live SSL the callback was installed on.
        let ssl = unsafe { SslRef::from_ptr(ssl) };
        RTO_INDEX
            .get()
            .and_then(|index| ssl.ex_data(*index))
            .copied()
            .unwrap_or_else(|| micros(DEFAULT_INITIAL_RTO))
    } else {
        previous_us.saturating_mul(2).min(micros(MAX_RTO))
    }
}

/// Time left on OpenSSL's retransmission timer, if it runs (`DTLSv1_get_timeout`).
fn openssl_timeout(ssl: &SslRef) -> Option<Duration> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: DTLS_CTRL_GET_TIMEOUT writes one struct timeval through parg.
    let running = unsafe {
        ffi::SSL_ctrl(
            ssl.as_ptr(),
            DTLS_CTRL_GET_TIMEOUT,
            0,
            (&mut tv as *mut libc::timeval).cast::<c_void>(),
        )
    };
    (running == 1).then(|| {
        Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
    })
}

/// `DTLSv1_handle_timeout`: retransmits if OpenSSL's timer expired; negative when it
/// gave up on the peer.
fn openssl_handle_timeout(ssl: &SslRef) -> c_long {
    // SAFETY: DTLS_CTRL_HANDLE_TIMEOUT takes no argument.
    unsafe {
        ffi::SSL_ctrl(
            ssl.as_ptr(),
            DTLS_CTRL_HANDLE_TIMEOUT,
            0,
            std::ptr::null_mut(),
        )
    }
}

fn ossl(e: ErrorStack) -> DtlsError {
    DtlsError::Openssl(e.to_string())
}

/// The BIO behind each `Ssl`: one inbound datagram at a time in, datagrams out. OpenSSL
/// writes one record per call; records of one flight are packed into datagrams up to
/// the MTU (RFC 6347 section 4.1.1 allows several records per datagram).
#[derive(Debug)]
struct Pipe {
    inbound: Vec<u8>,
    has_inbound: bool,
    outbound: VecDeque<Vec<u8>>,
    partial: Vec<u8>,
    mtu: usize,
}

impl Pipe {
    fn new(mtu: usize) -> Self {
        Pipe {
            inbound: Vec::new(),
            has_inbound: false,
            outbound: VecDeque::new(),
            partial: Vec::new(),
            mtu,
        }
    }

    fn set_inbound(&mut self, datagram: &[u8]) {
        self.inbound.clear();
        self.inbound.extend_from_slice(datagram);
        self.has_inbound = true;
    }

    fn seal(&mut self) {
        if !self.partial.is_empty() {
            self.outbound.push_back(std::mem::take(&mut self.partial));
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.has_inbound {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.has_inbound = false;
        let n = self.inbound.len().min(buf.len());
        buf[..n].copy_from_slice(&self.inbound[..n]);
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.partial.is_empty() && self.partial.len() + buf.len() > self.mtu {
            self.seal();
        }
        self.partial.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.seal();
        Ok(())
    }
}

/// What the certificate verify callback shares with the endpoint.
#[derive(Debug, Default)]
struct VerifyState {
    expected: Option<Fingerprint>,
    mismatch: bool,
}

/// One OpenSSL connection (the endpoint has a second one while the peer re-handshakes).
struct Conn {
    stream: SslStream<Pipe>,
    verify: Arc<Mutex<VerifyState>>,
    handshake_done: bool,
    /// The client random of the ClientHello that started this connection (server role).
    client_random: Option<[u8; 32]>,
}

/// The outcome of feeding a connection.
enum Step {
    Idle,
    HandshakeDone,
    Failed(DtlsError),
    Closed,
}

impl Conn {
    fn new(
        context: &SslContext,
        role: DtlsRole,
        config: &DtlsConfig,
        expected: Option<Fingerprint>,
    ) -> Result<Self, DtlsError> {
        let mut ssl = Ssl::new(context).map_err(ossl)?;
        ssl.set_mtu(u32::from(config.mtu)).map_err(ossl)?;
        if config.profiles[..] != SrtpProfile::DEFAULT[..] {
            ssl.set_tlsext_use_srtp(&SrtpProfile::openssl_list(&config.profiles))
                .map_err(ossl)?;
        }
        if let Some(ciphers) = &config.ciphers {
            ssl.set_cipher_list(ciphers).map_err(ossl)?;
        }
        ssl.set_ex_data(rto_index()?, micros(config.initial_rto));
        // SAFETY: the callback only reads the ex-data slot set above.
        unsafe { DTLS_set_timer_cb(ssl.as_ptr(), Some(dtls_timer_cb)) };

        let verify = Arc::new(Mutex::new(VerifyState {
            expected,
            mismatch: false,
        }));
        let shared = Arc::clone(&verify);
        // Any self-signed certificate is fine (no PKI in DTLS-SRTP); what counts is that
        // the leaf hashes to the SDP fingerprint, when we know it already. Without it the
        // check happens when the fingerprint arrives, before any key leaves the endpoint.
        ssl.set_verify_callback(
            SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
            move |_preverify_ok, store| {
                if store.error_depth() != 0 {
                    return true;
                }
                let Ok(mut state) = shared.lock() else {
                    return false;
                };
                let Some(expected) = state.expected else {
                    return true;
                };
                let ok = store.current_cert().is_some_and(|c| expected.matches(c));
                state.mismatch |= !ok;
                ok
            },
        );
        match role {
            DtlsRole::Client => ssl.set_connect_state(),
            DtlsRole::Server => ssl.set_accept_state(),
        }
        let stream = SslStream::new(ssl, Pipe::new(usize::from(config.mtu))).map_err(ossl)?;
        Ok(Conn {
            stream,
            verify,
            handshake_done: false,
            client_random: None,
        })
    }

    fn set_expected(&self, fp: Fingerprint) {
        if let Ok(mut state) = self.verify.lock() {
            state.expected = Some(fp);
        }
    }

    /// Feeds one datagram (or none, to start a client) and runs OpenSSL.
    fn drive(&mut self, datagram: Option<&[u8]>) -> Step {
        if let Some(d) = datagram {
            self.stream.get_mut().set_inbound(d);
        }
        let step = if self.handshake_done {
            self.read_after_handshake()
        } else {
            match self.stream.do_handshake() {
                Ok(()) => {
                    self.handshake_done = true;
                    Step::HandshakeDone
                }
                Err(e) if is_retry(&e) => Step::Idle,
                Err(e) => Step::Failed(self.failure(&e)),
            }
        };
        self.stream.get_mut().has_inbound = false;
        step
    }

    /// After the handshake only alerts, close_notify and the peer's retransmitted final
    /// flight arrive (OpenSSL answers the latter by resending its own). Application data
    /// has no meaning in DTLS-SRTP and is discarded.
    fn read_after_handshake(&mut self) -> Step {
        let mut scratch = [0u8; 2048];
        for _ in 0..16 {
            match self.stream.ssl_read(&mut scratch) {
                Ok(_) => continue,
                Err(e) if is_retry(&e) => return Step::Idle,
                Err(_) => return Step::Closed,
            }
        }
        Step::Idle
    }

    fn failure(&self, e: &openssl::ssl::Error) -> DtlsError {
        if let Ok(state) = self.verify.lock() {
            if let (true, Some(expected)) = (state.mismatch, state.expected) {
                return DtlsError::FingerprintMismatch { expected };
            }
        }
        match e.ssl_error() {
            Some(stack) if !stack.errors().is_empty() => DtlsError::Handshake(stack.to_string()),
            _ => DtlsError::Handshake(e.to_string()),
        }
    }

    /// Checks the finished handshake and exports the SRTP keys.
    fn keys(&self, expected: &Fingerprint) -> Result<DtlsEvent, DtlsError> {
        let ssl = self.stream.ssl();
        let peer = ssl.peer_certificate().ok_or(DtlsError::NoPeerCertificate)?;
        if !expected.matches(&peer) {
            return Err(DtlsError::FingerprintMismatch {
                expected: *expected,
            });
        }
        let id = ssl
            .selected_srtp_profile()
            .map(|p| p.id().as_raw())
            .ok_or(DtlsError::NoSrtpProfile)?;
        let profile = u16::try_from(id)
            .ok()
            .and_then(SrtpProfile::from_id)
            .ok_or(DtlsError::NoSrtpProfile)?;
        let (k, s) = (profile.key_len(), profile.salt_len());
        let mut material = [0u8; 2 * (32 + 12)];
        let material = &mut material[..2 * (k + s)];
        ssl.export_keying_material(material, EXPORTER_LABEL, None)
            .map_err(ossl)?;
        Ok(DtlsEvent::Connected {
            profile: profile.id(),
            client_key: material[..k].to_vec(),
            server_key: material[k..2 * k].to_vec(),
            client_salt: material[2 * k..2 * k + s].to_vec(),
            server_salt: material[2 * k + s..].to_vec(),
        })
    }

    fn timeout(&self) -> Option<Duration> {
        if self.handshake_done {
            None
        } else {
            openssl_timeout(self.stream.ssl())
        }
    }
}

fn is_retry(e: &openssl::ssl::Error) -> bool {
    matches!(e.code(), ErrorCode::WANT_READ | ErrorCode::WANT_WRITE)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    /// The handshake finished before the peer's SDP fingerprint was known.
    AwaitingFingerprint,
    Connected,
    Failed,
    Closed,
}

/// One DTLS-SRTP association with one remote address and port.
///
/// Feed it with [`handle_packet`](Self::handle_packet) and
/// [`handle_timeout`](Self::handle_timeout); after each call drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event) and
/// re-arm the timer from [`poll_timeout`](Self::poll_timeout).
///
/// As a server it accepts a new ClientHello (a new client random in epoch 0) at any time:
/// after a failure or before the fingerprint check it starts over; once connected it runs
/// the new handshake beside the old association, whose keys stay valid until the new
/// one succeeds (then [`DtlsEvent::Connected`] comes again) or fails (then nothing
/// changes and `handle_packet` returns the error).
pub struct DtlsEndpoint {
    role: DtlsRole,
    config: DtlsConfig,
    context: SslContext,
    expected: Option<Fingerprint>,
    state: State,
    current: Conn,
    /// A re-handshake started by the peer while `current` is connected.
    pending: Option<Conn>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
    deadline: Option<Instant>,
}

impl std::fmt::Debug for DtlsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsEndpoint")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("expected", &self.expected)
            .field("rehandshake", &self.pending.is_some())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl DtlsEndpoint {
    /// A new endpoint with the default [`DtlsConfig`]. A client queues its ClientHello at
    /// once; `now` anchors the retransmission timer of that first flight. `expected` is the fingerprint from the peer's SDP; without it the handshake
    /// runs but keys are held back until [`set_expected_fingerprint`](Self::set_expected_fingerprint).
    pub fn new(
        now: Instant,
        role: DtlsRole,
        cert: &DtlsCert,
        expected: Option<Fingerprint>,
    ) -> Result<Self, DtlsError> {
        Self::with_config(now, role, cert, expected, DtlsConfig::default())
    }

    /// A new endpoint with explicit settings.
    pub fn with_config(
        now: Instant,
        role: DtlsRole,
        cert: &DtlsCert,
        expected: Option<Fingerprint>,
        config: DtlsConfig,
    ) -> Result<Self, DtlsError> {
        config.validate()?;
        let context = cert.context().clone();
        let current = Conn::new(&context, role, &config, expected)?;
        let mut ep = DtlsEndpoint {
            role,
            config,
            context,
            expected,
            state: State::Handshaking,
            current,
            pending: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            deadline: None,
        };
        if role == DtlsRole::Client {
            let step = ep.current.drive(None);
            ep.after_current_step(step)?;
        }
        ep.finish_call(now);
        Ok(ep)
    }

    /// Our role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Whether keys have been handed out and the association is up.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Whether the handshake failed (a server endpoint may still restart on a new
    /// ClientHello).
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Sets or replaces the fingerprint the peer's certificate must match (the peer's SDP
    /// arrived, or changed). If the handshake already finished, the check runs now and
    /// emits [`DtlsEvent::Connected`] or [`DtlsEvent::Failed`].
    pub fn set_expected_fingerprint(&mut self, fingerprint: Fingerprint) {
        self.expected = Some(fingerprint);
        self.current.set_expected(fingerprint);
        if let Some(p) = &self.pending {
            p.set_expected(fingerprint);
        }
        if self.state == State::AwaitingFingerprint {
            match self.current.keys(&fingerprint) {
                Ok(ev) => {
                    self.state = State::Connected;
                    self.push_event(ev);
                }
                Err(e) => self.fail(e),
            }
        }
    }

    /// Processes one datagram from the peer. `Err` means the datagram was refused (not
    /// DTLS, too large, endpoint closed) or made the handshake fail; a failure also
    /// emits [`DtlsEvent::Failed`].
    pub fn handle_packet(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(DtlsError::TooLarge(datagram.len()));
        }
        let info = record::inspect(datagram)?;
        let result = self.route(&info, datagram);
        self.finish_call(now);
        result
    }

    fn route(&mut self, info: &record::DatagramInfo, datagram: &[u8]) -> Result<(), DtlsError> {
        let new_random = match info.client_random {
            Some(r) if self.role == DtlsRole::Server && info.starts_with_client_hello() => {
                let known = self.current.client_random == Some(r)
                    || self
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.client_random == Some(r));
                (!known).then_some(r)
            }
            _ => None,
        };

        if let Some(random) = new_random {
            if self.current.client_random.is_none() && self.state == State::Handshaking {
                // The first ClientHello of this endpoint.
                self.current.client_random = Some(random);
            } else {
                let mut conn = Conn::new(&self.context, self.role, &self.config, self.expected)?;
                conn.client_random = Some(random);
                if self.state == State::Connected {
                    self.pending = Some(conn);
                } else {
                    self.current = conn;
                    self.state = State::Handshaking;
                }
            }
        }

        if let Some(pending) = &mut self.pending {
            let step = pending.drive(Some(datagram));
            return self.after_pending_step(step);
        }
        match self.state {
            State::Failed | State::Closed => Err(DtlsError::Closed),
            _ => {
                let step = self.current.drive(Some(datagram));
                self.after_current_step(step)
            }
        }
    }

    fn after_current_step(&mut self, step: Step) -> Result<(), DtlsError> {
        match step {
            Step::Idle => Ok(()),
            Step::HandshakeDone => {
                let Some(expected) = self.expected else {
                    self.state = State::AwaitingFingerprint;
                    return Ok(());
                };
                match self.current.keys(&expected) {
                    Ok(ev) => {
                        self.state = State::Connected;
                        self.push_event(ev);
                        Ok(())
                    }
                    Err(e) => {
                        self.fail(e.clone());
                        Err(e)
                    }
                }
            }
            Step::Failed(e) => {
                self.fail(e.clone());
                Err(e)
            }
            Step::Closed => {
                if self.state == State::Connected {
                    self.state = State::Closed;
                    self.push_event(DtlsEvent::Closed);
                } else {
                    // Closed before any key was handed out: for the owner, a failure.
                    self.fail(DtlsError::Closed);
                }
                Err(DtlsError::Closed)
            }
        }
    }

    fn after_pending_step(&mut self, step: Step) -> Result<(), DtlsError> {
        let result = match step {
            Step::Idle => return Ok(()),
            Step::HandshakeDone => {
                let Some(pending) = self.pending.take() else {
                    return Ok(());
                };
                // `expected` is known: the pending handshake only starts when connected.
                let keys = match &self.expected {
                    Some(fp) => pending.keys(fp),
                    None => Err(DtlsError::NoPeerCertificate),
                };
                match keys {
                    Ok(ev) => {
                        self.current = pending;
                        self.push_event(ev);
                        return Ok(());
                    }
                    Err(e) => e,
                }
            }
            Step::Failed(e) => e,
            Step::Closed => DtlsError::Closed,
        };
        // The old association stays; the failed attempt's alert still goes out.
        if let Some(mut p) = self.pending.take() {
            collect(&mut p, &mut self.transmit);
        }
        Err(result)
    }

    /// Drives the retransmission timer. Call when `now` reaches [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|d| now < d) {
            // Not due: leave OpenSSL and the reported deadline alone.
            return;
        }
        if self.state == State::Handshaking && openssl_handle_timeout(self.current.stream.ssl()) < 0
        {
            let _ = ErrorStack::get();
            self.fail(DtlsError::Timeout);
        }
        if let Some(p) = &self.pending {
            if openssl_handle_timeout(p.stream.ssl()) < 0 {
                let _ = ErrorStack::get();
                if let Some(mut p) = self.pending.take() {
                    collect(&mut p, &mut self.transmit);
                }
            }
        }
        self.finish_call(now);
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, if a flight waits for
    /// an answer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    fn fail(&mut self, e: DtlsError) {
        if matches!(self.state, State::Failed | State::Closed) {
            return;
        }
        self.state = State::Failed;
        self.push_event(DtlsEvent::Failed(e));
    }

    fn push_event(&mut self, ev: DtlsEvent) {
        if self.events.len() < MAX_QUEUED_EVENTS {
            self.events.push_back(ev);
        }
    }

    /// Collects what OpenSSL wrote and re-reads its timer, relative to `now`.
    fn finish_call(&mut self, now: Instant) {
        collect(&mut self.current, &mut self.transmit);
        if let Some(p) = &mut self.pending {
            collect(p, &mut self.transmit);
        }
        let current = (self.state == State::Handshaking)
            .then(|| self.current.timeout())
            .flatten();
        let pending = self.pending.as_ref().and_then(Conn::timeout);
        self.deadline = match (current, pending) {
            (Some(a), Some(b)) => Some(now + a.min(b)),
            (a, b) => a.or(b).map(|d| now + d),
        };
    }
}

fn collect(conn: &mut Conn, out: &mut VecDeque<Vec<u8>>) {
    let pipe = conn.stream.get_mut();
    pipe.seal();
    while let Some(d) = pipe.outbound.pop_front() {
        if out.len() < MAX_QUEUED_TRANSMITS {
            out.push_back(d);
        }
    }
}
