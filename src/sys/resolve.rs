//! The C library's name services: `getaddrinfo`, `getnameinfo`, the reentrant
//! `gethostbyname_r` / `gethostbyaddr_r`, `getservbyname_r` / `getservbyport_r`,
//! `getprotobyname_r`, and `gethostname`. Each turns C's out-parameters and linked lists into
//! owned Rust values at once, and its error codes into a [`ResolveError`] that keeps the C
//! library's own message. Python's `socket` module calls the same functions, which is what
//! makes its results and netloop's the same (`names` builds Python's calls on these).

use std::ffi::{CStr, CString};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

/// The C library's values of the `getaddrinfo` and `getnameinfo` flags, and of the address
/// families and socket types the look-ups take, for the typed flags of [`crate::names`].
pub mod consts {
    #![allow(missing_docs)]
    pub const AI_PASSIVE: i32 = libc::AI_PASSIVE;
    pub const AI_CANONNAME: i32 = libc::AI_CANONNAME;
    pub const AI_NUMERICHOST: i32 = libc::AI_NUMERICHOST;
    pub const AI_NUMERICSERV: i32 = libc::AI_NUMERICSERV;
    pub const AI_ADDRCONFIG: i32 = libc::AI_ADDRCONFIG;
    pub const AI_V4MAPPED: i32 = libc::AI_V4MAPPED;
    pub const AI_ALL: i32 = libc::AI_ALL;
    pub const NI_NUMERICHOST: i32 = libc::NI_NUMERICHOST;
    pub const NI_NUMERICSERV: i32 = libc::NI_NUMERICSERV;
    pub const NI_NAMEREQD: i32 = libc::NI_NAMEREQD;
    pub const NI_NOFQDN: i32 = libc::NI_NOFQDN;
    pub const NI_DGRAM: i32 = libc::NI_DGRAM;
    pub const AF_INET: i32 = libc::AF_INET;
    pub const SOCK_STREAM: i32 = libc::SOCK_STREAM;
}

/// What kind of failure a name look-up met.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveErrorKind {
    /// The name (or address) is not known (`EAI_NONAME`, `HOST_NOT_FOUND`).
    HostNotFound,
    /// A temporary failure; trying again later may work (`EAI_AGAIN`, `TRY_AGAIN`).
    TryAgain,
    /// The name is known but has no address of the kind asked for (`EAI_NODATA`,
    /// `NO_DATA`).
    NoData,
    /// A failure that will not go away (`EAI_FAIL`, `NO_RECOVERY`).
    NoRecovery,
    /// The service (port name) is not known for the socket type (`EAI_SERVICE`), or a
    /// service or protocol database look-up found nothing.
    NotInDatabase,
    /// The address family is not supported (`EAI_FAMILY`, `EAI_ADDRFAMILY`).
    Family,
    /// Anything else, including a system error (`EAI_SYSTEM`, with errno's message).
    Other,
}

/// A failed name look-up: its kind, the C library's code, and its message (the same text
/// Python shows, e.g. "Name or service not known").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveError {
    /// What kind of failure.
    pub kind: ResolveErrorKind,
    /// The C library's code: an `EAI_*` value (negative) for `getaddrinfo`/`getnameinfo`,
    /// an `h_errno` value for the `gethostby*` calls, 0 for a database miss.
    pub code: i32,
    /// The message.
    pub message: String,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ResolveError {}

impl From<ResolveError> for io::Error {
    fn from(e: ResolveError) -> io::Error {
        let kind = match e.kind {
            ResolveErrorKind::HostNotFound | ResolveErrorKind::NotInDatabase => {
                io::ErrorKind::NotFound
            }
            ResolveErrorKind::Family => io::ErrorKind::Unsupported,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

fn cstr(ptr: *const c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: every pointer given here comes from the C library, which returns
    // NUL-terminated strings that stay valid until the caller's buffer or result is freed,
    // which happens only after this copy.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

fn c_string(s: &str) -> Result<CString, ResolveError> {
    CString::new(s).map_err(|_| ResolveError {
        kind: ResolveErrorKind::HostNotFound,
        code: 0,
        message: "embedded null character".into(),
    })
}

fn gai_error(code: c_int) -> ResolveError {
    let kind = match code {
        libc::EAI_NONAME => ResolveErrorKind::HostNotFound,
        libc::EAI_AGAIN => ResolveErrorKind::TryAgain,
        libc::EAI_NODATA => ResolveErrorKind::NoData,
        libc::EAI_FAIL => ResolveErrorKind::NoRecovery,
        libc::EAI_SERVICE => ResolveErrorKind::NotInDatabase,
        // -9 is glibc's EAI_ADDRFAMILY, which the libc crate does not name.
        libc::EAI_FAMILY | -9 => ResolveErrorKind::Family,
        _ => ResolveErrorKind::Other,
    };
    let message = if code == libc::EAI_SYSTEM {
        io::Error::last_os_error().to_string()
    } else {
        // SAFETY: gai_strerror returns a pointer to a static string for any code.
        cstr(unsafe { libc::gai_strerror(code) })
    };
    ResolveError {
        kind,
        code,
        message,
    }
}

fn h_error(code: c_int) -> ResolveError {
    let kind = match code {
        1 => ResolveErrorKind::HostNotFound,
        2 => ResolveErrorKind::TryAgain,
        3 => ResolveErrorKind::NoRecovery,
        4 => ResolveErrorKind::NoData,
        _ => ResolveErrorKind::Other,
    };
    // SAFETY: hstrerror returns a pointer to a static string for any code.
    let message = cstr(unsafe { libc::hstrerror(code) });
    ResolveError {
        kind,
        code,
        message,
    }
}

/// A system error met on the way (an out-of-memory buffer, say), not an answer.
fn os_error(e: io::Error) -> ResolveError {
    ResolveError {
        kind: ResolveErrorKind::Other,
        code: e.raw_os_error().unwrap_or(0),
        message: e.to_string(),
    }
}

fn not_in_database(message: &str) -> ResolveError {
    ResolveError {
        kind: ResolveErrorKind::NotInDatabase,
        code: 0,
        message: message.into(),
    }
}

/// One result of [`getaddrinfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// `AF_INET` or `AF_INET6`.
    pub family: i32,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`, ...
    pub socktype: i32,
    /// `IPPROTO_TCP`, `IPPROTO_UDP`, ...
    pub protocol: i32,
    /// The canonical name (first result only, with `AI_CANONNAME`), else empty.
    pub canonname: String,
    /// The address and port.
    pub addr: SocketAddr,
}

/// `getaddrinfo(3)`: `host` and `service` (either may be `None`) with the hints `family`
/// (0 for any), `socktype`, `protocol` and `flags` (`AI_*`). Results whose family is not IPv4
/// or IPv6 are skipped.
///
/// # Errors
///
/// The look-up's [`ResolveError`] (an embedded NUL is `HostNotFound`).
pub fn getaddrinfo(
    host: Option<&str>,
    service: Option<&str>,
    family: i32,
    socktype: i32,
    protocol: i32,
    flags: i32,
) -> Result<Vec<AddrInfo>, ResolveError> {
    let host = host.map(c_string).transpose()?;
    let service = service.map(c_string).transpose()?;
    // SAFETY: addrinfo is plain data; all-zero is the documented "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    hints.ai_protocol = protocol;
    hints.ai_flags = flags;
    let mut res: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and outlive the call; hints is initialised;
    // res receives a list we free below with freeaddrinfo.
    let code = unsafe {
        libc::getaddrinfo(
            host.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            service.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
            &hints,
            &mut res,
        )
    };
    if code != 0 {
        return Err(gai_error(code));
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*cur };
        // SAFETY: ai_addr points to ai_addrlen bytes of a sockaddr of family ai_family.
        if let Some(addr) = unsafe { sockaddr_to_std(ai.ai_addr, ai.ai_addrlen) } {
            out.push(AddrInfo {
                family: ai.ai_family,
                socktype: ai.ai_socktype,
                protocol: ai.ai_protocol,
                canonname: cstr(ai.ai_canonname),
                addr,
            });
        }
        cur = ai.ai_next;
    }
    // SAFETY: res is the list getaddrinfo allocated; nothing refers to it any more.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
}

/// Read an IPv4 or IPv6 socket address from C.
///
/// # Safety
///
/// `sa` must be null or point to `len` readable bytes holding a socket address.
pub(crate) unsafe fn sockaddr_to_std(
    sa: *const libc::sockaddr,
    len: libc::socklen_t,
) -> Option<SocketAddr> {
    if sa.is_null() {
        return None;
    }
    let len = len as usize;
    match c_int::from((*sa).sa_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            let a = ptr::read_unaligned(sa.cast::<libc::sockaddr_in>());
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            let a = ptr::read_unaligned(sa.cast::<libc::sockaddr_in6>());
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}

/// `getnameinfo(3)`: the host and service names for `addr`, with `flags` (`NI_*`).
///
/// # Errors
///
/// The look-up's [`ResolveError`].
pub fn getnameinfo(addr: &SocketAddr, flags: i32) -> Result<(String, String), ResolveError> {
    let sa = socket2::SockAddr::from(*addr);
    let mut host = vec![0 as c_char; libc::NI_MAXHOST as usize];
    let mut serv = vec![0 as c_char; 64];
    // SAFETY: sa is a valid socket address of sa.len() bytes; host and serv are writable
    // buffers of the lengths given.
    let code = unsafe {
        libc::getnameinfo(
            sa.as_ptr().cast(),
            sa.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            serv.as_mut_ptr(),
            serv.len() as libc::socklen_t,
            flags,
        )
    };
    if code != 0 {
        return Err(gai_error(code));
    }
    Ok((cstr(host.as_ptr()), cstr(serv.as_ptr())))
}

/// What the `gethostby*` calls return: the official name, the aliases, the addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    /// The official (canonical) name.
    pub name: String,
    /// Other names.
    pub aliases: Vec<String>,
    /// The addresses.
    pub addrs: Vec<IpAddr>,
}

extern "C" {
    fn gethostbyname2_r(
        name: *const c_char,
        af: c_int,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn gethostbyaddr_r(
        addr: *const c_void,
        len: libc::socklen_t,
        af: c_int,
        ret: *mut libc::hostent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::hostent,
        h_errnop: *mut c_int,
    ) -> c_int;
    fn getservbyname_r(
        name: *const c_char,
        proto: *const c_char,
        ret: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservbyport_r(
        port: c_int,
        proto: *const c_char,
        ret: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getprotobyname_r(
        name: *const c_char,
        ret: *mut libc::protoent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::protoent,
    ) -> c_int;
}

/// Call a reentrant `get*_r` function with a buffer that doubles while it answers `ERANGE`
/// (up to 1 MiB), then `read` the result while the buffer is alive.
fn with_buffer<T, R>(
    mut call: impl FnMut(*mut T, *mut c_char, usize, *mut *mut T) -> c_int,
    read: impl FnOnce(Option<&T>) -> R,
) -> io::Result<R> {
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as c_char; size];
        // SAFETY: T is a C struct of pointers and integers, valid when zeroed; it is only
        // an out-parameter.
        let mut ret: T = unsafe { std::mem::zeroed() };
        let mut result: *mut T = ptr::null_mut();
        let rc = call(&mut ret, buf.as_mut_ptr(), size, &mut result);
        if rc == libc::ERANGE && size < 1 << 20 {
            size *= 2;
            continue;
        }
        if rc != 0 && result.is_null() && rc != libc::ENOENT {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let found = if result.is_null() {
            None
        } else {
            // SAFETY: on success result points to `ret`, whose strings live in `buf`; both
            // are alive until `read` returns.
            Some(unsafe { &*result })
        };
        return Ok(read(found));
    }
}

/// The strings of a NULL-terminated C array of strings.
///
/// # Safety
///
/// `list` must be null or a NULL-terminated array of valid C strings.
unsafe fn string_list(list: *mut *mut c_char) -> Vec<String> {
    let mut out = Vec::new();
    if list.is_null() {
        return out;
    }
    let mut i = 0;
    loop {
        let p = *list.add(i);
        if p.is_null() {
            return out;
        }
        out.push(cstr(p));
        i += 1;
    }
}

/// # Safety
///
/// `h` must be a hostent filled by the C library, with its buffer alive.
unsafe fn host_entry(h: &libc::hostent) -> HostEntry {
    let mut addrs = Vec::new();
    if !h.h_addr_list.is_null() {
        let mut i = 0;
        loop {
            let p = *h.h_addr_list.add(i);
            if p.is_null() {
                break;
            }
            match (h.h_addrtype, h.h_length) {
                (libc::AF_INET, 4) => {
                    let mut b = [0u8; 4];
                    ptr::copy_nonoverlapping(p.cast::<u8>(), b.as_mut_ptr(), 4);
                    addrs.push(IpAddr::from(b));
                }
                (libc::AF_INET6, 16) => {
                    let mut b = [0u8; 16];
                    ptr::copy_nonoverlapping(p.cast::<u8>(), b.as_mut_ptr(), 16);
                    addrs.push(IpAddr::from(b));
                }
                _ => {}
            }
            i += 1;
        }
    }
    HostEntry {
        name: cstr(h.h_name),
        aliases: string_list(h.h_aliases),
        addrs,
    }
}

/// `gethostbyname2_r(3)`: the host entry of `name` for the family `af` (`AF_INET` as
/// Python's `gethostbyname_ex`, or `AF_INET6`).
///
/// # Errors
///
/// The look-up's [`ResolveError`] from `h_errno` (`HostNotFound`, `TryAgain`, `NoData`, ...).
pub fn gethostbyname(name: &str, af: i32) -> Result<HostEntry, ResolveError> {
    let cname = c_string(name)?;
    let mut herr: c_int = 0;
    let entry = with_buffer(
        |ret, buf, len, result| {
            // SAFETY: all pointers are valid for the call: a NUL-terminated name, an
            // out-struct, a buffer of `len` bytes, and two out-pointers.
            unsafe { gethostbyname2_r(cname.as_ptr(), af, ret, buf, len, result, &mut herr) }
        },
        // SAFETY: the entry was filled by the C library and its buffer is alive here.
        |h| h.map(|h| unsafe { host_entry(h) }),
    )
    .map_err(os_error)?;
    entry.ok_or_else(|| h_error(herr))
}

/// `gethostbyaddr_r(3)`: the host entry for the address `ip`.
///
/// # Errors
///
/// As for [`gethostbyname`].
pub fn gethostbyaddr(ip: IpAddr) -> Result<HostEntry, ResolveError> {
    let (bytes, af): (Vec<u8>, c_int) = match ip {
        IpAddr::V4(a) => (a.octets().to_vec(), libc::AF_INET),
        IpAddr::V6(a) => (a.octets().to_vec(), libc::AF_INET6),
    };
    let mut herr: c_int = 0;
    let entry = with_buffer(
        |ret, buf, len, result| {
            // SAFETY: `bytes` holds the address of the length given; the rest as above.
            unsafe {
                gethostbyaddr_r(
                    bytes.as_ptr().cast(),
                    bytes.len() as libc::socklen_t,
                    af,
                    ret,
                    buf,
                    len,
                    result,
                    &mut herr,
                )
            }
        },
        // SAFETY: as in gethostbyname.
        |h| h.map(|h| unsafe { host_entry(h) }),
    )
    .map_err(os_error)?;
    entry.ok_or_else(|| h_error(herr))
}

/// `getservbyname_r(3)`: the port of the service `name` for `proto` (`"tcp"`, `"udp"`, or
/// `None` for any).
///
/// # Errors
///
/// `NotInDatabase` ("service/proto not found", Python's words) if there is none.
pub fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16, ResolveError> {
    let cname = c_string(name)?;
    let cproto = proto.map(c_string).transpose()?;
    let port = with_buffer(
        |ret, buf, len, result| {
            // SAFETY: valid NUL-terminated strings (or null), out-struct, buffer, out-pointer.
            unsafe {
                getservbyname_r(
                    cname.as_ptr(),
                    cproto.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                    ret,
                    buf,
                    len,
                    result,
                )
            }
        },
        |s: Option<&libc::servent>| s.map(|s| u16::from_be(s.s_port as u16)),
    )
    .ok()
    .flatten();
    port.ok_or_else(|| not_in_database("service/proto not found"))
}

/// `getservbyport_r(3)`: the name of the service on `port` for `proto` (or any).
///
/// # Errors
///
/// `NotInDatabase` ("port/proto not found") if there is none.
pub fn getservbyport(port: u16, proto: Option<&str>) -> Result<String, ResolveError> {
    let cproto = proto.map(c_string).transpose()?;
    let name = with_buffer(
        |ret, buf, len, result| {
            // SAFETY: as in getservbyname; the port goes in network byte order.
            unsafe {
                getservbyport_r(
                    c_int::from(port.to_be()),
                    cproto.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                    ret,
                    buf,
                    len,
                    result,
                )
            }
        },
        |s: Option<&libc::servent>| s.map(|s| cstr(s.s_name)),
    )
    .ok()
    .flatten();
    name.ok_or_else(|| not_in_database("port/proto not found"))
}

/// `getprotobyname_r(3)`: the number of the protocol `name` (`"icmp"` is 1, `"tcp"` 6).
///
/// # Errors
///
/// `NotInDatabase` ("protocol not found") if there is none.
pub fn getprotobyname(name: &str) -> Result<i32, ResolveError> {
    let cname = c_string(name)?;
    let number = with_buffer(
        |ret, buf, len, result| {
            // SAFETY: as in getservbyname.
            unsafe { getprotobyname_r(cname.as_ptr(), ret, buf, len, result) }
        },
        |p: Option<&libc::protoent>| p.map(|p| p.p_proto),
    )
    .ok()
    .flatten();
    number.ok_or_else(|| not_in_database("protocol not found"))
}

/// `gethostname(2)`.
///
/// # Errors
///
/// Any error of the call.
pub fn gethostname() -> io::Result<String> {
    Ok(nix::unistd::gethostname()?.to_string_lossy().into_owned())
}
