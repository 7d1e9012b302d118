//! Endpoint tests: in-memory handshakes, failures, retransmission, the attack fixtures.
//! Interop with an independent implementation (webrtc-rs `dtls`) is in
//! `tests/dtls_interop.rs`: linking that crate into the library's unit tests would add an
//! ambiguous `PartialEq` impl for `SocketAddr` (from `rkyv`) that breaks type inference
//! elsewhere in the crate.
//!
//! Time: the endpoints get synthetic `now` values, but OpenSSL's retransmission timer runs
//! on the real clock (see the module docs). The two retransmission tests therefore let
//! the real clock reach the deadline the endpoint reported (50 ms with the smallest RTO)
//! before calling `handle_timeout`; nothing else waits.

use std::time::{Duration, Instant};

use super::record::{self, content_type, handshake_type};
use super::*;

const NULL_CIPHER_HELLO: &[u8] =
    include_bytes!("../../../tests/fixtures/dtls/dtls-clienthello-null-cipher.bin");
const VALID_HELLO: &[u8] =
    include_bytes!("../../../tests/fixtures/dtls/dtls-clienthello-valid.bin");

fn ec_cert() -> DtlsCert {
    DtlsCert::generate(CertKind::EcdsaP256).unwrap()
}

struct Pair {
    client: DtlsEndpoint,
    server: DtlsEndpoint,
    client_cert: DtlsCert,
    server_cert: DtlsCert,
}

fn pair_with(now: Instant, client_cfg: DtlsConfig, server_cfg: DtlsConfig) -> Pair {
    let client_cert = ec_cert();
    let server_cert = ec_cert();
    let client = DtlsEndpoint::with_config(
        now,
        DtlsRole::Client,
        &client_cert,
        Some(*server_cert.fingerprint()),
        client_cfg,
    )
    .unwrap();
    let server = DtlsEndpoint::with_config(
        now,
        DtlsRole::Server,
        &server_cert,
        Some(*client_cert.fingerprint()),
        server_cfg,
    )
    .unwrap();
    Pair {
        client,
        server,
        client_cert,
        server_cert,
    }
}

fn pair() -> Pair {
    pair_with(Instant::now(), DtlsConfig::default(), DtlsConfig::default())
}

fn transmits(ep: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| ep.poll_transmit()).collect()
}

fn events(ep: &mut DtlsEndpoint) -> Vec<DtlsEvent> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// Delivers everything `from` has queued to `to`; returns the datagrams.
fn deliver(now: Instant, from: &mut DtlsEndpoint, to: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    let out = transmits(from);
    for d in &out {
        let _ = to.handle_packet(now, d);
    }
    out
}

/// Moves datagrams both ways until both endpoints are quiet; returns all of them.
fn pump(now: Instant, a: &mut DtlsEndpoint, b: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for _ in 0..100 {
        let ab = deliver(now, a, b);
        let ba = deliver(now, b, a);
        if ab.is_empty() && ba.is_empty() {
            return all;
        }
        all.extend(ab);
        all.extend(ba);
    }
    panic!("endpoints never went quiet");
}

/// The single Connected event of an endpoint.
fn connected(events: &[DtlsEvent]) -> &DtlsEvent {
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(events[0], DtlsEvent::Connected { .. }),
        "{events:?}"
    );
    &events[0]
}

/// Lets the real clock reach `deadline` (OpenSSL reads it; see the module docs).
fn let_real_clock_reach(deadline: Instant) {
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
}

/// Fires the endpoint's timer until it retransmits; returns the retransmission.
fn retransmit(ep: &mut DtlsEndpoint) -> Vec<Vec<u8>> {
    for _ in 0..20 {
        let deadline = ep.poll_timeout().expect("retransmission timer runs");
        let_real_clock_reach(deadline);
        ep.handle_timeout(deadline);
        let out = transmits(ep);
        if !out.is_empty() {
            return out;
        }
    }
    panic!("no retransmission");
}

#[test]
fn handshake_exports_identical_keys_for_each_profile() {
    for profile in SrtpProfile::DEFAULT {
        let cfg = DtlsConfig {
            profiles: vec![profile],
            ..DtlsConfig::default()
        };
        let now = Instant::now();
        let mut p = pair_with(now, cfg.clone(), cfg);
        assert!(!p.client.is_connected());
        pump(now, &mut p.client, &mut p.server);
        let (ce, se) = (events(&mut p.client), events(&mut p.server));
        assert_eq!(connected(&ce), connected(&se), "{profile:?}");
        let DtlsEvent::Connected {
            profile: id,
            client_key,
            client_salt,
            server_key,
            server_salt,
        } = &ce[0]
        else {
            unreachable!()
        };
        assert_eq!(*id, profile.id());
        assert_eq!(client_key.len(), profile.key_len());
        assert_eq!(server_key.len(), profile.key_len());
        assert_eq!(client_salt.len(), profile.salt_len());
        assert_eq!(server_salt.len(), profile.salt_len());
        assert_ne!(client_key, server_key);
        assert_ne!(client_salt, server_salt);
        assert!(p.client.is_connected() && p.server.is_connected());
        assert_eq!(p.client.poll_timeout(), None);
        assert_eq!(p.server.poll_timeout(), None);
    }
}

#[test]
fn default_profiles_pick_aes128_gcm_and_server_order_wins() {
    let mut p = pair();
    pump(Instant::now(), &mut p.client, &mut p.server);
    let ev = events(&mut p.client);
    assert!(matches!(
        connected(&ev),
        DtlsEvent::Connected {
            profile: 0x0007,
            ..
        }
    ));

    let now = Instant::now();
    let client = DtlsConfig {
        profiles: vec![SrtpProfile::Aes128CmSha1_32, SrtpProfile::Aes128CmSha1_80],
        ..DtlsConfig::default()
    };
    let server = DtlsConfig {
        profiles: vec![SrtpProfile::Aes128CmSha1_80, SrtpProfile::Aes128CmSha1_32],
        ..DtlsConfig::default()
    };
    let mut p = pair_with(now, client, server);
    pump(now, &mut p.client, &mut p.server);
    let ev = events(&mut p.server);
    assert!(matches!(
        connected(&ev),
        DtlsEvent::Connected {
            profile: 0x0001,
            ..
        }
    ));
}

#[test]
fn no_common_profile_fails_without_keys() {
    let now = Instant::now();
    let only = |p| DtlsConfig {
        profiles: vec![p],
        ..DtlsConfig::default()
    };
    let mut p = pair_with(
        now,
        only(SrtpProfile::AeadAes256Gcm),
        only(SrtpProfile::Aes128CmSha1_80),
    );
    pump(now, &mut p.client, &mut p.server);
    // OpenSSL's server goes on without use_srtp; the client refuses to finish without it
    // or finishes and we refuse to hand out keys. Either way: no keys anywhere.
    for ev in events(&mut p.client)
        .into_iter()
        .chain(events(&mut p.server))
    {
        assert!(!matches!(ev, DtlsEvent::Connected { .. }), "{ev:?}");
    }
    assert!(!p.client.is_connected());
}

#[test]
fn flights_fit_the_mtu_and_records_are_packed() {
    let now = Instant::now();
    let mut p = pair_with(now, DtlsConfig::default(), DtlsConfig::default());
    let hello = transmits(&mut p.client);
    assert_eq!(hello.len(), 1);
    p.server.handle_packet(now, &hello[0]).unwrap();
    let flight = transmits(&mut p.server);
    // ServerHello, Certificate, ServerKeyExchange, CertificateRequest, ServerHelloDone in
    // one datagram.
    assert_eq!(flight.len(), 1);
    let types: Vec<u8> = record::records(&flight[0])
        .map(|r| r.unwrap().handshake.unwrap().msg_type)
        .collect();
    assert_eq!(
        types,
        [
            handshake_type::SERVER_HELLO,
            handshake_type::CERTIFICATE,
            handshake_type::SERVER_KEY_EXCHANGE,
            handshake_type::CERTIFICATE_REQUEST,
            handshake_type::SERVER_HELLO_DONE
        ]
    );
    for d in &flight {
        p.client.handle_packet(now, d).unwrap();
    }
    let all = pump(now, &mut p.client, &mut p.server);
    assert!(all.iter().all(|d| d.len() <= usize::from(DEFAULT_MTU)));
    assert!(p.client.is_connected() && p.server.is_connected());
}

#[test]
fn small_mtu_fragments_an_rsa_certificate() {
    let now = Instant::now();
    let cfg = DtlsConfig {
        mtu: 576,
        ..DtlsConfig::default()
    };
    let client_cert = ec_cert();
    let server_cert = DtlsCert::generate(CertKind::Rsa(2048)).unwrap();
    assert!(server_cert.x509().to_der().unwrap().len() > 576);
    let mut client = DtlsEndpoint::with_config(
        now,
        DtlsRole::Client,
        &client_cert,
        Some(*server_cert.fingerprint()),
        cfg.clone(),
    )
    .unwrap();
    let mut server = DtlsEndpoint::with_config(
        now,
        DtlsRole::Server,
        &server_cert,
        Some(*client_cert.fingerprint()),
        cfg,
    )
    .unwrap();
    let all = pump(now, &mut client, &mut server);
    assert!(
        all.iter().all(|d| d.len() <= 576),
        "{:?}",
        all.iter().map(Vec::len).collect::<Vec<_>>()
    );
    // The certificate message came in several fragments.
    let cert_fragments = all
        .iter()
        .flat_map(|d| record::records(d).map(Result::unwrap).collect::<Vec<_>>())
        .filter(|r| {
            r.handshake
                .is_some_and(|h| h.msg_type == handshake_type::CERTIFICATE)
        })
        .filter(|r| r.handshake.is_some_and(|h| h.fragment_length < h.length))
        .count();
    assert!(cert_fragments >= 2, "{cert_fragments}");
    let (ce, se) = (events(&mut client), events(&mut server));
    assert_eq!(connected(&ce), connected(&se));
}

#[test]
fn wrong_fingerprint_fails_without_keys() {
    let now = Instant::now();
    let stranger = ec_cert();
    // The client expects another certificate than the server's.
    let mut p = pair_with(now, DtlsConfig::default(), DtlsConfig::default());
    let mut client = DtlsEndpoint::new(
        now,
        DtlsRole::Client,
        &p.client_cert,
        Some(*stranger.fingerprint()),
    )
    .unwrap();
    pump(now, &mut client, &mut p.server);
    let ce = events(&mut client);
    assert_eq!(
        ce,
        [DtlsEvent::Failed(DtlsError::FingerprintMismatch {
            expected: *stranger.fingerprint()
        })]
    );
    let se = events(&mut p.server);
    assert!(
        matches!(se[..], [DtlsEvent::Failed(DtlsError::Handshake(_))]),
        "{se:?}"
    );
    assert!(client.is_failed() && !client.is_connected());
    assert_eq!(client.poll_timeout(), None);

    // The server expects another certificate than the client's.
    let mut server = DtlsEndpoint::new(
        now,
        DtlsRole::Server,
        &p.server_cert,
        Some(*stranger.fingerprint()),
    )
    .unwrap();
    pump(now, &mut p.client, &mut server);
    let se = events(&mut server);
    assert_eq!(
        se,
        [DtlsEvent::Failed(DtlsError::FingerprintMismatch {
            expected: *stranger.fingerprint()
        })]
    );
    assert!(!events(&mut p.client)
        .iter()
        .any(|e| matches!(e, DtlsEvent::Connected { .. })));
    // A failed client ignores whatever still comes.
    assert_eq!(
        client.handle_packet(now, VALID_HELLO),
        Err(DtlsError::Closed)
    );
}

#[test]
fn fingerprints_with_every_hash_function() {
    for alg in HashAlgorithm::ALL {
        let now = Instant::now();
        let client_cert = ec_cert();
        let server_cert = ec_cert();
        let mut client = DtlsEndpoint::new(
            now,
            DtlsRole::Client,
            &client_cert,
            Some(server_cert.fingerprint_with(alg).unwrap()),
        )
        .unwrap();
        let mut server = DtlsEndpoint::new(
            now,
            DtlsRole::Server,
            &server_cert,
            Some(client_cert.fingerprint_with(alg).unwrap()),
        )
        .unwrap();
        pump(now, &mut client, &mut server);
        assert!(client.is_connected() && server.is_connected(), "{alg:?}");
    }
}

#[test]
fn fingerprint_arriving_after_the_handshake() {
    let now = Instant::now();
    let client_cert = ec_cert();
    let server_cert = ec_cert();
    let new_server = || DtlsEndpoint::new(now, DtlsRole::Server, &server_cert, None).unwrap();
    let new_client = || {
        DtlsEndpoint::new(
            now,
            DtlsRole::Client,
            &client_cert,
            Some(*server_cert.fingerprint()),
        )
        .unwrap()
    };

    let (mut client, mut server) = (new_client(), new_server());
    pump(now, &mut client, &mut server);
    let ce = events(&mut client);
    connected(&ce);
    assert!(events(&mut server).is_empty());
    assert!(!server.is_connected());
    server.set_expected_fingerprint(*client_cert.fingerprint());
    assert_eq!(events(&mut server), ce);
    assert!(server.is_connected());

    let (mut client, mut server) = (new_client(), new_server());
    pump(now, &mut client, &mut server);
    let wrong = *ec_cert().fingerprint();
    server.set_expected_fingerprint(wrong);
    assert_eq!(
        events(&mut server),
        [DtlsEvent::Failed(DtlsError::FingerprintMismatch {
            expected: wrong
        })]
    );
}

#[test]
fn lost_client_hello_is_retransmitted_on_timeout() {
    let t0 = Instant::now();
    let cfg = DtlsConfig {
        initial_rto: MIN_INITIAL_RTO,
        ..DtlsConfig::default()
    };
    let mut p = pair_with(t0, cfg, DtlsConfig::default());
    let lost = transmits(&mut p.client);
    assert_eq!(lost.len(), 1);
    let deadline = p.client.poll_timeout().expect("timer armed");
    assert!(
        deadline > t0 && deadline <= t0 + MIN_INITIAL_RTO,
        "{:?}",
        deadline - t0
    );
    // Before the deadline nothing happens.
    p.client.handle_timeout(t0 + Duration::from_millis(1));
    assert!(p.client.poll_transmit().is_none());
    assert_eq!(p.client.poll_timeout(), Some(deadline));

    let again = retransmit(&mut p.client);
    assert_eq!(again.len(), 1);
    let (first, second) = (
        record::inspect(&lost[0]).unwrap(),
        record::inspect(&again[0]).unwrap(),
    );
    // The same ClientHello in a new record.
    assert!(second.starts_with_client_hello());
    assert_eq!(first.client_random, second.client_random);
    assert_eq!(first.first.sequence + 1, second.first.sequence);
    // The timer doubled.
    let fired_at = Instant::now();
    let next = p.client.poll_timeout().unwrap();
    assert!(
        next > fired_at + MIN_INITIAL_RTO / 2,
        "{:?}",
        next - fired_at
    );

    let now = Instant::now();
    for d in &again {
        p.server.handle_packet(now, d).unwrap();
    }
    pump(now, &mut p.client, &mut p.server);
    let (ce, se) = (events(&mut p.client), events(&mut p.server));
    assert_eq!(connected(&ce), connected(&se));
}

#[test]
fn lost_final_flight_is_recovered_from_the_retransmitted_client_flight() {
    let now = Instant::now();
    let cfg = DtlsConfig {
        initial_rto: MIN_INITIAL_RTO,
        ..DtlsConfig::default()
    };
    let mut p = pair_with(now, cfg, DtlsConfig::default());
    deliver(now, &mut p.client, &mut p.server); // ClientHello
    deliver(now, &mut p.server, &mut p.client); // ServerHello ... ServerHelloDone
    deliver(now, &mut p.client, &mut p.server); // Certificate ... Finished
    assert!(p.server.is_connected());
    let se = events(&mut p.server);
    connected(&se);
    // The server's ChangeCipherSpec and Finished are lost.
    assert!(!transmits(&mut p.server).is_empty());
    assert!(!p.client.is_connected());

    let flight = retransmit(&mut p.client);
    let now = Instant::now();
    for d in &flight {
        let _ = p.server.handle_packet(now, d);
    }
    let answer = transmits(&mut p.server);
    assert!(!answer.is_empty(), "the server resends its final flight");
    for d in &answer {
        let _ = p.client.handle_packet(now, d);
    }
    let ce = events(&mut p.client);
    assert_eq!(connected(&ce), &se[0]);
    // The server did not hand out keys twice.
    assert!(events(&mut p.server).is_empty());
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn duplicate_client_hello_is_harmless() {
    let now = Instant::now();
    let mut p = pair();
    let hello = transmits(&mut p.client);
    p.server.handle_packet(now, &hello[0]).unwrap();
    let flight = transmits(&mut p.server);
    let _ = p.server.handle_packet(now, &hello[0]);
    let _ = transmits(&mut p.server);
    for d in &flight {
        p.client.handle_packet(now, d).unwrap();
    }
    pump(now, &mut p.client, &mut p.server);
    assert!(p.client.is_connected() && p.server.is_connected());
}

#[test]
fn null_cipher_client_hello_fails_only_its_own_endpoint() {
    let now = Instant::now();
    let cert = ec_cert();
    let mut attacked = DtlsEndpoint::new(now, DtlsRole::Server, &cert, None).unwrap();
    let err = attacked.handle_packet(now, NULL_CIPHER_HELLO).unwrap_err();
    let DtlsError::Handshake(reason) = &err else {
        panic!("{err:?}");
    };
    assert!(reason.contains("no shared cipher"), "{reason}");
    assert_eq!(events(&mut attacked), [DtlsEvent::Failed(err.clone())]);
    assert!(attacked.is_failed());
    // A fatal handshake_failure alert goes back.
    let out = transmits(&mut attacked);
    assert_eq!(out.len(), 1);
    let alert = record::inspect(&out[0]).unwrap();
    assert_eq!(alert.first.content_type, content_type::ALERT);
    assert_eq!(record::parse_record(&out[0]).unwrap().0.body, &[2, 40]);
    assert_eq!(attacked.poll_timeout(), None);
    // Its retransmission is ignored.
    assert_eq!(
        attacked.handle_packet(now, NULL_CIPHER_HELLO),
        Err(DtlsError::Closed)
    );
    assert!(transmits(&mut attacked).is_empty());

    // Another endpoint of the same daemon is untouched and completes a handshake.
    let client_cert = ec_cert();
    let mut other = DtlsEndpoint::new(
        now,
        DtlsRole::Server,
        &cert,
        Some(*client_cert.fingerprint()),
    )
    .unwrap();
    let mut client = DtlsEndpoint::new(
        now,
        DtlsRole::Client,
        &client_cert,
        Some(*cert.fingerprint()),
    )
    .unwrap();
    pump(now, &mut client, &mut other);
    assert!(client.is_connected() && other.is_connected());

    // A real client on the attacked endpoint's address starts it over.
    attacked.set_expected_fingerprint(*client_cert.fingerprint());
    let mut client = DtlsEndpoint::new(
        now,
        DtlsRole::Client,
        &client_cert,
        Some(*cert.fingerprint()),
    )
    .unwrap();
    pump(now, &mut client, &mut attacked);
    assert!(client.is_connected() && attacked.is_connected());
    let ev = events(&mut attacked);
    assert_eq!(connected(&ev), connected(&events(&mut client)));
}

#[test]
fn valid_client_hello_fixture_gets_a_server_hello_flight() {
    let now = Instant::now();
    let mut server = DtlsEndpoint::new(now, DtlsRole::Server, &ec_cert(), None).unwrap();
    server.handle_packet(now, VALID_HELLO).unwrap();
    assert!(events(&mut server).is_empty());
    let out = transmits(&mut server);
    assert!(!out.is_empty());
    let first = record::parse_record(&out[0]).unwrap().0;
    assert_eq!(first.header.content_type, content_type::HANDSHAKE);
    assert_eq!(first.header.version, 0xfefd);
    assert_eq!(first.header.epoch, 0);
    assert_eq!(
        first.handshake.unwrap().msg_type,
        handshake_type::SERVER_HELLO
    );
    // ServerHello: version, random, session id, then cipher suite and compression; the
    // use_srtp extension echoes the only profile the fixture offers (SHA1_80).
    let body = &first.body[record::HANDSHAKE_HEADER_LEN..];
    assert_eq!(&body[..2], &[0xfe, 0xfd]);
    let use_srtp = [0x00, 0x0e, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00];
    assert!(body.windows(use_srtp.len()).any(|w| w == use_srtp));
    assert!(out.iter().all(|d| d.len() <= usize::from(DEFAULT_MTU)));
    // Waiting for the client's next flight.
    assert!(server.poll_timeout().is_some());
}

#[test]
fn hostile_datagrams_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_d715);
    let now = Instant::now();
    let cert = ec_cert();
    let mut server = DtlsEndpoint::new(now, DtlsRole::Server, &cert, None).unwrap();
    let mut p = pair();
    pump(now, &mut p.client, &mut p.server);
    assert!(p.server.is_connected());

    assert!(matches!(
        server.handle_packet(now, &[0x80; 20]),
        Err(DtlsError::Record(RecordError::NotDtls(0x80)))
    ));
    assert!(matches!(
        server.handle_packet(now, &[22, 0xfe]),
        Err(DtlsError::Record(RecordError::TruncatedHeader(2)))
    ));
    assert_eq!(
        server.handle_packet(now, &vec![22u8; MAX_DATAGRAM + 1]),
        Err(DtlsError::TooLarge(MAX_DATAGRAM + 1))
    );
    let seeds = [VALID_HELLO, NULL_CIPHER_HELLO];
    for i in 0..600 {
        let mut d = seeds[i % 2].to_vec();
        match rng.random_range(0..4) {
            0 => {
                for _ in 0..rng.random_range(1..8) {
                    let at = rng.random_range(0..d.len());
                    d[at] = rng.random();
                }
            }
            1 => d.truncate(rng.random_range(0..d.len())),
            2 => {
                // Keep a valid record header, scramble the handshake body.
                for b in &mut d[25..] {
                    if rng.random_bool(0.1) {
                        *b = rng.random();
                    }
                }
            }
            _ => d.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>())),
        }
        let _ = server.handle_packet(now, &d);
        let _ = transmits(&mut server);
        let _ = events(&mut server);
        // A connected endpoint keeps its association whatever arrives.
        let _ = p.server.handle_packet(now, &d);
        let _ = transmits(&mut p.server);
    }
    assert!(p.server.is_connected());
    // The keys were handed out once.
    let ev = events(&mut p.server);
    assert_eq!(ev.len(), 1, "{ev:?}");
}

#[test]
fn peer_rehandshake_replaces_keys_only_when_it_succeeds() {
    let now = Instant::now();
    let mut p = pair();
    pump(now, &mut p.client, &mut p.server);
    let first = events(&mut p.server);
    connected(&first);
    let _ = events(&mut p.client);

    // A failed attempt (a certificate that does not match the SDP) changes nothing.
    let stranger = ec_cert();
    let mut bogus = DtlsEndpoint::new(
        now,
        DtlsRole::Client,
        &stranger,
        Some(*p.server_cert.fingerprint()),
    )
    .unwrap();
    pump(now, &mut bogus, &mut p.server);
    assert!(p.server.is_connected());
    assert!(events(&mut p.server).is_empty());
    assert!(!bogus.is_connected());

    // The peer starts over (new ClientHello on the same address): new keys.
    let mut again = DtlsEndpoint::new(
        now,
        DtlsRole::Client,
        &p.client_cert,
        Some(*p.server_cert.fingerprint()),
    )
    .unwrap();
    pump(now, &mut again, &mut p.server);
    let second = events(&mut p.server);
    assert_eq!(connected(&second), connected(&events(&mut again)));
    assert_ne!(first, second);
    assert!(p.server.is_connected());
}

#[test]
fn config_is_validated() {
    let cert = ec_cert();
    let now = Instant::now();
    for cfg in [
        DtlsConfig {
            profiles: vec![],
            ..DtlsConfig::default()
        },
        DtlsConfig {
            mtu: 100,
            ..DtlsConfig::default()
        },
        DtlsConfig {
            initial_rto: Duration::from_millis(5),
            ..DtlsConfig::default()
        },
    ] {
        assert!(matches!(
            DtlsEndpoint::with_config(now, DtlsRole::Client, &cert, None, cfg),
            Err(DtlsError::Config(_))
        ));
    }
    let bad_ciphers = DtlsConfig {
        ciphers: Some("NOTHING-AT-ALL".into()),
        ..DtlsConfig::default()
    };
    assert!(DtlsEndpoint::with_config(now, DtlsRole::Server, &cert, None, bad_ciphers).is_err());
}

/// Handshake time, both ends in one thread, certificates made beforehand. Prints the
/// median; run with `--release --nocapture` for the number worth quoting.
#[test]
fn handshake_time() {
    let client_cert = ec_cert();
    let server_cert = ec_cert();
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let mut client = DtlsEndpoint::new(
            start,
            DtlsRole::Client,
            &client_cert,
            Some(*server_cert.fingerprint()),
        )
        .unwrap();
        let mut server = DtlsEndpoint::new(
            start,
            DtlsRole::Server,
            &server_cert,
            Some(*client_cert.fingerprint()),
        )
        .unwrap();
        pump(start, &mut client, &mut server);
        times.push(start.elapsed());
        assert!(client.is_connected() && server.is_connected());
    }
    times.sort();
    let median = times[times.len() / 2];
    eprintln!(
        "DTLS handshake (ECDSA P-256, both ends): median {:.2} ms, min {:.2} ms",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
    assert!(median < Duration::from_secs(2));
}

#[test]
fn endpoints_move_between_threads_mid_handshake() {
    let now = Instant::now();
    let mut p = pair();
    let hello = transmits(&mut p.client);
    let cert = p.server_cert.clone();
    let expected = *cert.fingerprint();
    // The control thread may create an endpoint and hand it to a worker.
    let (mut client, mut server) = std::thread::spawn(move || {
        for d in &hello {
            p.server.handle_packet(now, d).unwrap();
        }
        pump(now, &mut p.client, &mut p.server);
        (p.client, p.server)
    })
    .join()
    .unwrap();
    assert!(client.is_connected() && server.is_connected());
    assert_eq!(
        connected(&events(&mut client)),
        connected(&events(&mut server))
    );
    // The certificate (and its shared OpenSSL context) is usable from any thread.
    let fp = std::thread::spawn(move || {
        let c = ec_cert();
        let mut e = DtlsEndpoint::new(now, DtlsRole::Server, &cert, Some(*c.fingerprint()));
        assert!(e.as_mut().is_ok_and(|e| e.poll_transmit().is_none()));
        *cert.fingerprint()
    })
    .join()
    .unwrap();
    assert_eq!(fp, expected);
}

#[test]
fn lazy_certificate_is_made_once_on_first_use_and_shared_by_clones() {
    let lazy = LazyCert::new(CertKind::default());
    let other = lazy.clone();
    assert!(!lazy.is_made() && !other.is_made());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let l = lazy.clone();
            std::thread::spawn(move || l.get().map(|c| *c.fingerprint()))
        })
        .collect();
    let prints: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        prints.iter().all(|p| p.is_some() && *p == prints[0]),
        "one certificate"
    );
    assert!(other.is_made());
    assert_eq!(other.get().map(|c| *c.fingerprint()), prints[0]);
}
