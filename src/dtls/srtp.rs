//! SRTP and SRTCP (RFC 3711; AES-192/256 counter mode from RFC 6188; AES-GCM from RFC 7714),
//! in place and allocation-free on the packet path.
//!
//! A [`SrtpContext`] holds the session keys derived from one master key and salt (key
//! derivation rate 0) and the per-SSRC packet index state. It is one-directional, like the
//! SDES and DTLS-SRTP keys it comes from: one context to unprotect what a peer sends, another
//! (with our key) to protect what we send to it.
//!
//! - [`SrtpContext::protect_rtp`] encrypts in place and appends the tag into spare room that
//!   the caller leaves after the packet ([`SrtpContext::rtp_overhead`] bytes).
//! - [`SrtpContext::unprotect_rtp`] checks the replay window, authenticates, and only then
//!   decrypts; a packet that fails changes no state (the ROC estimate and replay window are
//!   committed after the tag checked out).
//! - SRTCP likewise, with the E flag and 31-bit SRTCP index; an incoming packet with E=0 is
//!   authenticated but not decrypted.
//!
//! RTP header extensions and CSRCs are authenticated (or, with GCM, associated data) and never
//! encrypted (no RFC 6904); padding is part of the encrypted payload and left as it is.
//! An MKI ([`SrtpContext::set_mki`]) is written after the payload on protect and must match
//! on unprotect; a context holds one master key, so the MKI only identifies it. The SDES
//! session parameters UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP and UNAUTHENTICATED_SRTP are
//! supported ([`SrtpContext::set_session_params`]); key derivation rates other than 0, RFC 6904
//! header extension encryption and F8 for DTLS-SRTP (no profile id exists) are not.

mod keys;
mod profile;
mod replay;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod tests;

pub use profile::SrtpProfile;
pub use replay::REPLAY_WINDOW;

use keys::{SessionKeys, GCM_TAG_LEN};
use replay::{estimate_index, ReplayCheck, ReplayWindow, SsrcTable};

/// Largest MKI accepted (RFC 4568 allows up to 128 bytes).
pub const MAX_MKI_LEN: usize = 128;

/// SSRCs a context tracks at once; beyond that the least recently used is forgotten.
pub const MAX_SSRCS: usize = 32;

/// Highest SRTCP index (31 bits); the sender must rekey before reaching it.
const MAX_SRTCP_INDEX: u32 = 0x7fff_ffff;

/// Why SRTP/SRTCP protection or unprotection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    #[error("master key must be {expected} bytes, got {got}")]
    BadKeyLength { expected: usize, got: usize },
    #[error("master salt must be {expected} bytes, got {got}")]
    BadSaltLength { expected: usize, got: usize },
    #[error("MKI longer than {MAX_MKI_LEN} bytes")]
    BadMki,
    #[error("packet too short")]
    TooShort,
    #[error("packet too long for the cipher")]
    TooLong,
    #[error("not an RTP/RTCP version 2 packet")]
    BadVersion,
    #[error("no room after the packet for the authentication tag")]
    NoRoom,
    #[error("authentication failed")]
    AuthFailed,
    #[error("replayed packet")]
    Replay,
    #[error("packet older than the replay window")]
    TooOld,
    #[error("MKI does not match")]
    MkiMismatch,
    #[error("session parameter not defined for this profile")]
    Unsupported,
    #[error("packet index space exhausted, the stream must be rekeyed")]
    IndexExhausted,
}

impl From<ReplayCheck> for SrtpError {
    fn from(r: ReplayCheck) -> SrtpError {
        match r {
            ReplayCheck::Duplicate => SrtpError::Replay,
            ReplayCheck::TooOld => SrtpError::TooOld,
        }
    }
}

/// The RFC 4568 SDES session parameters that change the packet transform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionParams {
    /// `UNENCRYPTED_SRTP`: RTP payloads are sent in the clear (still authenticated).
    pub unencrypted_srtp: bool,
    /// `UNENCRYPTED_SRTCP`: RTCP is sent with E=0, in the clear (still authenticated).
    pub unencrypted_srtcp: bool,
    /// `UNAUTHENTICATED_SRTP`: RTP packets carry no authentication tag.
    pub unauthenticated_srtp: bool,
}

/// Per-SSRC SRTCP state.
#[derive(Clone, Copy, Default)]
struct RtcpStream {
    /// Receive side: replay window over SRTCP indices (None until the first good packet).
    window: Option<ReplayWindow>,
    /// Send side: the index the next protected packet gets.
    next_index: u32,
}

/// An SRTP/SRTCP crypto context for one direction (see the module docs).
pub struct SrtpContext {
    profile: SrtpProfile,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    mki: [u8; MAX_MKI_LEN],
    mki_len: usize,
    params: SessionParams,
    rtp_streams: SsrcTable<ReplayWindow>,
    rtcp_streams: SsrcTable<RtcpStream>,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("profile", &self.profile)
            .field("mki_len", &self.mki_len)
            .field("rtp_streams", &self.rtp_streams.len())
            .field("rtcp_streams", &self.rtcp_streams.len())
            .finish_non_exhaustive()
    }
}

/// Offsets of an RTP packet's parts.
struct RtpLayout {
    header_len: usize,
    seq: u16,
    ssrc: u32,
}

fn parse_rtp_header(pkt: &[u8]) -> Result<RtpLayout, SrtpError> {
    if pkt.len() < 12 {
        return Err(SrtpError::TooShort);
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    let cc = (pkt[0] & 0x0f) as usize;
    let mut header_len = 12 + 4 * cc;
    if pkt[0] & 0x10 != 0 {
        if pkt.len() < header_len + 4 {
            return Err(SrtpError::TooShort);
        }
        let words = u16::from_be_bytes([pkt[header_len + 2], pkt[header_len + 3]]) as usize;
        header_len += 4 + 4 * words;
    }
    if pkt.len() < header_len {
        return Err(SrtpError::TooShort);
    }
    Ok(RtpLayout {
        header_len,
        seq: u16::from_be_bytes([pkt[2], pkt[3]]),
        ssrc: u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]),
    })
}

fn rtcp_check_header(pkt: &[u8]) -> Result<u32, SrtpError> {
    if pkt.len() < 8 {
        return Err(SrtpError::TooShort);
    }
    if pkt[0] >> 6 != 2 {
        return Err(SrtpError::BadVersion);
    }
    Ok(u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]))
}

/// AES-f8 IV for SRTP (RFC 3711 4.1.2.2): `0x00 || M || PT || SEQ || TS || SSRC || ROC`.
fn f8_rtp_iv(header: &[u8], index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[1..12].copy_from_slice(&header[1..12]);
    iv[12..16].copy_from_slice(&((index >> 16) as u32).to_be_bytes());
    iv
}

/// AES-f8 IV for SRTCP (RFC 3711 4.1.2.3): `0^32 || E || index || V P RC PT length || SSRC`.
fn f8_rtcp_iv(header: &[u8], e_index: u32) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[4..8].copy_from_slice(&e_index.to_be_bytes());
    iv[8..16].copy_from_slice(&header[..8]);
    iv
}

impl SrtpContext {
    /// A context for `profile` keyed with the SDES or DTLS-SRTP master key and salt.
    pub fn new(
        profile: SrtpProfile,
        master_key: &[u8],
        master_salt: &[u8],
    ) -> Result<SrtpContext, SrtpError> {
        if master_key.len() != profile.master_key_len() {
            return Err(SrtpError::BadKeyLength {
                expected: profile.master_key_len(),
                got: master_key.len(),
            });
        }
        if master_salt.len() != profile.master_salt_len() {
            return Err(SrtpError::BadSaltLength {
                expected: profile.master_salt_len(),
                got: master_salt.len(),
            });
        }
        Ok(SrtpContext::from_keys(
            profile,
            SessionKeys::derive(profile, master_key, master_salt, false)?,
            SessionKeys::derive(profile, master_key, master_salt, true)?,
        ))
    }

    fn from_keys(profile: SrtpProfile, rtp: SessionKeys, rtcp: SessionKeys) -> SrtpContext {
        SrtpContext {
            profile,
            rtp,
            rtcp,
            mki: [0; MAX_MKI_LEN],
            mki_len: 0,
            params: SessionParams::default(),
            rtp_streams: SsrcTable::new(MAX_SSRCS),
            rtcp_streams: SsrcTable::new(MAX_SSRCS),
        }
    }

    /// A context from session keys directly, bypassing key derivation (test vectors).
    #[cfg(test)]
    pub(crate) fn from_session_keys(
        profile: SrtpProfile,
        key: &[u8],
        salt: &[u8],
        auth_key: Option<&[u8]>,
    ) -> Result<SrtpContext, SrtpError> {
        Ok(SrtpContext::from_keys(
            profile,
            SessionKeys::from_session_keys(profile, key, salt, auth_key)?,
            SessionKeys::from_session_keys(profile, key, salt, auth_key)?,
        ))
    }

    /// Sets the MKI written into (and expected in) every packet; empty for none.
    pub fn set_mki(&mut self, mki: &[u8]) -> Result<(), SrtpError> {
        if mki.len() > MAX_MKI_LEN {
            return Err(SrtpError::BadMki);
        }
        self.mki[..mki.len()].copy_from_slice(mki);
        self.mki_len = mki.len();
        Ok(())
    }

    /// Applies SDES session parameters (RFC 4568 section 6.3). The GCM profiles have no
    /// unencrypted or unauthenticated SRTP form (RFC 7714); UNENCRYPTED_SRTCP works with all.
    pub fn set_session_params(&mut self, params: SessionParams) -> Result<(), SrtpError> {
        if self.profile.is_aead() && (params.unencrypted_srtp || params.unauthenticated_srtp) {
            return Err(SrtpError::Unsupported);
        }
        self.params = params;
        Ok(())
    }

    /// The RTP tag length in use (0 with UNAUTHENTICATED_SRTP).
    fn rtp_tag_len(&self) -> usize {
        if self.params.unauthenticated_srtp {
            0
        } else {
            self.profile.rtp_tag_len()
        }
    }

    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Spare bytes `protect_rtp` needs after the packet.
    pub fn rtp_overhead(&self) -> usize {
        self.rtp_tag_len() + self.mki_len
    }

    /// Spare bytes `protect_rtcp` needs after the packet.
    pub fn rtcp_overhead(&self) -> usize {
        self.profile.rtcp_overhead() + self.mki_len
    }

    /// The rollover counter of an SSRC (highest index seen or sent, divided by 2^16).
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.rtp_streams.get(ssrc).map(|w| (w.highest >> 16) as u32)
    }

    /// Starts (or restarts) an SSRC at a known rollover counter and sequence number, e.g.
    /// when a stream is handed over with its state. Clears its replay window.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32, seq: u16) {
        let index = ((roc as u64) << 16) | seq as u64;
        let w = self
            .rtp_streams
            .entry(ssrc, || ReplayWindow::starting_at(index));
        *w = ReplayWindow::starting_at(index);
    }

    /// Sets the SRTCP index the next packet protected for `ssrc` gets (a handed-over
    /// stream continues its numbering).
    pub fn set_srtcp_index(&mut self, ssrc: u32, next_index: u32) {
        self.rtcp_streams
            .entry(ssrc, RtcpStream::default)
            .next_index = next_index & MAX_SRTCP_INDEX;
    }

    /// Encrypts and authenticates the RTP packet `buf[..len]` in place. `buf` must have at
    /// least [`rtp_overhead`](Self::rtp_overhead) spare bytes after `len`. Returns the
    /// SRTP packet length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.rtp_tag_len();
        let out_len = len + tag_len + self.mki_len;
        if len > buf.len() {
            return Err(SrtpError::TooShort);
        }
        if buf.len() < out_len {
            return Err(SrtpError::NoRoom);
        }
        let hdr = parse_rtp_header(&buf[..len])?;
        let index = match self.rtp_streams.get(hdr.ssrc) {
            Some(w) => estimate_index(w.highest, hdr.seq).ok_or(SrtpError::IndexExhausted)?,
            None => hdr.seq as u64,
        };
        let (head, rest) = buf.split_at_mut(hdr.header_len);
        let payload_len = len - hdr.header_len;
        if self.profile.is_aead() {
            let nonce = self.rtp.gcm_nonce(hdr.ssrc, index);
            let (payload, tail) = rest.split_at_mut(payload_len);
            let tag = self.rtp.gcm_seal(&nonce, head, payload)?;
            tail[..GCM_TAG_LEN].copy_from_slice(&tag);
            tail[GCM_TAG_LEN..GCM_TAG_LEN + self.mki_len]
                .copy_from_slice(&self.mki[..self.mki_len]);
        } else {
            let f8_iv = if self.rtp.is_f8() {
                f8_rtp_iv(head, index)
            } else {
                [0; 16]
            };
            if !self.params.unencrypted_srtp {
                self.rtp
                    .stream_xor(hdr.ssrc, index, &f8_iv, &mut rest[..payload_len])?;
            }
            let roc = ((index >> 16) as u32).to_be_bytes();
            let (packet, tail) = buf.split_at_mut(len);
            tail[..self.mki_len].copy_from_slice(&self.mki[..self.mki_len]);
            self.rtp.hmac(
                &[packet, &roc],
                &mut tail[self.mki_len..self.mki_len + tag_len],
            );
        }
        self.rtp_streams
            .entry(hdr.ssrc, || ReplayWindow::starting_at(index))
            .advance(index);
        Ok(out_len)
    }

    /// Authenticates and decrypts the SRTP packet `buf` in place; returns the length of the
    /// RTP packet now at the start of `buf`. On error nothing in the context changed.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.rtp_tag_len();
        let trailer = tag_len + self.mki_len;
        let hdr = parse_rtp_header(buf)?;
        if buf.len() < hdr.header_len + trailer {
            return Err(SrtpError::TooShort);
        }
        let plain_len = buf.len() - trailer;
        let window = self.rtp_streams.get(hdr.ssrc).copied();
        let index = match &window {
            Some(w) => {
                let index = estimate_index(w.highest, hdr.seq).ok_or(SrtpError::IndexExhausted)?;
                w.check(index)?;
                index
            }
            None => hdr.seq as u64,
        };
        if self.profile.is_aead() {
            // header || ciphertext || tag || MKI
            let (packet, tail) = buf.split_at_mut(plain_len);
            if tail[GCM_TAG_LEN..] != self.mki[..self.mki_len] {
                return Err(SrtpError::MkiMismatch);
            }
            let mut tag = [0u8; GCM_TAG_LEN];
            tag.copy_from_slice(&tail[..GCM_TAG_LEN]);
            let nonce = self.rtp.gcm_nonce(hdr.ssrc, index);
            let (head, payload) = packet.split_at_mut(hdr.header_len);
            self.rtp.gcm_open(&nonce, head, payload, &tag)?;
        } else {
            // header || payload || MKI || tag
            let (packet, tail) = buf.split_at_mut(plain_len);
            if tail[..self.mki_len] != self.mki[..self.mki_len] {
                return Err(SrtpError::MkiMismatch);
            }
            let roc = ((index >> 16) as u32).to_be_bytes();
            if !self.rtp.hmac_verify(&[packet, &roc], &tail[self.mki_len..]) {
                return Err(SrtpError::AuthFailed);
            }
            let f8_iv = if self.rtp.is_f8() {
                f8_rtp_iv(packet, index)
            } else {
                [0; 16]
            };
            if !self.params.unencrypted_srtp {
                let (_, payload) = packet.split_at_mut(hdr.header_len);
                self.rtp.stream_xor(hdr.ssrc, index, &f8_iv, payload)?;
            }
        }
        self.rtp_streams
            .entry(hdr.ssrc, || ReplayWindow::starting_at(index))
            .commit(index);
        Ok(plain_len)
    }

    /// Encrypts and authenticates the (compound) RTCP packet `buf[..len]` in place, adding
    /// the E flag and SRTCP index. `buf` must have [`rtcp_overhead`](Self::rtcp_overhead)
    /// spare bytes after `len`. Returns the SRTCP packet length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let tag_len = self.profile.rtcp_tag_len();
        let out_len = len + 4 + tag_len + self.mki_len;
        if len > buf.len() {
            return Err(SrtpError::TooShort);
        }
        if buf.len() < out_len {
            return Err(SrtpError::NoRoom);
        }
        let ssrc = rtcp_check_header(&buf[..len])?;
        let index = self.rtcp_streams.get(ssrc).map_or(0, |s| s.next_index);
        if index > MAX_SRTCP_INDEX {
            return Err(SrtpError::IndexExhausted);
        }
        let e_flag = if self.profile.encrypts() && !self.params.unencrypted_srtcp {
            0x8000_0000
        } else {
            0
        };
        let e_index = e_flag | index;
        let e_bytes = e_index.to_be_bytes();
        if self.profile.is_aead() && e_flag == 0 {
            // header || payload || tag || E+index || MKI; AAD = header || payload || E+index,
            // nothing encrypted. Put E+index right after the payload to make the AAD
            // contiguous, then move it behind the tag.
            buf[len..len + 4].copy_from_slice(&e_bytes);
            let nonce = self.rtcp.gcm_nonce(ssrc, index as u64);
            let tag = self.rtcp.gcm_seal(&nonce, &buf[..len + 4], &mut [])?;
            buf[len..len + GCM_TAG_LEN].copy_from_slice(&tag);
            buf[len + GCM_TAG_LEN..len + GCM_TAG_LEN + 4].copy_from_slice(&e_bytes);
            buf[len + GCM_TAG_LEN + 4..out_len].copy_from_slice(&self.mki[..self.mki_len]);
        } else if self.profile.is_aead() {
            // header || ciphertext || tag || E+index || MKI; AAD = header || E+index.
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&buf[..8]);
            aad[8..].copy_from_slice(&e_bytes);
            let nonce = self.rtcp.gcm_nonce(ssrc, index as u64);
            let (body, tail) = buf[8..].split_at_mut(len - 8);
            let tag = self.rtcp.gcm_seal(&nonce, &aad, body)?;
            tail[..GCM_TAG_LEN].copy_from_slice(&tag);
            tail[GCM_TAG_LEN..GCM_TAG_LEN + 4].copy_from_slice(&e_bytes);
            tail[GCM_TAG_LEN + 4..GCM_TAG_LEN + 4 + self.mki_len]
                .copy_from_slice(&self.mki[..self.mki_len]);
        } else {
            // header || payload || E+index || MKI || tag; the tag covers up to E+index.
            let f8_iv = if self.rtcp.is_f8() {
                f8_rtcp_iv(&buf[..8], e_index)
            } else {
                [0; 16]
            };
            if e_flag != 0 {
                self.rtcp
                    .stream_xor(ssrc, index as u64, &f8_iv, &mut buf[8..len])?;
            }
            buf[len..len + 4].copy_from_slice(&e_bytes);
            let (packet, tail) = buf.split_at_mut(len + 4);
            tail[..self.mki_len].copy_from_slice(&self.mki[..self.mki_len]);
            self.rtcp
                .hmac(&[packet], &mut tail[self.mki_len..self.mki_len + tag_len]);
        }
        self.rtcp_streams
            .entry(ssrc, RtcpStream::default)
            .next_index = index + 1;
        Ok(out_len)
    }

    /// Authenticates and (if its E flag is set) decrypts the SRTCP packet `buf` in place;
    /// returns the length of the RTCP packet now at the start of `buf`. On error nothing in
    /// the context changed.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        let tag_len = self.profile.rtcp_tag_len();
        let trailer = 4 + tag_len + self.mki_len;
        let ssrc = rtcp_check_header(buf)?;
        if buf.len() < 8 + trailer {
            return Err(SrtpError::TooShort);
        }
        let plain_len = buf.len() - trailer;
        // Where the E+index word and the MKI sit.
        let (e_at, mki_at) = if self.profile.is_aead() {
            (plain_len + GCM_TAG_LEN, plain_len + GCM_TAG_LEN + 4)
        } else {
            (plain_len, plain_len + 4)
        };
        if buf[mki_at..mki_at + self.mki_len] != self.mki[..self.mki_len] {
            return Err(SrtpError::MkiMismatch);
        }
        let e_index = u32::from_be_bytes([buf[e_at], buf[e_at + 1], buf[e_at + 2], buf[e_at + 3]]);
        let encrypted = e_index & 0x8000_0000 != 0;
        let index = e_index & MAX_SRTCP_INDEX;
        let stream = self.rtcp_streams.get(ssrc).copied();
        if let Some(w) = stream.and_then(|s| s.window) {
            w.check(index as u64)?;
        }
        if self.profile.is_aead() {
            let nonce = self.rtcp.gcm_nonce(ssrc, index as u64);
            let mut tag = [0u8; GCM_TAG_LEN];
            if encrypted {
                // header || ciphertext || tag || E+index; AAD = header || E+index.
                tag.copy_from_slice(&buf[plain_len..plain_len + GCM_TAG_LEN]);
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&buf[..8]);
                aad[8..].copy_from_slice(&e_index.to_be_bytes());
                self.rtcp
                    .gcm_open(&nonce, &aad, &mut buf[8..plain_len], &tag)?;
            } else {
                // Unencrypted SRTCP (RFC 7714 section 9.3 case): everything up to and
                // including E+index is AAD, the plaintext is empty. Move E+index in front of
                // the tag so that the AAD is contiguous.
                tag.copy_from_slice(&buf[plain_len..plain_len + GCM_TAG_LEN]);
                let mut aad_tail = [0u8; 4];
                aad_tail.copy_from_slice(&buf[e_at..e_at + 4]);
                buf[plain_len..plain_len + 4].copy_from_slice(&aad_tail);
                let res = self
                    .rtcp
                    .gcm_open(&nonce, &buf[..plain_len + 4], &mut [], &tag);
                // Restore the tag bytes we overwrote, whatever the outcome.
                buf[plain_len..plain_len + GCM_TAG_LEN].copy_from_slice(&tag);
                res?;
            }
        } else {
            let (packet, tail) = buf.split_at_mut(plain_len + 4);
            if !self.rtcp.hmac_verify(&[packet], &tail[self.mki_len..]) {
                return Err(SrtpError::AuthFailed);
            }
            if encrypted {
                let f8_iv = if self.rtcp.is_f8() {
                    f8_rtcp_iv(&packet[..8], e_index)
                } else {
                    [0; 16]
                };
                self.rtcp
                    .stream_xor(ssrc, index as u64, &f8_iv, &mut packet[8..plain_len])?;
            }
        }
        let s = self.rtcp_streams.entry(ssrc, RtcpStream::default);
        match &mut s.window {
            Some(w) => w.commit(index as u64),
            None => s.window = Some(ReplayWindow::starting_at(index as u64)),
        }
        Ok(plain_len)
    }
}
