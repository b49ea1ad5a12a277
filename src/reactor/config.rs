//! [`Config`]: a reactor's settings, checked once when the reactor is made.

use std::io;
use std::time::Duration;

use crate::conn::Timeouts;
use crate::sys::ListenOptions;

/// Reactor settings. `Config::default()` suits a general-purpose server.
///
/// The type will grow, so it is `#[non_exhaustive]`: start from `Config::default()` and set
/// what you need, with the chainable setters (one per field, of the same name) or by
/// assigning fields.
///
/// # Examples
///
/// ```
/// use netloop::reactor::Config;
/// use std::time::Duration;
///
/// let config = Config::default()
///     .linger(Duration::from_secs(1))
///     .max_connections(Some(10_000));
/// assert_eq!(config.linger, Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Timeouts every new connection starts with (Python's `setdefaulttimeout`). Default: no
    /// read, write or idle timeout (as Python's default: a connection may wait for its peer
    /// for ever), but 30 s for a message to arrive whole once its first byte has
    /// ([`Timeouts::frame`]: a peer trickling bytes cannot hold a buffer for ever), 30 s for
    /// an outgoing connect ([`Timeouts::connect`]) and 10 s for a TLS handshake
    /// ([`Timeouts::handshake`], Netty's default: a peer that opens a TLS connection and
    /// says nothing holds a session's memory for no longer).
    pub timeouts: Timeouts,
    /// Events fetched per poll, and the initial slab capacity. Default 1024.
    pub events_capacity: usize,
    /// Bytes read from one connection per event before the others get a turn. Default 256 KiB.
    pub read_budget: usize,
    /// Connections accepted per listener event before the others get a turn. Default 128.
    pub accept_batch: usize,
    /// Datagrams received per socket per event. Default 64.
    pub dgram_budget: usize,
    /// Size of a pooled read block, the usual size of one read. Default 16 KiB.
    pub read_buffer_size: usize,
    /// Size of a pooled write block. Default 16 KiB.
    pub write_buffer_size: usize,
    /// Most unconsumed input one connection may hold; past it the connection is closed with a
    /// [`ReadBufferFull`](crate::error::ReadBufferFull) protocol error. A framed connection
    /// needs room for one whole frame: this must be at least the codec's
    /// [`max_frame`](crate::framing::Codec::max_frame). Default 8 MiB, the default codec's
    /// maximum. (The buffer grows to this only while a message that large is arriving.)
    pub max_read_buffer: usize,
    /// Most input memory the reactor's connections may hold together, beyond one read block
    /// each (see `conn::Budget`): past it, a connection that needs more (a large message
    /// arriving) stops reading until the budget frees up, so its bytes wait in the kernel
    /// and TCP pushes back on its sender; nothing is dropped or closed for it. A message
    /// whose size the handler announces ([`Context::expect_input`](super::Context::expect_input),
    /// which framed connections do) is admitted whole, so it can always complete. At least
    /// `max_read_buffer`. Default 64 MiB.
    pub max_buffered: usize,
    /// Queued output at which reading from a connection stops. Default 1 MiB.
    pub high_watermark: usize,
    /// Most output one connection may have queued: a write that would pass it fails with
    /// `WouldBlock` ([`QueueFull`](crate::error::QueueFull)) and queues nothing. The
    /// watermarks bound what a peer's own requests make it queue; this bounds what a handler
    /// writes to a peer that does not read (a relay, a broadcast). Must hold the largest reply
    /// (an echoed frame: `max_read_buffer` plus its header). Default 32 MiB.
    pub max_queued: usize,
    /// Queued output below which reading resumes. Default 256 KiB.
    pub low_watermark: usize,
    /// Idle blocks the buffer pool keeps, per kind. Default 1024.
    pub max_pooled_buffers: usize,
    /// Set `TCP_NODELAY` on every connection. Default true: a reactor batches its own writes.
    pub nodelay: bool,
    /// How long a listener pauses after `accept` fails for lack of descriptors or memory.
    /// Default 100 ms.
    pub accept_backoff: Duration,
    /// Most bytes of datagrams queued per UDP socket while the kernel buffer is full.
    /// Default 1 MiB.
    pub max_dgram_queue: usize,
    /// Options for [`Context::listen`](super::Context::listen) and [`Reactor::listen`](super::Reactor::listen).
    pub listen: ListenOptions,
    /// How long a gracefully closed connection waits for the peer's end of file, reading and
    /// discarding its input, before the socket is closed (see [`Context::close`](super::Context::close)). Closing
    /// with unread input would make the kernel reset the connection and could destroy
    /// replies still in flight. Zero closes at once. Default 2 s.
    pub linger: Duration,
    /// Most connections open at once (accepted plus connected); `None`: no limit (the
    /// descriptor limit still applies). A connection accepted past the limit is closed at
    /// once, which the client sees as an immediate end of file, and counted in
    /// [`Stats::rejected`](super::Stats::rejected). Accepting and closing, rather than leaving connections in the
    /// kernel's backlog, tells clients at once instead of letting them time out, and keeps
    /// the listener's readiness from firing again and again for connections never taken.
    pub max_connections: Option<usize>,
    /// Catch a panic in a handler callback: log it, count it, and close the connection the
    /// callback was about with [`CloseReason::Panicked`](crate::CloseReason::Panicked), so that the reactor keeps serving
    /// the others. Default true. Turn it off to let panics unwind out of [`Reactor::turn`](super::Reactor::turn)
    /// (with `panic = "abort"` they abort regardless).
    pub catch_panics: bool,
    /// Busy-poll: [`Reactor::run`](super::Reactor::run) never sleeps in `epoll_wait`; each
    /// turn polls without waiting and goes straight on. The lowest latency (no wake-up from
    /// sleep on each event), at the cost of a whole core at 100% while idle. Default false.
    /// A program with its own loop gets the same by calling
    /// [`turn`](super::Reactor::turn)`(Some(Duration::ZERO))` as often as it likes.
    pub busy_poll: bool,
    /// IP datagram sockets take many datagrams per system call (`recvmmsg`) and send the
    /// replies made meanwhile with one `sendmmsg` (see [`Context::send_to`](super::Context::send_to)).
    /// Default false: where it was measured (a Linux 6.18 VM, 2 CPUs: the echo bench's U1,
    /// `netloop-batch`) it saved little or no CPU per datagram while changing when replies
    /// leave; it does raise a client's throughput (`netloop load` turns it on: +40%
    /// datagrams per second). Measure it on the kernel you deploy on.
    pub udp_batching: bool,
    /// With [`udp_batching`](Config::udp_batching), UDP sockets also use the kernel's UDP
    /// offload where it offers it: a run of replies of one size to one destination goes as
    /// one message that the kernel cuts into datagrams (`UDP_SEGMENT`, "GSO"), and a run of
    /// datagrams from one sender arrives glued in one receive (`UDP_GRO`), cut apart again
    /// here: the handler still sees one [`on_datagram`](super::Handler::on_datagram) per
    /// datagram. Where the kernel (or the device) lacks either, the socket goes without,
    /// silently. Default true (it does nothing without `udp_batching`).
    pub udp_offload: bool,
    /// Threads for blocking work ([`Context::submit`](super::Context::submit)), made on the
    /// first submit. Default 2. Zero runs each job on the reactor thread itself, where a turn
    /// delivers results: in the same turn for a job submitted while its events are served,
    /// else in the next (blocking the loop meanwhile).
    pub workers: usize,
    /// Most submitted jobs waiting to start; one more is refused with `WouldBlock`. Default
    /// 1024.
    pub work_queue: usize,
    /// How long a connection by name ([`Context::connect_host`](super::Context::connect_host))
    /// waits for an attempt to answer before it starts the next address beside it (Happy
    /// Eyeballs' "connection attempt delay", RFC 8305 section 5). Default 250 ms, the RFC's
    /// recommendation.
    pub connect_attempt_delay: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            timeouts: Timeouts {
                frame: Some(Duration::from_secs(30)),
                connect: Some(Duration::from_secs(30)),
                handshake: Some(Duration::from_secs(10)),
                ..Timeouts::NONE
            },
            events_capacity: 1024,
            read_budget: 256 * 1024,
            accept_batch: 128,
            dgram_budget: 64,
            read_buffer_size: 16 * 1024,
            write_buffer_size: 16 * 1024,
            max_read_buffer: crate::framing::DEFAULT_MAX_FRAME,
            max_buffered: 64 * 1024 * 1024,
            high_watermark: 1024 * 1024,
            max_queued: 32 * 1024 * 1024,
            low_watermark: 256 * 1024,
            max_pooled_buffers: 1024,
            nodelay: true,
            accept_backoff: Duration::from_millis(100),
            max_dgram_queue: 1024 * 1024,
            listen: ListenOptions::default(),
            catch_panics: true,
            max_connections: None,
            linger: Duration::from_secs(2),
            busy_poll: false,
            udp_batching: false,
            udp_offload: true,
            workers: 2,
            work_queue: 1024,
            connect_attempt_delay: Duration::from_millis(250),
        }
    }
}

/// One chainable setter per field, each documented as "set [`Config::field`]".
macro_rules! setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        impl Config {
            $(
                #[doc = concat!("Set [`Config::", stringify!($field), "`].")]
                #[must_use]
                pub fn $field(mut self, value: $ty) -> Config {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

setters!(
    timeouts: Timeouts,
    events_capacity: usize,
    read_budget: usize,
    accept_batch: usize,
    dgram_budget: usize,
    read_buffer_size: usize,
    write_buffer_size: usize,
    max_read_buffer: usize,
    max_buffered: usize,
    high_watermark: usize,
    max_queued: usize,
    low_watermark: usize,
    max_pooled_buffers: usize,
    nodelay: bool,
    accept_backoff: Duration,
    max_dgram_queue: usize,
    listen: ListenOptions,
    linger: Duration,
    max_connections: Option<usize>,
    catch_panics: bool,
    busy_poll: bool,
    udp_batching: bool,
    udp_offload: bool,
    workers: usize,
    work_queue: usize,
    connect_attempt_delay: Duration,
);

impl Config {
    pub(crate) fn validate(&self) -> io::Result<()> {
        let bad = |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if self.events_capacity == 0 {
            return bad("events_capacity must be > 0");
        }
        if self.read_budget == 0 || self.accept_batch == 0 || self.dgram_budget == 0 {
            return bad("read_budget, accept_batch and dgram_budget must be > 0");
        }
        if self.read_buffer_size == 0 || self.write_buffer_size == 0 {
            return bad("buffer sizes must be > 0");
        }
        if self.max_read_buffer < self.read_buffer_size {
            return bad("max_read_buffer must be >= read_buffer_size");
        }
        if self.low_watermark > self.high_watermark || self.high_watermark == 0 {
            return bad("need 0 < high_watermark and low_watermark <= high_watermark");
        }
        if self.max_buffered < self.max_read_buffer {
            return bad("max_buffered must be >= max_read_buffer (one whole message must fit)");
        }
        if self.max_queued < self.high_watermark {
            return bad("max_queued must be >= high_watermark");
        }
        Ok(())
    }
}
