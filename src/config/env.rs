//! Everything the config parser needs from the system, behind a trait so the parser itself stays
//! pure and tests can substitute a fake: reading the config file, listing the addresses of the
//! network interfaces (for rtpengine's `-i any` and `-i NAME/eth0`), and resolving host names
//! (for `--listen-ng=localhost:2223` as in rtpengine's sample config).

use std::io::{self, Read};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use super::ini::MAX_FILE_BYTES;

/// Where rtpbridge looks for its config file when `--config-file` is not given. Not rtpengine's
/// path: on a host where rtpengine is still installed beside rtpbridge, its file (which usually
/// says `interface = any`) must not silently change rtpbridge's loopback-only defaults. An
/// operator swapping binaries passes `--config-file=/etc/rtpengine/rtpengine.conf` explicitly.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/rtpbridge/rtpbridge.conf";

/// One address configured on a system network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemAddress {
    /// System interface name, e.g. `eth0`.
    pub ifname: String,
    pub address: IpAddr,
    /// The interface is up.
    pub up: bool,
    /// The interface is a loopback device.
    pub loopback: bool,
}

/// System access used while building a [`super::Config`].
pub trait ConfigEnv {
    /// The config file read when none is named on the command line.
    fn default_config_file(&self) -> Option<PathBuf> {
        Some(PathBuf::from(DEFAULT_CONFIG_FILE))
    }
    /// Read a whole file as text. `ErrorKind::NotFound` means the file does not exist.
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// All addresses of all network interfaces.
    fn interface_addresses(&self) -> io::Result<Vec<SystemAddress>>;
    /// Resolve a host name to its addresses, in resolver order (empty if it does not resolve).
    fn resolve_host(&self, host: &str) -> Vec<IpAddr>;
}

/// The real system.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemEnv;

impl ConfigEnv for SystemEnv {
    fn read_file(&self, path: &Path) -> io::Result<String> {
        let file = std::fs::File::open(path)?;
        let mut text = String::new();
        file.take(MAX_FILE_BYTES as u64 + 1)
            .read_to_string(&mut text)?;
        if text.len() > MAX_FILE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file is larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        Ok(text)
    }

    fn interface_addresses(&self) -> io::Result<Vec<SystemAddress>> {
        system_interface_addresses()
    }

    fn resolve_host(&self, host: &str) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        if let Ok(addrs) = (host, 0u16).to_socket_addrs() {
            for a in addrs {
                if !out.contains(&a.ip()) {
                    out.push(a.ip());
                }
            }
        }
        out
    }
}

#[cfg(unix)]
fn system_interface_addresses() -> io::Result<Vec<SystemAddress>> {
    use std::ffi::CStr;
    use std::net::{Ipv4Addr, Ipv6Addr};

    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a pointer to a list it allocates into `head`; we free it below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list returned by getifaddrs, valid until
        // freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifname = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null and points to a sockaddr whose family field is valid.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        let address = if family == libc::AF_INET {
            // SAFETY: the family says this is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        } else if family == libc::AF_INET6 {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
            if sin6.sin6_scope_id != 0 {
                // Link-local (scoped) addresses are skipped, as rtpengine does.
                continue;
            }
            IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
        } else {
            continue;
        };
        let flags = ifa.ifa_flags;
        out.push(SystemAddress {
            ifname,
            address,
            up: flags & (libc::IFF_UP as libc::c_uint) != 0,
            loopback: flags & (libc::IFF_LOOPBACK as libc::c_uint) != 0,
        });
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

#[cfg(not(unix))]
fn system_interface_addresses() -> io::Result<Vec<SystemAddress>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "listing network interfaces is only supported on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_env_reads_files_and_reports_missing_ones() {
        let env = SystemEnv;
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/basic.conf");
        assert!(env.read_file(&path).unwrap().contains("[rtpengine]"));
        let missing = env
            .read_file(Path::new("/nonexistent/rtpbridge/x.conf"))
            .unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn system_env_lists_loopback() {
        // Every Linux box has an up loopback interface with 127.0.0.1.
        let addrs = SystemEnv.interface_addresses().unwrap();
        assert!(addrs
            .iter()
            .any(|a| a.loopback && a.up && a.address == IpAddr::from([127, 0, 0, 1])));
    }

    #[test]
    fn system_env_resolves_literal_addresses() {
        assert_eq!(
            SystemEnv.resolve_host("192.0.2.7"),
            vec![IpAddr::from([192, 0, 2, 7])]
        );
    }
}
