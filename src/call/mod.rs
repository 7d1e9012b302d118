//! The call registry and the offer/answer model: calls, monologues (one per tag), medias.
