//! Per-connection buffers and the pool they come from.
//!
//! Data flows like this: the reactor asks a [`ReadBuf`] for its spare room
//! ([`ReadBuf::spare_mut`]), the kernel reads straight into it, [`ReadBuf::commit`] makes the
//! bytes visible, the handler sees [`ReadBuf::data`] and says how much it used
//! ([`ReadBuf::consume`]). Output goes the other way: the handler's bytes are copied into pooled
//! segments of a [`WriteQueue`] (or, for large payloads, handed over whole with
//! [`WriteQueue::push_owned`]); the reactor gathers up to [`MAX_IOVECS`] segments with
//! [`WriteQueue::io_slices`] into one vectored write and reports what the kernel took with
//! [`WriteQueue::advance`].
//!
//! Memory model: a connection holds a read buffer only while it has unconsumed input and write
//! segments only while output is queued. Once they empty, [`ReadBuf::release`] and
//! [`WriteQueue::advance`] hand the memory back to the [`BufPool`], so an idle connection holds
//! no buffer at all and a busy one reuses the same few blocks without touching the allocator.
//!
//! Nothing here makes a syscall or reads a clock.

mod pool;

use std::collections::VecDeque;
use std::io::IoSlice;

pub use pool::BufPool;

/// The most segments gathered into one vectored write.
pub const MAX_IOVECS: usize = 16;

/// A connection's input buffer: `data()` is the unconsumed input, `spare_mut()` the room the
/// next read goes into.
///
/// Invariant: `start <= end <= buf.len()`; `buf` is empty exactly when no block is held.
#[derive(Debug, Default)]
pub struct ReadBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// An empty buffer that holds no memory.
    pub const fn new() -> ReadBuf {
        ReadBuf {
            buf: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// The unconsumed input.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Bytes of unconsumed input.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// No unconsumed input?
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of memory held (0 when released).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Take a block from `pool` into an empty buffer that holds none, and return its room
    /// (the whole block).
    ///
    /// # Panics
    ///
    /// If the buffer already holds a block.
    #[inline]
    pub fn take_block(&mut self, pool: &mut BufPool) -> &mut [u8] {
        assert!(
            self.buf.is_empty(),
            "take_block: the buffer holds a block already"
        );
        self.buf = pool.take_read();
        self.start = 0;
        self.end = 0;
        &mut self.buf
    }

    /// Mark the first `n` bytes of [`data`](Self::data) as used.
    ///
    /// # Panics
    ///
    /// If `n > self.len()`.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.len(), "consumed {n} of {} bytes", self.len());
        self.start += n;
        if self.start == self.end {
            // Nothing left: the next read starts at the front, so no compaction is needed.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Make sure there is room for at least one more byte, taking a block from `pool`, moving
    /// unconsumed input to the front, or doubling the buffer up to `limit` bytes, in that order
    /// of preference. Returns `false` when the buffer is full of unconsumed input and already
    /// `limit` bytes long.
    #[inline]
    pub fn reserve(&mut self, pool: &mut BufPool, limit: usize) -> bool {
        if self.room_without_growing(pool) {
            return true;
        }
        if self.buf.len() >= limit {
            return false;
        }
        let new_len = (self.buf.len() * 2).min(limit).max(self.buf.len() + 1);
        self.grow(new_len, limit, pool);
        true
    }

    /// Grow to at least `len` bytes (at most `limit`): into a grown buffer the pool kept, the
    /// unconsumed input moved over and the old block given back, or else by extending this
    /// one (which zero-fills the new part).
    fn grow(&mut self, len: usize, limit: usize, pool: &mut BufPool) {
        match pool.take_large(len, limit) {
            Some(mut bigger) => {
                let n = self.end - self.start;
                bigger[..n].copy_from_slice(&self.buf[self.start..self.end]);
                pool.give_read(std::mem::replace(&mut self.buf, bigger));
                self.start = 0;
                self.end = n;
            }
            None => self.buf.resize(len, 0),
        }
    }

    /// Make room for the next read of a message known to be `total` bytes long from the front
    /// of the unconsumed input: take a block, compact, or, when full, grow straight to
    /// `total` (not by doubling, which could pass the size the message reserved). Returns
    /// `false` if that would need more than `limit` bytes.
    pub fn reserve_for_message(&mut self, total: usize, pool: &mut BufPool, limit: usize) -> bool {
        if self.room_without_growing(pool) {
            return true;
        }
        let new_len = total.max(self.buf.len() + 1);
        if new_len > limit {
            return false;
        }
        self.grow(new_len, limit, pool);
        true
    }

    /// Room for one more byte without growing: take a block if none is held, or move the
    /// unconsumed input to the front. `false` when the buffer is full of unconsumed input.
    #[inline]
    fn room_without_growing(&mut self, pool: &mut BufPool) -> bool {
        if self.buf.is_empty() {
            self.buf = pool.take_read();
        }
        if self.end < self.buf.len() {
            return true;
        }
        if self.start > 0 {
            // Compaction copies only the unconsumed tail (usually a partial message).
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return true;
        }
        false
    }

    /// Make sure there is room for at least `n` more bytes (taking a block, compacting, or
    /// growing up to `limit`). Returns `false` if that would need more than `limit` bytes.
    pub fn reserve_at_least(&mut self, n: usize, pool: &mut BufPool, limit: usize) -> bool {
        if self.buf.is_empty() {
            self.buf = pool.take_read();
        }
        if self.buf.len() - self.end >= n {
            return true;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let need = self.end + n;
        if need > limit {
            return false;
        }
        if self.buf.len() < need {
            self.grow(need.max(self.buf.len() * 2).min(limit), limit, pool);
        }
        true
    }

    /// The room after the unconsumed input, for the next read to fill.
    #[inline]
    pub fn spare_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.end..]
    }

    /// Make `n` bytes that a read put into [`spare_mut`](Self::spare_mut) part of the data.
    ///
    /// # Panics
    ///
    /// If `n` is larger than the spare room.
    #[inline]
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "committed past the buffer");
        self.end += n;
    }

    /// Undo a growth made by [`reserve`](Self::reserve) or
    /// [`reserve_at_least`](Self::reserve_at_least): shrink back to `capacity` bytes (the
    /// capacity before the call), which still holds every unconsumed byte, since a buffer
    /// only grows when its data fills it from the front. Back to 0: the block returns to
    /// `pool`.
    pub fn shrink_back(&mut self, capacity: usize, pool: &mut BufPool) {
        if capacity == 0 {
            self.release(pool);
        } else if capacity == pool.read_size()
            && capacity < self.buf.len()
            && self.end <= capacity
            && self.start == 0
        {
            // Grown from a standard block: back into one, and the grown buffer to the pool.
            let mut block = pool.take_read();
            block[..self.end].copy_from_slice(&self.buf[..self.end]);
            pool.give_read(std::mem::replace(&mut self.buf, block));
        } else if capacity < self.buf.len() && self.end <= capacity && self.start == 0 {
            self.buf.truncate(capacity);
            self.buf.shrink_to_fit();
        }
    }

    /// Give the block back to `pool` if no input is left in it.
    #[inline]
    pub fn release(&mut self, pool: &mut BufPool) {
        if self.is_empty() && !self.buf.is_empty() {
            pool.give_read(std::mem::take(&mut self.buf));
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drop any input and give the block back to `pool`.
    pub fn clear(&mut self, pool: &mut BufPool) {
        self.start = 0;
        self.end = 0;
        self.release(pool);
    }
}

#[derive(Debug)]
struct Segment {
    bytes: Vec<u8>,
    /// Bytes of `bytes` already written.
    pos: usize,
    /// A pool block (may take more copied bytes and goes back to the pool) or a payload the
    /// caller handed over whole.
    pooled: bool,
}

/// A connection's output queue: segments of bytes waiting to be written, in order.
///
/// In *record* mode (a seqpacket connection) every push is one segment of its own and
/// [`io_slices`](WriteQueue::io_slices) hands out one segment at a time, so that each push
/// reaches the peer as exactly one record.
#[derive(Debug, Default)]
pub struct WriteQueue {
    segments: VecDeque<Segment>,
    len: usize,
    records: bool,
}

impl WriteQueue {
    /// An empty queue that holds no memory.
    pub const fn new() -> WriteQueue {
        WriteQueue {
            segments: VecDeque::new(),
            len: 0,
            records: false,
        }
    }

    /// Switch record mode on or off (see the type's docs).
    pub fn set_records(&mut self, records: bool) {
        self.records = records;
    }

    /// Bytes queued and not yet written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing queued?
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copy `data` to the end of the queue, filling the last pool block first and taking more
    /// blocks from `pool` as needed. Allocates only when the pool is empty.
    ///
    /// In record mode the copy is one owned segment (one record), which allocates.
    pub fn push_copy(&mut self, mut data: &[u8], pool: &mut BufPool) {
        if self.records {
            return self.push_owned(data.to_vec());
        }
        self.len += data.len();
        // Most pieces fit the last block whole.
        if let Some(seg) = self.segments.back_mut() {
            if seg.pooled && seg.bytes.capacity() - seg.bytes.len() >= data.len() {
                seg.bytes.extend_from_slice(data);
                return;
            }
        }
        while !data.is_empty() {
            let room = match self.segments.back() {
                Some(seg) if seg.pooled => seg.bytes.capacity() - seg.bytes.len(),
                _ => 0,
            };
            if room == 0 {
                self.segments.push_back(Segment {
                    bytes: pool.take_write(),
                    pos: 0,
                    pooled: true,
                });
                continue;
            }
            let n = room.min(data.len());
            if let Some(seg) = self.segments.back_mut() {
                // Within capacity: never reallocates, so the block keeps its pool size.
                seg.bytes.extend_from_slice(&data[..n]);
            }
            data = &data[n..];
        }
    }

    /// Queue `data` as a segment of its own, without copying it.
    pub fn push_owned(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        self.segments.push_back(Segment {
            bytes: data,
            pos: 0,
            pooled: false,
        });
    }

    /// Copy several pieces as one unit: in record mode, one record holding them all.
    pub fn push_parts(&mut self, parts: &[&[u8]], pool: &mut BufPool) {
        if self.records {
            return self.push_owned(parts.concat());
        }
        for part in parts {
            self.push_copy(part, pool);
        }
    }

    /// Queue a copied header, an owned payload (not copied) and a copied trailer as one unit
    /// (in record mode, one record, for which they are joined).
    pub fn push_around(
        &mut self,
        header: &[u8],
        payload: Vec<u8>,
        trailer: &[u8],
        pool: &mut BufPool,
    ) {
        if self.records {
            return self.push_owned([header, &payload, trailer].concat());
        }
        self.push_copy(header, pool);
        self.push_owned(payload);
        self.push_copy(trailer, pool);
    }

    /// Fill `out` with the unwritten parts of the first segments (only the first one in
    /// record mode); returns how many were filled.
    pub fn io_slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let max = if self.records { 1 } else { out.len() };
        let mut n = 0;
        for (slot, seg) in out[..max].iter_mut().zip(self.segments.iter()) {
            *slot = IoSlice::new(&seg.bytes[seg.pos..]);
            n += 1;
        }
        n
    }

    /// Write the queue with `write` (one vectored write per call, `writev`) until it is empty
    /// or `write` says `WouldBlock`, dropping what was written (emptied blocks go back to
    /// `pool`); an interrupted write is retried. Returns the bytes written, and the error
    /// that stopped it, if any (`WriteZero` for a write that took nothing).
    #[inline]
    pub fn write_with(
        &mut self,
        pool: &mut BufPool,
        mut write: impl FnMut(&[IoSlice<'_>]) -> std::io::Result<usize>,
    ) -> (usize, Option<std::io::Error>) {
        use std::io::ErrorKind;
        let mut written = 0;
        loop {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = self.io_slices(&mut slices);
            if n == 0 {
                return (written, None);
            }
            match write(&slices[..n]) {
                Ok(0) => return (written, Some(ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.advance(n, pool);
                    written += n;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return (written, None),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (written, Some(e)),
            }
        }
    }

    /// The kernel took `n` bytes from the front: drop them, returning emptied blocks to `pool`.
    ///
    /// # Panics
    ///
    /// If `n > self.len()`.
    pub fn advance(&mut self, mut n: usize, pool: &mut BufPool) {
        assert!(n <= self.len, "advanced {n} of {} queued bytes", self.len);
        self.len -= n;
        while n > 0 {
            let Some(seg) = self.segments.front_mut() else {
                break;
            };
            let left = seg.bytes.len() - seg.pos;
            if n < left {
                seg.pos += n;
                return;
            }
            n -= left;
            if let Some(seg) = self.segments.pop_front() {
                if seg.pooled {
                    pool.give_write(seg.bytes);
                }
            }
        }
    }

    /// Drop everything queued, returning blocks to `pool`.
    pub fn clear(&mut self, pool: &mut BufPool) {
        let len = self.len;
        self.advance(len, pool);
        // Zero-length pooled segments can remain after an empty push; return them too.
        while let Some(seg) = self.segments.pop_front() {
            if seg.pooled {
                pool.give_write(seg.bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(q: &WriteQueue) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let n = q.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn read_buf_reserve_compact_grow_and_release() {
        let mut pool = BufPool::new(8, 8, 4);
        let mut rb = ReadBuf::new();
        assert_eq!(rb.capacity(), 0);
        assert!(rb.reserve(&mut pool, 16));
        rb.spare_mut()[..8].copy_from_slice(b"abcdefgh");
        rb.commit(8);
        rb.consume(3);
        // Full at the end, but 3 bytes consumed: compaction, not growth.
        assert!(rb.reserve(&mut pool, 16));
        assert_eq!(rb.capacity(), 8);
        assert_eq!(rb.data(), b"defgh");
        rb.spare_mut()[..3].copy_from_slice(b"ijk");
        rb.commit(3);
        // Full with no consumed prefix: grows to the limit.
        assert!(rb.reserve(&mut pool, 16));
        assert_eq!(rb.capacity(), 16);
        let room = rb.spare_mut().len();
        rb.commit(room);
        assert!(!rb.reserve(&mut pool, 16), "full at the limit");
        let len = rb.len();
        rb.consume(len);
        rb.release(&mut pool);
        assert_eq!(rb.capacity(), 0);
        // The grown block is not pooled; nothing was pooled yet.
        assert_eq!(pool.idle(), (0, 0));
    }

    #[test]
    fn read_buf_release_keeps_unconsumed_input() {
        let mut pool = BufPool::new(8, 8, 4);
        let mut rb = ReadBuf::new();
        assert!(rb.reserve(&mut pool, 8));
        rb.spare_mut()[0] = 7;
        rb.commit(1);
        rb.release(&mut pool);
        assert_eq!(rb.data(), &[7]);
        rb.consume(1);
        rb.release(&mut pool);
        assert_eq!(pool.idle(), (1, 0));
    }

    #[test]
    fn write_queue_copies_across_blocks_and_recycles() {
        let mut pool = BufPool::new(4, 4, 8);
        let mut q = WriteQueue::new();
        q.push_copy(b"hello world", &mut pool);
        q.push_owned(b"!!".to_vec());
        q.push_copy(b"xy", &mut pool);
        assert_eq!(q.len(), 15);
        assert_eq!(gather(&q), b"hello world!!xy");
        q.advance(5, &mut pool);
        assert_eq!(gather(&q), b" world!!xy");
        assert_eq!(pool.idle(), (0, 1), "first block recycled");
        q.advance(9, &mut pool);
        assert_eq!(gather(&q), b"y");
        q.clear(&mut pool);
        assert!(q.is_empty());
        assert_eq!(gather(&q), b"");
        assert_eq!(pool.idle(), (0, 4));
    }

    #[test]
    fn record_mode_keeps_each_push_a_segment_of_its_own() {
        let mut pool = BufPool::new(64, 64, 4);
        let mut q = WriteQueue::new();
        q.set_records(true);
        q.push_copy(b"a", &mut pool);
        q.push_parts(&[b"b", b"c"], &mut pool);
        q.push_around(b"<", b"d".to_vec(), b">", &mut pool);
        assert_eq!(q.len(), 6);
        for record in [&b"a"[..], b"bc", b"<d>"] {
            {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                assert_eq!(q.io_slices(&mut slices), 1);
                assert_eq!(&*slices[0], record);
            }
            q.advance(record.len(), &mut pool);
        }
        assert!(q.is_empty());
    }

    #[test]
    fn write_queue_caps_iovecs() {
        let mut pool = BufPool::new(1, 1, 64);
        let mut q = WriteQueue::new();
        q.push_copy(&[1u8; 40], &mut pool);
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        assert_eq!(q.io_slices(&mut slices), MAX_IOVECS);
    }
}
