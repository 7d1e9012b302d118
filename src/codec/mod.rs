//! Codec model and negotiation: which codecs an offer sends on, which an answer keeps, and
//! which payload types each party may send (renumbered where the legs number a codec
//! differently). rtpbridge does not transcode: what would need transcoding is refused with an
//! error reason, or, after the answer, noted in a warning.
//!
//! - [`format`]: when two payload formats are the same (encoding, clock rate, channels and
//!   only the `a=fmtp` parameters that select a different bitstream).
//! - [`flags`]: the `codec` options of offer/answer and how codec names select codecs.
//! - [`negotiate`]: [`offer`] and [`answer`] for one RTP media section (pure functions).
//! - [`payload`]: [`PayloadTypes`], the per-leg allowed-payload-type bitmap and renumbering
//!   table the media worker applies to every RTP packet.
//!
//! The SDP text is not written here: the call layer hands the codec lists to
//! [`crate::sdp::rewrite`] through `MediaRewrite::codecs`. Packets are not touched here: the
//! media worker applies [`PayloadTypes`].

pub mod flags;
pub mod format;
pub mod negotiate;
pub mod payload;

pub use flags::CodecFlags;
pub use negotiate::{answer, offer, AnswerPlan, CodecError, MediaCodecs, OfferPlan, SideCodecs};
pub use payload::PayloadTypes;
