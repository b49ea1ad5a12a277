//! [`BufPool`]: the blocks every connection's buffers are made of, kept for reuse.
//!
//! A connection takes a read block when input arrives and gives it back once the input is
//! consumed; write blocks likewise follow output queued and written. Grown read buffers (a
//! large message held whole) are kept apart, within a byte limit, so that a stream of large
//! messages does not allocate and zero a buffer for each.

/// A pool of fixed-size byte blocks shared by every connection of one reactor.
///
/// Read blocks are kept at full length and initialised (so reads can go into them without
/// `unsafe`); write blocks are kept empty with their capacity.
///
/// Read buffers that grew past the standard size (to hold a large message whole) are kept
/// too, apart, up to [`large_limit`](BufPool::large_limit) bytes in all: a connection that
/// receives one large message after another then takes a grown buffer back instead of
/// allocating and zero-filling a new one for every message, which for 64 KiB messages was
/// most of the server's own work. Larger ones, and any beyond the limit, are dropped.
#[derive(Debug)]
pub struct BufPool {
    read_size: usize,
    write_size: usize,
    max_pooled: usize,
    read_free: Vec<Vec<u8>>,
    write_free: Vec<Vec<u8>>,
    /// Grown read buffers, each longer than `read_size`, kept for reuse.
    large_free: Vec<Vec<u8>>,
    /// Bytes held in `large_free` (their capacities).
    large_bytes: usize,
    /// Blocks asked for when none was idle (the pool ran dry and allocated).
    dry: u64,
}

/// Grown buffers kept at most, whatever their total size.
const MAX_LARGE: usize = 64;

impl BufPool {
    /// A pool handing out read blocks of `read_size` bytes and write blocks of `write_size`
    /// bytes, keeping at most `max_pooled` idle blocks of each kind.
    ///
    /// # Panics
    ///
    /// If `read_size` or `write_size` is 0.
    pub fn new(read_size: usize, write_size: usize, max_pooled: usize) -> BufPool {
        assert!(read_size > 0 && write_size > 0, "buffer sizes must be > 0");
        BufPool {
            read_size,
            write_size,
            max_pooled,
            read_free: Vec::with_capacity(max_pooled.min(1024)),
            write_free: Vec::with_capacity(max_pooled.min(1024)),
            large_free: Vec::new(),
            large_bytes: 0,
            dry: 0,
        }
    }

    /// The most bytes of grown read buffers kept for reuse: as much as a quarter of the
    /// standard read blocks the pool may keep (4 MiB with the reactor's defaults).
    pub fn large_limit(&self) -> usize {
        self.read_size.saturating_mul(self.max_pooled) / 4
    }

    /// Grown read buffers kept: `(count, bytes of capacity)`.
    pub fn idle_large(&self) -> (usize, usize) {
        (self.large_free.len(), self.large_bytes)
    }

    /// Size of a read block.
    #[inline]
    pub fn read_size(&self) -> usize {
        self.read_size
    }

    /// Size of a write block.
    pub fn write_size(&self) -> usize {
        self.write_size
    }

    /// Blocks asked for when none was idle, so that the pool allocated one (read or write).
    pub fn dry_takes(&self) -> u64 {
        self.dry
    }

    /// Idle blocks held: `(read, write)`.
    pub fn idle(&self) -> (usize, usize) {
        (self.read_free.len(), self.write_free.len())
    }

    #[inline]
    pub(super) fn take_read(&mut self) -> Vec<u8> {
        match self.read_free.pop() {
            Some(block) => block,
            None => self.new_read(),
        }
    }

    /// A new read block: the pool ran dry (counted).
    #[cold]
    fn new_read(&mut self) -> Vec<u8> {
        self.dry += 1;
        vec![0; self.read_size]
    }

    #[inline]
    pub(super) fn give_read(&mut self, block: Vec<u8>) {
        if block.len() == self.read_size {
            if self.read_free.len() < self.max_pooled {
                self.read_free.push(block);
            }
        } else if block.len() > self.read_size {
            self.give_large(block);
        }
    }

    /// Keep a grown read buffer if the limits allow.
    fn give_large(&mut self, block: Vec<u8>) {
        let size = block.capacity();
        if self.large_free.len() < MAX_LARGE && self.large_bytes + size <= self.large_limit() {
            self.large_bytes += size;
            self.large_free.push(block);
        }
    }

    /// A kept grown read buffer for exactly `len` bytes: the one with the least room that
    /// has at least `len` (and at most `max`, and at most twice `len`, so that a small message
    /// does not hold a huge allocation). Returned `len` bytes long, initialised (only bytes
    /// past what it last held are zero-filled), so that a connection's budget charge, which
    /// counts the length, is what it asked for.
    pub(super) fn take_large(&mut self, len: usize, max: usize) -> Option<Vec<u8>> {
        let max = max.min(len.saturating_mul(2));
        let (i, _) = self
            .large_free
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len && b.capacity() <= max)
            .min_by_key(|(_, b)| b.capacity())?;
        let mut block = self.large_free.swap_remove(i);
        self.large_bytes -= block.capacity();
        // Within capacity: no reallocation.
        block.resize(len, 0);
        Some(block)
    }

    pub(super) fn take_write(&mut self) -> Vec<u8> {
        match self.write_free.pop() {
            Some(block) => block,
            None => self.new_write(),
        }
    }

    /// A new write block: the pool ran dry (counted).
    #[cold]
    fn new_write(&mut self) -> Vec<u8> {
        self.dry += 1;
        Vec::with_capacity(self.write_size)
    }

    pub(super) fn give_write(&mut self, mut block: Vec<u8>) {
        if block.capacity() == self.write_size && self.write_free.len() < self.max_pooled {
            block.clear();
            self.write_free.push(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ReadBuf;
    use super::*;

    /// Read `bytes` into `rbuf` as a reactor does (room, copy, commit).
    fn fill(rbuf: &mut ReadBuf, bytes: &[u8]) {
        let spare = rbuf.spare_mut();
        spare[..bytes.len()].copy_from_slice(bytes);
        rbuf.commit(bytes.len());
    }

    #[test]
    fn a_grown_buffer_is_kept_and_taken_back_for_the_next_large_message() {
        // Blocks of 8 bytes, 64 of them: grown buffers up to 128 bytes in all are kept.
        let mut pool = BufPool::new(8, 8, 64);
        assert_eq!(pool.large_limit(), 128);
        let mut rbuf = ReadBuf::new();
        assert!(rbuf.reserve(&mut pool, 1000));
        // The block full of the first 8 bytes of a 40-byte message: grown by allocating.
        fill(&mut rbuf, b"abcdefgh");
        assert!(rbuf.reserve_for_message(40, &mut pool, 1000));
        assert_eq!(rbuf.capacity(), 40);
        assert_eq!(rbuf.data(), b"abcdefgh");
        rbuf.consume(8);
        rbuf.release(&mut pool);
        assert_eq!(pool.idle_large(), (1, 40), "the grown buffer is kept");

        // The next large message takes it back, its first bytes moved over intact.
        assert!(rbuf.reserve(&mut pool, 1000));
        fill(&mut rbuf, b"12345678");
        assert!(rbuf.reserve_for_message(36, &mut pool, 1000));
        assert_eq!(pool.idle_large(), (0, 0), "taken");
        assert_eq!(
            rbuf.capacity(),
            36,
            "the kept 40-byte allocation serves a 36-byte message, as 36 bytes"
        );
        assert_eq!(rbuf.data(), b"12345678");
        assert_eq!(pool.idle(), (1, 0), "the small block went back");
    }

    #[test]
    fn kept_buffers_respect_the_byte_limit_and_fit_what_is_asked() {
        let mut pool = BufPool::new(8, 8, 64);
        pool.give_read(vec![0; 100]);
        pool.give_read(vec![0; 20]);
        // 120 bytes kept; another 20 would pass the 128-byte limit.
        pool.give_read(vec![0; 20]);
        assert_eq!(pool.idle_large(), (2, 120));
        // Too big for a 30-byte need (more than twice), and past a 90-byte limit.
        assert_eq!(pool.take_large(30, 1000).map(|b| b.len()), None);
        assert_eq!(pool.take_large(60, 90).map(|b| b.len()), None);
        let b = pool.take_large(60, 1000).expect("the 100-byte buffer");
        assert_eq!((b.len(), b.capacity()), (60, 100));
        assert_eq!(pool.take_large(11, 1000).map(|b| b.len()), Some(11));
        assert_eq!(pool.idle_large(), (0, 0));
        // Given back, it counts its whole allocation and serves a longer message again.
        pool.give_read(b);
        assert_eq!(pool.idle_large(), (1, 100));
        assert_eq!(pool.take_large(90, 1000).map(|b| b.len()), Some(90));
    }
}
