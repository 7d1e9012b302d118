//! DTLS-SRTP interop: handshakes against webrtc-rs `dtls`, an implementation that shares no code with
//! OpenSSL, over in-memory channels. Each side checks the other's certificate against
//! a SHA-256 fingerprint computed by the `sha2` crate, and the exported SRTP keying
//! material must be equal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dtls::config::{ClientAuthType, Config};
use dtls::conn::DTLSConn;
use dtls::crypto::Certificate;
use dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use webrtc_util::conn::Conn;
use webrtc_util::KeyingMaterialExporter;

use rtpbridge::dtls::dtls::{
    CertKind, DtlsCert, DtlsConfig, DtlsEndpoint, DtlsEvent, DtlsRole, Fingerprint, HashAlgorithm,
    SrtpProfile,
};

struct MemConn {
    rx: tokio::sync::Mutex<UnboundedReceiver<Vec<u8>>>,
    tx: UnboundedSender<Vec<u8>>,
}

fn addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 5000))
}

#[async_trait::async_trait]
impl Conn for MemConn {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }
    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        let Some(d) = self.rx.lock().await.recv().await else {
            return Err(webrtc_util::Error::Other("closed".into()));
        };
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Ok(n)
    }
    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        Ok((self.recv(buf).await?, addr()))
    }
    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.tx
            .send(buf.to_vec())
            .map_err(|_| webrtc_util::Error::Other("closed".into()))?;
        Ok(buf.len())
    }
    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.send(buf).await
    }
    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(addr())
    }
    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(addr())
    }
    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }
    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

fn their_profile(p: SrtpProfile) -> SrtpProtectionProfile {
    SrtpProtectionProfile::from(p.id())
}

struct Outcome {
    /// Our Connected event.
    event: DtlsEvent,
    /// Their keying material and profile.
    material: Vec<u8>,
    their_profile: u16,
    their_conn: DTLSConn,
    ep: DtlsEndpoint,
    to_us: UnboundedReceiver<Vec<u8>>,
}

/// Runs one handshake with us in `role` and our certificate of `kind`.
async fn handshake(role: DtlsRole, profile: SrtpProfile, kind: CertKind) -> Outcome {
    let (to_them, their_rx) = unbounded_channel();
    let (their_tx, mut to_us) = unbounded_channel();
    let conn = Arc::new(MemConn {
        rx: tokio::sync::Mutex::new(their_rx),
        tx: their_tx,
    });

    let ours = DtlsCert::generate(kind).unwrap();
    let our_der = ours.x509().to_der().unwrap();
    // Our fingerprint, recomputed by an independent SHA-256.
    assert_eq!(ours.fingerprint().digest(), &Sha256::digest(&our_der)[..]);
    let theirs = Certificate::generate_self_signed(vec!["peer".to_owned()]).unwrap();
    let their_fp = Fingerprint::new(
        HashAlgorithm::Sha256,
        &Sha256::digest(theirs.certificate[0].as_ref()),
    )
    .unwrap();

    let expect_ours = Sha256::digest(&our_der).to_vec();
    let config = Config {
        certificates: vec![theirs],
        srtp_protection_profiles: vec![their_profile(profile)],
        insecure_skip_verify: true,
        client_auth: ClientAuthType::RequireAnyClientCert,
        verify_peer_certificate: Some(Arc::new(move |certs: &[Vec<u8>], _| match certs.first() {
            Some(c) if Sha256::digest(c).to_vec() == expect_ours => Ok(()),
            _ => Err(dtls::Error::Other("fingerprint mismatch".into())),
        })),
        ..Config::default()
    };
    let they_are_client = role == DtlsRole::Server;
    let mut peer = tokio::spawn(async move {
        DTLSConn::new(
            conn as Arc<dyn Conn + Send + Sync>,
            config,
            they_are_client,
            None,
        )
        .await
    });

    let cfg = DtlsConfig {
        profiles: vec![profile],
        ..DtlsConfig::default()
    };
    let mut ep =
        DtlsEndpoint::with_config(Instant::now(), role, &ours, Some(their_fp), cfg).unwrap();
    let mut event = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    let their_conn = loop {
        assert!(Instant::now() < deadline, "interop handshake timed out");
        while let Some(d) = ep.poll_transmit() {
            let _ = to_them.send(d);
        }
        if let Some(ev) = ep.poll_event() {
            event = Some(ev);
        }
        let wait = ep
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(200));
        tokio::select! {
            res = &mut peer => break res.unwrap().expect("webrtc-rs handshake"),
            d = to_us.recv() => {
                if let Some(d) = d {
                    let _ = ep.handle_packet(Instant::now(), &d);
                }
            }
            _ = tokio::time::sleep(wait) => ep.handle_timeout(Instant::now()),
        }
    };
    // Their side is done; our last datagrams may still be on the way.
    while let Ok(d) = to_us.try_recv() {
        let _ = ep.handle_packet(Instant::now(), &d);
    }
    if event.is_none() {
        event = ep.poll_event();
    }
    let event = event.expect("our endpoint connected");
    let len = 2 * (profile.key_len() + profile.salt_len());
    let material = their_conn
        .connection_state()
        .await
        .export_keying_material("EXTRACTOR-dtls_srtp", &[], len)
        .await
        .unwrap();
    let their_profile = their_conn.selected_srtpprotection_profile() as u16;
    Outcome {
        event,
        material,
        their_profile,
        their_conn,
        ep,
        to_us,
    }
}

fn check(o: &Outcome, profile: SrtpProfile) {
    let DtlsEvent::Connected {
        profile: id,
        client_key,
        client_salt,
        server_key,
        server_salt,
    } = &o.event
    else {
        panic!("{:?}", o.event);
    };
    assert_eq!(*id, profile.id());
    assert_eq!(o.their_profile, profile.id());
    let ours = [client_key, server_key, client_salt, server_salt]
        .map(Vec::as_slice)
        .concat();
    assert_eq!(ours, o.material, "{profile:?}");
}

#[tokio::test]
async fn we_are_client() {
    for profile in SrtpProfile::DEFAULT {
        let o = handshake(DtlsRole::Client, profile, CertKind::EcdsaP256).await;
        check(&o, profile);
    }
}

#[tokio::test]
async fn we_are_server() {
    for profile in SrtpProfile::DEFAULT {
        let o = handshake(DtlsRole::Server, profile, CertKind::EcdsaP256).await;
        check(&o, profile);
    }
}

#[tokio::test]
async fn rsa_certificate_both_roles() {
    for role in [DtlsRole::Client, DtlsRole::Server] {
        let profile = SrtpProfile::Aes128CmSha1_80;
        let o = handshake(role, profile, CertKind::Rsa(2048)).await;
        check(&o, profile);
    }
}

#[tokio::test]
async fn close_notify_from_the_peer() {
    let mut o = handshake(
        DtlsRole::Client,
        SrtpProfile::AeadAes128Gcm,
        CertKind::EcdsaP256,
    )
    .await;
    assert!(o.ep.is_connected());
    o.their_conn.close().await.unwrap();
    while let Ok(d) = o.to_us.try_recv() {
        let _ = o.ep.handle_packet(Instant::now(), &d);
    }
    assert_eq!(o.ep.poll_event(), Some(DtlsEvent::Closed));
    assert!(!o.ep.is_connected());
}
