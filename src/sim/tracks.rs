//! [`Tracks`]: what the simulation's echo service knows of each of its connections, by
//! connection: its peer, the clocks the model checks its timeouts against, and the
//! descriptors that came on it (a Unix connection) and have not yet gone back.

use std::os::fd::OwnedFd;
use std::time::Instant;

use crate::memnet::ClientId;
use crate::reactor::ConnId;

/// What the service knows of one of its connections.
#[derive(Debug)]
pub(crate) struct Track {
    pub(crate) conn: ConnId,
    pub(crate) client: ClientId,
    /// The service asked for its close (input read since is dropped, by design).
    pub(crate) closing: bool,
    /// When the service last kept it open after its idle timeout (the clock restarted).
    pub(crate) kept_idle: Option<Instant>,
    /// When this reactor took the connection: accepted it, adopted it from another reactor
    /// of the server (its clocks start then), or began its connect.
    pub(crate) taken_at: Instant,
    /// When the service last kept it open after its connect timeout (the connect goes on,
    /// its clock restarted).
    pub(crate) kept_connect: Option<Instant>,
    /// Echoing lines: when the first byte of the partial line it leaves unconsumed arrived
    /// (`None`: no partial line). The frame clock runs from then, or later.
    pub(crate) partial_since: Option<Instant>,
    /// An outgoing connection: when its connect began.
    pub(crate) dialed_at: Option<Instant>,
    /// Its outgoing connect completed (`on_connect`).
    pub(crate) connected: bool,
    /// A record (seqpacket) connection: each record is echoed whole, lines or not (the
    /// reactor drops what a handler leaves of a record).
    pub(crate) records: bool,
    /// Descriptors received on it, to go back with the next echo (closed with it if none).
    pub(crate) fds: Vec<OwnedFd>,
}

impl Track {
    /// A connection to `client`, taken at `taken_at` (dialled then, if `dialed_at`).
    pub(crate) fn new(
        conn: ConnId,
        client: ClientId,
        taken_at: Instant,
        dialed_at: Option<Instant>,
    ) -> Track {
        Track {
            conn,
            client,
            closing: false,
            kept_idle: None,
            taken_at,
            kept_connect: None,
            partial_since: None,
            dialed_at,
            connected: false,
            records: false,
            fds: Vec::new(),
        }
    }
}

/// The service's connections, by slab index (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Tracks(Vec<Option<Track>>);

impl Tracks {
    /// What the service knows of `conn` (not of a stale id).
    pub(crate) fn get_mut(&mut self, conn: ConnId) -> Option<&mut Track> {
        match self.0.get_mut(conn.index()) {
            Some(Some(t)) if t.conn == conn => Some(t),
            _ => None,
        }
    }

    /// Start tracking `t.conn`.
    pub(crate) fn insert(&mut self, t: Track) {
        let i = t.conn.index();
        if self.0.len() <= i {
            self.0.resize_with(i + 1, || None);
        }
        self.0[i] = Some(t);
    }

    /// The client at the other end of `conn`.
    pub(crate) fn client(&self, conn: ConnId) -> Option<ClientId> {
        match self.0.get(conn.index()) {
            Some(Some(t)) if t.conn == conn => Some(t.client),
            _ => None,
        }
    }

    /// `conn` closed: forget it (its descriptors close).
    pub(crate) fn remove(&mut self, conn: ConnId) {
        if let Some(slot) = self.0.get_mut(conn.index()) {
            *slot = None;
        }
    }
}
