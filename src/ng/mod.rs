//! The NG control protocol: `<cookie> <bencoded dict>` datagrams from the SIP proxy.
//! Owns the wire format, the request model and command dispatch; never touches media sockets.
