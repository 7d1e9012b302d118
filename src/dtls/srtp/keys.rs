//! Session key derivation (RFC 3711 section 4.3, RFC 6188 section 7, RFC 7714 section 11) and
//! the per-direction keyed primitives: AES-CM / AES-f8 / AES-GCM / NULL encryption and
//! HMAC-SHA1 authentication. Everything here works in place on caller-provided slices.

use aes::cipher::{
    array::Array, BlockCipherEncrypt, BlockSizeUser, InnerIvInit, KeyInit, StreamCipherCore,
};
// Encryption-only key schedules: counter mode and f8 only ever encrypt, and the full types
// also hold the decryption round keys (`Aes128`: 352 bytes against 176).
use aes::{Aes128Enc, Aes192Enc, Aes256Enc};
use aes_gcm::aead::AeadInOut;
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::profile::{CipherKind, SrtpProfile};
use super::SrtpError;

type HmacSha1 = Hmac<Sha1>;

/// Key derivation labels (RFC 3711 section 4.3.1 and 4.3.2).
#[derive(Clone, Copy)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// Length of the HMAC-SHA1 session authentication key.
const AUTH_KEY_LEN: usize = 20;

/// The AES-CM pseudo-random function keyed with the master key: writes the keystream for
/// `label` (key derivation rate 0, so the index term is zero) into `out`.
///
/// The master salt (112 bits, or 96 bits for GCM, padded with zero bytes on the right) is
/// XORed with the label at byte 7, i.e. `key_id = label || 0^48` right-aligned; the result
/// times 2^16 is the counter block.
pub(crate) fn derive(
    master_key: &[u8],
    master_salt: &[u8],
    label: Label,
    out: &mut [u8],
) -> Result<(), SrtpError> {
    let mut iv = [0u8; 16];
    let salt_len = master_salt.len().min(14);
    iv[..salt_len].copy_from_slice(&master_salt[..salt_len]);
    iv[7] ^= label as u8;
    out.fill(0);
    match master_key.len() {
        16 => ctr_xor(&new_block::<Aes128Enc>(master_key)?, &iv, out)?,
        24 => ctr_xor(&new_block::<Aes192Enc>(master_key)?, &iv, out)?,
        32 => ctr_xor(&new_block::<Aes256Enc>(master_key)?, &iv, out)?,
        n => {
            return Err(SrtpError::BadKeyLength {
                expected: 16,
                got: n,
            })
        }
    }
    Ok(())
}

fn new_block<C: KeyInit>(key: &[u8]) -> Result<C, SrtpError> {
    C::new_from_slice(key).map_err(|_| SrtpError::BadKeyLength {
        expected: C::key_size(),
        got: key.len(),
    })
}

/// XORs the AES counter-mode keystream starting at counter block `iv` into `data`.
#[inline]
fn ctr_xor<C>(cipher: &C, iv: &[u8; 16], data: &mut [u8]) -> Result<(), SrtpError>
where
    C: BlockCipherEncrypt + BlockSizeUser<BlockSize = aes::cipher::consts::U16>,
{
    let iv: &Array<u8, aes::cipher::consts::U16> = iv.into();
    ctr::CtrCore::<&C, ctr::flavors::Ctr128BE>::inner_iv_init(cipher, iv)
        .try_apply_keystream_partial(data.into())
        .map_err(|_| SrtpError::TooLong)
}

/// A keyed cipher for one of SRTP or SRTCP.
enum Cipher {
    Null,
    Cm128(Aes128Enc),
    Cm192(Aes192Enc),
    Cm256(Aes256Enc),
    /// AES-f8: the session key and the IV-encryption key `k_e XOR (k_s || 0x55..)`.
    F8 {
        key: Aes128Enc,
        iv_key: Box<Aes128Enc>,
    },
    Gcm128(Box<Aes128Gcm>),
    Gcm256(Box<Aes256Gcm>),
}

/// Session keys of one direction-independent half (SRTP or SRTCP) of a crypto context.
pub(crate) struct SessionKeys {
    cipher: Cipher,
    /// Session salt; GCM uses the first 12 bytes.
    salt: [u8; 14],
    /// Pre-keyed HMAC-SHA1 (cloned per packet; a clone copies two hash states).
    auth: Option<HmacSha1>,
}

/// The length of a GCM tag.
pub(crate) const GCM_TAG_LEN: usize = 16;

impl SessionKeys {
    /// Derives the SRTP (`rtcp == false`) or SRTCP session keys from the master key and salt.
    pub(crate) fn derive(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
        rtcp: bool,
    ) -> Result<SessionKeys, SrtpError> {
        let (enc, auth, salt) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpAuth, Label::RtpSalt)
        };
        let key_len = profile.master_key_len();
        let mut session_key = [0u8; 32];
        let mut session_salt = [0u8; 14];
        derive(master_key, master_salt, enc, &mut session_key[..key_len])?;
        derive(
            master_key,
            master_salt,
            salt,
            &mut session_salt[..profile.master_salt_len()],
        )?;
        let auth_key = if profile.is_aead() {
            None
        } else {
            let mut k = [0u8; AUTH_KEY_LEN];
            derive(master_key, master_salt, auth, &mut k)?;
            Some(k)
        };
        let keys = SessionKeys::from_session_keys(
            profile,
            &session_key[..key_len],
            &session_salt[..profile.master_salt_len()],
            auth_key.as_ref().map(|k| &k[..]),
        );
        session_key.fill(0);
        keys
    }

    /// Builds the keyed primitives straight from session keys (used by the RFC 7714 test
    /// vectors, which give session keys).
    pub(crate) fn from_session_keys(
        profile: SrtpProfile,
        key: &[u8],
        salt: &[u8],
        auth_key: Option<&[u8]>,
    ) -> Result<SessionKeys, SrtpError> {
        let mut s = [0u8; 14];
        if salt.len() != profile.master_salt_len() {
            return Err(SrtpError::BadSaltLength {
                expected: profile.master_salt_len(),
                got: salt.len(),
            });
        }
        s[..salt.len()].copy_from_slice(salt);
        let cipher = match profile.cipher() {
            CipherKind::Null => Cipher::Null,
            CipherKind::AesCm(16) => Cipher::Cm128(new_block(key)?),
            CipherKind::AesCm(24) => Cipher::Cm192(new_block(key)?),
            CipherKind::AesCm(_) => Cipher::Cm256(new_block(key)?),
            CipherKind::AesF8 => {
                // m = k_s || 0x555..5, padded to the key length; IV' = E(k_e XOR m, IV).
                let mut m = [0x55u8; 16];
                m[..14].copy_from_slice(&s);
                if key.len() != 16 {
                    return Err(SrtpError::BadKeyLength {
                        expected: 16,
                        got: key.len(),
                    });
                }
                for (m, k) in m.iter_mut().zip(key) {
                    *m ^= k;
                }
                let iv_key = Box::new(new_block(&m)?);
                m.fill(0);
                Cipher::F8 {
                    key: new_block(key)?,
                    iv_key,
                }
            }
            CipherKind::AesGcm(16) => Cipher::Gcm128(Box::new(new_block(key)?)),
            CipherKind::AesGcm(_) => Cipher::Gcm256(Box::new(new_block(key)?)),
        };
        let auth =
            match auth_key {
                Some(k) if !profile.is_aead() => Some(HmacSha1::new_from_slice(k).map_err(
                    |_| SrtpError::BadKeyLength {
                        expected: AUTH_KEY_LEN,
                        got: k.len(),
                    },
                )?),
                _ => None,
            };
        Ok(SessionKeys {
            cipher,
            salt: s,
            auth,
        })
    }

    /// AES-CM counter block: `k_s * 2^16 XOR SSRC * 2^64 XOR index * 2^16`.
    fn cm_iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        xor_into(&mut iv[4..8], &ssrc.to_be_bytes());
        xor_into(&mut iv[8..14], &index.to_be_bytes()[2..8]);
        iv
    }

    /// Encrypts or decrypts (the same operation) `data` with a counter-mode or f8 cipher.
    /// `f8_iv` is the f8 IV for this packet (RFC 3711 4.1.2.2 / 4.1.2.3); the counter modes
    /// use `ssrc` and `index`. Not for GCM.
    pub(crate) fn stream_xor(
        &self,
        ssrc: u32,
        index: u64,
        f8_iv: &[u8; 16],
        data: &mut [u8],
    ) -> Result<(), SrtpError> {
        match &self.cipher {
            Cipher::Null | Cipher::Gcm128(_) | Cipher::Gcm256(_) => Ok(()),
            Cipher::Cm128(c) => ctr_xor(c, &self.cm_iv(ssrc, index), data),
            Cipher::Cm192(c) => ctr_xor(c, &self.cm_iv(ssrc, index), data),
            Cipher::Cm256(c) => ctr_xor(c, &self.cm_iv(ssrc, index), data),
            Cipher::F8 { key, iv_key } => {
                f8_xor(key, iv_key, f8_iv, data);
                Ok(())
            }
        }
    }

    /// Whether this is the f8 cipher (the caller then builds the f8 IV).
    pub(crate) fn is_f8(&self) -> bool {
        matches!(self.cipher, Cipher::F8 { .. })
    }

    /// HMAC-SHA1 over `parts`, truncated into `out`.
    pub(crate) fn hmac(&self, parts: &[&[u8]], out: &mut [u8]) {
        if let Some(mac) = &self.auth {
            let mut mac = mac.clone();
            for p in parts {
                mac.update(p);
            }
            let full = mac.finalize().into_bytes();
            let n = out.len().min(full.len());
            out[..n].copy_from_slice(&full[..n]);
        }
    }

    /// Checks a truncated HMAC-SHA1 tag in constant time.
    pub(crate) fn hmac_verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        let mut expected = [0u8; AUTH_KEY_LEN];
        let n = tag.len().min(AUTH_KEY_LEN);
        self.hmac(parts, &mut expected[..n]);
        bool::from(expected[..n].ct_eq(tag))
    }

    /// GCM nonce: `salt XOR (0x0000 || SSRC || mid || low)` with `mid || low` the 48-bit
    /// ROC || SEQ for SRTP, or 0x0000 || SRTCP index for SRTCP.
    pub(crate) fn gcm_nonce(&self, ssrc: u32, tail: u64) -> [u8; 12] {
        let mut n = [0u8; 12];
        n.copy_from_slice(&self.salt[..12]);
        xor_into(&mut n[2..6], &ssrc.to_be_bytes());
        xor_into(&mut n[6..12], &tail.to_be_bytes()[2..8]);
        n
    }

    /// GCM-encrypts `data` in place, returning the tag.
    pub(crate) fn gcm_seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; GCM_TAG_LEN], SrtpError> {
        let nonce = nonce.into();
        let tag = match &self.cipher {
            Cipher::Gcm128(c) => c.encrypt_inout_detached(nonce, aad, data.into()),
            Cipher::Gcm256(c) => c.encrypt_inout_detached(nonce, aad, data.into()),
            _ => return Err(SrtpError::TooShort),
        }
        .map_err(|_| SrtpError::TooLong)?;
        let mut out = [0u8; GCM_TAG_LEN];
        out.copy_from_slice(&tag);
        Ok(out)
    }

    /// Checks the GCM tag and, only if it is right, decrypts `data` in place.
    pub(crate) fn gcm_open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8; GCM_TAG_LEN],
    ) -> Result<(), SrtpError> {
        let nonce = nonce.into();
        let tag = tag.into();
        match &self.cipher {
            Cipher::Gcm128(c) => c.decrypt_inout_detached(nonce, aad, data.into(), tag),
            Cipher::Gcm256(c) => c.decrypt_inout_detached(nonce, aad, data.into(), tag),
            _ => return Err(SrtpError::AuthFailed),
        }
        .map_err(|_| SrtpError::AuthFailed)
    }
}

#[inline]
fn xor_into(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

/// AES-f8 (RFC 3711 section 4.1.2): `IV' = E(k_e XOR m, IV)`, then
/// `S(j) = E(k_e, IV' XOR j XOR S(j-1))` with `S(-1) = 0`.
fn f8_xor(key: &Aes128Enc, iv_key: &Aes128Enc, iv: &[u8; 16], data: &mut [u8]) {
    let mut iv_prime = aes::Block::from(*iv);
    iv_key.encrypt_block(&mut iv_prime);
    let mut s = [0u8; 16];
    for (j, chunk) in data.chunks_mut(16).enumerate() {
        let mut block = aes::Block::default();
        let j = (j as u128).to_be_bytes();
        for i in 0..16 {
            block[i] = iv_prime[i] ^ j[i] ^ s[i];
        }
        key.encrypt_block(&mut block);
        s.copy_from_slice(&block);
        xor_into(chunk, &s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 appendix B.3: key derivation.
    #[test]
    fn rfc3711_b3_key_derivation() {
        let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
        let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
        let mut out = [0u8; 16];
        derive(&key, &salt, Label::RtpEncryption, &mut out).unwrap();
        assert_eq!(out.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut out = [0u8; 14];
        derive(&key, &salt, Label::RtpSalt, &mut out).unwrap();
        assert_eq!(out.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut out = [0u8; 94];
        derive(&key, &salt, Label::RtpAuth, &mut out).unwrap();
        assert_eq!(
            out.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE\
                 E049646C43D9327AD175578EF7227098\
                 6371C10C9A369AC2F94A8C5FBCDDDC256D6E919A48B610EF17C2041E47403576\
                 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    /// RFC 3711 appendix B.2: the AES-CM keystream for a session key and shifted salt.
    #[test]
    fn rfc3711_b2_aes_cm_keystream() {
        let key = Aes128Enc::new_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut ks = vec![0u8; 65282 * 16];
        ctr_xor(&key, &iv, &mut ks).unwrap();
        assert_eq!(ks[..16], hex("E03EAD0935C95E80E166B16DD92B4EB4")[..]);
        assert_eq!(ks[16..32], hex("D23513162B02D0F72A43A2FE4A5F97AB")[..]);
        assert_eq!(ks[32..48], hex("41E95B3BB0A2E8DD477901E4FCA894C0")[..]);
        let block = |n: usize| &ks[n * 16..n * 16 + 16];
        assert_eq!(block(0xfeff), &hex("EC8CDF7398607CB0F2D21675EA9EA1E4")[..]);
        assert_eq!(block(0xff00), &hex("362B7C3C6773516318A077D7FC5073AE")[..]);
        assert_eq!(block(0xff01), &hex("6A2CC3787889374FBEB4C81B17BA6C44")[..]);
    }

    /// RFC 3711 appendix B.1: AES-f8 with its intermediate IV'.
    #[test]
    fn rfc3711_b1_aes_f8() {
        let key = hex("234829008467be186c3de14aae72d62c");
        let salt = hex("32f2870d");
        // The RFC's key mask m = salt || 0x55..., k_e XOR m given as:
        let mut m = [0x55u8; 16];
        m[..4].copy_from_slice(&salt);
        let masked: Vec<u8> = m.iter().zip(&key).map(|(a, b)| a ^ b).collect();
        assert_eq!(masked, hex("11baae0dd132eb4d3968b41ffb278379"));
        let iv: [u8; 16] = hex("006e5cba50681de55c621599d462564a").try_into().unwrap();
        let iv_key = Aes128Enc::new_from_slice(&masked).unwrap();
        let mut iv_prime = aes::Block::from(iv);
        iv_key.encrypt_block(&mut iv_prime);
        assert_eq!(iv_prime.to_vec(), hex("595b699bbd3bc0df26062093c1ad8f73"));

        let mut data =
            hex("70736575646f72616e646f6d6e657373 20697320746865206e65787420626573 74207468696e67");
        f8_xor(
            &Aes128Enc::new_from_slice(&key).unwrap(),
            &iv_key,
            &iv,
            &mut data,
        );
        assert_eq!(
            data,
            hex("019ce7a26e7854014a6366aa95d4eefd 1ad4172a14f9faf455b7f1d4b62bd08f 562c0eef7c4802")
        );
    }
}
