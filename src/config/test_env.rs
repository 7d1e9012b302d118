//! A fake [`ConfigEnv`] for tests: files from a map (or the fixture directory), a fixed set of
//! interface addresses and a fixed host table.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::env::{ConfigEnv, SystemAddress};

pub(crate) struct FakeEnv {
    pub files: HashMap<PathBuf, String>,
    pub default_file: Option<PathBuf>,
    pub ifaces: Vec<SystemAddress>,
    pub hosts: HashMap<String, Vec<IpAddr>>,
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn sys(ifname: &str, addr: &str, up: bool, loopback: bool) -> SystemAddress {
    SystemAddress {
        ifname: ifname.into(),
        address: ip(addr),
        up,
        loopback,
    }
}

/// Path of a fixture file under tests/fixtures/config/.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

impl FakeEnv {
    /// No default config file; lo, eth0 (v4 + v6 + link-local), eth1 (v4), a down eth2;
    /// `localhost` and `media.example.net` resolve.
    pub(crate) fn new() -> FakeEnv {
        FakeEnv {
            files: HashMap::new(),
            default_file: None,
            ifaces: vec![
                sys("lo", "127.0.0.1", true, true),
                sys("lo", "::1", true, true),
                sys("eth0", "192.0.2.10", true, false),
                sys("eth0", "2001:db8::10", true, false),
                sys("eth0", "fe80::1", true, false),
                sys("eth1", "198.51.100.20", true, false),
                sys("eth2", "203.0.113.99", false, false),
            ],
            hosts: HashMap::from([
                ("localhost".to_string(), vec![ip("::1"), ip("127.0.0.1")]),
                (
                    "media.example.net".to_string(),
                    vec![ip("192.0.2.50"), ip("2001:db8::50")],
                ),
                ("v4only.example.net".to_string(), vec![ip("192.0.2.60")]),
            ]),
        }
    }

    pub(crate) fn with_file(mut self, path: &str, text: &str) -> FakeEnv {
        self.files.insert(PathBuf::from(path), text.to_string());
        self
    }

    pub(crate) fn with_default(mut self, path: &str) -> FakeEnv {
        self.default_file = Some(PathBuf::from(path));
        self
    }
}

impl ConfigEnv for FakeEnv {
    fn default_config_file(&self) -> Option<PathBuf> {
        self.default_file.clone()
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        if let Some(text) = self.files.get(path) {
            return Ok(text.clone());
        }
        // Fixtures are real files.
        if path.starts_with(fixture("")) {
            return std::fs::read_to_string(path);
        }
        Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn interface_addresses(&self) -> io::Result<Vec<SystemAddress>> {
        Ok(self.ifaces.clone())
    }

    fn resolve_host(&self, host: &str) -> Vec<IpAddr> {
        if let Ok(ip) = host.parse() {
            return vec![ip];
        }
        self.hosts.get(host).cloned().unwrap_or_default()
    }
}
