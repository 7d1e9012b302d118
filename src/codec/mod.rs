//! Codec model and negotiation. The plain relay passes codecs through unchanged; the
//! negotiation (strip/mask/offer, fmtp-tolerant matching) arrives with its own issue.
