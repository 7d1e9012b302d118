//! SDP: a line-preserving model (unknown lines and their order survive) and the rewriting
//! rtpengine does to it. Pure text in, text out; knows nothing about sockets or calls.
