//! The daemon's DTLS certificate and SDP certificate fingerprints (RFC 8122 `a=fingerprint`).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslMethod, SslOptions, SslSessionCacheMode, SslVersion,
};
use openssl::x509::{X509NameBuilder, X509Ref, X509};

use super::{DtlsError, SrtpProfile, DEFAULT_CIPHERS};

/// How long a generated certificate is valid. rtpengine uses 30 days and renews at half
/// time; peers in practice do not check the validity of self-signed DTLS certificates.
pub const CERT_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// Common name of the generated certificate.
const CERT_CN: &str = "rtpbridge";

/// A hash function usable in `a=fingerprint` (RFC 8122 section 5; MD2/MD5 are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// `sha-1`
    Sha1,
    /// `sha-224`
    Sha224,
    /// `sha-256`
    Sha256,
    /// `sha-384`
    Sha384,
    /// `sha-512`
    Sha512,
}

impl HashAlgorithm {
    /// All supported algorithms.
    pub const ALL: [HashAlgorithm; 5] = [
        HashAlgorithm::Sha1,
        HashAlgorithm::Sha224,
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ];

    /// The name used in SDP, lower case.
    pub fn sdp_name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha1 => "sha-1",
            HashAlgorithm::Sha224 => "sha-224",
            HashAlgorithm::Sha256 => "sha-256",
            HashAlgorithm::Sha384 => "sha-384",
            HashAlgorithm::Sha512 => "sha-512",
        }
    }

    /// Parses an SDP hash function name, case-insensitively.
    pub fn from_sdp_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.sdp_name().eq_ignore_ascii_case(name))
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha1 => 20,
            HashAlgorithm::Sha224 => 28,
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    fn message_digest(self) -> MessageDigest {
        match self {
            HashAlgorithm::Sha1 => MessageDigest::sha1(),
            HashAlgorithm::Sha224 => MessageDigest::sha224(),
            HashAlgorithm::Sha256 => MessageDigest::sha256(),
            HashAlgorithm::Sha384 => MessageDigest::sha384(),
            HashAlgorithm::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// A certificate fingerprint: a hash algorithm and the digest of the DER certificate.
/// Displays and parses as the value of `a=fingerprint`: `sha-256 AB:CD:...`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: HashAlgorithm,
    digest: [u8; 64],
}

impl Fingerprint {
    /// Builds a fingerprint from a digest, which must have the algorithm's length.
    pub fn new(algorithm: HashAlgorithm, digest: &[u8]) -> Result<Self, DtlsError> {
        if digest.len() != algorithm.digest_len() {
            return Err(DtlsError::BadFingerprint("digest length does not match"));
        }
        let mut d = [0u8; 64];
        d[..digest.len()].copy_from_slice(digest);
        Ok(Fingerprint {
            algorithm,
            digest: d,
        })
    }

    /// The fingerprint of a certificate with the given hash.
    pub fn of_cert(cert: &X509Ref, algorithm: HashAlgorithm) -> Result<Self, DtlsError> {
        let digest = cert
            .digest(algorithm.message_digest())
            .map_err(|e| DtlsError::Openssl(e.to_string()))?;
        Self::new(algorithm, &digest)
    }

    /// The fingerprint of a DER-encoded certificate with the given hash.
    pub fn of_der(der: &[u8], algorithm: HashAlgorithm) -> Result<Self, DtlsError> {
        let digest = openssl::hash::hash(algorithm.message_digest(), der)
            .map_err(|e| DtlsError::Openssl(e.to_string()))?;
        Self::new(algorithm, &digest)
    }

    /// Parses the value of an `a=fingerprint` attribute: a hash name, whitespace, and
    /// colon-separated hex bytes (either case).
    pub fn parse(value: &str) -> Result<Self, DtlsError> {
        let value = value.trim();
        if value.len() > 256 {
            return Err(DtlsError::BadFingerprint("too long"));
        }
        let (name, hex) = value
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(DtlsError::BadFingerprint("missing hash name or digest"))?;
        let algorithm = HashAlgorithm::from_sdp_name(name)
            .ok_or_else(|| DtlsError::UnsupportedHash(name.chars().take(16).collect()))?;
        let mut digest = [0u8; 64];
        let mut n = 0;
        for part in hex.trim_start().split(':') {
            let b = part.as_bytes();
            if b.len() != 2 || !b.iter().all(u8::is_ascii_hexdigit) {
                return Err(DtlsError::BadFingerprint(
                    "digest is not colon-separated hex",
                ));
            }
            let byte = u8::from_str_radix(part, 16)
                .map_err(|_| DtlsError::BadFingerprint("digest is not colon-separated hex"))?;
            let slot = digest
                .get_mut(n)
                .ok_or(DtlsError::BadFingerprint("digest too long"))?;
            *slot = byte;
            n += 1;
        }
        Self::new(algorithm, &digest[..n])
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest[..self.algorithm.digest_len()]
    }

    /// Whether a certificate hashes to this fingerprint (with this fingerprint's algorithm).
    pub fn matches(&self, cert: &X509Ref) -> bool {
        Fingerprint::of_cert(cert, self.algorithm).is_ok_and(|f| f == *self)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.sdp_name())?;
        for (i, b) in self.digest().iter().enumerate() {
            let sep = if i == 0 { ' ' } else { ':' };
            write!(f, "{sep}{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = DtlsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fingerprint::parse(s)
    }
}

/// The key type of the daemon certificate (rtpengine's `--dtls-cert-cipher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertKind {
    /// ECDSA on P-256 (prime256v1), the default.
    #[default]
    EcdsaP256,
    /// RSA with the given modulus size in bits (rtpengine's default size is 2048).
    Rsa(u32),
}

/// The daemon's certificate, made on first use and then shared (control thread and media
/// workers hold clones): a daemon that never does DTLS never runs OpenSSL's key generation and
/// X.509 code, which keeps about 3 MB of libcrypto out of its resident memory. Concurrent
/// first uses make one certificate.
#[derive(Clone, Debug)]
pub struct LazyCert {
    kind: CertKind,
    cell: std::sync::Arc<std::sync::OnceLock<Option<DtlsCert>>>,
}

impl LazyCert {
    pub fn new(kind: CertKind) -> LazyCert {
        LazyCert {
            kind,
            cell: Default::default(),
        }
    }

    /// The certificate (made now if this is the first use); None if it cannot be made
    /// (logged once).
    pub fn get(&self) -> Option<&DtlsCert> {
        self.cell
            .get_or_init(|| match DtlsCert::generate(self.kind) {
                Ok(c) => {
                    tracing::info!(fingerprint = %c.fingerprint(), "DTLS certificate made");
                    Some(c)
                }
                Err(e) => {
                    tracing::error!("cannot create the DTLS certificate: {e}");
                    None
                }
            })
            .as_ref()
    }

    /// Whether the certificate has been made.
    pub fn is_made(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// The daemon's self-signed DTLS certificate and key, with an OpenSSL context built on it
/// that every [`super::DtlsEndpoint`] shares (building a context per endpoint is slow in
/// OpenSSL 3).
#[derive(Clone)]
pub struct DtlsCert {
    cert: X509,
    key: PKey<Private>,
    context: SslContext,
    fingerprint: Fingerprint,
    valid_until: SystemTime,
}

impl fmt::Debug for DtlsCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsCert")
            .field("fingerprint", &self.fingerprint)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

fn ossl(e: openssl::error::ErrorStack) -> DtlsError {
    DtlsError::Openssl(e.to_string())
}

impl DtlsCert {
    /// Generates a fresh key and a self-signed certificate (X.509 v3, random serial, signed
    /// with SHA-256, valid from one day ago for [`CERT_VALIDITY`]).
    pub fn generate(kind: CertKind) -> Result<Self, DtlsError> {
        let key = match kind {
            CertKind::EcdsaP256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ossl)?;
                PKey::from_ec_key(EcKey::generate(&group).map_err(ossl)?).map_err(ossl)?
            }
            CertKind::Rsa(bits) => {
                if !(1024..=8192).contains(&bits) {
                    return Err(DtlsError::Config("RSA key size must be 1024..=8192 bits"));
                }
                PKey::from_rsa(Rsa::generate(bits).map_err(ossl)?).map_err(ossl)?
            }
        };
        let mut name = X509NameBuilder::new().map_err(ossl)?;
        name.append_entry_by_nid(Nid::COMMONNAME, CERT_CN)
            .map_err(ossl)?;
        let name = name.build();
        let mut serial = BigNum::new().map_err(ossl)?;
        serial
            .rand(63, MsbOption::MAYBE_ZERO, false)
            .map_err(ossl)?;
        let serial = serial.to_asn1_integer().map_err(ossl)?;
        // Backdated by a day against clock skew on the peer.
        let now_unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let not_before = Asn1Time::from_unix(now_unix - 86_400).map_err(ossl)?;
        let not_after =
            Asn1Time::from_unix(now_unix + CERT_VALIDITY.as_secs() as i64).map_err(ossl)?;

        let mut b = X509::builder().map_err(ossl)?;
        b.set_version(2).map_err(ossl)?;
        b.set_serial_number(&serial).map_err(ossl)?;
        b.set_subject_name(&name).map_err(ossl)?;
        b.set_issuer_name(&name).map_err(ossl)?;
        b.set_not_before(&not_before).map_err(ossl)?;
        b.set_not_after(&not_after).map_err(ossl)?;
        b.set_pubkey(&key).map_err(ossl)?;
        b.sign(&key, MessageDigest::sha256()).map_err(ossl)?;
        let cert = b.build();
        Self::from_parts(cert, key)
    }

    /// Wraps an existing certificate and its private key (e.g. loaded from files).
    pub fn from_parts(cert: X509, key: PKey<Private>) -> Result<Self, DtlsError> {
        let context = build_context(&cert, &key)?;
        let fingerprint = Fingerprint::of_cert(&cert, HashAlgorithm::Sha256)?;
        let valid_until = SystemTime::now() + CERT_VALIDITY;
        Ok(DtlsCert {
            cert,
            key,
            context,
            fingerprint,
            valid_until,
        })
    }

    /// The SHA-256 fingerprint, as our SDP advertises it.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The fingerprint with another hash (when the peer's SDP uses one, rtpengine answers
    /// with the same function).
    pub fn fingerprint_with(&self, algorithm: HashAlgorithm) -> Result<Fingerprint, DtlsError> {
        Fingerprint::of_cert(&self.cert, algorithm)
    }

    /// The certificate.
    pub fn x509(&self) -> &X509Ref {
        &self.cert
    }

    /// The private key.
    pub fn private_key(&self) -> &PKey<Private> {
        &self.key
    }

    /// Roughly when the certificate expires (creation time plus [`CERT_VALIDITY`]).
    pub fn valid_until(&self) -> SystemTime {
        self.valid_until
    }

    pub(super) fn context(&self) -> &SslContext {
        &self.context
    }
}

/// The context shared by all endpoints: DTLS 1.2 only, our certificate, no session cache
/// or tickets, no renegotiation, a fixed MTU (set per connection), default SRTP profiles.
fn build_context(cert: &X509Ref, key: &PKey<Private>) -> Result<SslContext, DtlsError> {
    let mut b = SslContextBuilder::new(SslMethod::dtls()).map_err(ossl)?;
    b.set_min_proto_version(Some(SslVersion::DTLS1_2))
        .map_err(ossl)?;
    b.set_max_proto_version(Some(SslVersion::DTLS1_2))
        .map_err(ossl)?;
    b.set_certificate(cert).map_err(ossl)?;
    b.set_private_key(key).map_err(ossl)?;
    b.check_private_key().map_err(ossl)?;
    b.set_options(
        SslOptions::NO_QUERY_MTU
            | SslOptions::NO_RENEGOTIATION
            | SslOptions::NO_TICKET
            | SslOptions::CIPHER_SERVER_PREFERENCE,
    );
    b.set_session_cache_mode(SslSessionCacheMode::OFF);
    b.set_cipher_list(DEFAULT_CIPHERS).map_err(ossl)?;
    b.set_groups_list("X25519:P-256:P-384").map_err(ossl)?;
    b.set_tlsext_use_srtp(&SrtpProfile::openssl_list(&SrtpProfile::DEFAULT))
        .map_err(ossl)?;
    b.set_verify_depth(4);
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_cert_fingerprint_format() {
        let cert = DtlsCert::generate(CertKind::EcdsaP256).unwrap();
        let text = cert.fingerprint().to_string();
        assert!(text.starts_with("sha-256 "), "{text}");
        let hex = &text["sha-256 ".len()..];
        assert_eq!(hex.len(), 32 * 3 - 1);
        assert!(hex.split(':').all(|p| p.len() == 2
            && p.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())));
        assert_eq!(Fingerprint::parse(&text).unwrap(), *cert.fingerprint());
        // The SHA-256 fingerprint is the hash of the DER encoding.
        let der = cert.x509().to_der().unwrap();
        assert_eq!(cert.fingerprint().digest(), &openssl::sha::sha256(&der)[..]);
        assert!(cert.fingerprint().matches(cert.x509()));
        let pubkey = cert.x509().public_key().unwrap();
        assert_eq!(pubkey.id(), openssl::pkey::Id::EC);
        assert!(cert.x509().verify(&pubkey).unwrap(), "self-signed");
    }

    #[test]
    fn rsa_cert() {
        let cert = DtlsCert::generate(CertKind::Rsa(2048)).unwrap();
        let pubkey = cert.x509().public_key().unwrap();
        assert_eq!(pubkey.rsa().unwrap().size(), 256);
        assert!(DtlsCert::generate(CertKind::Rsa(512)).is_err());
    }

    #[test]
    fn every_hash_algorithm() {
        let cert = DtlsCert::generate(CertKind::EcdsaP256).unwrap();
        let der = cert.x509().to_der().unwrap();
        for alg in HashAlgorithm::ALL {
            let fp = cert.fingerprint_with(alg).unwrap();
            assert_eq!(fp.digest().len(), alg.digest_len());
            assert_eq!(fp, Fingerprint::of_der(&der, alg).unwrap());
            let text = fp.to_string();
            assert!(text.starts_with(alg.sdp_name()));
            assert_eq!(text.parse::<Fingerprint>().unwrap(), fp);
            // Upper-case name and lower-case hex parse too.
            let odd = text.to_ascii_lowercase().replacen(
                alg.sdp_name(),
                &alg.sdp_name().to_ascii_uppercase(),
                1,
            );
            assert_eq!(Fingerprint::parse(&odd).unwrap(), fp);
            assert!(fp.matches(cert.x509()));
        }
        // Known answers for the SHA-1 and SHA-512 lengths against openssl's one-shot hashes.
        assert_eq!(
            cert.fingerprint_with(HashAlgorithm::Sha512)
                .unwrap()
                .digest(),
            &openssl::sha::sha512(&der)[..]
        );
        assert_eq!(
            cert.fingerprint_with(HashAlgorithm::Sha1).unwrap().digest(),
            &openssl::sha::sha1(&der)[..]
        );
    }

    #[test]
    fn fingerprint_parse_errors() {
        let ok = "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB";
        let fp = Fingerprint::parse(ok).unwrap();
        assert_eq!(fp.algorithm(), HashAlgorithm::Sha1);
        assert_eq!(fp.digest()[0], 0x4a);
        assert_eq!(fp.to_string(), ok);
        for bad in [
            "",
            "sha-256",
            "md5 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B",
            "sha-1 4A:AD",
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:CD",
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:A",
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:+B",
            "sha-1 4AAD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
            "sha-1 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:",
            "sha-1 é:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB",
        ] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("sha-512 {}", ["AB"; 80].join(":"));
        assert!(Fingerprint::parse(&long).is_err());
    }
}
