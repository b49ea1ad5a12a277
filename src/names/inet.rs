//! Byte order and address text, as Python's `socket` module does them: `htonl` and friends,
//! `inet_aton` with every form the C library accepts, `inet_ntoa`, `inet_pton`, `inet_ntop`.
//! Pure functions, no I/O.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::addr::Family;

/// Host to network byte order, 32 bits (`htonl`): the bytes swapped on little-endian hosts.
pub fn htonl(x: u32) -> u32 {
    x.to_be()
}

/// Host to network byte order, 16 bits (`htons`).
pub fn htons(x: u16) -> u16 {
    x.to_be()
}

/// Network to host byte order, 32 bits (`ntohl`).
pub fn ntohl(x: u32) -> u32 {
    u32::from_be(x)
}

/// Network to host byte order, 16 bits (`ntohs`).
pub fn ntohs(x: u16) -> u16 {
    u16::from_be(x)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

/// One number of an `inet_aton` address as C's `strtoul(s, &end, 0)` reads it: `0x` then hex
/// digits, `0` then octal digits, else decimal. Returns the value (`None` past 32 bits) and
/// the bytes used; `s` starts with a decimal digit.
fn c_number(s: &[u8]) -> (Option<u64>, usize) {
    let (base, start) = match s {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let mut value: Option<u64> = Some(0);
    let mut i = start;
    while let Some(&c) = s.get(i) {
        let digit = match (c as char).to_digit(base) {
            Some(d) => u64::from(d),
            None => break,
        };
        value = value
            .and_then(|v| v.checked_mul(u64::from(base)))
            .and_then(|v| v.checked_add(digit))
            .filter(|v| *v <= u64::from(u32::MAX));
        i += 1;
    }
    (value, i)
}

/// Parse an IPv4 address the way the C library's `inet_aton` (and so Python's) does:
/// one to four parts separated by dots, each decimal, octal (`0177`) or hex (`0x7f`); with
/// fewer than four parts the last one fills the remaining bytes (`127.1` is 127.0.0.1, `1`
/// is 0.0.0.1); anything after a whitespace character is ignored (`"1.2.3.4 junk"`), as C
/// does. Returns the four bytes in network order.
///
/// # Errors
///
/// `InvalidInput`, "illegal IP address string passed to inet_aton", as Python says.
pub fn inet_aton(s: &str) -> io::Result<[u8; 4]> {
    let err = || invalid("illegal IP address string passed to inet_aton");
    let b = s.as_bytes();
    let mut parts: Vec<u64> = Vec::with_capacity(4);
    let mut i = 0;
    let last = loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(err());
        }
        let (value, used) = c_number(&b[i..]);
        let value = value.ok_or_else(err)?;
        i += used;
        if b.get(i) == Some(&b'.') {
            if parts.len() == 3 || value > 0xff {
                return Err(err());
            }
            parts.push(value);
            i += 1;
        } else {
            break value;
        }
    };
    // Trailing characters: only whitespace may end the address early.
    if let Some(&c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            return Err(err());
        }
    }
    let max = [0xffff_ffff, 0xff_ffff, 0xffff, 0xff][parts.len()];
    if last > max {
        return Err(err());
    }
    let mut word = last as u32;
    for (k, p) in parts.iter().enumerate() {
        word |= (*p as u32) << (24 - 8 * k);
    }
    Ok(word.to_be_bytes())
}

/// The dotted-quad text of four bytes in network order (`inet_ntoa`).
pub fn inet_ntoa(packed: [u8; 4]) -> String {
    Ipv4Addr::from(packed).to_string()
}

/// Parse an address of `family` (`Inet`: strict dotted quad; `Inet6`: any RFC 4291 form,
/// including an embedded IPv4 tail) into its bytes in network order (`inet_pton`).
///
/// # Errors
///
/// `InvalidInput`: "illegal IP address string passed to inet_pton"; `Unsupported` for a
/// family other than the two.
pub fn inet_pton(family: Family, s: &str) -> io::Result<Vec<u8>> {
    let err = || invalid("illegal IP address string passed to inet_pton");
    match family {
        Family::Inet => pton4(s).map(|a| a.to_vec()).ok_or_else(err),
        Family::Inet6 => s
            .parse::<Ipv6Addr>()
            .map(|a| a.octets().to_vec())
            .map_err(|_| err()),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "unknown address family",
        )),
    }
}

/// glibc's `inet_pton4`: exactly four decimal parts of at most 255, no leading zeros.
fn pton4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4 || part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        if part.len() > 1 && part.starts_with('0') {
            return None;
        }
        out[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then_some(out)
}

/// The text of an address of `family` given as bytes in network order (`inet_ntop`), as the
/// C library writes it: IPv6 with the longest run of zero groups (two or more) shown as `::`,
/// lower-case hex, and an IPv4 tail for IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible
/// (`::1.2.3.4`) addresses.
///
/// # Errors
///
/// `InvalidInput` for bytes of the wrong length ("invalid length of packed IP address
/// string"); `Unsupported` for another family.
pub fn inet_ntop(family: Family, packed: &[u8]) -> io::Result<String> {
    let err = || invalid("invalid length of packed IP address string");
    match family {
        Family::Inet => {
            let b: [u8; 4] = packed.try_into().map_err(|_| err())?;
            Ok(Ipv4Addr::from(b).to_string())
        }
        Family::Inet6 => {
            let b: [u8; 16] = packed.try_into().map_err(|_| err())?;
            let a = Ipv6Addr::from(b);
            let w = a.segments();
            // The C library shows an IPv4-compatible address (the first 96 bits zero, the
            // next group not) with a dotted tail; Rust's Display does not.
            if w[..6] == [0; 6] && w[6] != 0 {
                return Ok(format!("::{}.{}.{}.{}", b[12], b[13], b[14], b[15]));
            }
            Ok(a.to_string())
        }
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "unknown address family",
        )),
    }
}
