//! The SRTP crypto suites / protection profiles and their parameters.

use std::fmt;

/// An SRTP transform: cipher, authentication and key sizes (RFC 3711, RFC 6188, RFC 7714).
///
/// [`SrtpProfile::ALL`] lists them in the order rtpengine offers them over SDES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// `AEAD_AES_256_GCM` (RFC 7714), DTLS-SRTP profile 0x0008.
    AeadAes256Gcm,
    /// `AEAD_AES_128_GCM` (RFC 7714), DTLS-SRTP profile 0x0007.
    AeadAes128Gcm,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    Aes256CmHmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    Aes256CmHmacSha1_32,
    /// `AES_192_CM_HMAC_SHA1_80` (RFC 6188).
    Aes192CmHmacSha1_80,
    /// `AES_192_CM_HMAC_SHA1_32` (RFC 6188).
    Aes192CmHmacSha1_32,
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568), DTLS-SRTP profile 0x0001.
    Aes128CmHmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568), DTLS-SRTP profile 0x0002.
    Aes128CmHmacSha1_32,
    /// `F8_128_HMAC_SHA1_80` (RFC 4568, AES in f8 mode).
    F8_128HmacSha1_80,
    /// `F8_128_HMAC_SHA1_32` (rtpengine's name; not registered by RFC 4568).
    F8_128HmacSha1_32,
    /// `NULL_HMAC_SHA1_80`: authentication only, DTLS-SRTP profile 0x0005.
    NullHmacSha1_80,
    /// `NULL_HMAC_SHA1_32`: authentication only, DTLS-SRTP profile 0x0006.
    NullHmacSha1_32,
}

/// Which cipher a profile encrypts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherKind {
    /// AES in counter mode with this key length.
    AesCm(usize),
    /// AES-128 in f8 mode.
    AesF8,
    /// AES-GCM with this key length (AEAD: no separate authentication).
    AesGcm(usize),
    /// No encryption.
    Null,
}

impl SrtpProfile {
    /// Every profile, in rtpengine's SDES offer order.
    pub const ALL: [SrtpProfile; 12] = [
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::Aes256CmHmacSha1_80,
        SrtpProfile::Aes256CmHmacSha1_32,
        SrtpProfile::Aes192CmHmacSha1_80,
        SrtpProfile::Aes192CmHmacSha1_32,
        SrtpProfile::Aes128CmHmacSha1_80,
        SrtpProfile::Aes128CmHmacSha1_32,
        SrtpProfile::F8_128HmacSha1_80,
        SrtpProfile::F8_128HmacSha1_32,
        SrtpProfile::NullHmacSha1_80,
        SrtpProfile::NullHmacSha1_32,
    ];

    /// The SDES crypto-suite name (`a=crypto:<tag> <name> ...`).
    pub fn sdes_name(self) -> &'static str {
        match self {
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpProfile::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpProfile::Aes192CmHmacSha1_80 => "AES_192_CM_HMAC_SHA1_80",
            SrtpProfile::Aes192CmHmacSha1_32 => "AES_192_CM_HMAC_SHA1_32",
            SrtpProfile::Aes128CmHmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::Aes128CmHmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::F8_128HmacSha1_80 => "F8_128_HMAC_SHA1_80",
            SrtpProfile::F8_128HmacSha1_32 => "F8_128_HMAC_SHA1_32",
            SrtpProfile::NullHmacSha1_80 => "NULL_HMAC_SHA1_80",
            SrtpProfile::NullHmacSha1_32 => "NULL_HMAC_SHA1_32",
        }
    }

    /// The profile with this SDES crypto-suite name. Suite names are case-sensitive
    /// (RFC 4568 grammar); rtpengine compares them exactly as well.
    pub fn from_sdes_name(name: &str) -> Option<SrtpProfile> {
        SrtpProfile::ALL.into_iter().find(|p| p.sdes_name() == name)
    }

    /// The DTLS-SRTP protection profile id (RFC 5764 section 4.1.2, RFC 7714 section 14.2),
    /// for the profiles that have one.
    pub fn dtls_id(self) -> Option<u16> {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => Some(0x0001),
            SrtpProfile::Aes128CmHmacSha1_32 => Some(0x0002),
            SrtpProfile::NullHmacSha1_80 => Some(0x0005),
            SrtpProfile::NullHmacSha1_32 => Some(0x0006),
            SrtpProfile::AeadAes128Gcm => Some(0x0007),
            SrtpProfile::AeadAes256Gcm => Some(0x0008),
            _ => None,
        }
    }

    /// The profile for a DTLS-SRTP protection profile id.
    pub fn from_dtls_id(id: u16) -> Option<SrtpProfile> {
        SrtpProfile::ALL
            .into_iter()
            .find(|p| p.dtls_id() == Some(id))
    }

    /// The name OpenSSL uses for this profile in `SSL_CTX_set_tlsext_use_srtp` (only the
    /// profiles OpenSSL 3 supports; it has no NULL ones).
    pub fn openssl_name(self) -> Option<&'static str> {
        match self {
            SrtpProfile::Aes128CmHmacSha1_80 => Some("SRTP_AES128_CM_SHA1_80"),
            SrtpProfile::Aes128CmHmacSha1_32 => Some("SRTP_AES128_CM_SHA1_32"),
            SrtpProfile::AeadAes128Gcm => Some("SRTP_AEAD_AES_128_GCM"),
            SrtpProfile::AeadAes256Gcm => Some("SRTP_AEAD_AES_256_GCM"),
            _ => None,
        }
    }

    pub(crate) fn cipher(self) -> CipherKind {
        match self {
            SrtpProfile::AeadAes256Gcm => CipherKind::AesGcm(32),
            SrtpProfile::AeadAes128Gcm => CipherKind::AesGcm(16),
            SrtpProfile::Aes256CmHmacSha1_80 | SrtpProfile::Aes256CmHmacSha1_32 => {
                CipherKind::AesCm(32)
            }
            SrtpProfile::Aes192CmHmacSha1_80 | SrtpProfile::Aes192CmHmacSha1_32 => {
                CipherKind::AesCm(24)
            }
            SrtpProfile::Aes128CmHmacSha1_80 | SrtpProfile::Aes128CmHmacSha1_32 => {
                CipherKind::AesCm(16)
            }
            SrtpProfile::F8_128HmacSha1_80 | SrtpProfile::F8_128HmacSha1_32 => CipherKind::AesF8,
            SrtpProfile::NullHmacSha1_80 | SrtpProfile::NullHmacSha1_32 => CipherKind::Null,
        }
    }

    /// Whether this is an AEAD (GCM) profile: the tag comes from the cipher, no HMAC.
    pub fn is_aead(self) -> bool {
        matches!(self.cipher(), CipherKind::AesGcm(_))
    }

    /// Whether packets are encrypted at all (false for the NULL profiles).
    pub fn encrypts(self) -> bool {
        !matches!(self.cipher(), CipherKind::Null)
    }

    /// Master key length in bytes (the NULL profiles still carry a 128-bit key over SDES:
    /// it keys the authentication).
    pub fn master_key_len(self) -> usize {
        match self.cipher() {
            CipherKind::AesCm(n) | CipherKind::AesGcm(n) => n,
            CipherKind::AesF8 | CipherKind::Null => 16,
        }
    }

    /// Master salt length in bytes: 12 for the GCM profiles, 14 otherwise.
    pub fn master_salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Authentication tag length of SRTP packets in bytes.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpProfile::AeadAes256Gcm | SrtpProfile::AeadAes128Gcm => 16,
            SrtpProfile::Aes256CmHmacSha1_32
            | SrtpProfile::Aes192CmHmacSha1_32
            | SrtpProfile::Aes128CmHmacSha1_32
            | SrtpProfile::F8_128HmacSha1_32
            | SrtpProfile::NullHmacSha1_32 => 4,
            _ => 10,
        }
    }

    /// Authentication tag length of SRTCP packets in bytes (80 bits even for the `_32`
    /// profiles, RFC 5764 section 4.1.2).
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// Bytes `protect_rtp` adds to a packet (tag, plus the MKI if one is set).
    pub fn rtp_overhead(self) -> usize {
        self.rtp_tag_len()
    }

    /// Bytes `protect_rtcp` adds to a packet (tag and the 4-byte E flag + SRTCP index, plus
    /// the MKI if one is set).
    pub fn rtcp_overhead(self) -> usize {
        self.rtcp_tag_len() + 4
    }
}

impl fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}
