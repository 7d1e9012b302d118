//! A pcap file that is valid after every batch: packets are encoded (with `pcap-file`) into a
//! memory buffer and appended with one write; a write that fails half-way (disk full) is cut
//! back to the last complete batch, so a reader never sees a torn record.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness};

use super::packet::{build_frame, Format};

/// Snapshot length of the files, as rtpengine writes them; longer frames are cut.
pub const SNAPLEN: u32 = 65535;
const GLOBAL_HEADER_LEN: usize = 24;

/// Where a pcap file's bytes go: appended, and cut back after a failed write.
pub trait Sink {
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// A `File` opened in append mode.
impl Sink for File {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

/// The memory buffer `PcapWriter` encodes into; we keep a second handle to drain it.
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a batch did not reach the file.
#[derive(Debug, thiserror::Error)]
#[error("writing {lost} packets failed: {source}")]
pub struct CommitError {
    pub lost: usize,
    #[source]
    pub source: io::Error,
}

pub struct PcapFile<S: Sink> {
    sink: S,
    format: Format,
    writer: PcapWriter<Shared>,
    buf: Shared,
    /// Bytes of the file known to be complete.
    committed: u64,
    /// The file holds the global header (else the buffer starts with it).
    header_written: bool,
    pending: usize,
    frame: Vec<u8>,
}

impl<S: Sink> PcapFile<S> {
    /// A new file; the global header goes out with the first [`PcapFile::commit`].
    pub fn new(sink: S, format: Format) -> PcapFile<S> {
        let buf = Shared::default();
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: match format {
                Format::Raw => DataLink::RAW,
                Format::Eth => DataLink::ETHERNET,
            },
            endianness: Endianness::native(),
            ..PcapHeader::default()
        };
        // Writing into memory cannot fail.
        let writer = match PcapWriter::with_header(buf.clone(), header) {
            Ok(w) => w,
            Err(_) => unreachable!("in-memory pcap header"),
        };
        PcapFile {
            sink,
            format,
            writer,
            buf,
            committed: 0,
            header_written: false,
            pending: 0,
            frame: Vec::with_capacity(2048),
        }
    }

    /// Queues one datagram from `src` to `dst` captured at `ts` (since the Unix epoch).
    /// False (nothing queued) when no frame can be built for it.
    pub fn push(&mut self, ts: Duration, src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> bool {
        if build_frame(&mut self.frame, self.format, src, dst, payload).is_none() {
            return false;
        }
        let orig = self.frame.len() as u32;
        let cut = self.frame.len().min(SNAPLEN as usize);
        let pkt = PcapPacket::new(ts, orig, &self.frame[..cut]);
        if self.writer.write_packet(&pkt).is_err() {
            return false;
        }
        self.pending += 1;
        true
    }

    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Appends everything queued since the last commit with one write. Returns the number of
    /// packets written; on failure the file is cut back to its last complete batch and the
    /// queued packets are dropped.
    pub fn commit(&mut self) -> Result<usize, CommitError> {
        let n = self.pending;
        self.pending = 0;
        let mut buf = self.buf.0.borrow_mut();
        if buf.is_empty() {
            return Ok(0);
        }
        match self.sink.append(&buf) {
            Ok(()) => {
                self.committed += buf.len() as u64;
                self.header_written = true;
                buf.clear();
                Ok(n)
            }
            Err(source) => {
                // A partial write may have reached the file: cut it back. If even that fails,
                // the next successful write goes after the torn bytes; nothing better to do.
                let _ = self.sink.truncate(self.committed);
                if self.header_written {
                    buf.clear();
                } else {
                    buf.truncate(GLOBAL_HEADER_LEN);
                }
                Err(CommitError { lost: n, source })
            }
        }
    }

    /// Bytes of the file known to be complete.
    pub fn committed_len(&self) -> u64 {
        self.committed
    }

    #[cfg(test)]
    pub(crate) fn sink(&self) -> &S {
        &self.sink
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pcap_file::pcap::PcapReader;

    /// A sink with room for `room` bytes; a write that does not fit writes what fits
    /// (like a filling disk) and then fails with ENOSPC.
    pub struct SmallDisk {
        pub data: Vec<u8>,
        pub room: usize,
    }

    impl Sink for SmallDisk {
        fn append(&mut self, data: &[u8]) -> io::Result<()> {
            let fit = data.len().min(self.room.saturating_sub(self.data.len()));
            self.data.extend_from_slice(&data[..fit]);
            if fit < data.len() {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            Ok(())
        }

        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.data.truncate(len as usize);
            Ok(())
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn read_all(data: &[u8]) -> (PcapHeader, Vec<(Duration, Vec<u8>)>) {
        let mut r = PcapReader::new(data).expect("valid pcap header");
        let h = r.header();
        let mut v = Vec::new();
        while let Some(p) = r.next_packet() {
            let p = p.expect("complete record");
            v.push((p.timestamp, p.data.into_owned()));
        }
        (h, v)
    }

    #[test]
    fn round_trip_batches() {
        let mut f = PcapFile::new(
            SmallDisk {
                data: Vec::new(),
                room: usize::MAX,
            },
            Format::Raw,
        );
        assert_eq!(f.commit().unwrap(), 0);
        assert_eq!(f.sink().data.len(), 24, "an empty file is a valid pcap");
        for i in 0..3u8 {
            assert!(f.push(
                Duration::new(1_700_000_000, 1_000 * u32::from(i)),
                sa("192.0.2.1:6000"),
                sa("192.0.2.9:30000"),
                &[0x80, i],
            ));
        }
        assert_eq!(f.commit().unwrap(), 3);
        assert!(f.push(
            Duration::new(1_700_000_001, 0),
            sa("192.0.2.2:6000"),
            sa("192.0.2.9:30002"),
            &[0x80, 9]
        ));
        assert_eq!(f.commit().unwrap(), 1);
        let (h, pkts) = read_all(&f.sink().data);
        assert_eq!(h.datalink, DataLink::RAW);
        assert_eq!(h.snaplen, 65535);
        assert_eq!(pkts.len(), 4);
        assert_eq!(pkts[1].0, Duration::new(1_700_000_000, 1_000));
        assert_eq!(&pkts[3].1[28..], &[0x80, 9]);
    }

    #[test]
    fn failed_batch_is_cut_back_and_file_stays_valid() {
        // Room for the header, one batch of two packets, and half of the next batch.
        let one = 16 + 20 + 8 + 100;
        let mut f = PcapFile::new(
            SmallDisk {
                data: Vec::new(),
                room: 24 + 2 * one + one / 2,
            },
            Format::Raw,
        );
        let payload = [0x80u8; 100];
        let push = |f: &mut PcapFile<SmallDisk>| {
            f.push(
                Duration::from_secs(1),
                sa("192.0.2.1:1"),
                sa("192.0.2.2:2"),
                &payload,
            )
        };
        push(&mut f);
        push(&mut f);
        assert_eq!(f.commit().unwrap(), 2);
        push(&mut f);
        push(&mut f);
        let e = f.commit().unwrap_err();
        assert_eq!(e.lost, 2);
        assert_eq!(e.source.raw_os_error(), Some(libc::ENOSPC));
        assert_eq!(f.sink().data.len() as u64, f.committed_len());
        let (_, pkts) = read_all(&f.sink().data);
        assert_eq!(pkts.len(), 2);
        // Space comes back: later batches append cleanly.
        f.sink.room = usize::MAX;
        push(&mut f);
        assert_eq!(f.commit().unwrap(), 1);
        let (_, pkts) = read_all(&f.sink().data);
        assert_eq!(pkts.len(), 3);
    }

    #[test]
    fn header_is_retried_when_the_first_write_fails() {
        let mut f = PcapFile::new(
            SmallDisk {
                data: Vec::new(),
                room: 10,
            },
            Format::Eth,
        );
        assert!(f.commit().is_err());
        assert!(f.sink().data.is_empty());
        f.sink.room = usize::MAX;
        f.push(
            Duration::from_secs(2),
            sa("[::1]:1"),
            sa("[::1]:2"),
            b"\x80\x00",
        );
        assert_eq!(f.commit().unwrap(), 1);
        let (h, pkts) = read_all(&f.sink().data);
        assert_eq!(h.datalink, DataLink::ETHERNET);
        assert_eq!(pkts.len(), 1);
        assert_eq!(&pkts[0].1[12..14], &[0x86, 0xdd]);
    }
}
