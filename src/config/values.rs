//! Parsers for option values: command line integers, listen addresses, interface specs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::env::ConfigEnv;
use super::Interface;

/// An integer given on the command line, read like C's `strtol(s, _, 0)` as glib does: optional
/// sign, then `0x` hex, a leading `0` for octal, or decimal; nothing may follow.
pub(crate) fn parse_cli_int(raw: &str) -> Option<i64> {
    let s = raw.trim_start();
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, h)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

/// A floating point value.
pub(crate) fn parse_double(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok()
}

/// A port number for a listener: 1 to 65535.
fn parse_port(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("'{s}' is not a port number"));
    }
    match s.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        _ => Err(format!("port {s} is out of range 1-65535")),
    }
}

/// An address literal, IPv6 optionally in brackets.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    inner.parse().ok()
}

/// Resolve a host name, IPv4 addresses first (rtpengine binds the first two results; putting
/// IPv4 first makes `localhost` mean 127.0.0.1 for the primary socket).
fn resolve(env: &dyn ConfigEnv, host: &str) -> Vec<IpAddr> {
    let mut addrs = env.resolve_host(host);
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs
}

/// A control listener, `[ADDR:]PORT`, `HOST:PORT` or `[V6]:PORT`. Returns the primary socket
/// address and the second one rtpengine also binds:
/// - `PORT` alone: `0.0.0.0:PORT` plus `[::]:PORT` (all addresses of both families, as rtpengine;
///   the second socket must be bound IPv6-only).
/// - an address literal: just that address.
/// - a host name: its first address, plus its second one if it has one.
pub(crate) fn parse_listen(
    raw: &str,
    env: &dyn ConfigEnv,
) -> Result<(SocketAddr, Option<SocketAddr>), String> {
    let s = raw.trim();
    let Some((host, port)) = s.rsplit_once(':') else {
        if s.contains('.') {
            return Err("an address needs a port (ADDR:PORT)".into());
        }
        let port = parse_port(s)?;
        return Ok((
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port)),
        ));
    };
    let port = parse_port(port)?;
    if host.is_empty() {
        return Err("empty address before ':'".into());
    }
    if let Some(ip) = parse_ip(host) {
        return Ok((SocketAddr::new(ip, port), None));
    }
    let addrs = resolve(env, host);
    match addrs.as_slice() {
        [] => Err(format!(
            "'{host}' is neither an IP address nor a resolvable host name"
        )),
        [one] => Ok((SocketAddr::new(*one, port), None)),
        [first, second, ..] => Ok((
            SocketAddr::new(*first, port),
            Some(SocketAddr::new(*second, port)),
        )),
    }
}

/// One `--interface` value: `[NAME/]ADDR[!ADVERTISED]`. `ADDR` is an IPv4/IPv6 literal, `any`
/// (every address of every up, non-loopback interface), a system interface name (`eth0`: all its
/// addresses), or a host name (all its addresses). `ADVERTISED` is a literal or a host name.
/// Unspecified addresses (`0.0.0.0`, `::`) are refused, as rtpengine does.
pub(crate) fn parse_interface(raw: &str, env: &dyn ConfigEnv) -> Result<Vec<Interface>, String> {
    let s = raw.trim();
    let (name, rest) = match s.split_once('/') {
        Some((n, r)) => (n, r),
        None => ("default", s),
    };
    if name.is_empty() {
        return Err("empty logical interface name before '/'".into());
    }
    let (addr_s, adv_s) = match rest.split_once('!') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    if addr_s.is_empty() {
        return Err("missing address".into());
    }

    let addresses: Vec<IpAddr> = if let Some(ip) = parse_ip(addr_s) {
        if ip.is_unspecified() {
            return Err(format!("{ip} is not usable as a media address"));
        }
        vec![ip]
    } else {
        let from_ifaces: Vec<IpAddr> = match env.interface_addresses() {
            Ok(list) => list
                .into_iter()
                .filter(|a| a.up)
                .filter(|a| {
                    if addr_s == "any" {
                        !a.loopback
                    } else {
                        a.ifname == addr_s
                    }
                })
                .map(|a| a.address)
                .filter(|a| !is_link_local_v6(a))
                .collect(),
            Err(_) => Vec::new(),
        };
        if !from_ifaces.is_empty() {
            from_ifaces
        } else if addr_s == "any" {
            return Err("'any' found no address on any up, non-loopback interface".into());
        } else {
            let resolved = resolve(env, addr_s);
            if resolved.is_empty() {
                return Err(format!(
                    "'{addr_s}' is not an IP address, a network interface or a resolvable host name"
                ));
            }
            resolved
        }
    };

    let advertised = match adv_s {
        None => None,
        Some("") => return Err("missing advertised address after '!'".into()),
        Some(a) => {
            let ip = match parse_ip(a) {
                Some(ip) => ip,
                None => *resolve(env, a).first().ok_or_else(|| {
                    format!("advertised address '{a}' is neither an IP address nor a resolvable host name")
                })?,
            };
            if ip.is_unspecified() {
                return Err(format!("{ip} is not usable as an advertised address"));
            }
            Some(ip)
        }
    };

    Ok(addresses
        .into_iter()
        .map(|address| Interface {
            name: name.to_string(),
            address,
            advertised,
        })
        .collect())
}

fn is_link_local_v6(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_int_like_strtol_base_0() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("7", Some(7)),
            ("-1", Some(-1)),
            ("+5", Some(5)),
            ("0x1F", Some(31)),
            ("0X10", Some(16)),
            ("-0x10", Some(-16)),
            ("010", Some(8)),
            ("09", None),
            ("", None),
            ("-", None),
            ("0x", None),
            ("12 ", None),
            ("1.5", None),
            ("abc", None),
            ("99999999999999999999", None),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_cli_int(raw), *want, "{raw:?}");
        }
    }

    #[test]
    fn doubles() {
        assert_eq!(parse_double("1"), Some(1.0));
        assert_eq!(parse_double("0.05"), Some(0.05));
        assert_eq!(parse_double(" 1e2 "), Some(100.0));
        assert_eq!(parse_double("x"), None);
        assert_eq!(parse_double(""), None);
    }

    #[test]
    fn link_local_detection() {
        assert!(is_link_local_v6(&"fe80::1".parse().unwrap()));
        assert!(is_link_local_v6(&"febf::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"2001:db8::1".parse().unwrap()));
        assert!(!is_link_local_v6(&"192.0.2.1".parse().unwrap()));
    }
}
