//! Call recording to PCAP. The core stores the `record-call` request on the call; writing
//! arrives with the recording issue.
