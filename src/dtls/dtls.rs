//! DTLS-SRTP key agreement (RFC 5763, RFC 5764) as a sans-IO state machine on OpenSSL.
//!
//! - [`DtlsCert`]: the daemon's self-signed certificate (ECDSA P-256 or RSA), generated at
//!   start-up, and its `a=fingerprint` value; [`Fingerprint`] parses and compares the peer's.
//! - [`DtlsEndpoint`]: one DTLS association per remote address and port. The worker feeds
//!   it datagrams and time and drains transmits, a timer and events; the endpoint never
//!   touches a socket. On success it emits [`DtlsEvent::Connected`] with the SRTP master
//!   keys and salts exported as RFC 5764 section 4.2 lays them out.
//! - [`record`]: a bounds-checked reader of DTLS record headers for demux, counting and
//!   ClientHello detection before a datagram reaches OpenSSL.
//!
//! Time: OpenSSL 3 runs its DTLS retransmission timer on the real clock (`gettimeofday`)
//! and offers no way to inject time. The endpoint therefore reads OpenSSL's remaining
//! time after every call and reports it as `now + remaining` in
//! [`DtlsEndpoint::poll_timeout`]; [`DtlsEndpoint::handle_timeout`] asks OpenSSL to
//! retransmit, which it does only once its own clock agrees. A caller whose `now` is the
//! real monotonic clock (the worker) sees exact behaviour; a test with synthetic time
//! must let real time reach the reported deadline before a retransmission happens.

pub mod cert;
mod endpoint;
pub mod record;

#[cfg(test)]
mod tests;

pub use cert::{CertKind, DtlsCert, Fingerprint, HashAlgorithm, LazyCert};
pub use endpoint::DtlsEndpoint;
pub use record::RecordError;

use std::time::Duration;

/// OpenSSL cipher list for the DTLS handshake by default (rtpengine's `--dtls-ciphers`
/// default): no NULL encryption, no anonymous or PSK key exchange.
pub const DEFAULT_CIPHERS: &str =
    "DEFAULT:!NULL:!aNULL:!SHA256:!SHA384:!aECDH:!AESGCM+AES256:!aPSK";
/// The default DTLS MTU (rtpengine's `--dtls-mtu` default, Chrome's too): no datagram we
/// send is larger.
pub const DEFAULT_MTU: u16 = 1200;
/// Largest datagram [`DtlsEndpoint::handle_packet`] accepts.
pub const MAX_DATAGRAM: usize = record::RECORD_HEADER_LEN + record::MAX_RECORD_BODY;
/// RFC 6347 section 4.2.4.1: the first retransmission after one second.
pub const DEFAULT_INITIAL_RTO: Duration = Duration::from_secs(1);
/// Smallest initial retransmission timeout accepted: OpenSSL treats anything under 15 ms
/// left as already expired, which would retransmit on every read.
pub const MIN_INITIAL_RTO: Duration = Duration::from_millis(50);
/// The retransmission timeout doubles up to this (RFC 6347 section 4.2.4.1).
pub const MAX_RTO: Duration = Duration::from_secs(60);

/// Errors of the DTLS stage. [`DtlsEvent::Failed`] carries one too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// OpenSSL failed while setting up (not caused by the peer).
    #[error("OpenSSL: {0}")]
    Openssl(String),
    /// An invalid configuration value.
    #[error("invalid DTLS configuration: {0}")]
    Config(&'static str),
    /// An `a=fingerprint` value that does not parse.
    #[error("bad fingerprint: {0}")]
    BadFingerprint(&'static str),
    /// An `a=fingerprint` hash function we do not support (MD5, MD2, unknown).
    #[error("unsupported fingerprint hash function {0:?}")]
    UnsupportedHash(String),
    /// The datagram is not a sequence of DTLS records; OpenSSL never saw it.
    #[error("not a DTLS datagram: {0}")]
    Record(#[from] RecordError),
    /// The datagram exceeds [`MAX_DATAGRAM`].
    #[error("datagram of {0} bytes is too large")]
    TooLarge(usize),
    /// The handshake failed in OpenSSL (an alert was sent or received, no shared cipher
    /// or SRTP profile, a malformed message, ...).
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
    /// The peer's certificate does not hash to the fingerprint its SDP announced.
    #[error("peer certificate does not match {expected}")]
    FingerprintMismatch {
        /// The fingerprint from the SDP.
        expected: Fingerprint,
    },
    /// The peer sent no certificate.
    #[error("peer sent no certificate")]
    NoPeerCertificate,
    /// The handshake completed without the use_srtp extension.
    #[error("no SRTP protection profile negotiated")]
    NoSrtpProfile,
    /// The peer stopped answering: OpenSSL gave up after its retransmissions.
    #[error("DTLS handshake timed out")]
    Timeout,
    /// The endpoint has failed or the peer closed it; the datagram was ignored.
    #[error("DTLS endpoint is closed")]
    Closed,
}

/// The SRTP contexts a [`DtlsEvent::Connected`] keys for the side playing `role`, as (what it
/// receives with, what it sends with): each side sends with its own write key (RFC 5764
/// section 4.2). `client`/`server` are the event's (key, salt) pairs.
pub fn srtp_contexts(
    role: DtlsRole,
    profile: u16,
    client: (&[u8], &[u8]),
    server: (&[u8], &[u8]),
) -> Result<
    (
        crate::dtls::srtp::SrtpContext,
        crate::dtls::srtp::SrtpContext,
    ),
    DtlsError,
> {
    use crate::dtls::srtp::{SrtpContext, SrtpProfile};
    let prof = SrtpProfile::from_dtls_id(profile).ok_or(DtlsError::NoSrtpProfile)?;
    let ctx = |(key, salt): (&[u8], &[u8])| {
        SrtpContext::new(prof, key, salt).map_err(|_| DtlsError::NoSrtpProfile)
    };
    let (c, s) = (ctx(client)?, ctx(server)?);
    Ok(match role {
        DtlsRole::Client => (s, c),
        DtlsRole::Server => (c, s),
    })
}

/// Which side of the handshake we play (the caller resolves `a=setup:actpass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtlsRole {
    /// We send the ClientHello: our SDP says `a=setup:active`.
    Client,
    /// We wait for the ClientHello: our SDP says `a=setup:passive`.
    Server,
}

/// An SRTP protection profile of the DTLS use_srtp extension (RFC 5764, RFC 7714).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// SRTP_AEAD_AES_128_GCM (0x0007).
    AeadAes128Gcm,
    /// SRTP_AEAD_AES_256_GCM (0x0008).
    AeadAes256Gcm,
    /// SRTP_AES128_CM_HMAC_SHA1_80 (0x0001).
    Aes128CmSha1_80,
    /// SRTP_AES128_CM_HMAC_SHA1_32 (0x0002).
    Aes128CmSha1_32,
}

impl SrtpProfile {
    /// The default offer, most preferred first (the order browsers offer).
    pub const DEFAULT: [SrtpProfile; 4] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmSha1_80,
        SrtpProfile::Aes128CmSha1_32,
    ];

    /// The RFC 5764 profile identifier.
    pub fn id(self) -> u16 {
        match self {
            SrtpProfile::Aes128CmSha1_80 => 0x0001,
            SrtpProfile::Aes128CmSha1_32 => 0x0002,
            SrtpProfile::AeadAes128Gcm => 0x0007,
            SrtpProfile::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with an RFC 5764 identifier, if supported.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::DEFAULT.into_iter().find(|p| p.id() == id)
    }

    /// OpenSSL's name for the profile.
    pub fn openssl_name(self) -> &'static str {
        match self {
            SrtpProfile::Aes128CmSha1_80 => "SRTP_AES128_CM_SHA1_80",
            SrtpProfile::Aes128CmSha1_32 => "SRTP_AES128_CM_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes (RFC 3711: 112 bits; RFC 7714: 96 bits).
    pub fn salt_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes128Gcm | SrtpProfile::AeadAes256Gcm => 12,
            _ => 14,
        }
    }

    /// A colon-separated list in OpenSSL's `use_srtp` syntax.
    pub fn openssl_list(profiles: &[SrtpProfile]) -> String {
        profiles
            .iter()
            .map(|p| p.openssl_name())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Per-endpoint settings; [`Default`] gives the values rtpengine uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtlsConfig {
    /// SRTP profiles we offer (client) or accept (server), most preferred first. As a
    /// server we pick by our order among those the client offers.
    pub profiles: Vec<SrtpProfile>,
    /// Largest datagram we send (576..=9000).
    pub mtu: u16,
    /// First retransmission timeout; it doubles on each retransmission up to [`MAX_RTO`].
    pub initial_rto: Duration,
    /// OpenSSL cipher list; `None` keeps [`DEFAULT_CIPHERS`].
    pub ciphers: Option<String>,
}

impl Default for DtlsConfig {
    fn default() -> Self {
        DtlsConfig {
            profiles: SrtpProfile::DEFAULT.to_vec(),
            mtu: DEFAULT_MTU,
            initial_rto: DEFAULT_INITIAL_RTO,
            ciphers: None,
        }
    }
}

impl DtlsConfig {
    fn validate(&self) -> Result<(), DtlsError> {
        if self.profiles.is_empty() {
            return Err(DtlsError::Config("no SRTP profile"));
        }
        if !(576..=9000).contains(&self.mtu) {
            return Err(DtlsError::Config("MTU must be 576..=9000"));
        }
        if self.initial_rto < MIN_INITIAL_RTO || self.initial_rto > MAX_RTO {
            return Err(DtlsError::Config("initial RTO must be 50 ms..=60 s"));
        }
        Ok(())
    }
}

/// What the endpoint reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DtlsEvent {
    /// The handshake completed and the peer's certificate matches its SDP fingerprint.
    /// The keys and salts are the RFC 5764 section 4.2 split of the keying material
    /// exported with the label "EXTRACTOR-dtls_srtp". The client's key protects what the
    /// client sends. A re-handshake by the peer emits this again with new keys.
    Connected {
        /// RFC 5764 profile id (see [`SrtpProfile::from_id`]).
        profile: u16,
        /// client_write_SRTP_master_key
        client_key: Vec<u8>,
        /// client_write_SRTP_master_salt
        client_salt: Vec<u8>,
        /// server_write_SRTP_master_key
        server_key: Vec<u8>,
        /// server_write_SRTP_master_salt
        server_salt: Vec<u8>,
    },
    /// The handshake failed; no keys come from this endpoint unless the peer starts over
    /// with a new ClientHello (server role).
    Failed(DtlsError),
    /// The peer closed the association (close_notify or a fatal alert after the
    /// handshake). Keys already handed out stay valid as far as DTLS is concerned.
    Closed,
}
